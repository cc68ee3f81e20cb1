"""mmpretrain's own tools/train.py and tools/test.py run a shipped config unmodified (the
runtime's custom_imports and scoped runner_type) and give the numbers maple_mm's tools give.

The config is configs/maple/base2novel_dtd.py; --cfg-options put it on the tiny CLIP and a
miniature DTD (maple_mm.smoke.tiny_overrides), the same options for both tool sets.
mmpretrain's training runs in a process of its own; its test, and maple_mm's training, in
this process (as ``python <tool> ARGS`` runs them: sys.argv and ``__main__``).
"""
import os
import runpy
import subprocess
import sys
from pathlib import Path
from unittest import mock

import mmpretrain
import pytest
import torch
from mmengine.config import Config

from maple_mm.engine.runners.checkpoint_loader import load_checkpoint_file
from maple_mm.evaluation.run_metrics import read_test_metrics
from maple_mm.run_layout import checkpoint_files
from maple_mm.smoke import cfg_option_strings, tiny_overrides
from ..conftest import REPO_ROOT, run_tool_here
from ..miniature_datasets import write_miniature

pytestmark = pytest.mark.long_running(seconds=24)

CONFIG = REPO_ROOT / 'configs' / 'maple' / 'base2novel_dtd.py'
MMPRETRAIN_TOOLS = Path(mmpretrain.__file__).parent / '.mim' / 'tools'


def run(script: Path, *args) -> str:
    env = dict(os.environ, HF_HUB_OFFLINE='1', PYTHONPATH=str(REPO_ROOT))
    proc = subprocess.run([sys.executable, str(script), *map(str, args)],
                          cwd=REPO_ROOT,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=600)
    assert proc.returncode == 0, f'{script}:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}'
    return proc.stdout + proc.stderr


def run_here(script: Path, *args) -> None:
    """``python SCRIPT ARGS`` in this process."""
    with mock.patch.object(sys, 'argv', [str(script), *map(str, args)]):
        runpy.run_path(str(script), run_name='__main__')


def metrics_of(work_dir: Path) -> dict:
    return read_test_metrics(next(work_dir.glob('*/test_metrics.json')))[2]


def prompts_of(work_dir: Path) -> dict:
    return load_checkpoint_file(str(checkpoint_files(work_dir)[-1]))['state_dict']


def test_mmpretrain_train_and_test_give_the_project_tools_numbers(tmp_path):
    data = tmp_path / 'data'
    write_miniature(data, 'dtd', num_classes=4, images_per_class=2, image_size=32)
    options = cfg_option_strings(tiny_overrides(Config.fromfile(str(CONFIG)), str(data)))

    ours = tmp_path / 'ours'
    assert run_tool_here('train', CONFIG, '--work-dir', ours, '--cfg-options', *options) is None
    theirs = tmp_path / 'mmpretrain'
    log = run(MMPRETRAIN_TOOLS / 'train.py', CONFIG, '--work-dir', theirs, '--cfg-options',
              *options)
    assert 'MapleRunner' in log  # the config's runner, found by mmpretrain's tool
    checkpoint = checkpoint_files(theirs)[-1]
    run_here(MMPRETRAIN_TOOLS / 'test.py', CONFIG, checkpoint, '--work-dir', theirs,
             '--cfg-options', *options, 'experiment_name=mmpretrain_test')

    # The same training (the prompts, bit for bit) and the same Base / Novel / HM.
    ours_state, theirs_state = prompts_of(ours), prompts_of(theirs)
    assert ours_state.keys() == theirs_state.keys()
    for key in ours_state:
        assert torch.equal(ours_state[key], theirs_state[key]), key
    expected = metrics_of(ours)
    assert set(expected) == {'base/accuracy/top1', 'novel/accuracy/top1', 'HM'}
    assert metrics_of(theirs) == expected

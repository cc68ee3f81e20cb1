"""tools/train.py and tools/test.py end to end on a tiny CLIP and a generated dataset.

The shared training (the ``trained`` fixture) runs as a process of its own, as users run
it; the test of its checkpoint, its resume and the cases that end with an ``error:`` line
run the tools in this process (``run_tool_here``; tools/test.py's own processes are tested
in test_hostile_inputs.py, test_torchrun.py and the test-time demos).
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from maple_mm.evaluation.run_metrics import read_test_metrics as read_metrics_file
from ..conftest import REPO_ROOT, run_tool_here, run_tool_here_ok

pytestmark = pytest.mark.long_running(seconds=30)

DEMO_CONFIG = REPO_ROOT / 'configs/maple/demo_base2novel_fashion_mnist.py'
SIZE = 32  # the tiny CLIP's input size


def tiny_config(tmp_path: Path, data_root: Path, epochs: int = 2) -> Path:
    """The demo config with the tiny CLIP, small images and toy data."""
    cfg = f'''
_base_ = [{str(DEMO_CONFIG)!r}]
from maple_mm.models import TINY_CLIP_CFG
model = dict(backbone=dict(model_name=None, pretrained=None, model_cfg=TINY_CLIP_CFG),
             prompt_learner=dict(depth=3))
train_pipeline = [dict(type='LoadImageFromFile'),
                  dict(type='RandomResizedCrop', scale={SIZE}, backend='pillow',
                       interpolation='bicubic'),
                  dict(type='RandomFlip', prob=0.5, direction='horizontal'),
                  dict(type='PackInputs')]
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='ResizeEdge', scale={SIZE}),
                 dict(type='CenterCrop', crop_size={SIZE}), dict(type='PackInputs')]
dataset = dict(data_root={str(data_root)!r}, split_file='split_zhou_Toy.json', num_shots=4)
train_dataloader = dict(num_workers=0, dataset=dict(dataset, pipeline=train_pipeline))
test_dataloader = dict(batch_size=8, num_workers=0, dataset=dict(dataset, pipeline=test_pipeline))
train_cfg = dict(max_epochs={epochs})
param_scheduler = dict(T_max={epochs})
'''
    path = tmp_path / 'tiny_base2novel.py'
    path.write_text(cfg)
    return path


def run_tool(tool: str, *args, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE='1')
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / 'tools' / tool), *map(str, args)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f'{tool} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}')
    return proc


def read_test_metrics(work_dir: Path) -> dict:
    runs = sorted(work_dir.glob('*/test_metrics.json'))
    assert runs, f'no test_metrics.json under {work_dir}'
    return read_metrics_file(runs[-1])[2]


def test_train_ends_with_base_novel_and_hm(trained):
    metrics = read_test_metrics(trained['work_dir'])
    assert set(metrics) == {'base/accuracy/top1', 'novel/accuracy/top1', 'HM'}
    base, novel = metrics['base/accuracy/top1'], metrics['novel/accuracy/top1']
    assert metrics['HM'] == pytest.approx(2 * base * novel / (base + novel) if base + novel else 0)
    assert 'Top-1 accuracy (%): Base' in trained['log']


def test_checkpoint_holds_only_prompts_and_loads_weights_only(trained):
    ckpt_path = trained['work_dir'] / 'epoch_2.pth'
    ckpt = torch.load(ckpt_path, weights_only=True)
    names = ckpt['state_dict'].pop('_extra_state')  # the class names trained on
    assert bytes(names.tolist()).decode() == '["red_square", "green circle", "blue"]'
    assert all(k.startswith('prompt_learner.') for k in ckpt['state_dict'])
    assert 'optimizer' not in ckpt  # nothing is left to resume after the last epoch
    assert ckpt['meta']['dataset_meta']['classes'] == ('red_square', 'green circle', 'blue')


def test_test_tool_reproduces_the_metrics_and_shows_progress_while_it_runs(trained, capfd):
    work = trained['work_dir']
    # Testing reads only the test sets: the training data may be gone.
    # interval_s=0: a progress line after every batch, as every 10 s of work by default.
    out = run_tool_here_ok(capfd, 'test', trained['config'], work / 'epoch_2.pth', '--work-dir',
                           work / 'eval', '--cfg-options', 'default_hooks.logger.interval_s=0',
                           f'train_dataloader.dataset.data_root={work / "absent"}')
    log = out.out + out.err
    assert read_test_metrics(work / 'eval') == read_test_metrics(work)
    # 15 base images in batches of 8: the first batch is reported before the set is done.
    first, result = log.index('Epoch(test) [1/2]'), log.index('Top-1 accuracy (%)')
    assert first < result and 'eta: ' in log[first:result]
    assert log.count('Epoch(test) [1/2]') == 2  # the base set, then the novel set


def test_checkpoint_that_does_not_fit_the_config_is_refused_clearly(trained, capfd):
    line = run_tool_here('test', trained['config'], trained['work_dir'] / 'epoch_2.pth',
                         '--work-dir', trained['work_dir'] / 'eval_n4', '--cfg-options',
                         'model.prompt_learner.n_ctx=4')
    assert isinstance(line, str) and 'Traceback' not in capfd.readouterr().err  # exit code 1
    assert 'does not fit the MaPLe model built from this config (n_ctx=4' in line


def test_existing_run_is_not_overwritten(trained, capfd):
    line = run_tool_here('train', trained['config'], '--work-dir', trained['work_dir'])
    assert isinstance(line, str) and 'Traceback' not in capfd.readouterr().err  # exit code 1
    assert 'already holds checkpoints' in line


def test_resume_after_interruption_gives_the_uninterrupted_result(trained, tmp_path, capfd):
    """As if the run had died in its last epoch: resume from its epoch 1, compare."""
    full, work = trained['work_dir'], tmp_path / 'resumed'
    work.mkdir()
    shutil.copy(full / 'epoch_1.pth', work / 'epoch_1.pth')
    (work / 'last_checkpoint').write_text(str(work / 'epoch_1.pth'))
    assert 'optimizer' in torch.load(work / 'epoch_1.pth', weights_only=True)
    keep_all = ['--cfg-options', 'default_hooks.checkpoint.max_keep_ckpts=-1']
    out = run_tool_here_ok(capfd, 'train', trained['config'], '--work-dir', work, '--resume',
                           *keep_all)
    assert 'resumed epoch: 1' in out.out + out.err
    a = torch.load(full / 'epoch_2.pth', weights_only=True)['state_dict']
    b = torch.load(work / 'epoch_2.pth', weights_only=True)['state_dict']
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)
    assert read_test_metrics(work) == read_test_metrics(full)


def test_missing_checkpoint_and_dataset_give_clear_errors(trained, tmp_path, capfd):
    line = run_tool_here('test', trained['config'], tmp_path / 'nope.pth')
    assert isinstance(line, str) and 'does not exist' in line  # exit code 1
    assert 'Traceback' not in capfd.readouterr().err
    line = run_tool_here('train', trained['config'], '--work-dir', tmp_path / 'w', '--cfg-options',
                         f'train_dataloader.dataset.data_root={tmp_path / "missing"}')
    assert isinstance(line, str) and 'not found' in line
    assert 'Traceback' not in capfd.readouterr().err

"""The first minutes: `make smoke` trains and tests a method on a tiny CLIP and a few images,
and every tool's --help answers at once (no torch, no mmcv, so none of their warnings)."""
import os
import subprocess
import sys

from maple_mm.smoke import SMOKE_CLASSES
from ..conftest import REPO_ROOT, load_tool
from ..method_rows import untrained_folders

#: Every command-line tool but the checkpoint converter, whose --method choices are the
#: registered methods (it imports the models to list them), and the tools' own helpers
#: (``_cli.py``; ``_torchrun.py``, which the launch scripts run: its --help is torchrun's).
TOOLS = sorted(
    str(p.relative_to(REPO_ROOT))
    for p in [*REPO_ROOT.glob('tools/*.py'), *REPO_ROOT.glob('tools/dataset_converters/*.py')]
    if not p.name.startswith('_'))

HELP_PROBE = r'''
import contextlib, io, runpy, sys, warnings
sys.path.insert(0, 'tools')
for tool in sys.argv[1:]:
    sys.argv = [tool, '--help']
    with contextlib.redirect_stdout(io.StringIO()) as out:
        try:
            runpy.run_path(tool, run_name='__main__')
        except SystemExit:
            pass
    assert 'usage:' in out.getvalue(), tool
    heavy = [m for m in ('torch', 'mmcv', 'mmpretrain', 'open_clip') if m in sys.modules]
    assert not heavy, (tool, heavy)
print('light')
'''


def run(*args, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *map(str, args)],
                          cwd=REPO_ROOT,
                          env=dict(os.environ, HF_HUB_OFFLINE='1'),
                          capture_output=True,
                          text=True,
                          timeout=timeout)


def test_every_tools_help_answers_without_importing_torch():
    assert 'tools/train.py' in TOOLS and 'tools/smoke.py' in TOOLS
    proc = run('-c', HELP_PROBE, *TOOLS)
    assert proc.returncode == 0 and proc.stdout.strip() == 'light', proc.stderr[-2000:]
    assert 'Warning' not in proc.stderr, proc.stderr[-2000:]


def test_smoke_trains_and_tests_a_method_on_generated_images(tmp_path):
    proc = run('tools/smoke.py', 'maple', '--work-dir', tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    assert 'Top-1 accuracy (%): Base' in log and 'smoke: maple trained and tested in' in log
    (run_dir, ) = tmp_path.iterdir()
    assert sorted(p.name for p in (run_dir / 'data' / 'images').iterdir()) == sorted(SMOKE_CLASSES)
    assert list((run_dir / 'run').glob('*/test_metrics.json'))
    # The tools' runs do not print mmcv's compiled-ops note or mmengine's FileClient notes.
    assert 'MultiScaleDeformableAttention' not in log and '"FileClient"' not in log


def test_smoke_of_a_method_that_learns_nothing_tests_without_training(tmp_path, capsys):
    folder = untrained_folders()[0]
    load_tool('tools/smoke.py').main([folder, '--work-dir', str(tmp_path)])
    out = capsys.readouterr().out
    assert f'tools/test.py configs/{folder}/demo_base2novel_fashion_mnist.py' in out
    assert f'smoke: {folder} tested in' in out
    (run_dir, ) = tmp_path.iterdir()
    assert not list((run_dir / 'run').glob('*.pth'))  # nothing trained

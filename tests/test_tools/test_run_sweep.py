"""tools/run_sweep.py: a tiny protocol sweep (2 datasets x 2 seeds, tiny CLIP), then its table.

Runs land in <work root>/<method folder>/<config stem>[_<K>shots]/seed<S>.

The sweep and table tools run in this process (their start-up costs seconds);
the training runs they start are subprocesses, as in real use.
"""
import contextlib
import io
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from maple_mm.evaluation import harmonic_mean
from maple_mm.evaluation.run_metrics import read_test_metrics
from maple_mm.method_zoo import method_folders
from maple_mm.run_layout import newest_test_metrics
from ..conftest import REPO_ROOT, load_tool
from ..method_rows import untrained_folders, with_epochs_by_shots
from ..miniature_datasets import write_miniature
from ..test_configs.tiny_runs import load, tiny

results_table = load_tool('tools/results_table.py')
run_sweep = load_tool('tools/run_sweep.py')

pytestmark = pytest.mark.long_running(seconds=55)

DATASETS = {'dtd': 'CoOpDTD', 'eurosat': 'CoOpEuroSAT'}
SEEDS = ('1', '2')
CONFIGS = REPO_ROOT / 'configs'
KEEP_ALL = ['--cfg-options', 'default_hooks.checkpoint.max_keep_ckpts=-1']


def tiny_config(folder: Path, key: str, data_root: Path) -> Path:
    """configs/maple/base2novel_<key>.py shrunk as every zoo test shrinks it (tiny CLIP,
    32-pixel miniatures under ``data_root``), 2 epochs, written out for the tools."""
    path = folder / 'maple' / f'base2novel_{key}.py'  # folder and stem name the runs
    path.parent.mkdir(exist_ok=True)
    cfg = tiny(load(CONFIGS / 'maple' / f'base2novel_{key}.py'), data_root, folder, epochs=2)
    cfg.dump(path)
    return path


def run(main, *args) -> str:
    """Run a tool's main() here; return what it printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main([str(a) for a in args])
    return out.getvalue()


@pytest.fixture(scope='module')
def sweep(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('sweep')
    for key in DATASETS:
        write_miniature(tmp / 'data', key)
    configs = [tiny_config(tmp, key, tmp / 'data') for key in DATASETS]
    root = tmp / 'work'
    with pytest.MonkeyPatch.context() as patch:
        # One thread per run: several busy torch threads starve on a shared 2-core machine.
        patch.setenv('OMP_NUM_THREADS', '1')
        patch.setenv('HF_HUB_OFFLINE', '1')
        log = run(run_sweep.main, *configs, '--seeds', *SEEDS, '--work-root', root, *KEEP_ALL)
        yield dict(configs=configs, root=root, log=log)


def run_dir(root: Path, key: str, seed: str) -> Path:
    return root / 'maple' / f'base2novel_{key}' / f'seed{seed}'


def metrics_of(root: Path, key: str, seed: str) -> dict:
    path = newest_test_metrics(run_dir(root, key, seed))
    assert path is not None, f'{key} seed {seed} has no test metrics'
    return read_test_metrics(path)[2]


def test_every_run_lands_in_its_seed_folder_with_its_seed(sweep):
    for key in DATASETS:
        for seed in SEEDS:
            work_dir = run_dir(sweep['root'], key, seed)
            assert (work_dir / 'epoch_2.pth').is_file()
            used = Config.fromfile(work_dir / f'base2novel_{key}.py')  # dumped by the run
            assert used.randomness.seed == used.train_dataloader.dataset.seed == int(seed)
            assert set(metrics_of(sweep['root'], key,
                                  seed)) == {'base/accuracy/top1', 'novel/accuracy/top1', 'HM'}
    assert sweep['log'].count(': train') == 4
    assert sweep['log'].splitlines()[-2:] == [
        'Sweep: 4 runs: 4 done, 0 skipped (finished earlier), 0 failed.',
        f'Results: {sweep["root"]}; the table: python tools/results_table.py {sweep["root"]} '
        '[--paper] [--plot DIR]'
    ]


def test_rerun_skips_finished_runs(sweep):
    log = run(run_sweep.main, *sweep['configs'], '--seeds', *SEEDS, '--work-root', sweep['root'])
    assert log.count(': skip (finished') == 4 and ': train' not in log
    assert 'Sweep: 4 runs: 0 done, 4 skipped (finished earlier), 0 failed.' in log


def test_dry_run_prints_commands_and_runs_nothing(sweep, tmp_path):
    log = run(run_sweep.main, *sweep['configs'], '--seeds', '3', '--work-root', tmp_path,
              '--dry-run', '--cfg-options', 'train_cfg.max_epochs=1')
    assert log.count(': train') == 2
    assert '--seed 3' in log and '--cfg-options train_cfg.max_epochs=1' in log
    assert not any(tmp_path.iterdir())


def test_interrupted_runs_resume(sweep):
    """A run killed in epoch 2 and a run killed before its test both finish on rerun."""
    root = sweep['root']
    killed = run_dir(root, 'dtd', '2')
    before = metrics_of(root, 'dtd', '2')
    newest_test_metrics(killed).unlink()
    (killed / 'epoch_2.pth').unlink()
    (killed / 'last_checkpoint').write_text(str(killed / 'epoch_1.pth'))
    untested = run_dir(root, 'eurosat', '1')
    untested_before = metrics_of(root, 'eurosat', '1')
    newest_test_metrics(untested).unlink()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv('OMP_NUM_THREADS', '1')
        log = run(run_sweep.main, *sweep['configs'], '--seeds', *SEEDS, '--work-root', root,
                  *KEEP_ALL)
    assert log.count(': resume') == 2 and log.count(': skip') == 2
    assert metrics_of(root, 'dtd', '2') == before  # resuming repeats the uninterrupted run
    assert metrics_of(root, 'eurosat', '1') == untested_before


def test_table_of_the_sweep(sweep):
    table = run(results_table.main, sweep['root'], '--paper')
    # The runs' table (titled with their CLIP; the paper's rows of other CLIPs stand apart).
    runs_table = next(part for part in table.split('\n\n') if 'MaPLe Base' in part)
    lines = {line.split(' | ')[0].strip('| '): line for line in runs_table.splitlines()}
    header = [cell.strip() for cell in lines['Dataset'].strip('|').split(' | ')]
    means = {}
    for key, name in (('dtd', 'DTD'), ('eurosat', 'EuroSAT')):
        runs = [metrics_of(sweep['root'], key, seed) for seed in SEEDS]
        base = sum(r['base/accuracy/top1'] for r in runs) / 2
        novel = sum(r['novel/accuracy/top1'] for r in runs) / 2
        means[key] = base, novel
        cells = dict(zip(header, (c.strip() for c in lines[name].strip('|').split(' | '))))
        assert cells['MaPLe Base'].startswith(f'{base:.2f} ± ')
        assert cells['MaPLe Novel'].startswith(f'{novel:.2f} ± ')
        assert cells['MaPLe HM'] == f'{harmonic_mean(base, novel):.2f}'
    base = (means['dtd'][0] + means['eurosat'][0]) / 2
    novel = (means['dtd'][1] + means['eurosat'][1]) / 2
    average = dict(
        zip(header, (c.strip() for c in lines['Average (2 datasets)'].strip('|').split(' | '))))
    assert [average[f'MaPLe {c}'] for c in ('Base', 'Novel', 'HM')
            ] == [f'{base:.2f}', f'{novel:.2f}', f'{harmonic_mean(base, novel):.2f}']
    assert 'Seeds: MaPLe 2' in table


def test_failed_run_stops_the_sweep_with_a_clear_error(sweep, tmp_path):
    out = io.StringIO()
    with pytest.raises(run_sweep.errors.SweepError,
                       match='maple/base2novel_dtd seed 5 failed.*rerun the sweep'), \
            contextlib.redirect_stdout(out):
        run_sweep.main([
            str(sweep['configs'][0]), '--seeds', '5', '6', '--work-root',
            str(tmp_path), '--cfg-options',
            f'train_dataloader.dataset.data_root={tmp_path / "none"}'
        ])
    assert ('Sweep: 2 runs: 0 done, 0 skipped (finished earlier), 1 failed, 1 not started.\n'
            f'  failed: maple/base2novel_dtd seed 5 (log in {tmp_path}') in out.getvalue()


def test_missing_config_is_a_clear_error():
    with pytest.raises(run_sweep.errors.SweepError, match='No config file matches'):
        run(run_sweep.main, 'configs/maple/base2novel_nope*.py')


def test_test_from_needs_the_source_checkpoints(sweep, tmp_path):
    log = run(run_sweep.main, sweep['configs'][0], '--seeds', *SEEDS, '--work-root', tmp_path,
              '--test-from', sweep['root'] / 'maple' / 'base2novel_dtd', '--dry-run')
    assert log.count(': test (checkpoint') == 2 and 'tools/test.py' in log
    with pytest.raises(run_sweep.errors.SweepError, match='No checkpoint in'):
        run(run_sweep.main, sweep['configs'][0], '--work-root', tmp_path, '--test-from', tmp_path)


def test_exclude_leaves_out_configs_by_file_name(tmp_path):
    log = run(run_sweep.main, 'configs/maple/base2novel_*.py', '--exclude', '*imagenet*', '--seeds',
              '1', '--work-root', tmp_path, '--dry-run')
    assert log.count(': train') == 10 and 'base2novel_imagenet' not in log


def test_shots_name_the_runs_and_reach_the_commands(tmp_path):
    other, _ = with_epochs_by_shots()  # beside the example, a method whose epochs follow K
    log = run(run_sweep.main, CONFIGS / other / 'few_shot_dtd.py',
              CONFIGS / 'maple/few_shot_dtd.py', '--shots', '1', '4', '--seeds', '1', '2',
              '--work-root', tmp_path, '--dry-run')
    assert log.count(': train') == 8
    for folder in (other, 'maple'):
        for shots in (1, 4):
            work_dir = tmp_path / folder / f'few_shot_dtd_{shots}shots' / 'seed2'
            assert f'--work-dir {work_dir} --seed 2 --shots {shots}' in log


@pytest.mark.parametrize('folder', untrained_folders())
def test_configs_with_nothing_to_train_are_tested_without_checkpoint(tmp_path, folder):
    config = CONFIGS / folder / 'base2novel_dtd.py'
    log = run(run_sweep.main, config, '--seeds', '1', '--work-root', tmp_path, '--dry-run')
    assert ': test (nothing to train)' in log
    command = log.splitlines()[1]
    assert f'tools/test.py {config} --work-dir' in command
    assert str(tmp_path / folder / 'base2novel_dtd' / 'seed1') in command


def test_methods_sharing_config_names_do_not_share_work_dirs(tmp_path):
    log = run(run_sweep.main, CONFIGS / '*/base2novel_dtd.py', '--seeds', '1', '--work-root',
              tmp_path, '--dry-run')
    work_dirs = re.findall(r'--work-dir (\S+)', log)
    assert len(work_dirs) == len(set(work_dirs)) == len(method_folders(CONFIGS))


def test_ctrl_c_stops_the_sweep_with_one_line(tmp_path):
    """Ctrl-C reaches the sweep and its run (one process group): the run ends as it does
    alone (quietly), the sweep says what was kept and how to continue."""
    work, ready = tmp_path / 'maple' / 'base2novel_dtd' / 'seed1', tmp_path / 'ready'
    work.mkdir(parents=True)
    torch.save({'state_dict': {}}, work / 'epoch_1.pth')
    run_stand_in = (f'import pathlib, sys, time\npathlib.Path({str(ready)!r}).touch()\n'
                    'try:\n    time.sleep(120)\nexcept KeyboardInterrupt:\n    sys.exit(130)\n')
    sweep = f'''
import importlib.util, sys
from pathlib import Path
def load(name):  # as tools/ scripts see each other, without touching sys.path
    spec = importlib.util.spec_from_file_location(
        name, {str(REPO_ROOT / 'tools')!r} + f'/{{name}}.py')
    sys.modules[name] = module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
_cli, run_sweep = load('_cli'), load('run_sweep')
run = run_sweep.Run({str(tmp_path / 'maple' / 'base2novel_dtd.py')!r}, 1, None,
                    Path({str(work)!r}), 'resume', [sys.executable, '-c', {run_stand_in!r}])
_cli.run_cli(lambda argv: run_sweep.run_command(run, 3, 8))
'''
    proc = subprocess.Popen([sys.executable, '-c', sweep],
                            stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE,
                            text=True,
                            start_new_session=True)
    deadline = time.time() + 120
    while not ready.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and 'Traceback' not in err, err
    assert err.strip().splitlines() == [
        'interrupted: the sweep stopped in run 3 of 8 (maple/base2novel_dtd seed 1); its last '
        f'complete checkpoint, {work / "epoch_1.pth"}, is kept. Run the same command again to '
        'continue: finished runs are skipped and this one continues with --resume.'
    ]

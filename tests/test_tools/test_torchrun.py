"""Stopping and killing a distributed run (tools/_torchrun.py, torchrun's workers).

Each test starts its own 2-process launch of ``dist_train.sh`` or ``dist_test.sh``
on the tiny CLIP and stops it while the workers train or test. They live apart
from ``test_distributed.py`` so that the two files can run side by side.
"""
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from mmengine.config import Config
from mmpretrain.registry import MODELS

from ..conftest import write_split_dataset
from .test_distributed import TOOLS, free_port, tiny_config

pytestmark = pytest.mark.long_running(seconds=70)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_killing_the_launcher_stops_every_worker(tmp_path):
    """torchrun starts each worker in a session of its own: a kill of dist_train.sh's process
    group (SIGKILL: nothing can clean up) must not leave them training and saving."""
    config = tiny_config(tmp_path, write_split_dataset(tmp_path / 'toy', train=4, test=1))
    with open(config, 'a') as f:
        f.write("custom_hooks = [dict(type='ClassNamesHook'), "
                "dict(type='SlowTrainingProbeHook', seconds=2)]\n")
    work = tmp_path / 'work'
    env = {k: v for k, v in os.environ.items() if k not in ('MASTER_ADDR', 'MASTER_PORT')}
    env.update(HF_HUB_OFFLINE='1', PYTHON=sys.executable, PORT=str(free_port()))
    launcher = subprocess.Popen(
        ['bash', str(TOOLS / 'dist_train.sh'),
         str(config), '2', '--work-dir',
         str(work)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / 'log', 'w'),
        start_new_session=True)
    pid_files = [work / f'pid_rank{rank}' for rank in (0, 1)]
    deadline = time.time() + 300
    while not all(p.exists() and p.read_text() for p in pid_files):
        assert launcher.poll() is None and time.time() < deadline, \
            (tmp_path / 'log').read_text()[-3000:]
        time.sleep(0.5)
    workers = [int(p.read_text()) for p in pid_files]
    os.killpg(launcher.pid, signal.SIGKILL)
    launcher.wait()
    deadline = time.time() + 60
    while any(map(_alive, workers)) and time.time() < deadline:
        time.sleep(0.5)
    assert not any(map(_alive, workers)), 'workers outlived their launcher'
    assert not list(work.glob('*.pth')) and not list(work.glob('*/test_metrics.json'))


@pytest.mark.parametrize('script,stop,code', [('dist_test.sh', signal.SIGTERM, 143),
                                              ('dist_test.sh', signal.SIGINT, 130),
                                              ('dist_train.sh', signal.SIGINT, 130)])
def test_stopping_a_distributed_run_ends_with_one_line(tmp_path, script, stop, code):
    """SIGTERM (kill) or SIGINT (Ctrl-C: the terminal signals the launcher's process group)
    while the workers test or train: one line and the signal's exit code, not torch's
    SignalException traceback and exit 1."""
    config = tiny_config(tmp_path, write_split_dataset(tmp_path / 'toy', train=4, test=4))
    with open(config, 'a') as f:
        f.write("custom_hooks = [dict(type='ClassNamesHook'), "
                "dict(type='SlowTrainingProbeHook', seconds=2)]\n")
    work = tmp_path / 'work'
    if script == 'dist_test.sh':
        model = MODELS.build(Config.fromfile(config).model)
        model.set_class_names(['red_square', 'green circle', 'blue'])
        torch.save(dict(state_dict=model.state_dict()), tmp_path / 'prompts.pth')
        args = [config, tmp_path / 'prompts.pth', '2']
    else:
        args = [config, '2']
    env = {k: v for k, v in os.environ.items() if k not in ('MASTER_ADDR', 'MASTER_PORT')}
    env.update(HF_HUB_OFFLINE='1', PYTHON=sys.executable, PORT=str(free_port()))
    launcher = subprocess.Popen(
        ['bash', str(TOOLS / script), *map(str, args), '--work-dir',
         str(work)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True)
    pid_files = [work / f'pid_rank{rank}' for rank in (0, 1)]
    deadline = time.time() + 300
    while not all(p.exists() and p.read_text() for p in pid_files):
        assert launcher.poll() is None and time.time() < deadline, launcher.stderr.read()[-3000:]
        time.sleep(0.5)
    if stop == signal.SIGINT:
        os.killpg(launcher.pid, stop)  # what Ctrl-C in the terminal does
    else:
        launcher.send_signal(stop)  # kill PID
    err = launcher.communicate(timeout=120)[1]
    assert launcher.returncode == code, err[-3000:]
    assert 'Traceback' not in err and 'SignalException' not in err
    last = err.strip().splitlines()[-1]
    what = 'The test did not finish' if script == 'dist_test.sh' else \
        f'No checkpoint was saved yet in {work}'
    assert last.startswith(f'interrupted: stopped by {stop.name}; every process of the run was '
                           f'stopped. {what}'), last
    assert err.count('interrupted:') == 1  # the workers leave it to the launcher

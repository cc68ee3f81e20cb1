"""Nothing lost, nothing silent: saves that survive kills and full disks, resume, divergence, locks.

Each case runs tools/train.py on the tiny CLIP, as a user would, and checks
what is left in the work dir and the one ``error:`` line printed. A kill, a
Ctrl-C and a concurrent run need a process of their own; the other cases run
the tool's ``main`` in this process, as ``run_cli`` runs it (seconds less each).
"""
import json
import os

import pytest
import torch
from mmengine.fileio.backends.local_backend import LocalBackend

from maple_mm.engine import WorkDirLock
from maple_mm.run_layout import LOCK_FILE, POINTER_FILE, is_complete_checkpoint
from ..conftest import run_tool_here, run_tool_here_ok, write_split_dataset
from ..test_tools.test_train_test_e2e import run_tool, tiny_config

pytestmark = pytest.mark.long_running(seconds=60)


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('safety')
    config = tiny_config(tmp, write_split_dataset(tmp / 'toy'), epochs=3)
    with open(config, 'a') as f:
        f.write("custom_imports = dict(imports=['maple_mm', 'tests.test_engine.faults'])\n"
                "custom_hooks = [dict(type='ClassNamesHook'), dict(type='EpochSeedHook'), "
                "dict(type='WeightsOnlyCheckpointHook'), dict(type='DivergenceHook'), "
                "dict(type='CheckpointFaultHook')]\n")
    return tmp, config


def train(config, work_dir, *args, fault=None, **kwargs):
    env = {'MAPLE_FAULT': fault or '', 'MAPLE_FAULT_EPOCH': '2'}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return run_tool('train.py', config, '--work-dir', work_dir, *args, check=False, **kwargs)
    finally:
        for key, value in old.items():
            os.environ.pop(key) if value is None else os.environ.__setitem__(key, value)


def last_line(proc) -> str:
    return proc.stderr.strip().splitlines()[-1]


def train_here(*argv):
    """tools/train.py run in this process (fast): None when it ends well, else its exit code."""
    return run_tool_here('train', *argv)


def train_error(*argv) -> str:
    """The ``error:`` line tools/train.py exits with, run in this process (fast)."""
    code = train_here(*argv)
    assert isinstance(code, str), f'tools/train.py did not stop with an error line: {code!r}'
    return code


@pytest.fixture
def fault(monkeypatch):
    """Set MAPLE_FAULT for a run in this process; the hook's broken save is undone after."""
    monkeypatch.setattr(LocalBackend, 'put', LocalBackend.put)
    monkeypatch.setenv('MAPLE_FAULT_EPOCH', '2')
    return lambda name: monkeypatch.setenv('MAPLE_FAULT', name)


def test_kill_during_a_save_loses_nothing_and_resume_continues(setup, capfd):
    """The killed training in a process of its own; the resume in this process."""
    tmp, config = setup
    work = tmp / 'killed'
    proc = train(config, work, fault='kill')
    assert proc.returncode == -9  # SIGKILL while epoch_2.pth was being written
    assert is_complete_checkpoint(work / 'epoch_1.pth')
    assert not (work / 'epoch_2.pth').exists()
    assert (work / '.epoch_2.pth.partial').exists()  # the half-written file, never renamed
    assert (work / POINTER_FILE).read_text().endswith('epoch_1.pth')
    assert (work / LOCK_FILE).exists()  # left by the killed process: stale
    (work / POINTER_FILE).write_text('garbage that names no file')

    out = run_tool_here_ok(capfd, 'train', config, '--work-dir', work, '--resume')
    log = out.out + out.err
    assert f'Resuming from {work / "epoch_1.pth"}' in log
    assert 'Removing .epoch_2.pth.partial' in log
    assert sorted(p.name for p in work.glob('*.pth')) == ['epoch_3.pth']
    assert not list(work.glob('.*partial')) and not (work / LOCK_FILE).exists()
    assert 'Top-1 accuracy (%): Base' in log


def test_full_disk_during_a_save_is_one_error_and_keeps_the_last_checkpoint(setup, fault, capfd):
    tmp, config = setup
    work = tmp / 'full_disk'
    fault('enospc')
    line = train_error(config, '--work-dir', work)  # exit code 1: an error line
    assert 'Traceback' not in capfd.readouterr().err
    assert line == (
        f'error: Could not save epoch_2.pth in {work}: the disk is full. The last complete '
        'checkpoint, epoch_1.pth, is kept. Free space or fix the folder, then rerun with '
        '--resume.')
    assert is_complete_checkpoint(work / 'epoch_1.pth')
    assert sorted(p.name for p in work.iterdir() if p.suffix == '.pth') == ['epoch_1.pth']
    assert not list(work.glob('.*partial')) and not (work / LOCK_FILE).exists()


def test_resume_never_restarts_silently(setup):
    tmp, config = setup
    work = tmp / 'incomplete'
    work.mkdir()
    whole = tmp / 'whole.pth'
    torch.save({'state_dict': {'w': torch.randn(64, 64)}}, whole)
    (work / 'epoch_1.pth').write_bytes(whole.read_bytes()[:3000])  # an interrupted save
    assert train_error(config, '--work-dir', work, '--resume') == (
        f'error: Nothing to resume in {work}: its only checkpoints (epoch_1.pth) are '
        'incomplete (a save was interrupted). Delete them to start again, or train into '
        'another --work-dir.')
    assert 'Pass --resume to continue it' in train_error(config, '--work-dir', work)
    assert 'missing.pth to resume from does not exist' in train_error(config, '--work-dir', work,
                                                                      '--resume',
                                                                      tmp / 'missing.pth')


def test_the_runner_itself_never_overwrites_a_run(setup):
    """MapleRunner's promise, kept for mmpretrain's tools and Runner.from_cfg too."""
    from mmengine.config import Config
    from mmpretrain.registry import RUNNERS

    from maple_mm.errors import WorkDirError
    tmp, config = setup
    work = tmp / 'earlier_run'
    work.mkdir()
    (work / 'epoch_1.pth').write_bytes(b'a checkpoint of an earlier run')
    cfg = Config.fromfile(config)
    cfg.work_dir = str(work)
    runner = RUNNERS.build(cfg)
    with pytest.raises(WorkDirError, match='Pass --resume to continue it'):
        runner.train()
    assert (work / 'epoch_1.pth').read_bytes() == b'a checkpoint of an earlier run'


def test_divergence_stops_the_run_and_keeps_the_last_good_checkpoint(setup, capfd):
    tmp, config = setup
    work = tmp / 'diverged'
    # Epoch 1 warms up at 1e-5 and saves; epoch 2 runs at lr 1e12.
    line = train_error(config, '--work-dir', work, '--cfg-options',
                       'optim_wrapper.optimizer.lr=1e12')  # exit code 1: an error line
    assert 'Traceback' not in capfd.readouterr().err
    assert line.startswith('error: Training diverged at epoch 2, iteration 4 (lr 1e+12): '
                           'parameter prompt_learner.')
    assert 'beyond 1e+04 (DivergenceHook.max_abs)' in line
    assert 'the last complete checkpoint, epoch_1.pth, is kept' in line
    assert sorted(p.name for p in work.glob('*.pth')) == ['epoch_1.pth']
    state = torch.load(work / 'epoch_1.pth', weights_only=True)['state_dict']
    assert all(v.isfinite().all() for k, v in state.items() if k != '_extra_state')


def test_a_second_training_on_the_same_work_dir_stops_at_once(setup):
    tmp, config = setup
    work = tmp / 'locked'
    lock = WorkDirLock(str(work)).acquire()
    try:  # another process trains into it
        proc = train(config, work)
    finally:
        lock.release()
    assert proc.returncode == 1 and last_line(proc).startswith(
        f'error: {work} is being trained into by another process (pid {os.getpid()} on ')
    assert not list(work.glob('*.pth'))
    # A lock whose process is gone (a crashed run) is taken over.
    (work / LOCK_FILE).write_text('{"host": "%s", "pid": 999999999}' % os.uname().nodename)
    assert train_here(config, '--work-dir', work, '--no-test', '--cfg-options',
                      'train_cfg.max_epochs=1') is None
    assert not (work / LOCK_FILE).exists()


@pytest.mark.parametrize('option,expected', [
    ('model.prompt_learner.deptth=3', "error: Unknown option 'deptth' for MaPLePromptLearner "
     '(in the config or --cfg-options); check the spelling. Its options: clip, n_ctx, '
     'ctx_init, depth.'),
    ('model.prompt_learner.depth=40', 'error: MaPLe prompt depth must be in 1..4 for this CLIP '
     '(4 text / 4 vision blocks), got 40'),
    ('model.prompt_learner.n_ctx=0', 'error: MaPLe n_ctx must be >= 1, got 0'),
    ('model.class_names=["' + ' '.join(['word'] * 80) + '"]', 'tokens, longer than the text '
     'context of 77: shorten that class name.'),
])
def test_bad_settings_are_one_error_line(setup, option, expected):
    tmp, config = setup
    message = train_error(config, '--work-dir', tmp / 'bad', '--cfg-options', option)
    assert message.startswith(expected) or message.endswith(expected)


def test_unwritable_work_dir_and_missing_data_come_before_any_download(setup):
    tmp, config = setup
    blocker = tmp / 'a_file'
    blocker.write_text('not a folder')
    assert train_error(
        config, '--work-dir',
        blocker / 'work').startswith(f'error: Cannot write into the work dir {blocker / "work"}: ')
    # The real CLIP tag cannot be downloaded offline; the missing dataset is reported first.
    offline = [
        'model.backbone.model_cfg=None', 'model.backbone.model_name=ViT-B-32',
        'model.backbone.pretrained=openai'
    ]
    message = train_error(config, '--work-dir', tmp / 'offline', '--cfg-options', *offline,
                          f'train_dataloader.dataset.data_root={tmp}/nowhere')
    assert 'nowhere' in message and 'not found' in message
    assert train_error(config, '--work-dir', tmp / 'offline', '--cfg-options', *offline) == (
        "error: Cannot download the ViT-B-32 weights of pretrained tag 'openai': the hub is "
        'unreachable (offline?). Use a local file instead, pretrained=/path/to/ViT-B-32.pt '
        '(an open_clip or OpenAI checkpoint), or pretrained=None for random weights.')
    # An unknown tag is found in open_clip's list of tags, before any download.
    unknown = [*offline[:2], 'model.backbone.pretrained=no_such_tag']
    message = train_error(config, '--work-dir', tmp / 'offline', '--cfg-options', *unknown)
    assert message.startswith("error: 'ViT-B-32' has no pretrained tag 'no_such_tag'; known "
                              'tags: openai, ')


def test_a_bad_image_in_a_later_test_set_keeps_the_finished_sets(setup, tmp_path):
    tmp, config = setup
    data = write_split_dataset(tmp_path / 'toy')
    (data / 'images' / 'cyan' / 'test_3.png').write_bytes(b'')  # a novel test image
    options = [
        '--cfg-options', f'dataset.data_root={data}', f'train_dataloader.dataset.data_root={data}',
        f'test_dataloader.dataset.data_root={data}', 'train_cfg.max_epochs=1'
    ]
    message = train_error(config, '--work-dir', tmp_path / 'work', *options)
    assert message.startswith(f'error: Image {data / "images" / "cyan" / "test_3.png"} cannot '
                              'be decoded: the file is empty (0 bytes)')
    assert '--decode' in message
    metrics = json.loads(next((tmp_path / 'work').glob('*/test_metrics.json')).read_text())
    assert metrics['complete'] is False
    assert set(metrics['metrics']) == {'base/accuracy/top1'}


def test_a_dataset_without_type_is_one_error_line(setup, tmp_path):
    tmp, config = setup
    for key in ('train_dataloader', 'test_dataloader'):
        child = tmp_path / f'{key}_untyped.py'
        child.write_text(f"_base_ = [{str(config)!r}]\n{key} = dict(dataset=dict("
                         f"_delete_=True, data_root={str(tmp / 'toy')!r}, split='train'))\n")
        assert train_error(child, '--work-dir', tmp_path / 'work') == (
            f"error: {key}.dataset has no type: name its dataset class, e.g. "
            f"{key}.dataset.type='SplitFileDataset' (or a CoOp benchmark dataset such as "
            "'CoOpDTD', or an mmpretrain dataset such as 'CustomDataset').")


def test_ctrl_c_during_a_save_keeps_it_and_says_how_to_continue(setup):
    tmp, config = setup
    work = tmp / 'interrupted'
    proc = train(config, work, fault='sigint')  # Ctrl-C while epoch_2.pth is saved
    assert proc.returncode == 130, proc.stderr[-3000:]
    assert 'Traceback' not in proc.stderr and 'SyntaxError' not in proc.stderr
    assert last_line(proc) == (f'interrupted: {work / "epoch_2.pth"} is kept (the last complete '
                               'checkpoint); run the same command with --resume to continue.')
    assert is_complete_checkpoint(work / 'epoch_2.pth')  # the save was finished first
    assert not list(work.glob('.*partial')) and not (work / LOCK_FILE).exists()

"""Distributed training and testing on CPUs: 2 gloo processes against 1 process.

The launches share one module fixture (each process start costs ~10 s of imports):

1. ``tools/train.py``, 1 process x batch 4 (the reference), run in this process;
2. ``tools/dist_train.sh``, 2 processes x batch 2, same data, same seed;
3. ``tools/dist_test.sh``, 2 processes testing the checkpoint of run 1;
4. ``tools/slurm_train.sh`` (a stand-in srun on this machine), 2 processes
   resuming run 2 from its first epoch, then testing.

Launches 2-4 must each exit 0 after their test on a busy machine: they run while
the suite's other worker keeps the cores busy, and launch 3 (a rank of a complete
2-process test was seen aborting in its teardown under load) beside a CPU-bound
process too (at the lowest priority: it fills the moments the cores would idle). Stopping
and killing a distributed run: ``test_torchrun.py``.

Why 2 x 2 and 1 x 4 see the same batches: mmengine's DefaultSampler draws one
permutation from ``seed + epoch`` on every rank (the config's seed, the same on
all ranks) and gives rank r the indices r, r + W, r + 2W, ... of it; with W = 2
and batch 2, step k of the two ranks together covers permutation positions
4k .. 4k+3, which is batch k of the single process. DDP averages the two ranks'
gradients of their mean losses, which is the gradient of the mean loss over the
4 images; the pipeline has no random augmentation. Only float rounding differs.
"""
import contextlib
import io
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from maple_mm.evaluation.run_metrics import read_test_metrics as read_metrics_file
from ..conftest import REPO_ROOT, load_tool, run_tool_here, write_split_dataset

pytestmark = pytest.mark.long_running(seconds=100)

TOOLS = REPO_ROOT / 'tools'
FAKE_SLURM_BIN = Path(__file__).parent / 'dist_scripts' / 'bin'
EPOCHS = 2
TRAINABLE = [
    'ctx', 'ctx_proj.weight', 'ctx_proj.bias', 'deep_text_prompts.0', 'deep_text_prompts.1',
    'deep_projs.0.weight', 'deep_projs.0.bias', 'deep_projs.1.weight', 'deep_projs.1.bias'
]
#: |1x4 - 2x2| bound for any prompt weight. Observed: 8.6e-8 after the first
#: step (rounding of batch-2 vs batch-4 products), growing to 3.4e-6 after 6
#: steps at lr 0.05 with momentum, while the weights move by up to 0.89.
PARAM_ATOL = 1e-5


def tiny_config(tmp_path: Path, data_root: Path) -> Path:
    """Tiny CLIP, 12 base-class training images, no random augmentation.

    The test sets (15 base and 15 novel images) are not divisible by
    2 processes x batch 4, so the distributed sampler pads them.
    """
    cfg = f'''
_base_ = [{str(REPO_ROOT / 'configs/_base_/default_runtime.py')!r}]
custom_imports = dict(imports=['maple_mm', 'tests.test_tools.dist_scripts.probes'],
                      allow_failed_imports=False)
from maple_mm.models import TINY_CLIP_CFG
model = dict(type='MaPLe', backbone=dict(type='OpenCLIPBackbone', model_cfg=TINY_CLIP_CFG),
             prompt_learner=dict(type='MaPLePromptLearner', n_ctx=2, depth=3),
             data_preprocessor=dict(type='ClsDataPreprocessor', mean=[122.7, 116.7, 104.1],
                                    std=[68.5, 66.6, 70.3], to_rgb=True))
pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
dataset = dict(type='SplitFileDataset', data_root={str(data_root)!r},
               split_file='split_zhou_Toy.json', image_dir='images', num_shots=4, seed=1,
               pipeline=pipeline)
train_dataloader = dict(batch_size=4, num_workers=0, drop_last=True,
                        sampler=dict(type='DefaultSampler', shuffle=True),
                        dataset=dict(dataset, split='train', subsample='base'))
auto_scale_lr = dict(base_batch_size=4)
test_dataloader = dict(batch_size=4, num_workers=0,
                       sampler=dict(type='DefaultSampler', shuffle=False),
                       dataset=dict(dataset, split='test', subsample='base'))
test_cfg = dict(type='MultiSetTestLoop', name='base',
                extra_sets=dict(novel=dict(subsample='novel')))
test_evaluator = [dict(type='Accuracy', topk=(1, )), dict(type='EvaluatedImagesProbe')]
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=5e-4))
param_scheduler = dict(type='ConstantWarmupCosineLR', T_max={EPOCHS}, warmup_value=0.02,
                       warmup_steps=1, by_epoch=True)
train_cfg = dict(by_epoch=True, max_epochs={EPOCHS}, val_interval={EPOCHS + 1})
val_cfg = None
val_dataloader = None
val_evaluator = None
default_hooks = dict(checkpoint=dict(max_keep_ckpts=-1), logger=dict(interval=1))
custom_hooks = [dict(type='ClassNamesHook'), dict(type='EpochSeedHook'),
                dict(type='WeightsOnlyCheckpointHook'), dict(type='PromptSyncProbeHook')]
'''
    path = tmp_path / 'tiny_dist.py'
    path.write_text(cfg)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def launch(cmd: list, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """Run a tool or script; the processes must end successfully."""
    full_env = {k: v for k, v in os.environ.items() if k not in ('MASTER_ADDR', 'MASTER_PORT')}
    full_env.update({'HF_HUB_OFFLINE': '1', 'PYTHON': sys.executable, **env})
    proc = subprocess.run([str(c) for c in cmd],
                          cwd=cwd,
                          env=full_env,
                          capture_output=True,
                          text=True,
                          timeout=600)
    if proc.returncode != 0:
        raise AssertionError(f'{cmd} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}')
    return proc


def read_test_metrics(work_dir: Path) -> dict:
    runs = sorted(work_dir.glob('*/test_metrics.json'))
    assert len(runs) == 1, f'expected one test_metrics.json under {work_dir}, got {runs}'
    return read_metrics_file(runs[0])[2]


def probe(work_dir: Path, rank: int = 0) -> dict:
    return torch.load(work_dir / f'probe_rank{rank}.pt', weights_only=True)


def state_dict(path: Path) -> dict:
    return torch.load(path, weights_only=True)['state_dict']


@pytest.fixture(scope='module')
def runs(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp('dist')
    data = write_split_dataset(tmp / 'toy')
    config = tiny_config(tmp, data)
    single, dist, dist_test, resumed = (
        tmp / name for name in ('single', 'dist', 'dist_test', 'resumed'))
    # --auto-scale-lr: 1 x 4 and 2 x 2 are both the recipe's batch of 4, so lr x 1.
    single_log = io.StringIO()
    with contextlib.redirect_stdout(single_log), contextlib.redirect_stderr(single_log):
        code = run_tool_here('train', config, '--work-dir', single, '--auto-scale-lr')
    assert code is None, single_log.getvalue()[-3000:]
    dist_log = launch([
        'bash', TOOLS / 'dist_train.sh', config, 2, '--work-dir', dist, '--auto-scale-lr',
        '--cfg-options', 'train_dataloader.batch_size=2'
    ],
                      tmp,
                      PORT=str(free_port()))
    # The test launch on a busier machine still: a CPU-bound process beside it, at the lowest
    # priority, so that it takes every moment the ranks leave the cores idle (waiting on each
    # other, tearing down) and little of the suite's other worker.
    hog = subprocess.Popen([sys.executable, '-c', 'import os; os.nice(19)\nwhile True: pass'])
    try:
        dist_test_log = launch([
            'bash', TOOLS / 'dist_test.sh', config, single / f'epoch_{EPOCHS}.pth', 2, '--work-dir',
            dist_test
        ],
                               tmp,
                               PORT=str(free_port()))
        hog_ran_throughout = hog.poll() is None
    finally:
        hog.kill()
        hog.wait()
    # As if the 2-process run had died in its last epoch: resume it from epoch 1.
    # One thread per process, as torchrun sets it: bitwise equality needs the
    # same float reduction order as the uninterrupted run.
    resumed.mkdir()
    shutil.copy(dist / 'epoch_1.pth', resumed / 'epoch_1.pth')
    (resumed / 'last_checkpoint').write_text(str(resumed / 'epoch_1.pth'))
    resume_log = launch([
        'bash', TOOLS / 'slurm_train.sh', 'cpu', 'maple', config, resumed, '--resume',
        '--auto-scale-lr', '--cfg-options', 'train_dataloader.batch_size=2'
    ],
                        tmp,
                        GPUS='2',
                        MASTER_PORT=str(free_port()),
                        OMP_NUM_THREADS='1',
                        PATH=f'{FAKE_SLURM_BIN}{os.pathsep}{os.environ["PATH"]}')
    return dict(
        single=single,
        dist=dist,
        dist_test=dist_test,
        resumed=resumed,
        hog_ran_throughout=hog_ran_throughout,
        single_log=single_log.getvalue(),
        dist_log=dist_log.stdout + dist_log.stderr,
        dist_test_log=dist_test_log.stdout + dist_test_log.stderr,
        resumed_log=resume_log.stdout + resume_log.stderr)


def test_cpu_runs_use_gloo_and_mmengine_ddp(runs):
    assert 'use the gloo backend instead of nccl' in runs['dist_log']
    for run in ('dist', 'resumed'):
        for rank in (0, 1):
            record = probe(runs[run], rank)
            assert (record['rank'], record['world_size']) == (rank, 2)
            assert record['backend'] == 'gloo'
            assert record['model_wrapper'] == 'MMDistributedDataParallel'
    assert probe(runs['single'])['model_wrapper'] == 'MaPLe'  # one process: no wrapper


def test_completed_runs_exit_0_under_load(runs):
    """Ranks meet and close the process group before exiting, also on a busy machine.

    The three 2-process launches (train, test, resume) ran beside the suite's other
    worker, the test launch beside a CPU-bound process too; each ended with exit code
    0 after its test (``launch`` checks the code: a rank aborted at exit fails the launch).
    """
    assert runs['hog_ran_throughout']
    for name in ('dist_log', 'dist_test_log', 'resumed_log'):
        assert 'Top-1 accuracy (%): Base' in runs[name], name


def test_auto_scale_lr_counts_the_batch_of_every_process(runs):
    """2 processes x 2 count as 4 (not 2): the lr stays the recipe's."""
    scaled = 'the current batch size is 4. Scaling the original LR by 1.0'
    assert scaled in runs['single_log'] and scaled in runs['dist_log']


def test_all_ranks_hold_identical_prompts_after_every_step(runs):
    rank0, rank1 = probe(runs['dist'], 0), probe(runs['dist'], 1)
    assert rank0['world_size'] == 2
    # Every trainable tensor is checked: shallow and deep prompts and couplings.
    assert rank0['names'] == [f'prompt_learner.{name}' for name in TRAINABLE]
    assert len(rank0['rank_diffs']) == 3 * EPOCHS
    assert rank0['rank_diffs'] == [0.0] * (3 * EPOCHS)  # bitwise equal, every step
    torch.testing.assert_close(rank0['params'], rank1['params'], rtol=0, atol=0)


def test_two_by_two_sees_the_batches_of_one_by_four(runs):
    single, dist = probe(runs['single']), probe(runs['dist'])
    assert len(single['samples']) == len(dist['samples']) == 3 * EPOCHS
    for (batch4, ), (rank0, rank1) in zip(single['samples'], dist['samples']):
        assert rank0 == batch4[0::2] and rank1 == batch4[1::2]


def test_two_by_two_trains_like_one_by_four(runs):
    single, dist = probe(runs['single']), probe(runs['dist'])
    torch.testing.assert_close(single['initial'], dist['initial'], rtol=0, atol=0)
    moved = float((single['params'][-1] - single['initial']).abs().max())
    step_diffs = (single['params'] - dist['params']).abs().amax(dim=1)
    print(f'max |1x4 - 2x2| per step: {step_diffs.tolist()}; largest change from init {moved}')
    assert moved > 1000 * PARAM_ATOL  # training did move the prompts
    assert float(step_diffs[0]) <= 1e-6  # one step: float rounding only
    assert float(step_diffs.max()) <= PARAM_ATOL  # later steps carry it on
    a = state_dict(runs['single'] / f'epoch_{EPOCHS}.pth')
    b = state_dict(runs['dist'] / f'epoch_{EPOCHS}.pth')
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=PARAM_ATOL, msg=key)


def test_distributed_test_counts_every_image_once_with_single_process_accuracy(runs):
    single, dist = read_test_metrics(runs['single']), read_test_metrics(runs['dist_test'])
    for name in ('base', 'novel'):
        assert single[f'{name}/probe/images'] == single[f'{name}/probe/distinct_images'] == 15
        assert dist[f'{name}/probe/images'] == dist[f'{name}/probe/distinct_images'] == 15
        assert single[f'{name}/probe/processed'] == 15
        assert dist[f'{name}/probe/processed'] == 16  # one padded image, dropped
    accuracy = ('base/accuracy/top1', 'novel/accuracy/top1', 'HM')
    assert [dist[key] for key in accuracy] == [single[key] for key in accuracy]
    # The test after 2 x 2 training agrees too (weights equal up to rounding).
    after_training = read_test_metrics(runs['dist'])
    assert [after_training[key] for key in accuracy] == [single[key] for key in accuracy]


def test_checkpoints_are_written_by_rank_0_only(runs):
    assert probe(runs['dist'], 0)['saved_epochs'] == [1, 2]
    assert probe(runs['dist'], 1)['saved_epochs'] == []
    assert sorted(p.name for p in runs['dist'].glob('*.pth')) == ['epoch_1.pth', 'epoch_2.pth']
    assert 'optimizer' in torch.load(runs['dist'] / 'epoch_1.pth', weights_only=True)


def test_distributed_resume_gives_the_uninterrupted_result(runs):
    assert 'resumed epoch: 1' in runs['resumed_log']
    assert probe(runs['resumed'], 0)['world_size'] == 2
    assert probe(runs['resumed'], 0)['saved_epochs'] == [2]
    assert probe(runs['resumed'], 1)['saved_epochs'] == []
    a = state_dict(runs['dist'] / f'epoch_{EPOCHS}.pth')
    b = state_dict(runs['resumed'] / f'epoch_{EPOCHS}.pth')
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)


# -- the launch scripts' command lines (nothing is started) --------------------
def recorded_args(cmd: list, tmp_path: Path, **env: str) -> list:
    record = tmp_path / 'args.txt'
    launch(['bash', *cmd],
           tmp_path,
           ARGS_RECORD=str(record),
           PATH=f'{FAKE_SLURM_BIN}{os.pathsep}{os.environ["PATH"]}',
           **env)
    return record.read_text().splitlines()


def test_dist_train_passes_the_multi_node_settings_to_torchrun(tmp_path):
    args = recorded_args([TOOLS / 'dist_train.sh', 'cfg.py', 8, '--amp'],
                         tmp_path,
                         PYTHON=str(FAKE_SLURM_BIN / 'record_args'),
                         NNODES='2',
                         NODE_RANK='1',
                         MASTER_ADDR='10.0.0.1',
                         PORT='29501')
    assert args == [  # torchrun, through _torchrun.py (one line when it is stopped)
        str(TOOLS / '_torchrun.py'), '--nnodes=2', '--node_rank=1', '--master_addr=10.0.0.1',
        '--nproc_per_node=8', '--master_port=29501',
        str(TOOLS / 'train.py'), 'cfg.py', '--launcher', 'pytorch', '--amp'
    ]


def test_dist_test_defaults_to_one_local_node(tmp_path):
    args = recorded_args([TOOLS / 'dist_test.sh', 'cfg.py', 'w.pth', 2],
                         tmp_path,
                         PYTHON=str(FAKE_SLURM_BIN / 'record_args'))
    assert args == [
        str(TOOLS / '_torchrun.py'), '--nnodes=1', '--node_rank=0', '--master_addr=127.0.0.1',
        '--nproc_per_node=2', '--master_port=29500',
        str(TOOLS / 'test.py'), 'cfg.py', 'w.pth', '--launcher', 'pytorch'
    ]


def test_slurm_scripts_start_one_task_per_gpu(tmp_path):
    args = recorded_args([TOOLS / 'slurm_train.sh', 'gpu', 'maple', 'cfg.py', 'work', '--resume'],
                         tmp_path,
                         GPUS='16',
                         SRUN_ARGS='--time=1:00:00 -x n3')
    assert args == [
        '-p', 'gpu', '--job-name=maple', '--gres=gpu:8', '--ntasks=16', '--ntasks-per-node=8',
        '--cpus-per-task=5', '--kill-on-bad-exit=1', '--time=1:00:00', '-x', 'n3', sys.executable,
        '-u',
        str(TOOLS / 'train.py'), 'cfg.py', '--work-dir=work', '--launcher=slurm', '--resume'
    ]
    args = recorded_args([TOOLS / 'slurm_test.sh', 'gpu', 'eval', 'cfg.py', 'w.pth'],
                         tmp_path,
                         GPUS='2',
                         CPUS_PER_TASK='3')
    assert args == [
        '-p', 'gpu', '--job-name=eval', '--gres=gpu:2', '--ntasks=2', '--ntasks-per-node=2',
        '--cpus-per-task=3', '--kill-on-bad-exit=1', sys.executable, '-u',
        str(TOOLS / 'test.py'), 'cfg.py', 'w.pth', '--launcher=slurm'
    ]


def test_scripts_without_arguments_print_their_usage(tmp_path):
    for script in ('dist_train.sh', 'dist_test.sh', 'slurm_train.sh', 'slurm_test.sh'):
        proc = subprocess.run(['bash', str(TOOLS / script)], capture_output=True, text=True)
        assert proc.returncode == 2 and proc.stderr.startswith('usage:'), script


# -- MapleRunner: CPU work-arounds only without an accelerator -----------------
@pytest.mark.parametrize('accelerator,backend', [(True, 'nccl'), (False, 'gloo')])
def test_runner_switches_to_gloo_only_without_an_accelerator(monkeypatch, tmp_path, accelerator,
                                                             backend):
    from mmengine.runner import Runner

    from maple_mm.engine.runners import maple_runner as runner_module
    seen = {}
    monkeypatch.setattr(runner_module, '_accelerator_available', lambda: accelerator)
    monkeypatch.setattr(Runner, '__init__', lambda self, *a, **kw: seen.update(kw))
    runner_module.MapleRunner(
        model=dict(),
        work_dir=str(tmp_path),
        launcher='pytorch',
        env_cfg=dict(dist_cfg=dict(backend='nccl', timeout=60)))
    assert seen['env_cfg']['dist_cfg'] == dict(backend=backend, timeout=60)


def test_cpu_ddp_wrapper_gets_no_device_ids(monkeypatch, tmp_path):
    """DDP refuses device_ids for a CPU module; MapleRunner passes None."""
    from maple_mm.engine.runners.maple_runner import MapleRunner
    monkeypatch.setenv('RANK', '0')
    monkeypatch.setenv('LOCAL_RANK', '0')
    monkeypatch.setenv('WORLD_SIZE', '1')
    monkeypatch.setenv('MASTER_ADDR', '127.0.0.1')
    monkeypatch.setenv('MASTER_PORT', str(free_port()))
    torch.distributed.init_process_group('gloo')
    try:
        runner = MapleRunner.__new__(MapleRunner)
        runner._distributed, runner.cfg = True, {}
        model = runner.wrap_model(None, torch.nn.Linear(3, 2))
        assert model.device_ids is None
        model(torch.ones(1, 3)).sum().backward()
        assert model.module.weight.grad is not None
    finally:
        torch.distributed.destroy_process_group()


def test_finish_distributed_closes_the_process_group(monkeypatch):
    finish_distributed = load_tool('tools/_cli.py').finish_distributed
    monkeypatch.setenv('MASTER_ADDR', '127.0.0.1')
    monkeypatch.setenv('MASTER_PORT', str(free_port()))
    torch.distributed.init_process_group('gloo', rank=0, world_size=1)
    finish_distributed(launched=False)
    assert not torch.distributed.is_initialized()
    finish_distributed(launched=False)  # nothing to close: a no-op


def test_scripts_use_the_environment_maple_mm_is_installed_in(tmp_path):
    """Without PYTHON: the checkout's .venv (as `make` creates it), not the system python."""
    env = {k: v for k, v in os.environ.items() if k != 'PYTHON'}
    pick = ['bash', '-c', f'set -eu; TOOLS={TOOLS}; . "$TOOLS/_python.sh"; echo "$PYTHON"']
    proc = subprocess.run(pick, capture_output=True, text=True, env=env)
    venv_python = TOOLS / '..' / '.venv' / 'bin' / 'python'
    expected = str(venv_python) if os.access(venv_python, os.X_OK) else 'python'
    assert proc.returncode == 0 and proc.stdout.strip() == expected
    proc = subprocess.run(['bash', str(TOOLS / 'dist_train.sh'), 'cfg.py', '2'],
                          capture_output=True,
                          text=True,
                          env=dict(env, PYTHON='false'))
    assert proc.returncode == 1 and proc.stderr.startswith(
        'error: false (') and 'cannot import torch; set PYTHON=/path/to/env/bin/python' in \
        proc.stderr

"""Run a protocol: methods x datasets x seeds (x shots), one run after another, resumable.

    python tools/run_sweep.py CONFIG [CONFIG ...] [--seeds 1 2 3] [--shots K [K ...]]
                              [--work-root work_dirs] [--exclude GLOB ...] [--gpus N]
                              [--amp | --precision P] [--auto-scale-lr] [--cfg-options k=v ...]
                              [--test-from ROOT] [--dry-run] [--keep-going]

Each run trains (tools/train.py, or tools/dist_train.sh with --gpus > 1) into
<work-root>/<method folder>/<config stem>[_<K>shots]/seed<S>, then tests. A
config with nothing to train (zero-shot CLIP: no train_dataloader) is only
tested (tools/test.py, no checkpoint). Running the same command again skips
the finished runs (complete test metrics) and resumes interrupted ones
(--resume), so an interrupted sweep just restarts. CONFIG may be a glob, e.g.
'configs/*/base2novel_*.py' (quote it). --shots runs every config at each K
(tools/train.py --shots K: the few-shot protocol). With --test-from ROOT nothing
is trained: each seed's checkpoint in ROOT/seed<S> is tested (tools/test.py),
e.g. the cross-dataset runs on the domain generalisation config.
"""
import argparse
import fnmatch
import functools
import glob
import os
import shlex
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

from _cli import (LAUNCHERS, PRECISION_CHOICES, QUIET_INTERRUPT, REPO_ROOT, errors, package_module,
                  run_cli)

layout = package_module('run_layout')  # where runs keep their files (imports nothing)

TOOLS = Path(REPO_ROOT) / 'tools'


@dataclass
class Run:
    """One run of the sweep and what to do about it."""

    config: str
    seed: int
    shots: Optional[int]
    work_dir: Path
    action: str  # 'skip', 'train', 'resume' or 'test'
    command: Optional[List[str]] = None
    reason: str = ''

    @property
    def name(self) -> str:
        return f'{layout.run_name(self.config, self.shots).as_posix()} seed {self.seed}'


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('configs', nargs='+', help='config files or globs')
    parser.add_argument(
        '--exclude',
        nargs='+',
        default=[],
        metavar='GLOB',
        help="leave out configs whose file name matches, e.g. '*imagenet*'")
    parser.add_argument(
        '--seeds',
        nargs='+',
        type=int,
        default=[1, 2, 3],
        help='seeds to run (default: the protocol\'s 1 2 3)')
    parser.add_argument(
        '--shots',
        nargs='+',
        type=int,
        metavar='K',
        help='run every config at each K shots per class (tools/train.py '
        '--shots K), e.g. 1 2 4 8 16 for the few-shot protocol; default: '
        'the configs\' own')
    parser.add_argument(
        '--work-root',
        default='work_dirs',
        help='runs go to WORK_ROOT/<method folder>/<config stem>[_<K>shots]/'
        'seed<S>')
    parser.add_argument(
        '--gpus',
        type=int,
        default=1,
        help='GPUs per run; more than 1 runs tools/dist_train.sh (torchrun)')
    parser.add_argument(
        '--launcher',
        choices=LAUNCHERS,
        help='passed to tools/train.py (e.g. slurm inside an allocation)')
    parser.add_argument('--amp', action='store_true', help='passed to tools/train.py')
    parser.add_argument(
        '--precision', choices=PRECISION_CHOICES, help='passed to tools/train.py and tools/test.py')
    parser.add_argument('--auto-scale-lr', action='store_true', help='passed to tools/train.py')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        default=[],
        help='passed to every run, e.g. '
        'model.backbone.pretrained=/path/ViT-B-16.pt')
    parser.add_argument(
        '--test-from',
        metavar='ROOT',
        help='train nothing: test the checkpoint of ROOT/seed<S> for each seed')
    parser.add_argument('--dry-run', action='store_true', help='print what would run, run nothing')
    parser.add_argument(
        '--keep-going', action='store_true', help='go on with the next run when one fails')
    return parser.parse_args(argv)


def expand_configs(patterns: List[str], exclude: List[str] = ()) -> List[str]:
    """Config files of the patterns (globs expanded, sorted), without repeats or excluded names."""
    configs: List[str] = []
    for pattern in patterns:
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        if not matches or not all(os.path.isfile(m) for m in matches):
            raise errors.SweepError(f'No config file matches {pattern!r}; the configs are in '
                                    'configs/<method>/.')
        configs += [
            m for m in matches if m not in configs and not any(
                fnmatch.fnmatch(os.path.basename(m), e) for e in exclude)
        ]
    if not configs:
        raise errors.SweepError(f'--exclude {" ".join(exclude)} leaves no config to run.')
    names = [layout.run_name(c) for c in configs]
    clashes = sorted({n.as_posix() for n in names if names.count(n) > 1})
    if clashes:
        raise errors.SweepError(f'Configs named {clashes} in folders of the same name would share '
                                'work dirs; sweep them with different --work-root values.')
    return configs


@functools.lru_cache(maxsize=None)
def trains(config: str) -> bool:
    """Whether the config trains anything (a zero-shot config has no train_dataloader)."""
    from mmengine.config import Config
    return bool(Config.fromfile(config, import_custom_modules=False).get('train_dataloader'))


def latest_checkpoint(work_dir: Path) -> Optional[Path]:
    """The newest complete checkpoint of a run folder (incomplete ones never count)."""
    return layout.latest_complete_checkpoint(work_dir)[0]


def pass_through(args: argparse.Namespace, seed: int, shots: Optional[int]) -> List[str]:
    """The arguments every train / test command of the sweep gets."""
    extra = ['--seed', str(seed)]
    if shots is not None:
        extra += ['--shots', str(shots)]
    if args.launcher and args.gpus <= 1:
        extra += ['--launcher', args.launcher]
    if args.precision:
        extra += ['--precision', args.precision]
    if args.cfg_options:
        extra += ['--cfg-options', *args.cfg_options]
    return extra


def test_command(args: argparse.Namespace, config: str, checkpoint: Optional[Path],
                 common: List[str]) -> List[str]:
    """tools/test.py (or dist_test.sh) on ``config``.

    Without a checkpoint (a model with nothing to learn) the test runs in one process.
    """
    if checkpoint is None:
        return [sys.executable, str(TOOLS / 'test.py'), config, *common]
    if args.gpus > 1:
        return [
            'bash',
            str(TOOLS / 'dist_test.sh'), config,
            str(checkpoint),
            str(args.gpus), *common
        ]
    return [sys.executable, str(TOOLS / 'test.py'), config, str(checkpoint), *common]


def plan_run(args: argparse.Namespace, config: str, seed: int, shots: Optional[int] = None) -> Run:
    """What one (config, seed, shots) needs: nothing, a fresh run, a resume or a test."""
    from maple_mm.evaluation import finished_test_metrics
    work_dir = layout.sweep_work_dir(args.work_root, config, seed, shots)
    metrics = finished_test_metrics(work_dir)
    if metrics is not None:
        return Run(config, seed, shots, work_dir, 'skip', reason=f'finished: {metrics}')
    common = ['--work-dir', str(work_dir), *pass_through(args, seed, shots)]
    if args.test_from:
        source = Path(args.test_from) / f'seed{seed}'
        checkpoint = latest_checkpoint(source)
        if checkpoint is None:
            raise errors.SweepError(f'No checkpoint in {source} to test for seed {seed}; run the '
                                    'training sweep first or fix --test-from.')
        return Run(config, seed, shots, work_dir, 'test',
                   test_command(args, config, checkpoint, common), f'checkpoint {checkpoint}')
    if not trains(config):
        return Run(config, seed, shots, work_dir, 'test', test_command(args, config, None, common),
                   'nothing to train')
    action = 'resume' if layout.checkpoint_files(work_dir) else 'train'
    if action == 'resume':
        common.append('--resume')
    if args.amp:
        common.append('--amp')
    if args.auto_scale_lr:
        common.append('--auto-scale-lr')
    if args.gpus > 1:
        command = ['bash', str(TOOLS / 'dist_train.sh'), config, str(args.gpus), *common]
    else:
        command = [sys.executable, str(TOOLS / 'train.py'), config, *common]
    return Run(config, seed, shots, work_dir, action, command)


def run_command(run: Run, index: int, total: int) -> int:
    """Run one command of the sweep; Ctrl-C lets it finish its save, then stops the sweep.

    The run gets the interrupt too (the terminal sends it to the whole process
    group; it is also forwarded), ends as it does alone, and stays quiet: the
    sweep prints the one line.
    """
    child = subprocess.Popen(run.command, env=dict(os.environ, **{QUIET_INTERRUPT: '1'}))
    try:
        return child.wait()
    except KeyboardInterrupt:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C waits too
        try:
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
            child.wait()
        finally:
            signal.signal(signal.SIGINT, previous)
        if run.action == 'test':
            kept = 'its test did not finish'
        else:
            latest = latest_checkpoint(run.work_dir)
            kept = (f'its last complete checkpoint, {latest}, is kept'
                    if latest else 'it had saved no checkpoint yet')
        raise errors.RunInterrupted(
            f'the sweep stopped in run {index} of {total} ({run.name}); {kept}. Run the same '
            'command again to continue: finished runs are skipped and this one continues '
            'with --resume.') from None


def summary(total: int,
            done: List[Run],
            skipped: List[Run],
            failed: List[Run],
            work_root: str,
            dry_run: bool = False) -> str:
    """The sweep's last lines: runs done, skipped and failed, and where the table comes from."""
    if dry_run:
        return (f'Dry run: {total} runs, {len(skipped)} finished earlier; nothing was run.')
    left = total - len(done) - len(skipped) - len(failed)
    counts = (f'{len(done)} done, {len(skipped)} skipped (finished earlier), '
              f'{len(failed)} failed' + (f', {left} not started' if left else ''))
    lines = [f'Sweep: {total} runs: {counts}.']
    lines += [f'  failed: {r.name} (log in {r.work_dir})' for r in failed]
    lines.append(f'Results: {work_root}; the table: python tools/results_table.py '
                 f'{shlex.quote(str(work_root))} [--paper] [--plot DIR]')
    return '\n'.join(lines)


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.gpus < 1:
        raise errors.SweepError('--gpus must be at least 1.')
    jobs = [(config, shots, seed) for config in expand_configs(args.configs, args.exclude)
            for shots in (args.shots or [None]) for seed in args.seeds]
    done, skipped, failed = [], [], []
    for index, (config, shots, seed) in enumerate(jobs, 1):
        run = plan_run(args, config, seed, shots)  # decided just before it starts
        head = f'[{index}/{len(jobs)}] {run.name}: {run.action}'
        print(f'{head} ({run.reason})' if run.reason else head, flush=True)
        if run.command is None:
            skipped.append(run)
            continue
        print('  ' + shlex.join(run.command), flush=True)
        if args.dry_run:
            continue
        if run_command(run, index, len(jobs)) != 0:
            failed.append(run)
            if not args.keep_going:
                print(summary(len(jobs), done, skipped, failed, args.work_root), flush=True)
                raise errors.SweepError(f'{run.name} failed (see its log in {run.work_dir}); rerun '
                                        'the sweep to resume it.')
        else:
            done.append(run)
    print(summary(len(jobs), done, skipped, failed, args.work_root, args.dry_run), flush=True)
    if failed:
        names = ', '.join(r.name for r in failed)
        raise errors.SweepError(
            f'{len(failed)} of {len(jobs)} runs failed: {names}; rerun the sweep '
            'to resume them.')


if __name__ == '__main__':
    run_cli(main)

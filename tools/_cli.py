"""Shared pieces of the command-line tools: arguments, config loading, runner, errors."""
import inspect
import os
import re
import signal
import sys
import threading
import warnings
from typing import Callable, List, Optional

from mmengine.config import Config, DictAction

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, REPO_ROOT)

# mmcv-lite has no compiled ops and says so on every import; nothing here needs them.
warnings.filterwarnings('ignore', message='Fail to import ``MultiScaleDeformableAttention``')

from maple_mm.errors import ConfigError, MapleUserError, RunInterrupted  # noqa: E402


def add_common_args(parser) -> None:
    """Arguments both tools take, as in mmpretrain's tools."""
    parser.add_argument('--work-dir', help='folder for logs and checkpoints')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config entries, e.g. model.prompt_learner.depth=3')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    parser.add_argument(
        '--seed',
        type=int,
        help='seed of the run and of every dataset\'s few-shot draw; the '
        'default work dir becomes work_dirs/<method>/<config>/seed<SEED>')
    parser.add_argument(
        '--precision',
        choices=['fp32', 'fp16', 'bf16', 'amp'],
        help='force the precision on every device: fp32, or mixed precision '
        '(fp16 autocast with dynamic loss scaling, or bf16 autocast; amp: bf16 '
        'where the device has it, else fp16). Default: the recipe\'s, fp16 '
        'mixed precision on CUDA (VPT fp32) and fp32 on CPUs; testing runs in '
        'the training precision (docs/benchmarks.md#precision)')
    parser.add_argument(
        '--shots',
        type=int,
        metavar='K',
        help='shots per class K of every dataset that draws them (the '
        'few-shot protocol\'s 1, 2, 4, 8, 16), with the values (epochs, ...) the config\'s '
        'values_by_shots gives K; the default work dir becomes '
        'work_dirs/<method>/<config>_<K>shots')


def load_config(args) -> Config:
    """Read the config; apply --cfg-options, --seed, --shots, --precision, --launcher and
    --work-dir."""
    from maple_mm.engine.runners.run_config import load_run_config
    cfg = load_run_config(args.config, args.cfg_options, getattr(args, 'seed', None),
                          getattr(args, 'shots', None), args.work_dir)
    precision = getattr(args, 'precision', None)
    if precision is not None:
        cfg.precision = precision
    cfg.launcher = args.launcher
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return cfg


def build_runner(cfg: Config):
    """The config's runner (``runner_type``, MapleRunner in maple_mm's runtime)."""
    from mmengine.runner import Runner

    from maple_mm.engine.runners.maple_runner import check_dataset_types
    check_dataset_types(
        cfg.get('train_dataloader'), cfg.get('val_dataloader'),
        cfg.get('test_dataloader'))  # whatever the runner
    if 'runner_type' not in cfg:
        return Runner.from_cfg(cfg)
    from mmpretrain.registry import RUNNERS
    return RUNNERS.build(cfg)


def stop_with_launcher() -> None:
    """A process started by torchrun ends when torchrun ends, however it is stopped.

    torchrun starts every worker in a session of its own, so stopping the
    launcher's process group (``kill -- -PGID``, or SIGKILL of torchrun) would
    leave the workers training and writing. Linux sends this process SIGTERM
    when its parent dies; elsewhere nothing changes.
    """
    if 'TORCHELASTIC_RUN_ID' not in os.environ or not sys.platform.startswith('linux'):
        return
    import ctypes
    pr_set_pdeathsig = 1
    try:
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGTERM))
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the launcher was gone before the call
        os.kill(os.getpid(), signal.SIGTERM)


def finish_distributed() -> None:
    """Let every rank finish, then close the process group before the interpreter exits.

    A rank that exits while another still tears down its gloo/NCCL connections
    can be aborted, which makes a completed run exit non-zero.
    """
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


_UNKNOWN_OPTION = re.compile(r"(?P<cls>\w+)\.__init__\(\) got an unexpected keyword argument "
                             r"'(?P<key>\w+)'")


def _options_of(class_name: str) -> List[str]:
    """Constructor arguments of a registered class, for the unknown-option message."""
    from mmpretrain import registry
    for name in ('MODELS', 'DATASETS', 'HOOKS', 'LOOPS', 'TRANSFORMS', 'OPTIM_WRAPPERS',
                 'PARAM_SCHEDULERS', 'METRICS', 'RUNNERS', 'OPTIMIZERS'):
        cls = getattr(registry, name).get(class_name)
        if cls is not None:
            params = inspect.signature(cls.__init__).parameters.values()
            return [
                p.name for p in params
                if p.name != 'self' and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
            ]
    return []


def user_error_message(err: BaseException) -> Optional[str]:
    """The one line to print for an error the user can fix, else None."""
    if isinstance(err, MapleUserError):
        text = str(err)
        if 'Original Traceback' in text:  # raised in a DataLoader worker
            text = text.strip().splitlines()[-1].split(': ', 1)[-1]
        return text
    match = _UNKNOWN_OPTION.search(str(err)) if isinstance(err, TypeError) else None
    if match:
        options = _options_of(match.group('cls'))
        known = f' Its options: {", ".join(options)}.' if options else ''
        return str(
            ConfigError(f'Unknown option {match.group("key")!r} for '
                        f'{match.group("cls")} (in the config or --cfg-options); '
                        f'check the spelling.{known}'))
    return None


#: Set in the environment of the runs of a sweep, which says itself what Ctrl-C kept.
QUIET_INTERRUPT = 'MAPLE_QUIET_INTERRUPT'


def run_cli(main: Callable[[Optional[List[str]]], None],
            argv=None,
            interrupted: Optional[Callable[[], str]] = None) -> None:
    """Run ``main``; user errors end with one ``error:`` line instead of a traceback.

    Ctrl-C (SIGINT) ends with one ``interrupted:`` line, ``interrupted()``'s
    (what was kept, how to continue), and exit code 130, also when a library
    turned the interrupt into another exception (mmengine's config formatting
    catches everything). Set MAPLE_DEBUG=1 to see the traceback anyway.
    """
    got_sigint = []

    def on_sigint(signum, frame):
        if got_sigint:  # the run is already winding down (a forwarded or repeated Ctrl-C)
            return
        got_sigint.append(signum)
        raise KeyboardInterrupt

    stop_with_launcher()
    own_handler = (
        signal.getsignal(signal.SIGINT) is signal.default_int_handler
        and threading.current_thread() is threading.main_thread())
    if own_handler:
        signal.signal(signal.SIGINT, on_sigint)
    try:
        main(argv)
    except BaseException as err:  # noqa: BLE001  only user errors are caught, see below
        if os.environ.get('MAPLE_DEBUG') or isinstance(err, SystemExit):
            raise
        if isinstance(err, (KeyboardInterrupt, RunInterrupted)) or got_sigint:
            if not os.environ.get(QUIET_INTERRUPT):
                note = str(err) if isinstance(err, RunInterrupted) else \
                    interrupted() if interrupted else 'stopped by Ctrl-C.'
                print(f'interrupted: {note}', file=sys.stderr, flush=True)
            sys.exit(130)
        message = user_error_message(err) if isinstance(err, Exception) else None
        if message is None:
            raise
        sys.exit(f'error: {message}')
    finally:
        if own_handler:
            signal.signal(signal.SIGINT, signal.default_int_handler)

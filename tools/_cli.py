"""Shared pieces of the command-line tools: arguments, config loading, runner, errors.

Importing it is cheap: the tools parse their arguments first (``--help`` answers at once)
and import the maple_mm package, which imports torch and registers every model, only
when they run. What a parser lists (precision names, dataset keys) comes from modules of
plain facts read with :func:`package_module`.
"""
import ast
import gc
import importlib
import importlib.util
import logging
import os
import signal
import sys
import threading
import warnings
from types import ModuleType
from typing import Callable, List, Optional

from mmengine.config import DictAction

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, REPO_ROOT)

# mmcv-lite has no compiled ops and says so on every import; nothing here needs them.
warnings.filterwarnings('ignore', message='Fail to import ``MultiScaleDeformableAttention``')


def _package_imports(path: str, package: str) -> List[str]:
    """The maple_mm modules a module's source imports (absolute and relative)."""
    found = []
    for node in ast.walk(ast.parse(open(path, encoding='utf-8').read())):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                parts = package.split('.')[:len(package.split('.')) - node.level + 1]
                base = '.'.join(parts + ([base] if base else []))
            found.append(base)
    return [name for name in found if name.split('.')[0] == 'maple_mm']


def package_module(name: str) -> ModuleType:
    """``maple_mm.<name>``, loaded without running ``maple_mm/__init__.py`` (which imports
    torch) where the module and the maple_mm modules it imports are plain modules (not
    packages): a parser lists its names at once. A later ``import maple_mm`` finds them in
    ``sys.modules`` and uses these. Otherwise the module is imported as usual."""
    full_name = f'maple_mm.{name}'
    if full_name in sys.modules:
        return sys.modules[full_name]
    path = os.path.join(REPO_ROOT, 'maple_mm', *name.split('.')) + '.py'
    deps = _package_imports(path, full_name.rpartition('.')[0]) if os.path.isfile(path) else None
    if deps is None or any(
            dep not in sys.modules
            and not os.path.isfile(os.path.join(REPO_ROOT, *dep.split('.')) + '.py')
            for dep in deps):
        return importlib.import_module(full_name)  # a package, or one that imports a package
    for dep in deps:
        package_module(dep.split('.', 1)[1])
    if full_name in sys.modules:  # a dependency imported the package after all
        return sys.modules[full_name]
    spec = importlib.util.spec_from_file_location(full_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[full_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[full_name]
        raise
    return module


errors = package_module('errors')
#: What --precision takes (a config's ``precision`` takes the same names).
PRECISION_CHOICES = package_module('engine.optimizers.precision_names').PRECISION_CHOICES
#: mmengine's launchers, as mmpretrain's tools offer them.
LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')


class QuietDeprecations(logging.Filter):
    """Drops the deprecation notes mmengine's own hooks log on every run (they build a
    ``FileClient``, the ``disk`` one an alias), which say nothing about the run."""

    NOTES = ('"FileClient" will be deprecated', '"HardDiskBackend" is the alias')

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.NOTES)


def add_cfg_options(parser, help_text: str) -> None:
    """``--cfg-options key=value ...``, mmengine's config overrides, as every tool takes them."""
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help=help_text)


def add_common_args(parser) -> None:
    """Arguments both tools take, as in mmpretrain's tools."""
    parser.add_argument('--work-dir', help='folder for logs and checkpoints')
    add_cfg_options(parser, 'override config entries, e.g. model.prompt_learner.depth=3')
    parser.add_argument('--launcher', choices=LAUNCHERS, default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    parser.add_argument(
        '--seed',
        type=int,
        help='seed of the run and of every dataset\'s few-shot draw; the '
        'default work dir becomes work_dirs/<method>/<config>/seed<SEED>')
    parser.add_argument(
        '--precision',
        choices=PRECISION_CHOICES,
        help='force the precision on every device: fp32, or mixed precision '
        '(fp16 autocast with dynamic loss scaling, or bf16 autocast; amp: bf16 '
        'where the device has it, else fp16). Default: the recipe\'s, fp16 '
        'mixed precision on CUDA (fp32 where the reference trains in fp32) and fp32 on CPUs; '
        'testing runs in the training precision (docs/benchmarks.md#precision)')
    parser.add_argument(
        '--shots',
        type=int,
        metavar='K',
        help='shots per class K of every dataset that draws them (the '
        'few-shot protocol\'s 1, 2, 4, 8, 16), with the values (epochs, ...) the config\'s '
        'values_by_shots gives K; the default work dir becomes '
        'work_dirs/<method>/<config>_<K>shots')
    parser.add_argument(
        '--allow-other-method',
        action='store_true',
        help='load a checkpoint written by another method or learned on another CLIP '
        'architecture than the config builds (refused otherwise); the run record keeps '
        'that it was allowed')


def load_config(args):
    """Read the config; apply --cfg-options, --seed, --shots, --precision,
    --allow-other-method, --launcher and --work-dir."""
    from maple_mm.engine.runners.run_config import load_run_config
    cfg = load_run_config(args.config, args.cfg_options, getattr(args, 'seed', None),
                          getattr(args, 'shots', None), args.work_dir)
    precision = getattr(args, 'precision', None)
    if precision is not None:
        cfg.precision = precision
    if getattr(args, 'allow_other_method', False):
        cfg.allow_other_method = True
    cfg.launcher = args.launcher
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return cfg


#: Set by run_cli when it runs a tool as its process's command line (not called from other code).
_own_process = False


def freeze_gc() -> None:
    """In a tool's own process, leave every object alive now out of the garbage
    collector's later passes.

    The process holds about 430k objects from its imports (torch, mmengine,
    mmpretrain) that live until it exits. mmengine collects garbage for every
    dataset it builds, and the interpreter once more at exit; each pass walked them
    all (0.4-1 s each). ``gc.freeze()`` spares them; objects made later are
    collected as before. A tool run from other code (a test, a notebook) freezes
    nothing: that process's uncollected garbage would be kept for good.
    """
    if _own_process:
        gc.freeze()


def build_runner(cfg):
    """The config's runner (``runner_type``, MapleRunner in maple_mm's runtime)."""
    from mmengine.runner import Runner
    from mmpretrain.registry import RUNNERS

    from maple_mm.engine.runners.config_options import check_known_options
    from maple_mm.engine.runners.run_datasets import check_dataset_types
    check_dataset_types(
        cfg.get('train_dataloader'), cfg.get('val_dataloader'),
        cfg.get('test_dataloader'))  # whatever the runner
    freeze_gc()  # the imports are done; the runner builds its datasets next
    if 'runner_type' not in cfg:
        check_known_options(cfg)  # MapleRunner checks it itself
        runner = Runner.from_cfg(cfg)
    else:
        runner = RUNNERS.build(cfg)
    runner.logger.addFilter(QuietDeprecations())
    return runner


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


def finish_distributed(launched: bool) -> None:
    """Let every rank finish, then close the process group; a launched rank then exits at once.

    A rank that exits while another still tears down its gloo/NCCL connections
    can be aborted, which makes a completed run exit non-zero. So what is left of
    the run (its DDP wrapper's pending work; the caller drops its runner first)
    is freed while the group still exists, the ranks meet, the group is closed,
    and a rank its launcher started (``launched``: ``--launcher`` other than
    none) ends right there with exit code 0, its logs flushed: on a busy machine
    the interpreter's teardown could still abort it ("terminate called without
    an active exception", seen after a complete 2-process test).
    """
    import torch.distributed as dist
    if not (dist.is_available() and dist.is_initialized()):
        return
    gc.collect()
    dist.barrier()
    dist.destroy_process_group()
    if launched:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def user_error_message(err: BaseException) -> Optional[str]:
    """The one line to print for an error the user can fix, else None."""
    if not isinstance(err, errors.MapleUserError):
        return None
    text = str(err)
    # Raised in a DataLoader worker: torch re-raises the type with the worker's whole
    # traceback as its message, whose last line is Python's "<module>.<type>: <message>".
    worker_line = f'{type(err).__module__}.{type(err).__qualname__}: '
    last = text.strip().splitlines()[-1] if text.strip() else text
    return last[len(worker_line):] if last.startswith(worker_line) else text


def one_line_warnings(showwarning):
    """``warnings.showwarning`` that prints maple_mm's warnings as one ``warning:`` line
    (the run goes on) and leaves every other warning to ``showwarning``."""

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, errors.MapleWarning):
            print(f'warning: {message}', file=file or sys.stderr, flush=True)
        else:
            showwarning(message, category, filename, lineno, file, line)

    return show


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
    maple_mm's warnings print as one ``warning:`` line each. ``argv`` None: the
    process's own command line, the tool's process (see :func:`freeze_gc`).
    """
    global _own_process
    got_sigint = []
    if argv is None:
        _own_process = True

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
    showwarning = warnings.showwarning
    warnings.showwarning = one_line_warnings(showwarning)
    try:
        main(argv)
    except BaseException as err:  # noqa: BLE001  only user errors are caught, see below
        if os.environ.get('MAPLE_DEBUG') or isinstance(err, SystemExit):
            raise
        if isinstance(err, (KeyboardInterrupt, errors.RunInterrupted)) or got_sigint:
            if not os.environ.get(QUIET_INTERRUPT):
                note = str(err) if isinstance(err, errors.RunInterrupted) else \
                    interrupted() if interrupted else 'stopped by Ctrl-C.'
                print(f'interrupted: {note}', file=sys.stderr, flush=True)
            sys.exit(130)
        message = user_error_message(err) if isinstance(err, Exception) else None
        if message is None:
            raise
        sys.exit(f'error: {message}')
    finally:
        warnings.showwarning = showwarning
        if own_handler:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        freeze_gc()  # what is left lives to the exit: no last pass over it

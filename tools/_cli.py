"""Shared pieces of the command-line tools: arguments, config loading, runner, errors."""
import inspect
import os
import re
import sys
import warnings
from typing import Callable, List, Optional

from mmengine.config import Config, DictAction

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, REPO_ROOT)

# mmcv-lite has no compiled ops and says so on every import; nothing here needs them.
warnings.filterwarnings('ignore', message='Fail to import ``MultiScaleDeformableAttention``')

from maple_mm.errors import ConfigError, MapleUserError  # noqa: E402
from maple_mm.run_layout import default_work_dir  # noqa: E402


def add_common_args(parser) -> None:
    """Arguments both tools take, as in mmpretrain's tools."""
    parser.add_argument('--work-dir', help='folder for logs and checkpoints')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. model.prompt_learner.depth=3')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    parser.add_argument('--seed', type=int,
                        help='seed of the run and of every dataset\'s few-shot draw; the '
                        'default work dir becomes work_dirs/<method>/<config>/seed<SEED>')
    parser.add_argument('--shots', type=int, metavar='K',
                        help='shots per class K of every dataset that draws them (the '
                        'few-shot protocol\'s 1, 2, 4, 8, 16), with the epochs the config\'s '
                        'epochs_by_shots gives K; the default work dir becomes '
                        'work_dirs/<method>/<config>_<K>shots')


def load_config(args) -> Config:
    """Read the config, apply --cfg-options, --seed, --launcher and --work-dir."""
    if not os.path.isfile(args.config):
        raise MapleUserError(f'Config {args.config} does not exist; the configs are in '
                             'configs/<method>/.')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    seed = getattr(args, 'seed', None)
    if seed is not None:
        apply_seed(cfg, seed)
    shots = getattr(args, 'shots', None)
    if shots is not None:
        apply_shots(cfg, shots)
    cfg.launcher = args.launcher
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    if args.work_dir:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = default_work_dir(args.config, seed, shots)
    return cfg


def set_dataset_option(cfg: Config, option: str, value, complete_sets: bool = True) -> int:
    """Set ``option`` on the datasets of the run that have it; return how many loaders'.

    The train / val / test datasets get it if their type takes it; the test
    loop's extra sets if they set the option themselves, or (``complete_sets``)
    if they are a complete dataset of such a type. Other sets inherit the main
    test set's value.
    """
    from maple_mm.engine.runners.maple_runner import dataset_takes
    changed = 0
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset = (cfg.get(key) or {}).get('dataset')
        if dataset is not None and dataset_takes(dataset.get('type', ''), option):
            dataset[option] = value
            changed += 1
    for fields in ((cfg.get('test_cfg') or {}).get('extra_sets') or {}).values():
        if option in fields or (complete_sets and 'type' in fields
                                and dataset_takes(fields['type'], option)):
            fields[option] = value
    return changed


def apply_seed(cfg: Config, seed: int) -> None:
    """Set ``randomness.seed``, and the few-shot ``seed`` of every dataset that has one.

    Datasets without a few-shot draw (mmpretrain's own) are left alone.
    """
    cfg.setdefault('randomness', {})
    cfg.randomness.seed = seed
    set_dataset_option(cfg, 'seed', seed)


def apply_shots(cfg: Config, shots: int) -> None:
    """Set K shots per class, and the epochs the config gives K.

    ``num_shots`` of the train / val / test datasets whose type takes it, and
    of the test loop's extra sets that name it (other test sets keep all their
    items). With an ``epochs_by_shots`` entry (``{K: epochs}``, e.g. CoOp's),
    ``train_cfg.max_epochs``, ``max_epochs`` and the ``T_max`` of the lr
    schedule become its epochs for K.
    """
    if shots < 1:
        raise ConfigError(f'--shots must be at least 1, got {shots}.')
    if not set_dataset_option(cfg, 'num_shots', shots, complete_sets=False):
        raise ConfigError('--shots: no dataset of this config draws few-shot subsets '
                          '(none takes num_shots).')
    table = cfg.get('epochs_by_shots')
    if not table:
        return
    if shots not in table:
        raise ConfigError(f'--shots {shots}: the config\'s epochs_by_shots gives epochs for '
                          f'{sorted(table)} shots only; add {shots} to it.')
    epochs = table[shots]
    cfg.train_cfg.max_epochs = epochs
    if 'max_epochs' in cfg:
        cfg.max_epochs = epochs
    schedulers = cfg.get('param_scheduler') or []
    for scheduler in schedulers if isinstance(schedulers, list) else [schedulers]:
        if 'T_max' in scheduler:
            scheduler.T_max = epochs


def build_runner(cfg: Config):
    """The config's runner (``runner_type``, MapleRunner in maple_mm's runtime)."""
    from mmengine.runner import Runner
    if 'runner_type' not in cfg:
        return Runner.from_cfg(cfg)
    from mmpretrain.registry import RUNNERS
    return RUNNERS.build(cfg)


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
            return [p.name for p in params if p.name != 'self'
                    and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
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
        return str(ConfigError(f'Unknown option {match.group("key")!r} for '
                               f'{match.group("cls")} (in the config or --cfg-options); '
                               f'check the spelling.{known}'))
    return None


def run_cli(main: Callable[[Optional[List[str]]], None], argv=None) -> None:
    """Run ``main``; user errors end with one ``error:`` line instead of a traceback.

    Set MAPLE_DEBUG=1 to see the traceback anyway.
    """
    try:
        main(argv)
    except Exception as err:  # noqa: BLE001  only user errors are caught, see below
        message = user_error_message(err)
        if message is None or os.environ.get('MAPLE_DEBUG'):
            raise
        sys.exit(f'error: {message}')

"""Shared pieces of the train and test entry points."""
import os
import sys
from typing import Callable, List, Optional

from mmengine.config import Config, DictAction

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, REPO_ROOT)

from maple_mm.errors import MapleUserError  # noqa: E402


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
                        'default work dir becomes work_dirs/<config>/seed<SEED>')


def load_config(args) -> Config:
    """Read the config, apply --cfg-options, --launcher and --work-dir."""
    if not os.path.isfile(args.config):
        raise MapleUserError(f'Config {args.config} does not exist; the configs are in '
                             'configs/maple/.')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    seed = getattr(args, 'seed', None)
    if seed is not None:
        apply_seed(cfg, seed)
    cfg.launcher = args.launcher
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    if args.work_dir:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = os.path.join('work_dirs', os.path.splitext(os.path.basename(args.config))[0])
        if seed is not None:
            cfg.work_dir = os.path.join(cfg.work_dir, f'seed{seed}')
    return cfg


def apply_seed(cfg: Config, seed: int) -> None:
    """Set ``randomness.seed`` and the ``seed`` of every dataset config to ``seed``.

    Covers the train / val / test dataloaders and the extra sets of the test
    loop: a complete dataset config (with a ``type``) always gets the seed, a
    set that overrides fields of the main test set only if it sets one itself.
    """
    cfg.setdefault('randomness', {})
    cfg.randomness.seed = seed
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(key)
        if loader and loader.get('dataset') is not None:
            loader.dataset.seed = seed
    for fields in ((cfg.get('test_cfg') or {}).get('extra_sets') or {}).values():
        if 'type' in fields or 'seed' in fields:
            fields['seed'] = seed


def run_cli(main: Callable[[Optional[List[str]]], None], argv=None) -> None:
    """Run ``main``; user errors end with one clear line instead of a traceback.

    Set MAPLE_DEBUG=1 to see the traceback anyway.
    """
    try:
        main(argv)
    except MapleUserError as err:
        if os.environ.get('MAPLE_DEBUG'):
            raise
        sys.exit(f'error: {err}')

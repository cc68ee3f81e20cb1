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


def load_config(args) -> Config:
    """Read the config, apply --cfg-options, --launcher and --work-dir."""
    if not os.path.isfile(args.config):
        raise MapleUserError(f'Config {args.config} does not exist; the configs are in '
                             'configs/maple/.')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    if args.work_dir:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = os.path.join('work_dirs', os.path.splitext(os.path.basename(args.config))[0])
    return cfg


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

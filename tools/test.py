"""Evaluate a MaPLe checkpoint (loaded weights-only) on the config's test sets.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--cfg-options k=v ...]
"""
import argparse
import os

from _cli import add_common_args, build_runner, finish_distributed, load_config, run_cli

from maple_mm.errors import MapleUserError


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='experiment config')
    parser.add_argument('checkpoint', help='maple_mm checkpoint (or a converted reference one)')
    add_common_args(parser)
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    if not os.path.isfile(args.checkpoint):
        raise MapleUserError(f'Checkpoint {args.checkpoint} does not exist.')
    cfg = load_config(args)
    if not cfg.get('test_dataloader'):
        raise MapleUserError(f'{args.config} defines no test_dataloader to evaluate on.')
    cfg.load_from, cfg.resume = args.checkpoint, False

    runner = build_runner(cfg)
    runner.test()
    finish_distributed()


if __name__ == '__main__':
    run_cli(main)

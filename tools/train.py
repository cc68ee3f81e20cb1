"""Train a method from its config, then test it (base and novel sets for base-to-novel).

    python tools/train.py CONFIG [--seed S] [--shots K] [--work-dir DIR] [--resume [CKPT]]
                                 [--precision {fp32,fp16,bf16,amp}] [--auto-scale-lr]
                                 [--allow-other-method] [--cfg-options k=v ...]
                                 [--launcher pytorch]
"""
import argparse
from typing import Optional

from _cli import add_common_args, build_runner, errors, finish_distributed, load_config, run_cli

#: The work dir of the run, for the line printed on Ctrl-C.
_started = {}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='experiment config, e.g. configs/maple/...')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='continue the run in the work dir from its latest checkpoint, '
        'or from CKPT')
    parser.add_argument(
        '--amp',
        nargs='?',
        const='amp',
        choices=['auto', 'bf16', 'fp16'],
        help='the same as --precision amp (bare --amp), --precision bf16 or '
        '--precision fp16')
    parser.add_argument('--no-test', action='store_true', help='skip testing after training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the learning rate by (processes x batch per process) / '
        'auto_scale_lr.base_batch_size, the batch the recipe\'s lr is for '
        '(each recipe sets it to its own training batch)')
    add_common_args(parser)
    return parser.parse_args(argv)


def interrupted_note(work_dir: Optional[str] = None) -> str:
    """What Ctrl-C kept of the run (in ``work_dir``, default the one started), and how to
    continue it."""
    from maple_mm.run_layout import latest_complete_checkpoint
    work_dir = work_dir or _started.get('work_dir')
    if work_dir is None:
        return 'nothing was started.'
    latest = latest_complete_checkpoint(work_dir)[0]
    if latest is None:
        return f'no checkpoint was saved yet in {work_dir}; run the command again to start over.'
    return (f'{latest} is kept (the last complete checkpoint); run the same command with '
            '--resume to continue.')


def main(argv=None) -> None:
    args = parse_args(argv)
    from maple_mm.engine.runners.checkpoint_loader import (check_checkpoint_file,
                                                           safe_checkpoint_loading)
    from maple_mm.engine.runners.maple_runner import check_no_overwrite
    from maple_mm.engine.runners.run_datasets import check_dataset_sources, dataset_configs
    from maple_mm.provenance import expecting_writer
    cfg = load_config(args)
    _started['work_dir'] = cfg.work_dir
    check_no_overwrite(cfg.work_dir, args.resume)  # MapleRunner checks it too; before the CLIP
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume:
        check_checkpoint_file(args.resume, ' to resume from')
        cfg.resume, cfg.load_from = True, args.resume
    if args.auto_scale_lr:
        cfg.auto_scale_lr = dict(cfg.get('auto_scale_lr') or {}, enable=True)
        if not cfg.auto_scale_lr.get('base_batch_size'):
            raise errors.ConfigError(f'--auto-scale-lr: {args.config} sets no '
                                     'auto_scale_lr.base_batch_size, the batch its lr is for; add '
                                     'it next to the train batch size.')
    if args.amp:
        if args.precision:
            raise errors.ConfigError('Give --precision or --amp, not both.')
        cfg.precision = 'amp' if args.amp == 'auto' else args.amp

    # The training set's folder before any CLIP is built or downloaded (the runner checks
    # the test sets' when it is built).
    check_dataset_sources(dataset_configs(cfg.get('train_dataloader')))
    # Whichever runner the config names: weights-only, and a checkpoint to resume or start
    # from must be one of the config's method and CLIP.
    with safe_checkpoint_loading(), expecting_writer(cfg):
        runner = build_runner(cfg)
        runner.train()
        if not args.no_test and cfg.get('test_dataloader'):
            runner.test()
    del runner  # freed while the process group still exists
    finish_distributed(launched=args.launcher != 'none')


if __name__ == '__main__':
    run_cli(main, interrupted=interrupted_note)

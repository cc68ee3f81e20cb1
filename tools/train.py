"""Train MaPLe from a config, then test it (base and novel sets for base-to-novel).

    python tools/train.py CONFIG [--seed S] [--shots K] [--work-dir DIR] [--resume [CKPT]]
                                 [--amp [{bf16,fp16}]] [--auto-scale-lr] [--cfg-options k=v ...]
                                 [--launcher pytorch]
"""
import argparse
import os

from _cli import add_common_args, build_runner, finish_distributed, load_config, run_cli

from maple_mm.errors import MapleUserError


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='experiment config, e.g. configs/maple/...')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='continue the run in the work dir from its latest checkpoint, '
                        'or from CKPT')
    parser.add_argument('--amp', nargs='?', const='auto', choices=['auto', 'bf16', 'fp16'],
                        help='mixed precision, on CPU or GPU: bf16 autocast, or fp16 autocast '
                        'with loss scaling; bare --amp picks bf16 where the device has it, '
                        'else fp16. Testing runs in the same precision')
    parser.add_argument('--no-test', action='store_true', help='skip testing after training')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the learning rate by (GPUs x batch per GPU) / '
                        'auto_scale_lr.base_batch_size (4, the recipe\'s batch)')
    add_common_args(parser)
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    cfg = load_config(args)
    from maple_mm.engine.runners.maple_runner import check_no_overwrite
    check_no_overwrite(cfg.work_dir, args.resume)  # MapleRunner checks it too; before the CLIP
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume:
        if not os.path.isfile(args.resume):
            raise MapleUserError(f'Checkpoint {args.resume} to resume from does not exist.')
        cfg.resume, cfg.load_from = True, args.resume
    if args.auto_scale_lr:
        cfg.auto_scale_lr = dict(cfg.get('auto_scale_lr') or {}, enable=True)
    if args.amp:
        from maple_mm.engine import mixed_precision_config
        cfg.optim_wrapper = mixed_precision_config(cfg.optim_wrapper, args.amp)

    runner = build_runner(cfg)
    runner.train()
    if not args.no_test and cfg.get('test_dataloader'):
        runner.test()
    finish_distributed()


if __name__ == '__main__':
    run_cli(main)

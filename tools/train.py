"""Train MaPLe from a config, then test it (base and novel sets for base-to-novel).

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
                                 [--cfg-options k=v ...] [--launcher pytorch]
"""
import argparse
import glob
import os

from _cli import add_common_args, load_config, run_cli

from maple_mm.errors import MapleUserError


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='experiment config, e.g. configs/maple/...')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='continue the run in the work dir from its latest checkpoint, '
                        'or from CKPT')
    parser.add_argument('--amp', action='store_true', help='mixed precision (needs a GPU)')
    parser.add_argument('--no-test', action='store_true', help='skip testing after training')
    add_common_args(parser)
    return parser.parse_args(argv)


def check_work_dir(work_dir: str, resume) -> None:
    """Never overwrite a previous run silently."""
    existing = glob.glob(os.path.join(work_dir, '*.pth'))
    if existing and not resume:
        raise MapleUserError(
            f'{work_dir} already holds checkpoints of a run ({os.path.basename(existing[0])}, '
            '...). Pass --resume to continue it, or --work-dir to train into a new folder.')


def main(argv=None) -> None:
    args = parse_args(argv)
    cfg = load_config(args)
    check_work_dir(cfg.work_dir, args.resume)
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume:
        if not os.path.isfile(args.resume):
            raise MapleUserError(f'Checkpoint {args.resume} to resume from does not exist.')
        cfg.resume, cfg.load_from = True, args.resume
    if args.amp:
        import torch
        if not torch.cuda.is_available():
            raise MapleUserError('--amp needs a CUDA GPU; on the CPU train in fp32.')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')

    from mmengine.runner import Runner
    runner = Runner.from_cfg(cfg)
    runner.train()
    if not args.no_test and cfg.get('test_dataloader'):
        runner.test()


if __name__ == '__main__':
    run_cli(main)

"""Compute PromptAlign's source statistics: vision-token means and variances over a dataset.

    python tools/source_statistics.py CONFIG CHECKPOINT [--out FILE] [--overwrite]
                                      [--device cpu|cuda] [--cfg-options k=v ...]

Two passes over the config's ``source_statistics.dataset`` (ImageNet's training images
for configs/promptalign/) through the checkpoint's MaPLe prompts: the mean of every
vision block's input tokens, then the variance around it. The file (by default the
config's ``source_statistics.file``, which the PromptAlign config then reads) is written
beside its place and renamed: an existing one is replaced only with --overwrite.
Progress (done / total images of both passes, rate, ETA) goes to stderr. Format:
docs/test-time.md#source-statistics.
"""
import argparse
import os

from _cli import add_cfg_options, errors, run_cli
from mmengine.config import Config


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='a PromptAlign config (configs/promptalign/)')
    parser.add_argument('checkpoint', help='the MaPLe checkpoint whose prompts are tuned')
    parser.add_argument('--out', help='where to write (default: source_statistics.file)')
    parser.add_argument('--overwrite', action='store_true', help='replace an existing file')
    parser.add_argument('--device', help='cpu, cuda or cuda:N (default: cuda if there is one)')
    add_cfg_options(parser, 'override config entries, e.g. source_statistics.dataset.num_shots=16')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    if not os.path.isfile(args.config):
        raise errors.ConfigError(
            f'Config {args.config} does not exist; the PromptAlign configs are in '
            'configs/promptalign/.')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    import torch

    from maple_mm.apis.source_statistics import write_source_statistics
    from maple_mm.models.test_time.source_statistics import (describe_statistics,
                                                             read_source_statistics)
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    path = write_source_statistics(
        cfg, args.checkpoint, out=args.out, device=device, overwrite=args.overwrite)
    print(f'Source statistics: {path}: {describe_statistics(read_source_statistics(path))}')


if __name__ == '__main__':
    run_cli(main)

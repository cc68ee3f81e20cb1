"""Classify images against any list of class names with a trained (or zero-shot) model.

    python tools/infer.py CONFIG CHECKPOINT IMAGE_OR_DIR [...] [--classes a,b,c | --classes-file F]
                          [--topk K] [--out results.json] [--batch-size N] [--device cpu|cuda]
                          [--cfg-options k=v ...]

CHECKPOINT is loaded weights-only; 'none' for zero-shot CLIP. Without
--classes the class names saved in the checkpoint are used. The text features
of the class list are computed once; images are classified in batches.
Progress (done / total, rate, ETA) goes to stderr, the results to stdout.
"""
import argparse
import json
import os

from _cli import errors, package_module, run_cli
from mmengine.config import Config, DictAction

write_text_atomically = package_module('atomic_files').write_text_atomically


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='the config the checkpoint was trained with')
    parser.add_argument('checkpoint', help="checkpoint (.pth), or 'none' for zero-shot CLIP")
    parser.add_argument('images', nargs='+', help='image files or folders')
    names = parser.add_mutually_exclusive_group()
    names.add_argument('--classes', help='comma-separated class names, e.g. "cat,dog,frog"')
    names.add_argument('--classes-file', help='a text file with one class name per line')
    parser.add_argument('--topk', type=int, default=5, help='labels printed per image')
    parser.add_argument('--out', help='also write the results as JSON to this file')
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--device', help='default: cuda where a GPU is available, else cpu')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config entries, e.g. model.efficient=False')
    return parser.parse_args(argv)


def load_config(args):
    """The config file's path, or the config with --cfg-options applied."""
    if not args.cfg_options:
        return args.config
    if not os.path.isfile(args.config):
        raise errors.ConfigError(f'Config {args.config} does not exist; the configs are in '
                                 'configs/<method>/.')
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    return cfg


def class_names(args) -> list:
    """The class names asked for, or None for those saved in the checkpoint."""
    from maple_mm.class_names import MAX_CLASS_NAMES_BYTES, check_class_name_bounds
    if args.classes:
        names = [n.strip() for n in args.classes.split(',') if n.strip()]
    elif args.classes_file:
        if not os.path.isfile(args.classes_file):
            raise errors.ClassNameError(f'Class names file {args.classes_file} does not exist.')
        size = os.path.getsize(args.classes_file)
        if size > 2 * MAX_CLASS_NAMES_BYTES:  # read nothing of a file far beyond the bound
            raise errors.ClassNameError(
                f'Class names file {args.classes_file} is {size:,} bytes, more '
                f'than the {MAX_CLASS_NAMES_BYTES:,} of names maple_mm reads.')
        with open(args.classes_file, encoding='utf-8') as f:
            names = [line.strip() for line in f if line.strip()]
        check_class_name_bounds(names, f'Class names file {args.classes_file}')
    else:
        return None
    if not names:
        raise errors.ClassNameError('The class list is empty; give at least one class name.')
    return names


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.out and os.path.exists(args.out):
        raise errors.WorkDirError(f'{args.out} already exists; choose another --out file.')
    import torch
    from mmengine.registry import init_default_scope

    from maple_mm.apis import classify_images, image_files, load_model
    init_default_scope('mmpretrain')
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    images = image_files(args.images)
    checkpoint = None if args.checkpoint.lower() == 'none' else args.checkpoint
    model = load_model(load_config(args), checkpoint, device, class_names(args))
    results = classify_images(
        model, images, topk=args.topk, batch_size=args.batch_size,
        progress=True)  # on stderr: stdout holds only the results
    for result in results:
        labels = ', '.join(f'{name} {score:.3f}' for name, score in result['labels'])
        print(f'{result["image"]}: {labels}', flush=True)
    if args.out:
        write_text_atomically(
            args.out, json.dumps(dict(classes=model.class_names, results=results), indent=2))


if __name__ == '__main__':
    run_cli(main)

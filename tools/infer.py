"""Classify images against any list of class names with a trained (or zero-shot) model.

    python tools/infer.py CONFIG CHECKPOINT IMAGE_OR_DIR [...] [--classes a,b,c | --classes-file F]
                          [--topk K] [--out results.json] [--batch-size N] [--device cpu|cuda]
                          [--allow-other-method] [--cfg-options k=v ...]

CHECKPOINT is loaded weights-only; 'none' for zero-shot CLIP (which then needs
--classes or --classes-file). Without --classes the class names saved in the
checkpoint are used. The text features of the class list are computed once;
images are classified in batches. Progress (done / total, rate, ETA) goes to
stderr, the results to stdout, one line per image: `IMAGE: NAME SCORE, NAME
SCORE, ...`, where an image path or class name holding a comma, colon, double
quote, backslash, control character or outer space is written as a JSON string
("a, b"), so every line splits unambiguously (docs/inference.md).
"""
import argparse
import json
import os

from _cli import add_cfg_options, errors, package_module, run_cli
from mmengine.config import Config

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
        '--allow-other-method',
        action='store_true',
        help='load a checkpoint written by another method or learned on another CLIP '
        'architecture than the config builds (refused otherwise)')
    add_cfg_options(parser, 'override config entries, e.g. model.efficient=False')
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


def read_class_names_file(path: str) -> list:
    """One class name per line of a UTF-8 text file (a UTF-8 byte-order mark is fine), bounded."""
    from maple_mm.class_names import MAX_CLASS_NAMES_BYTES
    from maple_mm.file_kinds import not_a_file
    problem = not_a_file(path)
    if problem:
        raise errors.ClassNameError(f'Class names file {path} {problem}; give a text file with '
                                    'one class name per line.')
    size = os.path.getsize(path)
    if size > 2 * MAX_CLASS_NAMES_BYTES:  # read nothing of a file far beyond the bound
        raise errors.ClassNameError(f'Class names file {path} is {size:,} bytes, more than the '
                                    f'{MAX_CLASS_NAMES_BYTES:,} of names maple_mm reads.')
    with open(path, 'rb') as f:
        data = f.read()
    try:
        text = data.decode('utf-8-sig')
    except UnicodeDecodeError as err:
        utf16 = data.startswith((b'\xff\xfe', b'\xfe\xff'))
        what = ('is UTF-16 text (it starts with a UTF-16 byte-order mark)' if utf16 else
                f'is not UTF-8 text (byte 0x{data[err.start]:02x} at position {err.start})')
        raise errors.ClassNameError(f'Class names file {path} {what}: save it as UTF-8, one '
                                    'class name per line.') from None
    return [line.strip() for line in text.splitlines() if line.strip()]


def class_names(args) -> list:
    """The class names asked for, or None for those saved in the checkpoint.

    Checked before any model is built (:func:`maple_mm.class_names.check_class_list`):
    bounded, one line of text each; a name given twice warns.
    """
    from maple_mm.class_names import check_class_list
    if args.classes:
        names, source = [n.strip() for n in args.classes.split(',') if n.strip()], '--classes'
    elif args.classes_file:
        names = read_class_names_file(args.classes_file)
        source = f'Class names file {args.classes_file}'
    else:
        return None
    if not names:
        raise errors.ClassNameError('The class list is empty; give at least one class name.')
    return check_class_list(names, source)


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.out and os.path.exists(args.out):
        raise errors.WorkDirError(f'{args.out} already exists; choose another --out file.')
    import torch
    from mmengine.registry import init_default_scope

    from maple_mm.apis import classify_images, image_files, load_model, result_line
    init_default_scope('mmpretrain')
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    images = image_files(args.images)
    checkpoint = None if args.checkpoint.lower() == 'none' else args.checkpoint
    model = load_model(
        load_config(args), checkpoint, device, class_names(args), args.allow_other_method)
    results = classify_images(
        model, images, topk=args.topk, batch_size=args.batch_size,
        progress=True)  # on stderr: stdout holds only the results
    for result in results:
        print(result_line(result), flush=True)
    if args.out:
        write_text_atomically(
            args.out, json.dumps(dict(classes=model.class_names, results=results), indent=2))


if __name__ == '__main__':
    run_cli(main)

"""Write Fashion-MNIST as a CoOp-style dataset: PNG images plus a split file.

Output (``--out``)::

    images/<class_folder>/<split>_<index>.png   # index into the official file it came from
    split_zhou_FashionMNIST.json                # {"train"|"val"|"test": [[path, label, name]]}

Train and val are the first images of each class of the official train set
(val follows train, so they are disjoint); test is the first of each class of
the official test set. Source: the idx files of the Debian package
``dataset-fashion-mnist``, else a torchvision download.
"""
import argparse
import gzip
import json
import os
import os.path as osp
import re
import shutil
import sys
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image

DEFAULT_SRC = '/usr/share/datasets/fashion-mnist/'
DEFAULT_CACHE = osp.join('~', '.cache', 'maple_mm', 'fashion_mnist')
SPLIT_FILE = 'split_zhou_FashionMNIST.json'
IMAGE_DIR = 'images'
CLASS_NAMES = ('T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker',
               'Bag', 'Ankle boot')
SOURCE_FILES = {
    'train': ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte'),
    'test': ('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'),
}
IDX_MAGIC = {1: 2049, 3: 2051}  # number of dimensions -> magic number


class ConversionError(Exception):
    """A problem the user can fix; reported as one line, without a traceback."""


def class_folder(name: str) -> str:
    """A file-system-safe folder name: ``'T-shirt/top'`` -> ``'T-shirt_top'``."""
    return re.sub(r'[^A-Za-z0-9-]+', '_', name).strip('_')


def _find(src: str, stem: str) -> Optional[str]:
    for path in (osp.join(src, stem + '.gz'), osp.join(src, stem)):
        if osp.isfile(path):
            return path
    return None


def read_idx(path: str, ndim: int) -> np.ndarray:
    """Read an idx file (gzipped or not) holding a uint8 array of ``ndim`` dims."""
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'rb') as f:
        data = f.read()
    magic = int.from_bytes(data[:4], 'big')
    if magic != IDX_MAGIC[ndim]:
        raise ConversionError(f'{path} is not an idx file of {ndim}-d uint8 data '
                              f'(magic {magic}, expected {IDX_MAGIC[ndim]}).')
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], 'big') for i in range(ndim))
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(shape)):
        raise ConversionError(f'{path} is truncated: header says {shape}, '
                              f'found {body.size} bytes of data.')
    return body.reshape(shape)


def source_dir(src: str, cache: str, download: bool) -> str:
    """``src`` if it holds the four idx files, else a folder they were downloaded to."""
    stems = [stem for pair in SOURCE_FILES.values() for stem in pair]
    missing = [stem for stem in stems if _find(src, stem) is None]
    if not missing:
        return src
    hint = ('install them with `apt-get install dataset-fashion-mnist` or pass --src '
            'with a folder holding ' + ', '.join(s + '.gz' for s in stems))
    if not download:
        raise ConversionError(f'Fashion-MNIST files {missing} not found in {src}; {hint}.')
    cache = osp.expanduser(cache)
    print(f'Fashion-MNIST not found in {src}; downloading it with torchvision into {cache} ...')
    try:
        from torchvision.datasets import FashionMNIST
        for train in (True, False):
            FashionMNIST(cache, train=train, download=True)
    except Exception as err:  # no network, no torchvision, ...: all end the same way
        reason = ' '.join(str(err).split())
        raise ConversionError(f'Fashion-MNIST not found in {src} and the download failed '
                              f'({type(err).__name__}: {reason}); {hint}.') from None
    return osp.join(cache, 'FashionMNIST', 'raw')


def first_per_class(labels: np.ndarray, counts: Sequence[int], part: str) -> List[np.ndarray]:
    """Indices, in file order, of consecutive blocks of each class: block j has counts[j].

    ``first_per_class(labels, (200, 50), ...)`` gives the first 200 images of
    each class, then the next 50.
    """
    blocks: List[List[int]] = [[] for _ in counts]
    for label in range(len(CLASS_NAMES)):
        found = np.flatnonzero(labels == label)
        if len(found) < sum(counts):
            raise ConversionError(
                f'The official {part} set has {len(found)} images of class '
                f'{CLASS_NAMES[label]!r}, fewer than the {sum(counts)} asked for; '
                'ask for fewer per class.')
        start = 0
        for block, count in zip(blocks, counts):
            block.extend(found[start:start + count])
            start += count
    return [np.asarray(block, dtype=np.int64) for block in blocks]


def write_split(images: np.ndarray, labels: np.ndarray, indices: np.ndarray, split: str,
                out: str) -> List[list]:
    """Save the chosen images as PNG; return their split-file entries."""
    entries = []
    for index in indices:
        label = int(labels[index])
        rel = f'{class_folder(CLASS_NAMES[label])}/{split}_{index}.png'
        path = osp.join(out, IMAGE_DIR, rel)
        os.makedirs(osp.dirname(path), exist_ok=True)
        Image.fromarray(images[index]).save(path)
        entries.append([rel, label, CLASS_NAMES[label]])
    return entries


def existing_matches(split_path: str, sizes: Dict[str, int]) -> bool:
    """Whether the split file there lists ``sizes[split]`` existing images per class."""
    image_dir = osp.join(osp.dirname(split_path), IMAGE_DIR)
    try:
        with open(split_path, encoding='utf-8') as f:
            splits = json.load(f)
        for split, size in sizes.items():
            counts = [0] * len(CLASS_NAMES)
            for rel, label, name in splits[split]:
                if CLASS_NAMES[label] != name or not osp.isfile(osp.join(image_dir, rel)):
                    return False
                counts[label] += 1
            if counts != [size] * len(CLASS_NAMES):
                return False
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return False
    return True


def convert(src: str, out: str, sizes: Dict[str, int], force: bool, cache: str,
            download: bool) -> Tuple[str, bool]:
    """Write the dataset; returns the split file path and whether anything was written."""
    split_path = osp.join(out, SPLIT_FILE)
    if osp.exists(split_path) and not force:
        if existing_matches(split_path, sizes):
            return split_path, False
        raise ConversionError(
            f'{split_path} already exists but does not list {sizes} images per class '
            f'(or some are missing); pass --force to overwrite it or delete {out}.')
    src = source_dir(src, cache, download)
    if osp.exists(split_path):  # our own earlier output: replace it whole
        os.remove(split_path)  # first, as it is written last: a half-done run never looks done
        shutil.rmtree(osp.join(out, IMAGE_DIR), ignore_errors=True)
    splits = {}
    for part, parts in (('train', ('train', 'val')), ('test', ('test', ))):
        image_stem, label_stem = SOURCE_FILES[part]
        images = read_idx(_find(src, image_stem), ndim=3)
        labels = read_idx(_find(src, label_stem), ndim=1)
        if len(images) != len(labels):
            raise ConversionError(f'{src}: {len(images)} {part} images but '
                                  f'{len(labels)} labels.')
        blocks = first_per_class(labels, [sizes[p] for p in parts], part)
        for split, indices in zip(parts, blocks):
            splits[split] = write_split(images, labels, indices, split, out)
    with open(split_path, 'w', encoding='utf-8') as f:
        json.dump({k: splits[k] for k in ('train', 'val', 'test')}, f)
    return split_path, True


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--src', default=DEFAULT_SRC, help='folder with the Fashion-MNIST idx(.gz) files')
    parser.add_argument('--out', default='data/fashion_mnist', help='output dataset folder')
    parser.add_argument('--train-per-class', type=int, default=200)
    parser.add_argument('--val-per-class', type=int, default=50)
    parser.add_argument('--test-per-class', type=int, default=300)
    parser.add_argument(
        '--force', action='store_true', help='overwrite an existing output of other sizes')
    parser.add_argument(
        '--cache',
        default=DEFAULT_CACHE,
        help='where to download Fashion-MNIST when --src lacks it')
    parser.add_argument(
        '--no-download',
        action='store_true',
        help='fail instead of downloading when --src lacks the files')
    args = parser.parse_args(argv)
    for name in ('train_per_class', 'val_per_class', 'test_per_class'):
        if getattr(args, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be at least 1')
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    sizes = dict(train=args.train_per_class, val=args.val_per_class, test=args.test_per_class)
    try:
        split_path, written = convert(args.src, args.out, sizes, args.force, args.cache,
                                      not args.no_download)
    except ConversionError as err:
        raise SystemExit(f'error: {err}') from None
    if written:
        print(f'Wrote {split_path} and {sum(sizes.values()) * len(CLASS_NAMES)} images '
              f'under {osp.join(args.out, IMAGE_DIR)} ({sizes} per class).')
    else:
        print(f'{split_path} already holds {sizes} per class; nothing to do.')
    return 0


if __name__ == '__main__':
    sys.exit(main())

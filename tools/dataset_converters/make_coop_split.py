"""Write a CoOp split file (``split_zhou_<Name>.json``) from a dataset's raw download.

The official split files are only on Google Drive. This rebuilds one the way
the reference code does when the file is absent: the same class names and
per-class sizes, but the images each split gets are drawn at random, so the
result is NOT the official split and numbers on it are not comparable with
published ones. Standard library only; StanfordCars and Flowers102 need
scipy to read their .mat labels and are refused.

    python tools/dataset_converters/make_coop_split.py caltech101 data/caltech-101 --seed 1
"""
import argparse
import json
import os
import os.path as osp
import random
import re
import sys
from typing import Dict, List, Optional, Sequence, Tuple

Item = Tuple[str, int, str]  # (path relative to the image folder, label, class name)
Splits = Dict[str, List[Item]]

CALTECH_IGNORED = ('BACKGROUND_Google', 'Faces_easy')
CALTECH_NAMES = {
    'airplanes': 'airplane',
    'Faces': 'face',
    'Leopards': 'leopard',
    'Motorbikes': 'motorbike'
}
EUROSAT_NAMES = {
    'AnnualCrop': 'Annual Crop Land',
    'Forest': 'Forest',
    'HerbaceousVegetation': 'Herbaceous Vegetation Land',
    'Highway': 'Highway or Road',
    'Industrial': 'Industrial Buildings',
    'Pasture': 'Pasture Land',
    'PermanentCrop': 'Permanent Crop Land',
    'Residential': 'Residential Buildings',
    'River': 'River',
    'SeaLake': 'Sea or Lake'
}
NEEDS_SCIPY = {'stanford_cars': 'StanfordCars', 'oxford_flowers': 'Flowers102'}


class SplitError(Exception):
    """A problem the user can fix; printed as one line."""


def _visible(folder: str) -> List[str]:
    if not osp.isdir(folder):
        raise SplitError(f'{folder} not found; extract the raw download there first '
                         '(docs/datasets.md).')
    return sorted(name for name in os.listdir(folder) if not name.startswith('.'))


def _read_lines(path: str) -> List[str]:
    if not osp.isfile(path):
        raise SplitError(f'{path} not found; it comes with the raw download (docs/datasets.md).')
    with open(path, encoding='utf-8') as f:
        return [line.strip() for line in f if line.strip()]


def split_by_class_folder(image_dir: str,
                          rng: random.Random,
                          ignored: Sequence[str] = (),
                          names: Optional[Dict[str, str]] = None) -> Splits:
    """50 % train, 20 % val, the rest test of every class folder (rounded per class)."""
    splits: Splits = {'train': [], 'val': [], 'test': []}
    categories = [c for c in _visible(image_dir) if c not in ignored]
    for label, category in enumerate(categories):
        images = [f'{category}/{name}' for name in _visible(osp.join(image_dir, category))]
        rng.shuffle(images)
        n_train, n_val = round(len(images) * 0.5), round(len(images) * 0.2)
        if not (n_train > 0 and n_val > 0 and n_train + n_val < len(images)):
            raise SplitError(f'{image_dir}/{category} has {len(images)} images: too few for '
                             'train, val and test.')
        name = (names or {}).get(category, category)
        splits['train'] += [(p, label, name) for p in images[:n_train]]
        splits['val'] += [(p, label, name) for p in images[n_train:n_train + n_val]]
        splits['test'] += [(p, label, name) for p in images[n_train + n_val:]]
    return splits


def hold_out_val(trainval: List[Item], rng: random.Random) -> Tuple[List[Item], List[Item]]:
    """Round(20 %) of every class to val, the rest to train; classes in order of appearance."""
    by_label: Dict[int, List[Item]] = {}
    for item in trainval:
        by_label.setdefault(item[1], []).append(item)
    train, val = [], []
    for items in by_label.values():
        n_val = round(len(items) * 0.2)
        if n_val == 0:
            raise SplitError(f'class {items[0][2]!r} has {len(items)} train images: too few '
                             'to hold out a val set.')
        rng.shuffle(items)
        val += items[:n_val]
        train += items[n_val:]
    return train, val


def oxford_pets(folder: str, rng: random.Random) -> Splits:
    """Breeds from the file names (lower case), labels from annotations/*.txt."""

    def read(name: str) -> List[Item]:
        items = []
        for line in _read_lines(osp.join(folder, 'annotations', name)):
            if line.startswith('#'):
                continue
            image, label = line.split()[:2]
            items.append((image + '.jpg', int(label) - 1, image.rsplit('_', 1)[0].lower()))
        return items

    train, val = hold_out_val(read('trainval.txt'), rng)
    return {'train': train, 'val': val, 'test': read('test.txt')}


def sun397(folder: str, rng: random.Random) -> Splits:
    """Partition 01; ``a/apse/indoor`` is named 'indoor apse'."""
    classes = [line[1:] for line in _read_lines(osp.join(folder, 'ClassName.txt'))]
    labels = {c: i for i, c in enumerate(classes)}

    def read(name: str) -> List[Item]:
        items = []
        for line in _read_lines(osp.join(folder, name)):
            path = line[1:]
            category = osp.dirname(path)
            items.append((path, labels[category], ' '.join(category.split('/')[1:][::-1])))
        return items

    train, val = hold_out_val(read('Training_01.txt'), rng)
    return {'train': train, 'val': val, 'test': read('Testing_01.txt')}


def ucf101(folder: str, rng: random.Random) -> Splits:
    """Split 01 on the middle frames; ``ApplyEyeMakeup`` becomes 'Apply_Eye_Makeup'."""
    lists = osp.join(folder, 'ucfTrainTestlist')
    labels = {}
    for line in _read_lines(osp.join(lists, 'classInd.txt')):
        number, action = line.split()
        labels[action] = int(number) - 1

    def read(name: str) -> List[Item]:
        items = []
        for line in _read_lines(osp.join(lists, name)):
            action, video = line.split()[0].split('/')
            renamed = '_'.join(re.findall('[A-Z][^A-Z]*', action))
            items.append((f'{renamed}/{video.replace(".avi", ".jpg")}', labels[action], renamed))
        return items

    train, val = hold_out_val(read('trainlist01.txt'), rng)
    return {'train': train, 'val': val, 'test': read('testlist01.txt')}


# name -> (split file, image folder, reader of the dataset folder)
DATASETS = {
    'caltech101':
    ('split_zhou_Caltech101.json', '101_ObjectCategories', lambda f, rng: split_by_class_folder(
        osp.join(f, '101_ObjectCategories'), rng, CALTECH_IGNORED, CALTECH_NAMES)),
    'dtd': ('split_zhou_DescribableTextures.json', 'images',
            lambda f, rng: split_by_class_folder(osp.join(f, 'images'), rng)),
    'eurosat':
    ('split_zhou_EuroSAT.json', '2750',
     lambda f, rng: split_by_class_folder(osp.join(f, '2750'), rng, names=EUROSAT_NAMES)),
    'food101': ('split_zhou_Food101.json', 'images',
                lambda f, rng: split_by_class_folder(osp.join(f, 'images'), rng)),
    'oxford_pets': ('split_zhou_OxfordPets.json', 'images', oxford_pets),
    'sun397': ('split_zhou_SUN397.json', 'SUN397', sun397),
    'ucf101': ('split_zhou_UCF101.json', 'UCF-101-midframes', ucf101),
}


def make_split(name: str, folder: str, seed: int = 1) -> Splits:
    """The split of dataset ``name`` read from its raw download in ``folder``."""
    if name in NEEDS_SCIPY:
        raise SplitError(f'{NEEDS_SCIPY[name]} labels are in .mat files that need scipy; use '
                         'the official split file (docs/datasets.md).')
    return DATASETS[name][2](folder, random.Random(seed))


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('name', choices=sorted([*DATASETS, *NEEDS_SCIPY]))
    parser.add_argument('folder', help='the dataset folder, e.g. data/caltech-101')
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--out', help='output file (default: the split file in the folder)')
    parser.add_argument('--force', action='store_true', help='overwrite an existing file')
    args = parser.parse_args(argv)
    try:
        splits = make_split(args.name, args.folder, args.seed)
        out = args.out or osp.join(args.folder, DATASETS[args.name][0])
        if osp.exists(out) and not args.force:
            raise SplitError(f'{out} exists (perhaps the official split file); pass --force '
                             'to overwrite it or --out to write elsewhere.')
    except SplitError as err:
        sys.exit(f'error: {err}')
    with open(out, 'w', encoding='utf-8') as f:
        json.dump({k: [list(item) for item in v] for k, v in splits.items()}, f, indent=1)
    counts = ', '.join(f'{k} {len(v)}' for k, v in splits.items())
    print(f'Wrote {out} ({counts}; seed {args.seed}). It is not the official CoOp split.')


if __name__ == '__main__':
    main()

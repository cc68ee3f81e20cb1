"""Miniature copies of the on-disk layouts of the CoOp benchmarks, for tests.

``write_miniature(data_root, key)`` writes ``data_root/<DATASET_FOLDERS[key]>``
laid out like the real dataset (folders, file names, split file or index
files, ``classnames.txt``), with tiny JPEGs whose colour tells the class. The
first classes carry real class names of the dataset (with the reference's
renamings, e.g. Caltech101 ``airplanes`` -> ``airplane``); more classes get
made-up names. Every class has ``images_per_class`` train, val and test images
(ImageNet: train and val, val being its test set; the ImageNet variants: one
test set).

The ImageNet variants share wnids and class names with the miniature ImageNet
of the same ``num_classes``: V2 and Sketch have all its classes, ImageNet-A
the odd-indexed ones and ImageNet-R the even-indexed ones.
"""
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import numpy as np
from PIL import Image

from tests.conftest import colour_image, write_split_file

DATASET_FOLDERS: Dict[str, str] = {
    'imagenet': 'imagenet',
    'caltech101': 'caltech-101',
    'oxford_pets': 'oxford_pets',
    'stanford_cars': 'stanford_cars',
    'oxford_flowers': 'oxford_flowers',
    'food101': 'food-101',
    'fgvc_aircraft': 'fgvc_aircraft',
    'sun397': 'sun397',
    'dtd': 'dtd',
    'eurosat': 'eurosat',
    'ucf101': 'ucf101',
    'imagenetv2': 'imagenetv2',
    'imagenet_sketch': 'imagenet-sketch',
    'imagenet_a': 'imagenet-adversarial',
    'imagenet_r': 'imagenet-rendition',
}

SPLITS = ('train', 'val', 'test')

# (folder or file stem, class name) of the first classes, in label order.
_CLASSES: Dict[str, List[Tuple[str, str]]] = {
    'caltech101': [('Faces', 'face'), ('Leopards', 'leopard'), ('Motorbikes', 'motorbike'),
                   ('accordion', 'accordion'), ('airplanes', 'airplane'), ('anchor', 'anchor'),
                   ('ant', 'ant'), ('barrel', 'barrel')],
    'oxford_pets': [(b, b.lower())
                    for b in ('Abyssinian', 'american_bulldog', 'american_pit_bull_terrier',
                              'basset_hound', 'beagle', 'Bengal', 'Birman', 'Bombay')],
    'stanford_cars':
    [('', n) for n in ('2012 AM General Hummer SUV', '2012 Acura RL Sedan', '2012 Acura TL Sedan',
                       '2008 Acura TL Type-S', '2012 Acura TSX Sedan', '2001 Acura Integra Type R',
                       '2012 Acura ZDX Hatchback', '2012 Aston Martin V8 Vantage Convertible')],
    'oxford_flowers':
    [('', n)
     for n in ('pink primrose', 'hard-leaved pocket orchid', 'canterbury bells', 'sweet pea',
               'english marigold', 'tiger lily', 'moon orchid', 'bird of paradise')],
    'food101': [(n, n) for n in ('apple_pie', 'baby_back_ribs', 'baklava', 'beef_carpaccio',
                                 'beef_tartare', 'beet_salad', 'beignets', 'bibimbap')],
    'fgvc_aircraft': [('', n) for n in ('707-320', '727-200', '737-200', 'A300B4', 'ATR-42',
                                        'Cessna 172', 'DC-10', 'F/A-18')],
    'sun397': [('a/abbey', 'abbey'), ('a/airplane_cabin', 'airplane_cabin'),
               ('a/apse/indoor', 'indoor apse'), ('b/bakery/shop', 'shop bakery'),
               ('b/bedroom', 'bedroom'), ('c/campus', 'campus'), ('d/dining_room', 'dining_room'),
               ('e/elevator/door', 'door elevator')],
    'dtd': [(n, n) for n in ('banded', 'blotchy', 'braided', 'bubbly', 'bumpy', 'chequered',
                             'cobwebbed', 'cracked')],
    'eurosat': [('AnnualCrop', 'Annual Crop Land'), ('Forest', 'Forest'),
                ('HerbaceousVegetation', 'Herbaceous Vegetation Land'),
                ('Highway', 'Highway or Road'), ('Industrial', 'Industrial Buildings'),
                ('Pasture', 'Pasture Land'), ('PermanentCrop', 'Permanent Crop Land'),
                ('Residential', 'Residential Buildings'), ('River', 'River'),
                ('SeaLake', 'Sea or Lake')],
    'ucf101': [(a, a) for a in ('Apply_Eye_Makeup', 'Apply_Lipstick', 'Archery', 'Baby_Crawling',
                                'Balance_Beam', 'Band_Marching', 'Baseball_Pitch', 'Basketball')],
}

_IMAGENET_CLASSES = [
    ('n01440764', 'tench'),
    ('n01443537', 'goldfish'),
    ('n01484850', 'great white shark'),
    ('n01491361', 'tiger shark'),
    ('n01494475', 'hammerhead shark'),
    ('n01496331', 'electric ray'),
    ('n01498041', 'stingray'),
    ('n01514668', 'rooster'),
]

# Split file name and image folder of the datasets described by a split file.
_SPLIT_FILES = {
    'caltech101': ('split_zhou_Caltech101.json', '101_ObjectCategories'),
    'oxford_pets': ('split_zhou_OxfordPets.json', 'images'),
    'stanford_cars': ('split_zhou_StanfordCars.json', ''),
    'oxford_flowers': ('split_zhou_OxfordFlowers.json', 'jpg'),
    'food101': ('split_zhou_Food101.json', 'images'),
    'sun397': ('split_zhou_SUN397.json', 'SUN397'),
    'dtd': ('split_zhou_DescribableTextures.json', 'images'),
    'eurosat': ('split_zhou_EuroSAT.json', '2750'),
    'ucf101': ('split_zhou_UCF101.json', 'UCF-101-midframes'),
}


def _class_table(key: str, num_classes: int) -> List[Tuple[str, str]]:
    """(folder, class name) per label: real names first, made-up ones after."""
    real = _IMAGENET_CLASSES if key.startswith('imagenet') else _CLASSES[key]
    extra = []
    for i in range(len(real), num_classes):
        if key.startswith('imagenet'):
            extra.append((f'n{90000000 + i:08d}', f'class {i}'))  # sorts after real wnids
        elif key == 'sun397':
            extra.append((f'z/zone_{i:03d}', f'zone_{i:03d}'))
        elif key == 'eurosat':
            extra.append((f'Land{i:03d}', f'Land {i:03d}'))
        else:
            extra.append((f'class_{i:03d}', f'class_{i:03d}'))
    return (list(real) + extra)[:num_classes]


def expected_class_names(key: str, num_classes: int = 4) -> List[str]:
    """Class names by label of ``write_miniature(root, key, num_classes)``."""
    table = _class_table(key, num_classes)
    if key == 'imagenet_a':
        table = table[1::2]
    elif key == 'imagenet_r':
        table = table[0::2]
    return [name for _, name in table]


#: Image paths relative to the image folder, named as in the real datasets.
_PATHS = dict(
    caltech101='{folder}/image_{n:04d}.jpg',
    oxford_pets='{folder}_{n}.jpg',
    stanford_cars='cars_{part}/{n:05d}.jpg',
    oxford_flowers='image_{n:05d}.jpg',
    food101='{folder}/{food_id}.jpg',
    sun397='{folder}/sun_{n:05d}.jpg',
    dtd='{folder}/{folder}_{n:04d}.jpg',
    eurosat='{folder}/{folder}_{n}.jpg',
    ucf101='{folder}/v_{bare}_g{n:02d}_c01.jpg')


def _relative_path(key: str, folder: str, split: str, n: int) -> str:
    """Image path relative to the image folder, named as in the real dataset."""
    return _PATHS[key].format(
        folder=folder,
        n=n,
        part='test' if split == 'test' else 'train',
        food_id=100000 + n,
        bare=folder.replace('_', ''))


class _ImageWriter:
    """Writes tiny JPEGs coloured by class, from one seeded generator."""

    def __init__(self, image_size: int) -> None:
        self.size = image_size
        self.rng = np.random.default_rng(0)

    def __call__(self, path: Path, label: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(colour_image(label, self.rng, self.size)).save(path, quality=95)


def _write_split_file_dataset(folder: Path, key: str, num_classes: int, per_class: int,
                              write: _ImageWriter) -> None:
    split_file, image_dir = _SPLIT_FILES[key]
    splits: Dict[str, list] = {split: [] for split in SPLITS}
    counter = 0  # one numbering over all splits, so no two images share a name
    for label, (class_folder, name) in enumerate(_class_table(key, num_classes)):
        for split in SPLITS:
            for _ in range(per_class):
                counter += 1
                splits[split].append(
                    [_relative_path(key, class_folder, split, counter), label, name])
    write_split_file(folder, splits, split_file, image_dir, image=write)


def _write_fgvc_aircraft(folder: Path, key: str, num_classes: int, per_class: int,
                         write: _ImageWriter) -> None:
    table = _class_table(key, num_classes)
    (folder / 'variants.txt').write_text(''.join(f'{name}\n' for _, name in table))
    lines: Dict[str, List[str]] = {split: [] for split in SPLITS}
    counter = 1000000
    for label, (_, name) in enumerate(table):
        for split in SPLITS:
            for _ in range(per_class):
                counter += 1
                write(folder / 'images' / f'{counter:07d}.jpg', label)
                lines[split].append(f'{counter:07d} {name}\n')
    for split in SPLITS:
        (folder / f'images_variant_{split}.txt').write_text(''.join(lines[split]))


def _write_classnames(folder: Path, num_classes: int) -> None:
    table = _class_table('imagenet', num_classes)
    (folder / 'classnames.txt').write_text(''.join(f'{w} {n}\n' for w, n in table))


def _write_imagenet(folder: Path, key: str, num_classes: int, per_class: int,
                    write: _ImageWriter) -> None:
    _write_classnames(folder, num_classes)
    counter = 0
    for label, (wnid, _) in enumerate(_class_table(key, num_classes)):
        for i in range(per_class):
            write(folder / 'images' / 'train' / wnid / f'{wnid}_{i + 1}.JPEG', label)
            counter += 1
            write(folder / 'images' / 'val' / wnid / f'ILSVRC2012_val_{counter:08d}.JPEG', label)


def _write_imagenet_variant(folder: Path, key: str, num_classes: int, per_class: int,
                            write: _ImageWriter) -> None:
    _write_classnames(folder, num_classes)
    table = list(enumerate(_class_table(key, num_classes)))
    if key == 'imagenet_a':
        table = table[1::2]
    elif key == 'imagenet_r':
        table = table[0::2]
    image_dir = {
        'imagenetv2': 'imagenetv2-matched-frequency-format-val',
        'imagenet_sketch': 'images',
        'imagenet_a': 'imagenet-a',
        'imagenet_r': 'imagenet-r'
    }[key]
    for imagenet_label, (wnid, _) in table:
        class_folder = str(imagenet_label) if key == 'imagenetv2' else wnid
        for i in range(per_class):
            # colour by the ImageNet label: a model trained on ImageNet carries over
            write(folder / image_dir / class_folder / f'{key}_{i}.jpg', imagenet_label)
    if key in ('imagenet_a', 'imagenet_r'):
        (folder / image_dir / 'README.txt').write_text('Shipped with the dataset; not a class.\n')


_WRITERS: Dict[str, Callable] = {
    **{
        key: _write_split_file_dataset
        for key in _SPLIT_FILES
    },
    'fgvc_aircraft': _write_fgvc_aircraft,
    'imagenet': _write_imagenet,
    'imagenetv2': _write_imagenet_variant,
    'imagenet_sketch': _write_imagenet_variant,
    'imagenet_a': _write_imagenet_variant,
    'imagenet_r': _write_imagenet_variant,
}


def write_miniature(data_root: Path,
                    key: str,
                    num_classes: int = 4,
                    images_per_class: int = 2,
                    image_size: int = 32) -> Path:
    """Write a miniature ``key`` dataset under ``data_root``; returns its folder."""
    if key not in DATASET_FOLDERS:
        raise KeyError(f'{key!r} is not one of {sorted(DATASET_FOLDERS)}')
    if key == 'imagenet_a' and num_classes < 2:
        raise ValueError('ImageNet-A takes the odd-indexed classes: use num_classes >= 2')
    folder = Path(data_root) / DATASET_FOLDERS[key]
    folder.mkdir(parents=True, exist_ok=True)
    _WRITERS[key](folder, key, num_classes, images_per_class, _ImageWriter(image_size))
    return folder

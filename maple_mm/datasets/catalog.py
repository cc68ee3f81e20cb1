"""The benchmarks of the CoOp protocol, one record each.

A record holds the registered dataset type, the folder under the data root
(``data/<folder>``, the dataset's default ``data_root``), the display name of
the papers' tables (also its section of docs/datasets.md and its name in
messages), the official split sizes and the
zero-shot CLIP template (and whether the template ensemble adds it). Sizes
are those of the CoOp split files as the CoOp paper reports them (Zhou et
al., IJCV 2022, dataset table); ImageNet's are the official ILSVRC-2012 train
and val sets (val serving as test); ``None``: no
such split. Templates are the CoOp family's ``CUSTOM_TEMPLATES`` (reference
``trainers/zsclip.py``), used by zero-shot CLIP through the dataset's metainfo
(``prompt_template``).
"""
from dataclasses import dataclass
from typing import Dict, Optional

#: The template of a dataset that names no other.
DEFAULT_TEMPLATE = 'a photo of a {}.'
#: The folder holding the benchmarks' folders, relative to the working directory.
DATA_ROOT = 'data'


@dataclass(frozen=True)
class Benchmark:
    """One benchmark: type, folder, display name, sizes and zero-shot template."""
    type: str
    folder: str
    name: str
    num_classes: int
    train: Optional[int]
    val: Optional[int]
    test: int
    template: str = DEFAULT_TEMPLATE
    #: Whether zero-shot CLIP's ensemble adds ``template`` to its 7 ImageNet ones: the
    #: reference (``ZeroshotCLIP2``, trainers/zsclip.py) does for every dataset but ImageNet.
    template_in_ensemble: bool = True

    @property
    def data_root(self) -> str:
        """The dataset folder a config reads unless it sets ``data_root``: ``data/<folder>``."""
        return f'{DATA_ROOT}/{self.folder}'

    @property
    def docs_anchor(self) -> str:
        """Its section of docs/datasets.md, whose heading is its name."""
        return self.name.lower()

    def count(self, split: str) -> Optional[int]:
        """The official number of items of ``split`` (ImageNet's val is its test set)."""
        if split == 'val' and self.type == 'CoOpImageNet':
            return self.test
        return getattr(self, split)


#: In the order of the papers' tables.
BENCHMARKS: Dict[str, Benchmark] = {
    'imagenet':
    Benchmark(
        'CoOpImageNet',
        'imagenet',
        'ImageNet',
        1000,
        1281167,
        None,
        50000,
        template_in_ensemble=False),
    'caltech101':
    Benchmark('CoOpCaltech101', 'caltech-101', 'Caltech101', 100, 4128, 1649, 2465),
    'oxford_pets':
    Benchmark('CoOpOxfordPets', 'oxford_pets', 'OxfordPets', 37, 2944, 736, 3669,
              'a photo of a {}, a type of pet.'),
    'stanford_cars':
    Benchmark('CoOpStanfordCars', 'stanford_cars', 'StanfordCars', 196, 6509, 1635, 8041),
    'oxford_flowers':
    Benchmark('CoOpFlowers102', 'oxford_flowers', 'Flowers102', 102, 4093, 1633, 2463,
              'a photo of a {}, a type of flower.'),
    'food101':
    Benchmark('CoOpFood101', 'food-101', 'Food101', 101, 50500, 20200, 30300,
              'a photo of {}, a type of food.'),
    'fgvc_aircraft':
    Benchmark('CoOpFGVCAircraft', 'fgvc_aircraft', 'FGVCAircraft', 100, 3334, 3333, 3333,
              'a photo of a {}, a type of aircraft.'),
    'sun397':
    Benchmark('CoOpSUN397', 'sun397', 'SUN397', 397, 15880, 3970, 19850),
    'dtd':
    Benchmark('CoOpDTD', 'dtd', 'DTD', 47, 2820, 1128, 1692, '{} texture.'),
    'eurosat':
    Benchmark('CoOpEuroSAT', 'eurosat', 'EuroSAT', 10, 13500, 5400, 8100,
              'a centered satellite photo of {}.'),
    'ucf101':
    Benchmark('CoOpUCF101', 'ucf101', 'UCF101', 101, 7639, 1898, 3783,
              'a photo of a person doing {}.'),
    'imagenetv2':
    Benchmark('CoOpImageNetV2', 'imagenetv2', 'ImageNetV2', 1000, None, None, 10000),
    'imagenet_sketch':
    Benchmark('CoOpImageNetSketch', 'imagenet-sketch', 'ImageNet-Sketch', 1000, None, None, 50889),
    'imagenet_a':
    Benchmark('CoOpImageNetA', 'imagenet-adversarial', 'ImageNet-A', 200, None, None, 7500),
    'imagenet_r':
    Benchmark('CoOpImageNetR', 'imagenet-rendition', 'ImageNet-R', 200, None, None, 30000),
}

#: The 11 datasets of the base-to-novel benchmark.
BASE_TO_NOVEL = ('imagenet', 'caltech101', 'oxford_pets', 'stanford_cars', 'oxford_flowers',
                 'food101', 'fgvc_aircraft', 'sun397', 'dtd', 'eurosat', 'ucf101')
#: The ImageNet variants of the domain-generalisation benchmark.
IMAGENET_VARIANTS = ('imagenetv2', 'imagenet_sketch', 'imagenet_a', 'imagenet_r')


def dataset_key_of_type(dataset_type: str) -> Optional[str]:
    """The catalog key of a registered dataset type (``'CoOpDTD'`` -> ``'dtd'``), else None."""
    return next((key for key, b in BENCHMARKS.items() if b.type == dataset_type), None)


def display_name(key: str) -> str:
    """The tables' name of a dataset key (the key itself when it is not a benchmark)."""
    return BENCHMARKS[key].name if key in BENCHMARKS else key

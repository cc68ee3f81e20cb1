"""The benchmarks of the CoOp protocol: registered type, folder and official sizes.

Sizes are those of the CoOp split files as the CoOp paper reports them
(Zhou et al., IJCV 2022, dataset table); ImageNet's are the official
ILSVRC-2012 train and val sets (val serving as test). ``None``: no such split.
"""
from dataclasses import dataclass
from typing import Dict, Optional


@dataclass(frozen=True)
class Benchmark:
    """One benchmark: its dataset type, folder under the data root and sizes."""
    type: str
    folder: str
    num_classes: int
    train: Optional[int]
    val: Optional[int]
    test: int

    def count(self, split: str) -> Optional[int]:
        """The official number of items of ``split`` (ImageNet's val is its test set)."""
        if split == 'val' and self.type == 'CoOpImageNet':
            return self.test
        return getattr(self, split)


BENCHMARKS: Dict[str, Benchmark] = {
    'imagenet': Benchmark('CoOpImageNet', 'imagenet', 1000, 1281167, None, 50000),
    'caltech101': Benchmark('CoOpCaltech101', 'caltech-101', 100, 4128, 1649, 2465),
    'oxford_pets': Benchmark('CoOpOxfordPets', 'oxford_pets', 37, 2944, 736, 3669),
    'stanford_cars': Benchmark('CoOpStanfordCars', 'stanford_cars', 196, 6509, 1635, 8041),
    'oxford_flowers': Benchmark('CoOpFlowers102', 'oxford_flowers', 102, 4093, 1633, 2463),
    'food101': Benchmark('CoOpFood101', 'food-101', 101, 50500, 20200, 30300),
    'fgvc_aircraft': Benchmark('CoOpFGVCAircraft', 'fgvc_aircraft', 100, 3334, 3333, 3333),
    'sun397': Benchmark('CoOpSUN397', 'sun397', 397, 15880, 3970, 19850),
    'dtd': Benchmark('CoOpDTD', 'dtd', 47, 2820, 1128, 1692),
    'eurosat': Benchmark('CoOpEuroSAT', 'eurosat', 10, 13500, 5400, 8100),
    'ucf101': Benchmark('CoOpUCF101', 'ucf101', 101, 7639, 1898, 3783),
    'imagenetv2': Benchmark('CoOpImageNetV2', 'imagenetv2', 1000, None, None, 10000),
    'imagenet_sketch': Benchmark('CoOpImageNetSketch', 'imagenet-sketch', 1000, None, None,
                                 50889),
    'imagenet_a': Benchmark('CoOpImageNetA', 'imagenet-adversarial', 200, None, None, 7500),
    'imagenet_r': Benchmark('CoOpImageNetR', 'imagenet-rendition', 200, None, None, 30000),
}

#: The 11 datasets of the base-to-novel benchmark.
BASE_TO_NOVEL = ('imagenet', 'caltech101', 'oxford_pets', 'stanford_cars', 'oxford_flowers',
                 'food101', 'fgvc_aircraft', 'sun397', 'dtd', 'eurosat', 'ucf101')
#: The ImageNet variants of the domain-generalisation benchmark.
IMAGENET_VARIANTS = ('imagenetv2', 'imagenet_sketch', 'imagenet_a', 'imagenet_r')


def dataset_key_of_type(dataset_type: str) -> Optional[str]:
    """The catalog key of a registered dataset type (``'CoOpDTD'`` -> ``'dtd'``), else None."""
    return next((key for key, b in BENCHMARKS.items() if b.type == dataset_type), None)

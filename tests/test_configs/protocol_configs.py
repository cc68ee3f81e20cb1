"""The protocol configs and their datasets, shared by the config tests."""
from pathlib import Path
from typing import Dict, List, Tuple

from ..conftest import REPO_ROOT

CONFIG_DIR = REPO_ROOT / 'configs' / 'maple'
SHOTS = (1, 2, 4, 8, 16)

#: config key -> (dataset type, dataset folder under data/) of the 11 datasets.
DATASETS: Dict[str, Tuple[str, str]] = {
    'imagenet': ('CoOpImageNet', 'imagenet'),
    'caltech101': ('CoOpCaltech101', 'caltech-101'),
    'oxford_pets': ('CoOpOxfordPets', 'oxford_pets'),
    'stanford_cars': ('CoOpStanfordCars', 'stanford_cars'),
    'oxford_flowers': ('CoOpFlowers102', 'oxford_flowers'),
    'food101': ('CoOpFood101', 'food-101'),
    'fgvc_aircraft': ('CoOpFGVCAircraft', 'fgvc_aircraft'),
    'sun397': ('CoOpSUN397', 'sun397'),
    'dtd': ('CoOpDTD', 'dtd'),
    'eurosat': ('CoOpEuroSAT', 'eurosat'),
    'ucf101': ('CoOpUCF101', 'ucf101'),
}
#: Domain generalisation test set -> (dataset type, folder).
IMAGENET_VARIANTS: Dict[str, Tuple[str, str]] = {
    'imagenetv2': ('CoOpImageNetV2', 'imagenetv2'),
    'imagenet_sketch': ('CoOpImageNetSketch', 'imagenet-sketch'),
    'imagenet_a': ('CoOpImageNetA', 'imagenet-adversarial'),
    'imagenet_r': ('CoOpImageNetR', 'imagenet-rendition'),
}
CROSS_DATASET = CONFIG_DIR / 'cross_dataset_imagenet.py'
DOMAIN_GENERALIZATION = CONFIG_DIR / 'domain_generalization_imagenet.py'
DEMO = CONFIG_DIR / 'demo_base2novel_fashion_mnist.py'


def base2novel_config(key: str) -> Path:
    return CONFIG_DIR / f'base2novel_{key}.py'


def few_shot_config(key: str, shots: int) -> Path:
    return CONFIG_DIR / f'few_shot_{key}_{shots}shots.py'


def protocol_configs() -> List[Path]:
    """Every benchmark config (all but the demo)."""
    return ([base2novel_config(k) for k in DATASETS]
            + [few_shot_config(k, s) for k in DATASETS for s in SHOTS]
            + [CROSS_DATASET, DOMAIN_GENERALIZATION])

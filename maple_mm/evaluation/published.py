"""Published MaPLe results (Khattak et al., CVPR 2023; ViT-B/16, 16 shots, 3 seeds).

Top-1 accuracies in %, as printed in the paper (spec section 4). Keys are the
dataset keys of the configs (``configs/maple/base2novel_<key>.py``) and the
test-set names of the cross-dataset / domain generalisation configs.
"""
from typing import Dict, Tuple

#: Dataset keys in the paper's table order, with their display names.
DATASET_NAMES: Dict[str, str] = {
    'imagenet': 'ImageNet',
    'caltech101': 'Caltech101',
    'oxford_pets': 'OxfordPets',
    'stanford_cars': 'StanfordCars',
    'oxford_flowers': 'Flowers102',
    'food101': 'Food101',
    'fgvc_aircraft': 'FGVCAircraft',
    'sun397': 'SUN397',
    'dtd': 'DTD',
    'eurosat': 'EuroSAT',
    'ucf101': 'UCF101',
    'imagenetv2': 'ImageNet-V2',
    'imagenet_sketch': 'ImageNet-Sketch',
    'imagenet_a': 'ImageNet-A',
    'imagenet_r': 'ImageNet-R',
}

#: Base-to-novel generalisation: dataset key -> (Base, Novel, HM).
MAPLE_BASE2NOVEL: Dict[str, Tuple[float, float, float]] = {
    'imagenet': (76.66, 70.54, 73.47),
    'caltech101': (97.74, 94.36, 96.02),
    'oxford_pets': (95.43, 97.76, 96.58),
    'stanford_cars': (72.94, 74.00, 73.47),
    'oxford_flowers': (95.92, 72.46, 82.56),
    'food101': (90.71, 92.05, 91.38),
    'fgvc_aircraft': (37.44, 35.61, 36.50),
    'sun397': (80.82, 78.70, 79.75),
    'dtd': (80.36, 59.18, 68.16),
    'eurosat': (94.07, 73.23, 82.35),
    'ucf101': (83.00, 78.66, 80.77),
}
#: The paper's Average row over the 11 datasets: (Base, Novel, HM).
MAPLE_BASE2NOVEL_AVERAGE: Tuple[float, float, float] = (82.28, 75.14, 78.55)

#: Cross-dataset transfer (train ImageNet): ImageNet source and the mean over
#: the 10 targets (the per-target numbers are not part of this table).
MAPLE_CROSS_DATASET: Dict[str, float] = {'imagenet': 70.72, 'target_average': 66.30}

#: Domain generalisation: the cross-dataset model on the ImageNet variants
#: (ImageNet itself is the same model's source accuracy).
MAPLE_DOMAIN_GENERALIZATION: Dict[str, float] = {
    'imagenet': 70.72,
    'imagenetv2': 64.07,
    'imagenet_sketch': 49.15,
    'imagenet_a': 50.90,
    'imagenet_r': 76.98,
}

"""Datasets of the CoOp protocol: split files, few-shot draws, base/novel classes; the
image loader and test-time views."""
from .benchmarks import (CoOpCaltech101, CoOpDTD, CoOpEuroSAT, CoOpFGVCAircraft, CoOpFlowers102,
                         CoOpFood101, CoOpOxfordPets, CoOpSplitFileBenchmark, CoOpStanfordCars,
                         CoOpSUN397, CoOpUCF101)
from .catalog import BASE_TO_NOVEL, BENCHMARKS, IMAGENET_VARIANTS, Benchmark
from .coop_dataset import CoOpDataset
from .few_shot import class_names_by_label, sample_few_shot, subsample_classes
from .image_loading import LoadImageWithPIL, read_image
from .imagenet import CoOpImageNet, CoOpImageNetA, CoOpImageNetR, CoOpImageNetSketch, CoOpImageNetV2
from .split_file_dataset import SplitFileDataset
from .test_time_views import TestTimeViews

__all__ = [
    'CoOpDataset', 'SplitFileDataset', 'CoOpSplitFileBenchmark', 'CoOpImageNet', 'CoOpCaltech101',
    'CoOpOxfordPets', 'CoOpStanfordCars', 'CoOpFlowers102', 'CoOpFood101', 'CoOpFGVCAircraft',
    'CoOpSUN397', 'CoOpDTD', 'CoOpEuroSAT', 'CoOpUCF101', 'CoOpImageNetV2', 'CoOpImageNetSketch',
    'CoOpImageNetA', 'CoOpImageNetR', 'Benchmark', 'BENCHMARKS', 'BASE_TO_NOVEL',
    'IMAGENET_VARIANTS', 'sample_few_shot', 'subsample_classes', 'class_names_by_label',
    'LoadImageWithPIL', 'read_image', 'TestTimeViews'
]

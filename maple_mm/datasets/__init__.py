"""Datasets of the CoOp protocol: split files, few-shot draws, base/novel classes."""
from .few_shot import class_names_by_label, sample_few_shot, subsample_classes
from .split_file_dataset import SplitFileDataset

__all__ = ['SplitFileDataset', 'sample_few_shot', 'subsample_classes', 'class_names_by_label']

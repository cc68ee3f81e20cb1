"""Hooks a maple_mm run registers: class names, seeds, safe checkpoints, divergence, progress,
and PromptSRC's Gaussian prompt aggregation."""
from .class_names_hook import ClassNamesHook, dataset_class_names
from .divergence_hook import DivergenceHook
from .epoch_seed_hook import EpochSeedHook
from .gpa_hook import GaussianPromptAggregationHook
from .progress_logger_hook import ProgressLoggerHook
from .safe_checkpoint_hook import SafeCheckpointHook
from .weights_only_checkpoint_hook import WeightsOnlyCheckpointHook

__all__ = [
    'ClassNamesHook', 'dataset_class_names', 'DivergenceHook', 'EpochSeedHook',
    'GaussianPromptAggregationHook', 'ProgressLoggerHook', 'SafeCheckpointHook',
    'WeightsOnlyCheckpointHook'
]

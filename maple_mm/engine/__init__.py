"""Hooks, loops and the LR schedule that drive MaPLe through mmengine's Runner."""
from .amp_optim_wrapper import MixedPrecisionOptimWrapper, mixed_precision_config
from .class_names_hook import ClassNamesHook, dataset_class_names
from .epoch_seed_hook import EpochSeedHook
from .multi_set_test_loop import MultiSetTestLoop
from .warmup_cosine_lr import ConstantWarmupCosineLR
from .weights_only_checkpoint_hook import WeightsOnlyCheckpointHook

__all__ = ['ClassNamesHook', 'dataset_class_names', 'EpochSeedHook', 'MultiSetTestLoop',
           'MixedPrecisionOptimWrapper', 'mixed_precision_config',
           'WeightsOnlyCheckpointHook', 'ConstantWarmupCosineLR']

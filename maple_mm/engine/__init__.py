"""Runner, hooks, loops and the LR schedule that drive the models through mmengine.

Grouped as mmpretrain's engine: ``hooks/``, ``optimizers/`` (mixed precision),
``runners/`` (MapleRunner, checkpoint loading, the test loop) and ``schedulers/``.
"""
from .hooks import (ClassNamesHook, DivergenceHook, EpochSeedHook, GaussianPromptAggregationHook,
                    ProgressLoggerHook, SafeCheckpointHook, WeightsOnlyCheckpointHook,
                    dataset_class_names)
from .optimizers import MixedPrecisionOptimWrapper, mixed_precision_config
from .runners import (MapleRunner, MultiSetTestLoop, WorkDirLock, apply_seed, apply_shots,
                      load_checkpoint_file, load_run_config, safe_checkpoint_loading,
                      weights_only_loading)
from .schedulers import ConstantWarmupCosineLR

__all__ = [
    'ClassNamesHook', 'dataset_class_names', 'EpochSeedHook', 'MultiSetTestLoop',
    'MixedPrecisionOptimWrapper', 'mixed_precision_config', 'MapleRunner', 'SafeCheckpointHook',
    'DivergenceHook', 'WorkDirLock', 'load_checkpoint_file', 'safe_checkpoint_loading',
    'weights_only_loading', 'WeightsOnlyCheckpointHook', 'ConstantWarmupCosineLR',
    'ProgressLoggerHook', 'apply_seed', 'apply_shots', 'load_run_config',
    'GaussianPromptAggregationHook'
]

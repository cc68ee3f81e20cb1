"""Runner, hooks, loops and the LR schedule that drive the models through mmengine."""
from .amp_optim_wrapper import MixedPrecisionOptimWrapper, mixed_precision_config
from .checkpoint_loader import load_checkpoint_file, weights_only_loading
from .class_names_hook import ClassNamesHook, dataset_class_names
from .divergence_hook import DivergenceHook
from .epoch_seed_hook import EpochSeedHook
from .gpa_hook import GaussianPromptAggregationHook
from .multi_set_test_loop import MultiSetTestLoop
from .runner import MapleRunner
from .safe_checkpoint_hook import SafeCheckpointHook
from .warmup_cosine_lr import ConstantWarmupCosineLR
from .weights_only_checkpoint_hook import WeightsOnlyCheckpointHook
from .work_dir_lock import WorkDirLock

__all__ = ['ClassNamesHook', 'dataset_class_names', 'EpochSeedHook', 'MultiSetTestLoop',
           'MixedPrecisionOptimWrapper', 'mixed_precision_config', 'MapleRunner',
           'SafeCheckpointHook', 'DivergenceHook', 'WorkDirLock', 'load_checkpoint_file',
           'weights_only_loading', 'WeightsOnlyCheckpointHook', 'ConstantWarmupCosineLR',
           'GaussianPromptAggregationHook']

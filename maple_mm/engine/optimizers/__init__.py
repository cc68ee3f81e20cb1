"""Mixed precision: the precision names, the optim wrapper that trains in one and the
test-loop mixin that tests in the same one."""
from .mixed_precision_optim_wrapper import MixedPrecisionOptimWrapper, mixed_precision_config
from .mixed_precision_test_loop import MixedPrecisionTestMixin, training_precision
from .precision import autocast_dtype, default_amp_precision, precision_context

__all__ = [
    'MixedPrecisionOptimWrapper', 'mixed_precision_config', 'MixedPrecisionTestMixin',
    'training_precision', 'autocast_dtype', 'default_amp_precision', 'precision_context'
]

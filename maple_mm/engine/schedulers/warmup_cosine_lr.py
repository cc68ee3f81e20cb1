"""The reference learning-rate schedule: constant warm-up, then cosine."""
import math

from mmengine.optim.scheduler.lr_scheduler import LRSchedulerMixin
from mmengine.optim.scheduler.param_scheduler import _ParamScheduler
from mmpretrain.registry import PARAM_SCHEDULERS


class ConstantWarmupCosineParamScheduler(_ParamScheduler):
    """``warmup_value`` for ``warmup_steps`` steps, then cosine from the base value.

    After the warm-up the cosine restarts at the base value and runs over
    ``T_max`` steps: step ``s >= warmup_steps`` gets
    ``eta_min + (base - eta_min) * (1 + cos(pi * (s - warmup_steps) / T_max)) / 2``.
    With the reference recipe (5 epochs, T_max = 5, one warm-up epoch at 1e-5,
    base 0.0035) the per-epoch values are 1e-5, 3.5e-3, 3.17e-3, 2.29e-3,
    1.21e-3: the cosine never reaches ``eta_min``. Computed in closed form, so
    it does not depend on other schedulers or on resuming.
    """

    def __init__(self,
                 optimizer,
                 param_name: str,
                 T_max: int,
                 warmup_value: float,
                 warmup_steps: int = 1,
                 eta_min: float = 0.0,
                 **kwargs) -> None:
        self.T_max = T_max
        self.warmup_value = warmup_value
        self.warmup_steps = warmup_steps
        self.eta_min = eta_min
        super().__init__(optimizer, param_name, **kwargs)

    def _get_value(self) -> list:
        step = self.last_step
        if step < self.warmup_steps:
            return [self.warmup_value for _ in self.base_values]
        progress = (step - self.warmup_steps) / self.T_max
        return [
            self.eta_min + (base - self.eta_min) * (1 + math.cos(math.pi * progress)) / 2
            for base in self.base_values
        ]


@PARAM_SCHEDULERS.register_module()
class ConstantWarmupCosineLR(LRSchedulerMixin, ConstantWarmupCosineParamScheduler):
    """Learning-rate version of :class:`ConstantWarmupCosineParamScheduler`."""

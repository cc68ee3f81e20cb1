"""The reference learning-rate schedule: constant warm-up, then cosine."""
import math
from typing import Optional

from mmengine.optim.scheduler.lr_scheduler import LRSchedulerMixin
from mmengine.optim.scheduler.param_scheduler import INF, _ParamScheduler
from mmpretrain.registry import PARAM_SCHEDULERS

from maple_mm.errors import ConfigError


class ConstantWarmupCosineParamScheduler(_ParamScheduler):
    """``warmup_value`` for ``warmup_steps`` steps, then cosine from the base value.

    After the warm-up the cosine restarts at the base value and runs over
    ``T_max`` steps: step ``s >= warmup_steps`` gets
    ``eta_min + (base - eta_min) * (1 + cos(pi * (s - warmup_steps) / T_max)) / 2``.
    With the reference recipe (5 epochs, T_max = 5, one warm-up epoch at 1e-5,
    base 0.0035) the per-epoch values are 1e-5, 3.5e-3, 3.17e-3, 2.29e-3,
    1.21e-3: the cosine never reaches ``eta_min``. Computed in closed form, so
    it does not depend on other schedulers or on resuming. ``T_max`` defaults to
    ``end - begin``, as in mmengine's cosine schedulers; mmengine's Runner sets
    ``end`` to the training's ``max_epochs``.
    """

    def __init__(self,
                 optimizer,
                 param_name: str,
                 warmup_value: float,
                 T_max: Optional[int] = None,
                 warmup_steps: int = 1,
                 eta_min: float = 0.0,
                 **kwargs) -> None:
        if T_max is None:
            begin, end = kwargs.get('begin', 0), kwargs.get('end', INF)
            if end == INF:
                raise ConfigError(f'{type(self).__name__} needs T_max or end (a runner sets '
                                  'end to the epochs of the training).')
            T_max = end - begin
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

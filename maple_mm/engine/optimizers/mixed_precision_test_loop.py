"""Test under the precision the model was trained in."""
from typing import Optional, Sequence

import torch
from mmengine.runner import TestLoop

from .mixed_precision_optim_wrapper import MixedPrecisionOptimWrapper
from .precision import precision_context


def training_precision(runner) -> Optional[str]:
    """The precision of the runner's ``MixedPrecisionOptimWrapper`` (built or config)."""
    wrapper = runner.optim_wrapper
    if isinstance(wrapper, MixedPrecisionOptimWrapper):
        return wrapper.precision
    if isinstance(wrapper, dict) and wrapper.get('type') in ('MixedPrecisionOptimWrapper',
                                                             MixedPrecisionOptimWrapper):
        return wrapper.get('precision', 'bf16')
    return None


class MixedPrecisionTestMixin:
    """For a TestLoop: run each batch under the training precision.

    mmengine's own ``fp16=True`` flag, when set, is left to mmengine (its CPU
    autocast only knows bf16); otherwise a config that trains with
    ``MixedPrecisionOptimWrapper`` tests under the same autocast dtype, on CPU
    as on GPU.
    """

    @torch.no_grad()
    def run_iter(self: TestLoop, idx: int, data_batch: Sequence[dict]) -> None:
        precision = None if self.fp16 else training_precision(self.runner)
        if precision in (None, 'fp32'):
            return super().run_iter(idx, data_batch)
        # mmengine's run_iter wraps the step in autocast(enabled=False), which
        # would switch an outer autocast off: the iteration is spelled out here.
        self.runner.call_hook('before_test_iter', batch_idx=idx, data_batch=data_batch)
        device_type = next(self.runner.model.parameters()).device.type
        with precision_context(precision, device_type):
            outputs = self.runner.model.test_step(data_batch)
        self.evaluator.process(data_samples=outputs, data_batch=data_batch)
        self.runner.call_hook(
            'after_test_iter', batch_idx=idx, data_batch=data_batch, outputs=outputs)

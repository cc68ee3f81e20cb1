"""Test under the precision the model was trained in."""
import contextlib
from typing import ContextManager, Optional

from maple_mm.engine.runner_view import ModelView, RunnerView
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


def model_device_type(model) -> str:
    """'cuda', 'cpu', ...: where the model's first parameter lives ('cpu' without any)."""
    parameter = next(iter(model.parameters()), None)
    return 'cpu' if parameter is None else parameter.device.type


class MixedPrecisionTestMixin:
    """For a TestLoop: each batch's ``test_step`` runs under the training precision.

    mmengine's ``run_iter`` runs ``runner.model.test_step`` inside its own
    ``autocast(enabled=fp16)``, which would switch an autocast around it off; so
    the autocast goes *inside*: the loop's runner, as mmengine's loop code sees it
    (:attr:`runner`), holds a model whose ``test_step`` runs under
    :meth:`test_precision_context`. mmengine's ``run_iter`` (test loss included)
    is used as it is. mmengine's own ``fp16=True`` flag, when set, is left to
    mmengine (its CPU autocast only knows bf16); otherwise a config that trains
    with ``MixedPrecisionOptimWrapper`` tests under the same autocast dtype, on
    CPU as on GPU.
    """

    #: mmengine's flag (TestLoop.__init__ sets it; the default serves until then).
    fp16 = False

    @property
    def plain_runner(self):
        """The runner itself, without the views :attr:`runner` may put around it."""
        return super().runner

    @property
    def test_precision(self) -> Optional[str]:
        """The precision batches are tested in: None (fp32 or mmengine's ``fp16`` flag)."""
        precision = None if self.fp16 else training_precision(self.plain_runner)
        return None if precision in (None, 'fp32') else precision

    def test_precision_context(self) -> ContextManager:
        """The autocast of :attr:`test_precision` on the model's device (a no-op without one)."""
        precision = self.test_precision
        if precision is None:
            return contextlib.nullcontext()
        return precision_context(precision, model_device_type(self.plain_runner.model))

    @property
    def runner(self):
        runner = super().runner
        if self.test_precision is None:
            return runner
        return RunnerView(runner, model=ModelView(runner.model, self.test_precision_context))

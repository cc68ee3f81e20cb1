"""Stop a run whose loss or weights blow up (NaN, Inf, runaway values) before anything is saved."""
import math
from typing import Optional

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS

from maple_mm.errors import TrainingDivergedError
from maple_mm.run_layout import checkpoint_files


@HOOKS.register_module()
class DivergenceHook(Hook):
    """Raise :class:`TrainingDivergedError` when training diverges.

    After every iteration the loss and every trainable parameter are checked
    (one host sync). A parameter holding NaN or Inf, or values beyond
    ``max_abs`` (a too-high learning rate makes prompts grow several-fold per
    step; the normalised features hide it from the loss until they overflow),
    stops the run at once. A non-finite loss stops it too, except under fp16
    loss scaling, where a scaler skips overflowing steps (the weights stay
    finite) and halves the scale: there the run stops only after ``patience``
    non-finite losses in a row. The hook runs before the checkpoint hook, so
    the last complete checkpoint is never replaced by a diverged one.

    Args:
        patience: Consecutive non-finite losses tolerated with a loss scaler.
        max_abs: Largest magnitude a trained value may reach (prompts and
            their projections start near 0.02-1); None: no bound.
    """

    priority = 'VERY_HIGH'

    def __init__(self, patience: int = 20, max_abs: Optional[float] = 1e4) -> None:
        self.patience = patience
        self.max_abs = max_abs
        self._nonfinite_losses = 0

    @staticmethod
    def _has_loss_scaler(runner) -> bool:
        wrapper = runner.optim_wrapper
        return getattr(wrapper, 'loss_scaler', None) is not None

    def _first_bad_parameter(self, runner) -> Optional[str]:
        """What is wrong with the first trained tensor holding NaN, Inf or runaway values."""
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        if not named:
            return None
        largest = torch.stack([p.detach().abs().amax().float() for _, p in named])
        limit = float('inf') if self.max_abs is None else self.max_abs
        bad = ~(largest <= limit)  # NaN compares False
        if not bool(bad.any()):
            return None
        index = int(bad.nonzero()[0])
        name, value = named[index][0], float(largest[index])
        if not math.isfinite(value):
            return f'parameter {name} holds NaN or Inf values'
        return (f'parameter {name} reached |value| {value:.3g}, beyond {limit:.0e} '
                '(DivergenceHook.max_abs)')

    def _stop(self, runner, what: str) -> None:
        lrs = runner.optim_wrapper.get_lr()
        lr = next(iter(lrs.values()))[0] if lrs else float('nan')
        saved = checkpoint_files(getattr(runner, 'work_dir', '') or '')
        kept = (f'the last complete checkpoint, {saved[-1].name}, is kept'
                if saved else 'no checkpoint had been saved yet')
        raise TrainingDivergedError(
            f'Training diverged at epoch {runner.epoch + 1}, iteration {runner.iter + 1} '
            f'(lr {lr:.3g}): {what}. Nothing of this epoch was saved; {kept}. Lower the '
            "learning rate (optim_wrapper.optimizer.lr, and the scheduler's warm-up value), "
            'or train in fp32 or bf16 instead of fp16.')

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        loss = (outputs or {}).get('loss')
        loss = 0.0 if loss is None else float(loss.detach() if torch.is_tensor(loss) else loss)
        problem = self._first_bad_parameter(runner)
        if problem is not None:
            self._stop(runner, f'{problem} (loss {loss:.4g})')
        if math.isfinite(loss):
            self._nonfinite_losses = 0
            return
        self._nonfinite_losses += 1
        if not self._has_loss_scaler(runner) or self._nonfinite_losses >= self.patience:
            times = '' if self._nonfinite_losses == 1 else \
                f' in {self._nonfinite_losses} consecutive iterations'
            self._stop(runner, f'the loss is {loss}{times}')

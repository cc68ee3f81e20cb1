"""The optimizer-wrapper half of a model's own update rule (:mod:`maple_mm.models.update_rule`).

For a model that defines ``combine_gradients``, :meth:`UpdateRuleMixin.update_params`
replaces mmengine's one backward of the summed loss:

1. one gradient per loss term (``torch.autograd.grad``), of the term scaled as
   mmengine scales a loss (gradient accumulation) and, under fp16, by the loss
   scaler; accumulated over the iterations of one update;
2. unscaled, then averaged over the processes (one all-reduce of all terms);
   DDP's own reduction is off for these models (their forward runs under
   ``no_sync``, :meth:`UpdateRuleMixin.optim_context`), so nothing is reduced twice;
3. the model's rule combines them, per parameter;
4. the wrapper's own ``step`` (gradient clipping, the loss scaler's overflow
   check: a step with a non-finite gradient of any term is skipped and the scale
   lowered, as ``GradScaler`` does) and ``zero_grad``.

Every other loss takes mmengine's path unchanged.
"""
import contextlib
from typing import Dict, List, Optional

import torch
from mmengine.dist import all_reduce, is_distributed
from mmengine.model import is_model_wrapper
from torch import nn

from maple_mm.models.update_rule import LossTerms, owns_update


class UpdateRuleMixin:
    """For an mmengine ``OptimWrapper``: the update of models that own it.

    Put before the wrapper class in the bases; reads the wrapper's
    ``loss_scaler`` (a ``torch.amp.GradScaler``, or None) where it has one.
    """

    _term_grads: Optional[Dict[str, List[Optional[torch.Tensor]]]] = None

    @contextlib.contextmanager
    def optim_context(self, model: nn.Module):
        module = model.module if is_model_wrapper(model) else model
        with contextlib.ExitStack() as stack:
            stack.enter_context(super().optim_context(model))
            if owns_update(module) and hasattr(model, 'no_sync'):
                stack.enter_context(model.no_sync())  # the wrapper all-reduces the terms
            yield

    def update_params(self,
                      loss: torch.Tensor,
                      step_kwargs: Optional[Dict] = None,
                      zero_kwargs: Optional[Dict] = None) -> None:
        if not isinstance(loss, LossTerms):
            return super().update_params(loss, step_kwargs, zero_kwargs)
        params = self.rule_params()
        self._accumulate_term_gradients(loss.terms, params)
        self._inner_count += 1  # as OptimWrapper.backward counts
        if self.should_update():
            grads, self._term_grads = self._term_grads, None
            for param, grad in zip(params, self._combined(grads, params, loss.rule)):
                param.grad = grad
            self.step(**(step_kwargs or {}))
            self.zero_grad(**(zero_kwargs or {}))

    def rule_params(self) -> List[nn.Parameter]:
        """The parameters the optimizer updates, in its order (the order rules see)."""
        return [
            p for group in self.optimizer.param_groups for p in group['params'] if p.requires_grad
        ]

    @property
    def _scaler(self):
        return getattr(self, 'loss_scaler', None)

    def _accumulate_term_gradients(self, terms: Dict[str, torch.Tensor],
                                   params: List[nn.Parameter]) -> None:
        if self._term_grads is None:
            self._term_grads = {name: [None] * len(params) for name in terms}
        if list(self._term_grads) != list(terms):
            raise RuntimeError(f'The loss terms changed within one update: '
                               f'{list(self._term_grads)}, then {list(terms)}.')
        names = list(terms)
        for i, name in enumerate(names):
            term = self.scale_loss(terms[name])
            if self._scaler is not None:
                term = self._scaler.scale(term)
            grads = torch.autograd.grad(
                term, params, retain_graph=i < len(names) - 1, allow_unused=True)
            total = self._term_grads[name]
            for j, grad in enumerate(grads):
                if grad is not None:
                    total[j] = grad if total[j] is None else total[j] + grad

    def _combined(self, grads: Dict[str, List[Optional[torch.Tensor]]], params: List[nn.Parameter],
                  rule) -> List[torch.Tensor]:
        """Unscale, average over the processes, apply the rule; re-scaled for the step."""
        names = list(grads)
        flat = torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1).to(p.dtype)
                          for name in names for g, p in zip(grads[name], params)])
        scale = self._scaler.get_scale() if self._scaler is not None else 1.0
        if scale != 1.0:
            flat.mul_(1.0 / scale)
        if is_distributed():
            all_reduce(flat, op='mean')
        pieces = iter(flat.split([p.numel() for _ in names for p in params]))
        averaged = {name: [next(pieces).view_as(p) for p in params] for name in names}
        combined = [g.to(p.dtype) for g, p in zip(rule(averaged, params), params)]
        if self._scaler is None:
            return combined
        # The scaler's step unscales again and skips the step if anything overflowed:
        # a non-finite gradient of any term makes every combined gradient NaN.
        finite = torch.isfinite(flat).all()
        return [torch.where(finite, g * scale, torch.full_like(g, float('nan'))) for g in combined]

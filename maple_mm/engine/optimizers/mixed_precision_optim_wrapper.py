"""Mixed-precision training on any device: bf16 autocast, or fp16 with loss scaling; and the
update of models that own it, in any precision."""
from contextlib import contextmanager
from typing import Optional, Union

import torch
from mmengine.optim import OptimWrapper
from mmpretrain.registry import OPTIM_WRAPPERS
from torch import nn

from maple_mm.models.update_rule import owns_update
from .precision import (autocast_dtype, current_device_type, default_amp_precision,
                        precision_context, run_precision)
from .update_rule_wrapper import UpdateRuleMixin


@OPTIM_WRAPPERS.register_module()
class MixedPrecisionOptimWrapper(UpdateRuleMixin, OptimWrapper):
    """Runs the forward pass under autocast; works on CPU and GPU.

    The parameters stay fp32 and are the master copies: autocast casts them to
    the low precision for each matrix product, gradients arrive in fp32 and the
    optimizer updates fp32 values. With fp16 the loss is scaled (dynamic
    ``torch.amp.GradScaler``) so small gradients do not flush to zero, and
    steps whose gradients overflow are skipped. bf16 has fp32's range and needs
    no scaling. (mmengine's ``AmpOptimWrapper`` refuses CPU-only machines.)

    It also applies the update of a model that owns it (one gradient per loss
    term, combined by the model's ``combine_gradients``: :class:`UpdateRuleMixin`),
    in any precision; ``precision='fp32'`` is then the plain fp32 step.

    Args:
        precision: 'bf16' or 'fp16' ('fp32' turns autocast off).
        loss_scale: fp16 only: 'dynamic', or a dict of ``GradScaler`` arguments
            such as ``dict(init_scale=2.**16, growth_interval=2000)``.
        **kwargs: :class:`mmengine.optim.OptimWrapper` arguments.
    """

    def __init__(self,
                 precision: str = 'bf16',
                 loss_scale: Union[str, dict] = 'dynamic',
                 **kwargs) -> None:
        super().__init__(**kwargs)
        autocast_dtype(precision)  # validates the name
        self.precision = precision
        params = [p for group in self.optimizer.param_groups for p in group['params']]
        self.device_type = params[0].device.type if params else 'cpu'
        self.loss_scaler = None
        if precision == 'fp16':
            if loss_scale == 'dynamic':
                loss_scale = {}
            if not isinstance(loss_scale, dict):
                raise TypeError(f'loss_scale must be "dynamic" or a dict, got {loss_scale!r}')
            self.loss_scaler = torch.amp.GradScaler(self.device_type, **loss_scale)

    @contextmanager
    def optim_context(self, model: nn.Module):
        with super().optim_context(model), precision_context(self.precision, self.device_type):
            yield

    def backward(self, loss: torch.Tensor, **kwargs) -> None:
        if self.loss_scaler is not None:
            loss = self.loss_scaler.scale(loss)
        super().backward(loss, **kwargs)

    def step(self, **kwargs) -> None:
        if self.loss_scaler is None:
            return super().step(**kwargs)
        if self.clip_grad_kwargs:
            self.loss_scaler.unscale_(self.optimizer)  # clip true, not scaled, gradients
            self._clip_grad()
        self.loss_scaler.step(self.optimizer, **kwargs)
        self.loss_scaler.update()

    def state_dict(self) -> dict:
        state = super().state_dict()
        if self.loss_scaler is not None:
            state['loss_scaler'] = self.loss_scaler.state_dict()
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = dict(state_dict)
        scaler_state = state_dict.pop('loss_scaler', None)
        if self.loss_scaler is not None and scaler_state:
            self.loss_scaler.load_state_dict(scaler_state)
        super().load_state_dict(state_dict)


def mixed_precision_config(optim_wrapper: dict, precision: str = 'auto') -> dict:
    """``optim_wrapper`` config switched to :class:`MixedPrecisionOptimWrapper`.

    ``precision`` 'auto' picks bf16 where the device has it, else fp16.
    """
    if precision == 'auto':
        device_type = 'cuda' if torch.cuda.is_available() else 'cpu'
        precision = default_amp_precision(device_type)
    cfg = {
        k: v
        for k, v in dict(optim_wrapper).items()
        if k not in ('type', 'dtype', 'loss_scale', 'precision')
    }
    return dict(cfg, type='MixedPrecisionOptimWrapper', precision=precision)


#: Optimizer wrapper types a config's ``precision`` table switches: mmengine's plain one.
PLAIN_WRAPPERS = (None, 'OptimWrapper', OptimWrapper)
MIXED_WRAPPERS = ('MixedPrecisionOptimWrapper', MixedPrecisionOptimWrapper)


def _model_owns_update(cfg) -> bool:
    """Whether the config's model type defines its own update rule (``combine_gradients``)."""
    from mmpretrain.registry import MODELS
    model_type = (cfg.get('model') or {}).get('type')
    model_cls = MODELS.get(model_type) if isinstance(model_type, str) else model_type
    return model_cls is not None and owns_update(model_cls)


def apply_run_precision(cfg, device_type: Optional[str] = None) -> Optional[str]:
    """Set ``cfg.optim_wrapper`` for the precision ``cfg.precision`` gives the device.

    Returns the precision the run trains in ('fp32', 'fp16' or 'bf16'; None
    when another wrapper type decides). A config without ``precision`` is left
    as it is; one without an optimizer (zero-shot CLIP) trains nothing and
    tests in fp32. The recipes' table switches mmengine's plain ``OptimWrapper``;
    a forced precision (one value, ``--precision``) also replaces the precision
    of a ``MixedPrecisionOptimWrapper``; other wrappers (e.g. mmengine's
    ``AmpOptimWrapper``) are the config's own choice and are kept. Tests run in
    the training precision (:mod:`.mixed_precision_test_loop`). A model that owns its
    update trains with ``MixedPrecisionOptimWrapper`` in fp32 too (it applies the
    model's rule; mmengine's ``OptimWrapper`` cannot).
    """
    if cfg.get('precision') is None:
        return None
    wrapper = cfg.get('optim_wrapper')
    if not wrapper:
        return 'fp32'
    forced = isinstance(cfg.precision, str)
    kind = wrapper.get('type')
    if kind not in PLAIN_WRAPPERS and not (forced and kind in MIXED_WRAPPERS):
        return wrapper.get('precision', 'bf16') if kind in MIXED_WRAPPERS else None
    precision = run_precision(cfg.precision, device_type or current_device_type())
    if precision == 'fp32' and _model_owns_update(cfg):
        cfg.optim_wrapper = mixed_precision_config(wrapper, precision)
    elif precision == 'fp32':
        cfg.optim_wrapper = {
            k: v
            for k, v in dict(wrapper).items() if k not in ('type', 'precision', 'loss_scale')
        }
    else:
        cfg.optim_wrapper = mixed_precision_config(wrapper, precision)
    return precision

"""Mixed precision on the CPU: autocast, fp32 master prompts, fp16 loss scaling."""
import math
from types import SimpleNamespace

import pytest
import torch
from mmengine.optim import OptimWrapper
from mmengine.runner import TestLoop
from mmengine.runner.base_loop import BaseLoop
from mmpretrain.registry import OPTIM_WRAPPERS
from mmpretrain.structures import DataSample

from maple_mm.engine import MixedPrecisionOptimWrapper, mixed_precision_config
from maple_mm.engine.optimizers.mixed_precision_test_loop import (MixedPrecisionTestMixin,
                                                                  training_precision)
from ..conftest import build_tiny_maple

DTYPES = {'bf16': torch.bfloat16, 'fp16': torch.float16}


def wrapper_for(model, precision: str) -> MixedPrecisionOptimWrapper:
    params = [p for p in model.parameters() if p.requires_grad]
    return OPTIM_WRAPPERS.build(
        dict(
            type='MixedPrecisionOptimWrapper',
            precision=precision,
            optimizer=torch.optim.SGD(params, lr=0.01)))


def samples(n: int):
    return [DataSample().set_gt_label(i % 3) for i in range(n)]


@pytest.mark.parametrize('precision', ['bf16', 'fp16'])
def test_forward_is_low_precision_and_prompts_stay_fp32(precision):
    model = build_tiny_maple(class_names=['red', 'green', 'blue'])
    wrapper = wrapper_for(model, precision)
    images = torch.randn(4, 3, 32, 32)
    for _ in range(3):
        with wrapper.optim_context(model):
            logits = model(images)
            loss = model.loss(images, samples(4))['loss']
        assert logits.dtype == DTYPES[precision]
        wrapper.update_params(loss)
        assert math.isfinite(loss.item())
    for param in model.prompt_learner.parameters():
        assert param.dtype == torch.float32 and param.grad is None  # zeroed after the step
    assert (wrapper.loss_scaler is not None) == (precision == 'fp16')


def test_fp16_skips_overflowing_steps_and_lowers_the_scale():
    model = build_tiny_maple(class_names=['red', 'green', 'blue'])
    wrapper = wrapper_for(model, 'fp16')
    before = {k: v.clone() for k, v in model.state_dict().items()}
    scale = wrapper.loss_scaler.get_scale()
    with wrapper.optim_context(model):
        loss = model.loss(torch.randn(2, 3, 32, 32), samples(2))['loss']
    wrapper.update_params(loss * float('inf'))
    assert wrapper.loss_scaler.get_scale() < scale
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, before[key], rtol=0, atol=0)


def test_loss_scaler_state_survives_a_checkpoint():
    model = build_tiny_maple(class_names=['red', 'green', 'blue'])
    wrapper = wrapper_for(model, 'fp16')
    with wrapper.optim_context(model):
        loss = model.loss(torch.randn(2, 3, 32, 32), samples(2))['loss']
    wrapper.update_params(loss * float('inf'))
    state = wrapper.state_dict()
    other = wrapper_for(model, 'fp16')
    other.load_state_dict(state)
    assert other.loss_scaler.get_scale() == wrapper.loss_scaler.get_scale()
    assert 'loss_scaler' not in wrapper_for(model, 'bf16').state_dict()


def test_config_switch_and_test_precision_follow_the_wrapper():
    cfg = mixed_precision_config(
        dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=1)), 'fp16')
    assert cfg == dict(
        type='MixedPrecisionOptimWrapper', precision='fp16', optimizer=dict(type='SGD', lr=1))
    assert mixed_precision_config(cfg, 'auto')['precision'] in ('bf16', 'fp16')
    assert training_precision(SimpleNamespace(optim_wrapper=cfg)) == 'fp16'
    assert training_precision(SimpleNamespace(optim_wrapper=dict(type='OptimWrapper'))) is None
    plain = OptimWrapper(optimizer=torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=1))
    assert training_precision(SimpleNamespace(optim_wrapper=plain)) is None
    with pytest.raises(ValueError, match='precision must be one of'):
        wrapper_for(build_tiny_maple(), 'fp8')


class _Loop(MixedPrecisionTestMixin, TestLoop):
    """mmengine's TestLoop with the mixin, on a stand-in runner (no dataloader to build)."""

    def __init__(self, runner):
        BaseLoop.__init__(self, runner, dataloader=[])
        self.fp16, self.evaluator, self.test_loss = False, self, {}
        self.outputs = []

    def process(self, data_samples, data_batch):
        self.outputs.extend(data_samples)


@pytest.mark.parametrize('precision', ['bf16', 'fp16', 'fp32'])
def test_testing_runs_in_the_training_precision(precision):
    """mmengine's own run_iter runs; the model's test_step runs under the training autocast."""
    model = build_tiny_maple(class_names=['red', 'green', 'blue'])
    seen = []
    model.backbone.clip.visual.conv1.register_forward_hook(
        lambda mod, args, out: seen.append(out.dtype))
    hooks = []
    runner = SimpleNamespace(
        model=model,
        call_hook=lambda name, **k: hooks.append(name),
        optim_wrapper=wrapper_for(model, precision) if precision != 'fp32' else None)
    data = dict(
        inputs=[torch.randint(0, 255, (3, 32, 32), dtype=torch.uint8)] * 2, data_samples=samples(2))
    loop = _Loop(runner)
    loop.run_iter(0, data)
    assert seen == [DTYPES.get(precision, torch.float32)]
    assert hooks == ['before_test_iter', 'after_test_iter'] and len(loop.outputs) == 2
    assert loop.runner.call_hook is not None and not torch.is_autocast_enabled('cpu')

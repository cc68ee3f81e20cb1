"""DivergenceHook: what stops a run, and what a loss scaler is allowed."""
import math
from types import SimpleNamespace

import pytest
import torch

from maple_mm.engine import DivergenceHook
from maple_mm.errors import TrainingDivergedError


def fake_runner(value: float = 0.5, scaler: bool = False):
    model = torch.nn.Linear(2, 2)
    with torch.no_grad():
        model.weight.fill_(value)
    wrapper = SimpleNamespace(
        loss_scaler=object() if scaler else None, get_lr=lambda: {'lr': [0.0035]})
    return SimpleNamespace(model=model, optim_wrapper=wrapper, epoch=1, iter=7)


def step(hook, runner, loss):
    hook.after_train_iter(runner, 0, outputs={'loss': torch.tensor(loss)})


def test_finite_training_goes_on():
    hook, runner = DivergenceHook(), fake_runner()
    for _ in range(50):
        step(hook, runner, 1.2)


@pytest.mark.parametrize('value,expected', [
    (math.nan, 'parameter weight holds NaN or Inf values'),
    (math.inf, 'parameter weight holds NaN or Inf values'),
    (2e4, 'parameter weight reached |value| 2e+04, beyond 1e+04'),
])
def test_bad_weights_stop_at_once_naming_epoch_iteration_and_lr(value, expected):
    with pytest.raises(TrainingDivergedError) as err:
        step(DivergenceHook(), fake_runner(value), 1.0)
    assert str(err.value).startswith('Training diverged at epoch 2, iteration 8 (lr 0.0035): ' +
                                     expected)
    step(DivergenceHook(max_abs=None), fake_runner(2e4), 1.0)  # the bound can be lifted


def test_a_non_finite_loss_stops_at_once_without_a_loss_scaler():
    with pytest.raises(TrainingDivergedError, match='the loss is nan'):
        step(DivergenceHook(), fake_runner(), math.nan)


def test_fp16_loss_scaling_skips_a_few_overflows_but_not_persistent_ones():
    hook, runner = DivergenceHook(patience=3), fake_runner(scaler=True)
    for _ in range(2):
        step(hook, runner, math.inf)  # skipped steps: normal under loss scaling
    step(hook, runner, 0.9)  # a finite loss resets the count
    for _ in range(2):
        step(hook, runner, math.inf)
    with pytest.raises(TrainingDivergedError, match='the loss is inf in 3 consecutive'):
        step(hook, runner, math.inf)

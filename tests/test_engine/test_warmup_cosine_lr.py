import pytest
import torch
from mmpretrain.registry import PARAM_SCHEDULERS


def per_epoch_lrs(cfg: dict, epochs: int, lr: float) -> list:
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    scheduler = PARAM_SCHEDULERS.build(dict(cfg, optimizer=optimizer))
    lrs = []
    for _ in range(epochs):
        lrs.append(optimizer.param_groups[0]['lr'])
        optimizer.step()
        scheduler.step()
    return lrs


def test_reference_base2novel_schedule():
    cfg = dict(type='ConstantWarmupCosineLR', T_max=5, warmup_value=1e-5, by_epoch=True)
    lrs = per_epoch_lrs(cfg, 5, 0.0035)
    assert lrs == pytest.approx([1e-5, 3.5e-3, 3.1657e-3, 2.2908e-3, 1.2092e-3], rel=1e-4)


def test_cross_dataset_schedule_two_epochs():
    cfg = dict(type='ConstantWarmupCosineLR', T_max=2, warmup_value=1e-5, by_epoch=True)
    assert per_epoch_lrs(cfg, 2, 0.0026) == pytest.approx([1e-5, 2.6e-3])


def test_resumed_scheduler_continues_the_same_values():
    cfg = dict(type='ConstantWarmupCosineLR', T_max=5, warmup_value=1e-5, by_epoch=True)
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.0035)
    scheduler = PARAM_SCHEDULERS.build(dict(cfg, optimizer=optimizer))
    for _ in range(2):
        optimizer.step()
        scheduler.step()
    state = scheduler.state_dict()
    optimizer2 = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.0035)
    optimizer2.load_state_dict(optimizer.state_dict())
    resumed = PARAM_SCHEDULERS.build(dict(cfg, optimizer=optimizer2))
    resumed.load_state_dict(state)
    optimizer2.step()
    resumed.step()
    assert optimizer2.param_groups[0]['lr'] == pytest.approx(2.2908e-3, rel=1e-4)

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


def test_t_max_is_the_runners_epochs_unless_given(tmp_path):
    """The recipes leave T_max out: mmengine's Runner sets the scheduler's end to the training's
    max_epochs, which T_max follows (so --shots K and train_cfg.max_epochs change both)."""
    from mmengine.model import BaseModel
    from mmengine.runner import Runner

    from maple_mm.errors import ConfigError

    class Toy(BaseModel):

        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.zeros(1))

        def forward(self, inputs, data_samples=None, mode='loss'):
            return dict(loss=self.weight.sum())

    runner = Runner(
        model=Toy(),
        work_dir=str(tmp_path),
        default_scope='mmpretrain',
        train_dataloader=dict(
            dataset=torch.utils.data.TensorDataset(torch.zeros(4)),
            sampler=dict(type='DefaultSampler', shuffle=False),
            batch_size=2),
        train_cfg=dict(by_epoch=True, max_epochs=7),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.0035)))
    runner.train_loop  # noqa: B018  builds the loop, as train() does first
    runner.optim_wrapper = runner.build_optim_wrapper(runner.optim_wrapper)
    cfg = dict(type='ConstantWarmupCosineLR', warmup_value=1e-5, by_epoch=True)
    assert [s.T_max for s in runner.build_param_scheduler(cfg)] == [7]
    assert [s.T_max for s in runner.build_param_scheduler(dict(cfg, T_max=3))] == [3]
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.0035)
    with pytest.raises(ConfigError, match='needs T_max or end'):
        PARAM_SCHEDULERS.build(dict(cfg, optimizer=optimizer))

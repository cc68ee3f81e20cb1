"""maple_mm.finite_values: NaN and Inf anywhere in a checkpoint, named by their path."""
import numpy as np
import torch
from mmengine.logging import HistoryBuffer

from maple_mm.finite_values import non_finite_values


def test_every_entry_is_walked_and_named():
    looped = [1.0]
    looped.append(looped)  # a crafted file can hold a list that contains itself
    checkpoint = dict(
        state_dict=dict(w=torch.tensor([float('nan')])),  # checked with its own message
        optimizer=dict(
            state={0: dict(momentum_buffer=torch.tensor([1.0, float('inf')]))},
            param_groups=[dict(lr=float('nan'), momentum=0.9)]),
        gaussian_prompt_aggregation=dict(epochs=3, sum={'prompt_learner.ctx': torch.ones(2)}),
        message_hub=dict(
            log_scalars={
                'train/lr': HistoryBuffer(np.array([0.1, np.inf]), np.array([1, 1])),
                'train/loss': HistoryBuffer(np.array([np.nan]), np.array([1])),
                'train/grad_norm': dict(logs=torch.tensor([float('inf')])),
            }),
        meta=dict(seed=1, note='text', loop=looped, steps=np.float64(-np.inf)))
    assert non_finite_values(checkpoint) == [
        'optimizer.state.0.momentum_buffer (1 of 2 values)',
        'optimizer.param_groups.0.lr (nan)',
        "message_hub.log_scalars['train/lr']._log_history (1 of 2 values)",
        'meta.steps (-inf)',
    ]


def test_a_healthy_checkpoint_has_none():
    assert non_finite_values(dict(optimizer=dict(state={0: dict(step=torch.tensor(3))}))) == []

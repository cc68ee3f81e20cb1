"""PromptSRC's Gaussian prompt aggregation (GPA): the final weights average the epochs' weights."""
import math
from typing import Dict, List, Optional

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS

from maple_mm.errors import MapleUserError

#: The checkpoint entry holding the running aggregate.
CHECKPOINT_KEY = 'gaussian_prompt_aggregation'


def gaussian_epoch_weights(max_epochs: int, mean: float, std: float) -> List[float]:
    """The Gaussian density at epochs 1 .. ``max_epochs``, normalised to sum 1."""
    if std <= 0:
        raise MapleUserError(f'GPA std must be > 0, got {std}.')
    density = [
        math.exp(-0.5 * ((epoch - mean) / std)**2) / (std * math.sqrt(2 * math.pi))
        for epoch in range(1, max_epochs + 1)
    ]
    total = sum(density)
    if not total > 0:
        raise MapleUserError(f'GPA weights vanish for mean {mean} and std {std} over '
                             f'{max_epochs} epochs: choose a mean within the epochs.')
    return [d / total for d in density]


@HOOKS.register_module()
class GaussianPromptAggregationHook(Hook):
    """Replace the trained weights by their Gaussian-weighted sum over epochs (GPA).

    After each training epoch e (1-based) the model's floating state
    (``model.state_dict()``: the learned prompts of a maple_mm model) is added
    to a running sum with weight w_e, the Gaussian density at e normalised over
    the run's epochs; after the last epoch the model's weights become the sum,
    so the last checkpoint and the test use the aggregate (PromptSRC,
    ``trainers/promptsrc.py``). Unlike the reference, which averages the whole
    model's state dict, the fp16 frozen CLIP included (so its frozen weights
    come back about one fp16 ulp off), only the learned prompts are averaged,
    in fp32, and the frozen CLIP is left as it is. The running sum is saved in
    every checkpoint and restored by ``--resume``, so a resumed run aggregates
    exactly as an uninterrupted one. Runs before the checkpoint hook (priority
    NORMAL).

    Args:
        mean: Mean of the Gaussian, in epochs (PromptSRC base-to-novel: 15).
        std: Its standard deviation, in epochs (1).
    """

    priority = 'NORMAL'

    def __init__(self, mean: float = 15.0, std: float = 1.0) -> None:
        self.mean, self.std = float(mean), float(std)
        self._sum: Optional[Dict[str, torch.Tensor]] = None
        self._epochs = 0  # epochs aggregated into _sum

    @staticmethod
    def _model(runner):
        model = runner.model
        return model.module if is_model_wrapper(model) else model

    def _state(self, runner) -> Dict[str, torch.Tensor]:
        return {
            k: v
            for k, v in self._model(runner).state_dict(keep_vars=True).items()
            if v.is_floating_point()
        }

    def before_train(self, runner) -> None:
        if runner.epoch == 0:  # a fresh run (weights loaded with load_from start anew)
            self._sum, self._epochs = None, 0
        elif runner.epoch != self._epochs:
            raise MapleUserError(
                f'Training starts at epoch {runner.epoch + 1} but the Gaussian prompt '
                f'aggregation holds {self._epochs} epochs: resume from a checkpoint written '
                'with GaussianPromptAggregationHook, or train from the start.')

    def after_train_epoch(self, runner) -> None:
        weights = gaussian_epoch_weights(runner.max_epochs, self.mean, self.std)
        weight = weights[runner.epoch]
        with torch.no_grad():
            state = self._state(runner)
            if self._sum is None:
                self._sum = {k: v.detach() * weight for k, v in state.items()}
            else:
                for key, value in state.items():
                    self._sum[key] = self._sum[key] + value.detach() * weight
            self._epochs = runner.epoch + 1
            if self._epochs == runner.max_epochs:
                for key, value in state.items():
                    value.copy_(self._sum[key])
                runner.logger.info(f'Gaussian prompt aggregation (mean {self.mean}, std '
                                   f'{self.std}) over {self._epochs} epochs: the model now '
                                   'holds the aggregate.')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self._sum is not None:
            checkpoint[CHECKPOINT_KEY] = dict(
                epochs=self._epochs,
                sum={
                    k: v.detach().cpu().clone()
                    for k, v in self._sum.items()
                })

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        saved = checkpoint.get(CHECKPOINT_KEY)
        if saved is None:
            self._sum, self._epochs = None, 0
            return
        device = next(iter(self._state(runner).values())).device
        self._sum = {k: v.to(device) for k, v in saved['sum'].items()}
        self._epochs = int(saved['epochs'])

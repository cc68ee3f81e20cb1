"""GaussianPromptAggregationHook: PromptSRC's final prompts, the Gaussian-weighted sum over epochs.

A shipped PromptSRC config trains 3 epochs on a miniature dataset (GPA mean 2,
std 1, so every epoch weighs differently); the final weights must equal the sum
computed by hand from the weights recorded after each epoch, with the
reference's weights (tests/reference_successors.py), also when the run is
interrupted after epoch 2 and resumed.
"""
import pytest
import torch
from mmengine.hooks import Hook
from mmpretrain.registry import RUNNERS

from maple_mm.engine.hooks.gpa_hook import gaussian_epoch_weights
from tests.reference_successors import gpa_weights
from ..method_rows import method_rows, recipe
from ..test_configs.tiny_runs import fast_cpu_runs, load, tiny, write_miniatures  # noqa: F401
from ..test_configs.zoo import CONFIGS

EPOCHS = 3


class Recorder(Hook):
    """Keeps the trained weights after each epoch, before GPA touches them."""

    def __init__(self, stop_after: int = 0) -> None:
        self.epochs, self.stop_after = [], stop_after

    def after_train_epoch(self, runner) -> None:
        self.epochs.append({
            k: v.detach().clone()
            for k, v in runner.model.state_dict().items() if v.is_floating_point()
        })


class Interrupt(Hook):
    """Stops the run after an epoch's checkpoint is written."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def after_train_epoch(self, runner) -> None:
        if runner.epoch + 1 == self.epoch:
            raise KeyboardInterrupt


def run(cfg, resume=False, interrupt_after=None):
    cfg = cfg.copy()
    cfg.resume = resume
    runner = RUNNERS.build(cfg)
    recorder = Recorder()
    runner.register_hook(recorder, priority='HIGH')  # before GPA (NORMAL)
    if interrupt_after:
        runner.register_hook(Interrupt(interrupt_after), priority='LOWEST')  # after the save
        with pytest.raises(KeyboardInterrupt):
            runner.train()
    else:
        runner.train()
    final = {
        k: v.detach().clone()
        for k, v in runner.model.state_dict().items() if v.is_floating_point()
    }
    return recorder.epochs, final


def gpa_config():
    """A shipped config that trains with the hook: the first (table order) whose rows say so."""
    return next(CONFIGS / folder / 'base2novel_eurosat.py' for folder in method_rows()
                if 'gpa' in getattr(recipe(folder, 'base2novel', 'eurosat'), 'hooks', {}))


def by_hand(epochs):
    weights = gpa_weights(EPOCHS, mean=2, std=1)
    return {k: sum(float(w) * e[k] for w, e in zip(weights, epochs)) for k in epochs[0]}


def test_weights_are_the_references():
    assert gaussian_epoch_weights(20, 15, 1) == pytest.approx(
        gpa_weights(20, 15, 1).tolist(), rel=1e-12)


@pytest.mark.usefixtures('fast_cpu_runs')
def test_final_prompts_are_the_gaussian_weighted_sum_also_across_a_resume(tmp_path):
    data_root = write_miniatures(tmp_path / 'data')
    cfg = tiny(load(gpa_config()), data_root, tmp_path / 'whole', epochs=EPOCHS)
    cfg.default_hooks.gpa.update(mean=2, std=1)
    epochs, final = run(cfg)
    assert len(epochs) == EPOCHS and final.keys() == epochs[0].keys()
    assert not torch.equal(epochs[-1]['prompt_learner.ctx'], epochs[0]['prompt_learner.ctx'])
    expected = by_hand(epochs)
    for key in final:
        torch.testing.assert_close(final[key], expected[key], rtol=1e-6, atol=1e-7)
    saved = torch.load(next((tmp_path / 'whole').glob('epoch_3.pth')), weights_only=True)
    torch.testing.assert_close(
        saved['state_dict']['prompt_learner.ctx'],
        expected['prompt_learner.ctx'],
        rtol=1e-6,
        atol=1e-7)

    cfg.work_dir = str(tmp_path / 'resumed')
    first, _ = run(cfg, interrupt_after=2)
    rest, resumed = run(cfg, resume=True)
    assert len(first) == 2 and len(rest) == 1
    for key in final:  # as the uninterrupted run, which the hand sum above checks
        torch.testing.assert_close(resumed[key], final[key], rtol=1e-6, atol=1e-7)
        torch.testing.assert_close(resumed[key], by_hand(first + rest)[key], rtol=1e-6, atol=1e-7)

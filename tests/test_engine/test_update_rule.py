"""The core's update rule (maple_mm.models.update_rule, engine/optimizers/update_rule_wrapper).

A toy model with linear loss terms (constant, known gradients) owns its update;
mmengine's ``train_step`` drives it through ``MixedPrecisionOptimWrapper``. The
ProGrad tests (tests/test_models/test_methods/test_prograd*.py) check the same
machinery on a real method, on 2 processes and under fp16 loss scaling.
"""
import pytest
import torch
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapper
from mmpretrain.registry import MODELS, OPTIM_WRAPPERS
from mmpretrain.structures import DataSample

from maple_mm.engine.optimizers.mixed_precision_optim_wrapper import apply_run_precision
from maple_mm.errors import ConfigError
from maple_mm.models.update_rule import LossTerms, loss_terms, owns_update
from ..conftest import build_tiny_maple
from ..test_configs.zoo import CONFIGS, METHODS, built

A = torch.tensor([1.0, -2.0, 0.5])
B = torch.tensor([-3.0, 1.0, 1.0])


class LinearTerms(BaseModel):
    """loss_a = A . w * x, loss_b = B . w * x; ``unused`` is reached by no term.

    Its rule keeps the gradient of loss_a and adds 10 x that of loss_b, so that
    the sum (what mmengine would descend) and the rule's direction differ.
    """

    def __init__(self, names=('loss_a', 'loss_b')) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(3))
        self.unused = torch.nn.Parameter(torch.ones(2))
        self.names = names
        self.seen = []

    def forward(self, inputs, data_samples=None, mode='loss'):
        x = torch.stack(inputs).mean()
        return {self.names[0]: (A * self.w).sum() * x, self.names[1]: (B * self.w).sum() * x}

    def parse_losses(self, losses):
        parsed, log_vars = super().parse_losses(losses)
        return loss_terms(losses, parsed, log_vars, self.combine_gradients), log_vars

    def combine_gradients(self, grads, params):
        self.seen.append({k: [g.clone() for g in v] for k, v in grads.items()})
        return [a + 10 * b for a, b in zip(grads['loss_a'], grads['loss_b'])]


def wrapper_for(model, precision='fp32', **kwargs):
    return OPTIM_WRAPPERS.build(
        dict(
            type='MixedPrecisionOptimWrapper',
            precision=precision,
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
            **kwargs))


def batch(value: float = 2.0):
    return dict(inputs=[torch.full((1, ), value)])


def test_the_rule_combines_one_gradient_per_term_and_the_optimizer_steps():
    model = LinearTerms()
    log = model.train_step(batch(2.0), wrapper_for(model))
    assert list(log) == ['loss', 'loss_a', 'loss_b'] and float(log['loss'].detach()) == 0.0  # w = 0
    (seen, ) = model.seen
    assert list(seen) == ['loss_a', 'loss_b']
    torch.testing.assert_close(seen['loss_a'][0], 2 * A)
    torch.testing.assert_close(seen['loss_b'][0], 2 * B)
    # A parameter no term reaches gets a zero gradient (the same on every process).
    torch.testing.assert_close(seen['loss_a'][1], torch.zeros(2))
    torch.testing.assert_close(model.w.detach(), -0.1 * (2 * A + 20 * B))
    assert torch.equal(model.unused.detach(), torch.ones(2))
    assert model.w.grad is None and model.unused.grad is None  # zeroed after the step


def test_accumulated_iterations_apply_the_rule_once_to_the_accumulated_terms():
    model = LinearTerms()
    wrapper = wrapper_for(model, accumulative_counts=2)
    model.train_step(batch(2.0), wrapper)
    assert model.seen == [] and torch.equal(model.w.detach(), torch.zeros(3))  # not yet
    model.train_step(batch(4.0), wrapper)
    (seen, ) = model.seen  # mmengine's scaling: each iteration's loss / 2
    torch.testing.assert_close(seen['loss_a'][0], (2 + 4) / 2 * A)
    torch.testing.assert_close(model.w.detach(), -0.1 * 3 * (A + 10 * B))


def test_models_without_a_rule_keep_mmengines_single_backward_bit_for_bit():

    def maple():
        torch.manual_seed(0)  # the same random deep prompts
        return build_tiny_maple(class_names=['red', 'green', 'blue'])

    data = dict(
        inputs=[torch.randint(0, 255, (3, 32, 32), dtype=torch.uint8) for _ in range(3)],
        data_samples=[DataSample().set_gt_label(i) for i in range(3)])
    ours, plain = maple(), maple()
    assert not owns_update(ours)
    parsed, _ = ours.parse_losses(ours.loss(torch.randn(2, 3, 32, 32), data['data_samples'][:2]))
    assert type(parsed) is torch.Tensor
    ours_wrapper = wrapper_for(ours)
    plain_wrapper = OptimWrapper(optimizer=torch.optim.SGD(plain.parameters(), lr=0.1))
    for _ in range(2):
        ours.train_step(data, ours_wrapper)
        plain.train_step(data, plain_wrapper)
    for (name, a), b in zip(ours.named_parameters(), plain.parameters()):
        assert torch.equal(a, b), name


def test_a_wrapper_that_cannot_apply_the_rule_fails_clearly():
    model = LinearTerms()
    with pytest.raises(ConfigError, match='owns its update'):
        model.train_step(batch(), OptimWrapper(optimizer=torch.optim.SGD(model.parameters(), 1)))
    parsed, log_vars = model.parse_losses(model(batch()['inputs']))
    assert isinstance(parsed, LossTerms) and type(log_vars['loss']) is torch.Tensor
    with pytest.raises(ConfigError, match='owns its update'):
        (parsed * 2.0).backward()  # e.g. a loss scaler's product
    with pytest.raises(ConfigError, match="names each loss term"):
        LinearTerms(
            names=('loss',
                   'loss_b')).parse_losses(model(batch()['inputs']) | {'loss': torch.zeros(())})


def test_fp32_runs_of_a_rule_owning_method_get_the_wrapper_that_applies_it():
    owning = [f for f, method in METHODS.items() if owns_update(MODELS.get(method))]
    assert owning  # a shipped method owns its update
    for folder, kind in ((owning[0], 'MixedPrecisionOptimWrapper'), ('maple', None)):
        cfg = built(CONFIGS / folder / 'base2novel_dtd.py').copy()
        assert apply_run_precision(cfg, 'cpu') == 'fp32'
        assert cfg.optim_wrapper.get('type') == kind, folder
        assert cfg.optim_wrapper.get('precision') == ('fp32' if kind else None)
        cfg = built(CONFIGS / folder / 'base2novel_dtd.py').copy()
        assert apply_run_precision(cfg, 'cuda') == 'fp16'
        assert cfg.optim_wrapper.type == 'MixedPrecisionOptimWrapper'

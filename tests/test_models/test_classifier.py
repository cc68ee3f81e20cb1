import pytest
import torch
from mmpretrain.structures import DataSample

from maple_mm.errors import CheckpointMismatchError
from ..conftest import build_tiny_maple, colour_image

NAMES = ['red', 'green', 'blue']


def samples(labels):
    return [DataSample().set_gt_label(int(y)) for y in labels]


def test_gradients_reach_exactly_the_trainable_parameters():
    model = build_tiny_maple(depth=3, class_names=NAMES)
    loss = model(torch.randn(4, 3, 32, 32), samples([0, 1, 2, 0]), mode='loss')['loss']
    loss.backward()
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    learner = model.prompt_learner
    assert trainable == {n for n, _ in learner.named_parameters(prefix='prompt_learner')}
    for name, param in model.named_parameters():
        if name in trainable:
            assert param.grad is not None and param.grad.abs().sum() > 0, name
        else:
            assert param.grad is None, name


def test_state_dict_holds_only_the_prompts_and_round_trips():
    model = build_tiny_maple(depth=3, class_names=NAMES)
    state = model.state_dict()
    assert bytes(state.pop('_extra_state').tolist()).decode() == '["red", "green", "blue"]'
    assert all(k.startswith('prompt_learner.') for k in state)
    assert sum(v.numel() for v in state.values()) == sum(p.numel() for p in model.parameters()
                                                         if p.requires_grad)
    torch.manual_seed(5)
    other = build_tiny_maple(depth=3)
    other.load_state_dict(model.state_dict())  # strict: the absent frozen CLIP is tolerated
    assert other.class_names == NAMES  # restored with the weights
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(images), other(images), rtol=0, atol=0)
    other.load_state_dict(state)  # checkpoints without class names load too


def test_mismatched_or_foreign_checkpoints_get_clear_errors():
    model = build_tiny_maple(n_ctx=2, depth=3)
    with pytest.raises(CheckpointMismatchError, match=r'n_ctx=2.*Shape mismatch.*ctx'):
        model.load_state_dict(build_tiny_maple(n_ctx=4, depth=3).state_dict())
    with pytest.raises(CheckpointMismatchError, match='Missing.*deep_text_prompts.1'):
        model.load_state_dict(build_tiny_maple(n_ctx=2, depth=2).state_dict())
    with pytest.raises(CheckpointMismatchError, match='reference code.*reference_to_mm.py'):
        model.load_state_dict({'prompt_learner.compound_prompts_text.0': torch.zeros(2, 32)})


def test_class_names_can_change_between_calls():
    model = build_tiny_maple(class_names=NAMES)
    images = torch.randn(2, 3, 32, 32)
    assert model(images).shape == (2, 3)
    model.set_class_names(['a', 'b', 'c', 'd', 'e'])
    out = model(images, mode='predict')
    assert out[0].pred_score.shape == (5, ) and 0 <= int(out[0].pred_label) < 5


def test_holders_of_the_class_names_see_every_change():
    """mmpretrain's inferencer keeps ``model._dataset_meta['classes']``; it must never go stale."""
    model = build_tiny_maple(class_names=NAMES)
    held = model._dataset_meta['classes']
    model.set_class_names(['frog', 'dog'])
    assert held == ['frog', 'dog'] == model.class_names
    model._dataset_meta = {'classes': ('cat', 'bird', 'dog')}  # as mmpretrain's get_model sets it
    assert held == ['cat', 'bird', 'dog']


def test_class_tensors_are_not_buffers_but_follow_the_module():
    """EMA and DDP copy buffers between models; class prompts change with the class set."""
    model = build_tiny_maple(class_names=NAMES)
    assert not [n for n, _ in model.prompt_learner.named_buffers()]
    model.to(torch.float64)
    (prompts, ) = model.prompt_learner.class_prompts
    assert prompts.embeddings.dtype == torch.float64 and prompts.token_ids.dtype == torch.long


def test_loss_goes_down_and_accuracy_up_on_a_learnable_task():
    """Colour-coded classes: prompts must learn through a random tiny CLIP."""
    torch.manual_seed(0)
    import numpy as np
    rng = np.random.default_rng(0)
    model = build_tiny_maple(depth=3, class_names=NAMES)
    labels = torch.arange(48) % 3
    images = torch.stack(
        [torch.from_numpy(colour_image(int(y), rng)).permute(2, 0, 1)
         for y in labels]).float() / 255 - 0.5
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=0.05, momentum=0.9)

    def evaluate():
        with torch.no_grad():
            logits = model(images)
        return torch.nn.functional.cross_entropy(
            logits, labels).item(), (logits.argmax(1) == labels).float().mean().item()

    loss0, acc0 = evaluate()
    for step in range(60):
        idx = torch.randperm(48)[:12]
        loss = model(images[idx], samples(labels[idx]), mode='loss')['loss']
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    loss1, acc1 = evaluate()
    assert loss1 < 0.5 * loss0
    assert acc1 >= 0.9 > acc0 + 0.2

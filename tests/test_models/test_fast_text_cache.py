"""Evaluation reuses text features exactly until classes or prompts change."""
import pytest
import torch
from mmpretrain.structures import DataSample

from ..conftest import build_tiny_maple

NAMES = ['red', 'green', 'blue']


@pytest.fixture
def counted():
    """A tiny MaPLe whose text encodings are counted."""
    model = build_tiny_maple(class_names=NAMES)
    model.encodings = 0
    encode = model.text_features

    def counting(prompts):
        model.encodings += 1
        return encode(prompts)

    model.text_features = counting
    return model


def test_eval_encodes_the_classes_once(counted):
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        first = counted(images)
        for _ in range(3):
            torch.testing.assert_close(counted(images), first, rtol=0, atol=0)
    assert counted.encodings == 1


def test_new_class_names_are_encoded(counted):
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        counted(images)
        counted.set_class_names(['cat', 'dog'])
        assert counted(images).shape == (2, 2)
        counted.set_class_names(NAMES)
        assert counted(images).shape == (2, 3)
    assert counted.encodings == 3


def test_optimizer_steps_and_loaded_weights_invalidate(counted):
    images = torch.randn(4, 3, 32, 32)
    params = [p for p in counted.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=0.1)
    initial = {k: v.clone() for k, v in counted.state_dict().items()}
    with torch.no_grad():
        before = counted(images)
    loss = counted.loss(images, [DataSample().set_gt_label(i % 3) for i in range(4)])['loss']
    loss.backward()
    optimizer.step()
    with torch.no_grad():
        after = counted(images)
    assert not torch.allclose(before, after)
    fresh = build_tiny_maple(class_names=NAMES)
    fresh.load_state_dict(counted.state_dict())
    counted.load_state_dict(initial)
    with torch.no_grad():
        torch.testing.assert_close(fresh(images), after)
        torch.testing.assert_close(counted(images), before)
    assert counted.encodings == 4  # before, the training step, after, after loading


def test_autocast_precision_is_part_of_the_key(counted):
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        counted(images)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            counted(images)
        counted(images)
    assert counted.encodings == 3


def test_no_cache_when_gradients_are_needed_or_on_the_reference_path(counted):
    images = torch.randn(2, 3, 32, 32)
    logits = counted(images)
    assert logits.requires_grad
    counted(images)
    assert counted.encodings == 2
    counted.efficient = False
    with torch.no_grad():
        counted(images)
        counted(images)
    assert counted.encodings == 4


def test_mode_switches_drop_features_changed_behind_version_counters(counted):
    """Fused optimizers and EMA swaps write weights without bumping version counters."""
    images = torch.randn(2, 3, 32, 32)
    counted.eval()
    with torch.no_grad():
        before = counted(images)
        counted.prompt_learner.ctx.data.add_(0.5)  # no version bump
        counted.train()
        counted.eval()
        after = counted(images)
    assert counted.encodings == 2
    assert not torch.allclose(before, after)


def test_text_layout_is_computed_once_per_class_set(monkeypatch):
    from maple_mm.models import classifier
    model = build_tiny_maple(class_names=NAMES)
    calls = []
    layout = classifier.text_layout
    monkeypatch.setattr(classifier, 'text_layout',
                        lambda *a, **k: calls.append(1) or layout(*a, **k))
    images = torch.randn(2, 3, 32, 32)
    for _ in range(3):  # training steps: no cache, one layout
        model.logits(images)
    model.set_class_names(['cat', 'dog'])
    model.logits(images)
    assert len(calls) == 2

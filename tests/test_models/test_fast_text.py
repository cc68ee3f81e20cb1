"""The exact shortcuts of maple_mm.models.fast compute what the 77-position reference computes."""
import warnings

import pytest
import torch
import torch.nn.functional as F
from mmpretrain.structures import DataSample

from maple_mm.errors import SlowPathWarning
from maple_mm.models import TINY_CLIP_CFG
from maple_mm.models.fast.block_rows import run_block_rows
from maple_mm.models.fast.text import fast_path_fallbacks, text_layout
from ..conftest import build_tiny_maple

# Real-looking names of different token lengths, one sharing words with another.
NAMES = [
    'tench', 'great white shark', 'African bush elephant', 'traffic light', 'great grey owl',
    'Granny Smith', 'bubble', 'sulphur-crested cockatoo'
]


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(((a - b).norm(dim=-1) / b.norm(dim=-1)).max())


def both_paths(model, fn):
    model.efficient = False
    reference = fn()
    model.efficient = True
    return fn(), reference


@pytest.mark.parametrize(
    'kwargs',
    [dict(), dict(n_ctx=1, depth=4),
     dict(n_ctx=4, depth=1),
     dict(n_ctx=5, ctx_init='')])
@pytest.mark.parametrize('names', [NAMES, ['dog'], ['dog', 'cat']])
def test_text_and_image_features_match_the_reference(kwargs, names):
    model = build_tiny_maple(class_names=names, **kwargs)
    images = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        prompts = model.prompt_learner()
        text, ref_text = both_paths(model, lambda: model.text_features(prompts))
        image, ref_image = both_paths(model, lambda: model.image_features(images, prompts))
        logits, ref_logits = both_paths(model, lambda: model(images))
    assert relative_error(text, ref_text) < 1e-5
    assert relative_error(image, ref_image) < 1e-5
    torch.testing.assert_close(logits, ref_logits, rtol=1e-5, atol=1e-4)


def test_gradients_match_the_reference():
    model = build_tiny_maple(class_names=NAMES)
    images, labels = torch.randn(4, 3, 32, 32), [0, 3, 5, 7]
    samples = [DataSample().set_gt_label(y) for y in labels]

    def grads():
        model.zero_grad()
        model.loss(images, samples)['loss'].backward()
        return {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}

    efficient, reference = both_paths(model, grads)
    for name, expected in reference.items():
        error = (efficient[name] - expected).norm() / expected.norm()
        assert error < 1e-5, name


def test_chunks_give_the_same_features():
    model = build_tiny_maple(class_names=NAMES)
    with torch.no_grad():
        prompts = model.prompt_learner()
        model.text_chunk_size = 1
        one_by_one = model.text_features(prompts)
        model.text_chunk_size = 256
        torch.testing.assert_close(model.text_features(prompts), one_by_one)


def test_layout_shares_sos_context_and_fixed_words():
    model = build_tiny_maple(n_ctx=2, class_names=['dog', 'golden retriever', 'traffic light'])
    (prompts, ) = model.prompt_learner.class_prompts
    layout = text_layout(model.backbone.clip, prompts.token_ids, prompts.ctx_positions)
    # "a photo of a <name>.": SOS + "a photo" (learned) + "of a" are shared.
    assert layout.shared_len == 5
    # A context of its own per class shares nothing but SOS.
    assert text_layout(
        model.backbone.clip, prompts.token_ids, prompts.ctx_positions,
        ctx_shared=False).shared_len == 1
    eot = prompts.token_ids.argmax(-1)
    assert sorted(layout.lengths) == sorted(set((eot + 1).tolist()))
    for group, length in zip(layout.groups, layout.lengths):
        assert (eot[group] == length - 1).all()
    assert sorted(torch.cat(layout.groups).tolist()) == [0, 1, 2]


def test_block_rows_match_the_open_clip_block():
    clip = build_tiny_maple().backbone.clip
    block = clip.transformer.resblocks[1]
    x = torch.randn(3, 9, 32)
    mask = clip.attn_mask[:9, :9]
    expected = block(x, attn_mask=mask)
    full, _ = run_block_rows(block, x, causal=True)
    torch.testing.assert_close(full, expected)
    # Rows 4.. given the keys/values of rows 0..3; only the last row asked for.
    _, past = run_block_rows(block, x[:, :4], causal=True)
    tail, _ = run_block_rows(block, x[:, 4:], query_rows=slice(-1, None), past=past, causal=True)
    torch.testing.assert_close(tail, expected[:, -1:])
    # Unmasked (vision) block, class-token row only.
    vblock = clip.visual.transformer.resblocks[-1]
    v = torch.randn(2, 19, 48)
    cls, _ = run_block_rows(vblock, v, query_rows=slice(0, 1))
    torch.testing.assert_close(cls, vblock(v)[:, :1])


def test_depth_one_efficient_text_is_open_clip_encode_text():
    names = ['dog', 'golden_retriever', 'traffic light']
    model = build_tiny_maple(depth=1, class_names=names)
    clip = model.backbone
    sentences = [f'a photo of a {n.replace("_", " ")}.' for n in names]
    with torch.no_grad():
        ours = model.text_features(model.prompt_learner())
        theirs = F.normalize(clip.clip.encode_text(clip.tokenize(sentences)), dim=-1)
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)


def test_fast_paths_are_active_on_the_pinned_open_clip():
    """A fallback passes every parity test above, only 3-10x slower: catch it here.

    (ViT-B/16 itself is checked in tests/test_models/test_clip.py.)
    """
    with warnings.catch_warnings():
        warnings.simplefilter('error', SlowPathWarning)
        model = build_tiny_maple(class_names=['dog', 'cat'])
    assert fast_path_fallbacks(model.backbone.clip) == []


def test_a_clip_without_the_fast_paths_warns_and_still_agrees():
    from mmpretrain.registry import MODELS
    cfg = dict(TINY_CLIP_CFG, text_cfg=dict(TINY_CLIP_CFG['text_cfg'], no_causal_mask=True))
    with pytest.warns(
            SlowPathWarning, match=r'MaPLe runs without the fast paths for text '
            r'\(causal mask'):
        model = MODELS.build(
            dict(
                type='MaPLe',
                backbone=dict(type='OpenCLIPBackbone', model_cfg=cfg),
                prompt_learner=dict(depth=2),
                class_names=['dog', 'cat']))
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        fast, reference = both_paths(model, lambda: model.logits(images))
    assert relative_error(fast, reference) < 1e-5

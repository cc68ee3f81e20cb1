"""Sanity checks of the reference-trainer transcriptions in tests/reference_trainers.py.

Each transcription is checked against open_clip's own forward (with the prompt
tokens spliced in through small module wrappers), against zero-shot CLIP where a
method degenerates to it, and against the other transcriptions where two
methods coincide (MaPLe = IVLP with projected prompts, VPT = IVLP's vision side).
"""
import copy

import open_clip
import pytest
import torch
from torch import nn

from maple_mm.datasets.catalog import BENCHMARKS
from maple_mm.models import TINY_CLIP_CFG
from tests import reference_trainers as rt

CLASSES = ['dog', 'golden_retriever', 'sea turtle', 'aircraft carrier']
EXACT = dict(rtol=0, atol=1e-6)


@pytest.fixture(scope='module')
def clip():
    torch.manual_seed(0)
    return open_clip.CLIP(**TINY_CLIP_CFG).eval().requires_grad_(False)


@pytest.fixture(scope='module')
def tokenizer():
    return open_clip.tokenizer.SimpleTokenizer()


@pytest.fixture(scope='module')
def images():
    return torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(1))


def word_embeddings(clip, tokenizer, words, n):
    """Token embeddings of positions 1..n of ``words`` (what ctx_init initialises)."""
    return clip.token_embedding(tokenizer([words]))[0, 1:1 + n].detach().clone()


# -- open_clip with spliced prompts: an independent way to compute the same ----------------
class SpliceEmbedding(nn.Module):
    """Token embedding whose positions 1..n are replaced by ``ctx``."""

    def __init__(self, embedding, ctx):
        super().__init__()
        self.embedding, self.ctx = embedding, ctx

    def forward(self, ids):
        out = self.embedding(ids).clone()
        out[:, 1:1 + self.ctx.shape[0]] = self.ctx
        return out


class AppendTokens(nn.Module):
    """Stands in for patch_dropout (after the positional embedding, before ln_pre)."""

    def __init__(self, tokens):
        super().__init__()
        self.tokens = tokens

    def forward(self, x):
        return torch.cat([x, self.tokens.expand(x.shape[0], -1, -1)], dim=1)


class ReplaceTokens(nn.Module):
    """A block that first overwrites its prompt positions."""

    def __init__(self, block, tokens, text):
        super().__init__()
        self.block, self.tokens, self.text = block, tokens, text

    def forward(self, x, attn_mask=None):
        x = x.clone()
        n = self.tokens.shape[0]
        if self.text:
            x[:, 1:1 + n] = self.tokens
        else:
            x[:, -n:] = self.tokens
        return self.block(x, attn_mask=attn_mask)


def prompted_clip(clip, text_ctx=None, text_deep=(), vision=None, vision_deep=()):
    model = copy.deepcopy(clip)
    if text_ctx is not None:
        model.token_embedding = SpliceEmbedding(model.token_embedding, text_ctx)
    for k, tokens in enumerate(text_deep, start=1):
        blocks = model.transformer.resblocks
        blocks[k] = ReplaceTokens(blocks[k], tokens, text=True)
    if vision is not None:
        model.visual.patch_dropout = AppendTokens(vision)
    for k, tokens in enumerate(vision_deep, start=1):
        blocks = model.visual.transformer.resblocks
        blocks[k] = ReplaceTokens(blocks[k], tokens, text=False)
    return model


def clip_logits(model, tokenizer, images, prompts):
    image = model.encode_image(images, normalize=True)
    text = model.encode_text(tokenizer(prompts), normalize=True)
    return model.logit_scale.exp() * image @ text.t()


def rounded(t):
    return t.half().float()


# -- the towers and zero-shot CLIP ----------------------------------------------------------
def test_unprompted_towers_are_open_clips(clip, tokenizer, images):
    tokens = tokenizer(['a photo of a dog.', 'x'])
    torch.testing.assert_close(rt._image_features(clip, images), clip.encode_image(images), **EXACT)
    torch.testing.assert_close(
        rt._text_features(clip, tokens, clip.token_embedding(tokens)), clip.encode_text(tokens),
        **EXACT)


def test_zero_shot_templates(clip, tokenizer, images):
    assert set(rt.CUSTOM_TEMPLATES) == set(BENCHMARKS) == set(rt.REFERENCE_DATASET_NAMES)
    assert rt.CUSTOM_TEMPLATES['dtd'] == '{} texture.'
    assert len(rt.IMAGENET_TEMPLATES) == len(set(rt.IMAGENET_TEMPLATES)) == 80
    assert set(rt.IMAGENET_TEMPLATES_SELECT) < set(rt.IMAGENET_TEMPLATES)
    assert rt.zsclip2_templates('imagenet') == rt.IMAGENET_TEMPLATES_SELECT
    assert rt.zsclip2_templates(
        'eurosat') == rt.IMAGENET_TEMPLATES_SELECT + ['a centered satellite photo of {}.']
    assert len(rt.zsclip2_templates('eurosat')) == 8  # built twice: no accumulation

    one = rt.zsclip_logits(clip, tokenizer, images, CLASSES, 'a photo of a {}.')
    prompts = ['a photo of a ' + c.replace('_', ' ') + '.' for c in CLASSES]
    torch.testing.assert_close(one, clip_logits(clip, tokenizer, images, prompts), **EXACT)
    torch.testing.assert_close(
        rt.zsclip_logits(clip, tokenizer, images, CLASSES, ['a photo of a {}.']), one, **EXACT)
    pair = ['a photo of a {}.', 'itap of a {}.']
    feats = [
        clip.encode_text(
            tokenizer([t.format(c.replace('_', ' ')) for c in CLASSES]), normalize=True)
        for t in pair
    ]
    text = nn.functional.normalize(feats[0] + feats[1], dim=-1)
    expected = 100 * clip.encode_image(images, normalize=True) @ text.t()
    torch.testing.assert_close(
        rt.zsclip_logits(clip, tokenizer, images, CLASSES, pair),
        expected * clip.logit_scale.exp() / 100, **EXACT)


# -- CoOp -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    'init,position,template',
    [
        ('a photo of a', 'end', 'a photo of a {}.'),
        ('a photo of a', 'front', '{} a photo of a.'),
        ('a photo of a', 'middle', 'a photo {} of a.'),
        ('a_photo_of', 'middle', 'a {} photo of.'),  # the context splits at n_ctx // 2
    ])
def test_coop_with_the_init_words_is_zero_shot(clip, tokenizer, images, init, position, template):
    words = init.replace('_', ' ')
    ctx = word_embeddings(clip, tokenizer, words, len(words.split(' ')))
    logits = rt.coop_logits(
        clip,
        tokenizer,
        {'prompt_learner.ctx': ctx},
        images,
        CLASSES,
        n_ctx=16,
        ctx_init=init,
        csc=True,  # both unused with ctx_init
        class_token_position=position)
    torch.testing.assert_close(logits, rt.zsclip_logits(clip, tokenizer, images, CLASSES, template),
                               **EXACT)


def test_coop_name_length_counts_the_merged_final_token(clip, tokenizer, images):
    # Alone "crane (bird)" is 4 tokens; before "." its last one is the merged ")."
    # token, so front / middle move ")." with the name and the prompt ends without ".".
    names = ['crane (bird)']
    ref = {'prompt_learner.ctx': word_embeddings(clip, tokenizer, 'a photo of a', 4)}
    for position, template in [('front', '{}. a photo of a'), ('middle', 'a photo {}. of a')]:
        logits = rt.coop_logits(
            clip,
            tokenizer,
            ref,
            images,
            names,
            ctx_init='a photo of a',
            class_token_position=position)
        torch.testing.assert_close(logits, rt.zsclip_logits(clip, tokenizer, images, names,
                                                            template), **EXACT)


def test_coop_random_context_and_class_specific(clip, tokenizer, images):
    ref = rt.coop_reference_state_dict(clip, tokenizer, CLASSES, n_ctx=3, seed=2)
    assert set(ref) == {
        'prompt_learner.ctx', 'prompt_learner.token_prefix', 'prompt_learner.token_suffix'
    }
    assert ref['prompt_learner.ctx'].dtype == torch.float16
    assert ref['prompt_learner.token_suffix'].shape == (len(CLASSES), 77 - 1 - 3, 32)
    logits = rt.coop_logits(clip, tokenizer, ref, images, CLASSES, n_ctx=3)
    ctx = ref['prompt_learner.ctx'].float()
    prompts = ['X X X ' + c.replace('_', ' ') + '.' for c in CLASSES]
    torch.testing.assert_close(logits,
                               clip_logits(prompted_clip(clip, ctx), tokenizer, images, prompts),
                               **EXACT)

    csc = rt.coop_reference_state_dict(clip, tokenizer, CLASSES, n_ctx=3, csc=True, seed=3)
    assert csc['prompt_learner.ctx'].shape == (len(CLASSES), 3, 32)
    logits = rt.coop_logits(clip, tokenizer, csc, images, CLASSES, n_ctx=3, csc=True)
    for j in range(len(CLASSES)):
        shared = {'prompt_learner.ctx': csc['prompt_learner.ctx'][j]}
        torch.testing.assert_close(
            logits[:, j],
            rt.coop_logits(clip, tokenizer, shared, images, CLASSES, 3)[:, j], **EXACT)
    assert rt.coop_trained_names() == ['prompt_learner.ctx']


# -- CoCoOp -----------------------------------------------------------------------------------
def test_cocoop_adds_the_meta_net_bias_per_image(clip, tokenizer, images):
    ref = rt.cocoop_reference_state_dict(clip, tokenizer, CLASSES, seed=4)
    assert ref['prompt_learner.meta_net.linear1.weight'].shape == (2, 32)  # 32 // 16
    assert ref['prompt_learner.meta_net.linear2.weight'].shape == (32, 2)
    assert sorted(k for k in ref if 'token_' not in k) == sorted(rt.cocoop_trained_names())
    logits = rt.cocoop_logits(clip, tokenizer, ref, images, CLASSES)

    meta = nn.Sequential(nn.Linear(32, 2), nn.ReLU(), nn.Linear(2, 32))
    meta.load_state_dict({
        k.replace('prompt_learner.meta_net.', '').replace('linear1', '0').replace('linear2', '2'):
        v.float()
        for k, v in ref.items() if 'meta_net' in k
    })
    ctx = ref['prompt_learner.ctx'].float()
    prompts = ['a photo of a ' + c.replace('_', ' ') + '.' for c in CLASSES]
    for i in range(images.shape[0]):
        bias = meta(clip.encode_image(images[i:i + 1], normalize=True))
        model = prompted_clip(clip, ctx + bias)
        torch.testing.assert_close(
            logits[i:i + 1],
            clip_logits(model, tokenizer, images[i:i + 1], prompts),
            rtol=0,
            atol=2e-5)

    # A meta-net that outputs zero leaves CoOp with the same context.
    zero = dict(ref, **{k: torch.zeros_like(v) for k, v in ref.items() if 'linear2' in k})
    coop = {'prompt_learner.ctx': ref['prompt_learner.ctx']}
    torch.testing.assert_close(
        rt.cocoop_logits(clip, tokenizer, zero, images, CLASSES),
        rt.coop_logits(clip, tokenizer, coop, images, CLASSES, ctx_init='a photo of a'), **EXACT)


# -- VPT --------------------------------------------------------------------------------------
def test_vpt_is_open_clip_with_appended_and_replaced_tokens(clip, tokenizer, images):
    ref = rt.vpt_reference_state_dict(clip, n_ctx_vision=3, depth_vision=3, seed=5)
    assert list(ref) == rt.vpt_trained_names(clip, 3) == [
        'image_encoder.VPT', 'image_encoder.transformer.resblocks.1.VPT_shallow',
        'image_encoder.transformer.resblocks.2.VPT_shallow'
    ]
    assert all(v.dtype == torch.float32 and torch.equal(rounded(v), v) for v in ref.values())
    prompts = ['a photo of a ' + c.replace('_', ' ') + '.' for c in CLASSES]
    deep = [ref[f'image_encoder.transformer.resblocks.{i}.VPT_shallow'] for i in (1, 2)]
    model = prompted_clip(clip, vision=ref['image_encoder.VPT'], vision_deep=deep)
    logits = rt.vpt_logits(clip, tokenizer, ref, images, CLASSES, 3, 3)
    torch.testing.assert_close(logits, clip_logits(model, tokenizer, images, prompts), **EXACT)

    # Depth 1: a shallow prompt only; the deep tokens matter.
    shallow = {'image_encoder.VPT': ref['image_encoder.VPT']}
    one = rt.vpt_logits(clip, tokenizer, shallow, images, CLASSES, 3, 1)
    model = prompted_clip(clip, vision=ref['image_encoder.VPT'])
    torch.testing.assert_close(one, clip_logits(model, tokenizer, images, prompts), **EXACT)
    assert (one - logits).abs().max() > 1e-2
    # A depth beyond the number of blocks (4 here) prompts every block.
    assert rt.vpt_trained_names(clip, 12) == rt.vpt_trained_names(clip, 4)

    # The .half() of the reference is transcribed: unrounded tokens are rounded.
    raw = {
        k: torch.randn(v.shape, generator=torch.Generator().manual_seed(6)) * 0.5
        for k, v in shallow.items()
    }
    unrounded = prompted_clip(clip, vision=raw['image_encoder.VPT'])
    halved = prompted_clip(clip, vision=rounded(raw['image_encoder.VPT']))
    theirs = rt.vpt_logits(clip, tokenizer, raw, images, CLASSES, 3, 1)
    torch.testing.assert_close(theirs, clip_logits(halved, tokenizer, images, prompts), **EXACT)
    assert not torch.equal(theirs, clip_logits(unrounded, tokenizer, images, prompts))


def test_deep_prompts_are_rounded_to_fp16(clip, tokenizer, images):
    gen = torch.Generator().manual_seed(13)
    ref = rt.ivlp_reference_state_dict(clip, tokenizer, CLASSES, 2, 2, 2, 2, seed=14)
    deep_text = 'text_encoder.transformer.resblocks.1.VPT_shallow'
    deep_vision = 'image_encoder.transformer.resblocks.1.VPT_shallow'
    raw = dict(ref,
               **{k: torch.randn(ref[k].shape, generator=gen)
                  for k in (deep_text, deep_vision)})
    theirs = rt.ivlp_logits(clip, tokenizer, raw, images, CLASSES, 2, 2, 2, 2)
    prompts = ['a photo of a ' + c.replace('_', ' ') + '.' for c in CLASSES]
    for cast in (rounded, lambda t: t):
        model = prompted_clip(
            clip,
            text_ctx=ref['prompt_learner.ctx'].float(),
            text_deep=[cast(raw[deep_text])],
            vision=ref['image_encoder.VPT'],
            vision_deep=[cast(raw[deep_vision])])
        close = torch.allclose(
            theirs, clip_logits(model, tokenizer, images, prompts), rtol=0, atol=1e-6)
        assert close == (cast is rounded)


# -- IVLP and language-only prompting ---------------------------------------------------------
def test_ivlp_text_and_vision_prompts(clip, tokenizer, images):
    ref = rt.ivlp_reference_state_dict(
        clip,
        tokenizer,
        CLASSES,
        n_ctx_text=2,
        n_ctx_vision=3,
        depth_text=3,
        depth_vision=2,
        seed=7)
    names = rt.ivlp_trained_names(clip, depth_text=3, depth_vision=2)
    assert names == [
        'prompt_learner.ctx', 'image_encoder.VPT',
        'image_encoder.transformer.resblocks.1.VPT_shallow',
        'text_encoder.transformer.resblocks.1.VPT_shallow',
        'text_encoder.transformer.resblocks.2.VPT_shallow'
    ]
    assert list(ref)[:len(names)] == names
    assert ref['prompt_learner.ctx'].dtype == torch.float16
    assert ref['text_encoder.transformer.resblocks.1.VPT_shallow'].shape == (2, 32)
    assert ref['image_encoder.VPT'].shape == (3, 48)
    logits = rt.ivlp_logits(
        clip,
        tokenizer,
        ref,
        images,
        CLASSES,
        n_ctx_text=2,
        n_ctx_vision=3,
        depth_text=3,
        depth_vision=2)
    model = prompted_clip(
        clip,
        text_ctx=ref['prompt_learner.ctx'].float(),
        text_deep=[ref[f'text_encoder.transformer.resblocks.{i}.VPT_shallow'] for i in (1, 2)],
        vision=ref['image_encoder.VPT'],
        vision_deep=[ref['image_encoder.transformer.resblocks.1.VPT_shallow']])
    # n_ctx_text <= 4: the whole init phrase stays; ctx covers "a photo".
    prompts = ['a photo of a ' + c.replace('_', ' ') + '.' for c in CLASSES]
    torch.testing.assert_close(logits, clip_logits(model, tokenizer, images, prompts), **EXACT)

    # More than 4 text tokens: "X X X X X <name>.", ctx_init unused.
    many = rt.ivlp_reference_state_dict(
        clip,
        tokenizer,
        CLASSES,
        n_ctx_text=5,
        n_ctx_vision=2,
        depth_text=1,
        depth_vision=1,
        seed=8)
    model = prompted_clip(
        clip, text_ctx=many['prompt_learner.ctx'].float(), vision=many['image_encoder.VPT'])
    prompts = ['X X X X X ' + c.replace('_', ' ') + '.' for c in CLASSES]
    torch.testing.assert_close(
        rt.ivlp_logits(clip, tokenizer, many, images, CLASSES, 5, 2, 1, 1),
        clip_logits(model, tokenizer, images, prompts), **EXACT)


def test_language_only_prompting(clip, tokenizer, images):
    ref = rt.ivlp_reference_state_dict(
        clip,
        tokenizer,
        CLASSES,
        n_ctx_text=4,
        n_ctx_vision=0,
        depth_text=12,
        depth_vision=0,
        seed=9)
    assert not any(k.startswith('image_encoder.') for k in ref)
    assert rt.ivlp_trained_names(
        clip, 12,
        0) == ['prompt_learner.ctx'
               ] + [f'text_encoder.transformer.resblocks.{i}.VPT_shallow' for i in (1, 2, 3)]
    logits = rt.ivlp_logits(clip, tokenizer, ref, images, CLASSES, 4, 0, 12, 0)
    model = prompted_clip(
        clip,
        text_ctx=ref['prompt_learner.ctx'].float(),
        text_deep=[ref[f'text_encoder.transformer.resblocks.{i}.VPT_shallow'] for i in (1, 2, 3)])
    prompts = ['a photo of a ' + c.replace('_', ' ') + '.' for c in CLASSES]
    torch.testing.assert_close(logits, clip_logits(model, tokenizer, images, prompts), **EXACT)

    # Depth 1 with the init words as context is zero-shot CLIP.
    init = {'prompt_learner.ctx': word_embeddings(clip, tokenizer, 'a photo of a', 4)}
    torch.testing.assert_close(
        rt.ivlp_logits(clip, tokenizer, init, images, CLASSES, 4, 0, 1, 0),
        rt.zsclip_logits(clip, tokenizer, images, CLASSES, 'a photo of a {}.'), **EXACT)


def test_vpt_is_ivlp_vision_side(clip, tokenizer, images):
    vpt = rt.vpt_reference_state_dict(clip, n_ctx_vision=2, depth_vision=4, seed=10)
    ivlp = dict(vpt, **{'prompt_learner.ctx': word_embeddings(clip, tokenizer, 'a photo of a', 4)})
    torch.testing.assert_close(
        rt.ivlp_logits(clip, tokenizer, ivlp, images, CLASSES, 4, 2, 1, 4),
        rt.vpt_logits(clip, tokenizer, vpt, images, CLASSES, 2, 4), **EXACT)


# -- MaPLe ------------------------------------------------------------------------------------
def test_maple_is_ivlp_with_projected_prompts(clip, tokenizer, images):
    depth = 3
    ref = rt.maple_reference_state_dict(clip, tokenizer, CLASSES, n_ctx=2, depth=depth, seed=11)
    assert sorted(k for k in ref if 'token_' not in k) == sorted(rt.maple_trained_names(depth))
    assert ref['prompt_learner.proj.weight'].dtype == torch.float16
    assert ref['prompt_learner.compound_prompt_projections.0.weight'].dtype == torch.float32

    def project(x, name):
        return x @ ref[name + '.weight'].float().t() + ref[name + '.bias'].float()

    ctx = ref['prompt_learner.ctx'].float()
    ivlp = {'prompt_learner.ctx': ctx, 'image_encoder.VPT': project(ctx, 'prompt_learner.proj')}
    for i in range(depth - 1):
        text = ref[f'prompt_learner.compound_prompts_text.{i}']
        vision = project(text, f'prompt_learner.compound_prompt_projections.{i}')
        # Everything the reference casts with .half() is fp16-representable.
        assert torch.equal(rounded(text), text) and torch.equal(rounded(vision), vision)
        ivlp[f'text_encoder.transformer.resblocks.{i + 1}.VPT_shallow'] = text
        ivlp[f'image_encoder.transformer.resblocks.{i + 1}.VPT_shallow'] = vision
    assert torch.equal(rounded(ivlp['image_encoder.VPT']), ivlp['image_encoder.VPT'])
    logits = rt.maple_logits(clip, tokenizer, ref, images, CLASSES, 2, depth)
    torch.testing.assert_close(
        logits, rt.ivlp_logits(clip, tokenizer, ivlp, images, CLASSES, 2, 2, depth, depth), **EXACT)

    # Deep prompts beyond the last block exist but are unused.
    deeper = rt.maple_reference_state_dict(clip, tokenizer, CLASSES, 2, depth=9, seed=12)
    assert len(rt.maple_trained_names(9)) == 3 + 8 * 3
    trimmed = {
        k: v
        for k, v in deeper.items() if not any(f'.{i}' in k for i in range(3, 8)) or 'token_' in k
    }
    torch.testing.assert_close(
        rt.maple_logits(clip, tokenizer, deeper, images, CLASSES, 2, 9),
        rt.maple_logits(clip, tokenizer, trimmed, images, CLASSES, 2, 4), **EXACT)


def test_dassl_saved_state_dicts(clip, tokenizer):
    coop = rt.coop_reference_state_dict(clip, tokenizer, CLASSES, n_ctx=4)
    assert set(rt.dassl_saved_state_dict('coop', coop)) == {'ctx', 'token_prefix', 'token_suffix'}
    maple = rt.maple_reference_state_dict(clip, tokenizer, CLASSES, n_ctx=2, depth=2)
    saved = rt.dassl_saved_state_dict('maple', maple, clip)
    assert saved['image_encoder.conv1.weight'].dtype == torch.float16
    assert saved['image_encoder.class_embedding'].dtype == torch.float32
    assert saved['text_encoder.transformer.resblocks.0.attn.in_proj_weight'].dtype == \
        torch.float16
    assert saved['text_encoder.ln_final.weight'].dtype == torch.float32
    assert saved['logit_scale'].dtype == torch.float32
    assert not any('token_embedding' in k for k in saved)
    vpt = rt.dassl_saved_state_dict('vpt', rt.vpt_reference_state_dict(clip, 2, 2), clip)
    assert {v.dtype for v in vpt.values()} == {torch.float32}
    assert rt.DASSL_MODEL_NAMES['maple'] == 'MultiModalPromptLearner'

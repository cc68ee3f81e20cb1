"""Literal, independent transcriptions of the reference trainers' forward passes.

The reference is github.com/muzairkhattak/multimodal-prompt-learning (Dassl code
base; its ``trainers/`` and the forked CLIP in ``clip/model.py``). For every method
it ships (zero-shot CLIP, CoOp, CoCoOp, VPT, IVLP / language-only prompting,
MaPLe) this module re-states, in plain batch-first fp32 code written against the
modules of an ``open_clip.CLIP``, what the reference computes at test time, so
that maple_mm's implementations (and checkpoint converters) can be compared with
it on random weights. Nothing here is imported by ``maple_mm``.

Conventions
-----------
* ``clip`` is an ``open_clip.CLIP`` (ViT image tower, or a ModifiedResNet one for
  the methods that prompt only the text; fp32); ``tokenizer`` is
  ``open_clip.tokenizer.SimpleTokenizer()`` (the BPE of OpenAI's
  ``clip.tokenize``; it truncates over-long prompts where the reference raises).
* ``ref`` is the reference model's state dict under the REFERENCE's key names,
  as ``CustomCLIP.state_dict()`` names them ('prompt_learner.ctx',
  'prompt_learner.meta_net.linear1.weight', 'image_encoder.VPT',
  'image_encoder.transformer.resblocks.3.VPT_shallow', ...). Only the learned
  tensors are read; the saved ``token_prefix`` / ``token_suffix`` buffers are
  ignored, as the reference's ``load_model`` ignores them: they are rebuilt
  from ``classnames`` and the prompt text. Frozen-CLIP entries of a whole saved
  model ('image_encoder.conv1.weight', ...) are ignored too: the frozen CLIP is
  ``clip``. Tensors may be fp16 (as the shipped fp16 configs save them); they are
  read as fp32. A state dict whose learned keys do not match the configuration
  (n_ctx, depth, csc ...) given to a ``*_logits`` function raises.
* Class names: ``name.replace('_', ' ')``. Logits: ``exp(logit_scale)`` times
  the cosine of the L2-normalised image and text features, (batch, n_cls).

fp16 casts
----------
The reference casts prompt tokens with ``.half()`` inside the forward even when
the rest of the model runs in fp32: the input-level vision prompts (clip/model.py
405 for VPT/IVLP, 457 for MaPLe) and every deep replacement (238 and 249 for
VPT/IVLP, 306 and 323 for MaPLe). The casts are transcribed literally here: the
tensor is ``.half()``-ed and ``torch.cat`` with the fp32 sequence promotes it
back, i.e. it is rounded to fp16. The input-level text context (CoOp, CoCoOp,
IVLP, MaPLe) is not cast.

maple_mm computes in fp32 without that rounding. So that both agree exactly,
the ``*_reference_state_dict`` builders below only produce values on which the
rounding is a no-op: every tensor that is ``.half()``-cast (VPT / VPT_shallow
tokens, MaPLe's deep text prompts) holds fp16-representable values, and MaPLe's
projections, whose OUTPUTS are cast, are drawn on a coarse dyadic grid
(inputs k/16, weights m/16, biases b/256, small integers) so that the fp32
matrix product is exact and the projected prompts are fp16-representable too.
All other values are fp16-representable as well, so that the fp16 and fp32
``prec`` variants of a state dict hold the same numbers.

The ``prec`` argument of the builders only sets the dtypes the reference saves
with that TRAINER.<X>.PREC: with 'fp16' (every shipped config) CLIP is fp16 and
``ctx``, the token buffers, CoCoOp's meta-net and MaPLe's ``proj`` are fp16;
VPT / VPT_shallow tokens and MaPLe's deep prompts and projections are always
fp32; VPT converts the whole model to fp32 (trainers/vpt.py:41); MaPLe's ``proj``
is fp16 whatever the precision (trainers/maple.py:104).
"""
from typing import Dict, List, Optional, Sequence, Union

import torch
from open_clip.zero_shot_metadata import OPENAI_IMAGENET_TEMPLATES, SIMPLE_IMAGENET_TEMPLATES

PL = 'prompt_learner.'

# -- zero-shot templates ----------------------------------------------------------------
#: trainers/zsclip.py CUSTOM_TEMPLATES, under maple_mm's dataset keys.
CUSTOM_TEMPLATES: Dict[str, str] = {
    'imagenet': 'a photo of a {}.',
    'caltech101': 'a photo of a {}.',
    'oxford_pets': 'a photo of a {}, a type of pet.',
    'stanford_cars': 'a photo of a {}.',
    'oxford_flowers': 'a photo of a {}, a type of flower.',
    'food101': 'a photo of {}, a type of food.',
    'fgvc_aircraft': 'a photo of a {}, a type of aircraft.',
    'sun397': 'a photo of a {}.',
    'dtd': '{} texture.',
    'eurosat': 'a centered satellite photo of {}.',
    'ucf101': 'a photo of a person doing {}.',
    'imagenetv2': 'a photo of a {}.',
    'imagenet_sketch': 'a photo of a {}.',
    'imagenet_a': 'a photo of a {}.',
    'imagenet_r': 'a photo of a {}.',
}

#: cfg.DATASET.NAME of the reference (configs/datasets/<key>.yaml) for each key.
REFERENCE_DATASET_NAMES: Dict[str, str] = {
    'imagenet': 'ImageNet',
    'caltech101': 'Caltech101',
    'oxford_pets': 'OxfordPets',
    'stanford_cars': 'StanfordCars',
    'oxford_flowers': 'OxfordFlowers',
    'food101': 'Food101',
    'fgvc_aircraft': 'FGVCAircraft',
    'sun397': 'SUN397',
    'dtd': 'DescribableTextures',
    'eurosat': 'EuroSAT',
    'ucf101': 'UCF101',
    'imagenetv2': 'ImageNetV2',
    'imagenet_sketch': 'ImageNetSketch',
    'imagenet_a': 'ImageNetA',
    'imagenet_r': 'ImageNetR',
}

#: The 80 templates of OpenAI's ImageNet notebook (trainers/imagenet_templates.py
#: IMAGENET_TEMPLATES, same order), and the 7 "selected" ones that the reference's
#: ensemble trainer ZeroshotCLIP2 actually uses (IMAGENET_TEMPLATES_SELECT).
#: open_clip ships both lists, in the same order.
IMAGENET_TEMPLATES: List[str] = [t('{}') for t in OPENAI_IMAGENET_TEMPLATES]
IMAGENET_TEMPLATES_SELECT: List[str] = [t('{}') for t in SIMPLE_IMAGENET_TEMPLATES]


def zsclip2_templates(dataset: str) -> List[str]:
    """The template list of the reference's ZeroshotCLIP2 for ``dataset``, built once.

    The 7 selected ImageNet templates, plus the dataset's own template unless the
    dataset is ImageNet (zsclip.py:82-83). The reference extends the shared
    module-level list in place, so every further build in the same process adds
    one more template; that accumulation is not reproduced here.
    """
    templates = list(IMAGENET_TEMPLATES_SELECT)
    if dataset != 'imagenet':
        templates.append(CUSTOM_TEMPLATES[dataset])
    return templates


# -- shared pieces: the two towers with prompt splicing ------------------------------------
def _names(classnames: Sequence[str]) -> List[str]:
    return [name.replace('_', ' ') for name in classnames]


def _half(x: torch.Tensor) -> torch.Tensor:
    """The reference's ``.half()`` cast: values rounded to fp16 (promoted back by ``torch.cat``).

    Gradients pass unrounded, as an fp32 transcription of the backward pass
    (the successors' parity tests compare gradients).
    """
    return x + (x.half().float() - x).detach()


def _project_text(clip, x: torch.Tensor) -> torch.Tensor:
    if isinstance(clip.text_projection, torch.nn.Linear):
        return clip.text_projection(x)
    return x @ clip.text_projection


def _text_features(clip,
                   tokens: torch.Tensor,
                   prompts: torch.Tensor,
                   deep=(),
                   n_ctx: int = 0) -> torch.Tensor:
    """The reference TextEncoder on prompt embeddings (n, L, width).

    Before text block k (1 <= k <= len(deep)) positions 1..n_ctx are replaced by
    ``deep[k - 1]`` (cast with ``.half()``, as clip/model.py:249 / 323 do).
    """
    x = prompts + clip.positional_embedding
    n = x.shape[0]
    for k, block in enumerate(clip.transformer.resblocks):
        if 1 <= k <= len(deep):
            x = torch.cat([x[:, :1], _half(deep[k - 1]).expand(n, -1, -1), x[:, 1 + n_ctx:]], dim=1)
        x = block(x, attn_mask=clip.attn_mask)
    x = clip.ln_final(x)
    x = x[torch.arange(n), tokens.argmax(dim=-1)]
    return _project_text(clip, x)


def _resnet_image_features(visual, images: torch.Tensor) -> torch.Tensor:
    """The reference ModifiedResNet (clip/model.py ``ModifiedResNet.forward`` and
    ``AttentionPool2d.forward``) on the modules of open_clip's.

    The input takes the stem's dtype; three conv-BN-ReLU stem layers, a 2x2
    average pool, the four bottleneck stages (run as modules), then attention
    pooling: the spatial mean prepended as a query token, the positional
    embedding cast to the features' dtype (it stays fp32 under the reference's
    convert_weights), one multi-head attention with separate q/k/v projections,
    and the mean token's output.
    """
    x = images.type(visual.conv1.weight.dtype)
    stem = ((visual.conv1, visual.bn1), (visual.conv2, visual.bn2), (visual.conv3, visual.bn3))
    for conv, bn in stem:
        x = torch.relu(bn(conv(x)))
    x = visual.avgpool(x)
    x = visual.layer4(visual.layer3(visual.layer2(visual.layer1(x))))
    pool = visual.attnpool
    x = x.reshape(x.shape[0], x.shape[1], x.shape[2] * x.shape[3]).permute(2, 0, 1)
    x = torch.cat([x.mean(dim=0, keepdim=True), x], dim=0)
    x = x + pool.positional_embedding[:, None, :].to(x.dtype)
    x, _ = torch.nn.functional.multi_head_attention_forward(
        query=x,
        key=x,
        value=x,
        embed_dim_to_check=x.shape[-1],
        num_heads=pool.num_heads,
        q_proj_weight=pool.q_proj.weight,
        k_proj_weight=pool.k_proj.weight,
        v_proj_weight=pool.v_proj.weight,
        in_proj_weight=None,
        in_proj_bias=torch.cat([pool.q_proj.bias, pool.k_proj.bias, pool.v_proj.bias]),
        bias_k=None,
        bias_v=None,
        add_zero_attn=False,
        dropout_p=0.0,
        out_proj_weight=pool.c_proj.weight,
        out_proj_bias=pool.c_proj.bias,
        use_separate_proj_weight=True,
        training=False,
        need_weights=False)
    return x[0]


def _image_features(clip,
                    images: torch.Tensor,
                    shallow: Optional[torch.Tensor] = None,
                    deep=()) -> torch.Tensor:
    """The reference image encoder with appended (and replaced) prompt tokens.

    A ResNet image tower takes no prompts (:func:`_resnet_image_features`).

    ``shallow`` (n, width) is appended after the positional embedding and before
    ln_pre, cast with ``.half()`` (clip/model.py:405 / 457). Before vision block k
    (1 <= k <= len(deep)) the last n tokens are replaced by ``deep[k - 1]``, also
    ``.half()``-cast (238 / 306).
    """
    visual = clip.visual
    if not hasattr(visual, 'class_embedding'):  # ModifiedResNet
        assert shallow is None and not deep, 'a ResNet image tower takes no prompts'
        return _resnet_image_features(visual, images)
    batch = images.shape[0]
    y = visual.conv1(images)
    y = y.reshape(batch, y.shape[1], -1).permute(0, 2, 1)
    cls = visual.class_embedding.reshape(1, 1, -1).expand(batch, -1, -1)
    y = torch.cat([cls, y], dim=1) + visual.positional_embedding
    n = 0
    if shallow is not None:
        n = shallow.shape[0]
        y = torch.cat([y, _half(shallow).expand(batch, -1, -1)], dim=1)
    y = visual.ln_pre(y)
    for k, block in enumerate(visual.transformer.resblocks):
        if 1 <= k <= len(deep):
            y = torch.cat([y[:, :y.shape[1] - n], _half(deep[k - 1]).expand(batch, -1, -1)], dim=1)
        y = block(y)
    return visual.ln_post(y[:, 0]) @ visual.proj


def _logits(clip, image: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
    image = image / image.norm(dim=-1, keepdim=True)
    text = text / text.norm(dim=-1, keepdim=True)
    return clip.logit_scale.exp() * image @ text.t()


def _fp32(ref: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    return {k: v.float() for k, v in ref.items()}


def _num_blocks(depth: int, num_layers: int) -> range:
    """Blocks that own a deep prompt: 1 .. min(depth, num_layers) - 1."""
    return range(1, min(depth, num_layers))


def _prefix_and_n_ctx(ctx_init: str, n_ctx: int, max_init: Optional[int]):
    """Prompt prefix text and n_ctx as each prompt learner picks them.

    CoOp / CoCoOp (``max_init=None``): with ctx_init, n_ctx = its number of words.
    IVLP / MaPLe (``max_init=4``): ctx_init is used only when n_ctx <= 4 and
    n_ctx stays as configured. Otherwise the prefix is "X X ... X".
    """
    if ctx_init and (max_init is None or n_ctx <= max_init):
        text = ctx_init.replace('_', ' ')
        return text, (len(text.split(' ')) if max_init is None else n_ctx)
    return ' '.join(['X'] * n_ctx), n_ctx


def _prompt_tokens(tokenizer, prefix: str, classnames: Sequence[str]) -> torch.Tensor:
    return tokenizer([prefix + ' ' + name + '.' for name in _names(classnames)])


def _check(ref: Dict[str, torch.Tensor], expected: Sequence[str], what: str) -> None:
    """The learned tensors of ``ref`` are exactly those the config implies.

    Learned = what the reference trains ('prompt_learner' or 'VPT' in the name);
    frozen-CLIP entries of a whole saved model are ignored (``clip`` is used).
    """
    learned = sorted(
        k for k in ref
        if ('prompt_learner' in k or 'VPT' in k) and not k.endswith(('token_prefix',
                                                                     'token_suffix')))
    if learned != sorted(expected):
        raise KeyError(f'{what}: state dict has {learned}, the config implies {sorted(expected)}')


# -- zero-shot CLIP (trainers/zsclip.py) --------------------------------------------------
def zsclip_logits(clip, tokenizer, images: torch.Tensor, classnames: Sequence[str],
                  templates: Union[str, Sequence[str]]) -> torch.Tensor:
    """ZeroshotCLIP (one template) or ZeroshotCLIP2 (a list: prompt ensemble).

    The ensemble sums the L2-normalised text features of each template, divides
    by the number of templates and L2-normalises again (zsclip.py:88-96). The
    reference's ensemble uses ``zsclip2_templates(dataset)`` (7 or 8 templates,
    not the 80); its run script only ever uses the single-template trainer.
    """
    names = _names(classnames)
    if isinstance(templates, str):
        text = clip.encode_text(tokenizer([templates.format(c) for c in names]))
        text = text / text.norm(dim=-1, keepdim=True)
    else:
        text = 0
        for template in templates:
            feats = clip.encode_text(tokenizer([template.format(c) for c in names]))
            text = text + feats / feats.norm(dim=-1, keepdim=True)
        text = text / len(templates)
        text = text / text.norm(dim=-1, keepdim=True)
    return _logits(clip, _image_features(clip, images), text)


# -- CoOp (trainers/coop.py) --------------------------------------------------------------
def coop_trained_names() -> List[str]:
    """Everything under prompt_learner that is a parameter: the context only."""
    return [PL + 'ctx']


def _coop_prompts(clip, tokenizer, ctx, classnames, n_ctx, prefix, position):
    tokens = _prompt_tokens(tokenizer, prefix, classnames)
    emb = clip.token_embedding(tokens)
    sos, suffix = emb[:, :1], emb[:, 1 + n_ctx:]
    n_cls = tokens.shape[0]
    if ctx.dim() == 2:
        ctx = ctx.unsqueeze(0).expand(n_cls, -1, -1)
    if position == 'end':
        return tokens, torch.cat([sos, ctx, suffix], dim=1)
    if position not in ('middle', 'front'):
        raise ValueError(position)
    name_lens = [len(tokenizer.encode(name)) for name in _names(classnames)]
    half = n_ctx // 2
    rows = []
    for i, name_len in enumerate(name_lens):
        name_i, rest_i = suffix[i:i + 1, :name_len], suffix[i:i + 1, name_len:]
        if position == 'middle':
            parts = [sos[i:i + 1], ctx[i:i + 1, :half], name_i, ctx[i:i + 1, half:], rest_i]
        else:
            parts = [sos[i:i + 1], name_i, ctx[i:i + 1], rest_i]
        rows.append(torch.cat(parts, dim=1))
    return tokens, torch.cat(rows, dim=0)


def coop_logits(clip,
                tokenizer,
                ref,
                images,
                classnames,
                n_ctx: int = 16,
                ctx_init: str = '',
                csc: bool = False,
                class_token_position: str = 'end') -> torch.Tensor:
    """CoOp: learned context after SOS; class token at the end, middle or front.

    With ``ctx_init`` the prompt is "<ctx_init> <name>." and n_ctx is the number
    of words of ctx_init (``csc`` is then ignored); otherwise "X X ... <name>.".
    """
    ref = _fp32(ref)
    _check(ref, coop_trained_names(), 'CoOp')
    prefix, n_ctx = _prefix_and_n_ctx(ctx_init, n_ctx, None)
    ctx = ref[PL + 'ctx']
    want = (n_ctx, ) if (ctx_init or not csc) else (len(classnames), n_ctx)
    if tuple(ctx.shape[:-1]) != want:
        raise ValueError(f'CoOp ctx is {tuple(ctx.shape)}, the config implies {want} x width')
    tokens, prompts = _coop_prompts(clip, tokenizer, ctx, classnames, n_ctx, prefix,
                                    class_token_position)
    return _logits(clip, _image_features(clip, images), _text_features(clip, tokens, prompts))


# -- CoCoOp (trainers/cocoop.py) ----------------------------------------------------------
def cocoop_trained_names() -> List[str]:
    return [PL + 'ctx'] + [
        f'{PL}meta_net.{layer}.{part}' for layer in ('linear1', 'linear2')
        for part in ('weight', 'bias')
    ]


def cocoop_logits(clip,
                  tokenizer,
                  ref,
                  images,
                  classnames,
                  n_ctx: int = 4,
                  ctx_init: str = 'a photo of a') -> torch.Tensor:
    """CoCoOp: ctx + meta_net(normalised image feature), text features per image."""
    ref = _fp32(ref)
    _check(ref, cocoop_trained_names(), 'CoCoOp')
    prefix, n_ctx = _prefix_and_n_ctx(ctx_init, n_ctx, None)
    ctx = ref[PL + 'ctx']
    assert ctx.shape[0] == n_ctx, (ctx.shape, n_ctx)
    tokens = _prompt_tokens(tokenizer, prefix, classnames)
    emb = clip.token_embedding(tokens)
    sos, suffix = emb[:, :1], emb[:, 1 + n_ctx:]
    n_cls = tokens.shape[0]

    image = _image_features(clip, images)
    image = image / image.norm(dim=-1, keepdim=True)
    hidden = torch.relu(image @ ref[PL + 'meta_net.linear1.weight'].t() +
                        ref[PL + 'meta_net.linear1.bias'])
    bias = hidden @ ref[PL + 'meta_net.linear2.weight'].t() + ref[PL + 'meta_net.linear2.bias']
    shifted = ctx.unsqueeze(0) + bias.unsqueeze(1)  # (batch, n_ctx, width)
    scale = clip.logit_scale.exp()
    rows = []
    for ctx_i, image_i in zip(shifted, image):
        prompts = torch.cat([sos, ctx_i.unsqueeze(0).expand(n_cls, -1, -1), suffix], dim=1)
        text = _text_features(clip, tokens, prompts)
        text = text / text.norm(dim=-1, keepdim=True)
        rows.append(scale * image_i @ text.t())
    return torch.stack(rows)


# -- VPT, deep vision prompting (trainers/vpt.py) ---------------------------------------------
def vpt_trained_names(clip, depth_vision: int = 12) -> List[str]:
    """Parameters whose name contains 'VPT' (there is no prompt_learner)."""
    assert depth_vision >= 1
    blocks = _num_blocks(depth_vision, len(clip.visual.transformer.resblocks))
    return ['image_encoder.VPT'
            ] + [f'image_encoder.transformer.resblocks.{i}.VPT_shallow' for i in blocks]


def _vision_prompts(ref, clip, depth_vision):
    blocks = _num_blocks(depth_vision, len(clip.visual.transformer.resblocks))
    deep = [ref[f'image_encoder.transformer.resblocks.{i}.VPT_shallow'] for i in blocks]
    return ref['image_encoder.VPT'], deep


def vpt_logits(clip,
               tokenizer,
               ref,
               images,
               classnames,
               n_ctx_vision: int = 8,
               depth_vision: int = 12) -> torch.Tensor:
    """VPT: vision prompts at the input and before blocks 1..depth-1; fixed text.

    The text side is always "a photo of a <name>." through the plain text
    encoder (CTX_INIT is not used).
    """
    ref = _fp32(ref)
    _check(ref, vpt_trained_names(clip, depth_vision), 'VPT')
    shallow, deep = _vision_prompts(ref, clip, depth_vision)
    assert shallow.shape[0] == n_ctx_vision, (shallow.shape, n_ctx_vision)
    text = clip.encode_text(_prompt_tokens(tokenizer, 'a photo of a', classnames))
    return _logits(clip, _image_features(clip, images, shallow, deep), text)


# -- IVLP and language-only prompting (trainers/independentVL.py) ------------------------------
def ivlp_trained_names(clip, depth_text: int = 12, depth_vision: int = 12) -> List[str]:
    """'prompt_learner.ctx' and every parameter whose name contains 'VPT'.

    In named_parameters() order: ctx, image_encoder.VPT, the vision blocks'
    VPT_shallow, the text blocks' VPT_shallow. With depth_vision == 0 (language
    only) the image tower has no prompt at all.
    """
    assert depth_text >= 1
    names = [PL + 'ctx']
    if depth_vision != 0:
        names.append('image_encoder.VPT')
        names += [
            f'image_encoder.transformer.resblocks.{i}.VPT_shallow'
            for i in _num_blocks(depth_vision, len(clip.visual.transformer.resblocks))
        ]
    names += [
        f'text_encoder.transformer.resblocks.{i}.VPT_shallow'
        for i in _num_blocks(depth_text, len(clip.transformer.resblocks))
    ]
    return names


def ivlp_logits(clip,
                tokenizer,
                ref,
                images,
                classnames,
                n_ctx_text: int = 2,
                n_ctx_vision: int = 2,
                depth_text: int = 12,
                depth_vision: int = 12,
                ctx_init: str = 'a photo of a') -> torch.Tensor:
    """IVLP: independent text and vision prompts, deep on both sides.

    Language-only prompting is ``n_ctx_vision=0, depth_vision=0``. Text prompt:
    "<ctx_init> <name>." when n_ctx_text <= 4 (ctx replaces positions
    1..n_ctx_text, the rest of the phrase stays), otherwise "X X ... <name>.".
    """
    ref = _fp32(ref)
    _check(ref, ivlp_trained_names(clip, depth_text, depth_vision), 'IVLP')
    prefix, n_ctx = _prefix_and_n_ctx(ctx_init, n_ctx_text, 4)
    ctx = ref[PL + 'ctx']
    assert ctx.shape[0] == n_ctx, (ctx.shape, n_ctx)
    tokens = _prompt_tokens(tokenizer, prefix, classnames)
    emb = clip.token_embedding(tokens)
    n_cls = tokens.shape[0]
    prompts = torch.cat([emb[:, :1], ctx.expand(n_cls, -1, -1), emb[:, 1 + n_ctx:]], dim=1)
    deep_text = [
        ref[f'text_encoder.transformer.resblocks.{i}.VPT_shallow']
        for i in _num_blocks(depth_text, len(clip.transformer.resblocks))
    ]
    text = _text_features(clip, tokens, prompts, deep_text, n_ctx)
    if depth_vision == 0:
        image = _image_features(clip, images)
    else:
        shallow, deep = _vision_prompts(ref, clip, depth_vision)
        assert shallow.shape[0] == n_ctx_vision, (shallow.shape, n_ctx_vision)
        image = _image_features(clip, images, shallow, deep)
    return _logits(clip, image, text)


# -- MaPLe (trainers/maple.py) ------------------------------------------------------------
def maple_trained_names(depth: int = 9) -> List[str]:
    """Every parameter under prompt_learner, in named_parameters() order."""
    assert depth >= 1
    return ([PL + 'ctx', PL + 'proj.weight', PL + 'proj.bias'] +
            [f'{PL}compound_prompts_text.{i}' for i in range(depth - 1)] + [
                f'{PL}compound_prompt_projections.{i}.{part}' for i in range(depth - 1)
                for part in ('weight', 'bias')
            ])


def maple_logits(clip,
                 tokenizer,
                 ref,
                 images,
                 classnames,
                 n_ctx: int = 2,
                 depth: int = 9,
                 ctx_init: str = 'a photo of a') -> torch.Tensor:
    """MaPLe: coupled prompts; vision prompt = proj(text prompt) at every depth.

    depth - 1 deep text prompts replace text positions 1..n_ctx before text blocks
    1..depth-1, and their projections replace the last n_ctx vision tokens
    before the same vision blocks (prompts beyond the number of blocks are unused).
    """
    ref = _fp32(ref)
    _check(ref, maple_trained_names(depth), 'MaPLe')
    prefix, n_ctx = _prefix_and_n_ctx(ctx_init, n_ctx, 4)
    ctx = ref[PL + 'ctx']
    assert ctx.shape[0] == n_ctx, (ctx.shape, n_ctx)

    def linear(x, name):
        return x @ ref[name + '.weight'].t() + ref[name + '.bias']

    deep_text = [ref[f'{PL}compound_prompts_text.{i}'] for i in range(depth - 1)]
    deep_vision = [
        linear(deep_text[i], f'{PL}compound_prompt_projections.{i}') for i in range(depth - 1)
    ]
    shallow_vision = linear(ctx, PL + 'proj')

    tokens = _prompt_tokens(tokenizer, prefix, classnames)
    emb = clip.token_embedding(tokens)
    n_cls = tokens.shape[0]
    prompts = torch.cat([emb[:, :1], ctx.expand(n_cls, -1, -1), emb[:, 1 + n_ctx:]], dim=1)
    text = _text_features(clip, tokens, prompts, deep_text, n_ctx)
    image = _image_features(clip, images, shallow_vision, deep_vision)
    return _logits(clip, image, text)


# -- random "trained" state dicts under the reference's names ---------------------------------
def _randn(gen, *shape, std: float) -> torch.Tensor:
    """Normal values rounded through fp16 (no-ops for the reference's .half())."""
    return (torch.randn(*shape, generator=gen) * std).half().float()


def _grid(gen, *shape, step: float, max_steps: int) -> torch.Tensor:
    return torch.randint(-max_steps, max_steps + 1, shape, generator=gen).float() * step


def _fp16_exact(x: torch.Tensor) -> bool:
    return torch.equal(x.half().float(), x)


def _exact_projection(gen, inputs: Sequence[torch.Tensor], out_features: int):
    """A Linear (weight, bias) whose outputs on ``inputs`` are fp16-representable.

    Inputs are multiples of 1/16, weights of 1/16 and biases of 1/256 with small
    integer numerators, so every product and partial sum is exact in fp32; draws
    are repeated until no output exceeds fp16's exact range (the first draw
    always succeeds for widths up to 62 and almost always for 512).
    """
    in_features = inputs[0].shape[-1]
    for _ in range(100):
        weight = _grid(gen, out_features, in_features, step=1 / 16, max_steps=4)
        bias = _grid(gen, out_features, step=1 / 256, max_steps=64)
        if all(_fp16_exact(x @ weight.t() + bias) for x in inputs):
            return weight, bias
    raise RuntimeError('could not draw an fp16-exact projection')


def _token_buffers(clip, tokenizer, classnames, prefix, n_ctx, dtype) -> Dict[str, torch.Tensor]:
    """What the reference registers as token_prefix / token_suffix (SOS; name, '.', EOS...)."""
    with torch.no_grad():
        emb = clip.token_embedding(_prompt_tokens(tokenizer, prefix, classnames)).to(dtype)
    return {
        PL + 'token_prefix': emb[:, :1].clone(),
        PL + 'token_suffix': emb[:, 1 + n_ctx:].clone()
    }


def _clip_dtype(prec: str) -> torch.dtype:
    assert prec in ('fp16', 'fp32', 'amp'), prec
    return torch.float16 if prec == 'fp16' else torch.float32


def coop_reference_state_dict(clip,
                              tokenizer,
                              classnames,
                              n_ctx: int = 16,
                              ctx_init: str = '',
                              csc: bool = False,
                              seed: int = 0,
                              prec: str = 'fp16') -> Dict[str, torch.Tensor]:
    """CoOp's 'prompt_learner.ctx' (+ token buffers), as CustomCLIP.state_dict() names them."""
    gen = torch.Generator().manual_seed(seed)
    dtype = _clip_dtype(prec)
    prefix, n_ctx = _prefix_and_n_ctx(ctx_init, n_ctx, None)
    width = clip.transformer.width
    shape = (len(classnames), n_ctx, width) if (csc and not ctx_init) else (n_ctx, width)
    sd = {PL + 'ctx': _randn(gen, *shape, std=0.3).to(dtype)}
    sd.update(_token_buffers(clip, tokenizer, classnames, prefix, n_ctx, dtype))
    return sd


def cocoop_reference_state_dict(clip,
                                tokenizer,
                                classnames,
                                n_ctx: int = 4,
                                ctx_init: str = 'a photo of a',
                                seed: int = 0,
                                prec: str = 'fp16') -> Dict[str, torch.Tensor]:
    """CoCoOp's ctx, meta-net (vis_dim -> vis_dim // 16 -> text width) and token buffers."""
    gen = torch.Generator().manual_seed(seed)
    dtype = _clip_dtype(prec)
    prefix, n_ctx = _prefix_and_n_ctx(ctx_init, n_ctx, None)
    width = clip.transformer.width
    vis_dim = clip.visual.output_dim  # the joint embedding width (cocoop.py: vis_dim)
    hidden = vis_dim // 16
    sd = {
        PL + 'ctx': _randn(gen, n_ctx, width, std=0.3),
        PL + 'meta_net.linear1.weight': _randn(gen, hidden, vis_dim, std=0.3),
        PL + 'meta_net.linear1.bias': _randn(gen, hidden, std=0.3),
        PL + 'meta_net.linear2.weight': _randn(gen, width, hidden, std=0.3),
        PL + 'meta_net.linear2.bias': _randn(gen, width, std=0.1),
    }
    sd = {k: v.to(dtype) for k, v in sd.items()}
    sd.update(_token_buffers(clip, tokenizer, classnames, prefix, n_ctx, dtype))
    return sd


def vpt_reference_state_dict(clip,
                             n_ctx_vision: int = 8,
                             depth_vision: int = 12,
                             seed: int = 0) -> Dict[str, torch.Tensor]:
    """VPT's image_encoder.VPT and per-block VPT_shallow tokens (fp32, fp16-representable)."""
    gen = torch.Generator().manual_seed(seed)
    width = clip.visual.transformer.width
    return {
        name: _randn(gen, n_ctx_vision, width, std=0.5)
        for name in vpt_trained_names(clip, depth_vision)
    }


def ivlp_reference_state_dict(clip,
                              tokenizer,
                              classnames,
                              n_ctx_text: int = 2,
                              n_ctx_vision: int = 2,
                              depth_text: int = 12,
                              depth_vision: int = 12,
                              ctx_init: str = 'a photo of a',
                              seed: int = 0,
                              prec: str = 'fp16') -> Dict[str, torch.Tensor]:
    """IVLP's ctx (+ token buffers) and its VPT / VPT_shallow tokens."""
    gen = torch.Generator().manual_seed(seed)
    dtype = _clip_dtype(prec)
    prefix, n_ctx = _prefix_and_n_ctx(ctx_init, n_ctx_text, 4)
    text_width = clip.transformer.width
    sd = {}
    for name in ivlp_trained_names(clip, depth_text, depth_vision):
        if name == PL + 'ctx':
            sd[name] = _randn(gen, n_ctx, text_width, std=0.3).to(dtype)
        elif name.startswith('image_encoder.'):
            sd[name] = _randn(gen, n_ctx_vision, clip.visual.transformer.width, std=0.5)
        else:
            sd[name] = _randn(gen, n_ctx, text_width, std=0.5)
    sd.update(_token_buffers(clip, tokenizer, classnames, prefix, n_ctx, dtype))
    return sd


def maple_reference_state_dict(clip,
                               tokenizer,
                               classnames,
                               n_ctx: int = 2,
                               depth: int = 9,
                               ctx_init: str = 'a photo of a',
                               seed: int = 0,
                               prec: str = 'fp16') -> Dict[str, torch.Tensor]:
    """MaPLe's prompt learner (+ token buffers), values on an fp16-exact grid.

    The reference hard-codes the widths (Linear(ctx_dim, 768), deep text prompts
    of width 512); here they are the CLIP's text and vision widths.
    """
    gen = torch.Generator().manual_seed(seed)
    dtype = _clip_dtype(prec)
    prefix, n_ctx = _prefix_and_n_ctx(ctx_init, n_ctx, 4)
    text_width, vision_width = clip.transformer.width, clip.visual.transformer.width
    ctx = _grid(gen, n_ctx, text_width, step=1 / 16, max_steps=8)
    weight, bias = _exact_projection(gen, [ctx], vision_width)
    sd = {
        PL + 'ctx': ctx.to(dtype),
        PL + 'proj.weight': weight.half(),
        PL + 'proj.bias': bias.half()
    }
    deep = [_grid(gen, n_ctx, text_width, step=1 / 16, max_steps=8) for _ in range(depth - 1)]
    for i, prompt in enumerate(deep):
        sd[f'{PL}compound_prompts_text.{i}'] = prompt
    for i, prompt in enumerate(deep):
        weight, bias = _exact_projection(gen, [prompt], vision_width)
        sd[f'{PL}compound_prompt_projections.{i}.weight'] = weight
        sd[f'{PL}compound_prompt_projections.{i}.bias'] = bias
    sd.update(_token_buffers(clip, tokenizer, classnames, prefix, n_ctx, dtype))
    return sd


# -- what Dassl writes to disk ----------------------------------------------------------------
#: Sub-folder of the output dir (the name given to register_model) per trainer;
#: the file is <output_dir>/<sub-folder>/model.pth.tar-<epoch>.
DASSL_MODEL_NAMES = {
    'coop': 'prompt_learner',
    'cocoop': 'prompt_learner',
    'vpt': 'prompt_learner',
    'ivlp': 'VLPromptLearner',
    'maple': 'MultiModalPromptLearner'
}
_FP16_IN_CLIP = ('conv1.weight', 'in_proj_weight', 'in_proj_bias', 'out_proj.weight',
                 'out_proj.bias', 'c_fc.weight', 'c_fc.bias', 'c_proj.weight', 'c_proj.bias',
                 'proj', 'text_projection')


def dassl_saved_state_dict(method: str,
                           ref: Dict[str, torch.Tensor],
                           clip=None,
                           prec: str = 'fp16') -> Dict[str, torch.Tensor]:
    """The 'state_dict' entry of the reference's checkpoint file for ``method``.

    CoOp / CoCoOp register only the prompt learner: keys lose 'prompt_learner.'.
    VPT / IVLP / MaPLe register the whole CustomCLIP: the learned tensors plus, if
    ``clip`` is given, the frozen CLIP under 'image_encoder.*', 'text_encoder.*'
    and 'logit_scale' (no token_embedding: CustomCLIP does not hold it), in the
    dtypes of the reference's convert_weights (fp32 for VPT).
    """
    if method in ('coop', 'cocoop'):
        return {k[len(PL):]: v for k, v in ref.items()}
    assert method in ('vpt', 'ivlp', 'maple'), method
    sd = dict(ref)
    if clip is None:
        return sd
    half = prec == 'fp16' and method != 'vpt'

    def frozen(key, value):
        value = value.detach().clone()
        return value.half() if half and key.endswith(_FP16_IN_CLIP) else value.float()

    sd['logit_scale'] = frozen('logit_scale', clip.logit_scale)
    for key, value in clip.visual.state_dict().items():
        sd['image_encoder.' + key] = frozen(key, value)
    for key, value in clip.transformer.state_dict().items():
        sd['text_encoder.transformer.' + key] = frozen(key, value)
    sd['text_encoder.positional_embedding'] = frozen('pe', clip.positional_embedding)
    for key, value in clip.ln_final.state_dict().items():
        sd['text_encoder.ln_final.' + key] = frozen(key, value)
    projection = clip.text_projection  # a Parameter (width, embed) in OpenAI-style CLIPs
    if isinstance(projection, torch.nn.Linear):
        projection = projection.weight.t()
    sd['text_encoder.text_projection'] = frozen('text_projection', projection)
    return sd

"""Literal, independent transcriptions of the successors' reference training forward and loss.

KgCoOp: ``KgCoOp/trainers/kgcoop.py`` of htyao89/KgCoOp (``CustomCLIP.forward``
and ``KgCoOp.forward_backward``). PromptSRC: ``trainers/promptsrc.py`` of
muzairkhattak/PromptSRC (``CustomCLIP.forward``, ``PromptSRC.forward_backward``
and its GPA). Written, like :mod:`tests.reference_trainers` (whose conventions
and tower transcriptions they share), in plain fp32 against an
``open_clip.CLIP``; ``ref`` holds the reference's learned tensors under
``CustomCLIP.state_dict()`` names. Tensors of ``ref`` that require grad get
the gradients of the returned total loss.

fp16: both references only run in fp16 as shipped. PromptSRC also casts the
frozen text features with ``.half()`` in its zero-shot logits
(``fixed_embeddings.half()``); computed features cannot be drawn fp16-exact, so
that rounding is not transcribed (the fp32 computation is the contract).
Nothing here is imported by ``maple_mm``.
"""
from typing import Dict, List, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from tests.reference_trainers import (IMAGENET_TEMPLATES, PL, _image_features, _names,
                                      _prompt_tokens, _randn, _text_features,
                                      coop_reference_state_dict)

# -- KgCoOp -----------------------------------------------------------------------------------
#: KgCoOp's CUSTOM_TEMPLATES differ from the CoOp family's (trainers/zsclip.py) for DTD only.
KGCOOP_DTD_TEMPLATE = 'a photo of a {}, a type of texture.'


def kgcoop_reference_state_dict(clip,
                                tokenizer,
                                classnames,
                                seed: int = 0,
                                prec: str = 'fp16') -> Dict[str, torch.Tensor]:
    """KgCoOp's prompt learner: CoOp's ctx from "a photo of a" (CTX_INIT: True), token
    buffers, and the ``bias_vectors`` (1, 512) and ``meta_net.linear1`` (512 -> 512) it
    creates but never uses in its forward."""
    sd = coop_reference_state_dict(
        clip, tokenizer, classnames, n_ctx=4, ctx_init='a photo of a', seed=seed, prec=prec)
    gen = torch.Generator().manual_seed(seed + 1)
    dtype = sd[PL + 'ctx'].dtype
    sd[PL + 'bias_vectors'] = _randn(gen, 1, 512, std=0.02).to(dtype)
    sd[PL + 'meta_net.linear1.weight'] = _randn(gen, 512, 512, std=0.02).to(dtype)
    sd[PL + 'meta_net.linear1.bias'] = _randn(gen, 512, std=0.02).to(dtype)
    return sd


def kgcoop_forward(clip,
                   tokenizer,
                   ref,
                   images,
                   classnames,
                   labels,
                   template: str,
                   weight: float = 8.0) -> Dict[str, torch.Tensor]:
    """Logits, CE, the score ``1 - mean cos`` and ``CE + W * score`` of one training batch.

    CTX_INIT: True makes the prompt "a photo of a <name>." with the context at
    positions 1..4 (kgcoop.py: ``temp = 'a photo of a'`` whatever CTX_INIT says).
    The frozen features are ``encode_text`` of ``template`` per class, normalised.
    """
    ctx = ref[PL + 'ctx'].float()
    n_ctx = 4
    tokens = _prompt_tokens(tokenizer, 'a photo of a', classnames)
    emb = clip.token_embedding(tokens)
    n_cls = tokens.shape[0]
    prompts = torch.cat([emb[:, :1], ctx.expand(n_cls, -1, -1), emb[:, 1 + n_ctx:]], dim=1)
    text = _text_features(clip, tokens, prompts)
    image = _image_features(clip, images)
    with torch.no_grad():
        old = clip.encode_text(tokenizer([template.format(c) for c in _names(classnames)]))
        old = old / old.norm(dim=-1, keepdim=True)
    image = image / image.norm(dim=-1, keepdim=True)
    text = text / text.norm(dim=-1, keepdim=True)
    logits = clip.logit_scale.exp() * image @ text.t()
    cos = torch.nn.CosineSimilarity(dim=1, eps=1e-07)
    score = 1.0 - torch.mean(cos(text, old / old.norm(dim=-1, keepdim=True)))
    ce = F.cross_entropy(logits, labels)
    return dict(logits=logits, ce=ce, score=score, loss=ce + weight * score)


# -- PromptSRC --------------------------------------------------------------------------------
#: trainers/imagenet_templates.py IMAGENET_TEMPLATES of PromptSRC: 60 templates, "a photo
#: of a {}." first, then the first 60 of OpenAI's 80 without it, in order.
PROMPTSRC_TEMPLATES: List[str] = ['a photo of a {}.'] + [
    t for t in IMAGENET_TEMPLATES[:60] if t != 'a photo of a {}.'
]


def promptsrc_frozen_text(clip,
                          tokenizer,
                          classnames,
                          templates: Sequence[str] = PROMPTSRC_TEMPLATES) -> torch.Tensor:
    """``fixed_embeddings``: the mean over templates of the UN-normalised features, normalised."""
    with torch.no_grad():
        feats = [
            clip.encode_text(tokenizer([t.replace('{}', c)
                                        for c in _names(classnames)])).unsqueeze(1)
            for t in templates
        ]
        fixed = torch.cat(feats, dim=1).mean(dim=1)
    return fixed / fixed.norm(dim=-1, keepdim=True)


def promptsrc_forward(clip,
                      tokenizer,
                      ref,
                      images,
                      classnames,
                      labels,
                      n_ctx_text: int = 4,
                      n_ctx_vision: int = 4,
                      depth_text: int = 9,
                      depth_vision: int = 9,
                      ctx_init: str = 'a photo of a',
                      text_weight: float = 25.0,
                      image_weight: float = 10.0,
                      templates=PROMPTSRC_TEMPLATES) -> Dict[str, torch.Tensor]:
    """Logits and each loss term of one training batch (forward_backward, PREC != amp).

    IVLP prompts ("a photo of a" kept in the prompt when n_ctx_text <= 4); the
    frozen image features come from the prompt-free image tower.
    """
    n_ctx = n_ctx_text
    prefix = ctx_init if (ctx_init and n_ctx <= 4) else ' '.join(['X'] * n_ctx)
    ctx = ref[PL + 'ctx'].float()
    tokens = _prompt_tokens(tokenizer, prefix, classnames)
    emb = clip.token_embedding(tokens)
    n_cls = tokens.shape[0]
    prompts = torch.cat([emb[:, :1], ctx.expand(n_cls, -1, -1), emb[:, 1 + n_ctx:]], dim=1)
    deep_text = [
        ref[f'text_encoder.transformer.resblocks.{i}.VPT_shallow'].float()
        for i in range(1, min(depth_text, len(clip.transformer.resblocks)))
    ]
    deep_vision = [
        ref[f'image_encoder.transformer.resblocks.{i}.VPT_shallow'].float()
        for i in range(1, min(depth_vision, len(clip.visual.transformer.resblocks)))
    ]
    shallow = ref['image_encoder.VPT'].float()
    assert shallow.shape[0] == n_ctx_vision
    text = _text_features(clip, tokens, prompts, deep_text, n_ctx)
    image = _image_features(clip, images, shallow, deep_vision)
    image = image / image.norm(dim=-1, keepdim=True)
    text = text / text.norm(dim=-1, keepdim=True)
    scale = clip.logit_scale.exp()
    logits = scale * image @ text.t()
    fixed = promptsrc_frozen_text(clip, tokenizer, classnames, templates)
    with torch.no_grad():
        zs = clip.encode_image(images)
        zs = zs / zs.norm(dim=-1, keepdim=True)
        zs_logits = scale * zs @ fixed.t()
    ce = F.cross_entropy(logits, labels)
    scl_text = F.l1_loss(text, fixed, reduction='mean') * text_weight
    scl_image = F.l1_loss(image, zs, reduction='mean') * image_weight
    scl_logits = F.kl_div(
        F.log_softmax(logits / 1, dim=1),
        F.log_softmax(zs_logits / 1, dim=1),
        reduction='sum',
        log_target=True) * (1 * 1) / logits.numel()
    return dict(
        logits=logits,
        ce=ce,
        text=scl_text,
        image=scl_image,
        logits_kl=scl_logits,
        loss=ce + (scl_logits + scl_text + scl_image))


def gpa_weights(max_epochs: int, mean: float, std: float) -> np.ndarray:
    """GPA's epoch weights: the Gaussian density at epochs 1..N, normalised to sum 1."""
    epochs = np.arange(1, max_epochs + 1)
    density = (1 / (std * np.sqrt(2 * np.pi))) * np.exp(-0.5 * ((epochs - mean) / std)**2)
    return density / density.sum()

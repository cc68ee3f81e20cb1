"""Literal, independent transcription of ProGrad's reference trainer and its update rule.

``ProGrad.public/trainers/prograd.py`` of BeierZhu/Prompt-align: the prompt
learner with ``CTX_INIT`` (``PromptLearner.__init__`` and ``forward``, class token
at the end), the zero-shot teacher (``CLIP``), the losses (``ProGradLoss``) and
``Dassl.ProGrad.pytorch/dassl/engine/trainer.py`` ``prograd_backward_and_update``
(lines 311-350), written, like :mod:`tests.reference_trainers` (whose conventions
and tower transcriptions they share), in plain fp32 against an ``open_clip.CLIP``.

fp16: the reference trains in fp16 (``PREC`` fp16, its default); its teacher in
fp32 (``clip_model.float()``). The fp32 computation is the contract here, as for
the other methods. Its "amp" branch cannot run with the ProGrad loss: it calls
``.backward()`` on the tuple ``ProGradLoss`` returns (``GradScaler.scale`` takes a
tuple and returns one). Nothing here is imported by ``maple_mm``.
"""
from typing import Dict, List, Sequence, Tuple

import torch
import torch.nn.functional as F

from tests.reference_trainers import (PL, _image_features, _names, _prompt_tokens, _randn,
                                      _text_features, _token_buffers)

#: trainers/prograd.py CUSTOM_TEMPLATES (lines 201-218), under maple_mm's dataset keys.
PROGRAD_TEMPLATES: Dict[str, str] = {
    'oxford_pets': 'a type of pet, a photo of a {}.',
    'oxford_flowers': 'a type of flower, a photo of a {}.',
    'fgvc_aircraft': 'a type of aircraft, a photo of a {}.',
    'dtd': 'a texture of {}.',
    'eurosat': 'a centered satellite photo of {}.',
    'stanford_cars': 'a photo of a {}.',
    'food101': 'a type of food, a photo of {}.',
    'sun397': 'a photo of a {}.',
    'caltech101': 'a photo of a {}.',
    'ucf101': 'a photo of a person doing {}.',
    'imagenet': 'a photo of a {}.',
    'imagenet_sketch': 'a photo of a {}.',
    'imagenetv2': 'a photo of a {}.',
    'imagenet_a': 'a photo of a {}.',
    'imagenet_r': 'a photo of a {}.',
}


def prograd_initial_context(clip,
                            tokenizer,
                            template: str,
                            n_ctx: int = 16) -> Tuple[torch.Tensor, str]:
    """``PromptLearner.__init__`` with CTX_INIT: the initial ctx (n_ctx, width) and prompt_prefix.

    prograd.py:78-95: the template without " {}.", k = its number of words;
    zeros, then the embeddings of its first k tokens; the prefix is n_ctx - k
    X's and the phrase.
    """
    ctx_init = template.replace(' {}.', '')
    ctx_init = ctx_init.replace('_', ' ')
    prompt_n_ctx = len(ctx_init.split(' '))
    assert n_ctx >= prompt_n_ctx
    prompt = tokenizer(ctx_init)
    with torch.no_grad():
        embedding = clip.token_embedding(prompt)
    ctx_vectors = torch.zeros(n_ctx, clip.transformer.width)
    ctx_vectors[n_ctx - prompt_n_ctx:, :] = embedding[0, 1:1 + prompt_n_ctx, :]
    prompt_prefix = ' '.join(['X'] * (n_ctx - prompt_n_ctx))
    prompt_prefix = f'{prompt_prefix} {ctx_init}'
    return ctx_vectors, prompt_prefix


def prograd_reference_state_dict(clip,
                                 tokenizer,
                                 classnames,
                                 template: str,
                                 seed: int = 0,
                                 n_ctx: int = 16,
                                 prec: str = 'fp16') -> Dict[str, torch.Tensor]:
    """A "trained" prompt learner: the initial ctx plus a random step, and its token buffers.

    As ``CustomCLIP.state_dict()`` names them; the values are fp16-representable
    (the reference saves them in fp16).
    """
    ctx, prefix = prograd_initial_context(clip, tokenizer, template, n_ctx)
    gen = torch.Generator().manual_seed(seed)
    dtype = torch.float16 if prec == 'fp16' else torch.float32
    sd = {PL + 'ctx': (ctx + _randn(gen, *ctx.shape, std=0.3)).half().float().to(dtype)}
    sd.update(_token_buffers(clip, tokenizer, classnames, prefix, n_ctx, dtype))
    return sd


def prograd_student_logits(clip, tokenizer, ctx: torch.Tensor, images: torch.Tensor,
                           classnames: Sequence[str], template: str) -> torch.Tensor:
    """``CustomCLIP.forward``: [SOS] ctx (16) [the prompt's suffix], class token at the end."""
    n_ctx = ctx.shape[0]
    _, prefix = prograd_initial_context(clip, tokenizer, template, n_ctx)
    tokens = _prompt_tokens(tokenizer, prefix, classnames)
    emb = clip.token_embedding(tokens)
    n_cls = tokens.shape[0]
    prompts = torch.cat([emb[:, :1], ctx.expand(n_cls, -1, -1), emb[:, 1 + n_ctx:]], dim=1)
    text = _text_features(clip, tokens, prompts)
    image = _image_features(clip, images)
    image = image / image.norm(dim=-1, keepdim=True)
    text = text / text.norm(dim=-1, keepdim=True)
    return clip.logit_scale.exp() * image @ text.t()


def prograd_teacher_logits(clip, tokenizer, images: torch.Tensor, classnames: Sequence[str],
                           template: str) -> torch.Tensor:
    """``CLIP`` (prograd.py:220-250): the template's text features normalised once."""
    with torch.no_grad():
        prompts = tokenizer([template.format(c) for c in _names(classnames)])
        text_features = clip.encode_text(prompts)
        text_features = text_features / text_features.norm(dim=-1, keepdim=True)
        image_features = clip.encode_image(images)
        image_features = image_features / image_features.norm(dim=-1, keepdim=True)
        return clip.logit_scale.exp() * image_features @ text_features.t()


def prograd_loss(stu_logits: torch.Tensor,
                 tea_logits: torch.Tensor,
                 label: torch.Tensor,
                 T: float = 1.0) -> Tuple[torch.Tensor, torch.Tensor]:
    """``ProGradLoss.forward`` (prograd.py:280-293): (xe_loss, kl_loss)."""
    xe_loss = F.cross_entropy(stu_logits, label)
    tea_prob = F.softmax(tea_logits / T, dim=-1)
    kl_loss = -tea_prob * F.log_softmax(stu_logits / T, -1) * T * T
    kl_loss = kl_loss.sum(1).mean()
    return xe_loss, kl_loss


def prograd_backward_and_update(params: List[torch.Tensor],
                                optim: torch.optim.Optimizer,
                                loss_a: torch.Tensor,
                                loss_b: torch.Tensor,
                                lambda_: float = 1.0) -> None:
    """trainer.py:311-350 for the parameters of the one registered model (the prompt learner).

    ``loss_a`` is the cross-entropy, ``loss_b`` the distillation term; the
    reference's ``detect_anomaly`` checks are left out.
    """
    optim.zero_grad()
    loss_b.backward(retain_graph=True)
    b_grads = []
    for p in params:
        b_grads.append(p.grad.clone())
    optim.zero_grad()
    loss_a.backward()
    for p, b_grad in zip(params, b_grads):
        # calculate cosine distance
        b_grad_norm = b_grad / torch.linalg.norm(b_grad)
        a_grad = p.grad.clone()
        a_grad_norm = a_grad / torch.linalg.norm(a_grad)
        if torch.dot(a_grad_norm.flatten(), b_grad_norm.flatten()) < 0:
            p.grad = a_grad - lambda_ * torch.dot(a_grad.flatten(),
                                                  b_grad_norm.flatten()) * b_grad_norm
    optim.step()

"""CoCoOp: CoOp's context shifted per image by a meta-net (Zhou et al., CVPR 2022).

A small network maps each image's (L2-normalised) CLIP feature to a bias
added to every context vector, so each image gets its own class prompts and
text features. Reference: ``trainers/cocoop.py`` of
muzairkhattak/multimodal-prompt-learning.
"""
from collections import OrderedDict

import torch
from mmpretrain.registry import MODELS
from torch import nn

from maple_mm.checkpoints.reference_layout import (CONTEXT, PL, TOKEN_BUFFERS, Linear,
                                                   ReferenceLayout, Width)
from ..class_prompts import class_sentence, tokenize_prompts
from ..classifier import PromptedCLIP
from ..prompt_learner import PromptLearner, Prompts, build_clip
from .coop import word_context


@MODELS.register_module()
class CoCoOpPromptLearner(PromptLearner):
    """CoOp's context (class name at the end) plus the meta-net.

    Args:
        clip: The frozen CLIP (or its config).
        n_ctx: Context vectors (ignored with ``ctx_init``: its number of words).
        ctx_init: Phrase the context starts from; empty: random (std 0.02).
    """

    image_conditional = True

    def __init__(self, clip, n_ctx: int = 16, ctx_init: str = '') -> None:
        super().__init__()
        clip = build_clip(clip)
        ctx, self.prompt_prefix = word_context(clip, n_ctx, ctx_init)
        self.n_ctx = ctx.shape[0]
        self.ctx = nn.Parameter(ctx)
        embed_dim = clip.embed_dim
        self.meta_net = nn.Sequential(
            OrderedDict([
                ('linear1', nn.Linear(embed_dim, embed_dim // 16)),
                ('relu', nn.ReLU(inplace=True)),
                ('linear2', nn.Linear(embed_dim // 16, clip.text_width)),
            ]))

    def extra_repr(self) -> str:
        return f'n_ctx={self.n_ctx}'

    def build_class_prompts(self, class_names, clip):
        sentences = [class_sentence(self.prompt_prefix, name) for name in class_names]
        return [tokenize_prompts(clip, sentences, self.n_ctx)]

    def forward(self, image_features: torch.Tensor) -> Prompts:
        """(B, n_ctx, text_width) contexts: the learned one plus each image's bias."""
        bias = self.meta_net(image_features)
        return Prompts(text_ctx=self.ctx.unsqueeze(0) + bias.unsqueeze(1))


META_NET_1 = Linear(PL + 'meta_net.linear1', PL + 'meta_net.linear1')
META_NET_2 = Linear(
    PL + 'meta_net.linear2',
    PL + 'meta_net.linear2',
    inputs=Width(META_NET_1, 0),
    outputs=Width(CONTEXT, -1),
    why='the meta-net maps its hidden width to the text width of ctx')

#: ``prompt_learner/model.pth.tar-N``: Dassl saves CoCoOp's prompt learner alone.
REFERENCE_LAYOUT = ReferenceLayout(
    name='cocoop',
    trainer='CoCoOp',
    rules=(CONTEXT, META_NET_1, META_NET_2, TOKEN_BUFFERS),
    saved_alone=True,
    describe=lambda converted: dict(
        n_ctx=int(converted[PL + 'ctx'].shape[0]),
        text_width=int(converted[PL + 'ctx'].shape[1]),
        embed_dim=int(converted[PL + 'meta_net.linear1.weight'].shape[1])),
    not_stored="ctx_init is not stored: use the reference run's TRAINER.COCOOP.CTX_INIT (its "
    "recipe: ctx_init='a photo of a').")


@MODELS.register_module()
class CoCoOp(PromptedCLIP):
    """Conditional Context Optimization (see :class:`PromptedCLIP` for the arguments)."""

    default_learner = 'CoCoOpPromptLearner'
    reference_layout = REFERENCE_LAYOUT

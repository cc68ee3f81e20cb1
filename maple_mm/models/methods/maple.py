"""MaPLe: multi-modal prompt learning (Khattak et al., CVPR 2023).

Text context and deep text prompts are learned; every vision prompt is a
linear projection of the text prompt of the same layer (the coupling is the
method). Reference: ``trainers/maple.py`` of muzairkhattak/multimodal-prompt-learning.
"""
import copy

from mmpretrain.registry import MODELS
from torch import nn

from maple_mm.checkpoints.reference_layout import (CONTEXT, PL, TOKEN_BUFFERS, Linear, Numbered,
                                                   ReferenceLayout, Width, count)
from maple_mm.errors import PromptConfigError
from ..class_prompts import class_sentence, tokenize_prompts
from ..classifier import PromptedCLIP
from ..prompt_learner import PromptLearner, Prompts, build_clip
from .context import initial_context, random_context


@MODELS.register_module()
class MaPLePromptLearner(PromptLearner):
    """Learnable text context, deep text prompts and text->vision couplings.

    Args:
        clip: The frozen CLIP (or its config); its widths size the prompts and
            its token embedding initialises the context from ``ctx_init``.
        n_ctx: Number of learnable context tokens per layer.
        ctx_init: Phrase whose first ``n_ctx`` token embeddings initialise the
            context (the whole phrase prefixes every class prompt). Empty, or
            ``n_ctx > 4``, gives random init (std 0.02) and an ``"X X"`` prefix.
        depth: Prompt depth J: layers 0 .. J-1 of both towers get prompts.
    """

    def __init__(self,
                 clip,
                 n_ctx: int = 2,
                 ctx_init: str = 'a photo of a',
                 depth: int = 9) -> None:
        super().__init__()
        clip = build_clip(clip)
        max_depth = min(clip.num_text_layers, clip.num_vision_layers)
        if not 1 <= depth <= max_depth:
            raise PromptConfigError(
                f'MaPLe prompt depth must be in 1..{max_depth} for this CLIP '
                f'({clip.num_text_layers} text / {clip.num_vision_layers} vision blocks), '
                f'got {depth}')
        if n_ctx < 1:
            raise PromptConfigError(f'MaPLe n_ctx must be >= 1, got {n_ctx}')
        self.n_ctx, self.depth = n_ctx, depth
        ctx, self.prompt_prefix = initial_context(clip, n_ctx, ctx_init)
        self.ctx = nn.Parameter(ctx)
        self.ctx_proj = nn.Linear(clip.text_width, clip.vision_width)
        self.deep_text_prompts = nn.ParameterList(
            [nn.Parameter(random_context(n_ctx, clip.text_width)) for _ in range(depth - 1)])
        # As in the reference, every deep coupling starts as a copy of one
        # freshly initialised layer.
        first = nn.Linear(clip.text_width, clip.vision_width)
        self.deep_projs = nn.ModuleList([copy.deepcopy(first) for _ in range(depth - 1)])

    def extra_repr(self) -> str:
        return f'n_ctx={self.n_ctx}, depth={self.depth}'

    def build_class_prompts(self, class_names, clip):
        sentences = [class_sentence(self.prompt_prefix, name) for name in class_names]
        return [tokenize_prompts(clip, sentences, self.n_ctx)]

    def forward(self, image_features=None) -> Prompts:
        """The prompts of this step; vision prompts are projected text prompts."""
        return Prompts(
            text_ctx=self.ctx,
            deep_text=list(self.deep_text_prompts),
            vision_ctx=self.ctx_proj(self.ctx),
            deep_vision=[proj(p) for proj, p in zip(self.deep_projs, self.deep_text_prompts)],
        )


PROJECTION = Linear(
    PL + 'proj',
    PL + 'ctx_proj',
    inputs=Width(CONTEXT, -1),
    why='it maps the text width of prompt_learner.ctx to the vision width')
DEEP_TEXT = Numbered(
    PL + 'compound_prompts_text.{i}',
    PL + 'deep_text_prompts.{i}',
    first=0,
    what='deep text prompts',
    like=CONTEXT)
DEEP_PROJECTIONS = Numbered(
    PL + 'compound_prompt_projections.{i}',
    PL + 'deep_projs.{i}',
    first=0,
    what='projections',
    like=PROJECTION,
    one_per=DEEP_TEXT)


@MODELS.register_module()
class MaPLe(PromptedCLIP):
    """MaPLe on a frozen open_clip CLIP (see :class:`PromptedCLIP` for the arguments)."""

    default_learner = 'MaPLePromptLearner'
    #: ``MultiModalPromptLearner/model.pth.tar-N``: the whole model, frozen CLIP included.
    reference_layout = ReferenceLayout(
        name='maple',
        trainer='MaPLe',
        rules=(CONTEXT, TOKEN_BUFFERS, PROJECTION, DEEP_TEXT, DEEP_PROJECTIONS),
        saved_alone=False,
        describe=lambda converted: dict(
            n_ctx=int(converted[PL + 'ctx'].shape[0]),
            depth=1 + count(converted, DEEP_TEXT),
            text_width=int(converted[PL + 'ctx'].shape[1]),
            vision_width=int(converted[PL + 'ctx_proj.weight'].shape[0])),
        not_stored="ctx_init is not stored: use the reference run's TRAINER.MAPLE.CTX_INIT (its "
        "configs and the maple_mm default: 'a photo of a').")

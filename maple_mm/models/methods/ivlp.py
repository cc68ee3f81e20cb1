"""IVLP: independent vision-language prompting, and deep language prompting alone.

Text and vision prompts are learned side by side with no coupling: a text
context and deep text prompts in the first ``depth_text`` text layers, vision
tokens and deep vision prompts in the first ``depth_vision`` vision layers
(MaPLe's ablation baselines). ``depth_vision=0`` is language-only prompting.
Reference: ``trainers/independentVL.py`` and the ``ResidualAttentionBlock_IVLP``
/ ``VisionTransformer`` prompt code of ``clip/model.py`` in
muzairkhattak/multimodal-prompt-learning.
"""
from mmpretrain.registry import MODELS
from torch import nn

from maple_mm.checkpoints.reference_layout import (CONTEXT, PL, TOKEN_BUFFERS, Numbered,
                                                   ReferenceLayout, Tensor, count)
from maple_mm.errors import PromptConfigError
from ..class_prompts import class_sentence, tokenize_prompts
from ..classifier import PromptedCLIP
from ..prompt_learner import PromptLearner, Prompts, build_clip
from .context import initial_context, random_context


def check_depth(branch: str, depth: int, n_ctx: int, num_layers: int) -> None:
    """A prompt depth fits the tower, and a prompted branch has tokens."""
    if not 0 <= depth <= num_layers:
        raise PromptConfigError(f'{branch} prompt depth must be in 0..{num_layers} for this '
                                f'CLIP ({num_layers} {branch} blocks), got {depth}')
    if depth and n_ctx < 1:
        raise PromptConfigError(f'{branch} prompts of depth {depth} need n_ctx >= 1, '
                                f'got {n_ctx}')


@MODELS.register_module()
class IVLPPromptLearner(PromptLearner):
    """Independent text and vision prompts, each with its own depth and number of tokens.

    Args:
        clip: The frozen CLIP (or its config).
        n_ctx_text: Learned text context tokens (positions 1 .. n after SOS).
        n_ctx_vision: Vision prompt tokens appended after the image patches.
        depth_text: Text layers with prompts: the input context, then deep
            prompts replacing it before blocks 1 .. depth_text - 1 (0: no text
            prompts, the class prompts are fixed sentences).
        depth_vision: Vision layers with prompts, likewise (0: none).
        ctx_init: Phrase prefixing every class prompt; its first
            ``n_ctx_text`` token embeddings initialise the context when
            ``n_ctx_text <= 4``, otherwise the context is random (std 0.02) and
            the prefix ``"X X ..."``. All other prompts start random (std 0.02).
    """

    def __init__(self,
                 clip,
                 n_ctx_text: int = 2,
                 n_ctx_vision: int = 2,
                 depth_text: int = 12,
                 depth_vision: int = 12,
                 ctx_init: str = 'a photo of a') -> None:
        super().__init__()
        clip = build_clip(clip)
        check_depth('text', depth_text, n_ctx_text, clip.num_text_layers)
        check_depth('vision', depth_vision, n_ctx_vision, clip.num_vision_layers)
        self.depth_text, self.depth_vision = depth_text, depth_vision
        self.n_ctx_text = n_ctx_text if depth_text else 0
        self.n_ctx_vision = n_ctx_vision if depth_vision else 0
        ctx, self.prompt_prefix = initial_context(clip, self.n_ctx_text, ctx_init)
        self.ctx = nn.Parameter(ctx) if self.n_ctx_text else None
        self.deep_text_prompts = nn.ParameterList([
            nn.Parameter(random_context(self.n_ctx_text, clip.text_width))
            for _ in range(max(depth_text - 1, 0))
        ])
        self.vision_ctx = nn.Parameter(random_context(self.n_ctx_vision, clip.vision_width)) \
            if self.n_ctx_vision else None
        self.deep_vision_prompts = nn.ParameterList([
            nn.Parameter(random_context(self.n_ctx_vision, clip.vision_width))
            for _ in range(max(depth_vision - 1, 0))
        ])

    def extra_repr(self) -> str:
        return (f'n_ctx_text={self.n_ctx_text}, depth_text={self.depth_text}, '
                f'n_ctx_vision={self.n_ctx_vision}, depth_vision={self.depth_vision}')

    def build_class_prompts(self, class_names, clip):
        sentences = [class_sentence(self.prompt_prefix, name) for name in class_names]
        return [tokenize_prompts(clip, sentences, self.n_ctx_text)]

    def forward(self, image_features=None) -> Prompts:
        return Prompts(
            text_ctx=self.ctx,
            deep_text=list(self.deep_text_prompts),
            vision_ctx=self.vision_ctx,
            deep_vision=list(self.deep_vision_prompts))


@MODELS.register_module()
class LanguagePromptLearner(IVLPPromptLearner):
    """Deep language prompting: IVLP's text prompts only (no vision prompts).

    Args:
        clip: The frozen CLIP (or its config).
        n_ctx: Learned text context tokens.
        depth: Text layers with prompts.
        ctx_init: As :class:`IVLPPromptLearner`.
    """

    def __init__(self,
                 clip,
                 n_ctx: int = 4,
                 depth: int = 12,
                 ctx_init: str = 'a photo of a') -> None:
        super().__init__(
            clip,
            n_ctx_text=n_ctx,
            n_ctx_vision=0,
            depth_text=depth,
            depth_vision=0,
            ctx_init=ctx_init)


# The reference's deep prompts sit in its towers' blocks 1 .. depth - 1 (``VPT_shallow``).
DEEP_TEXT = Numbered(
    'text_encoder.transformer.resblocks.{i}.VPT_shallow',
    PL + 'deep_text_prompts.{i}',
    first=1,
    what='deep text prompts',
    like=CONTEXT)
VISION_CONTEXT = Tensor(
    'image_encoder.VPT', PL + 'vision_ctx', shape='(n_ctx_vision, vision_width)')
DEEP_VISION = Numbered(
    'image_encoder.transformer.resblocks.{i}.VPT_shallow',
    PL + 'deep_vision_prompts.{i}',
    first=1,
    what='deep vision prompts',
    like=VISION_CONTEXT)
_CTX_INIT = ("ctx_init is not stored: use the reference run's TRAINER.IVLP.CTX_INIT (its "
             "configs and the maple_mm default: 'a photo of a').")


def _describe_ivlp(converted) -> dict:
    ctx, vision = converted[PL + 'ctx'], converted[PL + 'vision_ctx']
    return dict(
        n_ctx_text=int(ctx.shape[0]),
        n_ctx_vision=int(vision.shape[0]),
        depth_text=1 + count(converted, DEEP_TEXT),
        depth_vision=1 + count(converted, DEEP_VISION),
        text_width=int(ctx.shape[1]),
        vision_width=int(vision.shape[1]))


def _describe_language(converted) -> dict:
    ctx = converted[PL + 'ctx']
    return dict(
        n_ctx=int(ctx.shape[0]),
        depth=1 + count(converted, DEEP_TEXT),
        text_width=int(ctx.shape[1]))


@MODELS.register_module()
class IVLP(PromptedCLIP):
    """Independent vision-language prompting (see :class:`PromptedCLIP` for the arguments)."""

    default_learner = 'IVLPPromptLearner'
    #: ``VLPromptLearner/model.pth.tar-N``: the whole model, frozen CLIP included.
    reference_layout = ReferenceLayout(
        name='ivlp',
        trainer='IVLP',
        rules=(CONTEXT, TOKEN_BUFFERS, DEEP_TEXT, VISION_CONTEXT, DEEP_VISION),
        saved_alone=False,
        describe=_describe_ivlp,
        not_stored=_CTX_INIT)


@MODELS.register_module()
class LanguagePrompting(PromptedCLIP):
    """Deep language prompting (see :class:`PromptedCLIP` for the arguments)."""

    default_learner = 'LanguagePromptLearner'
    #: The IVLP trainer with text prompts only: its text keys.
    reference_layout = ReferenceLayout(
        name='language',
        trainer='IVLP (language only)',
        rules=(CONTEXT, TOKEN_BUFFERS, DEEP_TEXT),
        saved_alone=False,
        describe=_describe_language,
        not_stored=_CTX_INIT)

"""VPT-deep: learned vision tokens in the first layers of the image tower, fixed text.

The text side is the fixed sentence "a photo of a <class>."; its features are
computed once per class set. Reference: ``trainers/vpt.py`` with the
``VisionTransformer`` / ``ResidualAttentionBlock_IVLP`` prompt code of
``clip/model.py`` in muzairkhattak/multimodal-prompt-learning.
"""
from mmpretrain.registry import MODELS

from maple_mm.checkpoints.reference_layout import PL, ReferenceLayout, count
from ..classifier import PromptedCLIP
from .ivlp import DEEP_VISION, VISION_CONTEXT, IVLPPromptLearner


@MODELS.register_module()
class VPTPromptLearner(IVLPPromptLearner):
    """Deep vision prompts only: IVLP's vision branch, no learned text.

    Args:
        clip: The frozen CLIP (or its config).
        n_ctx: Vision prompt tokens appended after the image patches.
        depth: Vision layers with prompts (the appended tokens, then deep
            prompts replacing them before blocks 1 .. depth - 1).
    """

    def __init__(self, clip, n_ctx: int = 8, depth: int = 12) -> None:
        super().__init__(
            clip,
            n_ctx_text=0,
            n_ctx_vision=n_ctx,
            depth_text=0,
            depth_vision=depth,
            ctx_init='a photo of a')


@MODELS.register_module()
class VPT(PromptedCLIP):
    """Deep vision prompt tuning (see :class:`PromptedCLIP` for the arguments)."""

    default_learner = 'VPTPromptLearner'
    #: ``prompt_learner/model.pth.tar-N`` holds the whole model: IVLP's vision keys.
    reference_layout = ReferenceLayout(
        name='vpt',
        trainer='VPT',
        rules=(VISION_CONTEXT, DEEP_VISION),
        saved_alone=False,
        describe=lambda converted: dict(
            n_ctx=int(converted[PL + 'vision_ctx'].shape[0]),
            depth=1 + count(converted, DEEP_VISION),
            vision_width=int(converted[PL + 'vision_ctx'].shape[1])),
        not_stored='The text side is the fixed "a photo of a <class>." prompt.')

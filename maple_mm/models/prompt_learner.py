"""What every method's prompt learner shares: class names, class prompts and the prompts it emits.

A method is a :class:`PromptLearner` subclass that says which sentence each
class gets (:meth:`PromptLearner.build_class_prompts`) and which learned
tokens go where (:meth:`PromptLearner.forward` returns :class:`Prompts`).
:class:`~maple_mm.models.classifier.PromptedCLIP` runs the towers.
"""
from typing import List, NamedTuple, Optional, Sequence, Union

import torch
from mmpretrain.registry import MODELS
from torch import nn

from maple_mm.errors import CLASS_NAMES_HOOK_HINT, ClassNameError
from .class_prompts import ClassPrompts
from .clip import OpenCLIPBackbone


class Prompts(NamedTuple):
    """The learned tokens of one forward pass (empty for a method that learns none)."""

    #: (n, D) shared by all classes, (C, n, D) class-specific, or (B, n, D) one
    #: per image for an image-conditional method; placed at the class prompts'
    #: ``ctx_positions``.
    text_ctx: Optional[torch.Tensor] = None
    #: Text tokens replacing positions 1 .. n before text blocks 1, 2, ...
    deep_text: Sequence[torch.Tensor] = ()
    #: (m, Dv) tokens appended after the image patches.
    vision_ctx: Optional[torch.Tensor] = None
    #: Vision tokens replacing the last m tokens before vision blocks 1, 2, ...
    deep_vision: Sequence[torch.Tensor] = ()


def build_clip(clip: Union[OpenCLIPBackbone, dict]) -> OpenCLIPBackbone:
    """The CLIP a learner sizes itself on: given, or built from its config."""
    return clip if isinstance(clip, OpenCLIPBackbone) else MODELS.build(clip)


class PromptLearner(nn.Module):
    """Base of the methods' prompt learners.

    Holds the current class names and their :class:`ClassPrompts` (one per
    template; several are averaged, as zero-shot CLIP's ensemble does). The
    class prompts follow the module across devices like buffers but are not
    buffers: they change with the class set, so they are neither saved nor
    averaged (EMA) nor synchronised (DDP).
    """

    #: Text context depends on each image (CoCoOp): text features per image.
    image_conditional = False
    #: Adds prompt tokens to the image tower's token sequence: needs a Vision
    #: Transformer. A learner that prompts only the text runs on any open_clip CLIP,
    #: ModifiedResNet (RN50 ...) image towers included
    #: (:func:`~maple_mm.models.classifier.check_image_tower`).
    vision_prompts = False

    def __init__(self) -> None:
        super().__init__()
        #: Updated in place, so holders of the list (mmpretrain's inferencer
        #: keeps the model's class names) always see the current names.
        self.class_names: List[str] = []
        self.class_prompts: List[ClassPrompts] = []
        #: Prompt sets of the frozen CLIP that a method's objective compares
        #: with (hand-written templates); empty for most methods.
        self.frozen_prompts: List[ClassPrompts] = []

    # -- what a method defines ---------------------------------------------------
    def build_class_prompts(self, class_names: Sequence[str],
                            clip: OpenCLIPBackbone) -> List[ClassPrompts]:
        """The tokenised prompts of ``class_names`` (one entry per template)."""
        raise NotImplementedError

    def build_frozen_prompts(self, class_names: Sequence[str],
                             clip: OpenCLIPBackbone) -> List[ClassPrompts]:
        """Prompt sets the frozen CLIP encodes for the method's objective (default: none).

        Their features are averaged un-normalised, then normalised
        (:meth:`~maple_mm.models.classifier.PromptedCLIP.frozen_text_features`).
        """
        return []

    def forward(self, image_features: Optional[torch.Tensor] = None) -> Prompts:
        """The learned tokens of this step (``image_features`` for image-conditional methods)."""
        return Prompts()

    # -- shared ----------------------------------------------------------------------
    def set_class_names(self, class_names: Sequence[str], clip: OpenCLIPBackbone) -> None:
        """Rebuild the class prompts for ``class_names``."""
        names = [str(name) for name in class_names]
        if not names:
            raise ClassNameError('At least one class name is needed to build prompts.')
        prompts = self.build_class_prompts(names, clip)
        frozen = self.build_frozen_prompts(names, clip)
        device = clip.clip.token_embedding.weight.device
        self.class_prompts = [p.to(lambda t: t.to(device)) for p in prompts]
        self.frozen_prompts = [p.to(lambda t: t.to(device)) for p in frozen]
        self.class_names[:] = names

    def configure_for_dataset(self, dataset_meta: dict) -> bool:
        """Take what the method needs from the dataset (e.g. its zero-shot template).

        Returns whether anything changed (the class prompts are then rebuilt).
        """
        return False

    def require_class_names(self) -> None:
        """Fail clearly when no class names were set."""
        if not self.class_names:
            raise ClassNameError(
                f'No class names set. In training and testing, {CLASS_NAMES_HOOK_HINT}. In '
                'Python, call model.set_class_names([...]) first; for inference, give classes=.')

    def _apply(self, fn, *args, **kwargs):
        super()._apply(fn, *args, **kwargs)
        self.class_prompts = [p.to(fn) for p in self.class_prompts]
        self.frozen_prompts = [p.to(fn) for p in self.frozen_prompts]
        return self

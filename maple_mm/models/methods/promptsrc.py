"""PromptSRC: IVLP prompts regularised by the frozen CLIP (Khattak et al., ICCV 2023).

IVLP's independent deep text and vision prompts, trained with cross-entropy
plus three self-regularising terms against the frozen CLIP: L1 between the
prompted and the frozen normalised text features (the frozen ones averaged
over 60 templates), L1 between the prompted and the frozen normalised image
features, and KL between the prompted and the zero-shot logits. The final
prompts are a Gaussian-weighted average over epochs
(:class:`~maple_mm.engine.hooks.gpa_hook.GaussianPromptAggregationHook`).
Inference is IVLP's. Reference: ``trainers/promptsrc.py`` of
muzairkhattak/PromptSRC.
"""
from typing import Dict, List

import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS
from open_clip.zero_shot_metadata import OPENAI_IMAGENET_TEMPLATES

from maple_mm.checkpoints.reference_layout import PL
from ..class_prompts import tokenize_prompts
from ..classifier import PromptedCLIP, PromptedFeatures
from .ivlp import IVLP, IVLPPromptLearner

_OPENAI = [template('{}') for template in OPENAI_IMAGENET_TEMPLATES]
#: ``IMAGENET_TEMPLATES`` of the reference's ``trainers/imagenet_templates.py``:
#: the first 60 of OpenAI's 80 ImageNet templates, "a photo of a {}." (the 40th) first.
PROMPTSRC_TEMPLATES: List[str] = [_OPENAI[39]] + _OPENAI[:39] + _OPENAI[40:60]


@MODELS.register_module()
class PromptSRCPromptLearner(IVLPPromptLearner):
    """IVLP's prompts, plus the frozen CLIP's prompts of PromptSRC's 60 templates.

    Args: as :class:`IVLPPromptLearner` (PromptSRC's defaults: 4 + 4 tokens,
    depth 9 / 9, "a photo of a").
    """

    def __init__(self,
                 clip,
                 n_ctx_text: int = 4,
                 n_ctx_vision: int = 4,
                 depth_text: int = 9,
                 depth_vision: int = 9,
                 ctx_init: str = 'a photo of a') -> None:
        super().__init__(
            clip,
            n_ctx_text=n_ctx_text,
            n_ctx_vision=n_ctx_vision,
            depth_text=depth_text,
            depth_vision=depth_vision,
            ctx_init=ctx_init)

    def build_frozen_prompts(self, class_names, clip):
        names = [name.replace('_', ' ') for name in class_names]
        # Token ids only (60 templates x 1000 classes of embeddings would take ~9 GB):
        # each set is embedded when encoded, once per class set.
        return [
            tokenize_prompts(clip, [template.format(name) for name in names], embed=False)
            for template in PROMPTSRC_TEMPLATES
        ]


@MODELS.register_module()
class PromptSRC(PromptedCLIP):
    """Prompting with self-regulating constraints (:class:`PromptedCLIP` has the other arguments).

    Args:
        text_weight: Weight of the text L1 term (reference TEXT_LOSS_WEIGHT, 25).
        image_weight: Weight of the image L1 term (IMAGE_LOSS_WEIGHT, 10).
    """

    default_learner = 'PromptSRCPromptLearner'
    #: ``VLPromptLearner/model.pth.tar-N``: IVLP's keys, plus the frozen image tower its
    #: objective uses (whose presence tells its files from IVLP's).
    reference_layout = IVLP.reference_layout.extended(
        'promptsrc',
        'PromptSRC',
        frozen=(PL + 'ZS_image_encoder.', ),
        signature=(PL + 'ZS_image_encoder.', ),
        not_stored="ctx_init is not stored: use the reference run's TRAINER.PROMPTSRC.CTX_INIT "
        "(its configs and the maple_mm default: 'a photo of a'). The checkpoint holds the final "
        '(GPA-aggregated) prompts.')

    def __init__(self,
                 *args,
                 text_weight: float = 25.0,
                 image_weight: float = 10.0,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.text_weight, self.image_weight = text_weight, image_weight

    def objective(self, inputs: torch.Tensor, features: PromptedFeatures,
                  labels: torch.Tensor) -> Dict[str, torch.Tensor]:
        """``loss_ce``, ``loss_text``, ``loss_image`` and ``loss_logits`` (the KL term).

        One prompt-free image forward per step; the frozen text features are
        computed once per class set.
        """
        frozen_text = self.frozen_text_features()
        frozen_image = self.frozen_image_features(inputs)
        zero_shot_logits = self.backbone.logit_scale * frozen_image @ frozen_text.t()
        kl = F.kl_div(
            F.log_softmax(features.logits, dim=1),
            F.log_softmax(zero_shot_logits, dim=1),
            reduction='sum',
            log_target=True)
        return dict(
            loss_ce=F.cross_entropy(features.logits, labels),
            loss_text=self.text_weight * F.l1_loss(features.text, frozen_text),
            loss_image=self.image_weight * F.l1_loss(features.image, frozen_image),
            loss_logits=kl / features.logits.numel())

"""KgCoOp: CoOp kept close to the frozen CLIP's hand-written prompts (Yao et al., CVPR 2023).

CoOp's learned context (4 tokens from "a photo of a", class name at the end)
trained with cross-entropy plus ``weight * (1 - mean_c cos(t_c, t0_c))``:
``t_c`` the learned text feature of class c, ``t0_c`` the frozen CLIP's
feature of the dataset's hand-written template for class c. Inference is
CoOp's. Reference: ``KgCoOp/trainers/kgcoop.py`` of htyao89/KgCoOp.
"""
import re
from typing import Dict, Optional

import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS

from maple_mm.checkpoints.reference_layout import PL, Dropped
from maple_mm.datasets.catalog import DEFAULT_TEMPLATE
from maple_mm.errors import PromptConfigError
from ..class_prompts import tokenize_prompts
from ..classifier import PromptedCLIP, PromptedFeatures
from .coop import CoOp, CoOpPromptLearner

#: The reference's eps of ``nn.CosineSimilarity``.
COSINE_EPS = 1e-7


@MODELS.register_module()
class KgCoOpPromptLearner(CoOpPromptLearner):
    """CoOp's context, plus the frozen CLIP's prompts of one hand-written template.

    Args:
        clip: The frozen CLIP (or its config).
        n_ctx: Context vectors (ignored with ``ctx_init``: its number of words).
        ctx_init: Phrase the context starts from; empty: random (std 0.02).
        class_specific: Learn a context per class (needs ``num_classes``).
        num_classes: Number of classes, for ``class_specific``.
        template: Template of the frozen prompts, ``{}`` for the class name;
            None: the dataset's (its metainfo ``prompt_template``, else
            "a photo of a {}."). KgCoOp's table equals the CoOp family's except
            for DTD, whose config names it.
    """

    def __init__(self,
                 clip,
                 n_ctx: int = 4,
                 ctx_init: str = 'a photo of a',
                 class_specific: bool = False,
                 num_classes: Optional[int] = None,
                 template: Optional[str] = None) -> None:
        super().__init__(
            clip,
            n_ctx=n_ctx,
            ctx_init=ctx_init,
            class_specific=class_specific,
            class_token_position='end',
            num_classes=num_classes)
        if template is not None and '{}' not in template:
            raise PromptConfigError(f"template needs '{{}}' for the class name, got {template!r}")
        self.template = template
        #: The template the current dataset names (None: it names none).
        self.dataset_template: Optional[str] = None

    def extra_repr(self) -> str:
        return f'{super().extra_repr()}, template={self.current_template()!r}'

    def configure_for_dataset(self, dataset_meta: dict) -> bool:
        template = dataset_meta.get('prompt_template') or None
        changed = template != self.dataset_template
        self.dataset_template = template
        return changed and self.template is None

    def current_template(self) -> str:
        """The template the frozen prompts are built from."""
        return self.template or self.dataset_template or DEFAULT_TEMPLATE

    def build_frozen_prompts(self, class_names, clip):
        template = self.current_template()
        return [
            tokenize_prompts(
                clip, [template.format(name.replace('_', ' ')) for name in class_names],
                embed=False)
        ]


@MODELS.register_module()
class KgCoOp(PromptedCLIP):
    """Knowledge-guided Context Optimization (see :class:`PromptedCLIP` for the other arguments).

    Args:
        weight: Weight W of the knowledge-guided term (8 for base-to-novel).
    """

    default_learner = 'KgCoOpPromptLearner'
    #: ``prompt_learner/model.pth.tar-N``: CoOp's keys, plus weights KgCoOp creates and its
    #: forward never uses (their presence tells its files from CoOp's).
    reference_layout = CoOp.reference_layout.extended(
        'kgcoop',
        'KgCoOp',
        rules=(Dropped(
            re.escape(PL) + r'(bias_vectors|meta_net\.linear1\.(weight|bias))',
            why='created but never used by the reference forward',
            shown=f'{PL}bias_vectors, {PL}meta_net.linear1.weight|bias'), ),
        signature=(PL + 'bias_vectors', ),
        not_stored="ctx_init is not stored: the reference's CTX_INIT: True means 'a photo of a' "
        '(the maple_mm default); KgCoOp always puts the class name at the end.')

    def __init__(self, *args, weight: float = 8.0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.weight = weight

    def objective(self, inputs: torch.Tensor, features: PromptedFeatures,
                  labels: torch.Tensor) -> Dict[str, torch.Tensor]:
        """``loss_ce`` and ``loss_kg`` = W x (1 - mean cosine to the frozen text features)."""
        frozen = self.frozen_text_features()
        cosine = F.cosine_similarity(features.text, frozen, dim=-1, eps=COSINE_EPS)
        return dict(
            loss_ce=F.cross_entropy(features.logits, labels),
            loss_kg=self.weight * (1.0 - cosine.mean()))

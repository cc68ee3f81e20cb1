"""ProGrad: CoOp's prompts descending a prompt-aligned gradient (Zhu et al., ICCV 2023).

CoOp's learned context (16 vectors, class name at the end) with two loss terms
on the same batch: ``loss_ce``, cross-entropy on the labels, and ``loss_kd``,
the soft cross-entropy to a zero-shot CLIP's predictions,
``T^2 * mean_batch(sum_c -softmax(z0 / T) * log_softmax(z / T))``. The update
is not the gradient of their sum: per parameter tensor, the cross-entropy
gradient ``g_ce`` is projected off the knowledge gradient ``g_kd`` where they
conflict (``cos(g_ce, g_kd) < 0``), ``g = g_ce - lambda * (g_ce . u) u`` with
``u = g_kd / |g_kd|``; otherwise ``g = g_ce`` (:func:`prompt_aligned_gradient`).
The method owns its update (:meth:`ProGrad.combine_gradients`,
:mod:`maple_mm.models.update_rule`): the optimizer wrapper takes the two
gradients, fp16-scaled and unscaled, averaged over the processes, then this rule
makes the step. Inference is CoOp's.

The context starts from the dataset's own template of ProGrad's table (the
configs name it: "a type of pet, a photo of a {}." for OxfordPets, ...): its
words before the class name, the last k of the 16 vectors the embeddings of
the phrase's first k tokens and the others zero, k being its number of words.
A phrase with a comma ("pet,") has more tokens than words: the context then
holds its first k tokens and the last ones stay fixed text after the context,
as in the reference. The zero-shot CLIP (the frozen CLIP in fp32, prompted
with the same template, its text features normalised once per class set) is
the teacher. Reference: ``ProGrad.public/trainers/prograd.py`` and
``Dassl.ProGrad.pytorch/dassl/engine/trainer.py`` (``prograd_backward_and_update``)
of BeierZhu/Prompt-align.
"""
from typing import Dict, List

import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS
from torch import nn

from maple_mm.errors import PromptConfigError
from ..class_prompts import tokenize_prompts
from ..classifier import PromptedCLIP, PromptedFeatures
from .context import context_from_words
from .coop import CoOpPromptLearner, word_context

#: The template of datasets whose config names none (ProGrad's, like the CoOp family's).
DEFAULT_TEMPLATE = 'a photo of a {}.'
#: What follows the phrase in a template ProGrad starts its context from.
CLASS_SLOT = ' {}.'


def template_phrase(template: str) -> str:
    """The words of ``template`` before the class name, as ProGrad starts its context."""
    if not template.endswith(CLASS_SLOT):
        raise PromptConfigError(f'ProGrad starts its context from the words of its template '
                                f"before the class name: the template must end with '{{}}.' "
                                f'after a space, got {template!r}.')
    return template.replace(CLASS_SLOT, '').replace('_', ' ')


@MODELS.register_module()
class ProGradPromptLearner(CoOpPromptLearner):
    """CoOp's context, started from the dataset's template; the teacher's prompts.

    Args:
        clip: The frozen CLIP (or its config).
        n_ctx: Context vectors (16 in every reference run).
        template: The dataset's template of ProGrad's table, ``{}`` for the
            class name; the teacher's prompts and, with ``ctx_init``, the start
            of the context.
        ctx_init: Start from the template's phrase (the reference's
            ``CTX_INIT: True``, every shipped config); False: random context
            (std 0.02) and the prompt "X X ... X <name>.".
        class_token_position: 'end', 'middle' or 'front' (the reference: 'end').
    """

    def __init__(self,
                 clip,
                 n_ctx: int = 16,
                 template: str = DEFAULT_TEMPLATE,
                 ctx_init: bool = True,
                 class_token_position: str = 'end') -> None:
        if '{}' not in template:
            raise PromptConfigError(f"template needs '{{}}' for the class name, got {template!r}")
        super().__init__(
            clip,
            n_ctx=n_ctx,
            ctx_init=template_phrase(template) if ctx_init else '',
            class_token_position=class_token_position)
        self.template = template

    @staticmethod
    def initial_context(clip, n_ctx: int, ctx_init: str):
        """Zeros, then the embeddings of the phrase's first k tokens (k: its words)."""
        if not ctx_init:
            return word_context(clip, n_ctx, '')
        words = len(ctx_init.split(' '))  # the reference counts words, not tokens
        if n_ctx < words:
            raise PromptConfigError(f'n_ctx={n_ctx} is fewer than the {words} words of the '
                                    f'initial phrase {ctx_init!r}; use n_ctx >= {words}.')
        ctx = torch.zeros(n_ctx, clip.text_width)
        ctx[n_ctx - words:] = context_from_words(clip, ctx_init, words)
        return ctx, ' '.join(['X'] * (n_ctx - words) + [ctx_init])

    def extra_repr(self) -> str:
        return f'{super().extra_repr()}, template={self.template!r}'

    def build_frozen_prompts(self, class_names, clip):
        return [
            tokenize_prompts(
                clip, [self.template.format(name.replace('_', ' ')) for name in class_names],
                embed=False)
        ]


def prompt_aligned_gradient(g_ce: torch.Tensor, g_kd: torch.Tensor, lambda_: float) -> torch.Tensor:
    """``g_ce`` projected off ``g_kd`` (by ``lambda_``) where they conflict, else ``g_ce``.

    A zero gradient has no direction: ``g_ce`` is kept, as in the reference
    (whose NaN cosine compares False). Computed on the device, without reading
    the cosine back to the host.
    """
    g_kd_unit = g_kd / torch.linalg.vector_norm(g_kd)
    g_ce_unit = g_ce / torch.linalg.vector_norm(g_ce)
    conflict = (g_ce_unit * g_kd_unit).sum() < 0  # NaN (a zero gradient): False
    projected = g_ce - lambda_ * (g_ce * g_kd_unit).sum() * g_kd_unit
    return torch.where(conflict, projected, g_ce)


@MODELS.register_module()
class ProGrad(PromptedCLIP):
    """Prompt-aligned Gradient (see :class:`PromptedCLIP` for the other arguments).

    Args:
        lambda_: How much of ``g_ce``'s component along a conflicting ``g_kd``
            is removed (the reference's ``LOSS.LAMBDA``: 1.0; 0.8 for 8 and 16
            shots on Flowers102, DTD and EuroSAT).
        temperature: T of the knowledge-distillation term (``LOSS.T``: 1.0).
    """

    default_learner = 'ProGradPromptLearner'

    def __init__(self, *args, lambda_: float = 1.0, temperature: float = 1.0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lambda_ = lambda_
        self.temperature = temperature

    def teacher_logits(self, inputs: torch.Tensor, features: PromptedFeatures) -> torch.Tensor:
        """(B, C) logits of the zero-shot CLIP, in fp32, without gradients.

        The teacher's image features are the prompt-free image tower's: the
        student's own (CoOp prompts no image layer) in fp32 runs; recomputed
        in fp32 under mixed precision, as the reference's teacher runs in fp32.
        """
        device_type = inputs.device.type
        mixed = torch.is_autocast_enabled(device_type)
        with torch.no_grad(), torch.autocast(device_type, enabled=False):
            text = self.frozen_text_features()
            image = self.frozen_image_features(inputs.float()) if mixed else features.image
            return self.backbone.logit_scale * image.float() @ text.float().t()

    def objective(self, inputs: torch.Tensor, features: PromptedFeatures,
                  labels: torch.Tensor) -> Dict[str, torch.Tensor]:
        """``loss_ce`` and ``loss_kd`` (soft cross-entropy to the teacher, times T^2)."""
        t = self.temperature
        teacher = F.softmax(self.teacher_logits(inputs, features) / t, dim=-1)
        kd = (-teacher * F.log_softmax(features.logits / t, dim=-1)).sum(dim=1).mean() * t * t
        return dict(loss_ce=F.cross_entropy(features.logits, labels), loss_kd=kd)

    def combine_gradients(self, grads: Dict[str, List[torch.Tensor]],
                          params: List[nn.Parameter]) -> List[torch.Tensor]:
        """Per parameter tensor, :func:`prompt_aligned_gradient` of its two gradients."""
        return [
            prompt_aligned_gradient(g_ce, g_kd, self.lambda_)
            for g_ce, g_kd in zip(grads['loss_ce'], grads['loss_kd'])
        ]

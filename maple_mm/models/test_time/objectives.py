"""What test-time prompt tuning minimises: TPT's confident views and marginal entropy, and
PromptAlign's alignment of token statistics to the source's.

Facts (``file:line`` in azshue/TPT @63ecbac and jameelhassan/PromptAlign @9290564):
docs/test-time.md and the spec it cites.
"""
import math
from typing import Sequence

import torch
import torch.nn.functional as F


def view_entropies(logits: torch.Tensor) -> torch.Tensor:
    """(V,) entropy of each view's softmax over the classes (TPT ``tc.py:41-44``)."""
    return -(logits.softmax(dim=1) * logits.log_softmax(dim=1)).sum(dim=1)


def num_confident(num_views: int, fraction: float) -> int:
    """How many views are kept: ``int(V * fraction)`` as the reference, at least one.

    The reference takes ``[:int(V * p)]``, which is empty (and the loss NaN) when
    ``V * p < 1``; one view is the evident intent there.
    """
    return max(1, int(num_views * fraction))


def confident_views(logits: torch.Tensor, fraction: float) -> torch.Tensor:
    """Indices of the ``int(V * fraction)`` views of lowest entropy, most confident first.

    ``torch.argsort`` is not stable in the reference either: views of equal entropy
    are taken in no particular order (compare the selection as a set).
    """
    order = torch.argsort(view_entropies(logits.detach().float()), descending=False)
    return order[:num_confident(logits.shape[0], fraction)]


def marginal_entropy(logits: torch.Tensor) -> torch.Tensor:
    """Entropy of the mean of the views' softmaxes (TPT's ``avg_entropy``, ``tc.py:46-51``).

    Computed as the reference does, in log space: ``log(mean_i p_i)`` by a
    log-sum-exp over the views, clamped at the dtype's lowest value, so a class
    with zero probability adds 0, not NaN.
    """
    log_probs = logits - logits.logsumexp(dim=-1, keepdim=True)
    log_mean = log_probs.logsumexp(dim=0) - math.log(logits.shape[0])
    log_mean = torch.clamp(log_mean, min=torch.finfo(log_mean.dtype).min)
    return -(log_mean * torch.exp(log_mean)).sum(dim=-1)


def token_statistics(features: torch.Tensor):
    """Mean and (biased) variance over the views of (V, T, D) token features: (T, D) each.

    PromptAlign's per-layer statistics of the selected views (``pa.py:759-771``):
    per token position and channel, the variance around the views' own mean.
    """
    mean = features.mean(dim=0)
    return mean, ((features - mean.unsqueeze(0))**2).mean(dim=0)


def alignment_loss(block_inputs: Sequence[torch.Tensor], source_mean: Sequence[torch.Tensor],
                   source_var: Sequence[torch.Tensor]) -> torch.Tensor:
    """Sum over the given layers of ``0.5 L1(mean, source mean) + 0.5 L1(var, source var)``.

    ``block_inputs[i]`` (V, T, D) are the selected views' inputs of one vision
    block; ``source_mean[i]`` / ``source_var[i]`` (T, D) the source statistics of
    the same block. L1 is the mean absolute difference (``F.l1_loss``), as in
    ``distr_align_loss`` (``pa.py:797-809``); the caller weights the sum.
    """
    total = 0.0
    for features, target_mean, target_var in zip(block_inputs, source_mean, source_var):
        mean, var = token_statistics(features)
        total = total + 0.5 * F.l1_loss(mean, target_mean.to(mean.dtype)) \
            + 0.5 * F.l1_loss(var, target_var.to(var.dtype))
    return total

"""How a model owns its update, as it owns its objective.

Most methods descend the sum of their loss terms: mmengine sums the keys
holding 'loss' (``parse_losses``) and runs one backward. A model that defines

    combine_gradients(grads: Dict[str, List[Tensor]], params: List[Parameter]) -> List[Tensor]

owns its update instead: its optimizer wrapper takes one gradient per loss term,
averages each over the processes, and steps along what ``combine_gradients``
makes of them (per parameter, in ``params`` order; :mod:`maple_mm.engine.optimizers.
update_rule_wrapper`). Its ``parse_losses`` hands the wrapper the terms as a
:class:`LossTerms`: the summed loss mmengine logs, carrying each term and the
rule. Nothing in mmengine's training steps changes: ``BaseModel.train_step`` and
``MMDistributedDataParallel.train_step`` both call the model's ``parse_losses``
and the wrapper's ``update_params``.
"""
from collections import OrderedDict
from typing import Callable, Dict, List

import torch
from torch import nn

from maple_mm.errors import ConfigError

#: ``combine_gradients(grads, params)``: the gradient each parameter descends.
GradientRule = Callable[[Dict[str, List[torch.Tensor]], List[nn.Parameter]], List[torch.Tensor]]


def owns_update(model) -> bool:
    """Whether ``model`` (a module or its class) defines ``combine_gradients``."""
    return callable(getattr(model, 'combine_gradients', None))


class LossTerms(torch.Tensor):
    """The summed loss of a model that owns its update, carrying each term and the rule.

    Its value (and autograd graph) is the sum mmengine logs as ``loss``;
    ``terms`` maps each loss key to its value; ``rule`` is the model's
    ``combine_gradients``. Back-propagating it as one loss would descend the
    sum, not the model's rule: ``backward`` (also of any tensor computed from
    it, such as a scaled loss) raises :class:`~maple_mm.errors.ConfigError`.
    """

    terms: Dict[str, torch.Tensor]
    rule: GradientRule

    def backward(self, *args, **kwargs) -> None:
        raise ConfigError(
            'This model owns its update (it defines combine_gradients: one gradient per loss '
            'term, combined by its rule), which the optimizer wrapper applies; this wrapper '
            "ran one backward of the summed loss instead. Use optim_wrapper=dict(type="
            "'MixedPrecisionOptimWrapper', precision='fp32'|'bf16'|'fp16', ...) (MapleRunner "
            "picks it from the config's precision).")


def loss_terms(losses: Dict[str, torch.Tensor], parsed: torch.Tensor, log_vars: 'OrderedDict',
               rule: GradientRule) -> LossTerms:
    """``parsed`` (mmengine's summed loss) carrying the terms of ``losses`` as logged."""
    if 'loss' in losses:
        raise ConfigError("A model that owns its update names each loss term ('loss_ce', "
                          "'loss_kd', ...): mmengine logs their sum as 'loss'.")
    carrier = parsed.as_subclass(LossTerms)
    carrier.terms = OrderedDict((key, log_vars[key]) for key in losses if 'loss' in key)
    carrier.rule = rule
    return carrier

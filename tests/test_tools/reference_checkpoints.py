"""What the converter's tests share: reference checkpoints written as Dassl writes them.

The fake reference checkpoints are written as Dassl's ``save_checkpoint`` writes
them for each trainer (tests/reference_trainers.py ``dassl_saved_state_dict``: a
prompt learner saved alone without the 'prompt_learner.' prefix, or the whole
model with the frozen CLIP; fp16 where the reference's fp16 configs have it;
plus the epoch, the optimizer state and a scheduler state that pickles Python
objects). Each method's cases are rows of its own test module
(:class:`tests.method_rows.ConverterCase`).
"""
import sys
import types

import torch
from mmpretrain.registry import MODELS
from torch.optim.lr_scheduler import CosineAnnealingLR, _LRScheduler

from maple_mm.checkpoints import reference_converter as conv
from maple_mm.models import TINY_CLIP_CFG
from tests.conftest import load_tool
from tests.reference_trainers import dassl_saved_state_dict

CLASS_NAMES = ['dog', 'golden_retriever', 'sea turtle', 'aircraft carrier', 'crane (bird)']
DASSL_MODULE = 'dassl.optim.lr_scheduler'
tool = load_tool('tools/model_converters/reference_to_mm.py')
__all__ = [
    'CLASS_NAMES', 'DASSL_MODULE', 'conv', 'tool', 'case_of', 'reference_prompts',
    'saved_state_dict', 'save_reference_checkpoint', 'build_model', 'convert',
    'printed_model_config', 'ConstantWarmupScheduler'
]


# -- Dassl's warm-up scheduler, pickled under Dassl's module name ---------------------
class _BaseWarmupScheduler(_LRScheduler):
    """As in dassl/optim/lr_scheduler.py: a warm-up that hands over to a successor."""

    def __init__(self, optimizer, successor, warmup_epoch, last_epoch=-1):
        self.successor = successor
        self.warmup_epoch = warmup_epoch
        super().__init__(optimizer, last_epoch)

    def step(self, epoch=None):
        if self.last_epoch >= self.warmup_epoch:
            self.successor.step(epoch)
            self._last_lr = self.successor.get_last_lr()
        else:
            super().step(epoch)


class ConstantWarmupScheduler(_BaseWarmupScheduler):

    def __init__(self, optimizer, successor, warmup_epoch, cons_lr, last_epoch=-1):
        self.cons_lr = cons_lr
        super().__init__(optimizer, successor, warmup_epoch, last_epoch)

    def get_lr(self):
        if self.last_epoch >= self.warmup_epoch:
            return self.successor.get_last_lr()
        return [self.cons_lr for _ in self.base_lrs]


for _cls in (_BaseWarmupScheduler, ConstantWarmupScheduler):
    _cls.__module__ = DASSL_MODULE


def _fake_dassl_modules(monkeypatch):
    """Make pickle find the scheduler under its Dassl name (only while saving)."""
    fake = types.ModuleType(DASSL_MODULE)
    fake.ConstantWarmupScheduler = ConstantWarmupScheduler
    fake._BaseWarmupScheduler = _BaseWarmupScheduler
    monkeypatch.setitem(sys.modules, 'dassl', types.ModuleType('dassl'))
    monkeypatch.setitem(sys.modules, 'dassl.optim', types.ModuleType('dassl.optim'))
    monkeypatch.setitem(sys.modules, DASSL_MODULE, fake)


# -- one method's case ------------------------------------------------------------------
def case_of(name: str):
    """The converter case ``name`` of some method's rows."""
    from tests.method_rows import converter_cases
    return converter_cases()[name]


def reference_prompts(backbone, case, seed=0, **overrides):
    """The learned tensors (+ token buffers) under the reference's CustomCLIP names."""
    case = case_of(case)
    kwargs = dict(case.reference, **overrides)
    kwargs.pop('class_token_position', None)  # only the forward uses it
    return case.state_dict(backbone.clip, backbone.tokenizer, CLASS_NAMES, seed=seed, **kwargs)


def saved_state_dict(backbone, case, seed=0, **overrides):
    """The 'state_dict' Dassl writes for the trainer of ``case`` (names and dtypes)."""
    ref = reference_prompts(backbone, case, seed, **overrides)
    return ref, dassl_saved_state_dict(case_of(case).dassl_trainer, ref, backbone.clip)


def save_reference_checkpoint(path,
                              state_dict,
                              monkeypatch,
                              scheduler_form='dassl',
                              extra=None,
                              epoch=5):
    """``torch.save`` what Dassl's ``save_checkpoint`` writes.

    The optimizer holds every parameter it was given (the whole model for the
    trainers that register it) and momentum only for the learned ones.
    """
    params = []
    layouts = [layout for layout, _ in conv.reference_layouts().values()]
    for key, full in zip(state_dict, conv.normalise_keys(state_dict)):
        value = state_dict[key]
        if 'token_' in key or not value.is_floating_point():
            continue
        learned = any(layout.rule_for(full) and layout.rule_for(full).learned for layout in layouts)
        param = torch.nn.Parameter(value.detach().float().clone(), requires_grad=learned)
        if learned:
            param.grad = torch.ones_like(param)
        params.append(param)
    optimizer = torch.optim.SGD(params, lr=0.0035, momentum=0.9, weight_decay=5e-4)
    optimizer.step()  # momentum buffers, so the optimizer state is not empty
    successor = CosineAnnealingLR(optimizer, T_max=5)
    scheduler = ConstantWarmupScheduler(optimizer, successor, warmup_epoch=1, cons_lr=1e-5)
    checkpoint = {
        'state_dict': state_dict,
        'epoch': epoch,
        'optimizer': optimizer.state_dict(),
        # Dassl saves sched.state_dict(), which holds the successor scheduler (and
        # through it the SGD object); 'object' pickles the scheduler itself.
        'scheduler': scheduler.state_dict() if scheduler_form == 'dassl' else scheduler,
        'val_result': None,
    }
    checkpoint.update(extra or {})
    with monkeypatch.context() as patch:
        _fake_dassl_modules(patch)
        torch.save(checkpoint, path)
    assert DASSL_MODULE not in sys.modules
    return path


def build_model(case, **overrides):
    case = case_of(case)
    return MODELS.build(
        dict(
            type=case.model_type,
            backbone=dict(type='OpenCLIPBackbone', model_cfg=TINY_CLIP_CFG),
            prompt_learner=dict(case.learner, **overrides)))


def convert(tmp_path, ref_path, name='converted.pth', extra_args=()):
    out = tmp_path / name
    assert tool.main([str(ref_path), str(out), *extra_args]) == str(out)
    return out


def printed_model_config(printed: str) -> dict:
    """The ``model=dict(...)`` line the converter prints, as a dict."""
    line = next(x.strip() for x in printed.splitlines() if x.strip().startswith('model=dict('))
    return eval(line[len('model='):], {'dict': dict})

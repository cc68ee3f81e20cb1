"""tools/model_converters/maple_official_to_mm.py: reference MaPLe checkpoints -> maple_mm.

The fake reference checkpoints are built like the reference code saves them
(Dassl ``save_checkpoint``: state_dict with fp16 ctx / proj, token buffers and
the frozen CLIP, epoch, optimizer and scheduler state that pickles Python
objects), and the converted prompts are checked against the literal, independent
transcription of the reference forward pass in tests/reference_trainers.py.
"""
import importlib.util
import os
import pickle
import sys
import types
from pathlib import Path

import pytest
import torch
from mmengine.registry import init_default_scope
from torch.optim.lr_scheduler import CosineAnnealingLR, _LRScheduler

import maple_mm  # noqa: F401
from maple_mm.models import TINY_CLIP_CFG, CheckpointMismatchError, OpenCLIPBackbone
from tests.reference_trainers import (dassl_saved_state_dict, maple_logits,
                                      maple_reference_state_dict)

init_default_scope('mmpretrain')

REPO_ROOT = Path(__file__).resolve().parents[2]
CONVERTER_PATH = REPO_ROOT / 'tools' / 'model_converters' / 'maple_official_to_mm.py'
CLASS_NAMES = ['dog', 'golden_retriever', 'sea turtle', 'aircraft carrier']
N_CTX, DEPTH = 2, 3
DASSL_MODULE = 'dassl.optim.lr_scheduler'


def _load_converter():
    spec = importlib.util.spec_from_file_location('maple_official_to_mm', CONVERTER_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


conv = _load_converter()


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


# -- fake reference checkpoints ---------------------------------------------------------
@pytest.fixture(scope='module')
def backbone():
    return OpenCLIPBackbone(model_cfg=TINY_CLIP_CFG)


def reference_state_dict(backbone, n_ctx=N_CTX, depth=DEPTH, seed=0):
    """What Dassl saves as the reference CustomCLIP's state dict, names and dtypes.

    The prompt learner comes from tests/reference_trainers.py (values on which
    the reference's fp16 casts are exact), the frozen CLIP from ``backbone``.
    """
    ref = maple_reference_state_dict(backbone.clip, backbone.tokenizer, CLASS_NAMES,
                                     n_ctx=n_ctx, depth=depth, seed=seed)
    return dassl_saved_state_dict('maple', ref, backbone.clip)


def save_reference_checkpoint(path, state_dict, monkeypatch, scheduler_form='dassl',
                              extra=None):
    """``torch.save`` what Dassl's ``save_checkpoint`` writes for the MaPLe trainer."""
    params = [torch.nn.Parameter(v.clone()) for k, v in state_dict.items()
              if k.startswith('prompt_learner.') and 'token_' not in k]
    optimizer = torch.optim.SGD(params, lr=0.0035, momentum=0.9, weight_decay=5e-4)
    for p in params:
        p.grad = torch.ones_like(p)
    optimizer.step()  # momentum buffers, so the optimizer state is not empty
    successor = CosineAnnealingLR(optimizer, T_max=5)
    scheduler = ConstantWarmupScheduler(optimizer, successor, warmup_epoch=1, cons_lr=1e-5)
    checkpoint = {
        'state_dict': state_dict,
        'epoch': 5,
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


def build_model(n_ctx=N_CTX, depth=DEPTH):
    from mmpretrain.registry import MODELS
    return MODELS.build(dict(
        type='MaPLe', backbone=dict(type='OpenCLIPBackbone', model_cfg=TINY_CLIP_CFG),
        prompt_learner=dict(type='MaPLePromptLearner', n_ctx=n_ctx, depth=depth)))


def convert(tmp_path, ref_path, name='converted.pth', extra_args=()):
    out = tmp_path / name
    assert conv.main([str(ref_path), str(out), *extra_args]) == str(out)
    return out


# -- tests --------------------------------------------------------------------------------
@pytest.mark.parametrize('scheduler_form', ['dassl', 'object'])
def test_converts_reference_checkpoint(tmp_path, monkeypatch, capsys, backbone, scheduler_form):
    ref = reference_state_dict(backbone)
    ref_path = save_reference_checkpoint(tmp_path / 'model.pth.tar-5', ref, monkeypatch,
                                         scheduler_form)
    # The file pickles Python objects: plain weights-only loading refuses it, so the
    # stub path of the converter is what reads it.
    with pytest.raises(pickle.UnpicklingError):
        torch.load(ref_path, map_location='cpu', weights_only=True)
    unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(str(ref_path))
    assert 'torch.optim.sgd.SGD' in unsafe
    if scheduler_form == 'object':
        assert f'{DASSL_MODULE}.ConstantWarmupScheduler' in unsafe

    loaded = conv.load_reference_checkpoint(str(ref_path))
    assert sorted(loaded['_stubbed_globals']) == sorted(unsafe)
    scheduler = loaded['scheduler']
    stub = scheduler if scheduler_form == 'object' else scheduler['successor']
    assert isinstance(stub, conv.InertStub)

    out = convert(tmp_path, ref_path)
    printed = capsys.readouterr().out
    ckpt = torch.load(out, map_location='cpu', weights_only=True)  # plain tensors and types
    assert set(ckpt) == {'state_dict', 'meta'}
    assert ckpt['meta'] == dict(converted_from='model.pth.tar-5', epoch=5, n_ctx=N_CTX,
                                prompt_depth=DEPTH, text_width=backbone.text_width,
                                vision_width=backbone.vision_width)
    sd = ckpt['state_dict']
    mapping = {'prompt_learner.ctx': 'prompt_learner.ctx',
               'prompt_learner.ctx_proj.weight': 'prompt_learner.proj.weight',
               'prompt_learner.ctx_proj.bias': 'prompt_learner.proj.bias'}
    for i in range(DEPTH - 1):
        mapping[f'prompt_learner.deep_text_prompts.{i}'] = \
            f'prompt_learner.compound_prompts_text.{i}'
        for part in ('weight', 'bias'):
            mapping[f'prompt_learner.deep_projs.{i}.{part}'] = \
                f'prompt_learner.compound_prompt_projections.{i}.{part}'
    assert set(sd) == set(mapping)  # buffers and frozen CLIP dropped
    for ours, theirs in mapping.items():
        assert sd[ours].dtype == torch.float32
        assert torch.equal(sd[ours], ref[theirs].float()), ours
    # The converted keys are exactly our model's state dict.
    model = build_model()
    assert set(model.state_dict()) == set(sd)
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in sd.items()}

    assert 'n_ctx=2' in printed and 'prompt depth 3' in printed
    assert 'prompt_learner.token_prefix' in printed and 'image_encoder.*' in printed
    assert f'python tools/test.py CONFIG {out}' in printed
    assert 'WARNING' not in printed


def test_logits_match_reference_forward(tmp_path, monkeypatch, backbone):
    ref = reference_state_dict(backbone, seed=1)
    ref_path = save_reference_checkpoint(tmp_path / 'model.pth.tar-5', ref, monkeypatch)
    out = convert(tmp_path, ref_path)

    model = build_model().eval()
    ckpt = torch.load(out, map_location='cpu', weights_only=True)
    model.load_state_dict(ckpt['state_dict'])  # strict: the frozen CLIP is not expected
    model.set_class_names(CLASS_NAMES)
    images = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ours = model(images)
        theirs = maple_logits(backbone.clip, backbone.tokenizer, ref, images, CLASS_NAMES,
                              n_ctx=N_CTX, depth=DEPTH)
        # The deep prompts matter here, so the comparison checks where they go.
        shallow_only = {k: v for k, v in ref.items() if 'compound' not in k}
        shallow = maple_logits(backbone.clip, backbone.tokenizer, shallow_only, images,
                               CLASS_NAMES, n_ctx=N_CTX, depth=1)
    assert ours.shape == (3, len(CLASS_NAMES))
    assert (theirs - shallow).abs().max() > 1e-2
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-5)

    # mmengine's loader (what tools/test.py uses through load_from) gives the same.
    from mmengine.runner import load_checkpoint
    other = build_model().eval()
    load_checkpoint(other, str(out), map_location='cpu', strict=False)
    other.set_class_names(CLASS_NAMES)
    with torch.no_grad():
        torch.testing.assert_close(other(images), ours, rtol=0, atol=0)


def test_other_n_ctx_is_a_clear_mismatch(tmp_path, monkeypatch, backbone):
    ref = reference_state_dict(backbone, n_ctx=4)
    out = convert(tmp_path, save_reference_checkpoint(tmp_path / 'ref.pth', ref, monkeypatch))
    assert torch.load(out, weights_only=True)['meta']['n_ctx'] == 4
    model = build_model(n_ctx=2)
    with pytest.raises(CheckpointMismatchError, match=r'n_ctx=2[\s\S]*prompt_learner\.ctx'):
        model.load_state_dict(torch.load(out, weights_only=True)['state_dict'])


def test_bare_state_dict_and_module_prefix(tmp_path, capsys, backbone):
    ref = reference_state_dict(backbone)
    bare = tmp_path / 'bare.pth'
    torch.save({'module.' + k: v for k, v in ref.items()}, bare)
    out = convert(tmp_path, bare)
    ckpt = torch.load(out, weights_only=True)
    assert 'epoch' not in ckpt['meta'] and ckpt['meta']['prompt_depth'] == DEPTH
    assert torch.equal(ckpt['state_dict']['prompt_learner.deep_projs.1.bias'],
                       ref['prompt_learner.compound_prompt_projections.1.bias'])
    assert 'inert stubs' not in capsys.readouterr().out  # nothing needed stubbing


def test_depth_one_checkpoint(tmp_path, backbone):
    ref = reference_state_dict(backbone, depth=1)
    torch.save({'state_dict': ref, 'epoch': 2}, tmp_path / 'ref.pth')
    out = convert(tmp_path, tmp_path / 'ref.pth')
    ckpt = torch.load(out, weights_only=True)
    assert ckpt['meta']['prompt_depth'] == 1 and ckpt['meta']['epoch'] == 2
    assert set(ckpt['state_dict']) == {'prompt_learner.ctx', 'prompt_learner.ctx_proj.weight',
                                       'prompt_learner.ctx_proj.bias'}
    build_model(depth=1).load_state_dict(ckpt['state_dict'])


# -- errors -----------------------------------------------------------------------------
def test_missing_input(tmp_path):
    with pytest.raises(conv.InputNotFoundError, match='does not exist'):
        conv.main([str(tmp_path / 'nope.pth'), str(tmp_path / 'out.pth')])
    assert not (tmp_path / 'out.pth').exists()


def test_existing_output_needs_force(tmp_path, backbone):
    torch.save({'state_dict': reference_state_dict(backbone)}, tmp_path / 'ref.pth')
    out = tmp_path / 'out.pth'
    out.write_bytes(b'keep me')
    with pytest.raises(conv.OutputExistsError, match='--force'):
        conv.main([str(tmp_path / 'ref.pth'), str(out)])
    assert out.read_bytes() == b'keep me'
    conv.main([str(tmp_path / 'ref.pth'), str(out), '--force'])
    assert torch.load(out, weights_only=True)['meta']['n_ctx'] == N_CTX
    with pytest.raises(conv.OutputExistsError, match='input'):
        conv.main([str(out), str(out), '--force'])
    assert sorted(p.name for p in tmp_path.iterdir()) == ['out.pth', 'ref.pth']  # no temp left


def test_not_a_maple_checkpoint(tmp_path, backbone):
    coop = {'prompt_learner.ctx': torch.zeros(16, backbone.text_width),
            'prompt_learner.token_prefix': torch.zeros(3, 1, backbone.text_width)}
    torch.save({'state_dict': coop, 'epoch': 50}, tmp_path / 'coop.pth')
    with pytest.raises(conv.ConversionError) as info:
        conv.main([str(tmp_path / 'coop.pth'), str(tmp_path / 'out.pth')])
    message = str(info.value)
    for key in ('prompt_learner.proj.weight', 'prompt_learner.compound_prompts_text.<i>',
                'prompt_learner.compound_prompt_projections.<i>'):
        assert key in message
    assert not (tmp_path / 'out.pth').exists()

    torch.save({'weights': 1}, tmp_path / 'other.pth')
    with pytest.raises(conv.ConversionError, match='state_dict'):
        conv.main([str(tmp_path / 'other.pth'), str(tmp_path / 'out.pth')])
    (tmp_path / 'junk.pth').write_bytes(b'not a checkpoint')
    with pytest.raises(conv.ConversionError):
        conv.main([str(tmp_path / 'junk.pth'), str(tmp_path / 'out.pth')])


def test_inconsistent_deep_prompts(tmp_path, backbone):
    ref = reference_state_dict(backbone, depth=4)
    del ref['prompt_learner.compound_prompt_projections.2.weight']
    del ref['prompt_learner.compound_prompt_projections.2.bias']
    with pytest.raises(conv.ConversionError, match='3 deep text prompts .* but 2 projections'):
        conv.convert_state_dict(ref)
    ref = reference_state_dict(backbone, depth=3)
    ref['prompt_learner.compound_prompts_text.1'] = torch.zeros(3, backbone.text_width)
    with pytest.raises(conv.ConversionError, match=r'compound_prompts_text\.1 is \(3, 32\)'):
        conv.convert_state_dict(ref)
    ref = reference_state_dict(backbone, depth=3)
    del ref['prompt_learner.compound_prompt_projections.0.bias']
    with pytest.raises(conv.ConversionError, match='needs weight and bias'):
        conv.convert_state_dict(ref)


# -- no pickled code is ever run -----------------------------------------------------------
class _ExecPayload:
    """Unpickling this (with plain pickle) writes a marker file via builtins.exec."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f'open({self.marker!r}, "w").write("pwned")', )


class _SystemPayload:
    """Unpickling this (with plain pickle) runs a shell command."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f'touch {self.marker}', )


def test_exec_payload_is_not_run(tmp_path, monkeypatch, capsys, backbone):
    marker = tmp_path / 'marker'
    ref = reference_state_dict(backbone)
    ref_path = save_reference_checkpoint(tmp_path / 'evil.pth', ref, monkeypatch,
                                         extra={'scheduler': _ExecPayload(marker)})
    out = convert(tmp_path, ref_path)
    assert not marker.exists()
    assert 'builtins.exec' in capsys.readouterr().out  # reported as unexpected
    assert torch.equal(torch.load(out, weights_only=True)['state_dict']['prompt_learner.ctx'],
                       ref['prompt_learner.ctx'].float())
    # The payload is live: an unrestricted load would have run it.
    torch.load(ref_path, map_location='cpu', weights_only=False)
    assert marker.read_text() == 'pwned'


def test_os_system_payload_is_refused(tmp_path, monkeypatch, backbone):
    marker = tmp_path / 'marker'
    ref_path = save_reference_checkpoint(tmp_path / 'evil.pth', reference_state_dict(backbone),
                                         monkeypatch, extra={'optimizer': _SystemPayload(marker)})
    with pytest.raises(conv.ConversionError, match='Refusing'):
        conv.main([str(ref_path), str(tmp_path / 'out.pth')])
    assert not marker.exists()
    assert not (tmp_path / 'out.pth').exists()

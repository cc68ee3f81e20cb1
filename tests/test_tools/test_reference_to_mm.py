"""tools/model_converters/reference_to_mm.py: reference checkpoints of every trainer -> maple_mm.

The fake reference checkpoints are written as Dassl's ``save_checkpoint`` writes
them for each trainer (tests/reference_trainers.py ``dassl_saved_state_dict``:
CoOp / CoCoOp save their prompt learner alone, without the 'prompt_learner.'
prefix; VPT / IVLP / MaPLe the whole model with the frozen CLIP; fp16 where the
reference's fp16 configs have it; plus the epoch, the optimizer state and a
scheduler state that pickles Python objects). The converted prompts are loaded
into our models the two ways the tools load checkpoints, and their logits are
checked against the literal transcription of the reference forward pass.
"""
import os
import pickle
import sys
import types
from pathlib import Path

import pytest
import torch
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint
from mmpretrain.registry import MODELS
from torch.optim.lr_scheduler import CosineAnnealingLR, _LRScheduler

import maple_mm  # noqa: F401
from maple_mm.engine import load_checkpoint_file
from maple_mm.errors import CheckpointMismatchError, ClassNameError
from maple_mm.models import TINY_CLIP_CFG, OpenCLIPBackbone, reference_checkpoint
from tests import reference_trainers as ref_trainers
from tests.conftest import load_tool
from tests.reference_trainers import dassl_saved_state_dict

init_default_scope('mmpretrain')

REPO_ROOT = Path(__file__).resolve().parents[2]
CLASS_NAMES = ['dog', 'golden_retriever', 'sea turtle', 'aircraft carrier', 'crane (bird)']
DASSL_MODULE = 'dassl.optim.lr_scheduler'

conv = reference_checkpoint
tool = load_tool('tools/model_converters/reference_to_mm.py')
pytestmark = pytest.mark.usefixtures('one_thread')


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


# -- one configuration per method -------------------------------------------------------
#: method -> (our model type, our learner config, reference config, builder, logits)
METHODS = {
    'coop': ('CoOp', dict(n_ctx=4), dict(n_ctx=4, ctx_init='', csc=False),
             ref_trainers.coop_reference_state_dict, ref_trainers.coop_logits),
    'coop-csc':
    ('CoOp',
     dict(n_ctx=3, class_specific=True, num_classes=len(CLASS_NAMES), class_token_position='front'),
     dict(n_ctx=3, ctx_init='', csc=True, class_token_position='front'),
     ref_trainers.coop_reference_state_dict, ref_trainers.coop_logits),
    'cocoop': ('CoCoOp', dict(n_ctx=4,
                              ctx_init='a photo of a'), dict(n_ctx=4, ctx_init='a photo of a'),
               ref_trainers.cocoop_reference_state_dict, ref_trainers.cocoop_logits),
    'vpt': ('VPT', dict(n_ctx=4, depth=3), dict(n_ctx_vision=4, depth_vision=3),
            ref_trainers.vpt_reference_state_dict, ref_trainers.vpt_logits),
    'ivlp':
    ('IVLP', dict(n_ctx_text=2, n_ctx_vision=3, depth_text=4, depth_vision=3),
     dict(n_ctx_text=2, n_ctx_vision=3, depth_text=4,
          depth_vision=3), ref_trainers.ivlp_reference_state_dict, ref_trainers.ivlp_logits),
    'language': ('LanguagePrompting', dict(n_ctx=4, depth=3),
                 dict(n_ctx_text=4, n_ctx_vision=0, depth_text=3, depth_vision=0),
                 ref_trainers.ivlp_reference_state_dict, ref_trainers.ivlp_logits),
    'maple': ('MaPLe', dict(n_ctx=2, depth=3), dict(n_ctx=2, depth=3),
              ref_trainers.maple_reference_state_dict, ref_trainers.maple_logits),
}
#: The converter's method per case (the others are named after theirs).
TRAINER = {'coop-csc': 'coop'}


def dassl_trainer(case: str) -> str:
    """The reference trainer whose Dassl file layout ``case`` has."""
    return {'coop-csc': 'coop', 'language': 'ivlp'}.get(case, case)


EXPECTED_META = {
    'coop':
    dict(n_ctx=4, class_specific=False, text_width=32),
    'coop-csc':
    dict(n_ctx=3, class_specific=True, num_classes=5, text_width=32),
    'cocoop':
    dict(n_ctx=4, text_width=32, embed_dim=32),
    'vpt':
    dict(n_ctx=4, depth=3, vision_width=48),
    'ivlp':
    dict(
        n_ctx_text=2, n_ctx_vision=3, depth_text=4, depth_vision=3, text_width=32, vision_width=48),
    'language':
    dict(n_ctx=4, depth=3, text_width=32),
    'maple':
    dict(n_ctx=2, depth=3, text_width=32, vision_width=48),
}


@pytest.fixture(scope='module')
def backbone():
    return OpenCLIPBackbone(model_cfg=TINY_CLIP_CFG)


def reference_prompts(backbone, case='maple', seed=0, **overrides):
    """The learned tensors (+ token buffers) under the reference's CustomCLIP names."""
    _, _, kwargs, builder, _ = METHODS[case]
    kwargs = dict(kwargs, **overrides)
    kwargs.pop('class_token_position', None)  # only the forward uses it
    if case == 'vpt':
        return builder(backbone.clip, seed=seed, **kwargs)
    return builder(backbone.clip, backbone.tokenizer, CLASS_NAMES, seed=seed, **kwargs)


def saved_state_dict(backbone, case='maple', seed=0, **overrides):
    """The 'state_dict' Dassl writes for the trainer of ``case`` (names and dtypes)."""
    ref = reference_prompts(backbone, case, seed, **overrides)
    return ref, dassl_saved_state_dict(dassl_trainer(case), ref, backbone.clip)


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
    for key, value in state_dict.items():
        if 'token_' in key or not value.is_floating_point():
            continue
        learned = key == 'ctx' or key.startswith(('meta_net.', 'prompt_learner.')) \
            or 'VPT' in key
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


def build_model(case='maple', **overrides):
    model_type, learner, _, _, _ = METHODS[case]
    return MODELS.build(
        dict(
            type=model_type,
            backbone=dict(type='OpenCLIPBackbone', model_cfg=TINY_CLIP_CFG),
            prompt_learner=dict(learner, **overrides)))


def convert(tmp_path, ref_path, name='converted.pth', extra_args=()):
    out = tmp_path / name
    assert tool.main([str(ref_path), str(out), *extra_args]) == str(out)
    return out


def printed_model_config(printed: str) -> dict:
    """The ``model=dict(...)`` line the converter prints, as a dict."""
    line = next(x.strip() for x in printed.splitlines() if x.strip().startswith('model=dict('))
    return eval(line[len('model='):], {'dict': dict})


# -- the round trip, every method ---------------------------------------------------------------
@pytest.mark.parametrize('case', list(METHODS))
def test_round_trip(tmp_path, monkeypatch, capsys, backbone, case):
    """Dassl file -> converter -> our model (both loaders) = the reference's logits."""
    method = TRAINER.get(case, case)
    ref, saved = saved_state_dict(backbone, case, seed=1)
    folder = tmp_path / ref_trainers.DASSL_MODEL_NAMES[dassl_trainer(case)]
    folder.mkdir()
    ref_path = save_reference_checkpoint(folder / 'model.pth.tar-5', saved, monkeypatch)
    # The file pickles Python objects: plain weights-only loading refuses it.
    with pytest.raises(pickle.UnpicklingError):
        torch.load(ref_path, map_location='cpu', weights_only=True)

    out = convert(tmp_path, ref_path)  # --method auto
    printed = capsys.readouterr().out
    ckpt = torch.load(out, map_location='cpu', weights_only=True)
    assert set(ckpt) == {'state_dict', 'meta'}
    assert ckpt['meta'] == dict(
        method=method, converted_from='model.pth.tar-5', epoch=5, **EXPECTED_META[case])
    assert all(v.dtype == torch.float32 for v in ckpt['state_dict'].values())

    model_type, learner, ref_kwargs, _, logits_fn = METHODS[case]
    config = printed_model_config(printed)
    assert config['type'] == model_type
    images = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        theirs = logits_fn(backbone.clip, backbone.tokenizer, ref, images, CLASS_NAMES,
                           **ref_kwargs)
    # tools/test.py: the runner loads weights-only (load_checkpoint_file) and then the
    # state dict; Python users call mmengine's load_checkpoint. The printed config fits.
    via_tools = MODELS.build(
        dict(
            config,
            backbone=dict(type='OpenCLIPBackbone', model_cfg=TINY_CLIP_CFG),
            prompt_learner=dict(
                config['prompt_learner'], **{
                    k: v
                    for k, v in learner.items() if k in ('ctx_init', 'class_token_position')
                })))
    via_tools.load_state_dict(load_checkpoint_file(str(out))['state_dict'])
    via_mmengine = build_model(case)
    load_checkpoint(via_mmengine, str(out), map_location='cpu', strict=True)
    for model in (via_tools, via_mmengine):
        model.set_class_names(CLASS_NAMES)
        model.eval()
        with torch.no_grad():
            torch.testing.assert_close(model(images), theirs, rtol=1e-5, atol=1e-5)

    assert f'{conv.REFERENCE_TRAINERS[method]} prompts (' in printed
    if method in ('vpt', 'ivlp', 'language', 'maple'):
        assert 'image_encoder.*' in printed and 'logit_scale' in printed
    if method != 'vpt':
        assert 'prompt_learner.token_prefix' in printed
    assert 'Pickled objects replaced by inert stubs' in printed
    assert f'python tools/test.py CONFIG {out}' in printed
    assert 'WARNING' not in printed


@pytest.mark.parametrize('scheduler_form', ['dassl', 'object'])
def test_scheduler_objects_become_inert_stubs(tmp_path, monkeypatch, backbone, scheduler_form):
    _, saved = saved_state_dict(backbone, 'maple')
    ref_path = save_reference_checkpoint(tmp_path / 'model.pth.tar-5', saved, monkeypatch,
                                         scheduler_form)
    unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(str(ref_path))
    assert 'torch.optim.sgd.SGD' in unsafe
    if scheduler_form == 'object':
        assert f'{DASSL_MODULE}.ConstantWarmupScheduler' in unsafe
    loaded = conv.load_reference_checkpoint(str(ref_path))
    assert sorted(loaded['_stubbed_globals']) == sorted(unsafe)
    scheduler = loaded['scheduler']
    stub = scheduler if scheduler_form == 'object' else scheduler['successor']
    assert isinstance(stub, conv.InertStub)


def test_key_mapping_maple(backbone):
    ref, saved = saved_state_dict(backbone, 'maple')
    method, sd = conv.convert_state_dict(saved)
    assert method == 'maple'
    mapping = {
        'prompt_learner.ctx': 'prompt_learner.ctx',
        'prompt_learner.ctx_proj.weight': 'prompt_learner.proj.weight',
        'prompt_learner.ctx_proj.bias': 'prompt_learner.proj.bias'
    }
    for i in range(2):
        mapping[f'prompt_learner.deep_text_prompts.{i}'] = \
            f'prompt_learner.compound_prompts_text.{i}'
        for part in ('weight', 'bias'):
            mapping[f'prompt_learner.deep_projs.{i}.{part}'] = \
                f'prompt_learner.compound_prompt_projections.{i}.{part}'
    assert set(sd) == set(mapping)
    for ours, theirs in mapping.items():
        assert torch.equal(sd[ours], ref[theirs].float()), ours


def test_key_mapping_ivlp_deep_prompts_shift_by_one(backbone):
    ref, saved = saved_state_dict(backbone, 'ivlp')
    _, sd = conv.convert_state_dict(saved, 'ivlp')
    for i in (1, 2, 3):
        assert torch.equal(sd[f'prompt_learner.deep_text_prompts.{i - 1}'],
                           ref[f'text_encoder.transformer.resblocks.{i}.VPT_shallow'])
    for i in (1, 2):
        assert torch.equal(sd[f'prompt_learner.deep_vision_prompts.{i - 1}'],
                           ref[f'image_encoder.transformer.resblocks.{i}.VPT_shallow'])
    assert torch.equal(sd['prompt_learner.vision_ctx'], ref['image_encoder.VPT'])
    assert set(sd) == set(build_model('ivlp').state_dict()) - {'_extra_state'}


def test_detection(backbone):
    for case in METHODS:
        method = TRAINER.get(case, case)
        ref, saved = saved_state_dict(backbone, case)
        assert conv.detect_method(saved) == method, case
        # Under CustomCLIP names, without the frozen CLIP, too.
        assert conv.detect_method(ref) == method, case


def test_text_depth_one_language_vs_coop(tmp_path, backbone):
    """A context alone: CoOp, unless the file holds the whole model (IVLP, language only)."""
    ref, saved = saved_state_dict(backbone, 'language', depth_text=1)
    assert conv.detect_method(saved) == 'language'
    bare = {k: v for k, v in ref.items()}
    assert conv.detect_method(bare) == 'coop'
    method, sd = conv.convert_state_dict(bare, 'language')
    assert method == 'language' and set(sd) == {'prompt_learner.ctx'}
    build_model('language', depth=1).load_state_dict(sd)


def test_method_given_explicitly_must_fit(backbone):
    _, saved = saved_state_dict(backbone, 'ivlp')
    with pytest.raises(
            conv.ConversionError,
            match=r'Not a checkpoint of the reference MaPLe trainer[\s\S]*'
            r'prompt_learner\.proj\.weight[\s\S]*--method ivlp'):
        conv.convert_state_dict(saved, 'maple')
    _, saved = saved_state_dict(backbone, 'maple')
    with pytest.raises(
            conv.ConversionError, match='Not a checkpoint of the reference IVLP trainer'):
        conv.convert_state_dict(saved, 'ivlp')
    with pytest.raises(conv.ConversionError, match='Unknown method'):
        conv.convert_state_dict(saved, 'mapl')


def test_bare_state_dict_and_module_prefix(tmp_path, capsys, backbone):
    ref, saved = saved_state_dict(backbone, 'maple')
    bare = tmp_path / 'bare.pth'
    torch.save({'module.' + k: v for k, v in saved.items()}, bare)
    out = convert(tmp_path, bare)
    ckpt = torch.load(out, weights_only=True)
    assert 'epoch' not in ckpt['meta'] and ckpt['meta']['depth'] == 3
    assert torch.equal(ckpt['state_dict']['prompt_learner.deep_projs.1.bias'],
                       ref['prompt_learner.compound_prompt_projections.1.bias'])
    assert 'inert stubs' not in capsys.readouterr().out  # nothing needed stubbing

    # CoOp / CoCoOp files saved through DataParallel: 'module.ctx', 'module.meta_net...'.
    _, saved = saved_state_dict(backbone, 'cocoop')
    torch.save({'state_dict': {'module.' + k: v for k, v in saved.items()}}, bare)
    out = convert(tmp_path, bare, 'cocoop.pth')
    assert torch.load(out, weights_only=True)['meta']['method'] == 'cocoop'


def test_depth_one_checkpoints(tmp_path, backbone):
    for case, kwargs, learner in (('maple', dict(depth=1), dict(depth=1)),
                                  ('vpt', dict(depth_vision=1), dict(depth=1))):
        _, saved = saved_state_dict(backbone, case, **kwargs)
        torch.save({'state_dict': saved, 'epoch': 2}, tmp_path / 'ref.pth')
        out = convert(tmp_path, tmp_path / 'ref.pth', f'{case}.pth')
        ckpt = torch.load(out, weights_only=True)
        assert ckpt['meta']['depth'] == 1 and ckpt['meta']['epoch'] == 2
        build_model(case, **learner).load_state_dict(ckpt['state_dict'])


def test_reference_depth_beyond_the_blocks(backbone):
    """PROMPT_DEPTH 12 on a 4-block tower: the reference makes prompts for blocks 1..3 only."""
    ref = ref_trainers.vpt_reference_state_dict(backbone.clip, n_ctx_vision=2, depth_vision=12)
    method, sd = conv.convert_state_dict(ref)
    assert conv.describe(method, sd)['depth'] == 4
    build_model('vpt', n_ctx=2, depth=4).load_state_dict(sd)


def test_other_n_ctx_is_a_clear_mismatch(tmp_path, monkeypatch, backbone):
    _, saved = saved_state_dict(backbone, 'maple', n_ctx=4)
    out = convert(tmp_path, save_reference_checkpoint(tmp_path / 'ref.pth', saved, monkeypatch))
    assert torch.load(out, weights_only=True)['meta']['n_ctx'] == 4
    model = build_model('maple', n_ctx=2)
    with pytest.raises(CheckpointMismatchError, match=r'n_ctx=2[\s\S]*prompt_learner\.ctx'):
        model.load_state_dict(torch.load(out, weights_only=True)['state_dict'])


def test_class_specific_checkpoint_names_its_classes(tmp_path, monkeypatch, capsys, backbone):
    _, saved = saved_state_dict(backbone, 'coop-csc')
    out = convert(tmp_path,
                  save_reference_checkpoint(tmp_path / 'ref.pth', saved, monkeypatch, epoch=50))
    printed = capsys.readouterr().out
    meta = torch.load(out, weights_only=True)['meta']
    assert meta['class_specific'] is True and meta['num_classes'] == 5
    assert 'exactly the 5 classes it was trained on' in printed
    assert printed_model_config(printed)['prompt_learner'] == dict(
        n_ctx=3, class_specific=True, num_classes=5)
    # A model built for another number of classes refuses the checkpoint clearly.
    model = build_model('coop-csc', num_classes=3)
    with pytest.raises(CheckpointMismatchError, match=r'\(5, 3, 32\) vs model \(3, 3, 32\)'):
        model.load_state_dict(torch.load(out, weights_only=True)['state_dict'])
    model = build_model('coop-csc')
    model.load_state_dict(torch.load(out, weights_only=True)['state_dict'])
    with pytest.raises(ClassNameError, match='each of 5 classes'):
        model.set_class_names(CLASS_NAMES[:3])


@pytest.mark.parametrize('case', list(METHODS))
def test_unconverted_state_dict_points_to_the_converter(backbone, case):
    """Loading what the reference saved, unconverted, says to run this converter."""
    _, saved = saved_state_dict(backbone, case)
    hint = r'reference code: convert it with tools/model_converters/reference_to_mm\.py'
    with pytest.raises(CheckpointMismatchError, match=hint):
        build_model(case).load_state_dict(saved)


# -- errors -----------------------------------------------------------------------------
def test_missing_input(tmp_path):
    with pytest.raises(conv.InputNotFoundError, match='does not exist'):
        tool.main([str(tmp_path / 'nope.pth'), str(tmp_path / 'out.pth')])
    assert not (tmp_path / 'out.pth').exists()


def test_existing_output_needs_force(tmp_path, backbone):
    torch.save({'state_dict': saved_state_dict(backbone, 'maple')[1]}, tmp_path / 'ref.pth')
    out = tmp_path / 'out.pth'
    out.write_bytes(b'keep me')
    with pytest.raises(conv.OutputExistsError, match='--force'):
        tool.main([str(tmp_path / 'ref.pth'), str(out)])
    assert out.read_bytes() == b'keep me'
    tool.main([str(tmp_path / 'ref.pth'), str(out), '--force'])
    assert torch.load(out, weights_only=True)['meta']['n_ctx'] == 2
    with pytest.raises(conv.OutputExistsError, match='input'):
        tool.main([str(out), str(out), '--force'])
    assert sorted(p.name for p in tmp_path.iterdir()) == ['out.pth', 'ref.pth']  # no temp left


def test_not_a_reference_checkpoint(tmp_path, backbone):
    torch.save({'state_dict': {'encoder.weight': torch.zeros(2)}}, tmp_path / 'other.pth')
    with pytest.raises(conv.ConversionError) as info:
        tool.main([str(tmp_path / 'other.pth'), str(tmp_path / 'out.pth')])
    message = str(info.value)
    assert 'No prompt weights of any reference trainer' in message
    for key in ('image_encoder.VPT', 'prompt_learner.compound_prompts_text.<i>',
                'meta_net.linear1.weight'):
        assert key in message
    assert not (tmp_path / 'out.pth').exists()

    torch.save({'weights': 1}, tmp_path / 'other.pth')
    with pytest.raises(conv.ConversionError, match='state_dict'):
        tool.main([str(tmp_path / 'other.pth'), str(tmp_path / 'out.pth')])
    (tmp_path / 'junk.pth').write_bytes(b'not a checkpoint')
    with pytest.raises(conv.ConversionError):
        tool.main([str(tmp_path / 'junk.pth'), str(tmp_path / 'out.pth')])


def test_unknown_keys(backbone):
    _, saved = saved_state_dict(backbone, 'maple')
    saved['prompt_learner.extra_prompt'] = torch.zeros(2, 32)
    with pytest.raises(conv.ConversionError, match=r"Unknown keys \['prompt_learner\.extra"):
        conv.convert_state_dict(saved)
    _, saved = saved_state_dict(backbone, 'coop')
    saved['bias'] = torch.zeros(32)  # a CoOp file holds only its prompt learner
    with pytest.raises(conv.ConversionError, match=r"Unknown keys \['prompt_learner\.bias'\]"):
        conv.convert_state_dict(saved)
    _, saved = saved_state_dict(backbone, 'ivlp')
    saved['image_encoder.transformer.resblocks.0.VPT_shallow'] = torch.zeros(3, 48)
    with pytest.raises(conv.ConversionError, match=r'numbered \[0, 1, 2\]'):
        conv.convert_state_dict(saved)


def test_inconsistent_shapes(backbone):
    _, saved = saved_state_dict(backbone, 'maple', depth=4)
    del saved['prompt_learner.compound_prompt_projections.2.weight']
    del saved['prompt_learner.compound_prompt_projections.2.bias']
    with pytest.raises(conv.ConversionError, match='3 deep text prompts .* but 2 projections'):
        conv.convert_state_dict(saved)
    _, saved = saved_state_dict(backbone, 'maple')
    saved['prompt_learner.compound_prompts_text.1'] = torch.zeros(3, 32)
    with pytest.raises(conv.ConversionError, match=r'compound_prompts_text\.1 is \(3, 32\)'):
        conv.convert_state_dict(saved)
    _, saved = saved_state_dict(backbone, 'maple')
    del saved['prompt_learner.compound_prompt_projections.0.bias']
    with pytest.raises(conv.ConversionError, match='needs weight and bias'):
        conv.convert_state_dict(saved)
    _, saved = saved_state_dict(backbone, 'ivlp')
    saved['text_encoder.transformer.resblocks.2.VPT_shallow'] = torch.zeros(5, 32)
    with pytest.raises(
            conv.ConversionError,
            match=r'resblocks\.2\.VPT_shallow is \(5, 32\), '
            r'expected \(2, 32\)'):
        conv.convert_state_dict(saved)
    _, saved = saved_state_dict(backbone, 'vpt')
    del saved['image_encoder.transformer.resblocks.1.VPT_shallow']
    with pytest.raises(conv.ConversionError, match=r'numbered \[2\]; .* 1\.\.1 without gaps'):
        conv.convert_state_dict(saved)
    _, saved = saved_state_dict(backbone, 'cocoop')
    saved['meta_net.linear2.weight'] = torch.zeros(16, 2)
    with pytest.raises(conv.ConversionError, match=r'meta_net\.linear2 is \(16, 2\)'):
        conv.convert_state_dict(saved)
    _, saved = saved_state_dict(backbone, 'ivlp')
    saved['prompt_learner.ctx'] = torch.zeros(5, 2, 32)
    with pytest.raises(conv.ConversionError, match='only CoOp has class-specific'):
        conv.convert_state_dict(saved)


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
    ref, saved = saved_state_dict(backbone, 'coop')
    ref_path = save_reference_checkpoint(
        tmp_path / 'evil.pth', saved, monkeypatch, extra={'scheduler': _ExecPayload(marker)})
    out = convert(tmp_path, ref_path)
    assert not marker.exists()
    assert 'builtins.exec' in capsys.readouterr().out  # reported as unexpected
    assert torch.equal(
        torch.load(out, weights_only=True)['state_dict']['prompt_learner.ctx'],
        ref['prompt_learner.ctx'].float())
    # The payload is live: an unrestricted load would have run it.
    torch.load(ref_path, map_location='cpu', weights_only=False)
    assert marker.read_text() == 'pwned'


def test_os_system_payload_is_refused(tmp_path, monkeypatch, backbone):
    marker = tmp_path / 'marker'
    ref_path = save_reference_checkpoint(
        tmp_path / 'evil.pth',
        saved_state_dict(backbone, 'maple')[1],
        monkeypatch,
        extra={'optimizer': _SystemPayload(marker)})
    with pytest.raises(conv.ConversionError, match='Refusing'):
        tool.main([str(ref_path), str(tmp_path / 'out.pth')])
    assert not marker.exists()
    assert not (tmp_path / 'out.pth').exists()


# -- the successors: PromptSRC (IVLP's keys) and KgCoOp (CoOp's plus unused weights) --------
def test_successor_checkpoints_give_the_reference_logits_and_loss_terms(
        tmp_path, monkeypatch, capsys, backbone):
    """``VLPromptLearner/model.pth.tar-N`` of PromptSRC and ``prompt_learner/model.pth.tar-N``
    of KgCoOp, as Dassl writes them: converted, the model built from the printed config
    gives the reference's logits, and ``mode='loss'`` its loss terms, each under its key."""
    from mmpretrain.structures import DataSample

    from tests import reference_successors as successors
    labels = [0, 3, 4]
    samples = [DataSample().set_gt_label(label) for label in labels]
    images = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    template = 'a photo of a {}, a type of pet.'
    prompts = dict(n_ctx_text=4, n_ctx_vision=4, depth_text=3, depth_vision=3)
    clip, tokenizer = backbone.clip, backbone.tokenizer

    ivlp = ref_trainers.ivlp_reference_state_dict(clip, tokenizer, CLASS_NAMES, seed=2, **prompts)
    src_saved = dassl_saved_state_dict('ivlp', ivlp, clip)
    for key, value in clip.visual.state_dict().items():
        src_saved['prompt_learner.ZS_image_encoder.' + key] = value.half()
    kg = successors.kgcoop_reference_state_dict(clip, tokenizer, CLASS_NAMES, seed=2)
    cases = {
        'promptsrc':
        ('VLPromptLearner', src_saved, ivlp, {}, lambda ref: successors.promptsrc_forward(
            clip, tokenizer, ref, images, CLASS_NAMES, torch.tensor(labels), **prompts), {
                'loss_ce': 'ce',
                'loss_text': 'text',
                'loss_image': 'image',
                'loss_logits': 'logits_kl'
            }),
        'kgcoop': ('prompt_learner', dassl_saved_state_dict('coop', kg), kg,
                   dict(prompt_template=template), lambda ref: dict(
                       successors.kgcoop_forward(clip, tokenizer, ref, images, CLASS_NAMES,
                                                 torch.tensor(labels), template),
                       kg=None), {
                           'loss_ce': 'ce',
                           'loss_kg': 'score'
                       }),
    }
    for method, (folder, saved, ref, meta, forward, terms) in cases.items():
        (tmp_path / method / folder).mkdir(parents=True)
        ref_path = save_reference_checkpoint(
            tmp_path / method / folder / 'model.pth.tar-20', saved, monkeypatch, epoch=20)
        out = convert(tmp_path / method, ref_path)
        printed = capsys.readouterr().out
        assert torch.load(out, weights_only=True)['meta']['method'] == method
        config = printed_model_config(printed)
        model = MODELS.build(
            dict(config, backbone=dict(type='OpenCLIPBackbone', model_cfg=TINY_CLIP_CFG)))
        model.load_state_dict(load_checkpoint_file(str(out))['state_dict'])
        model.set_class_names(CLASS_NAMES, dataset_meta=meta)
        with torch.no_grad():
            theirs = forward(ref)
        if method == 'kgcoop':
            theirs['score'] = 8.0 * theirs['score']  # W x score: the term's value
            assert 'bias_vectors' in printed and 'never used' in printed
        model.train()
        with torch.no_grad():
            losses = model(images, samples, mode='loss')
        assert set(losses) == set(terms)
        for ours, their_key in terms.items():
            torch.testing.assert_close(losses[ours], theirs[their_key], rtol=1e-5, atol=1e-5)
        model.eval()
        with torch.no_grad():
            torch.testing.assert_close(model(images), theirs['logits'], rtol=1e-5, atol=1e-5)

    # Without its frozen image tower a PromptSRC state dict has IVLP's keys: --method says it.
    bare = {k: v for k, v in src_saved.items() if 'ZS_image_encoder' not in k}
    save_reference_checkpoint(tmp_path / 'bare.pth', bare, monkeypatch)
    assert torch.load(
        convert(tmp_path, tmp_path / 'bare.pth', 'auto.pth'),
        weights_only=True)['meta']['method'] == 'ivlp'
    assert torch.load(
        convert(tmp_path, tmp_path / 'bare.pth', 'src.pth', ['--method', 'promptsrc']),
        weights_only=True)['meta']['method'] == 'promptsrc'


# -- CoOp's released prompts: the run folders name the CLIP ----------------------------------
def coop_released_file(root, monkeypatch, folder, n_ctx=16, csc=False, num_classes=10):
    """A CoOp prompt learner saved as scripts/coop/main.sh saves it under ``folder``."""
    shape = (num_classes, n_ctx, 512) if csc else (n_ctx, 512)
    state_dict = dict(
        ctx=torch.randn(*shape).half(),
        token_prefix=torch.randn(num_classes, 1, 512).half(),
        token_suffix=torch.randn(num_classes, 76 - n_ctx, 512).half())
    path = root / folder / 'seed1' / 'prompt_learner' / 'model.pth.tar-50'
    path.parent.mkdir(parents=True)
    return save_reference_checkpoint(path, state_dict, monkeypatch, epoch=50)


@pytest.mark.parametrize('yaml,clip', [('rn50_ep50', 'RN50'), ('rn101', 'RN101'),
                                       ('vit_b32_ep50', 'ViT-B-32'), ('vit_b16_ep50', 'ViT-B-16')])
def test_coop_released_prompts_say_their_clip(tmp_path, monkeypatch, capsys, yaml, clip):
    ref_path = coop_released_file(
        tmp_path, monkeypatch, f'imagenet/CoOp/{yaml}_16shots/nctx4_cscFalse_ctpend', n_ctx=4)
    ckpt = torch.load(convert(tmp_path, ref_path), map_location='cpu', weights_only=True)
    assert ckpt['meta'] == dict(
        method='coop',
        converted_from='model.pth.tar-50',
        epoch=50,
        clip=clip,
        n_ctx=4,
        class_specific=False,
        text_width=512)
    printed = capsys.readouterr().out
    assert (f"Use the CLIP the reference was trained with ({clip} with pretrained='openai': its "
            f'run folder {yaml}_16shots/nctx4_cscFalse_ctpend says so; text width 512).') in printed
    assert printed_model_config(printed) == dict(
        type='CoOp', prompt_learner=dict(n_ctx=4, class_specific=False))
    assert 'WARNING' not in printed


def test_coop_run_folders_give_the_class_position_and_catch_a_mismatch(
        tmp_path, monkeypatch, capsys):
    middle = coop_released_file(
        tmp_path, monkeypatch, 'a/rn50_16shots/nctx16_cscTrue_ctpmiddle', csc=True)
    convert(tmp_path, middle, 'middle.pth')
    printed = capsys.readouterr().out
    assert printed_model_config(printed)['prompt_learner'] == dict(
        n_ctx=16, class_specific=True, num_classes=10, class_token_position='middle')
    wrong = coop_released_file(
        tmp_path, monkeypatch, 'b/rn50_ep50_16shots/nctx4_cscTrue_ctpend', n_ctx=16)
    convert(tmp_path, wrong, 'wrong.pth')
    printed = capsys.readouterr().out
    assert ('WARNING: the run folder rn50_ep50_16shots/nctx4_cscTrue_ctpend says 4 context '
            'vectors, the prompts hold 16.') in printed
    assert 'says cscTrue, the prompts are not class-specific.' in printed


def test_text_only_prompts_without_run_folders_name_the_clips_of_their_widths(
        tmp_path, monkeypatch, capsys):
    """CoOp's text width (512) is that of RN50, RN101, ViT-B/32 and ViT-B/16 alike."""
    ref_path = coop_released_file(tmp_path, monkeypatch, 'somewhere')
    convert(tmp_path, ref_path)
    assert ('text width 512: RN50, RN101, ViT-B-32 or ViT-B-16 with pretrained=\'openai\''
            in capsys.readouterr().out)
    assert conv.run_folder_settings(str(ref_path)) == {}
    assert conv.run_folder_settings('x/rn50x4_16shots/nctx16_cscFalse_ctpend/seed1/f') == {}

"""tools/model_converters/reference_to_mm.py: reference checkpoints of every trainer -> maple_mm.

Each method's cases are rows of its own test module (``converter`` of
:class:`tests.method_rows.MethodRows`); the fake reference checkpoints are
written as Dassl writes them (tests/test_tools/reference_checkpoints.py). The
converted prompts are loaded into our models the two ways the tools load
checkpoints, and their logits are checked against the literal transcription of
the reference forward pass. The tests of one method's keys are in its test module.
"""
import os
import pickle

import pytest
import torch
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint
from mmpretrain.registry import MODELS

import maple_mm  # noqa: F401
from maple_mm.engine import load_checkpoint_file
from maple_mm.errors import CheckpointMismatchError
from maple_mm.models import TINY_CLIP_CFG
from tests import reference_trainers as ref_trainers
from tests.method_rows import converter_cases
from .reference_checkpoints import (CLASS_NAMES, DASSL_MODULE, build_model, conv, convert,
                                    printed_model_config, save_reference_checkpoint,
                                    saved_state_dict, tool)

init_default_scope('mmpretrain')

pytestmark = pytest.mark.usefixtures('one_thread')
#: The example method of the shared tests (tests/test_method_files.py).
EXAMPLE = 'maple'
CASES = converter_cases()


def _detected(method: str) -> str:
    """What auto-detection names: a layout extending another without a signature of its
    own saves its base's keys, so the keys name the base (``--method`` names it)."""
    layout = conv.reference_layout(method)
    return method if layout.base is None or layout.signature else _detected(layout.base.name)


def _method_option(method: str) -> tuple:
    return () if _detected(method) == method else ('--method', method)


# -- the round trip, every method ---------------------------------------------------------------
@pytest.mark.parametrize('case', list(CASES))
def test_round_trip(tmp_path, monkeypatch, capsys, backbone, case):
    """Dassl file -> converter -> our model (both loaders) = the reference's logits."""
    method = CASES[case].method
    ref, saved = saved_state_dict(backbone, case, seed=1)
    folder = tmp_path / ref_trainers.DASSL_MODEL_NAMES[CASES[case].dassl_trainer]
    folder.mkdir()
    ref_path = save_reference_checkpoint(folder / 'model.pth.tar-5', saved, monkeypatch)
    # The file pickles Python objects: plain weights-only loading refuses it.
    with pytest.raises(pickle.UnpicklingError):
        torch.load(ref_path, map_location='cpu', weights_only=True)

    out = convert(tmp_path, ref_path, extra_args=_method_option(method))
    printed = capsys.readouterr().out
    ckpt = torch.load(out, map_location='cpu', weights_only=True)
    assert set(ckpt) == {'state_dict', 'meta'}
    written = ckpt['meta'].pop('written_by')
    assert ckpt['meta'] == dict(
        method=method, converted_from='model.pth.tar-5', epoch=5, **CASES[case].meta)
    assert all(v.dtype == torch.float32 for v in ckpt['state_dict'].values())

    model_type, learner, ref_kwargs = CASES[case][2:5]
    logits_fn = CASES[case].logits
    # What wrote it (maple_mm.provenance): loading it into another method is refused.
    assert (written['method'], written['converted_from'], written['method_detected']) == \
        (model_type, 'model.pth.tar-5', not _method_option(method))
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

    assert f'{conv.reference_layout(method).trainer} prompts (' in printed
    if not conv.reference_layout(method).saved_alone:  # the whole model: the frozen CLIP too
        assert 'image_encoder.*' in printed and 'logit_scale' in printed
    if any('token_prefix' in key for key in saved):
        assert 'prompt_learner.token_prefix' in printed
    assert 'Pickled objects replaced by inert stubs' in printed
    assert f'python tools/test.py CONFIG {out}' in printed
    assert 'WARNING' not in printed


@pytest.mark.parametrize('scheduler_form', ['dassl', 'object'])
def test_scheduler_objects_become_inert_stubs(tmp_path, monkeypatch, backbone, scheduler_form):
    _, saved = saved_state_dict(backbone, EXAMPLE)
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


def test_detection(backbone):
    for case in CASES:
        method = _detected(CASES[case].method)
        ref, saved = saved_state_dict(backbone, case)
        assert conv.detect_method(saved) == method, case
        # Under CustomCLIP names, without the frozen CLIP, too.
        assert conv.detect_method(ref) == method, case


def test_method_must_be_a_registered_one(backbone):
    _, saved = saved_state_dict(backbone, EXAMPLE)
    with pytest.raises(conv.ConversionError, match='Unknown method'):
        conv.convert_state_dict(saved, EXAMPLE[:-1])


def test_method_choices_are_the_registered_layouts():
    """The command line lists what the methods declare, and nothing else."""
    with pytest.raises(SystemExit):
        tool.parse_args(['in', 'out', '--method', 'no_such_method'])
    for name in conv.reference_layouts():
        assert tool.parse_args(['in', 'out', '--method', name]).method == name


def test_bare_state_dict_and_module_prefix(tmp_path, capsys, backbone):
    ref, saved = saved_state_dict(backbone, EXAMPLE)
    bare = tmp_path / 'bare.pth'
    torch.save({'module.' + k: v for k, v in saved.items()}, bare)
    out = convert(tmp_path, bare)
    ckpt = torch.load(out, weights_only=True)
    assert 'epoch' not in ckpt['meta'] and ckpt['meta']['depth'] == 3
    assert torch.equal(ckpt['state_dict']['prompt_learner.deep_projs.1.bias'],
                       ref['prompt_learner.compound_prompt_projections.1.bias'])
    assert 'inert stubs' not in capsys.readouterr().out  # nothing needed stubbing


def test_other_n_ctx_is_a_clear_mismatch(tmp_path, monkeypatch, backbone):
    _, saved = saved_state_dict(backbone, EXAMPLE, n_ctx=4)
    out = convert(tmp_path, save_reference_checkpoint(tmp_path / 'ref.pth', saved, monkeypatch))
    assert torch.load(out, weights_only=True)['meta']['n_ctx'] == 4
    model = build_model(EXAMPLE, n_ctx=2)
    with pytest.raises(CheckpointMismatchError, match=r'n_ctx=2[\s\S]*prompt_learner\.ctx'):
        model.load_state_dict(torch.load(out, weights_only=True)['state_dict'])


@pytest.mark.parametrize('case', list(CASES))
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
    torch.save({'state_dict': saved_state_dict(backbone, EXAMPLE)[1]}, tmp_path / 'ref.pth')
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
    for name, (layout, _) in conv.reference_layouts().items():  # what each trainer saves
        assert f'{name}: {layout.expected_keys}' in message
    assert not (tmp_path / 'out.pth').exists()

    torch.save({'weights': 1}, tmp_path / 'other.pth')
    with pytest.raises(conv.ConversionError, match='state_dict'):
        tool.main([str(tmp_path / 'other.pth'), str(tmp_path / 'out.pth')])
    (tmp_path / 'junk.pth').write_bytes(b'not a checkpoint')
    with pytest.raises(conv.ConversionError):
        tool.main([str(tmp_path / 'junk.pth'), str(tmp_path / 'out.pth')])


def test_unknown_keys(backbone):
    _, saved = saved_state_dict(backbone, EXAMPLE)
    saved['prompt_learner.extra_prompt'] = torch.zeros(2, 32)
    with pytest.raises(conv.ConversionError, match=r"Unknown keys \['prompt_learner\.extra"):
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
    ref, saved = saved_state_dict(backbone, EXAMPLE)
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
        saved_state_dict(backbone, EXAMPLE)[1],
        monkeypatch,
        extra={'optimizer': _SystemPayload(marker)})
    with pytest.raises(conv.ConversionError, match='Refusing'):
        tool.main([str(ref_path), str(tmp_path / 'out.pth')])
    assert not marker.exists()
    assert not (tmp_path / 'out.pth').exists()

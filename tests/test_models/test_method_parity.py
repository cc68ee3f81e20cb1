"""Every method against the literal transcription of its reference trainer.

For each method (and each prompt layout of it) a reference state dict with
fp16-exact values is built by tests/reference_trainers.py under the reference's
names, mapped onto our model by the checkpoint converter
(maple_mm/checkpoints/reference_converter.py), and our logits must equal the
transcription's, on both code paths (``efficient`` True and False). Every
learned tensor is checked to matter, so that the equality checks where it goes.
Gradients must reach exactly the parameters the reference trains, and no CLIP
weight.
"""
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Callable, Dict, List

import pytest
import torch
from mmengine.registry import init_default_scope
from mmpretrain.registry import DATASETS, MODELS
from mmpretrain.structures import DataSample

import maple_mm  # noqa: F401
from maple_mm.datasets.catalog import BENCHMARKS
from maple_mm.engine import ClassNamesHook
from maple_mm.models import TINY_CLIP_CFG
from tests import reference_trainers as ref_trainers
from tests.miniature_datasets import write_miniature
from tests.reference_trainers import CUSTOM_TEMPLATES, zsclip2_templates, zsclip_logits

init_default_scope('mmpretrain')

# Names of 1 to 4 BPE tokens; 'crane (bird)' merges its ')' with the prompt's '.'.
CLASS_NAMES = ['dog', 'golden_retriever', 'sea turtle', 'aircraft carrier', 'crane (bird)']
LABELS = [0, 3, 4]
TOL = dict(rtol=1e-5, atol=1e-5)
MATTERS = 1e-2  # a learned tensor moves the logits by more than this

from maple_mm.checkpoints import reference_converter as conv  # noqa: E402

pytestmark = pytest.mark.usefixtures('one_thread')


@pytest.fixture(scope='module')
def dataset_objects(tmp_path_factory):
    """``dataset_objects(key)``: the test split of a miniature of benchmark ``key``."""
    root, built = tmp_path_factory.mktemp('data'), {}

    def dataset_object(key: str):
        if key not in built:
            init_default_scope('mmpretrain')
            folder = write_miniature(root, key, num_classes=4, images_per_class=1, image_size=8)
            built[key] = DATASETS.build(
                dict(
                    type=BENCHMARKS[key].type,
                    data_root=str(folder),
                    split='test',
                    serialize_data=False))
        return built[key]

    return dataset_object


@pytest.fixture(scope='module')
def metainfo(dataset_objects):
    return lambda key: dict(dataset_objects(key).metainfo)


@pytest.fixture(scope='module')
def images():
    return torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))


def build(model_type: str, **learner):
    return MODELS.build(
        dict(
            type=model_type,
            backbone=dict(type='OpenCLIPBackbone', model_cfg=TINY_CLIP_CFG),
            prompt_learner=learner,
            class_names=CLASS_NAMES))


def our_logits(model, images, efficient: bool) -> torch.Tensor:
    model.eval()
    model.efficient = efficient
    model.text_cache.clear()
    with torch.no_grad():
        return model(images)


# -- our parameter names -> the reference's (stated independently of the converter) ----------
def reference_name(method: str, ours: str) -> str:
    assert ours.startswith('prompt_learner.'), ours
    name = ours[len('prompt_learner.'):]
    parts = name.split('.')
    if name in ('ctx', ) or parts[0] == 'meta_net':
        return ours
    if name == 'vision_ctx':
        return 'image_encoder.VPT'
    if parts[0] == 'deep_vision_prompts':
        return f'image_encoder.transformer.resblocks.{int(parts[1]) + 1}.VPT_shallow'
    if parts[0] == 'deep_text_prompts':
        if method == 'maple':
            return f'prompt_learner.compound_prompts_text.{parts[1]}'
        return f'text_encoder.transformer.resblocks.{int(parts[1]) + 1}.VPT_shallow'
    if parts[0] == 'ctx_proj':
        return f'prompt_learner.proj.{parts[1]}'
    if parts[0] == 'deep_projs':
        return f'prompt_learner.compound_prompt_projections.{parts[1]}.{parts[2]}'
    raise AssertionError(f'no reference name for {ours}')


# -- the cases ---------------------------------------------------------------------------------
@dataclass
class Case:
    id: str
    method: str  # the converter's method name
    model_type: str
    learner: dict
    ref_kwargs: dict  # configuration of the reference builders / transcriptions
    trained: Callable  # (clip) -> reference names the reference trains


def _coop(id_, n_ctx=4, ctx_init='', csc=False, position='end'):
    learner = dict(
        n_ctx=n_ctx, ctx_init=ctx_init, class_specific=csc, class_token_position=position)
    if csc:
        learner['num_classes'] = len(CLASS_NAMES)
    return Case(id_, 'coop', 'CoOp', learner,
                dict(n_ctx=n_ctx, ctx_init=ctx_init, csc=csc, class_token_position=position),
                lambda clip: ref_trainers.coop_trained_names())


CASES: List[Case] = [
    _coop('coop-end'),
    _coop('coop-middle-odd', n_ctx=5, position='middle'),
    _coop('coop-front', position='front'),
    _coop('coop-csc-end', csc=True),
    _coop('coop-csc-middle', csc=True, position='middle'),
    _coop('coop-init-end', ctx_init='a photo of a'),
    # 'itap' is two BPE tokens: n_ctx = 3 words, the last word stays in the prompt.
    _coop('coop-init-middle', ctx_init='itap of a', position='middle'),
    _coop('coop-init-front-csc-ignored', ctx_init='a photo of a', csc=True, position='front'),
    Case('cocoop-init', 'cocoop', 'CoCoOp', dict(n_ctx=4, ctx_init='a photo of a'),
         dict(n_ctx=4, ctx_init='a photo of a'), lambda clip: ref_trainers.cocoop_trained_names()),
    Case('cocoop-random', 'cocoop', 'CoCoOp', dict(n_ctx=3, ctx_init=''),
         dict(n_ctx=3, ctx_init=''), lambda clip: ref_trainers.cocoop_trained_names()),
    Case('vpt', 'vpt', 'VPT', dict(n_ctx=8, depth=3), dict(n_ctx_vision=8, depth_vision=3),
         lambda clip: ref_trainers.vpt_trained_names(clip, 3)),
    Case('vpt-shallow', 'vpt', 'VPT', dict(n_ctx=2, depth=1), dict(n_ctx_vision=2, depth_vision=1),
         lambda clip: ref_trainers.vpt_trained_names(clip, 1)),
    Case('ivlp', 'ivlp', 'IVLP', dict(n_ctx_text=2, n_ctx_vision=2, depth_text=3, depth_vision=4),
         dict(n_ctx_text=2, n_ctx_vision=2, depth_text=3, depth_vision=4),
         lambda clip: ref_trainers.ivlp_trained_names(clip, 3, 4)),
    # n_ctx_text > 4: random context and an "X X X X X" prefix.
    Case('ivlp-random-text', 'ivlp', 'IVLP',
         dict(n_ctx_text=5, n_ctx_vision=3, depth_text=4, depth_vision=2),
         dict(n_ctx_text=5, n_ctx_vision=3, depth_text=4, depth_vision=2),
         lambda clip: ref_trainers.ivlp_trained_names(clip, 4, 2)),
    Case('language', 'language', 'LanguagePrompting', dict(n_ctx=4, depth=3),
         dict(n_ctx_text=4, n_ctx_vision=0, depth_text=3, depth_vision=0),
         lambda clip: ref_trainers.ivlp_trained_names(clip, 3, 0)),
    Case('maple', 'maple', 'MaPLe', dict(n_ctx=2, depth=3), dict(n_ctx=2, depth=3),
         lambda clip: ref_trainers.maple_trained_names(3)),
    Case('maple-full-depth-random', 'maple', 'MaPLe', dict(n_ctx=3, depth=4, ctx_init=''),
         dict(n_ctx=3, depth=4, ctx_init=''), lambda clip: ref_trainers.maple_trained_names(4)),
]


def reference_state_dict(case: Case, clip, tokenizer) -> Dict[str, torch.Tensor]:
    kw = case.ref_kwargs
    if case.method == 'coop':
        return ref_trainers.coop_reference_state_dict(
            clip, tokenizer, CLASS_NAMES, n_ctx=kw['n_ctx'], ctx_init=kw['ctx_init'], csc=kw['csc'])
    if case.method == 'cocoop':
        return ref_trainers.cocoop_reference_state_dict(clip, tokenizer, CLASS_NAMES, **kw)
    if case.method == 'vpt':
        return ref_trainers.vpt_reference_state_dict(clip, **kw)
    if case.method in ('ivlp', 'language'):
        return ref_trainers.ivlp_reference_state_dict(clip, tokenizer, CLASS_NAMES, **kw)
    return ref_trainers.maple_reference_state_dict(clip, tokenizer, CLASS_NAMES, **kw)


def reference_logits(case: Case, clip, tokenizer, ref, images) -> torch.Tensor:
    fn = {
        'coop': ref_trainers.coop_logits,
        'cocoop': ref_trainers.cocoop_logits,
        'vpt': ref_trainers.vpt_logits,
        'ivlp': ref_trainers.ivlp_logits,
        'language': ref_trainers.ivlp_logits,
        'maple': ref_trainers.maple_logits
    }[case.method]
    with torch.no_grad():
        return fn(clip, tokenizer, ref, images, CLASS_NAMES, **case.ref_kwargs)


def _learned(ref: Dict[str, torch.Tensor]) -> List[str]:
    return [k for k in ref if not k.endswith(('token_prefix', 'token_suffix'))]


@pytest.fixture(scope='module', params=CASES, ids=[c.id for c in CASES])
def loaded(request):
    """(case, our model with the converted reference prompts, reference state dict)."""
    case = request.param
    model = build(case.model_type, **case.learner)
    clip, tokenizer = model.backbone.clip, model.backbone.tokenizer
    ref = reference_state_dict(case, clip, tokenizer)
    method, converted = conv.convert_state_dict(ref, case.method)
    assert method == case.method
    assert conv.detect_method(ref) == case.method
    model.load_state_dict(converted)  # strict: exactly our learner's keys
    return case, model, ref


def test_logits_equal_reference(loaded, images):
    case, model, ref = loaded
    clip, tokenizer = model.backbone.clip, model.backbone.tokenizer
    theirs = reference_logits(case, clip, tokenizer, ref, images)
    assert theirs.shape == (len(images), len(CLASS_NAMES))
    for efficient in (True, False):
        ours = our_logits(model, images, efficient)
        torch.testing.assert_close(
            ours, theirs, **TOL, msg=lambda m: f'efficient={efficient}'
            f': {m}')


def test_every_learned_tensor_matters(loaded, images):
    """Each learned tensor moves the logits, so the equality above checks its placement."""
    case, model, ref = loaded
    clip, tokenizer = model.backbone.clip, model.backbone.tokenizer
    theirs = reference_logits(case, clip, tokenizer, ref, images)
    for key in _learned(ref):
        zeroed = dict(ref, **{key: torch.zeros_like(ref[key])})
        moved = (reference_logits(case, clip, tokenizer, zeroed, images) - theirs).abs().max()
        assert moved > MATTERS, f'{case.id}: zeroing {key} moves the logits by only {moved}'


def test_gradients_reach_what_the_reference_trains(loaded, images):
    case, model, _ = loaded
    samples = [DataSample().set_gt_label(label) for label in LABELS]
    expected = set(case.trained(model.backbone.clip))
    trainable = {
        reference_name(case.method, n)
        for n, p in model.named_parameters() if p.requires_grad
    }
    assert trainable == expected
    for efficient in (True, False):
        model.train()
        model.efficient = efficient
        model.zero_grad(set_to_none=True)
        model.loss(images, samples)['loss'].backward()
        reached = {
            reference_name(case.method, n)
            for n, p in model.named_parameters()
            if p.grad is not None and bool(p.grad.abs().sum() > 0)
        }
        assert reached == expected, f'efficient={efficient}'
        assert all(p.grad is None for p in model.backbone.parameters())
    model.zero_grad(set_to_none=True)


# -- zero-shot CLIP --------------------------------------------------------------------------
ZERO_SHOT = [
    # (id, learner templates, dataset key or None, reference templates)
    ('single-pets', 'dataset', 'oxford_pets', CUSTOM_TEMPLATES['oxford_pets']),
    ('single-dtd', 'dataset', 'dtd', CUSTOM_TEMPLATES['dtd']),
    ('single-imagenet', 'dataset', 'imagenet', CUSTOM_TEMPLATES['imagenet']),
    ('ensemble-pets', 'ensemble', 'oxford_pets', zsclip2_templates('oxford_pets')),
    # The reference adds "a photo of a {}." for Caltech101, only ImageNet gets 7 templates.
    ('ensemble-caltech101', 'ensemble', 'caltech101', zsclip2_templates('caltech101')),
    ('ensemble-imagenet', 'ensemble', 'imagenet', zsclip2_templates('imagenet')),
    ('explicit-list', ['a {} texture.', 'itap of a {}.'], None, ['a {} texture.', 'itap of a {}.']),
]


@pytest.mark.parametrize(
    'case_id,templates,dataset,reference_templates', ZERO_SHOT, ids=[z[0] for z in ZERO_SHOT])
def test_zero_shot_equals_reference(images, metainfo, case_id, templates, dataset,
                                    reference_templates):
    model = build('ZeroShotCLIP', templates=templates)
    # The metainfo of the real dataset object, as ClassNamesHook passes it.
    model.set_class_names(CLASS_NAMES, dataset_meta=metainfo(dataset) if dataset else {})
    clip, tokenizer = model.backbone.clip, model.backbone.tokenizer
    with torch.no_grad():
        theirs = zsclip_logits(clip, tokenizer, images, CLASS_NAMES, reference_templates)
        plain = zsclip_logits(clip, tokenizer, images, CLASS_NAMES, '{}')
        if isinstance(reference_templates, list):  # every template counts
            fewer = zsclip_logits(clip, tokenizer, images, CLASS_NAMES, reference_templates[:-1])
            assert (theirs - fewer).abs().max() > MATTERS
    assert (theirs - plain).abs().max() > MATTERS
    for efficient in (True, False):
        torch.testing.assert_close(our_logits(model, images, efficient), theirs, **TOL)


@pytest.mark.parametrize('dataset,num_templates', [('imagenet', 7), ('caltech101', 8),
                                                   ('oxford_pets', 8), ('imagenetv2', 8)])
def test_zero_shot_ensemble_of_a_dataset_object_equals_reference(images, dataset_objects, dataset,
                                                                 num_templates):
    """ClassNamesHook gives the model a real dataset's names and metainfo."""
    model = build('ZeroShotCLIP', templates='ensemble')
    data = dataset_objects(dataset)
    hook_runner = SimpleNamespace(
        model=model, test_loop=SimpleNamespace(dataloader=SimpleNamespace(dataset=data)))
    ClassNamesHook().before_test_epoch(hook_runner)
    reference_templates = zsclip2_templates(dataset)
    assert len(model.prompt_learner.current_templates()) == len(reference_templates) \
        == num_templates
    names = list(data.metainfo['classes'])
    clip, tokenizer = model.backbone.clip, model.backbone.tokenizer
    with torch.no_grad():
        theirs = zsclip_logits(clip, tokenizer, images, names, reference_templates)
    torch.testing.assert_close(our_logits(model, images, True), theirs, **TOL)


def test_zero_shot_learns_nothing(images):
    model = build('ZeroShotCLIP')
    assert not any(p.requires_grad for p in model.parameters())
    model.train()
    loss = model.loss(images, [DataSample().set_gt_label(label) for label in LABELS])['loss']
    assert not loss.requires_grad  # the reference trains nothing either

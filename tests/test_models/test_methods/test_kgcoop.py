"""KgCoOp against the transcription of its reference trainer (tests/reference_successors.py).

A reference checkpoint of the prompt learner (CoOp's ctx plus the bias_vectors
and meta_net its forward never uses) is converted by the package's converter;
logits, both loss terms, the total and its gradient must equal the
reference's, on both computation paths.
"""
import pytest
import torch
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from maple_mm.checkpoints import reference_converter as conv
from maple_mm.engine import load_checkpoint_file
from maple_mm.models import TINY_CLIP_CFG
from tests import reference_successors as successors
from tests.method_rows import MethodRows, Recipe
from tests.reference_successors import (KGCOOP_DTD_TEMPLATE, kgcoop_forward,
                                        kgcoop_reference_state_dict)
from tests.reference_trainers import CUSTOM_TEMPLATES, dassl_saved_state_dict
from tests.test_tools.reference_checkpoints import CLASS_NAMES as NAMES
from tests.test_tools.reference_checkpoints import (convert, printed_model_config,
                                                    save_reference_checkpoint)
from .successor_parity import CLASS_NAMES, LABELS, assert_parity, build, images

pytestmark = pytest.mark.usefixtures('one_thread')
PETS = CUSTOM_TEMPLATES['oxford_pets']

KGCOOP = 'htyao89/KgCoOp'
CONFIG = f'{KGCOOP} configs/trainers/KgCoOp/vit_b16_ep100_ctxv1.yaml'
# CTX_INIT True = "a photo of a"
LEARNER = dict(type='KgCoOpPromptLearner', n_ctx=4, ctx_init='a photo of a')
BASE2NOVEL = Recipe(0.002, 128, 100, LEARNER, 'fp16', CONFIG, f'{KGCOOP} scripts/base2new_train.sh')
FEW_SHOT = BASE2NOVEL._replace(
    epochs=100, how='the reference ships no few-shot script: its base-to-novel config')
#: KgCoOp's CUSTOM_TEMPLATES (KgCoOp/trainers/kgcoop.py) differ from the CoOp family's for DTD.
DTD = dict(LEARNER, template=KGCOOP_DTD_TEMPLATE)

EXPECTED = [
    MethodRows(
        folder='kgcoop',
        recipes={
            'base2novel': BASE2NOVEL,
            ('base2novel', 'dtd'): BASE2NOVEL._replace(learner=DTD),
            'cross_dataset':
            BASE2NOVEL._replace(how=f'{KGCOOP} scripts/xd_train.sh (4 shots)', shots=4),
            'few_shot': FEW_SHOT,
            ('few_shot', 'dtd'): FEW_SHOT._replace(learner=DTD),
        },
        model=dict(weight=8.0),  # scripts/base2new_train.sh TRAINER.COOP.W 8.0
        published_average=(80.73, 73.60, 77.00),
        published_source=f'README.md of {KGCOOP}',
        files=('tests/reference_successors.py',
               'tests/test_models/test_methods/successor_parity.py')),
]


@pytest.fixture(scope='module')
def loaded():
    model = build('KgCoOp')  # the template comes from the dataset's metainfo
    model.set_class_names(CLASS_NAMES, dataset_meta=dict(prompt_template=PETS))
    clip, tokenizer = model.backbone.clip, model.backbone.tokenizer
    ref = kgcoop_reference_state_dict(clip, tokenizer, CLASS_NAMES)
    saved = dassl_saved_state_dict('coop', ref)  # prompt_learner/model.pth.tar-N
    assert 'bias_vectors' in saved and 'meta_net.linear1.weight' in saved
    method, converted = conv.convert_state_dict(saved)
    assert method == 'kgcoop' and list(converted) == ['prompt_learner.ctx']
    model.load_state_dict(converted)
    return model, ref


@pytest.mark.parametrize('efficient', [True, False])
def test_logits_loss_terms_and_gradient_equal_the_reference(loaded, efficient):
    model, ref = loaded
    clip, tokenizer = model.backbone.clip, model.backbone.tokenizer
    imgs = images()
    learned = {'prompt_learner.ctx': ref['prompt_learner.ctx'].float().clone().requires_grad_(True)}
    theirs = kgcoop_forward(clip, tokenizer, learned, imgs, CLASS_NAMES, torch.tensor(LABELS), PETS)
    theirs['kg'] = 8.0 * theirs['score']
    assert theirs['kg'] > 1e-2  # the term is not vanishingly small on these prompts
    assert_parity(model, theirs, learned, {'loss_ce': 'ce', 'loss_kg': 'kg'}, imgs, efficient)


def test_frozen_features_follow_the_template_and_the_class_set(loaded):
    model, ref = loaded
    clip, tokenizer = model.backbone.clip, model.backbone.tokenizer
    for names, template, meta in ((CLASS_NAMES, KGCOOP_DTD_TEMPLATE, {}),
                                  (CLASS_NAMES[:3], PETS, dict(prompt_template=PETS))):
        other = build('KgCoOp', prompt_learner=dict(template=template if not meta else None))
        other.set_class_names(names, dataset_meta=meta)
        with torch.no_grad():
            expected = clip.encode_text(
                tokenizer([template.format(n.replace('_', ' ')) for n in names]))
            # the same weights: ``other`` was built from the same seed-free tiny config
            other.backbone.clip.load_state_dict(clip.state_dict())
            other.frozen_text_cache.clear()
            ours = other.frozen_text_features()
        torch.testing.assert_close(
            ours, torch.nn.functional.normalize(expected, dim=-1), rtol=1e-5, atol=1e-5)
    # computed once per class set: the same tensor until the classes change
    assert model.frozen_text_features() is model.frozen_text_features()


def test_reference_checkpoint_gives_the_reference_logits_and_loss_terms(
        tmp_path, monkeypatch, capsys, backbone):
    """``prompt_learner/model.pth.tar-N`` as Dassl writes it: converted, the model built from
    the printed config gives the reference's logits, and ``mode='loss'`` its loss terms."""
    labels = [0, 3, 4]
    samples = [DataSample().set_gt_label(label) for label in labels]
    imgs = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    template = 'a photo of a {}, a type of pet.'
    clip, tokenizer = backbone.clip, backbone.tokenizer
    ref = successors.kgcoop_reference_state_dict(clip, tokenizer, NAMES, seed=2)
    (tmp_path / 'prompt_learner').mkdir()
    ref_path = save_reference_checkpoint(
        tmp_path / 'prompt_learner' / 'model.pth.tar-20',
        dassl_saved_state_dict('coop', ref),
        monkeypatch,
        epoch=20)
    out = convert(tmp_path, ref_path)
    printed = capsys.readouterr().out
    assert torch.load(out, weights_only=True)['meta']['method'] == 'kgcoop'
    config = printed_model_config(printed)
    model = MODELS.build(
        dict(config, backbone=dict(type='OpenCLIPBackbone', model_cfg=TINY_CLIP_CFG)))
    model.load_state_dict(load_checkpoint_file(str(out))['state_dict'])
    model.set_class_names(NAMES, dataset_meta=dict(prompt_template=template))
    with torch.no_grad():
        theirs = dict(
            successors.kgcoop_forward(clip, tokenizer, ref, imgs, NAMES, torch.tensor(labels),
                                      template),
            kg=None)
    theirs['score'] = 8.0 * theirs['score']  # W x score: the term's value
    assert 'bias_vectors' in printed and 'never used' in printed
    terms = {'loss_ce': 'ce', 'loss_kg': 'score'}
    model.train()
    with torch.no_grad():
        losses = model(imgs, samples, mode='loss')
    assert set(losses) == set(terms)
    for ours, their_key in terms.items():
        torch.testing.assert_close(losses[ours], theirs[their_key], rtol=1e-5, atol=1e-5)
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(imgs), theirs['logits'], rtol=1e-5, atol=1e-5)

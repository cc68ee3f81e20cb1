"""PromptSRC against the transcription of its reference trainer (tests/reference_successors.py).

A whole saved reference model (``VLPromptLearner/model.pth.tar-N``: IVLP's keys,
the frozen CLIP and the frozen image tower ``prompt_learner.ZS_image_encoder``)
is converted by the package's converter; logits, the four loss terms, the
total and its gradient on every learned tensor must equal the reference's, on
both computation paths.
"""
import pytest
import torch
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from maple_mm.checkpoints import reference_converter as conv
from maple_mm.engine import load_checkpoint_file
from maple_mm.models import TINY_CLIP_CFG
from maple_mm.models.methods.promptsrc import PROMPTSRC_TEMPLATES
from tests import reference_successors as ref_src
from tests import reference_trainers as ref_trainers
from tests.method_rows import MethodRows, Recipe
from tests.reference_trainers import (dassl_saved_state_dict, ivlp_reference_state_dict,
                                      ivlp_trained_names)
from tests.test_tools.reference_checkpoints import CLASS_NAMES as NAMES
from tests.test_tools.reference_checkpoints import (convert, printed_model_config,
                                                    save_reference_checkpoint)
from .successor_parity import CLASS_NAMES, LABELS, assert_parity, build, images, samples

pytestmark = pytest.mark.usefixtures('one_thread')

SRC = 'muzairkhattak/PromptSRC'
LEARNER = dict(
    type='PromptSRCPromptLearner',
    n_ctx_text=4,
    n_ctx_vision=4,
    depth_text=9,
    depth_vision=9,
    ctx_init='a photo of a')


def gpa(mean: int, std: int) -> dict:
    return dict(gpa=dict(type='GaussianPromptAggregationHook', mean=mean, std=std))


FEW_SHOT = Recipe(
    0.0025,
    4,
    50,
    LEARNER,
    'fp16',
    f'{SRC} configs/trainers/PromptSRC/vit_b16_c2_ep50_batch4_4+4ctx_few_shot.yaml',
    hooks=gpa(30, 30))
#: The GPA the few-shot config's comment names for StanfordCars, Flowers102, FGVCAircraft, DTD
#: and EuroSAT.
FINE_GRAINED = FEW_SHOT._replace(hooks=gpa(45, 5))
FINE_GRAINED_DATASETS = ('stanford_cars', 'oxford_flowers', 'fgvc_aircraft', 'dtd', 'eurosat')

EXPECTED = [
    MethodRows(
        folder='promptsrc',
        recipes={
            'base2novel':
            Recipe(
                0.0025,
                4,
                20,
                LEARNER,
                'fp16',
                f'{SRC} configs/trainers/PromptSRC/vit_b16_c2_ep20_batch4_4+4ctx.yaml',
                hooks=gpa(15, 1)),
            'cross_dataset':
            Recipe(
                0.0025,
                4,
                20,
                dict(LEARNER, depth_text=3, depth_vision=3),
                'fp16', f'{SRC} configs/trainers/PromptSRC/'
                'vit_b16_c2_ep20_batch4_4+4ctx_cross_datasets.yaml',
                hooks=gpa(6, 10)),
            'few_shot':
            FEW_SHOT,
            **{
                ('few_shot', dataset): FINE_GRAINED
                for dataset in FINE_GRAINED_DATASETS
            },
        },
        model=dict(text_weight=25.0, image_weight=10.0),  # TEXT_/IMAGE_LOSS_WEIGHT
        published_average=(84.26, 76.10, 79.97),
        published_source=f'README.md of {SRC}',
        files=('tests/reference_successors.py',
               'tests/test_models/test_methods/successor_parity.py')),
]
PROMPTS = dict(n_ctx_text=4, n_ctx_vision=4, depth_text=3, depth_vision=4)
TERMS = {'loss_ce': 'ce', 'loss_text': 'text', 'loss_image': 'image', 'loss_logits': 'logits_kl'}


@pytest.fixture(scope='module')
def loaded():
    model = build('PromptSRC', prompt_learner=PROMPTS)
    clip, tokenizer = model.backbone.clip, model.backbone.tokenizer
    ref = ivlp_reference_state_dict(clip, tokenizer, CLASS_NAMES, **PROMPTS)
    saved = dassl_saved_state_dict('ivlp', ref, clip)
    for key, value in clip.visual.state_dict().items():  # PromptSRC's frozen image tower
        saved['prompt_learner.ZS_image_encoder.' + key] = value.half()
    method, converted = conv.convert_state_dict(saved)
    assert method == 'promptsrc'
    # Without the frozen tower the keys are IVLP's: --method tells them apart.
    learned_only = {k: v for k, v in ref.items() if 'token_' not in k}
    assert conv.detect_method(learned_only) == 'ivlp'
    method, same = conv.convert_state_dict(learned_only, 'promptsrc')
    assert method == 'promptsrc' and all(torch.equal(same[k], v) for k, v in converted.items())
    model.load_state_dict(converted)
    return model, ref


def test_templates_are_the_references_sixty():
    assert PROMPTSRC_TEMPLATES == ref_src.PROMPTSRC_TEMPLATES
    assert len(set(PROMPTSRC_TEMPLATES)) == 60 and PROMPTSRC_TEMPLATES[-1] == 'itap of the {}.'


@pytest.mark.parametrize('efficient', [True, False])
def test_logits_loss_terms_and_gradient_equal_the_reference(loaded, efficient):
    model, ref = loaded
    clip, tokenizer = model.backbone.clip, model.backbone.tokenizer
    imgs = images()
    names = ivlp_trained_names(clip, PROMPTS['depth_text'], PROMPTS['depth_vision'])
    learned = {k: ref[k].float().clone().requires_grad_(True) for k in names}
    theirs = ref_src.promptsrc_forward(clip, tokenizer, learned, imgs, CLASS_NAMES,
                                       torch.tensor(LABELS), **PROMPTS)
    for term in ('text', 'image', 'logits_kl'):  # each regulariser is far from zero
        assert theirs[term] > 1e-3, term
    assert_parity(model, theirs, learned, TERMS, imgs, efficient)


def test_frozen_work_is_one_image_forward_per_step(loaded, monkeypatch):
    """Frozen text features once per class set; one prompt-free image forward per step."""
    model, _ = loaded
    model.train()
    model.frozen_text_cache.clear()
    calls = {'text': 0, 'image': 0}
    encode, image_features = model.encode_prompt_set, model.image_features

    def count_text(class_prompts, prompts):
        calls['text'] += 1
        return encode(class_prompts, prompts)

    def count_image(imgs, prompts):
        calls['image'] += 1
        return image_features(imgs, prompts)

    monkeypatch.setattr(model, 'encode_prompt_set', count_text)
    monkeypatch.setattr(model, 'image_features', count_image)
    for _ in range(2):
        model.loss(images(), samples())
    # step 1: 60 frozen template sets + the learned prompts; step 2: the learned prompts
    assert calls == {'text': 60 + 2, 'image': 2 * 2}


def test_reference_checkpoint_gives_the_reference_logits_and_loss_terms(
        tmp_path, monkeypatch, capsys, backbone):
    """``VLPromptLearner/model.pth.tar-N`` as Dassl writes it: converted, the model built from
    the printed config gives the reference's logits, and ``mode='loss'`` its loss terms."""
    labels = [0, 3, 4]
    samples = [DataSample().set_gt_label(label) for label in labels]
    imgs = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    prompts = dict(n_ctx_text=4, n_ctx_vision=4, depth_text=3, depth_vision=3)
    clip, tokenizer = backbone.clip, backbone.tokenizer
    ivlp = ref_trainers.ivlp_reference_state_dict(clip, tokenizer, NAMES, seed=2, **prompts)
    src_saved = dassl_saved_state_dict('ivlp', ivlp, clip)
    for key, value in clip.visual.state_dict().items():
        src_saved['prompt_learner.ZS_image_encoder.' + key] = value.half()
    (tmp_path / 'VLPromptLearner').mkdir()
    ref_path = save_reference_checkpoint(
        tmp_path / 'VLPromptLearner' / 'model.pth.tar-20', src_saved, monkeypatch, epoch=20)
    out = convert(tmp_path, ref_path)
    printed = capsys.readouterr().out
    assert torch.load(out, weights_only=True)['meta']['method'] == 'promptsrc'
    config = printed_model_config(printed)
    model = MODELS.build(
        dict(config, backbone=dict(type='OpenCLIPBackbone', model_cfg=TINY_CLIP_CFG)))
    model.load_state_dict(load_checkpoint_file(str(out))['state_dict'])
    model.set_class_names(NAMES, dataset_meta={})
    with torch.no_grad():
        theirs = ref_src.promptsrc_forward(clip, tokenizer, ivlp, imgs, NAMES, torch.tensor(labels),
                                           **prompts)
    terms = {
        'loss_ce': 'ce',
        'loss_text': 'text',
        'loss_image': 'image',
        'loss_logits': 'logits_kl'
    }
    model.train()
    with torch.no_grad():
        losses = model(imgs, samples, mode='loss')
    assert set(losses) == set(terms)
    for ours, their_key in terms.items():
        torch.testing.assert_close(losses[ours], theirs[their_key], rtol=1e-5, atol=1e-5)
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(imgs), theirs['logits'], rtol=1e-5, atol=1e-5)

    # Without its frozen image tower a PromptSRC state dict has IVLP's keys: --method says it.
    bare = {k: v for k, v in src_saved.items() if 'ZS_image_encoder' not in k}
    save_reference_checkpoint(tmp_path / 'bare.pth', bare, monkeypatch)
    assert torch.load(
        convert(tmp_path, tmp_path / 'bare.pth', 'auto.pth'),
        weights_only=True)['meta']['method'] == 'ivlp'
    assert torch.load(
        convert(tmp_path, tmp_path / 'bare.pth', 'src.pth', ['--method', 'promptsrc']),
        weights_only=True)['meta']['method'] == 'promptsrc'

"""KgCoOp against the transcription of its reference trainer (tests/reference_successors.py).

A reference checkpoint of the prompt learner (CoOp's ctx plus the bias_vectors
and meta_net its forward never uses) is converted by the package's converter;
logits, both loss terms, the total and its gradient must equal the
reference's, on both computation paths, with a ViT and with a ResNet image tower.
"""
import pytest
import torch

from maple_mm.models import reference_checkpoint as conv
from tests.reference_successors import (KGCOOP_DTD_TEMPLATE, kgcoop_forward,
                                        kgcoop_reference_state_dict)
from tests.reference_trainers import CUSTOM_TEMPLATES, dassl_saved_state_dict
from .successor_parity import CLASS_NAMES, CLIPS, LABELS, assert_parity, build, images

pytestmark = pytest.mark.usefixtures('one_thread')
PETS = CUSTOM_TEMPLATES['oxford_pets']


@pytest.fixture(scope='module', params=CLIPS)
def loaded(request):
    model = build('KgCoOp', request.param)  # the template comes from the dataset's metainfo
    model.clip_key = request.param
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
        other = build(
            'KgCoOp', model.clip_key, prompt_learner=dict(template=template if not meta else None))
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

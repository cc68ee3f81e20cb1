"""PromptSRC against the transcription of its reference trainer (tests/reference_successors.py).

A whole saved reference model (``VLPromptLearner/model.pth.tar-N``: IVLP's keys,
the frozen CLIP and the frozen image tower ``prompt_learner.ZS_image_encoder``)
is converted by the package's converter; logits, the four loss terms, the
total and its gradient on every learned tensor must equal the reference's, on
both computation paths.
"""
import pytest
import torch

from maple_mm.checkpoints import reference_converter as conv
from maple_mm.models.methods.promptsrc import PROMPTSRC_TEMPLATES
from tests import reference_successors as ref_src
from tests.reference_trainers import (dassl_saved_state_dict, ivlp_reference_state_dict,
                                      ivlp_trained_names)
from .successor_parity import CLASS_NAMES, LABELS, assert_parity, build, images, samples

pytestmark = pytest.mark.usefixtures('one_thread')
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

"""IVLP and deep language prompting: their test rows and the tests of their keys.

Their parity against the reference trainer is in tests/test_models/test_method_parity.py,
shared with the other trainers of muzairkhattak/multimodal-prompt-learning.
"""
import pytest
import torch

from tests import reference_trainers as ref_trainers
from tests.method_rows import ConverterCase, MethodRows, Recipe
from tests.test_tools.reference_checkpoints import build_model, conv, saved_state_dict
from .test_coop import BASELINE_FILES

MMPL = 'muzairkhattak/multimodal-prompt-learning'
NO_FEW_SHOT = 'the reference ships no few-shot recipe: its base-to-novel one, 50 epochs'
IVLP_CONFIG = f'{MMPL} configs/trainers/IVLP/vit_b16_c2_ep5_batch4_2+2ctx.yaml'
IVLP = dict(
    type='IVLPPromptLearner',
    n_ctx_text=2,
    n_ctx_vision=2,
    depth_text=12,
    depth_vision=12,
    ctx_init='a photo of a')
LP_CONFIG = f'{MMPL} configs/trainers/IVLP/vit_b16_c2_ep5_batch4_4ctx_language_only.yaml'
LP = dict(type='LanguagePromptLearner', n_ctx=4, depth=12, ctx_init='a photo of a')
# The Base and Novel averages: the Model Zoo table of the MaPLe repository's README.md.
ABLATION = 'Table 1 of the MaPLe paper (HM); the MaPLe README (Base, Novel)'

EXPECTED = [
    MethodRows(
        folder='ivlp',
        recipes={
            'base2novel':
            Recipe(0.0035, 4, 5, IVLP, 'fp16', IVLP_CONFIG,
                   f'{MMPL} scripts/independent-vlp/base2new_train_ivlp.sh'),
            'cross_dataset':
            Recipe(0.0035, 4, 5, IVLP, 'fp16', IVLP_CONFIG,
                   f'{MMPL} scripts/independent-vlp/xd_train_ivlp.sh'),
            'few_shot':
            Recipe(0.0035, 4, 50, IVLP, 'fp16', IVLP_CONFIG, NO_FEW_SHOT),
        },
        converter=(ConverterCase(
            'ivlp', 'ivlp', 'IVLP',
            dict(n_ctx_text=2, n_ctx_vision=3, depth_text=4, depth_vision=3),
            dict(n_ctx_text=2, n_ctx_vision=3, depth_text=4, depth_vision=3),
            ref_trainers.ivlp_reference_state_dict, ref_trainers.ivlp_logits, 'ivlp',
            dict(
                n_ctx_text=2,
                n_ctx_vision=3,
                depth_text=4,
                depth_vision=3,
                text_width=32,
                vision_width=48)), ),
        published_average=(82.15, 74.07, 77.90),  # "Independent V-L Prompting"
        published_source=ABLATION,
        files=BASELINE_FILES),
    MethodRows(
        folder='language_prompting',
        recipes={
            'base2novel':
            Recipe(0.0025, 4, 5, LP, 'fp16', LP_CONFIG,
                   f'{MMPL} scripts/language-prompting/base2new_train_lp.sh'),
            'cross_dataset':
            Recipe(0.0025, 4, 5, LP, 'fp16', LP_CONFIG,
                   f'{MMPL} scripts/language-prompting/xd_train_lp.sh'),
            'few_shot':
            Recipe(0.0025, 4, 50, LP, 'fp16', LP_CONFIG, NO_FEW_SHOT),
        },
        converter=(ConverterCase('language', 'language', 'LanguagePrompting',
                                 dict(n_ctx=4, depth=3),
                                 dict(n_ctx_text=4, n_ctx_vision=0, depth_text=3,
                                      depth_vision=0), ref_trainers.ivlp_reference_state_dict,
                                 ref_trainers.ivlp_logits, 'ivlp',
                                 dict(n_ctx=4, depth=3, text_width=32)), ),
        published_average=(81.72, 73.81, 77.56),  # "Deep Language Prompting"
        published_source=ABLATION,
        files=BASELINE_FILES),
]


def test_key_mapping_deep_prompts_shift_by_one(backbone):
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


def test_text_depth_one_language_vs_coop(tmp_path, backbone):
    """A context alone: CoOp, unless the file holds the whole model (IVLP, language only)."""
    ref, saved = saved_state_dict(backbone, 'language', depth_text=1)
    assert conv.detect_method(saved) == 'language'
    bare = {k: v for k, v in ref.items()}
    assert conv.detect_method(bare) == 'coop'
    method, sd = conv.convert_state_dict(bare, 'language')
    assert method == 'language' and set(sd) == {'prompt_learner.ctx'}
    build_model('language', depth=1).load_state_dict(sd)


def test_deep_prompts_are_numbered_from_one(backbone):
    _, saved = saved_state_dict(backbone, 'ivlp')
    saved['image_encoder.transformer.resblocks.0.VPT_shallow'] = torch.zeros(3, 48)
    with pytest.raises(conv.ConversionError, match=r'numbered \[0, 1, 2\]'):
        conv.convert_state_dict(saved)


def test_inconsistent_shapes(backbone):
    _, saved = saved_state_dict(backbone, 'ivlp')
    saved['text_encoder.transformer.resblocks.2.VPT_shallow'] = torch.zeros(5, 32)
    with pytest.raises(
            conv.ConversionError,
            match=r'resblocks\.2\.VPT_shallow is \(5, 32\), '
            r'expected \(2, 32\)'):
        conv.convert_state_dict(saved)
    _, saved = saved_state_dict(backbone, 'ivlp')
    saved['prompt_learner.ctx'] = torch.zeros(5, 2, 32)
    with pytest.raises(conv.ConversionError, match='only CoOp has class-specific'):
        conv.convert_state_dict(saved)

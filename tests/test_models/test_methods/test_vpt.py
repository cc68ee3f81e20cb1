"""VPT (deep vision prompting): its test rows and the tests of VPT alone.

Its parity against the reference trainer is in tests/test_models/test_method_parity.py,
shared with the other trainers of muzairkhattak/multimodal-prompt-learning.
"""
import pytest
import torch

from tests import reference_trainers as ref_trainers
from tests.method_rows import ConverterCase, MethodRows, Recipe
from tests.test_tools.reference_checkpoints import build_model, conv, convert, saved_state_dict
from .test_coop import BASELINE_FILES

MMPL = 'muzairkhattak/multimodal-prompt-learning'
CONFIG = f'{MMPL} configs/trainers/VPT/vit_b16_c2_ep5_batch4_4.yaml'
LEARNER = dict(type='VPTPromptLearner', n_ctx=8, depth=12)
# PREC fp16 in the yaml, but trainers/vpt.py's load_clip_to_cpu returns model.float():
# it trains in fp32.
FP32 = f'fp32: {MMPL} trainers/vpt.py'

EXPECTED = [
    MethodRows(
        folder='vpt',
        recipes={
            'base2novel':
            Recipe(0.0025, 4, 5, LEARNER, 'fp32', CONFIG,
                   f'{MMPL} scripts/vpt/base2new_train_vpt.sh; {FP32}'),
            'cross_dataset':
            Recipe(0.0025, 4, 5, LEARNER, 'fp32', CONFIG,
                   f'{MMPL} scripts/vpt/xd_train_vpt.sh; {FP32}'),
            'few_shot':
            Recipe(0.0025, 4, 50, LEARNER, 'fp32', CONFIG,
                   'the reference ships no few-shot recipe: its base-to-novel one, 50 epochs'),
        },
        converter=(ConverterCase(
            'vpt',
            'vpt',
            'VPT',
            dict(n_ctx=4, depth=3),
            dict(n_ctx_vision=4, depth_vision=3),
            lambda clip, tokenizer, names, seed=0, **kwargs: ref_trainers.vpt_reference_state_dict(
                clip, seed=seed, **kwargs),
            ref_trainers.vpt_logits,
            'vpt',
            dict(n_ctx=4, depth=3, vision_width=48)), ),
        # The Base and Novel averages: the "Deep Vision Prompting" row of the Model Zoo
        # table of muzairkhattak/multimodal-prompt-learning's README.md.
        published_average=(80.24, 73.43, 76.68),
        published_source='Table 1 of the MaPLe paper (HM); the MaPLe README (Base, Novel)',
        files=BASELINE_FILES),
]


def test_depth_one_checkpoint(tmp_path, backbone):
    _, saved = saved_state_dict(backbone, 'vpt', depth_vision=1)
    torch.save({'state_dict': saved, 'epoch': 2}, tmp_path / 'ref.pth')
    out = convert(tmp_path, tmp_path / 'ref.pth', 'vpt.pth')
    ckpt = torch.load(out, weights_only=True)
    assert ckpt['meta']['depth'] == 1 and ckpt['meta']['epoch'] == 2
    build_model('vpt', depth=1).load_state_dict(ckpt['state_dict'])


def test_reference_depth_beyond_the_blocks(backbone):
    """PROMPT_DEPTH 12 on a 4-block tower: the reference makes prompts for blocks 1..3 only."""
    ref = ref_trainers.vpt_reference_state_dict(backbone.clip, n_ctx_vision=2, depth_vision=12)
    method, sd = conv.convert_state_dict(ref)
    assert conv.describe(method, sd)['depth'] == 4
    build_model('vpt', n_ctx=2, depth=4).load_state_dict(sd)


def test_deep_prompts_numbered_without_gaps(backbone):
    _, saved = saved_state_dict(backbone, 'vpt')
    del saved['image_encoder.transformer.resblocks.1.VPT_shallow']
    with pytest.raises(conv.ConversionError, match=r'numbered \[2\]; .* 1\.\.1 without gaps'):
        conv.convert_state_dict(saved)

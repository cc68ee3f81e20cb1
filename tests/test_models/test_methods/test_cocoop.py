"""CoCoOp: its test rows (recipes, reference checkpoints) and the tests of CoCoOp alone.

Its parity against the reference trainer is in tests/test_models/test_method_parity.py,
shared with the other trainers of muzairkhattak/multimodal-prompt-learning.
"""
import pytest
import torch

from tests import reference_trainers as ref_trainers
from tests.method_rows import ConverterCase, MethodRows, Recipe
from tests.test_tools.reference_checkpoints import conv, convert, saved_state_dict
from .test_coop import BASELINE_FILES

MMPL = 'muzairkhattak/multimodal-prompt-learning'
CONFIG = f'{MMPL} configs/trainers/CoCoOp/vit_b16_c4_ep10_batch1_ctxv1.yaml'
LEARNER = dict(type='CoCoOpPromptLearner', n_ctx=4, ctx_init='a photo of a')

EXPECTED = [
    MethodRows(
        folder='cocoop',
        recipes={
            'base2novel':
            Recipe(0.002, 1, 10, LEARNER, 'fp16', CONFIG,
                   'KaiyangZhou/CoOp scripts/cocoop/base2new_train.sh'),
            'cross_dataset':
            Recipe(0.002, 1, 10, LEARNER, 'fp16', CONFIG,
                   'KaiyangZhou/CoOp scripts/cocoop/xd_train.sh'),
            'few_shot':
            Recipe(0.002, 1, 50, LEARNER, 'fp16', CONFIG,
                   'the reference ships no few-shot recipe: its base-to-novel one, 50 epochs'),
        },
        converter=(ConverterCase('cocoop', 'cocoop', 'CoCoOp',
                                 dict(n_ctx=4, ctx_init='a photo of a'),
                                 dict(n_ctx=4, ctx_init='a photo of a'),
                                 ref_trainers.cocoop_reference_state_dict,
                                 ref_trainers.cocoop_logits, 'cocoop',
                                 dict(n_ctx=4, text_width=32, embed_dim=32)), ),
        published_average=(80.47, 71.69, 75.83),
        published_source='Table 1 of the MaPLe paper (the CoCoOp paper\'s row)',
        files=BASELINE_FILES),
]


def test_a_prompt_learner_saved_through_data_parallel(tmp_path, backbone):
    """Files saved through DataParallel: 'module.ctx', 'module.meta_net...'."""
    _, saved = saved_state_dict(backbone, 'cocoop')
    bare = tmp_path / 'bare.pth'
    torch.save({'state_dict': {'module.' + k: v for k, v in saved.items()}}, bare)
    out = convert(tmp_path, bare, 'cocoop.pth')
    assert torch.load(out, weights_only=True)['meta']['method'] == 'cocoop'


def test_the_meta_net_must_map_to_the_text_width(backbone):
    _, saved = saved_state_dict(backbone, 'cocoop')
    saved['meta_net.linear2.weight'] = torch.zeros(16, 2)

    with pytest.raises(conv.ConversionError, match=r'meta_net\.linear2 is \(16, 2\)'):
        conv.convert_state_dict(saved)

"""MaPLe: its test rows (recipes, reference checkpoints) and the tests of MaPLe alone.

Its parity against the reference trainer is in tests/test_models/test_method_parity.py,
shared with the other trainers of muzairkhattak/multimodal-prompt-learning.
"""
import open_clip
import pytest
import torch

from maple_mm.errors import PromptConfigError
from maple_mm.models import MaPLePromptLearner, OpenCLIPBackbone
from maple_mm.models.class_prompts import class_sentence
from tests import reference_trainers as ref_trainers
from tests.method_rows import ConverterCase, MethodRows, Recipe
from tests.test_tools.reference_checkpoints import build_model, conv, convert, saved_state_dict
from .test_coop import BASELINE_FILES

MMPL = 'muzairkhattak/multimodal-prompt-learning'
CONFIG = f'{MMPL} configs/trainers/MaPLe/vit_b16_c2_ep5_batch4_2ctx.yaml'
LEARNER = dict(type='MaPLePromptLearner', n_ctx=2, ctx_init='a photo of a', depth=9)

EXPECTED = [
    MethodRows(
        folder='maple',
        recipes={
            'base2novel':
            Recipe(0.0035, 4, 5, LEARNER, 'fp16', CONFIG,
                   f'{MMPL} scripts/maple/base2new_train_maple.sh'),
            'cross_dataset':
            Recipe(0.0026, 4, 2, dict(LEARNER, depth=3), 'fp16',
                   f'{MMPL} configs/trainers/MaPLe/vit_b16_c2_ep5_batch4_2ctx_cross_datasets.yaml',
                   f'{MMPL} scripts/maple/xd_train_maple.sh'),
            'few_shot':
            Recipe(0.0035, 4, 50, LEARNER, 'fp16', CONFIG,
                   'the reference ships no few-shot recipe: its base-to-novel one, 50 epochs'),
        },
        converter=(ConverterCase('maple', 'maple', 'MaPLe', dict(n_ctx=2, depth=3),
                                 dict(n_ctx=2, depth=3), ref_trainers.maple_reference_state_dict,
                                 ref_trainers.maple_logits, 'maple',
                                 dict(n_ctx=2, depth=3, text_width=32, vision_width=48)), ),
        published_average=(82.28, 75.14, 78.55),
        published_source='Table 1 of the MaPLe paper',
        files=BASELINE_FILES),
]


def n_trainable(module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def test_default_vit_b16_has_exactly_the_paper_parameter_count():
    learner = MaPLePromptLearner(OpenCLIPBackbone('ViT-B-16'))  # n_ctx 2, depth 9
    assert n_trainable(learner) == 3_555_072
    assert learner.ctx.shape == (2, 512)
    assert learner.ctx_proj.weight.shape == (768, 512)
    assert len(learner.deep_text_prompts) == len(learner.deep_projs) == 8


def test_vit_l14_widths_give_768_to_1024_couplings():
    cfg = open_clip.get_model_config('ViT-L-14')
    cfg['vision_cfg']['layers'] = cfg['text_cfg']['layers'] = 3  # keep the test light
    learner = MaPLePromptLearner(OpenCLIPBackbone(model_cfg=cfg), depth=3)
    assert learner.ctx_proj.weight.shape == (1024, 768)
    per_layer = 2 * 768 + 768 * 1024 + 1024
    assert n_trainable(learner) == 3 * per_layer


def test_context_starts_from_the_words_a_photo():
    clip = OpenCLIPBackbone('ViT-B-16')
    learner = MaPLePromptLearner(clip)
    words = open_clip.tokenize(['a photo'])[0, 1:3]
    assert torch.equal(learner.ctx.data, clip.clip.token_embedding.weight[words])
    assert learner.prompt_prefix == 'a photo of a'


def test_deep_couplings_start_identical_and_deep_prompts_do_not():
    learner = MaPLePromptLearner(OpenCLIPBackbone('ViT-B-32'), depth=9)
    first = learner.deep_projs[0]
    for proj in learner.deep_projs[1:]:
        assert torch.equal(proj.weight, first.weight) and torch.equal(proj.bias, first.bias)
        assert proj.weight.data_ptr() != first.weight.data_ptr()  # copies, not shared
    assert not torch.equal(learner.deep_text_prompts[0], learner.deep_text_prompts[1])
    assert abs(learner.deep_text_prompts[0].std().item() - 0.02) < 0.005


@pytest.mark.parametrize('n_ctx,ctx_init', [(2, ''), (5, 'a photo of a')])
def test_random_context_init(n_ctx, ctx_init):
    learner = MaPLePromptLearner(OpenCLIPBackbone('ViT-B-32'), n_ctx=n_ctx, ctx_init=ctx_init)
    assert learner.prompt_prefix == ' '.join(['X'] * n_ctx)
    assert learner.ctx.shape == (n_ctx, 512)
    assert abs(learner.ctx.std().item() - 0.02) < 0.01


def test_depth_must_fit_the_towers():
    from maple_mm.models import TINY_CLIP_CFG
    with pytest.raises(PromptConfigError, match='prompt depth must be in 1..4'):
        MaPLePromptLearner(OpenCLIPBackbone(model_cfg=TINY_CLIP_CFG), depth=5)


def test_class_prompts_keep_of_a_fixed_and_learn_a_photo():
    assert class_sentence('a photo of a', 'golden_retriever') == 'a photo of a golden retriever.'
    clip = OpenCLIPBackbone('ViT-B-32')
    learner = MaPLePromptLearner(clip)
    learner.set_class_names(['dog', 'golden_retriever', 'cat'], clip)
    ids = open_clip.tokenize(
        ['a photo of a dog.', 'a photo of a golden retriever.', 'a photo of a cat.'])
    (prompts, ) = learner.class_prompts
    assert torch.equal(prompts.token_ids, ids)
    assert torch.equal(prompts.embeddings, clip.clip.token_embedding(ids))
    assert prompts.ctx_positions.tolist() == [[1, 2]] * 3  # "a photo"; "of a <class> ." stay
    assert learner.class_names == ['dog', 'golden_retriever', 'cat']


# -- reference checkpoints ----------------------------------------------------------------
def test_key_mapping(backbone):
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


def test_depth_one_checkpoint(tmp_path, backbone):
    _, saved = saved_state_dict(backbone, 'maple', depth=1)
    torch.save({'state_dict': saved, 'epoch': 2}, tmp_path / 'ref.pth')
    out = convert(tmp_path, tmp_path / 'ref.pth', 'maple.pth')
    ckpt = torch.load(out, weights_only=True)
    assert ckpt['meta']['depth'] == 1 and ckpt['meta']['epoch'] == 2
    build_model('maple', depth=1).load_state_dict(ckpt['state_dict'])


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

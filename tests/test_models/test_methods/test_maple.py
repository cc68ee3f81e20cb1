import open_clip
import pytest
import torch

from maple_mm.errors import PromptConfigError
from maple_mm.models import MaPLePromptLearner, OpenCLIPBackbone
from maple_mm.models.class_prompts import class_sentence


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

"""The prompting core: parity with open_clip and prompts exactly where they belong."""
import pytest
import torch
import torch.nn.functional as F

from maple_mm.models import MaPLePromptLearner, OpenCLIPBackbone, encode_image
from ..conftest import build_tiny_maple

NAMES = ['dog', 'golden_retriever', 'traffic light']


@pytest.mark.parametrize('model_name', ['tiny', 'ViT-B-16'])
def test_depth_one_text_encoder_reproduces_open_clip(model_name):
    """J=1 with ctx initialised from the words is CLIP's own encode_text."""
    if model_name == 'tiny':
        model = build_tiny_maple(depth=1, class_names=NAMES)
    else:
        from mmpretrain.registry import MODELS
        model = MODELS.build(
            dict(
                type='MaPLe',
                backbone=dict(type='OpenCLIPBackbone', model_name=model_name),
                prompt_learner=dict(type='MaPLePromptLearner', depth=1),
                class_names=NAMES))
    clip = model.backbone
    sentences = [
        'a photo of a dog.', 'a photo of a golden retriever.', 'a photo of a traffic light.'
    ]
    with torch.no_grad():
        ours = model.text_features(model.prompt_learner())
        theirs = F.normalize(clip.clip.encode_text(clip.tokenize(sentences)), dim=-1)
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)


def capture_block_inputs(blocks):
    inputs, handles = [], []
    for block in blocks:
        handles.append(
            block.register_forward_pre_hook(
                lambda mod, args, kwargs: inputs.append(args[0].detach().clone()),
                with_kwargs=True))
    return inputs, handles


def test_prompts_reach_exactly_the_layers_they_should():
    depth, n_ctx = 3, 2
    model = build_tiny_maple(n_ctx=n_ctx, depth=depth, class_names=NAMES)
    model.efficient = False  # the path that calls open_clip's blocks, seen by hooks
    clip = model.backbone.clip
    text_in, h1 = capture_block_inputs(clip.transformer.resblocks)
    vis_in, h2 = capture_block_inputs(clip.visual.transformer.resblocks)
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        model(images)
        prompts = model.prompt_learner()
    for h in h1 + h2:
        h.remove()
    assert len(text_in) == len(vis_in) == 4
    n_vis = vis_in[0].shape[1]
    assert n_vis == 1 + (32 // 8)**2 + n_ctx  # CLS + patches + vision prompts

    # Block 0: shallow prompts. Text ctx got the positional embedding; vision
    # prompts got none, only ln_pre.
    pos = clip.positional_embedding[1:1 + n_ctx]
    torch.testing.assert_close(text_in[0][:, 1:1 + n_ctx],
                               (prompts.text_ctx + pos).expand(3, -1, -1))
    torch.testing.assert_close(vis_in[0][:, -n_ctx:],
                               clip.visual.ln_pre(prompts.vision_ctx).expand(2, -1, -1))
    # Blocks 1 .. J-1: replaced by the deep prompts, vision = projection of text.
    for k in range(1, depth):
        torch.testing.assert_close(text_in[k][:, 1:1 + n_ctx],
                                   prompts.deep_text[k - 1].expand(3, -1, -1))
        expected_vis = model.prompt_learner.deep_projs[k - 1](prompts.deep_text[k - 1])
        torch.testing.assert_close(vis_in[k][:, -n_ctx:], expected_vis.expand(2, -1, -1))
    # Block J onwards: no replacement, whatever block J-1 produced flows on.
    for stream in (text_in, vis_in):
        for deep in prompts.deep_text + prompts.deep_vision:
            if deep.shape[-1] == stream[depth].shape[-1]:
                assert not torch.allclose(stream[depth][0, 1:1 + n_ctx], deep)
                assert not torch.allclose(stream[depth][0, -n_ctx:], deep)
    # Positions outside the prompt slots are never touched: SOS at block 1 is
    # block 0's output at that position.
    block0_out = clip.transformer.resblocks[0](text_in[0], attn_mask=clip.attn_mask)
    torch.testing.assert_close(text_in[1][:, 0], block0_out[:, 0])
    torch.testing.assert_close(text_in[1][:, 1 + n_ctx:], block0_out[:, 1 + n_ctx:])


def test_vision_prompts_change_image_features_and_depth_matters():
    model = build_tiny_maple(depth=3, class_names=NAMES)
    clip, prompts = model.backbone.clip, model.prompt_learner()
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        plain = clip.encode_image(images)
        shallow = encode_image(clip, images, prompts.vision_ctx)
        deep = encode_image(clip, images, prompts.vision_ctx, prompts.deep_vision)
    assert not torch.allclose(plain, shallow) and not torch.allclose(shallow, deep)


def test_too_many_deep_prompts_is_an_error():
    clip = OpenCLIPBackbone('ViT-B-32')
    learner = MaPLePromptLearner(clip, depth=12)
    prompts = learner()
    with pytest.raises(ValueError, match='need more than'):
        encode_image(clip.clip, torch.randn(1, 3, 224, 224), prompts.vision_ctx,
                     prompts.deep_vision + prompts.deep_vision[:1])

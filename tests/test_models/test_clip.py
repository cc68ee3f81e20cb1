import open_clip
import pytest
import torch
from mmpretrain.registry import MODELS

from maple_mm.errors import CLIPBuildError, ConfigError
from maple_mm.method_zoo import method_folders
from maple_mm.models import TINY_CLIP_CFG, TINY_RESNET_CLIP_CFG, OpenCLIPBackbone
from maple_mm.models.classifier import text_only_methods
from maple_mm.models.clip import _quick_gelu_for
from maple_mm.models.fast.text import fast_path_fallbacks

METHODS = method_folders()


def test_vit_b16_widths_frozen_and_eval():
    backbone = OpenCLIPBackbone('ViT-B-16')
    assert (backbone.text_width, backbone.vision_width) == (512, 768)
    assert (backbone.num_text_layers, backbone.num_vision_layers) == (12, 12)
    assert backbone.context_length == 77
    # Every fast path is taken by the pinned open_clip (tests/test_models/test_fast_text.py).
    assert fast_path_fallbacks(backbone.clip) == []
    assert not any(p.requires_grad for p in backbone.parameters())
    backbone.train()
    assert not backbone.clip.training


def test_widths_are_read_from_the_model():
    backbone = OpenCLIPBackbone(model_cfg=TINY_CLIP_CFG)
    assert (backbone.text_width, backbone.vision_width) == (32, 48)
    assert backbone.num_vision_layers == 4


@pytest.mark.parametrize('name,widths', [('RN50', (512, 1024)), ('RN101', (512, 512))])
def test_resnet_clips_build_with_the_text_fast_paths(name, widths):
    """A ModifiedResNet image tower runs as open_clip runs it; the text side keeps every
    fast path, and no vision fast path is reported missing (there are no blocks to cut)."""
    backbone = OpenCLIPBackbone(name)
    assert type(backbone.clip.visual).__name__ == 'ModifiedResNet'
    assert (backbone.text_width, backbone.embed_dim) == widths
    assert backbone.image_size == (224, 224) and not backbone.has_vision_tokens
    assert fast_path_fallbacks(backbone.clip) == []
    with pytest.raises(
            CLIPBuildError, match=f'need a Vision Transformer.*{name} has a '
            'ModifiedResNet'):
        backbone.vision_width


def test_openai_resnet_weights_need_quick_gelu():
    for name in ('RN50', 'RN101', 'RN50x4'):
        assert _quick_gelu_for(name, 'openai') is True
    assert OpenCLIPBackbone(model_cfg=TINY_RESNET_CLIP_CFG).image_size == (32, 32)


def test_images_of_another_size_are_a_one_line_error():
    """RN50x4 takes 288-pixel images; a 224-pixel pipeline says so instead of a shape error."""
    model = MODELS.build(
        dict(
            type='MaPLe',
            backbone=dict(type='OpenCLIPBackbone', model_cfg=TINY_CLIP_CFG),
            prompt_learner=dict(depth=2),
            class_names=['dog', 'cat']))
    with pytest.raises(ConfigError) as err:
        model(torch.randn(1, 3, 24, 24))
    assert str(err.value).startswith('The images are 24x24 pixels, but this CLIP takes 32x32')
    assert 'CenterCrop crop_size to 32' in str(err.value) and '\n' not in str(err.value)


#: The shipped methods whose learner adds vision prompt tokens (the registry says which; each
#: method's own tests state it for that method).
VISION_PROMPTED = [m for m in METHODS.values() if m not in text_only_methods()]


def test_the_shipped_methods_are_text_only_or_vision_prompted():
    assert 'MaPLe' in VISION_PROMPTED  # the example: deep vision prompts
    assert set(text_only_methods()) & set(METHODS.values())  # and some run on a ResNet
    for method in METHODS.values():
        learner = MODELS.get(MODELS.get(method).default_learner)
        assert learner.vision_prompts == (method in VISION_PROMPTED), method


@pytest.mark.parametrize('method', VISION_PROMPTED)
def test_vision_prompted_methods_refuse_a_resnet_in_one_line(method):
    """Named with the methods that do run there, read from the registry."""
    with pytest.raises(CLIPBuildError) as err:
        MODELS.build(
            dict(
                type=method, backbone=dict(type='OpenCLIPBackbone',
                                           model_cfg=TINY_RESNET_CLIP_CFG)))
    message = str(err.value)
    assert '\n' not in message
    assert message == (
        f'{method} adds prompt tokens to the image tower, but this CLIP has a ModifiedResNet '
        'image tower, which has no token sequence to add vision prompt tokens to. Use a ViT '
        'CLIP such as ViT-B-16, or a method that prompts only the text, which runs on any CLIP: '
        f'{", ".join(text_only_methods())}.')


def test_a_method_says_whether_it_prompts_the_image_tower():
    """A text-only method registered later (ProGrad, TPT ...) is listed and runs on a ResNet
    without touching the check; one that declares vision prompts is refused."""
    from maple_mm.models import PromptedCLIP
    text_learner = MODELS.get(MODELS.get(text_only_methods()[0]).default_learner)

    class TextOnlyProbe(PromptedCLIP):
        default_learner = text_learner.__name__

    class VisionProbeLearner(text_learner):
        vision_prompts = True

    class VisionProbe(PromptedCLIP):
        default_learner = 'VisionProbeLearner'

    names = ('TextOnlyProbe', 'VisionProbeLearner', 'VisionProbe')
    for cls in (TextOnlyProbe, VisionProbeLearner, VisionProbe):
        MODELS.register_module(module=cls)
    try:
        assert 'TextOnlyProbe' in text_only_methods()
        assert 'VisionProbe' not in text_only_methods()
        resnet = dict(type='OpenCLIPBackbone', model_cfg=TINY_RESNET_CLIP_CFG)
        probe = MODELS.build(dict(type='TextOnlyProbe', backbone=resnet, class_names=['a', 'b']))
        assert probe(torch.randn(1, 3, 32, 32)).shape == (1, 2)
        with pytest.raises(CLIPBuildError, match='^VisionProbe adds prompt tokens'):
            MODELS.build(dict(type='VisionProbe', backbone=resnet))
        MODELS.build(dict(type='VisionProbe', backbone=dict(resnet, model_cfg=TINY_CLIP_CFG)))
    finally:
        for name in names:
            MODELS.module_dict.pop(name)


def test_unknown_model_and_missing_file():
    with pytest.raises(CLIPBuildError, match='Unknown open_clip model'):
        OpenCLIPBackbone('ViT-Nope')
    with pytest.raises(CLIPBuildError, match='does not exist'):
        OpenCLIPBackbone('ViT-B-16', pretrained='/no/such/clip.pt')


def test_quick_gelu_follows_the_pretrained_tag():
    assert _quick_gelu_for('ViT-B-16', 'openai') is True
    assert _quick_gelu_for('ViT-B-16', 'laion2b_s34b_b88k') is False
    assert _quick_gelu_for('ViT-B-16', None) is False


def test_random_init_is_a_function_of_init_seed():
    a = OpenCLIPBackbone(model_cfg=TINY_CLIP_CFG, init_seed=0)
    torch.manual_seed(123)  # the global RNG must not matter
    b = OpenCLIPBackbone(model_cfg=TINY_CLIP_CFG, init_seed=0)
    c = OpenCLIPBackbone(model_cfg=TINY_CLIP_CFG, init_seed=1)
    wa, wb, wc = (m.clip.visual.conv1.weight for m in (a, b, c))
    assert torch.equal(wa, wb) and not torch.equal(wa, wc)


def test_local_checkpoint_file_is_loaded(tmp_path):
    source = OpenCLIPBackbone(model_cfg=TINY_CLIP_CFG, init_seed=7)
    path = tmp_path / 'tiny_clip.pt'
    torch.save(source.clip.state_dict(), path)
    loaded = OpenCLIPBackbone(model_cfg=TINY_CLIP_CFG, pretrained=str(path), init_seed=0)
    for (name, a), b in zip(source.clip.state_dict().items(), loaded.clip.state_dict().values()):
        assert torch.equal(a, b), name


def test_tokenizer_matches_open_clip():
    backbone = OpenCLIPBackbone(model_cfg=TINY_CLIP_CFG)
    text = ['a photo of a golden retriever.']
    assert torch.equal(backbone.tokenize(text), open_clip.tokenize(text))
    with pytest.raises(ValueError, match='longer than the text context'):
        backbone.tokenize(['word ' * 100])


def test_an_open_clip_without_the_vit_hooks_is_refused_for_vits_only(monkeypatch):
    """The vision prompts splice around VisionTransformer._embeds / _pool (open_clip >= 2.24);
    a ResNet CLIP does not need them."""
    from open_clip.transformer import VisionTransformer
    monkeypatch.delattr(VisionTransformer, '_embeds')
    with pytest.raises(
            CLIPBuildError, match=r'^This open_clip \(.*\) has no VisionTransformer.'
            '_embeds'):
        OpenCLIPBackbone(model_cfg=TINY_CLIP_CFG)
    assert not OpenCLIPBackbone(model_cfg=TINY_RESNET_CLIP_CFG).has_vision_tokens

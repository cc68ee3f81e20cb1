import open_clip
import pytest
import torch

from maple_mm.errors import CLIPBuildError
from maple_mm.models import TINY_CLIP_CFG, OpenCLIPBackbone
from maple_mm.models.clip import _quick_gelu_for
from maple_mm.models.fast.text import fast_path_fallbacks


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


def test_resnet_clip_is_refused_with_a_clear_error():
    with pytest.raises(CLIPBuildError, match='ModifiedResNet image tower.*Vision Transformer'):
        OpenCLIPBackbone('RN50')


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

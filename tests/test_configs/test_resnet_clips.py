"""Every shipped method on RN50 (random weights, built as open_clip builds it), from its own
config with ``model.backbone.model_name='RN50'``, as a CoOp user would try it.

The methods that prompt only the text build and score images with every fast path
active (no SlowPathWarning, the text shortcuts taken, eval text features reused);
those that add vision prompts refuse in one line.
"""
import warnings

import pytest
import torch
from mmpretrain.registry import MODELS

from maple_mm.errors import CLIPBuildError, SlowPathWarning
from maple_mm.models.classifier import text_only_methods
from maple_mm.models.fast.text import fast_path_fallbacks, supports_fast_text
from .zoo import CONFIGS, METHODS, built

CLASS_NAMES = ['banded', 'blotchy', 'braided']

pytestmark = pytest.mark.usefixtures('one_thread')


def rn50_model(config, **learner):
    """The config's model on a randomly initialised RN50 (no download)."""
    cfg = built(config).model.copy()
    cfg.backbone = dict(cfg.backbone, model_name='RN50', pretrained=None)
    if learner:
        cfg.prompt_learner = dict(cfg.prompt_learner, **learner)
    return MODELS.build(cfg)


@pytest.fixture(scope='module')
def image():
    return torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize('folder', METHODS)
def test_each_method_on_rn50_scores_images_or_refuses_in_one_line(folder, image):
    config = CONFIGS / folder / 'base2novel_dtd.py'
    method = METHODS[folder]
    if method not in text_only_methods():
        with pytest.raises(CLIPBuildError) as err:
            rn50_model(config)
        assert '\n' not in str(err.value)
        assert str(err.value).startswith(f'{method} adds prompt tokens to the image tower, but '
                                         'RN50 has a ModifiedResNet image tower')
        assert str(err.value).endswith(f'runs on any CLIP: {", ".join(text_only_methods())}.')
        return
    with warnings.catch_warnings():
        warnings.simplefilter('error', SlowPathWarning)
        model = rn50_model(config)
    clip = model.backbone.clip
    assert type(clip.visual).__name__ == 'ModifiedResNet' and model.efficient
    assert fast_path_fallbacks(clip) == [] and supports_fast_text(clip)
    model.set_class_names(CLASS_NAMES)
    model.eval()
    encoded, text_features = [], model.text_features
    model.text_features = lambda prompts: encoded.append(1) or text_features(prompts)
    with torch.no_grad():
        scores = model.predict(image)[0].pred_score
        again = model.predict(image)[0].pred_score
    assert scores.shape == (len(CLASS_NAMES), ) and torch.isfinite(scores).all()
    torch.testing.assert_close(scores, again)
    # The eval text cache: text features once, unless they depend on the image (CoCoOp).
    assert len(encoded) == (2 if model.prompt_learner.image_conditional else 1)

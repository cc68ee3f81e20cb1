"""TestTimeViews and TPT's AugMix: view 0 is the test transform, the others TPT's augmentations.

Reference: azshue/TPT @63ecbac ``data/datautils.py:62-102`` (views), ``data/augmix_ops.py``
(the operations and their parameter ranges at severity 1).
"""
import numpy as np
import pytest
import torch
from mmcv.transforms import Compose
from PIL import Image, ImageOps

from maple_mm.datasets import TestTimeViews
from maple_mm.datasets import augmix as augmix_module
from maple_mm.datasets.test_time_views import original_view


def decoded(seed: int = 0, size=(57, 41)) -> dict:
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
    return dict(img=img, img_shape=img.shape[:2], ori_shape=img.shape[:2])


def test_view_zero_is_the_test_transform_and_the_rest_are_crops():
    views = TestTimeViews(num_views=7, size=32)(decoded())['img']
    assert views.shape == (8, 3, 32, 32) and views.dtype == torch.uint8
    test = Compose(original_view(32))(decoded())['img']  # ResizeEdge + CenterCrop, bicubic
    assert torch.equal(views[0], torch.from_numpy(test).permute(2, 0, 1))
    assert len({bytes(v.numpy()) for v in views}) == 8  # random crops differ


def test_views_follow_the_seeds():

    def draw(seed):
        np.random.seed(seed)
        torch.manual_seed(seed)
        return TestTimeViews(num_views=5, size=24, augmix=True)(decoded())['img']

    first, again, other = draw(1), draw(1), draw(2)
    assert first.dtype == torch.float32 and torch.equal(first, again)
    assert not torch.equal(first[1:], other[1:]) and torch.equal(first[0], other[0])


def test_augmix_operations_are_tpts_reduced_list():
    names = [op.__name__ for op in augmix_module.TPT_OPERATIONS]
    assert names == [
        'autocontrast', 'equalize', 'posterize', 'rotate', 'solarize', 'shear_x', 'shear_y',
        'translate_x', 'translate_y'
    ]  # augmix_ops.py:141-143: color, contrast, brightness, sharpness left out


def test_augmix_parameter_ranges_at_severity_one():
    image = Image.fromarray(decoded(3, (32, 32))['img'])
    np.random.seed(0)
    for _ in range(20):
        # level = U(0.1, 1): posterize always keeps 4 bits; solarize thresholds 231..254
        assert augmix_module.posterize(image, 1) == ImageOps.posterize(image, 4)
        solarized = augmix_module.solarize(image, 1)
        assert any(solarized == ImageOps.solarize(image, t) for t in range(231, 255))
        rotated = augmix_module.rotate(image, 1)
        assert any(rotated == image.rotate(d, resample=Image.BILINEAR) for d in (-2, -1, 0, 1, 2))


def test_augmix_mixes_pixels_with_weights_summing_to_one():
    image = Image.fromarray(np.full((16, 16, 3), 100, np.uint8))
    np.random.seed(0)
    mixed = augmix_module.augmix(image, 1)
    # A flat image stays flat under every operation but solarize / posterize / the affine
    # borders: the mix stays within the range of its parts.
    assert mixed.dtype == np.float32 and mixed.shape == (16, 16, 3)
    assert 0 <= mixed.min() and mixed.max() <= 255


def test_views_of_the_wrong_size_are_refused():
    views = TestTimeViews(num_views=1, size=32, original=[dict(type='CenterCrop', crop_size=20)])
    with pytest.raises(ValueError, match='not 32x32'):
        views(decoded())

"""AugMix (Hendrycks et al., ICLR 2020) with TPT's reduced operations, for test-time views.

TPT mixes its views of the fine-grained datasets with AugMix at severity 1 over
nine operations (azshue/TPT ``data/augmix_ops.py:141-143``): the four that
overlap ImageNet-C (color, contrast, brightness, sharpness) are left out.
Operations, their parameter ranges and the draws of NumPy's global random
state follow ``data/augmix_ops.py`` and ``data/datautils.py:68-84`` (the
mix weights ``w ~ Dirichlet(1, 1, 1)``, ``m ~ Beta(1, 1)``, three chains of 1-3
operations each). The reference mixes the normalised tensors; the weights sum
to one, so mixing the pixels and normalising afterwards (the data
preprocessor) is the same up to float rounding.
"""
from typing import Callable, List

import numpy as np
from PIL import Image, ImageOps


def _level(severity: float) -> float:
    return np.random.uniform(low=0.1, high=severity)


def _int(level: float, maximum: float) -> int:
    return int(level * maximum / 10)


def _float(level: float, maximum: float) -> float:
    return float(level) * maximum / 10.


def autocontrast(image: Image.Image, severity: float) -> Image.Image:
    return ImageOps.autocontrast(image)


def equalize(image: Image.Image, severity: float) -> Image.Image:
    return ImageOps.equalize(image)


def posterize(image: Image.Image, severity: float) -> Image.Image:
    return ImageOps.posterize(image, 4 - _int(_level(severity), 4))


def rotate(image: Image.Image, severity: float) -> Image.Image:
    degrees = _int(_level(severity), 30)
    if np.random.uniform() > 0.5:
        degrees = -degrees
    return image.rotate(degrees, resample=Image.BILINEAR)


def solarize(image: Image.Image, severity: float) -> Image.Image:
    return ImageOps.solarize(image, 256 - _int(_level(severity), 256))


def _affine(image: Image.Image, coefficients) -> Image.Image:
    # The reference's output size is its IMAGE_SIZE (224), the views' size.
    return image.transform(image.size, Image.AFFINE, coefficients, resample=Image.BILINEAR)


def shear_x(image: Image.Image, severity: float) -> Image.Image:
    level = _float(_level(severity), 0.3)
    if np.random.uniform() > 0.5:
        level = -level
    return _affine(image, (1, level, 0, 0, 1, 0))


def shear_y(image: Image.Image, severity: float) -> Image.Image:
    level = _float(_level(severity), 0.3)
    if np.random.uniform() > 0.5:
        level = -level
    return _affine(image, (1, 0, 0, level, 1, 0))


def translate_x(image: Image.Image, severity: float) -> Image.Image:
    level = _int(_level(severity), image.size[0] / 3)
    if np.random.random() > 0.5:
        level = -level
    return _affine(image, (1, 0, level, 0, 1, 0))


def translate_y(image: Image.Image, severity: float) -> Image.Image:
    level = _int(_level(severity), image.size[1] / 3)
    if np.random.random() > 0.5:
        level = -level
    return _affine(image, (1, 0, 0, 0, 1, level))


#: TPT's operations, in the reference's order (``np.random.choice`` draws by position).
TPT_OPERATIONS: List[Callable[[Image.Image, float], Image.Image]] = [
    autocontrast, equalize, posterize, rotate, solarize, shear_x, shear_y, translate_x, translate_y
]


def augmix(image: Image.Image, severity: float = 1.0, chains: int = 3) -> np.ndarray:
    """(H, W, 3) float32 pixels: ``m * image + (1 - m) * sum_i w_i * chain_i(image)``."""
    weights = np.float32(np.random.dirichlet([1.0] * chains))
    m = np.float32(np.random.beta(1.0, 1.0))
    mix = np.zeros((image.size[1], image.size[0], 3), np.float32)
    for i in range(chains):
        augmented = image.copy()
        for _ in range(np.random.randint(1, 4)):
            augmented = np.random.choice(TPT_OPERATIONS)(augmented, severity)
        mix += weights[i] * np.asarray(augmented, np.float32)
    return m * np.asarray(image, np.float32) + (1 - m) * mix

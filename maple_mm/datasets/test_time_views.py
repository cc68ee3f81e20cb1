"""The views test-time prompt tuning scores: the original image and its augmented copies."""
import copy
from typing import List, Optional

import numpy as np
import torch
from mmcv.transforms import BaseTransform, Compose
from mmpretrain.registry import TRANSFORMS
from PIL import Image

from .augmix import augmix


def original_view(size: int) -> List[dict]:
    """TPT's view 0 (``tpt_classification.py:164-166``): shorter side to ``size`` (bicubic),
    centre crop; CLIP's test transform."""
    return [
        dict(
            type='ResizeEdge', scale=size, edge='short', interpolation='bicubic', backend='pillow'),
        dict(type='CenterCrop', crop_size=size),
    ]


def augmented_view(size: int) -> List[dict]:
    """TPT's other views (``data/datautils.py:62-66``): torchvision's ``RandomResizedCrop``
    defaults (8-100% of the area, aspect ratio 3/4-4/3, bilinear) and a horizontal flip."""
    return [
        dict(
            type='RandomResizedCrop',
            scale=size,
            crop_ratio_range=(0.08, 1.0),
            aspect_ratio_range=(3. / 4., 4. / 3.),
            interpolation='bilinear',
            backend='pillow'),
        dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    ]


@TRANSFORMS.register_module()
class TestTimeViews(BaseTransform):
    """The original view and ``num_views`` augmented views of an image, as one (V, 3, H, W) input.

    View 0 is the image through ``original`` (the test transform); views 1 ..
    ``num_views`` are drawn from the *decoded* image through ``augment``, and,
    with ``augmix``, mixed with AugMix chains of TPT's operations
    (:mod:`.augmix`). TPT uses 63 views, with AugMix on the fine-grained datasets
    and without on the ImageNet family; PromptAlign never mixes (spec P3).
    Place it after the loader and before ``PackInputs``; the model's data
    preprocessor normalises the views (in the same BGR -> RGB order as images).

    Args:
        num_views: Augmented views besides the original (63: 64 in all).
        size: Side of every view (224).
        augmix: Mix each augmented view with AugMix (float pixels; else uint8).
        severity: AugMix severity (1).
        original: Transforms of view 0 (default: :func:`original_view`).
        augment: Transforms of the other views (default: :func:`augmented_view`).
    """

    def __init__(self,
                 num_views: int = 63,
                 size: int = 224,
                 augmix: bool = False,
                 severity: float = 1.0,
                 original: Optional[List[dict]] = None,
                 augment: Optional[List[dict]] = None) -> None:
        if num_views < 0:
            raise ValueError(f'num_views must be >= 0, got {num_views}')
        self.num_views, self.size, self.augmix, self.severity = num_views, size, augmix, severity
        self.original = Compose(original if original is not None else original_view(size))
        self.augment = Compose(augment if augment is not None else augmented_view(size))

    def _view(self, pipeline: Compose, results: dict) -> np.ndarray:
        view = pipeline(copy.copy(results))['img']
        if view.shape[:2] != (self.size, self.size):
            raise ValueError(f'A test-time view is {view.shape[1]}x{view.shape[0]} pixels, not '
                             f'{self.size}x{self.size}: its transforms must end at that size.')
        return view

    def transform(self, results: dict) -> dict:
        first = self._view(self.original, results)
        views = [first.astype(np.float32) if self.augmix else first]
        for _ in range(self.num_views):
            view = self._view(self.augment, results)
            if self.augmix:  # mmcv images are BGR; AugMix runs on the RGB image
                rgb = augmix(Image.fromarray(np.ascontiguousarray(view[..., ::-1])), self.severity)
                view = np.ascontiguousarray(rgb[..., ::-1])
            views.append(view)
        stack = np.stack(views)  # (V, H, W, 3)
        results['img'] = torch.from_numpy(stack).permute(0, 3, 1, 2).contiguous()
        results['img_shape'] = first.shape[:2]
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(num_views={self.num_views}, size={self.size}, '
                f'augmix={self.augmix}, severity={self.severity})')

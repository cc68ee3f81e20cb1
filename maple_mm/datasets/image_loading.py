"""Decode images as the reference does: PIL, RGB, without applying the EXIF orientation.

Dassl's ``read_image`` (``dassl/utils/tools.py``) is ``Image.open(path).convert('RGB')``;
mmcv's default loader (OpenCV) turns a photo by its EXIF orientation tag first,
so a phone picture would reach the model rotated where the reference's does not.
"""
import io
from typing import Optional

import numpy as np
from mmcv.transforms import LoadImageFromFile
from mmengine import fileio
from mmpretrain.registry import TRANSFORMS
from PIL import Image


def decode_image(content: bytes) -> np.ndarray:
    """(H, W, 3) uint8 in BGR order, mmcv's, from ``Image.open(...).convert('RGB')``."""
    with Image.open(io.BytesIO(content)) as image:
        rgb = np.asarray(image.convert('RGB'))
    return np.ascontiguousarray(rgb[..., ::-1])


def read_image(path: str) -> np.ndarray:
    """The image at ``path`` as the reference decodes it, in mmcv's BGR order."""
    return decode_image(fileio.get(path))


@TRANSFORMS.register_module()
class LoadImageWithPIL(LoadImageFromFile):
    """mmcv's ``LoadImageFromFile`` decoding as the reference: PIL, RGB, no EXIF turn.

    Gives ``img`` in BGR order as mmcv does (the data preprocessor's
    ``to_rgb=True`` makes it RGB). ``ignore_empty`` and ``to_float32`` work as
    in mmcv; ``color_type`` and ``imdecode_backend`` are not used. Results that
    already hold an image and no path (mmpretrain's inferencers load the image
    themselves) pass through.
    """

    def transform(self, results: dict) -> Optional[dict]:
        if results.get('img') is not None and results.get('img_path') is None:
            return results
        filename = results['img_path']
        try:
            img = decode_image(fileio.get(filename, backend_args=self.backend_args))
        except Exception:
            if self.ignore_empty:
                return None
            raise
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results

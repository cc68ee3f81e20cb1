"""Whether an image file decodes, and if not, why: empty, not an image, truncated."""
import os
from typing import Optional

from PIL import Image, UnidentifiedImageError

MISSING = 'missing'


def image_problem(path: str, decode: bool = True) -> Optional[str]:
    """None if the image at ``path`` opens, else what is wrong with it.

    ``decode=False`` only reads the header (fast; a truncated file passes),
    ``decode=True`` decodes every pixel. Returns :data:`MISSING` for a file
    that is not there.
    """
    try:
        if os.stat(path).st_size == 0:
            return 'the file is empty (0 bytes)'
    except FileNotFoundError:
        return MISSING
    except OSError as err:
        return f'it cannot be read ({err.strerror or err})'
    try:
        with Image.open(path) as image:
            image.load() if decode else image.verify()
    except UnidentifiedImageError:
        return 'it is not an image (no image format recognised)'
    except Exception as err:  # PIL raises many types for broken files
        if 'truncated' in str(err).lower():
            return 'the file is truncated (it ends before the image data does)'
        return f'it does not decode ({type(err).__name__}: {err})'
    return None

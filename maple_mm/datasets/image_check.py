"""Whether an image file decodes, and if not, why: empty, not an image, truncated."""
import os
from typing import Optional

from PIL import Image, UnidentifiedImageError

MISSING = 'missing'
#: How a whole file of a format ends: its end marker (padding aside). A file that does not
#: decode and lacks it was cut short.
END_MARKERS = {'JPEG': b'\xff\xd9', 'PNG': b'IEND\xaeB`\x82', 'GIF': b';'}


def ends_early(path: str, image_format: Optional[str]) -> bool:
    """Whether the file lacks the end marker of its format (False for other formats)."""
    marker = END_MARKERS.get(image_format or '')
    if marker is None:
        return False
    with open(path, 'rb') as f:
        f.seek(max(0, os.path.getsize(path) - 4096))
        tail = f.read().rstrip(b'\x00\r\n ')
    return not tail.endswith(marker)


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
    image_format = None
    try:
        with Image.open(path) as image:
            image_format = image.format
            image.load() if decode else image.verify()
    except UnidentifiedImageError:
        return 'it is not an image (no image format recognised)'
    except Exception as err:  # PIL raises many types for broken files
        if ends_early(path, image_format):
            return 'the file is truncated (it ends before the image data does)'
        return f'it does not decode ({type(err).__name__}: {err})'
    return None

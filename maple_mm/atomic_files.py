"""Files replaced whole: a reader (or a crash) sees the old file or the new one, never half."""
import os
from pathlib import Path
from typing import Union

PathLike = Union[str, Path]


def fsync_file(path: PathLike) -> None:
    """Flush a written file to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_text_atomically(path: PathLike, text: str) -> None:
    """Replace ``path`` by a file holding ``text``: written beside it, flushed, renamed."""
    path = Path(path)
    tmp = path.with_name(f'.{path.name}.{os.getpid()}.tmp')
    tmp.write_text(text, encoding='utf-8')
    fsync_file(tmp)
    os.replace(tmp, path)


def save_torch_atomically(obj, path: PathLike) -> None:
    """Replace ``path`` by ``torch.save(obj)``: written beside it, flushed, renamed.

    The temporary file is removed if saving fails; an existing ``path`` stays
    intact until the rename.
    """
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f'.{path.name}.{os.getpid()}.tmp')
    try:
        torch.save(obj, tmp)
        fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException:
        if tmp.exists():
            tmp.unlink()
        raise

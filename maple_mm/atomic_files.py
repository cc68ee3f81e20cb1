"""Files replaced whole: a reader (or a crash) sees the old file or the new one, never half."""
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List, Union

PathLike = Union[str, Path]


def fsync_file(path: PathLike) -> None:
    """Flush a written file to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def replaced_atomically(path: PathLike) -> Iterator[Path]:
    """A temporary path beside ``path`` to write; flushed and renamed onto ``path`` when
    the block ends, removed if it raises (``path`` is then left as it was)."""
    path = Path(path)
    tmp = path.with_name(f'.{path.name}.{os.getpid()}.tmp')
    try:
        yield tmp
        fsync_file(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text_atomically(path: PathLike, text: str) -> None:
    """Replace ``path`` by a file holding ``text``: written beside it, flushed, renamed."""
    with replaced_atomically(path) as tmp:
        tmp.write_text(text, encoding='utf-8')


#: A temporary file older than this was left by a write that never finished
#: (writes take milliseconds); younger ones may belong to a run writing now.
STALE_AFTER_S = 60.0


def remove_stale_temporaries(folder: PathLike,
                             pattern: str,
                             older_than: float = STALE_AFTER_S) -> List[Path]:
    """Delete the files of ``folder`` matching ``pattern`` left by killed writes; list them."""
    removed, now = [], time.time()
    for path in Path(folder).glob(pattern):
        try:
            if path.is_file() and now - path.stat().st_mtime > older_than:
                path.unlink()
                removed.append(path)
        except OSError:  # gone meanwhile, or not ours to delete
            continue
    return removed


def save_torch_atomically(obj, path: PathLike) -> None:
    """Replace ``path`` by ``torch.save(obj)``: written beside it, flushed, renamed; an
    existing ``path`` stays intact until the rename."""
    import torch

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with replaced_atomically(path) as tmp:
        torch.save(obj, tmp)

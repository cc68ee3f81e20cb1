"""Load checkpoints weights-only, with one clear error for every file that cannot be loaded.

``torch.load(weights_only=True)`` never runs pickled code. mmengine's runtime
stores a few plain data objects of its own in checkpoints (``HistoryBuffer``
logs holding NumPy arrays and scalars); :func:`mmengine_runtime_globals` allows
exactly those, so checkpoints written under any mmengine runtime load, and
nothing falls back to unrestricted unpickling. The allow-list is applied only
around maple_mm's own loads (:func:`weights_only_loading`), never process-wide.
"""
import contextlib
import os
import pickle
import zipfile
from typing import Iterator, List, Optional

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

from maple_mm.errors import CheckpointFormatError, CheckpointNotFoundError
from maple_mm.models.reference_checkpoint import REFERENCE_MODULES

CONVERTER_HINT = ('it is a checkpoint of the reference code (Dassl): convert it with '
                  'tools/model_converters/reference_to_mm.py first')


def _history_buffer_method(owner, name: str):
    """``getattr`` as pickled for ``HistoryBuffer``'s statistics methods, and nothing else."""
    if owner is HistoryBuffer and name in ('min', 'max', 'current', 'mean'):
        return getattr(owner, name)
    raise pickle.UnpicklingError(f'getattr({owner!r}, {name!r}) is not allowed')


def mmengine_runtime_globals() -> list:
    """What mmengine's runtime pickles besides tensors: HistoryBuffer and NumPy values."""
    return [
        HistoryBuffer, np.ndarray, np.dtype,
        np.zeros(1).__reduce__()[0],        # numpy's array reconstructor
        np.float64(0).__reduce__()[0],      # numpy's scalar constructor
        *{type(np.dtype(t)) for t in ('float64', 'float32', 'int64', 'int32', 'bool')},
        (_history_buffer_method, 'builtins.getattr'),
    ]


@contextlib.contextmanager
def weights_only_loading() -> Iterator[None]:
    """Within the block, weights-only loads also accept mmengine's runtime objects."""
    with torch.serialization.safe_globals(mmengine_runtime_globals()):
        yield


def _looks_like_text(head: bytes) -> bool:
    try:
        text = head.decode('utf-8')
    except UnicodeDecodeError:
        return False
    return all(c.isprintable() or c.isspace() for c in text)


def unreadable_reason(path: str) -> Optional[str]:
    """Why ``path`` cannot be a torch checkpoint (None if it may be one).

    Reads only the first bytes and the zip directory; nothing is unpickled.
    """
    size = os.path.getsize(path)
    if size == 0:
        return 'is empty (0 bytes): a save or copy that never finished'
    with open(path, 'rb') as f:
        head = f.read(512)
    if head.startswith(b'PK\x03\x04'):
        if not zipfile.is_zipfile(path):
            return (f'is truncated or damaged ({size} bytes, the end of its zip archive is '
                    'missing): a save or copy that was interrupted')
        return None
    if head.startswith(b'\x80'):
        return ('is in the legacy (pre-1.6) torch format, which cannot be checked without '
                'unpickling: re-save the state dict with a recent torch')
    if _looks_like_text(head):
        return f'is a text file, not a checkpoint (it starts with {head[:40]!r})'
    return 'is not a PyTorch checkpoint (unknown binary format)'


def _pickled_globals(path: str) -> List[str]:
    try:
        return sorted(torch.serialization.get_unsafe_globals_in_checkpoint(path))
    except Exception:  # noqa: BLE001  a damaged archive: reported by the caller
        return []


def refused_reason(path: str) -> str:
    """Why weights-only loading refuses ``path``, and what to do."""
    found = _pickled_globals(path)
    if any(name.startswith(REFERENCE_MODULES) for name in found):
        return CONVERTER_HINT
    listed = ', '.join(found[:5]) + (', ...' if len(found) > 5 else '')
    return (f'it pickles Python objects besides weights ({listed or "unknown objects"}), '
            'so it is not loaded: loading could run code. Save the state dict alone, '
            'e.g. torch.save({"state_dict": model.state_dict()}, path)')


def check_checkpoint_file(path: str) -> None:
    """Raise a one-line error if ``path`` is missing or cannot be a checkpoint."""
    if not os.path.isfile(path):
        raise CheckpointNotFoundError(f'Checkpoint {path} does not exist.')
    reason = unreadable_reason(path)
    if reason:
        raise CheckpointFormatError(f'Checkpoint {path} {reason}.')


@contextlib.contextmanager
def clear_load_errors(path: str) -> Iterator[None]:
    """Turn torch's errors while loading ``path`` into one :class:`CheckpointFormatError`."""
    try:
        yield
    except pickle.UnpicklingError:
        raise CheckpointFormatError(f'Checkpoint {path}: {refused_reason(path)}.') from None
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile) as err:
        if isinstance(err, RuntimeError) and 'PytorchStreamReader' not in str(err) \
                and 'zip' not in str(err).lower():
            raise
        raise CheckpointFormatError(f'Checkpoint {path} is damaged and cannot be read '
                                    f'({str(err).splitlines()[0]}); use another '
                                    'checkpoint.') from None


def load_checkpoint_file(path: str, map_location='cpu') -> dict:
    """``torch.load`` of a checkpoint, weights-only, with clear errors."""
    check_checkpoint_file(path)
    with clear_load_errors(path), weights_only_loading():
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(checkpoint, dict):
        raise CheckpointFormatError(f'Checkpoint {path} holds a {type(checkpoint).__name__}, '
                                    'not a dict of weights.')
    return checkpoint


"""Load checkpoints weights-only, with one clear error for every file that cannot be loaded.

Every checkpoint maple_mm reads goes through :func:`load_checkpoint_file`, which
loads with maple_mm's one restricted unpickler
(:mod:`maple_mm.checkpoints.restricted_unpickler`, which the reference
checkpoint converter uses too): ``torch.load(weights_only=True)``, passed
explicitly so that torch's ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` switch cannot
turn it off, never runs pickled code; it also accepts the plain data objects
mmengine's runtime stores in checkpoints (``HistoryBuffer`` logs holding NumPy
arrays and scalars), so checkpoints written under any mmengine runtime load,
and nothing falls back to unrestricted unpickling. The allow-list is applied
only around maple_mm's own loads, never process-wide.

mmengine's runners and mmpretrain's APIs call ``torch.load`` without
``weights_only``; within :func:`safe_checkpoint_loading` (the tools' runs,
:class:`~maple_mm.engine.MapleRunner`'s loads, ``maple_mm.apis``) mmengine's
checkpoint loader reads local files with :func:`load_checkpoint_file` instead,
whichever runner the config names.

What is loaded is checked before any of it is used: learned weights holding
NaN or Inf, a malformed message hub, or a ``meta.config`` text (which
mmengine's ``resume`` would execute as a Python config) are refused with one
line naming the entry.
"""
import contextlib
import os
import pickle
import zipfile
from typing import Iterator, List, Optional

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

from maple_mm.checkpoints.reference_layout import REFERENCE_MODULES
from maple_mm.checkpoints.restricted_unpickler import (  # noqa: F401  (re-exported)
    allowed_global_names, pickled_globals, restricted_load, weights_only_loading)
from maple_mm.class_names import EXTRA_STATE, check_class_name_bounds, decode_class_names
from maple_mm.errors import (CheckpointFormatError, CheckpointNotFoundError, ClassNameError,
                             NonFiniteStateError, NonFiniteWeightsError)
from maple_mm.file_kinds import MISSING, not_a_file
from maple_mm.finite_values import non_finite_values
from maple_mm.models.classifier import CONVERT_HINT
from maple_mm.provenance import check_writer
from maple_mm.run_layout import latest_complete_checkpoint

CONVERTER_HINT = f'it is a checkpoint of the reference code (Dassl): {CONVERT_HINT} first'


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
        return pickled_globals(path)
    except Exception:  # noqa: BLE001  a damaged archive: reported by the caller
        return []


def refused_reason(path: str) -> str:
    """Why weights-only loading refuses ``path``, and what to do."""
    pickled = _pickled_globals(path)
    found = [name for name in pickled if name not in allowed_global_names()] or pickled
    if any(name.startswith(REFERENCE_MODULES) for name in found):
        return CONVERTER_HINT
    listed = ', '.join(found[:5]) + (', ...' if len(found) > 5 else '')
    return (f'it pickles Python objects besides weights ({listed or "unknown objects"}), '
            'so it is not loaded: loading could run code. Save the state dict alone, '
            'e.g. torch.save({"state_dict": model.state_dict()}, path)')


def archive_problem(path: str) -> Optional[str]:
    """What is wrong with the zip archive of a checkpoint, None if nothing is: it lacks the
    ``data.pkl`` record every torch checkpoint has, or a record fails its CRC check."""
    try:
        with zipfile.ZipFile(path) as archive:
            if not any(name.rsplit('/', 1)[-1] == 'data.pkl' for name in archive.namelist()):
                return 'is a zip archive but not a PyTorch checkpoint (it holds no data.pkl)'
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        return f'is damaged and cannot be read ({err})'
    if bad is not None:
        return f'is damaged and cannot be read (its record {bad} fails its CRC check)'
    return None


def check_checkpoint_file(path: str, role: str = '') -> None:
    """Raise a one-line error if ``path`` is missing or cannot be a checkpoint (a folder,
    FIFO or device says what it is); ``role`` follows the path, e.g. ' to resume from'.

    torch does not check the CRCs of a checkpoint's records: a damaged record would load
    as wrong weights, so every record is checked first (:func:`archive_problem`).
    """
    problem = not_a_file(path)
    if problem == MISSING:
        raise CheckpointNotFoundError(f'Checkpoint {path}{role} does not exist.')
    if problem == 'is a folder':
        latest = latest_complete_checkpoint(path)[0]
        inside = f'; its newest complete checkpoint is {latest}' if latest else ''
        raise CheckpointFormatError(f'Checkpoint {path}{role} is a folder, not a checkpoint '
                                    f'file{inside}: give the .pth file.')
    if problem:
        raise CheckpointFormatError(f'Checkpoint {path}{role} {problem}, not a checkpoint '
                                    'file: give a .pth file.')
    reason = unreadable_reason(path) or archive_problem(path)
    if reason:
        raise CheckpointFormatError(f'Checkpoint {path} {reason}.')


@contextlib.contextmanager
def clear_load_errors(path: str) -> Iterator[None]:
    """Turn torch's errors while loading ``path`` into one :class:`CheckpointFormatError`.

    torch's own message for a refused pickle advises loading with
    ``weights_only=False``; that advice is never passed on. A ``RuntimeError`` is
    the file's fault only if its archive is damaged (:func:`archive_problem`);
    any other is raised as it is.
    """
    try:
        yield
    except pickle.UnpicklingError:
        raise CheckpointFormatError(f'Checkpoint {path}: {refused_reason(path)}.') from None
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile) as err:
        problem = archive_problem(path)
        if problem is None and isinstance(err, RuntimeError):
            raise
        problem = problem or f'is damaged and cannot be read ({type(err).__name__})'
        raise CheckpointFormatError(f'Checkpoint {path} {problem}; use another '
                                    'checkpoint.') from None


def state_dict_of(checkpoint: dict) -> dict:
    """The weights of a checkpoint: its ``state_dict``, or the dict itself (a bare one)."""
    state = checkpoint.get('state_dict', checkpoint)
    return state if isinstance(state, dict) else {}


def non_finite_entries(state_dict: dict) -> List[str]:
    """Names of the floating-point tensors holding NaN or Inf, with how many values."""
    found = []
    for name, value in state_dict.items():
        if torch.is_tensor(value) and value.is_floating_point():
            bad = int((~torch.isfinite(value)).sum())
            if bad:
                found.append(f'{name} ({bad} of {value.numel()} values)')
    return found


def _buffer_problem(buffer) -> Optional[str]:
    """What is wrong with one logged-scalar history, as mmengine's LoggerHook would meet it."""
    from ..hooks.weights_only_checkpoint_hook import BUFFER_TAG
    if isinstance(buffer, HistoryBuffer):
        fields = vars(buffer)
        arrays = (fields.get('_log_history'), fields.get('_count_history'))
        max_length = fields.get('max_length')
    elif isinstance(buffer, dict) and buffer.get(BUFFER_TAG):
        try:
            arrays = tuple(v.numpy() if torch.is_tensor(v) else v
                           for v in (buffer.get('logs'), buffer.get('counts')))
        except (TypeError, RuntimeError):  # e.g. a bfloat16 or sparse tensor
            arrays = (None, None)
        max_length = buffer.get('max_length')
    else:
        return f'is a {type(buffer).__name__}, not a logged history'
    if not all(
            isinstance(a, np.ndarray) and a.ndim == 1 and a.dtype.kind in 'biuf'
            for a in arrays) or len(arrays[0]) != len(arrays[1]):
        return 'holds no pair of equally long number arrays'
    if not isinstance(max_length, int) or isinstance(max_length, bool) or max_length < 1:
        return f'has a max_length of {max_length!r}'
    return None


def message_hub_problem(hub) -> Optional[str]:
    """Why a checkpoint's ``message_hub`` cannot be the state of mmengine's MessageHub."""
    if not isinstance(hub, dict):
        return f'is a {type(hub).__name__}, not a dict'
    for key in ('log_scalars', 'runtime_info', 'resumed_keys'):
        if not isinstance(hub.get(key, {}), dict):
            return f'{key} is a {type(hub[key]).__name__}, not a dict'
    for name, buffer in hub.get('log_scalars', {}).items():
        problem = _buffer_problem(buffer)
        if problem:
            return f'log_scalars[{str(name)[:40]!r}] {problem}'
    steps = hub.get('runtime_info', {}).get('keep_ckpt_ids', [])
    if not isinstance(steps, (list, tuple)) or not all(
            isinstance(s, int) and not isinstance(s, bool) for s in steps):
        return 'runtime_info.keep_ckpt_ids is not a list of checkpoint steps'
    return None


def check_loaded_checkpoint(path: str, checkpoint: dict) -> None:
    """Refuse what must not be used: non-finite weights or training state, malformed or huge
    class names, a malformed message hub, another method's checkpoint
    (:func:`~maple_mm.provenance.check_writer`).

    mmengine's ``resume`` executes ``meta.config`` as a Python config (only
    old mmcv runners wrote it; mmengine saves ``meta.cfg``): it is dropped.
    """
    state = state_dict_of(checkpoint)
    if EXTRA_STATE in state:
        decode_class_names(state[EXTRA_STATE], f'Checkpoint {path}: its class names '
                           f'({EXTRA_STATE})')
    meta = checkpoint.get('meta')
    dataset_meta = meta.get('dataset_meta') if isinstance(meta, dict) else None
    if isinstance(dataset_meta, dict) and dataset_meta.get('classes') is not None:
        classes = dataset_meta['classes']
        if not isinstance(classes, (list, tuple)):
            raise ClassNameError(f'Checkpoint {path}: its meta.dataset_meta.classes is a '
                                 f'{type(classes).__name__}, not a list of class names; use '
                                 'another checkpoint.')
        check_class_name_bounds(classes, f'Checkpoint {path}: its meta.dataset_meta.classes')
    bad = non_finite_entries(state)
    if bad:
        raise NonFiniteWeightsError(
            f'Checkpoint {path}: {bad[0]} holds NaN or Inf values' +
            (f' (and {len(bad) - 1} more tensors)' if len(bad) > 1 else '') +
            ', so every prediction would be meaningless. Use an earlier checkpoint of the '
            'run, or train again with a lower learning rate.')
    if 'message_hub' in checkpoint:
        problem = message_hub_problem(checkpoint['message_hub'])
        if problem:
            raise CheckpointFormatError(f'Checkpoint {path}: its message_hub {problem}; the '
                                        'file is damaged or was not written by mmengine. Use '
                                        'another checkpoint.')
    bad = non_finite_values(checkpoint)  # optimizer moments, lr, hook states, logs
    if bad:
        raise NonFiniteStateError(
            f'Checkpoint {path}: {bad[0]} holds NaN or Inf values' +
            (f' (and {len(bad) - 1} more entries)' if len(bad) > 1 else '') +
            ', so the run continuing from it would break: the file is damaged, or was saved '
            'after its run went wrong. Use an earlier checkpoint of the run, or train from '
            'the start.')
    check_writer(path, checkpoint)  # the method and CLIP that wrote it
    if isinstance(meta, dict):
        meta.pop('config', None)


def load_checkpoint_file(path: str, map_location='cpu') -> dict:
    """``torch.load`` of a checkpoint, weights-only whatever the environment, with clear errors."""
    path = os.path.expanduser(path)
    check_checkpoint_file(path)
    with clear_load_errors(path):
        checkpoint = restricted_load(path, map_location=map_location)
    if not isinstance(checkpoint, dict):
        raise CheckpointFormatError(f'Checkpoint {path} holds a {type(checkpoint).__name__}, '
                                    'not a dict of weights.')
    check_loaded_checkpoint(path, checkpoint)
    return checkpoint


_URL_PREFIXES = ('http://', 'https://')


def load_from_local_weights_only(filename: str, map_location=None) -> dict:
    """mmengine's local-file loader, as :func:`load_checkpoint_file` (mmengine logs
    "Loads checkpoint by local_weights_only backend")."""
    return load_checkpoint_file(filename, map_location)


def load_from_url_weights_only(url: str, map_location=None) -> dict:
    """Download into torch's hub cache (once), then load the file like any other."""
    from urllib.parse import urlparse
    folder = os.path.join(torch.hub.get_dir(), 'checkpoints')
    os.makedirs(folder, exist_ok=True)
    cached = os.path.join(folder, os.path.basename(urlparse(url).path) or 'checkpoint.pth')
    if not os.path.isfile(cached):
        torch.hub.download_url_to_file(url, cached, progress=False)
    return load_checkpoint_file(cached, map_location)


def refuse_other_schemes(filename: str, map_location=None):
    """mmengine's loaders of other schemes (``open-mmlab://``, ``s3://``, ...) are not used."""
    raise CheckpointFormatError(
        f'Checkpoint {filename} is neither a local file nor an http(s) URL, and mmengine would '
        'load it without weights_only: download it and pass its local path.')


@contextlib.contextmanager
def safe_checkpoint_loading() -> Iterator[None]:
    """Within the block, mmengine's checkpoint loader reads through :func:`load_checkpoint_file`.

    Covers every load of mmengine's runners (``load_from``, ``resume``) and of
    mmpretrain's APIs (``get_model``, inferencers), whatever the runner class:
    local files and http(s) URLs load weights-only with maple_mm's checks;
    other schemes (``open-mmlab://``, ``s3://``, ...) are refused. mmengine's
    own loaders are restored when the block ends.
    """
    from mmengine.runner.checkpoint import CheckpointLoader
    schemes = getattr(CheckpointLoader, '_schemes', None)
    if not isinstance(schemes, dict) or '' not in schemes:  # tested: test_checkpoint_loader
        raise RuntimeError('mmengine.runner.CheckpointLoader no longer keeps its loaders in '
                           '_schemes; maple_mm cannot make its loads weights-only. Use the '
                           'mmengine versions of requirements.txt.')
    saved = dict(schemes)
    try:
        for prefix in saved:
            schemes[prefix] = (
                load_from_local_weights_only if prefix == '' else
                load_from_url_weights_only if prefix in _URL_PREFIXES else refuse_other_schemes)
        yield
    finally:
        schemes.clear()
        schemes.update(saved)

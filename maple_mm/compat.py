"""Work-arounds the pinned mm* releases need on current torch. Applied once, on import.

- torch >= 2.6 loads with ``weights_only=True`` by default and mmengine 0.10.7
  calls ``torch.load`` without saying which. We register mmengine's local-file
  checkpoint loader again with ``weights_only=True`` spelt out, so loading a
  checkpoint (``load_from``, ``--resume``, ``tools/test.py``) never unpickles code
  whatever the torch default.
- mmengine 0.10.7 puts ``HistoryBuffer`` objects and NumPy values in its
  checkpoints, which weights-only loading refuses: :func:`to_plain` and
  :func:`from_plain` turn them into tensors and plain types and back (used by
  :class:`maple_mm.engine.WeightsOnlyCheckpointHook`).
- mmcv-lite has no compiled ops and mmcv warns about it on every import; MaPLe
  needs none of them, so that one warning is silenced.
- On a machine without CUDA (or another accelerator mmengine knows), mmengine's
  distributed launch cannot run: its launchers call ``torch.cuda.set_device``,
  the default backend is ``nccl``, and its DDP wrapper passes
  ``device_ids=[LOCAL_RANK]``, which DDP refuses for a CPU model. Only on such
  machines, :func:`patch_mmengine_for_cpu_distributed` makes the Runner start
  processes with ``gloo`` and wrap CPU models without ``device_ids``, so
  ``--launcher pytorch|slurm|mpi`` runs (and is tested) on CPUs. With a GPU
  nothing is changed.
"""
import contextlib
import functools
import logging
import os.path as osp
import warnings
from typing import Any, Iterator

import numpy as np
import torch
from mmengine.device import get_device
from mmengine.logging import HistoryBuffer, print_log
from mmengine.model import MMDistributedDataParallel
from mmengine.runner import runner as runner_module
from mmengine.runner.checkpoint import CheckpointLoader

from maple_mm.errors import CheckpointFormatError, CheckpointNotFoundError

_applied = False


def load_from_local_weights_only(filename: str, map_location=None) -> dict:
    """mmengine loader for local files: tensors and plain containers only."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise CheckpointNotFoundError(f'Checkpoint {filename} does not exist.')
    try:
        return torch.load(filename, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises UnpicklingError or RuntimeError
        if 'weights_only' not in str(err) and 'Weights only' not in str(err):
            raise
        raise CheckpointFormatError(
            f'{filename} holds pickled Python objects besides weights, so it is not loaded '
            '(loading could run code). maple_mm checkpoints load weights-only; a checkpoint '
            'of the reference MaPLe code must first be converted with '
            'tools/model_converters/maple_official_to_mm.py.') from None


_BUFFER_TAG = '__history_buffer__'


def to_plain(value: Any) -> Any:
    """Recursively turn HistoryBuffers and NumPy values into tensors and plain types."""
    if isinstance(value, HistoryBuffer):
        logs, counts = value.data
        return {_BUFFER_TAG: True, 'logs': torch.from_numpy(np.asarray(logs, dtype=np.float64)),
                'counts': torch.from_numpy(np.asarray(counts, dtype=np.float64)),
                'max_length': int(value.max_length)}
    if isinstance(value, dict):
        return type(value)((k, to_plain(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return type(value)(to_plain(v) for v in value)
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value.copy())
    if isinstance(value, np.generic):
        return value.item()
    return value


def from_plain(value: Any) -> Any:
    """Inverse of :func:`to_plain` for the message hub's HistoryBuffers."""
    if isinstance(value, dict):
        if value.get(_BUFFER_TAG):
            return HistoryBuffer(value['logs'].numpy(), value['counts'].numpy(),
                                 value['max_length'])
        return type(value)((k, from_plain(v)) for k, v in value.items())
    return value


@contextlib.contextmanager
def _cuda_device_selection_disabled() -> Iterator[None]:
    """Let ``torch.cuda.set_device`` do nothing while mmengine starts a CPU process."""
    set_device = torch.cuda.set_device
    torch.cuda.set_device = lambda device: None
    try:
        yield
    finally:
        torch.cuda.set_device = set_device


def _init_dist_without_cuda(init_dist):
    """mmengine's ``init_dist`` for CPU processes: gloo instead of nccl, no CUDA device."""

    @functools.wraps(init_dist)
    def init_dist_on_cpu(launcher: str, backend: str = 'nccl', **kwargs) -> None:
        if backend == 'nccl':  # nccl needs GPUs; gloo is torch's CPU backend
            print_log('No CUDA device: distributed processes use the gloo backend instead '
                      'of nccl.', logger='current', level=logging.WARNING)
            backend = 'gloo'
        with _cuda_device_selection_disabled():
            init_dist(launcher, backend=backend, **kwargs)

    return init_dist_on_cpu


def _ddp_init_without_cpu_device_ids(ddp_init):
    """DDP ``__init__`` that drops ``device_ids`` for a model whose weights are on the CPU."""

    @functools.wraps(ddp_init)
    def __init__(self, module: torch.nn.Module, *args, **kwargs) -> None:
        if kwargs.get('device_ids') and all(p.device.type == 'cpu' for p in module.parameters()):
            kwargs['device_ids'] = None  # what DDP requires for CPU modules
        ddp_init(self, module, *args, **kwargs)

    return __init__


def patch_mmengine_for_cpu_distributed() -> bool:
    """Make mmengine's distributed launch work without an accelerator.

    Does nothing (and returns False) when mmengine would train on a GPU or
    another accelerator, or when already applied.
    """
    if get_device() != 'cpu' or hasattr(runner_module.init_dist, '__wrapped__'):
        return False
    runner_module.init_dist = _init_dist_without_cuda(runner_module.init_dist)
    MMDistributedDataParallel.__init__ = _ddp_init_without_cpu_device_ids(
        MMDistributedDataParallel.__init__)
    return True


def apply() -> None:
    """Apply every work-around once."""
    global _applied
    if _applied:
        return
    warnings.filterwarnings('ignore', message='Fail to import ``MultiScaleDeformableAttention``')
    CheckpointLoader.register_scheme(prefixes='', force=True)(load_from_local_weights_only)
    patch_mmengine_for_cpu_distributed()
    _applied = True

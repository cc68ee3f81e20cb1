"""The one restricted unpickler behind every checkpoint maple_mm reads.

:func:`restricted_load` is ``torch.load(weights_only=True)``, passed explicitly
so that torch's ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` switch cannot turn it off:
it never runs pickled code. On top of tensors and plain containers it accepts
exactly two things:

- the plain data objects mmengine's runtime stores in checkpoints
  (``HistoryBuffer`` logs holding NumPy arrays and scalars,
  :func:`mmengine_runtime_globals`), so checkpoints written under any mmengine
  runtime load;
- where the caller names them, pickled globals replaced by inert stubs
  (:class:`InertStub`) that only hold the state they are given: reference
  (Dassl) checkpoints pickle their optimizer and scheduler objects, which the
  checkpoint converter reads this way without Dassl installed.

The allow-list applies only around these loads, never process-wide. The
checkpoint loader (:mod:`maple_mm.engine.runners.checkpoint_loader`) and the
reference converter (:mod:`maple_mm.checkpoints.reference_converter`) both load
through here.
"""
import contextlib
import os
import pickle
from typing import Iterator, List, Sequence

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

from maple_mm.errors import ConfigError


def _history_buffer_method(owner, name: str):
    """``getattr`` as pickled for ``HistoryBuffer``'s statistics methods, and nothing else."""
    if owner is HistoryBuffer and name in ('min', 'max', 'current', 'mean'):
        return getattr(owner, name)
    raise pickle.UnpicklingError(f'getattr({owner!r}, {name!r}) is not allowed')


def mmengine_runtime_globals() -> list:
    """What mmengine's runtime pickles besides tensors: HistoryBuffer and NumPy values."""
    return [
        HistoryBuffer,
        np.ndarray,
        np.dtype,
        np.zeros(1).__reduce__()[0],  # numpy's array reconstructor
        np.float64(0).__reduce__()[0],  # numpy's scalar constructor
        *{type(np.dtype(t))
          for t in ('float64', 'float32', 'int64', 'int32', 'bool')},
        (_history_buffer_method, 'builtins.getattr'),
    ]


def allowed_global_names() -> set:
    """The dotted names of :func:`mmengine_runtime_globals` (what loads without a stub)."""
    names = set()
    for entry in mmengine_runtime_globals():
        if isinstance(entry, tuple):
            names.add(entry[1])
        else:
            names.add(f'{entry.__module__}.{entry.__qualname__}')
    return names


@contextlib.contextmanager
def weights_only_loading() -> Iterator[None]:
    """Within the block, weights-only loads also accept mmengine's runtime objects."""
    with torch.serialization.safe_globals(mmengine_runtime_globals()):
        yield


# -- inert stand-ins for pickled objects -----------------------------------------------
class InertStub:
    """Stands in for a class or function pickled in a checkpoint.

    It runs nothing: it accepts any constructor arguments and any pickled state
    and only keeps them (``args``, ``kwargs``, ``state``) so they can be looked
    at. ``stub_for`` is the dotted name it replaces.
    """
    stub_for = '?'

    def __new__(cls, *args, **kwargs):
        return object.__new__(cls)

    def __init__(self, *args, **kwargs) -> None:
        self.__dict__['args'] = args
        self.__dict__['kwargs'] = kwargs

    def __setstate__(self, state) -> None:
        self.__dict__['state'] = state

    def __repr__(self) -> str:
        return f'<inert stub for {self.stub_for}>'


def _plain_dict(*args, **kwargs) -> dict:
    """Stand-in for ``collections.defaultdict`` / ``dict`` pickled by REDUCE.

    The weights-only unpickler only sets items on plain dicts, and a Dassl
    optimizer pickles its ``state`` as a ``defaultdict(dict)``. The arguments
    (the default factory) are ignored: nothing of them is needed.
    """
    return {}


def _plain_list(*args, **kwargs) -> list:
    """Stand-in for ``list`` pickled by REDUCE (items come by APPENDS)."""
    return []


_CONTAINER_STANDINS = {
    'collections.defaultdict': _plain_dict,
    'builtins.dict': _plain_dict,
    'builtins.list': _plain_list,
}


def make_stub(name: str):
    """An inert stand-in allow-listed under the pickled global ``name``."""
    if name in _CONTAINER_STANDINS:
        return _CONTAINER_STANDINS[name]
    short = name.rsplit('.', 1)[-1]
    return type(f'InertStub_{short}', (InertStub, ), {'stub_for': name, '__module__': __name__})


# -- loading -----------------------------------------------------------------------------
_TRUE = ('1', 'y', 'yes', 'true')  # what torch reads as set


def check_torch_switches() -> None:
    """torch refuses every load when both of its weights-only switches are set."""
    if all(
            os.environ.get(name, '0').lower() in _TRUE
            for name in ('TORCH_FORCE_WEIGHTS_ONLY_LOAD', 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD')):
        raise ConfigError('TORCH_FORCE_WEIGHTS_ONLY_LOAD and TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD '
                          'are both set, and torch then loads nothing: unset '
                          'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD (maple_mm loads weights-only '
                          'either way).')


def pickled_globals(path: str) -> List[str]:
    """The globals a zip-format checkpoint pickles, read without unpickling anything.

    Raises what torch raises for a file whose globals cannot be listed (a
    legacy or damaged file).
    """
    return sorted(torch.serialization.get_unsafe_globals_in_checkpoint(path))


def restricted_load(path: str, map_location='cpu', stubbed: Sequence[str] = ()):
    """Load ``path`` weights-only: tensors, containers, mmengine's runtime objects and,
    under the names in ``stubbed``, inert stubs; anything else is refused
    (``pickle.UnpicklingError``). Nothing pickled is ever executed."""
    check_torch_switches()
    stubs = [(make_stub(name), name) for name in stubbed]
    with weights_only_loading(), torch.serialization.safe_globals(stubs):
        return torch.load(path, map_location=map_location, weights_only=True)

"""Work-arounds the pinned mm* releases need on current torch. Applied once, on import.

- torch >= 2.6 loads with ``weights_only=True`` by default and mmengine 0.10.7
  calls ``torch.load`` without saying which. We register mmengine's local-file
  checkpoint loader again with ``weights_only=True`` spelt out, so loading a
  checkpoint (``load_from``, ``--resume``, ``tools/test.py``) never unpickles code
  whatever the torch default. Our checkpoints are written to load that way (see
  :mod:`maple_mm.engine.weights_only_checkpoint_hook`).
- mmcv-lite has no compiled ops and mmcv warns about it on every import; MaPLe
  needs none of them, so that one warning is silenced.
"""
import os.path as osp
import warnings

import torch
from mmengine.runner.checkpoint import CheckpointLoader

from maple_mm.errors import CheckpointFormatError

_applied = False


def load_local_weights_only(filename: str, map_location=None) -> dict:
    """mmengine loader for local files: tensors and plain containers only."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'Checkpoint {filename} does not exist.')
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


def apply() -> None:
    """Apply every work-around once."""
    global _applied
    if _applied:
        return
    warnings.filterwarnings('ignore', message='Fail to import ``MultiScaleDeformableAttention``')
    CheckpointLoader.register_scheme(prefixes='', force=True)(load_local_weights_only)
    _applied = True

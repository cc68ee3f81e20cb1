"""Write mmengine checkpoints that load with plain ``torch.load(weights_only=True)``."""
from typing import Any

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.logging import HistoryBuffer
from mmpretrain.registry import HOOKS

BUFFER_TAG = '__history_buffer__'


def to_plain(value: Any) -> Any:
    """Recursively turn HistoryBuffers and NumPy values into tensors and plain types."""
    if isinstance(value, HistoryBuffer):
        logs, counts = value.data
        return {
            BUFFER_TAG: True,
            'logs': torch.from_numpy(np.asarray(logs, dtype=np.float64)),
            'counts': torch.from_numpy(np.asarray(counts, dtype=np.float64)),
            'max_length': int(value.max_length)
        }
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
        if value.get(BUFFER_TAG):
            return HistoryBuffer(value['logs'].numpy(), value['counts'].numpy(),
                                 value['max_length'])
        return type(value)((k, from_plain(v)) for k, v in value.items())
    return value


@HOOKS.register_module()
class WeightsOnlyCheckpointHook(Hook):
    """Make checkpoints loadable by any weights-only loader; drop the optimizer at the end.

    mmengine stores its message hub as ``HistoryBuffer`` objects holding NumPy
    arrays, which plain weights-only loading refuses. They are saved as
    tensors and plain types and rebuilt on loading, so the files also load with
    ``torch.load(path, weights_only=True)`` outside maple_mm (maple_mm's own
    loader accepts mmengine's objects either way).

    The checkpoint of the last epoch keeps no optimizer state (SGD momentum
    doubles the file and nothing is left to resume), so a finished ViT-B/16
    MaPLe run leaves a ~14 MB file holding just the prompts.
    """

    priority = 'VERY_LOW'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        for key in ('meta', 'message_hub', 'param_schedulers'):
            if key in checkpoint:
                checkpoint[key] = to_plain(checkpoint[key])
        if checkpoint.get('meta', {}).get('epoch', 0) >= runner.max_epochs:
            checkpoint.pop('optimizer', None)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if 'message_hub' in checkpoint:
            checkpoint['message_hub'] = from_plain(checkpoint['message_hub'])

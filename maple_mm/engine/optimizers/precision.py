"""Names of the training precisions, the autocast region each one runs in, and which one
a run uses on its device."""
import contextlib
from typing import ContextManager, Mapping, Optional, Union

import torch

from maple_mm.errors import ConfigError
from .precision_names import PRECISION_CHOICES

#: Precision name -> autocast dtype (None: plain fp32, no autocast).
PRECISIONS = {'fp32': None, 'bf16': torch.bfloat16, 'fp16': torch.float16}


def autocast_dtype(precision: Optional[str]) -> Optional[torch.dtype]:
    """The autocast dtype of ``precision`` ('fp32', 'bf16', 'fp16' or None)."""
    if precision is None:
        return None
    if precision not in PRECISIONS:
        raise ValueError(f'precision must be one of {sorted(PRECISIONS)}, got {precision!r}')
    return PRECISIONS[precision]


def precision_context(precision: Optional[str], device_type: str) -> ContextManager:
    """Autocast to ``precision`` on ``device_type`` (no-op for fp32 / None)."""
    dtype = autocast_dtype(precision)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device_type, dtype=dtype)


def default_amp_precision(device_type: str) -> str:
    """bf16 where the device has it (CPU, Ampere and newer GPUs), else fp16."""
    if device_type == 'cuda' and not torch.cuda.is_bf16_supported(including_emulation=False):
        return 'fp16'
    return 'bf16'


def current_device_type() -> str:
    """'cuda' where a CUDA device is available, else 'cpu'."""
    return 'cuda' if torch.cuda.is_available() else 'cpu'


def run_precision(setting: Union[None, str, Mapping[str, str]], device_type: str) -> str:
    """The precision a run uses on ``device_type``: 'fp32', 'fp16' or 'bf16'.

    ``setting`` is a config's ``precision``: one value for every device (what
    ``--precision`` sets), or a table by device type (the recipes':
    ``dict(cuda='fp16', cpu='fp32')``), where a device it does not name runs fp32.
    """
    value = setting.get(device_type, 'fp32') if isinstance(setting, Mapping) \
        else (setting or 'fp32')
    if value not in PRECISION_CHOICES:
        raise ConfigError(f'precision must be one of {", ".join(PRECISION_CHOICES)} (or a '
                          f'dict of them by device type), got {value!r}.')
    return default_amp_precision(device_type) if value == 'amp' else value


def describe_precision(precision: str) -> str:
    """How a run of ``precision`` computes, for the log."""
    return {
        'fp32': 'fp32',
        'fp16': 'fp16 mixed precision (autocast, dynamic loss scaling, fp32 prompts)',
        'bf16': 'bf16 mixed precision (autocast, fp32 prompts)'
    }[precision]

"""Names of the training precisions and the autocast region each one runs in."""
import contextlib
from typing import ContextManager, Optional

import torch

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

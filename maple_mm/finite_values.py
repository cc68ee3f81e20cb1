"""Find NaN and Inf anywhere in a checkpoint: weights, optimizer moments, learning rates,
schedules, hook states (e.g. PromptSRC's GPA sum) and the logged scalars.

The walk is iterative (a crafted file cannot exhaust the stack) and names each
entry by its path, e.g. ``optimizer.state.0.momentum_buffer`` or
``message_hub.log_scalars['train/lr'].logs``. Logged losses and gradient norms
are left out: an fp16 run logs the overflowing steps its loss scaler skipped,
and nothing reads those logs back into the training.
"""
import math
from typing import Iterator, List, Sequence, Tuple

import numpy as np
import torch

#: Logged scalars whose history may hold NaN or Inf in a healthy run (fp16 loss scaling).
UNCHECKED_LOGS = ('loss', 'grad_norm')


def _name(parts: Sequence) -> str:
    name = ''
    for part in parts:
        if isinstance(part, int) or isinstance(part, str) and not set('/ []') & set(part):
            name += f'.{part}' if name else str(part)
        else:
            name += f'[{part!r}]'
    return name


def _is_logged_loss(parts: Sequence) -> bool:
    return (len(parts) >= 3 and parts[0] == 'message_hub' and parts[1] == 'log_scalars'
            and any(word in str(parts[2]) for word in UNCHECKED_LOGS))


def _children(value) -> Iterator[Tuple[object, object]]:
    if isinstance(value, dict):
        yield from value.items()
    elif isinstance(value, (list, tuple)):
        yield from enumerate(value)
    elif hasattr(value, '__dict__') and not isinstance(value, type):
        yield from vars(value).items()  # e.g. mmengine's HistoryBuffer


def _bad_count(value) -> Tuple[int, int]:
    """(non-finite values, values) of a number or array; (0, 0) for anything else."""
    if torch.is_tensor(value):
        if value.is_floating_point() or value.is_complex():
            return int((~torch.isfinite(value)).sum()), value.numel()
        return 0, 0
    if isinstance(value, np.ndarray) and value.dtype.kind in 'fc':
        return int((~np.isfinite(value)).sum()), int(value.size)
    if isinstance(value, (float, np.floating)):
        return (0 if math.isfinite(float(value)) else 1), 1
    return 0, 0


def non_finite_values(checkpoint: dict, skip: Sequence[str] = ('state_dict', )) -> List[str]:
    """``['optimizer.state.0.momentum_buffer (3 of 64 values)', ...]``: every entry of
    ``checkpoint`` (but the top-level ``skip`` keys) holding NaN or Inf."""
    found, seen = [], set()
    stack = [((key, ), value) for key, value in reversed(list(checkpoint.items()))
             if key not in skip]
    while stack:
        parts, value = stack.pop()
        if _is_logged_loss(parts) or id(value) in seen:
            continue
        bad, total = _bad_count(value)
        if bad:
            found.append(f'{_name(parts)} ({bad} of {total} values)' if total >
                         1 else f'{_name(parts)} ({value})')
        elif not total and not isinstance(value, (str, bytes, int, bool, type(None))):
            seen.add(id(value))  # a crafted file can hold a list that contains itself
            stack.extend(((*parts, key), child) for key, child in reversed(list(_children(value))))
    return found

"""Text features kept between evaluation batches until what they depend on changes (exact)."""
from typing import Callable, Hashable, Optional, Tuple

import torch
from torch import nn


def tensor_state(module: nn.Module) -> Tuple:
    """A key that changes whenever a parameter or buffer of ``module`` may have.

    In-place updates (optimizer steps, ``load_state_dict``, ``copy_``) bump a
    tensor's version counter; replacing or moving a tensor changes its storage.
    """
    return tuple((t.data_ptr(), t._version, t.dtype, t.device)
                 for t in (*module.parameters(), *module.buffers()))


def autocast_state(device_type: str) -> Tuple:
    """Features computed under autocast differ from fp32 ones."""
    if not torch.is_autocast_enabled(device_type):
        return (device_type, None)
    return (device_type, torch.get_autocast_dtype(device_type))


class TextFeatureCache:
    """One cached value with the key it was computed for."""

    def __init__(self) -> None:
        self._key: Optional[Hashable] = None
        self._value: Optional[torch.Tensor] = None

    def get(self, key: Hashable, compute: Callable[[], torch.Tensor]) -> torch.Tensor:
        """The cached value if ``key`` is unchanged, else ``compute()`` (then cached)."""
        if self._value is None or self._key != key:
            self.clear()  # free the old features before computing new ones
            self._value, self._key = compute(), key
        return self._value

    def clear(self) -> None:
        self._key, self._value = None, None

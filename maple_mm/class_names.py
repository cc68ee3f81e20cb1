"""Class names as checkpoints and files carry them: bounded, validated, one clear error.

A checkpoint saves the class names its prompts were built for (the
``_extra_state`` of :class:`~maple_mm.models.PromptedCLIP`: the UTF-8 bytes of
a JSON list in a uint8 tensor). Names read from a file are bounded in count
and size before anything is decoded or built: a hostile file cannot make a
tool build millions of prompts.
"""
import json
from typing import List, Sequence

import torch

from maple_mm.errors import ClassNameError

#: The state-dict key under which :class:`~maple_mm.models.PromptedCLIP` saves its class names.
EXTRA_STATE = '_extra_state'
#: Far above any benchmark (ImageNet-21k has 21,841 classes), far below what
#: exhausts memory when one prompt is built per name.
MAX_CLASSES = 100_000
MAX_CLASS_NAMES_BYTES = 8 * 2**20


def check_class_name_bounds(names: Sequence, source: str) -> None:
    """Raise if ``names`` are more, or longer in total, than any real class list."""
    if len(names) > MAX_CLASSES:
        raise ClassNameError(f'{source} holds {len(names):,} class names, more than the '
                             f'{MAX_CLASSES:,} prompts maple_mm builds; give the classes to '
                             'classify (a shorter list).')
    size = sum(len(str(name).encode('utf-8', 'replace')) for name in names)
    if size > MAX_CLASS_NAMES_BYTES:
        raise ClassNameError(f'{source} holds {size:,} bytes of class names, more than the '
                             f'{MAX_CLASS_NAMES_BYTES:,} maple_mm reads; give shorter names.')


def encode_class_names(names: Sequence[str]) -> torch.Tensor:
    """The uint8 tensor a checkpoint saves the class names in."""
    return torch.tensor(list(json.dumps(list(names)).encode('utf-8')), dtype=torch.uint8)


def decode_class_names(state,
                       source: str = "The checkpoint's class names (_extra_state)") -> List[str]:
    """The class names saved by :func:`encode_class_names`; [] when none were saved.

    Size is checked before decoding; anything but a JSON list of non-empty
    strings is one :class:`ClassNameError` naming what it is.
    """
    fix = 'the file is damaged or was not written by maple_mm; use another checkpoint.'
    if not torch.is_tensor(state) or state.dtype != torch.uint8 or state.dim() != 1:
        raise ClassNameError(f'{source} are not a 1-D uint8 tensor of text: {fix}')
    if state.numel() > MAX_CLASS_NAMES_BYTES:
        raise ClassNameError(f'{source} take {state.numel():,} bytes, more than the '
                             f'{MAX_CLASS_NAMES_BYTES:,} maple_mm reads: {fix}')
    if state.numel() == 0:
        return []
    try:
        names = json.loads(state.numpy().tobytes().decode('utf-8'))
    except UnicodeDecodeError:
        raise ClassNameError(f'{source} are not UTF-8 text: {fix}') from None
    except json.JSONDecodeError as err:
        raise ClassNameError(f'{source} are not valid JSON ({err.msg} at character '
                             f'{err.pos}): {fix}') from None
    if not isinstance(names, list):
        raise ClassNameError(f'{source} are a JSON {type(names).__name__}, not a list of '
                             f'names: {fix}')
    bad = [n for n in names if not isinstance(n, str) or not n.strip()]
    if bad:
        raise ClassNameError(f'{source} hold entries that are not class names ({len(bad)} of '
                             f'{len(names)}, e.g. {json.dumps(bad[0])[:40]}): {fix}')
    check_class_name_bounds(names, source)
    return names

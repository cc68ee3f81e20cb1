"""Class names as checkpoints and files carry them: bounded, validated, one clear error.

A checkpoint saves the class names its prompts were built for (the
``_extra_state`` of :class:`~maple_mm.models.PromptedCLIP`: the UTF-8 bytes of
a JSON list in a uint8 tensor). Names read from a file are bounded in count
and size before anything is decoded or built: a hostile file cannot make a
tool build millions of prompts.
"""
import json
import unicodedata
import warnings
from typing import List, Optional, Sequence

import torch

from maple_mm.errors import ClassNameError, ClassNameWarning

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


def class_name_problem(name) -> Optional[str]:
    """What makes ``name`` unusable as a class name (empty, a line break or another control
    character: one prompt, one output line per name), or None."""
    if not isinstance(name, str):
        return f'is a {type(name).__name__}, not text'
    if not name.strip():
        return 'is empty'
    bad = next((c for c in name if unicodedata.category(c) in ('Cc', 'Zl', 'Zp')), None)
    if bad is not None:
        what = 'a line break' if bad in '\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029' else \
            'a control character'
        return f'holds {what} ({bad!r})'
    return None


def check_class_names(names: Sequence, source: str) -> None:
    """Raise unless ``names`` are bounded (:func:`check_class_name_bounds`) and each is one
    line of text."""
    check_class_name_bounds(names, source)
    for index, name in enumerate(names):
        problem = class_name_problem(name)
        if problem:
            raise ClassNameError(f'{source}: class name {index + 1} ({str(name)[:40]!r}) '
                                 f'{problem}; each class name is one line of text.')


def check_class_list(names: Sequence[str], source: str) -> List[str]:
    """A class list a user gives for prompts (``--classes``, a classes file, ``classes=``):
    checked by :func:`check_class_names`, and a name given twice warns
    (:class:`ClassNameWarning`), as a split file's shared names do."""
    names = list(names)
    check_class_names(names, source)
    first = {}
    for index, name in enumerate(names):
        if first.setdefault(name, index) != index:
            warnings.warn(
                f'{source} names {name!r} twice (classes {first[name] + 1} and {index + 1}): '
                'their prompts are identical, so each gets part of the probability; give '
                'each class once.', ClassNameWarning)
            break
    return names


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

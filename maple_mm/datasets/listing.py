"""Sorted folder listings and ImageNet's ``classnames.txt``.

The reference lists image files in ``os.listdir`` order, which depends on the
file system; sorting makes the lists, and so the few-shot draws, the same on
every machine.
"""
import os
import os.path as osp
from typing import Dict, List

from maple_mm.errors import DatasetFormatError, DatasetNotFoundError

FIX = 'use the classnames.txt of docs/datasets.md#imagenet'


def list_subfolders(folder: str) -> List[str]:
    """Names of the non-hidden folders in ``folder``, sorted."""
    with os.scandir(folder) as entries:
        return sorted(e.name for e in entries if e.is_dir() and not e.name.startswith('.'))


def list_files(folder: str) -> List[str]:
    """Names of the non-hidden files in ``folder``, sorted."""
    with os.scandir(folder) as entries:
        return sorted(e.name for e in entries if e.is_file() and not e.name.startswith('.'))


def read_classnames(path: str) -> Dict[str, str]:
    """``{wnid: class name}`` in file order from ``wnid name words`` lines.

    A line that is not ``<wnid> <name>``, a wnid listed twice or a file without
    classes raises :class:`DatasetFormatError`.
    """
    if not osp.isfile(path):
        raise DatasetNotFoundError(f'{path} not found.')
    names: Dict[str, str] = {}
    with open(path, encoding='utf-8') as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            wnid, _, name = line.strip().partition(' ')
            if not name.strip():
                raise DatasetFormatError(f'{path} line {number}: {line.strip()!r} is not '
                                         f'"<wnid> <class name>"; {FIX}.')
            if wnid in names:
                raise DatasetFormatError(f'{path} line {number} repeats wnid {wnid}: each class '
                                         f'must be listed once; {FIX}.')
            names[wnid] = name.strip()
    if not names:
        raise DatasetFormatError(f'{path} lists no classes; {FIX}.')
    return names

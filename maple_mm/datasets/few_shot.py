"""Few-shot sampling and base/novel class splits of the CoOp/Dassl protocol.

An item is ``(impath, label, classname)`` (a tuple or a list). The functions
are pure: they never touch the file system or global random state.
"""
import math
import random
from typing import Dict, List, Optional, Sequence, Tuple

from maple_mm.errors import DatasetFormatError

Item = Sequence  # (impath: str, label: int, classname: str)

#: Val gets at most this many shots per class (CoOp convention).
MAX_VAL_SHOTS = 4

SUBSAMPLE_CHOICES = ('all', 'base', 'novel', 'new')


def _group_by_label(items: Sequence[Item]) -> Dict[int, List[Item]]:
    """Items per label; labels keep the order of their first appearance."""
    groups: Dict[int, List[Item]] = {}
    for item in items:
        groups.setdefault(item[1], []).append(item)
    return groups


def _sample_per_label(items: Sequence[Item], num_shots: int, rng: random.Random) -> List[Item]:
    selected: List[Item] = []
    for group in _group_by_label(items).values():
        if len(group) >= num_shots:
            selected.extend(rng.sample(group, num_shots))
        else:
            selected.extend(group)
    return selected


def sample_few_shot(train_items: Sequence[Item], val_items: Sequence[Item],
                    num_shots: Optional[int], seed: int) -> Tuple[Sequence[Item], Sequence[Item]]:
    """K shots per class of train and min(K, 4) of val, as the reference draws them.

    One ``random.Random(seed)`` (the same stream as ``random.seed(seed)``
    followed by module-level ``random.sample``) draws train first, then val.
    ``num_shots`` None or < 1 means all items: the inputs come back unchanged.
    """
    if num_shots is None or num_shots < 1:
        return train_items, val_items
    rng = random.Random(seed)
    train_sel = _sample_per_label(train_items, num_shots, rng)
    val_sel = _sample_per_label(val_items, min(num_shots, MAX_VAL_SHOTS), rng)
    return train_sel, val_sel


def subsample_classes(train: Sequence[Item],
                      *others: Sequence[Item],
                      subsample: str = 'all') -> Tuple[Sequence[Item], ...]:
    """Keep the base or novel half of the classes of ``train`` in every list.

    The labels present in ``train`` are sorted; base is the first ceil(n/2),
    novel the rest. Kept items are relabelled from 0 in sorted label order.
    ``'new'`` is an alias of ``'novel'``; ``'all'`` returns the lists unchanged.
    Returns ``(train, *others)``.
    """
    if subsample not in SUBSAMPLE_CHOICES:
        raise DatasetFormatError(f'subsample={subsample!r} is not supported; '
                                 f'use one of {SUBSAMPLE_CHOICES}.')
    lists = (train, *others)
    if subsample == 'all':
        return lists
    labels = sorted({item[1] for item in train})
    num_base = math.ceil(len(labels) / 2)
    kept = labels[:num_base] if subsample == 'base' else labels[num_base:]
    new_label = {label: i for i, label in enumerate(kept)}
    return tuple([(item[0], new_label[item[1]], item[2]) for item in items if item[1] in new_label]
                 for items in lists)


def class_names_by_label(items: Sequence[Item]) -> List[str]:
    """Class names indexed by label; labels must be exactly 0 .. n-1."""
    names: Dict[int, str] = {}
    for _, label, name in items:
        if names.setdefault(label, name) != name:
            raise DatasetFormatError(f'Label {label} has two class names, '
                                     f'{names[label]!r} and {name!r}; fix the split file.')
    if sorted(names) != list(range(len(names))):
        labels = sorted(names)
        missing = sorted(set(range(labels[-1] + 1)) - set(labels))[:10]
        raise DatasetFormatError(f'Labels must run 0 .. n-1 without gaps; got labels '
                                 f'{labels[0]} .. {labels[-1]}, missing {missing}; '
                                 'fix the split file.')
    return [names[label] for label in range(len(names))]

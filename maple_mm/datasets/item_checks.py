"""The rules every item list of an index file (split file, FGVCAircraft lists) obeys.

The lists of one file are checked together when a dataset is built, so a bad
test list stops the training run that would only build the test set at its
end. A broken rule raises :class:`DatasetFormatError` naming the file, the
list, the item and the fix; two labels sharing a class name only warn
(:class:`DatasetWarning`): such a dataset trains, but its prompts cannot tell
the two classes apart.
"""
import posixpath
import warnings
from dataclasses import dataclass
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from maple_mm.class_names import class_name_problem
from maple_mm.errors import DatasetFormatError, DatasetWarning

Item = Tuple[str, int, str]  # (image path relative to data_root, label, class name)
Lists = Mapping[str, Sequence[Item]]


@dataclass(frozen=True)
class Where:
    """Names places in an index: the file of each list and an item's position in it.

    Args:
        file_of: ``split -> 'Split file <path>'`` (or the list's own file).
        position: ``(split, index) -> 'test[4]'`` (or ``'line 5'``).
        fix: What to do about a broken rule, ending each message.
    """
    file_of: Callable[[str], str]
    position: Callable[[str, int], str]
    fix: str

    def __call__(self, split: str, index: int) -> str:
        return f'{self.file_of(split)}: {self.position(split, index)}'

    def also(self, split: str, index: int, near: str) -> str:
        """The position alone if it is in the same file as list ``near``."""
        if self.file_of(split) == self.file_of(near):
            return self.position(split, index)
        return self(split, index)


def _more(count: int, what: str) -> str:
    return f' ({count - 1} more {what})' if count > 1 else ''


def _offenders(lists: Lists,
               field: int,
               is_bad: Callable[[object], bool],
               splits: Optional[Sequence[str]] = None) -> List[Tuple[str, int, object]]:
    """``(split, index, value)`` of every item whose ``field`` (0 path, 1 label) is bad."""
    return [(split, i, item[field]) for split, items in lists.items()
            if splits is None or split in splits for i, item in enumerate(items)
            if is_bad(item[field])]


def path_problem(lists: Lists, where: Where, data_root: str) -> Optional[str]:
    """An image path that is absolute or leaves the dataset folder with '..'."""
    bad = _offenders(
        lists, 0,
        lambda path: posixpath.isabs(path) or posixpath.normpath(path).split('/')[0] == '..')
    if not bad:
        return None
    split, index, path = bad[0]
    return (f'{where(split, index)} names the image {path!r}, outside the dataset folder '
            f'{data_root}{_more(len(bad), "such paths")}: image paths must be relative to '
            f'the image folder and stay inside the dataset folder; {where.fix}.')


def negative_label_problem(lists: Lists, where: Where) -> Optional[str]:
    """A label below 0."""
    bad = _offenders(lists, 1, lambda label: label < 0)
    if not bad:
        return None
    split, index, label = bad[0]
    return (f'{where(split, index)} has the negative label {label}'
            f'{_more(len(bad), "items with negative labels")}: labels must run 0 .. n-1; '
            f'{where.fix}.')


def class_name_text_problem(lists: Lists, where: Where) -> Optional[str]:
    """A class name that is empty or not one line of text (a prompt is built from it)."""
    bad = [(split, i, name, problem) for split, items in lists.items()
           for i, (_, _, name) in enumerate(items) for problem in [class_name_problem(name)]
           if problem]
    if not bad:
        return None
    split, index, name, problem = bad[0]
    return (f'{where(split, index)} has the class name {name!r}, which {problem}'
            f'{_more(len(bad), "such items")}: every class needs a name of one line, its '
            f'prompt is built from it; {where.fix}.')


def two_names_problem(lists: Lists, where: Where) -> Optional[str]:
    """A label with two different class names, anywhere in the lists."""
    first: Dict[int, Tuple[str, int, str]] = {}
    conflicts: List[Tuple[str, int, int, str]] = []
    for split, items in lists.items():
        for i, (_, label, name) in enumerate(items):
            seen = first.setdefault(label, (split, i, name))
            if seen[2] != name:
                conflicts.append((split, i, label, name))
    if not conflicts:
        return None
    split, index, label, name = conflicts[0]
    first_split, first_index, first_name = first[label]
    labels = len({c[2] for c in conflicts})
    return (f'{where(split, index)} names label {label} {name!r}, but '
            f'{where.also(first_split, first_index, split)} names it {first_name!r}'
            f'{_more(labels, "labels with two names")}: each label needs one class name; '
            f'{where.fix}.')


def label_gap_problem(lists: Lists, where: Where) -> Optional[str]:
    """Train labels that are not exactly 0 .. n-1."""
    train = lists.get('train') or []
    labels = {label for _, label, _ in train}
    if not labels or labels == set(range(len(labels))):
        return None
    top = max(labels)
    index = next(i for i, (_, label, _) in enumerate(train) if label == top)
    skipped = sorted(set(range(top)) - labels)
    shown = f'{skipped[:10]}' + (f' and {len(skipped) - 10} more' if len(skipped) > 10 else '')
    return (f'{where("train", index)} has label {top}, but the train labels skip {shown}: '
            f'labels must run 0 .. n-1 over the train list (every class needs train items); '
            f'renumber the classes or {where.fix}.')


def untrained_label_problem(lists: Lists, where: Where) -> Optional[str]:
    """A val or test label that no train item has."""
    train = lists.get('train') or []
    labels = {label for _, label, _ in train}
    if not labels:
        return None
    bad = _offenders(lists, 1, lambda label: label not in labels,
                     [split for split in lists if split != 'train'])
    if not bad:
        return None
    split, index, label = bad[0]
    return (f'{where(split, index)} has label {label}, which no train item has (train labels '
            f'run 0 .. {max(labels)}){_more(len(bad), "such items")}: every class needs train '
            f'items; {where.fix}.')


def check_item_lists(lists: Lists, where: Where, data_root: str) -> None:
    """Raise :class:`DatasetFormatError` for the first broken rule; warn about shared names.

    Empty lists are not checked here: whether one matters depends on the build
    (see :meth:`CoOpDataset.checked_items`).
    """
    problem = path_problem(lists, where, data_root)
    for rule in (negative_label_problem, class_name_text_problem, two_names_problem,
                 label_gap_problem, untrained_label_problem):
        problem = problem or rule(lists, where)  # rules after the first broken one are skipped
    if problem:
        raise DatasetFormatError(problem)
    warn_shared_names(lists, where)


def warn_shared_names(lists: Lists, where: Where) -> None:
    """Warn (:class:`DatasetWarning`) if two labels have the same class name."""
    first: Dict[str, Tuple[str, int, int]] = {}
    shared: Dict[Tuple[str, int], Tuple[str, int]] = {}  # (name, label) -> (split, index)
    for split, items in lists.items():
        for i, (_, label, name) in enumerate(items):
            if first.setdefault(name, (split, i, label))[2] != label:
                shared.setdefault((name, label), (split, i))
    if not shared:
        return
    (name, label), (split, index) = next(iter(shared.items()))
    first_split, first_index, first_label = first[name]
    warnings.warn(
        f'{where(first_split, first_index)} and {where.also(split, index, first_split)} give '
        f'labels {first_label} and {label} the same class name {name!r}'
        f'{_more(len(shared), "shared names")}; their prompts are identical, so the model cannot '
        'tell the classes apart: give each class its own name.', DatasetWarning)

"""Check a data root of CoOp benchmarks in one pass and say how to fix what is wrong.

For every dataset asked for: its folder, its split file or index files (by the
rules the datasets apply when they are built: no empty split, labels 0 .. n-1,
one name per label, paths inside the dataset folder), every listed image
(present and readable; ``--decode`` decodes it fully, which also finds
truncated files), its class count and the size of each split against the
official CoOp splits. Every dataset is checked, and every missing or broken
image counted; the exit status is 1 if anything is wrong. Reading the images
shows progress (done / total, rate, ETA) on stderr.

    python tools/verify_datasets.py --data-root data
    python tools/verify_datasets.py --data-root data --datasets caltech101 dtd

The messages are those the datasets raise when a training run is started on
incomplete data; docs/datasets.md says how to prepare each dataset.
"""
import argparse
import os
import os.path as osp
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, Iterable, List, Optional, Sequence

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO_ROOT not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, REPO_ROOT)

from maple_mm.datasets import BENCHMARKS, Benchmark  # noqa: E402
from maple_mm.datasets.image_check import MISSING, image_problem  # noqa: E402
from maple_mm.errors import DatasetWarning, MapleUserError  # noqa: E402
from maple_mm.progress import track  # noqa: E402
from mmpretrain.registry import DATASETS  # noqa: E402

DOCS = 'docs/datasets.md'
#: How many missing or unreadable files a report names.
NUM_NAMED = 5


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--data-root', required=True,
                        help='folder holding the dataset folders (imagenet/, caltech-101/, ...)')
    parser.add_argument('--datasets', nargs='+', choices=sorted(BENCHMARKS), metavar='NAME',
                        default=list(BENCHMARKS),
                        help=f'datasets to check (default: all): {", ".join(BENCHMARKS)}')
    parser.add_argument('--skip-counts', action='store_true',
                        help='do not compare class and image counts with the official splits '
                             '(for stand-in or custom copies)')
    parser.add_argument('--decode', action='store_true',
                        help='decode every image fully (slower; also finds truncated files) '
                             'instead of reading its header')
    parser.add_argument('--workers', type=int, default=8, help='threads reading images')
    return parser.parse_args(argv)


def unreadable_image(path: str, decode: bool) -> Optional[str]:
    """None if ``path`` opens as an image, else 'missing' or why it is unreadable."""
    problem = image_problem(path, decode)
    if problem is None or problem == MISSING:
        return problem
    return f'unreadable ({problem})'


def _add_once(messages: List[str], message: str) -> None:
    if message not in messages:
        messages.append(message)


def _named(paths: List[str], what: str, total: int) -> str:
    shown = ', '.join(paths[:NUM_NAMED])
    more = f' and {len(paths) - NUM_NAMED} more' if len(paths) > NUM_NAMED else ''
    return f'{len(paths)} of {total} listed images {what}: {shown}{more}'


class DatasetReport:
    """The checks of one dataset; ``problems`` lists what is wrong."""

    def __init__(self, key: str, benchmark: Benchmark, data_root: str) -> None:
        self.key = key
        self.benchmark = benchmark
        self.folder = osp.join(data_root, benchmark.folder)
        self.dataset_type = DATASETS.get(benchmark.type)
        self.problems: List[str] = []
        self.notes: List[str] = []  # warnings: usable, but probably not what was meant
        self.summary: List[str] = []

    def _build(self, split: str):
        return self.dataset_type(data_root=self.folder, split=split, lazy_init=True)

    def check(self, skip_counts: bool, decode: bool, workers: int) -> None:
        if not osp.isdir(self.folder):
            self.problems.append(f'dataset folder {self.folder} missing: download it as '
                                 f'{DOCS}#{self.dataset_type.docs_anchor} describes')
            return
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always', DatasetWarning)
            self._check_splits(skip_counts, decode, workers)
        for warning in caught:
            if issubclass(warning.category, DatasetWarning):
                _add_once(self.notes, str(warning.message))
            else:
                warnings.warn_explicit(warning.message, warning.category, warning.filename,
                                       warning.lineno)

    def _check_splits(self, skip_counts: bool, decode: bool, workers: int) -> None:
        checked: Dict[str, Optional[str]] = {}
        splits = self.dataset_type.splits
        for split in splits:
            dataset = self._build(split)
            try:
                dataset.check_source()
                items = dataset.checked_items(split)  # the build's rules: an empty split fails
                if split == splits[0]:
                    self._check_classes(dataset, skip_counts)
            except MapleUserError as err:
                _add_once(self.problems, str(err))  # one bad file fails every split's build
                continue
            self._check_count(split, len(items), skip_counts)
            paths = [osp.join(self.folder, path) for path, _, _ in items]
            self._check_images(split, paths, checked, decode, workers)

    def _check_classes(self, dataset, skip_counts: bool) -> None:
        num_classes = len(dataset.class_names())
        self.summary.append(f'{num_classes} classes')
        if not skip_counts and num_classes != self.benchmark.num_classes:
            self.problems.append(f'{num_classes} classes where the official split has '
                                 f'{self.benchmark.num_classes}: wrong or partial split file '
                                 f'or class folders ({DOCS}#{dataset.docs_anchor})')

    def _check_count(self, split: str, count: int, skip_counts: bool) -> None:
        self.summary.append(f'{split} {count}')
        official = self.benchmark.count(split)
        if not skip_counts and official is not None and count != official:
            self.problems.append(f'{split} lists {count} images where the official split has '
                                 f'{official}: the split file or image folders are not the '
                                 'CoOp ones')

    def _check_images(self, split: str, paths: List[str], checked: Dict[str, Optional[str]],
                      decode: bool, workers: int) -> None:
        new = [path for path in dict.fromkeys(paths) if path not in checked]
        with ThreadPoolExecutor(max(1, workers)) as pool:
            found = pool.map(lambda p: unreadable_image(p, decode), new)
            checked.update(zip(new, track(found, len(new), f'{self.key} {split}', 'images')))
        missing = [p for p in paths if checked[p] == MISSING]
        broken = [f'{p} {checked[p]}' for p in paths if checked[p] not in (None, MISSING)]
        if missing:
            self.problems.append(f'{split}: ' + _named(missing, 'missing', len(paths)))
        if broken:
            self.problems.append(f'{split}: ' + _named(broken, 'unreadable', len(paths)))


def verify(data_root: str, keys: Iterable[str], skip_counts: bool = False,
           decode: bool = False, workers: int = 8) -> List[DatasetReport]:
    """Check the datasets ``keys`` under ``data_root``, printing one report each."""
    reports = []
    for key in keys:
        report = DatasetReport(key, BENCHMARKS[key], data_root)
        report.check(skip_counts, decode, workers)
        status = 'ok' if not report.problems else 'PROBLEMS'
        print(f'[{status}] {key} ({report.folder}): {", ".join(report.summary) or "-"}')
        for problem in report.problems:
            print(f'    - {problem}')
        for note in report.notes:
            print(f'    note: {note}')
        reports.append(report)
    return reports


def main(argv: Optional[Sequence[str]] = None) -> int:
    import maple_mm  # noqa: F401  (registers the datasets)
    args = parse_args(argv)
    if not osp.isdir(args.data_root):
        print(f'error: data root {args.data_root} ({osp.abspath(args.data_root)}) does not '
              f'exist; create it and prepare the datasets in it as {DOCS} describes.')
        return 1
    reports = verify(args.data_root, args.datasets, args.skip_counts, args.decode, args.workers)
    bad = [r.key for r in reports if r.problems]
    if bad:
        print(f'\n{len(bad)} of {len(reports)} datasets need fixing ({", ".join(bad)}); '
              f'{DOCS} says where each comes from and how it is laid out. (Stand-in or '
              'custom copies differ in size from the official splits: --skip-counts.)')
        return 1
    print(f'\nAll {len(reports)} datasets are complete under {os.path.abspath(args.data_root)}.')
    return 0


if __name__ == '__main__':
    sys.exit(main())

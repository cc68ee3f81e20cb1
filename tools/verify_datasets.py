"""Check a data root of CoOp benchmarks, or your own dataset, and say how to fix what is wrong.

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
    python tools/verify_datasets.py --config configs/maple/demo_base2novel_fashion_mnist.py
    python tools/verify_datasets.py --split-file data/mine/split_zhou_Mine.json --image-dir images

--config checks every dataset a run of the config reads (e.g. your own
SplitFileDataset); --split-file checks one split file and the images it lists.

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

from _cli import add_cfg_options, errors, package_module

# Modules of maple_mm that import nothing heavy: the parser lists the benchmarks at once.
catalog = package_module('datasets.catalog')
image_check = package_module('datasets.image_check')
track = package_module('progress').track
BENCHMARKS, Benchmark = catalog.BENCHMARKS, catalog.Benchmark
MISSING, image_problem = image_check.MISSING, image_check.image_problem

DOCS = 'docs/datasets.md'
#: How many missing or unreadable files a report names.
NUM_NAMED = 5


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        '--data-root', help='folder holding the dataset folders (imagenet/, caltech-101/, ...)')
    source.add_argument('--config', help='check the datasets of this experiment config')
    source.add_argument(
        '--split-file',
        help='check this CoOp-format split file '
        '(split_zhou_<Name>.json; image paths relative to --image-dir)')
    parser.add_argument(
        '--image-dir',
        default='',
        help='with --split-file: the folder the image paths are relative to, '
        'under the split file\'s folder (default: that folder itself)')
    add_cfg_options(parser, 'with --config: override config entries, as the tools do')
    parser.add_argument(
        '--datasets',
        nargs='+',
        choices=sorted(BENCHMARKS),
        metavar='NAME',
        default=list(BENCHMARKS),
        help=f'datasets to check (default: all): {", ".join(BENCHMARKS)}')
    parser.add_argument(
        '--skip-counts',
        action='store_true',
        help='do not compare class and image counts with the official splits '
        '(for stand-in or custom copies)')
    parser.add_argument(
        '--decode',
        action='store_true',
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
    """The checks of one dataset; ``problems`` lists what is wrong.

    ``options`` are constructor arguments besides the folder and split (e.g. a
    SplitFileDataset's ``split_file``); class and image counts are compared
    with ``benchmark``'s official ones, if given.
    """

    def __init__(self,
                 key: str,
                 folder: str,
                 dataset_type: str,
                 benchmark: Optional[Benchmark] = None,
                 options: Optional[dict] = None) -> None:
        self.key = key
        self.benchmark = benchmark
        self.folder = folder
        from mmpretrain.registry import DATASETS
        self.dataset_type = DATASETS.get(dataset_type)
        self.options = dict(options or {})
        self.problems: List[str] = []
        self.notes: List[str] = []  # warnings: usable, but probably not what was meant
        self.summary: List[str] = []

    @classmethod
    def of_benchmark(cls, key: str, data_root: str) -> 'DatasetReport':
        benchmark = BENCHMARKS[key]
        return cls(key, osp.join(data_root, benchmark.folder), benchmark.type, benchmark)

    def _build(self, split: str):
        return self.dataset_type(data_root=self.folder, split=split, lazy_init=True, **self.options)

    def check(self, skip_counts: bool, decode: bool, workers: int) -> None:
        if not osp.isdir(self.folder):
            self.problems.append(f'dataset folder {self.folder} missing: download it as '
                                 f'{DOCS}#{self.dataset_type.docs_anchor} describes')
            return
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always', errors.DatasetWarning)
            self._check_splits(skip_counts, decode, workers)
        for warning in caught:
            if issubclass(warning.category, errors.DatasetWarning):
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
            except errors.MapleUserError as err:
                _add_once(self.problems, str(err))  # one bad file fails every split's build
                continue
            self._check_count(split, len(items), skip_counts)
            paths = [osp.join(self.folder, path) for path, _, _ in items]
            self._check_images(split, paths, checked, decode, workers)

    def _check_classes(self, dataset, skip_counts: bool) -> None:
        num_classes = len(dataset.class_names())
        self.summary.append(f'{num_classes} classes')
        if not skip_counts and self.benchmark and num_classes != self.benchmark.num_classes:
            self.problems.append(f'{num_classes} classes where the official split has '
                                 f'{self.benchmark.num_classes}: wrong or partial split file '
                                 f'or class folders ({DOCS}#{dataset.docs_anchor})')

    def _check_count(self, split: str, count: int, skip_counts: bool) -> None:
        self.summary.append(f'{split} {count}')
        official = self.benchmark.count(split) if self.benchmark else None
        if not skip_counts and official is not None and count != official:
            self.problems.append(f'{split} lists {count} images where the official split has '
                                 f'{official}: the split file or image folders are not the '
                                 'ones of the CoOp protocol')

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


#: Dataset arguments that choose what a run draws, not where the data is: every split is checked.
_RUN_OPTIONS = ('type', 'data_root', 'split', 'pipeline', 'num_shots', 'seed', 'subsample',
                'lazy_init', 'fewshot_cache_dir', 'serialize_data', 'test_mode')


def reports_of_config(cfg) -> List[DatasetReport]:
    """One report per distinct CoOp-format dataset the config's run reads."""
    from mmpretrain.registry import DATASETS

    from maple_mm.engine.runners.run_datasets import dataset_configs
    reports, seen = [], set()
    for dataset in dataset_configs(
            cfg.get('train_dataloader'), cfg.get('val_dataloader'), cfg.get('test_dataloader'),
            cfg.get('test_cfg')):
        dataset_type = dataset.get('type')
        dataset_cls = DATASETS.get(dataset_type) if isinstance(dataset_type, str) else None
        if dataset_cls is None or not hasattr(dataset_cls, 'check_source'):
            print(f'note: {dataset_type} is not a CoOp-format dataset; not checked here')
            continue
        options = {k: v for k, v in dataset.items() if k not in _RUN_OPTIONS}
        benchmark = next((b for b in BENCHMARKS.values() if b.type == dataset_type), None)
        folder = dataset.get('data_root') or (benchmark.data_root if benchmark else None)
        source = (dataset_type, folder, repr(sorted(options.items())))
        if source in seen:
            continue
        seen.add(source)
        key = options.get('split_file') or dataset_type
        reports.append(DatasetReport(key, folder, dataset_type, benchmark, options))
    return reports


def verify(data_root: Optional[str] = None,
           keys: Iterable[str] = (),
           skip_counts: bool = False,
           decode: bool = False,
           workers: int = 8,
           reports: Optional[List[DatasetReport]] = None) -> List[DatasetReport]:
    """Check the datasets ``keys`` under ``data_root`` (or ``reports``), printing each."""
    if reports is None:
        reports = [DatasetReport.of_benchmark(key, data_root) for key in keys]
    for report in reports:
        key = report.key
        report.check(skip_counts, decode, workers)
        status = 'ok' if not report.problems else 'PROBLEMS'
        print(f'[{status}] {key} ({report.folder}): {", ".join(report.summary) or "-"}')
        for problem in report.problems:
            print(f'    - {problem}')
        for note in report.notes:
            print(f'    note: {note}')
    return reports


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    import maple_mm  # noqa: F401  (registers the datasets)
    if args.split_file:
        reports = [
            DatasetReport(
                args.split_file,
                osp.dirname(args.split_file) or '.',
                'SplitFileDataset',
                options=dict(split_file=osp.basename(args.split_file), image_dir=args.image_dir))
        ]
    elif args.config:
        if not osp.isfile(args.config):
            print(f'error: config {args.config} does not exist.')
            return 1
        from mmengine.config import Config
        cfg = Config.fromfile(args.config)
        if args.cfg_options:
            cfg.merge_from_dict(args.cfg_options)
        reports = reports_of_config(cfg)
        if not reports:
            print(f'error: {args.config} reads no CoOp-format dataset (CoOp benchmark or '
                  'SplitFileDataset) to check.')
            return 1
    elif not osp.isdir(args.data_root):
        print(f'error: data root {args.data_root} ({osp.abspath(args.data_root)}) does not '
              f'exist; create it and prepare the datasets in it as {DOCS} describes.')
        return 1
    else:
        reports = [DatasetReport.of_benchmark(key, args.data_root) for key in args.datasets]
    reports = verify(
        skip_counts=args.skip_counts, decode=args.decode, workers=args.workers, reports=reports)
    bad = [r.key for r in reports if r.problems]
    if bad:
        print(f'\n{len(bad)} of {len(reports)} datasets need fixing ({", ".join(bad)}); '
              f'{DOCS} says where each comes from and how it is laid out. (Stand-in or '
              'custom copies differ in size from the official splits: --skip-counts.)')
        return 1
    where = f' under {os.path.abspath(args.data_root)}' if args.data_root else ''
    print(f'\nAll {len(reports)} datasets are complete{where}.')
    return 0


if __name__ == '__main__':
    sys.exit(main())

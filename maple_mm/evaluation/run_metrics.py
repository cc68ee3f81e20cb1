"""Find the test metrics of finished runs, and what each run is from its own record.

A run folder is any folder holding log folders (``<YYYYmmdd_HHMMSS>[_<N>]/``) or
checkpoints, at any depth under the roots given; every complete
``test_metrics.json`` of its log folders counts (a work dir may hold tests of
other checkpoints). What the run is (method, protocol, dataset, shots, seed,
config, variant) comes only from the record the test wrote into that file,
never from file or folder names; a test of a checkpoint records the run that
wrote the checkpoint.
"""
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple, Union

from maple_mm.atomic_files import write_text_atomically
from maple_mm.errors import RunMetricsError
from maple_mm.run_layout import METRICS_FILE, checkpoint_files, is_log_folder, log_folder_order

#: A test set's top-1 accuracy in the metrics (``'<set>/' + TOP1``): the key mmpretrain's
#: ``Accuracy`` evaluator writes (its prefix, then ``top1``).
TOP1 = 'accuracy/top1'


@dataclass(frozen=True)
class RunMetrics:
    """The newest complete test metrics of one run, with the run's record."""

    path: Path  # the test_metrics.json read
    metrics: Dict[str, float]
    record: Dict[str, object] = field(default_factory=dict)  # method, protocol, dataset, ...

    @property
    def method(self) -> Optional[str]:
        return self.record.get('method')

    @property
    def protocol(self) -> Optional[str]:
        return self.record.get('protocol')

    @property
    def dataset(self) -> Optional[str]:
        return self.record.get('dataset')

    @property
    def shots(self) -> Optional[int]:
        return self.record.get('shots')

    @property
    def seed(self) -> Optional[int]:
        return self.record.get('seed')

    @property
    def config(self) -> Optional[str]:
        return self.record.get('config')

    @property
    def variant(self) -> Optional[str]:
        """The experiment: its config and what the run changed in it (None in older records)."""
        return self.record.get('variant')

    @property
    def key(self) -> tuple:
        """What makes two runs the same run: method, protocol, dataset, shots, seed, variant."""
        return (self.method, self.protocol, self.dataset, self.shots, self.seed, self.variant)

    def describe(self) -> str:
        """'MaPLe maple/base2novel, dtd, 16 shots, seed 1'."""
        parts = [
            ' '.join(str(v) for v in (self.method, self.variant) if v is not None), self.dataset,
            None if self.shots is None else f'{self.shots} shots',
            None if self.seed is None else f'seed {self.seed}'
        ]
        return ', '.join(str(p) for p in parts if p)


def run_dirs(root: Union[str, Path]) -> List[Path]:
    """The run folders at or under ``root``: folders with log folders or checkpoints."""
    root = Path(root)
    if not root.is_dir():
        raise RunMetricsError(f'Results folder {root} does not exist.')
    found = []
    for folder, subfolders, _ in os.walk(root):
        logs = [name for name in subfolders if is_log_folder(name)]
        if logs or checkpoint_files(folder):
            found.append(Path(folder))
        subfolders[:] = sorted(name for name in subfolders if name not in logs)
    return sorted(found)


def read_test_metrics(path: Path) -> Tuple[bool, dict, Dict[str, float]]:
    """``(complete, record, scalar metrics)`` of a ``test_metrics.json``, or a clear error.

    Files of earlier versions hold only ``{metric: value}``: complete, without a record.
    """
    try:
        content = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise RunMetricsError(f'Cannot read test metrics {path}: {err}') from None
    if not isinstance(content, dict):
        raise RunMetricsError(f'{path} holds no {{metric: value}} object.')
    if isinstance(content.get('metrics'), dict):
        metrics = content['metrics']
        return bool(content.get('complete', True)), dict(content.get('record') or {}), \
            {str(k): float(v) for k, v in metrics.items()}
    return True, {}, {str(k): float(v) for k, v in content.items()}


def test_metrics_files(work_dir: Union[str, Path]) -> List[Path]:
    """Every ``test_metrics.json`` of ``work_dir``'s log folders, oldest test first."""
    return sorted(
        Path(work_dir).glob(f'*/{METRICS_FILE}'), key=lambda p: log_folder_order(p.parent.name))


def finished_test_metrics(work_dir: Union[str, Path]) -> Optional[Path]:
    """The newest ``test_metrics.json`` of ``work_dir`` whose every test set finished."""
    for path in reversed(test_metrics_files(work_dir)):
        if read_test_metrics(path)[0]:
            return path
    return None


@dataclass
class CollectedRuns:
    """What :func:`collect_runs` found."""

    runs: List[RunMetrics]  # one per run (method, protocol, dataset, shots, seed, variant)
    unfinished: List[Path]  # run folders without complete test metrics
    unrecorded: List[Path]  # metrics files of earlier versions, without a record
    replaced: List[Path]  # older metrics files of a run found twice
    #: (older, the run kept) for each run found twice.
    duplicates: List[Tuple[RunMetrics, RunMetrics]] = field(default_factory=list)
    #: Tests that stopped before their last set, of runs with no complete test.
    incomplete: List[RunMetrics] = field(default_factory=list)

    def notes(self) -> List[str]:
        """One line for each result left out of the tables, and each result replaced."""
        lines = [
            f'note: {d} has no test metrics yet (unfinished run); left out' for d in self.unfinished
        ]
        lines += [
            f'note: {r.path} is a test that stopped before its last set ({r.describe()}); left '
            'out (test the run again to include it)' for r in self.incomplete
        ]
        lines += [
            f'note: {p} was written by an earlier version and does not record what the '
            'run is; left out (test the run again to include it)' for p in self.unrecorded
        ]
        for older, kept in self.duplicates:
            differ = record_differences(older.record, kept.record)
            how = '; their records differ in ' + ', '.join(differ) if differ else ''
            if older.path.parent.parent == kept.path.parent.parent:  # tested again in its folder
                lines.append(f'note: {older.path} is an earlier test of the run '
                             f'{kept.describe()}{how}; the newest, {kept.path}, counts.')
                continue
            lines.append(f'warning: two results of one run ({kept.describe()}): '
                         f'{older.path} and {kept.path}{how}. The tables show the newest, '
                         f'{kept.path}; to keep both, give the runs different configs or '
                         'settings, or move one out of the folders given.')
        return lines


def record_differences(older: dict, newer: dict) -> List[str]:
    """``['processes (1 vs 4)', 'checkpoint', ...]``: the record fields that differ."""
    found = []
    for key in sorted(set(older) | set(newer)):
        a, b = older.get(key), newer.get(key)
        if a == b:
            continue
        nested = isinstance(a, (dict, list)) or isinstance(b, (dict, list))
        found.append(key if nested else f'{key} ({a} vs {b})')
    return found


def collect_runs(roots: Iterable[Union[str, Path]]) -> CollectedRuns:
    """Every complete test record under ``roots``, one per run.

    Every ``test_metrics.json`` of every run folder counts, whatever run it is
    in (tests of other checkpoints may share a work dir): each is filed under
    the run its record names. A run folder under several (overlapping) roots
    counts once; the same run (same :attr:`RunMetrics.key`) tested twice counts
    once, with its newest test, and :meth:`CollectedRuns.notes` says so, as it
    says which results were left out and why.
    """
    runs: Dict[tuple, RunMetrics] = {}
    unfinished, unrecorded, replaced, duplicates, seen = [], [], [], [], set()
    stopped: Dict[tuple, RunMetrics] = {}
    for root in roots:
        for run_dir in run_dirs(root):
            if run_dir.resolve() in seen:
                continue
            seen.add(run_dir.resolve())
            paths = test_metrics_files(run_dir)
            if not paths:
                unfinished.append(run_dir)
                continue
            for path in paths:
                complete, record, metrics = read_test_metrics(path)
                if not record:
                    unrecorded.append(path)
                    continue
                run = RunMetrics(path, metrics, record)
                if not complete:
                    stopped[run.key] = run
                    continue
                other = runs.get(run.key)
                if other is not None:
                    older, run = sorted([other, run],
                                        key=lambda r: log_folder_order(r.path.parent.name))
                    replaced.append(older.path)
                    duplicates.append((older, run))
                runs[run.key] = run
    ordered = sorted(runs.values(), key=lambda r: tuple(str(v) for v in r.key))
    incomplete = [run for key, run in stopped.items() if key not in runs]
    return CollectedRuns(ordered, unfinished, unrecorded, replaced, duplicates, incomplete)


def _plain(value):
    """Metric values as JSON: numbers as floats, arrays and tensors as nested lists."""
    if hasattr(value, 'tolist'):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return float(value) if isinstance(value, (int, float)) else value


def write_test_metrics(path: Union[str, Path], metrics: Dict[str, object], record: dict,
                       classes: Dict[str, List[str]], complete: bool) -> None:
    """Write a test's metrics file atomically (readers never see half a file).

    ``metrics`` holds the scalar metrics; non-scalar ones (confusion matrices,
    per-class scores) go to ``arrays``. ``complete`` is False while sets are
    still being tested.
    """
    scalars, arrays = {}, {}
    for key, value in metrics.items():
        plain = _plain(value)
        if isinstance(plain, list) and len(plain) == 1 and not isinstance(plain[0], list):
            plain = plain[0]
        (arrays if isinstance(plain, list) else scalars)[key] = plain
    content = dict(
        complete=complete, record=record, metrics=scalars, classes=classes, arrays=arrays)
    write_text_atomically(path, json.dumps(content, indent=2))

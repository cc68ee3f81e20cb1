"""Find the test metrics of finished runs laid out as <root>/<config>/seed<S>/."""
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple, Union

from maple_mm.errors import RunMetricsError
from maple_mm.run_layout import METRICS_FILE, seed_of


@dataclass(frozen=True)
class RunMetrics:
    """The newest complete test metrics of one run (one config, one seed)."""

    config: str  # config file stem
    seed: int
    path: Path  # the test_metrics.json read
    metrics: Dict[str, float]
    record: Dict[str, object] = field(default_factory=dict)  # method, protocol, dataset, ...


def seed_dirs(root: Union[str, Path]) -> List[Path]:
    """The ``seed<S>`` run folders under ``root`` (a work root or one config's folder)."""
    root = Path(root)
    if not root.is_dir():
        raise RunMetricsError(f'Results folder {root} does not exist.')
    if seed_of(root) is not None:
        return [root]
    candidates = [*root.glob('seed*'), *root.glob('*/seed*')]
    return sorted(p for p in candidates if p.is_dir() and seed_of(p) is not None)


def read_test_metrics(path: Path) -> Tuple[bool, dict, Dict[str, float]]:
    """``(complete, record, scalar metrics)`` of a ``test_metrics.json``, or a clear error.

    Files of earlier versions hold only ``{metric: value}``; they count as complete.
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


def finished_test_metrics(work_dir: Union[str, Path]) -> Optional[Path]:
    """The newest ``test_metrics.json`` of ``work_dir`` whose every test set finished."""
    for path in reversed(sorted(Path(work_dir).glob(f'*/{METRICS_FILE}'),
                                key=lambda p: p.parent.name)):
        if read_test_metrics(path)[0]:
            return path
    return None


def collect_runs(roots: Iterable[Union[str, Path]]) -> Tuple[List[RunMetrics], List[Path]]:
    """``(finished runs, unfinished run folders)`` found under ``roots``.

    A run folder found under several (overlapping) roots counts once.
    """
    runs, unfinished, seen = [], [], set()
    for root in roots:
        for run_dir in seed_dirs(root):
            if run_dir.resolve() in seen:
                continue
            seen.add(run_dir.resolve())
            path = finished_test_metrics(run_dir)
            if path is None:
                unfinished.append(run_dir)
                continue
            _, record, metrics = read_test_metrics(path)
            config = record.get('config') or run_dir.parent.name
            runs.append(RunMetrics(config, seed_of(run_dir), path, metrics, record))
    return runs, unfinished


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
    content = dict(complete=complete, record=record, metrics=scalars, classes=classes,
                   arrays=arrays)
    path = Path(path)
    tmp = path.with_name(f'.{path.name}.tmp')
    tmp.write_text(json.dumps(content, indent=2))
    os.replace(tmp, path)

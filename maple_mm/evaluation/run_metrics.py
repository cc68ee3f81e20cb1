"""Find the test metrics of finished runs laid out as <root>/<config>/seed<S>/."""
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple, Union

from maple_mm.errors import RunMetricsError

#: The file MultiSetTestLoop writes into each run's timestamped log folder.
METRICS_FILE = 'test_metrics.json'
_SEED_DIR = re.compile(r'seed(\d+)$')


@dataclass(frozen=True)
class RunMetrics:
    """The newest test metrics of one run (one config, one seed)."""

    config: str  # config file stem
    seed: int
    path: Path  # the test_metrics.json read
    metrics: Dict[str, float]


def newest_test_metrics(work_dir: Union[str, Path]) -> Optional[Path]:
    """The ``test_metrics.json`` of the newest log folder in ``work_dir``, if any.

    Log folders are named by their start time (YYYYmmdd_HHMMSS), so the last
    name in sorted order is the newest test of the run.
    """
    found = sorted(Path(work_dir).glob(f'*/{METRICS_FILE}'), key=lambda p: p.parent.name)
    return found[-1] if found else None


def seed_dirs(root: Union[str, Path]) -> List[Path]:
    """The ``seed<S>`` run folders under ``root`` (a work root or one config's folder)."""
    root = Path(root)
    if not root.is_dir():
        raise RunMetricsError(f'Results folder {root} does not exist.')
    if _SEED_DIR.match(root.name):
        return [root]
    candidates = [*root.glob('seed*'), *root.glob('*/seed*')]
    return sorted(p for p in candidates if p.is_dir() and _SEED_DIR.match(p.name))


def read_metrics(path: Path) -> Dict[str, float]:
    """A ``test_metrics.json`` as ``{name: value}``, or a clear error."""
    try:
        metrics = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise RunMetricsError(f'Cannot read test metrics {path}: {err}') from None
    if not isinstance(metrics, dict):
        raise RunMetricsError(f'{path} holds no {{metric: value}} object.')
    return {str(k): float(v) for k, v in metrics.items()}


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
            path = newest_test_metrics(run_dir)
            if path is None:
                unfinished.append(run_dir)
                continue
            seed = int(_SEED_DIR.match(run_dir.name).group(1))
            runs.append(RunMetrics(run_dir.parent.name, seed, path, read_metrics(path)))
    return runs, unfinished

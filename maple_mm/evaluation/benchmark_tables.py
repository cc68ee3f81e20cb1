"""Turn the test metrics of runs (configs x seeds) into the paper's tables.

Conventions (those of the reference's ``parse_test_res.py`` and of spec section 3):
per-dataset numbers are means over seeds with the population standard deviation;
a dataset's HM is the harmonic mean of its mean Base and mean Novel; the
Average row is the mean over datasets of the mean Base and mean Novel, and the
HM of those two.
"""
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Union

from .harmonic_mean import harmonic_mean
from .published import (DATASET_NAMES, MAPLE_BASE2NOVEL, MAPLE_BASE2NOVEL_AVERAGE,
                        MAPLE_CROSS_DATASET, MAPLE_DOMAIN_GENERALIZATION)
from .run_metrics import RunMetrics
from .seed_statistics import SeedStatistics

TOP1 = 'accuracy/top1'
Cell = Union[None, str, int, float, SeedStatistics]

_BASE2NOVEL = re.compile(r'base2novel_(?P<dataset>.+)$')
_FEW_SHOT = re.compile(r'few_shot_(?P<dataset>.+)_(?P<shots>\d+)shots?$')
#: Config-name prefixes of the protocols whose published numbers are per test set.
_PUBLISHED_PER_SET = {'cross_dataset': MAPLE_CROSS_DATASET,
                      'domain_generalization': MAPLE_DOMAIN_GENERALIZATION}


@dataclass
class Table:
    """A titled table; cells are labels, counts, numbers or seed statistics."""

    title: str
    header: List[str]
    rows: List[List[Cell]] = field(default_factory=list)


def dataset_name(key: str) -> str:
    """The display name of a dataset key (the key itself when unknown)."""
    return DATASET_NAMES.get(key, key)


def _dataset_order(key: str) -> tuple:
    keys = list(DATASET_NAMES)
    return (keys.index(key), '') if key in keys else (len(keys), key)


def _group(runs: Sequence[RunMetrics]) -> Dict[str, List[RunMetrics]]:
    groups: Dict[str, List[RunMetrics]] = defaultdict(list)
    for run in sorted(runs, key=lambda r: (r.config, r.seed)):
        groups[run.config].append(run)
    return groups


def _is_base2novel(run: RunMetrics) -> bool:
    return bool(_BASE2NOVEL.match(run.config)) and {
        f'base/{TOP1}', f'novel/{TOP1}'} <= set(run.metrics)


def _single_set_top1(run: RunMetrics) -> Optional[float]:
    top1 = [v for k, v in run.metrics.items() if k.endswith(f'/{TOP1}')]
    return top1[0] if len(top1) == 1 else None


def _is_few_shot(run: RunMetrics) -> bool:
    return bool(_FEW_SHOT.match(run.config)) and _single_set_top1(run) is not None


def base2novel_table(runs: Sequence[RunMetrics], paper: bool = False) -> Optional[Table]:
    """Base / Novel / HM per dataset and the Average row; None without such runs."""
    groups = {_BASE2NOVEL.match(c).group('dataset'): g
              for c, g in _group([r for r in runs if _is_base2novel(r)]).items()}
    if not groups:
        return None
    header = ['Dataset', 'Base', 'Novel', 'HM', 'Seeds']
    if paper:
        header += ['Paper Base', 'Paper Novel', 'Paper HM', 'HM - Paper HM']
    table = Table('MaPLe base-to-novel generalisation (top-1 %)', header)
    bases, novels = [], []
    for key in sorted(groups, key=_dataset_order):
        base = SeedStatistics.of([r.metrics[f'base/{TOP1}'] for r in groups[key]])
        novel = SeedStatistics.of([r.metrics[f'novel/{TOP1}'] for r in groups[key]])
        bases.append(base.mean)
        novels.append(novel.mean)
        hm = harmonic_mean(base.mean, novel.mean)
        row: List[Cell] = [dataset_name(key), base, novel, hm, base.num_seeds]
        if paper:
            published = MAPLE_BASE2NOVEL.get(key)
            row += [*published, hm - published[2]] if published else [None] * 4
        table.rows.append(row)
    mean_base, mean_novel = sum(bases) / len(bases), sum(novels) / len(novels)
    complete = set(groups) == set(MAPLE_BASE2NOVEL)
    label = 'Average' if complete else f'Average ({len(groups)} datasets)'
    hm = harmonic_mean(mean_base, mean_novel)
    row = [label, mean_base, mean_novel, hm, None]
    if paper:
        # The published average covers the 11 datasets only.
        row += ([*MAPLE_BASE2NOVEL_AVERAGE, hm - MAPLE_BASE2NOVEL_AVERAGE[2]]
                if complete else [None] * 4)
    table.rows.append(row)
    return table


def few_shot_table(runs: Sequence[RunMetrics]) -> Optional[Table]:
    """Top-1 per dataset (rows) and number of shots (columns), with the Average row."""
    cells: Dict[str, Dict[int, List[float]]] = defaultdict(lambda: defaultdict(list))
    for run in runs:
        if _is_few_shot(run):
            match = _FEW_SHOT.match(run.config)
            cells[match.group('dataset')][int(match.group('shots'))].append(
                _single_set_top1(run))
    if not cells:
        return None
    shots = sorted({k for per_shot in cells.values() for k in per_shot})
    table = Table('MaPLe few-shot classification (top-1 %, all classes)',
                  ['Dataset', *[f'{k} shot{"s" if k > 1 else ""}' for k in shots]])
    for key in sorted(cells, key=_dataset_order):
        table.rows.append([dataset_name(key), *[
            SeedStatistics.of(cells[key][k]) if cells[key].get(k) else None for k in shots]])
    # A column is averaged only when every dataset has it, so the whole row
    # covers the datasets its label counts.
    averages: List[Cell] = []
    for col in range(1, len(shots) + 1):
        means = [row[col].mean for row in table.rows if row[col] is not None]
        averages.append(sum(means) / len(means) if len(means) == len(table.rows) else None)
    table.rows.append([f'Average ({len(cells)} datasets)', *averages])
    return table


def _set_columns(group: Sequence[RunMetrics]) -> List[str]:
    """Metric names in order of first appearance; '<set>/accuracy/top1' shown as '<set>'."""
    names: List[str] = []
    for run in group:
        for key in run.metrics:
            if (key.endswith(f'/{TOP1}') or '/' not in key) and key not in names:
                names.append(key)
    return names


def per_set_tables(runs: Sequence[RunMetrics], paper: bool = False) -> List[Table]:
    """One table per remaining config (cross-dataset, domain generalisation, ...).

    Columns are the test sets (top-1) and the summary metrics (e.g.
    ``target_average``); the row holds the seed statistics, followed by the
    published row where the protocol has one.
    """
    tables = []
    rest = [r for r in runs if not (_is_base2novel(r) or _is_few_shot(r))]
    for config, group in _group(rest).items():
        columns = _set_columns(group)
        labels = [c[:-len(f'/{TOP1}')] if c.endswith(f'/{TOP1}') else c for c in columns]
        table = Table(f'{config} (top-1 %)', ['', 'Seeds', *labels])
        stats = [SeedStatistics.of([r.metrics[c] for r in group if c in r.metrics])
                 for c in columns]
        table.rows.append(['MaPLe (these runs)', len(group), *stats])
        published = next((p for prefix, p in _PUBLISHED_PER_SET.items()
                          if config.startswith(prefix)), None)
        if paper and published:
            table.rows.append(['MaPLe (paper)', 3, *[published.get(name) for name in labels]])
        tables.append(table)
    return tables


def benchmark_tables(runs: Sequence[RunMetrics], paper: bool = False) -> List[Table]:
    """Every table the runs make: base-to-novel, few-shot, then one per other config."""
    tables = [base2novel_table(runs, paper), few_shot_table(runs), *per_set_tables(runs, paper)]
    return [t for t in tables if t is not None]

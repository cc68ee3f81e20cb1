"""Turn the test metrics of runs into the papers' tables, methods side by side.

What a run is (method, protocol, dataset, shots, seed, variant, CLIP) comes from
its record. Runs on different CLIPs (ViT-B/16, RN50 ...) are never in one table:
each CLIP has its own tables, titled with it, and only its own published
numbers. Each variant of a method (another config, or settings the run changed)
is a column group, row or table of its own, named 'method (variant)' where a
table holds several variants of the method.
Conventions (those of the reference's ``parse_test_res.py`` and the MaPLe
paper): per-dataset numbers are means over seeds with the population
standard deviation; a dataset's HM is the harmonic mean of its mean Base and
mean Novel; a method's Average row is the mean over datasets of the mean Base
and mean Novel, and the HM of those two (the paper's Table 1), given only when
the method ran on every dataset of the table.
"""
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

from maple_mm.datasets.catalog import BASE_TO_NOVEL, BENCHMARKS, display_name
from .harmonic_mean import harmonic_mean
from .published import (BASE2NOVEL, BASE2NOVEL_AVERAGE, METHODS, PUBLISHED_BACKBONE, ROWS,
                        per_set_rows)
from .run_metrics import TOP1, RunMetrics
from .seed_statistics import SeedStatistics

Cell = Union[None, str, int, float, SeedStatistics]
#: The shots of the published numbers.
PUBLISHED_SHOTS = 16
#: Titles of the protocols reported per test set.
PER_SET_TITLES = {
    'cross_dataset': 'Cross-dataset transfer',
    'domain_generalization': 'Domain generalisation'
}

#: What a table says when its runs do not record their CLIP (records of earlier versions).
UNRECORDED_CLIP_NOTE = ('The runs do not record their CLIP (an earlier version tested them); '
                        f'published numbers are those of {PUBLISHED_BACKBONE}.')


@dataclass
class Table:
    """A titled table; cells are labels, counts, numbers or seed statistics; notes below it."""

    title: str
    header: List[str]
    rows: List[List[Cell]] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)
    #: The CLIP of every run in the table (None: not recorded).
    backbone: Optional[str] = None


def _clip_label(backbone: Optional[str]) -> str:
    """', RN50' in a title; '' where the runs do not say."""
    if backbone is None:
        return ''
    return ', custom CLIP' if backbone == 'custom' else f', {backbone}'


def _backbone_order(backbones: Iterable[Optional[str]]) -> List[Optional[str]]:
    """The published CLIP first, then the others by name, unrecorded last."""
    backbones = set(backbones)
    return sorted(backbones, key=lambda b: (b is None, b != PUBLISHED_BACKBONE, str(b)))


def publishes(backbone: Optional[str]) -> bool:
    """Whether the published base-to-novel numbers (ViT-B/16) go with runs on ``backbone``."""
    return backbone in (PUBLISHED_BACKBONE, None)


def _method_rank(method: str) -> tuple:
    """The papers' order; a test-time method (``CoOp+TPT``, PromptAlign) right after the
    method it tunes; others after them by name."""
    if method in ROWS:
        return (ROWS.index(method), '')
    tuned = str(method).split('+')[0]  # a test-time row no metafile lists: after its method
    if tuned in ROWS:
        return (ROWS.index(tuned), str(method))
    return (len(ROWS), str(method))


def _method_order(methods: Iterable[str]) -> List[str]:
    """The methods in the papers' order (test-time ones beside theirs), others by name."""
    return sorted(set(methods), key=_method_rank)


#: A method and its variant (the record's ``variant``: config and changes; None in
#: older records): what one column group, row or table of the runs shows.
Experiment = Tuple[Optional[str], Optional[str]]


def _experiment(run: RunMetrics) -> Experiment:
    return (run.method, run.variant)


def _experiment_order(experiments: Iterable[Experiment]) -> List[Experiment]:
    """By method in the papers' order, then by variant name."""
    experiments = set(experiments)
    return [
        e for method in _method_order({m
                                       for m, _ in experiments})
        for e in sorted((e for e in experiments if e[0] == method), key=lambda e: str(e[1]))
    ]


def experiment_labels(experiments: Iterable[Experiment]) -> Dict[Experiment, str]:
    """The method's name where a table holds one variant of it, else 'method (variant)'."""
    experiments = set(experiments)
    labels = {}
    for method, variant in experiments:
        alone = sum(1 for m, _ in experiments if m == method) == 1
        labels[method, variant] = str(method) if alone else \
            f'{method} ({variant or "no variant recorded"})'
    return labels


def _dataset_order(keys: Iterable[str]) -> List[str]:
    known = [k for k in BENCHMARKS if k in keys]
    return known + sorted(k for k in set(keys) if k not in BENCHMARKS)


def _top1_sets(run: RunMetrics) -> List[str]:
    return [k for k in run.metrics if k.endswith(f'/{TOP1}')]


def _is_base2novel(run: RunMetrics) -> bool:
    return run.protocol == 'base2novel' and {f'base/{TOP1}', f'novel/{TOP1}'} <= set(run.metrics)


def _is_few_shot(run: RunMetrics) -> bool:
    return run.protocol == 'few_shot' and len(_top1_sets(run)) == 1


def _shots_label(shots) -> str:
    return '' if shots is None else f', {shots} shot{"s" if shots != 1 else ""}'


def _average_label(num_datasets: int) -> str:
    return f'Average ({num_datasets} dataset{"s" if num_datasets != 1 else ""})'


def _seeds_note(groups: Dict[str, List[List[RunMetrics]]]) -> str:
    """'Seeds: CoOp 3, MaPLe 2-3' from each label's cells (lists of runs), in the given order."""
    parts = []
    for label, cells in groups.items():
        counts = sorted({len(cell) for cell in cells})
        span = str(counts[0]) if len(counts) == 1 else f'{counts[0]}-{counts[-1]}'
        parts.append(f'{label} {span}')
    return 'Seeds: ' + ', '.join(parts)


def base2novel_tables(runs: Sequence[RunMetrics], paper: bool = False) -> List[Table]:
    """Base / Novel / HM per dataset and method (variant) and the Average row; one table per
    CLIP and K."""
    cells: Dict[tuple, Dict[Experiment, Dict[str, List[RunMetrics]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list)))
    for run in runs:
        if _is_base2novel(run):
            cells[run.backbone, run.shots][_experiment(run)][run.dataset].append(run)
    order = _backbone_order(b for b, _ in cells)
    return [
        _base2novel_table(shots, backbone, cells[backbone, shots], paper)
        for backbone, shots in sorted(cells, key=lambda k: (order.index(k[0]), k[1] is None, k[1]))
    ]


def _base2novel_table(shots, backbone: Optional[str],
                      by_experiment: Dict[Experiment,
                                          Dict[str, List[RunMetrics]]], paper: bool) -> Table:
    experiments = _experiment_order(by_experiment)
    labels = experiment_labels(experiments)
    methods = {m for m, _ in experiments}
    datasets = _dataset_order({d for per_dataset in by_experiment.values() for d in per_dataset})
    stats = {
        (e, d): (_statistics(group, 'base'), _statistics(group, 'novel'))
        for e in experiments
        for d, group in by_experiment[e].items()
    }
    # (label, method or experiment, whose numbers): each variant's runs, then the published.
    published = [
        m for m in METHODS if m in BASE2NOVEL_AVERAGE and (m in BASE2NOVEL or m in methods)
    ] if paper and shots == PUBLISHED_SHOTS and publishes(backbone) else []
    groups = []
    for method in _method_order(methods | set(published)):
        groups += [(labels[e], e, 'runs') for e in experiments if e[0] == method]
        if method in published:
            groups.append((f'{method} (paper)', method, 'paper'))
    table = Table(
        f'Base-to-novel generalisation (top-1 %{_shots_label(shots)}{_clip_label(backbone)})',
        ['Dataset'] +
        [f'{label} {column}' for label, _, _ in groups for column in ('Base', 'Novel', 'HM')],
        backbone=backbone)
    for dataset in datasets:
        row: List[Cell] = [display_name(dataset)]
        for _, method, numbers in groups:
            if numbers == 'paper':
                row += list(BASE2NOVEL.get(method, {}).get(dataset, (None, None, None)))
            elif (method, dataset) in stats:
                base, novel = stats[method, dataset]
                row += [base, novel, harmonic_mean(base.mean, novel.mean)]
            else:
                row += [None] * 3
        table.rows.append(row)
    complete = set(datasets) == set(BASE_TO_NOVEL)
    average: List[Cell] = ['Average' if complete else _average_label(len(datasets))]
    for _, method, numbers in groups:
        if numbers == 'paper':
            # The published average covers the 11 datasets only.
            average += list(BASE2NOVEL_AVERAGE[method]) if complete else [None] * 3
        elif all((method, d) in stats for d in datasets):
            base = sum(stats[method, d][0].mean for d in datasets) / len(datasets)
            novel = sum(stats[method, d][1].mean for d in datasets) / len(datasets)
            average += [base, novel, harmonic_mean(base, novel)]
        else:  # an average over fewer datasets than the row's would mislead
            average += [None] * 3
    table.rows.append(average)
    table.notes.append(
        _seeds_note({labels[e]: list(by_experiment[e].values())
                     for e in experiments}))
    if published and backbone is None:
        table.notes.append(UNRECORDED_CLIP_NOTE)
    return table


def _statistics(group: Sequence[RunMetrics], test_set: str) -> SeedStatistics:
    return SeedStatistics.of([r.metrics[f'{test_set}/{TOP1}'] for r in group])


def few_shot_tables(runs: Sequence[RunMetrics]) -> List[Table]:
    """Per CLIP and method (variant): top-1 per dataset (rows) and number of shots (columns),
    and the Average row."""
    cells: Dict[Tuple[Optional[str], Experiment], Dict[str, Dict[int, List[RunMetrics]]]] = \
        defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for run in runs:
        if _is_few_shot(run):
            cells[run.backbone, _experiment(run)][run.dataset][run.shots].append(run)
    tables = []
    for backbone in _backbone_order(b for b, _ in cells):
        experiments = [e for b, e in cells if b == backbone]
        labels = experiment_labels(experiments)
        for experiment in _experiment_order(experiments):
            tables.append(
                _few_shot_table(labels[experiment], backbone, cells[backbone, experiment]))
    return tables


def _few_shot_table(label: str, backbone: Optional[str],
                    per_dataset: Dict[str, Dict[int, List[RunMetrics]]]) -> Table:
    """One method (variant) on one CLIP: datasets x shots."""
    shots = sorted({k for per_shot in per_dataset.values() for k in per_shot})
    table = Table(
        f'{label} few-shot classification (top-1 %, all classes{_clip_label(backbone)})',
        ['Dataset', *[f'{k} shot{"s" if k != 1 else ""}' for k in shots]],
        backbone=backbone)
    for dataset in _dataset_order(per_dataset):
        table.rows.append([
            display_name(dataset), *[
                SeedStatistics.of([r.metrics[_top1_sets(r)[0]] for r in per_dataset[dataset][k]])
                if per_dataset[dataset].get(k) else None for k in shots
            ]
        ])
    # A column is averaged only when every dataset has it, so the whole row
    # covers the datasets its label counts.
    averages: List[Cell] = []
    for col in range(1, len(shots) + 1):
        means = [row[col].mean for row in table.rows if row[col] is not None]
        averages.append(sum(means) / len(means) if len(means) == len(table.rows) else None)
    table.rows.append([_average_label(len(per_dataset)), *averages])
    table.notes.append(
        _seeds_note(
            {label: [group for per_shot in per_dataset.values() for group in per_shot.values()]}))
    return table


def _set_columns(runs: Sequence[RunMetrics]) -> List[str]:
    """Metric names in order of first appearance; '<set>/accuracy/top1' shown as '<set>'."""
    names: List[str] = []
    for run in runs:
        for key in run.metrics:
            if (key.endswith(f'/{TOP1}') or '/' not in key) and key not in names:
                names.append(key)
    return names


def per_set_tables(runs: Sequence[RunMetrics], paper: bool = False) -> List[Table]:
    """One table per CLIP, protocol, training dataset and K (cross-dataset, domain
    generalisation, ...).

    Columns are the test sets (top-1) and the summary metrics (e.g.
    ``target_average``); one row per method (variant) with its seed statistics, and with
    ``paper`` the published rows of the protocol on that CLIP.
    """
    groups: Dict[tuple, Dict[Experiment, List[RunMetrics]]] = defaultdict(lambda: defaultdict(list))
    for run in runs:
        if not (_is_base2novel(run) or _is_few_shot(run)):
            key = (run.backbone, run.protocol or run.config, run.dataset, run.shots)
            groups[key][_experiment(run)].append(run)
    order = _backbone_order(key[0] for key in groups)

    def table_order(key: tuple) -> tuple:
        return (order.index(key[0]), *(str(v) for v in key[1:]))

    tables = []
    for backbone, protocol, dataset, shots in sorted(groups, key=table_order):
        by_experiment = groups[backbone, protocol, dataset, shots]
        experiments = _experiment_order(by_experiment)
        row_labels = experiment_labels(experiments)
        columns = _set_columns([r for group in by_experiment.values() for r in group])
        labels = [c[:-len(f'/{TOP1}')] if c.endswith(f'/{TOP1}') else c for c in columns]
        name = PER_SET_TITLES.get(protocol, protocol)
        table = Table(
            f'{name}, trained on {display_name(dataset)} '
            f'(top-1 %{_shots_label(shots)}{_clip_label(backbone)})', ['Method', 'Seeds', *labels],
            backbone=backbone)
        published = per_set_rows(protocol, PUBLISHED_BACKBONE if backbone is None else
                                 backbone) if paper and shots == PUBLISHED_SHOTS else []
        for method in _method_order({m for m, _ in experiments} | {r.method for r in published}):
            for experiment in (e for e in experiments if e[0] == method):
                group = by_experiment[experiment]
                table.rows.append([
                    row_labels[experiment],
                    len(group), *[
                        SeedStatistics.of([r.metrics[c] for r in group
                                           if c in r.metrics]) if any(c in r.metrics
                                                                      for r in group) else None
                        for c in columns
                    ]
                ])
            for row in (r for r in published if r.method == method):
                table.rows.append([row.label, 3, *[row.numbers.get(label) for label in labels]])
        if published and backbone is None:
            table.notes.append(UNRECORDED_CLIP_NOTE)
        tables.append(table)
    return tables


def benchmark_tables(runs: Sequence[RunMetrics], paper: bool = False) -> List[Table]:
    """Every table the runs make: base-to-novel, few-shot per method, then per-set tables."""
    return [*base2novel_tables(runs, paper), *few_shot_tables(runs), *per_set_tables(runs, paper)]

"""The results as figures, drawn from the same tables and run records as the text tables.

- ``base2novel[_<K>shots]``: Base and Novel top-1 per method (bars, +- std over
  seeds), HM marked, one panel per dataset and the Average; with ``paper`` the
  published Base / Novel / HM of each method as reference marks.
- ``few_shot``: top-1 against the number of shots, one line per method, one
  panel per dataset and the Average.
- ``<protocol>_<dataset>[_<K>shots]`` (cross-dataset, domain generalisation): top-1
  per method (bars, +- std over seeds; test-time methods beside the method they
  tune), one panel per test set and average; with ``paper`` the published rows as
  outlined bars.
- ``curves/<run>``: one run's training curve (loss and learning rate per
  logged iteration) and its test accuracies (each set and HM, per test).

Each is written as PNG and SVG. matplotlib runs headless (Agg).
"""
import json
import math
import re
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from maple_mm.atomic_files import replaced_atomically
from maple_mm.errors import MapleUserError
from .benchmark_tables import Table, base2novel_tables, few_shot_tables, per_set_tables
from .published import BASE2NOVEL, BASE2NOVEL_AVERAGE
from .run_metrics import RunMetrics
from .seed_statistics import SeedStatistics

FORMATS = ('png', 'svg')
BASE_COLOUR, NOVEL_COLOUR, HM_COLOUR = '#4c72b0', '#dd8452', 'black'
_PAPER = ' (paper)'


def _pyplot():
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def save_figure(figure, out_dir: Path, stem: str, overwrite: bool = False) -> List[Path]:
    """Write ``figure`` as ``out_dir/stem.png`` and ``.svg`` (each renamed into place)."""
    paths = [out_dir / f'{stem}.{fmt}' for fmt in FORMATS]
    existing = [str(p) for p in paths if p.exists()]
    if existing and not overwrite:
        raise MapleUserError(f'{existing[0]} already exists; pass --overwrite to replace it or '
                             'choose another --plot folder.')
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in paths:
        with replaced_atomically(path) as tmp:
            figure.savefig(tmp, format=path.suffix[1:], bbox_inches='tight', dpi=120)
    _pyplot().close(figure)
    return paths


def _grid(num_panels: int, max_columns: int = 4) -> Tuple[int, int]:
    columns = min(num_panels, max_columns)
    return math.ceil(num_panels / columns), columns


def _mean_std(cell) -> Tuple[Optional[float], float]:
    if isinstance(cell, SeedStatistics):
        return cell.mean, cell.std
    if isinstance(cell, (int, float)):
        return float(cell), 0.0
    return None, 0.0


def _base2novel_panels(table: Table) -> Tuple[List[str], Dict[str, Dict[str, tuple]]]:
    """The methods run and, per row (dataset or Average), method -> (base, novel, hm)."""
    columns = table.header[1:]
    methods = []
    for column in columns:
        label = column.rsplit(' ', 1)[0]
        if not label.endswith(_PAPER) and label not in methods:
            methods.append(label)
    panels = {}
    rows = table.rows
    if len(rows) == 2 and str(rows[-1][0]).startswith('Average ('):
        rows = rows[:1]  # the average of one dataset is that dataset's panel again
    for row in rows:
        cells = dict(zip(columns, row[1:]))
        panels[str(row[0])] = {
            m: tuple(cells.get(f'{m} {c}') for c in ('Base', 'Novel', 'HM'))
            for m in methods
        }
    return methods, panels


def _published(method: str, dataset_label: str, dataset_key: Optional[str]):
    if dataset_key is not None:
        return BASE2NOVEL.get(method, {}).get(dataset_key)
    if dataset_label == 'Average':  # the published average covers all 11 datasets
        return BASE2NOVEL_AVERAGE.get(method)
    return None


def base2novel_figure(table: Table, dataset_keys: Dict[str, str], paper: bool = False):
    """Bars of Base and Novel per method, HM marked, one panel per row of ``table``.

    ``dataset_keys`` maps a row label (display name) to its catalog key, for
    the published numbers.
    """
    plt = _pyplot()
    methods, panels = _base2novel_panels(table)
    rows, columns = _grid(len(panels))
    width = max(3.2, 0.55 * len(methods) + 1.5)
    figure, axes = plt.subplots(
        rows, columns, figsize=(width * columns, 3.6 * rows), squeeze=False, sharey=True)
    x = list(range(len(methods)))
    for ax, (label, cells) in zip(axes.flat, panels.items()):
        for i, method in enumerate(methods):
            base, novel, hm = cells[method]
            (b, b_std), (n, n_std), (h, _) = _mean_std(base), _mean_std(novel), _mean_std(hm)
            if b is not None:
                ax.bar(i - 0.2, b, 0.4, yerr=b_std or None, color=BASE_COLOUR, capsize=2)
            if n is not None:
                ax.bar(i + 0.2, n, 0.4, yerr=n_std or None, color=NOVEL_COLOUR, capsize=2)
            if h is not None:
                ax.plot([i - 0.4, i + 0.4], [h, h], color=HM_COLOUR, linewidth=2)
            published = _published(method, label, dataset_keys.get(label)) if paper else None
            if published:
                pb, pn, ph = published
                if pb is not None:
                    ax.plot(i - 0.2, pb, 'v', color='white', markeredgecolor='black', ms=7)
                if pn is not None:
                    ax.plot(i + 0.2, pn, 'v', color='white', markeredgecolor='black', ms=7)
                ax.plot(i, ph, '*', color='white', markeredgecolor='black', ms=10)
        ax.set_title(label, fontsize=10)
        ax.set_xticks(x)
        ax.set_xticklabels(methods, rotation=30, ha='right', fontsize=8)
        ax.set_ylim(0, 105)
        ax.grid(axis='y', alpha=0.3)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel('top-1 accuracy (%)')
    handles = [
        plt.Rectangle((0, 0), 1, 1, color=BASE_COLOUR),
        plt.Rectangle((0, 0), 1, 1, color=NOVEL_COLOUR),
        plt.Line2D([], [], color=HM_COLOUR, linewidth=2)
    ]
    names = ['Base', 'Novel', 'HM']
    if paper:
        handles += [
            plt.Line2D([], [],
                       marker='v',
                       color='white',
                       markeredgecolor='black',
                       linestyle='',
                       ms=7),
            plt.Line2D([], [],
                       marker='*',
                       color='white',
                       markeredgecolor='black',
                       linestyle='',
                       ms=10)
        ]
        names += ['published Base / Novel', 'published HM']
    figure.suptitle(table.title, fontsize=12)
    figure.legend(
        handles,
        names,
        loc='lower center',
        ncol=len(names),
        frameon=False,
        bbox_to_anchor=(0.5, -0.02))
    figure.tight_layout(rect=(0, 0.05, 1, 0.97))
    return figure


def few_shot_figure(tables: Sequence[Table]):
    """Top-1 against shots (log scale), one line per method, one panel per dataset."""
    plt = _pyplot()
    series: Dict[str, Dict[str, Tuple[List[int], List[float], List[float]]]] = {}
    for table in tables:
        method = table.title.split(' few-shot')[0]
        shots = [int(column.split()[0]) for column in table.header[1:]]
        for row in table.rows:
            points = [(k, *_mean_std(cell)) for k, cell in zip(shots, row[1:])]
            points = [p for p in points if p[1] is not None]
            label = re.sub(r' \(\d+ datasets?\)$', '', str(row[0]))
            if points:
                series.setdefault(label, {})[method] = tuple(map(list, zip(*points)))
    rows, columns = _grid(len(series))
    figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.4 * rows), squeeze=False)
    for ax, (label, per_method) in zip(axes.flat, series.items()):
        all_shots = sorted({k for ks, _, _ in per_method.values() for k in ks})
        for method, (ks, means, stds) in per_method.items():
            ax.errorbar(ks, means, yerr=stds, marker='o', ms=4, capsize=2, label=method)
        ax.set_xscale('log', base=2)
        ax.set_xticks(all_shots)
        ax.set_xticklabels([str(k) for k in all_shots])
        ax.set_title(label, fontsize=10)
        ax.set_xlabel('shots per class')
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(series):]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel('top-1 accuracy (%)')
    handles, names = axes.flat[0].get_legend_handles_labels()
    figure.suptitle('Few-shot classification (top-1 %, all classes)', fontsize=12)
    figure.legend(
        handles,
        names,
        loc='lower center',
        ncol=min(len(names), 7),
        frameon=False,
        bbox_to_anchor=(0.5, -0.02))
    figure.tight_layout(rect=(0, 0.06, 1, 0.96))
    return figure


def per_set_figure(table: Table):
    """One panel per column of a per-set table (test sets, averages), one bar per row.

    Rows are the table's, in its order (each method's runs, then its published row);
    published rows are outlined bars.
    """
    plt = _pyplot()
    columns = table.header[2:]
    labels = [str(row[0]) for row in table.rows]
    rows, panels = _grid(len(columns))
    width = max(3.2, 0.45 * len(labels) + 1.5)
    figure, axes = plt.subplots(
        rows, panels, figsize=(width * panels, 3.8 * rows), squeeze=False, sharey=True)
    x = list(range(len(labels)))
    for ax, (index, column) in zip(axes.flat, enumerate(columns)):
        for i, row in enumerate(table.rows):
            value, std = _mean_std(row[2 + index])
            if value is None:
                continue
            if labels[i].endswith(_PAPER):
                ax.bar(i, value, 0.7, color='white', edgecolor='black', hatch='//')
            else:
                ax.bar(i, value, 0.7, yerr=std or None, color=BASE_COLOUR, capsize=2)
        ax.set_title(column, fontsize=10)
        ax.set_xticks(x)
        ax.set_xticklabels(labels, rotation=40, ha='right', fontsize=7)
        ax.set_ylim(0, 105)
        ax.grid(axis='y', alpha=0.3)
    for ax in axes.flat[len(columns):]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel('top-1 accuracy (%)')
    figure.suptitle(table.title, fontsize=12)
    figure.tight_layout(rect=(0, 0, 1, 0.96))
    return figure


def _stem(title: str) -> str:
    """'Domain generalisation, trained on ImageNet (top-1 %, 16 shots)' ->
    'domain_generalisation_imagenet_16shots'."""
    words = re.sub(r'\(top-1 %,? ?|\)|trained on ', '', title).replace(' shots', 'shots')
    return re.sub(r'[^a-z0-9]+', '_', words.lower()).strip('_')


def read_scalars(run_dir: Path) -> Tuple[List[dict], List[dict]]:
    """The training lines (loss, lr, ...) and test lines (``test/...``) a run logged.

    Read from every ``<log folder>/vis_data/scalars.json`` of the run, oldest
    first; a resumed run's repeated steps count once (the newest).
    """
    train: Dict[int, dict] = {}
    tests: List[dict] = []
    for path in sorted(run_dir.glob('*/vis_data/scalars.json')):
        for line in path.read_text(encoding='utf-8').splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by a kill
            if 'loss' in entry and 'step' in entry:
                train[int(entry['step'])] = entry
            elif any(k.startswith('test/') for k in entry):
                tests.append(entry)
    return [train[k] for k in sorted(train)], tests


def training_curve_figure(run_dir: Path, title: str):
    """Loss and learning rate against epochs; each test's accuracies beside them."""
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator
    train, tests = read_scalars(run_dir)
    if not train and not tests:
        return None
    figure, (ax_loss, ax_test) = plt.subplots(
        1, 2, figsize=(10, 3.6), gridspec_kw=dict(width_ratios=(2, 1)))
    if train:
        per_epoch = train[-1]['step'] / train[-1]['epoch'] if train[-1].get('epoch') else None
        xs = [e['step'] / per_epoch for e in train] if per_epoch else [e['step'] for e in train]
        ax_loss.plot(xs, [e['loss'] for e in train], color=BASE_COLOUR, marker='.', label='loss')
        ax_loss.set_xlabel('epoch' if per_epoch else 'iteration')
        ax_loss.set_xlim(0, max(xs) * 1.05)
        ax_loss.set_ylabel('loss', color=BASE_COLOUR)
        ax_lr = ax_loss.twinx()
        ax_lr.plot(
            xs, [e.get('lr', float('nan')) for e in train],
            color=NOVEL_COLOUR,
            linestyle='--',
            label='lr')
        ax_lr.set_ylabel('learning rate', color=NOVEL_COLOUR)
        ax_lr.ticklabel_format(axis='y', style='sci', scilimits=(-2, 3))
    ax_loss.set_title('training', fontsize=10)
    ax_loss.grid(alpha=0.3)
    keys = sorted({k
                   for e in tests
                   for k in e if k.startswith('test/')},
                  key=lambda k: (k == 'test/HM', k))
    for key in keys:
        points = [(e['step'], e[key]) for e in tests if key in e]
        name = key[len('test/'):].replace('/accuracy/top1', '')
        ax_test.plot(
            *zip(*points), marker='o', linestyle='-' if len(points) > 1 else '', label=name)
    ax_test.set_title('test top-1 (%) after epoch', fontsize=10)
    ax_test.set_xlabel('epoch')
    if tests:
        ax_test.set_xlim(0, max(e['step'] for e in tests) + 0.5)
    ax_test.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_loss.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_test.set_ylim(0, 105)
    ax_test.grid(alpha=0.3)
    if keys:
        ax_test.legend(fontsize=8, loc='lower right')
    figure.suptitle(title, fontsize=11)
    figure.tight_layout()
    return figure


def _shots_text(shots) -> Optional[str]:
    return None if shots is None else f'{shots} shot{"s" if shots != 1 else ""}'


def _run_stem(run: RunMetrics) -> str:
    parts = [
        run.method, run.config, f'{run.shots}shots' if run.shots is not None else None,
        f'seed{run.seed}' if run.seed is not None else None
    ]
    stem = '_'.join(str(p) for p in parts if p is not None) or run.path.parent.parent.name
    return re.sub(r'[^A-Za-z0-9_.-]+', '-', stem)


def plot_results(runs: Sequence[RunMetrics],
                 out_dir,
                 paper: bool = False,
                 overwrite: bool = False) -> List[Path]:
    """Every figure the runs give, under ``out_dir``; the paths written."""
    from maple_mm.datasets.catalog import BENCHMARKS, display_name
    out_dir = Path(out_dir)
    keys = {display_name(k): k for k in BENCHMARKS}
    keys.update({display_name(r.dataset): r.dataset for r in runs if r.dataset})
    written: List[Path] = []
    for table in base2novel_tables(runs, paper=paper):
        shots = re.search(r', (\d+) shots?\)', table.title)
        stem = 'base2novel' + (f'_{shots.group(1)}shots' if shots else '')
        written += save_figure(base2novel_figure(table, keys, paper), out_dir, stem, overwrite)
    few_shot = few_shot_tables(runs)
    if few_shot:
        written += save_figure(few_shot_figure(few_shot), out_dir, 'few_shot', overwrite)
    for table in per_set_tables(runs, paper=paper):
        written += save_figure(per_set_figure(table), out_dir, _stem(table.title), overwrite)
    stems: Dict[str, int] = {}
    for run in runs:
        stem = _run_stem(run)
        stems[stem] = stems.get(stem, 0) + 1
        if stems[stem] > 1:
            stem = f'{stem}_{stems[stem]}'
        title = ' '.join(
            str(p) for p in (run.method, run.config, run.dataset, _shots_text(run.shots),
                             f'seed {run.seed}') if p)
        figure = training_curve_figure(run.path.parent.parent, title)
        if figure is not None:
            written += save_figure(figure, out_dir / 'curves', stem, overwrite)
    return written

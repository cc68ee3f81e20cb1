"""The results as figures, drawn from the same tables and run records as the text tables.

- ``base2novel[_<K>shots][_<CLIP>]``: Base and Novel top-1 per method as bars
  with their values (+- std over seeds), HM as a line across both and its value
  under the method, chance (100 / classes of the set) as a dotted line, one panel
  per dataset and one for the Average row of the table; with ``paper`` the
  published Base / Novel / HM of each method as reference marks (ViT-B/16 runs
  only).
- ``few_shot[_<CLIP>]``: top-1 against the number of shots, one line per method,
  one panel per dataset and the Average; each panel's title gives chance.
- ``curves/<run>``: one run: the training loss at each logged iteration, the
  learning rate the scheduler set for each epoch (drawn as steps, with their
  values), and each test's top-1 per set and HM with each set's chance.
- ``<protocol>_<dataset>[_<K>shots][_<CLIP>]`` (cross-dataset, domain
  generalisation): top-1 per method as bars with their values (+- std over seeds;
  test-time methods beside the method they tune), one panel per test set and
  average, chance as a dotted line; with ``paper`` the published rows of that
  CLIP as hatched bars.

Runs on different CLIPs are never drawn in one figure: the figures of a CLIP other
than ViT-B/16 (the papers') carry its name (``_RN50``, ``_custom``).

Each is written as PNG and SVG. Legends sit outside the axes, so they hide no
data. Chance comes from the class names each run's test recorded. matplotlib
runs headless (Agg).
"""
import json
import math
import re
from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from maple_mm.atomic_files import replaced_atomically
from maple_mm.errors import MapleUserError
from .benchmark_tables import Table, base2novel_tables, few_shot_tables, per_set_tables, publishes
from .published import BASE2NOVEL, BASE2NOVEL_AVERAGE
from .run_metrics import RunMetrics
from .seed_statistics import SeedStatistics

FORMATS = ('png', 'svg')
BASE_COLOUR, NOVEL_COLOUR, HM_COLOUR = '#4c72b0', '#dd8452', 'black'
CHANCE_COLOUR = '#606060'
CHANCE_LABEL = 'chance (100 / classes)'
#: Markers of the test sets of a training curve, largest first: equal values stay visible.
TEST_MARKERS = 'osD^vP<>phX*'
_PAPER = ' (paper)'
#: Up to this many epochs, each epoch's learning rate is written on its step.
_LR_VALUES_UP_TO = 12
#: ``(row label -> (Base chance, Novel chance))`` of a base-to-novel table, in %.
Chance = Dict[str, Tuple[Optional[float], Optional[float]]]


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


def _hide_unused_label_rows(axes, used: int) -> None:
    """Hide the grid's panels after the first ``used``; label the accuracy axis of each row."""
    for ax in axes.flat[used:]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel('top-1 accuracy (%)')


def _mean_std(cell) -> Tuple[Optional[float], float]:
    if isinstance(cell, SeedStatistics):
        return cell.mean, cell.std
    if isinstance(cell, (int, float)):
        return float(cell), 0.0
    return None, 0.0


# -- chance ---------------------------------------------------------------------------
def class_counts(run: RunMetrics) -> Dict[str, int]:
    """``{test set: number of classes}`` as the run's test recorded them (``classes``)."""
    try:
        classes = json.loads(run.path.read_text(encoding='utf-8')).get('classes')
    except (OSError, ValueError):
        return {}
    if not isinstance(classes, dict):
        return {}
    return {str(k): len(v) for k, v in classes.items() if isinstance(v, list) and v}


def chance_levels(runs: Sequence[RunMetrics]) -> Dict[Tuple[str, str], Dict[str, float]]:
    """``{(protocol, dataset): {test set: 100 / classes}}``, the most frequent count per set."""
    counts: Dict[Tuple[str, str], Dict[str, Counter]] = {}
    for run in runs:
        for test_set, count in class_counts(run).items():
            counts.setdefault((str(run.protocol), str(run.dataset)),
                              {}).setdefault(test_set, Counter())[count] += 1
    return {
        key: {
            s: 100.0 / c.most_common(1)[0][0]
            for s, c in per_set.items()
        }
        for key, per_set in counts.items()
    }


def _mean(values: Sequence[Optional[float]]) -> Optional[float]:
    return sum(values) / len(values) if values and None not in values else None


def _row_chance(table: Table, dataset_keys: Dict[str, str], levels: Dict[str, Dict[str, float]],
                sets: Sequence[str]) -> Dict[str, Tuple[Optional[float], ...]]:
    """Chance of ``sets`` per row of ``table``; the Average row's is the mean of the rows'."""
    rows = {}
    for row in table.rows:
        label = str(row[0])
        if not label.startswith('Average'):
            per_set = levels.get(dataset_keys.get(label, label), {})
            rows[label] = tuple(per_set.get(s) for s in sets)
    per_dataset = list(rows.values())
    for row in table.rows:
        if str(row[0]).startswith('Average'):
            rows[str(row[0])] = tuple(_mean([c[i] for c in per_dataset]) for i in range(len(sets)))
    return rows


# -- base-to-novel ----------------------------------------------------------------------
def _base2novel_panels(table: Table) -> Tuple[List[str], Dict[str, Dict[str, tuple]]]:
    """The methods run and, per row (each dataset and the Average), method -> (base, novel, hm)."""
    columns = table.header[1:]
    methods = []
    for column in columns:
        label = column.rsplit(' ', 1)[0]
        if not label.endswith(_PAPER) and label not in methods:
            methods.append(label)
    panels = {}
    for row in table.rows:
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


def _bar_value(ax, x: float, value: float, filled: bool = True) -> None:
    """The bar's value, upright inside its foot (above a bar too short to hold it); in black
    on an unfilled bar."""
    inside = value >= 12
    ax.text(
        x,
        1.5 if inside else value + 1.5,
        f'{value:.1f}',
        rotation=90,
        ha='center',
        va='bottom',
        fontsize=6.5,
        color='white' if inside and filled else 'black',
        gid='bar value')


def base2novel_figure(table: Table,
                      dataset_keys: Dict[str, str],
                      paper: bool = False,
                      chance: Optional[Chance] = None):
    """Bars of Base and Novel per method, HM marked, one panel per row of ``table``.

    ``dataset_keys`` maps a row label (display name) to its catalog key, for
    the published numbers; ``chance`` a row label to its (Base, Novel) chance in %.
    """
    plt = _pyplot()
    methods, panels = _base2novel_panels(table)
    rows, columns = _grid(len(panels))
    width = max(3.4, 0.6 * len(methods) + 1.5)
    figure, axes = plt.subplots(
        rows, columns, figsize=(width * columns, 3.9 * rows), squeeze=False, sharey=True)
    x = list(range(len(methods)))
    for ax, (label, cells) in zip(axes.flat, panels.items()):
        ticks = []
        for i, method in enumerate(methods):
            base, novel, hm = cells[method]
            (b, b_std), (n, n_std), (h, _) = _mean_std(base), _mean_std(novel), _mean_std(hm)
            for position, value, std, colour in ((i - 0.2, b, b_std, BASE_COLOUR),
                                                 (i + 0.2, n, n_std, NOVEL_COLOUR)):
                if value is not None:
                    ax.bar(position, value, 0.4, yerr=std or None, color=colour, capsize=2)
                    _bar_value(ax, position, value)
            if h is not None:
                ax.plot([i - 0.4, i + 0.4], [h, h], color=HM_COLOUR, linewidth=2)
            ticks.append(method if h is None else f'{method}\nHM {h:.2f}')
            published = _published(method, label, dataset_keys.get(label)) if paper else None
            if published:
                pb, pn, ph = published
                if pb is not None:
                    ax.plot(i - 0.2, pb, 'v', color='white', markeredgecolor='black', ms=7)
                if pn is not None:
                    ax.plot(i + 0.2, pn, 'v', color='white', markeredgecolor='black', ms=7)
                ax.plot(i, ph, '*', color='white', markeredgecolor='black', ms=10)
        levels = [c for c in (chance or {}).get(label, ()) if c is not None]  # Base, Novel
        for level in sorted(set(levels)):  # behind the bars: seen between them, never on a value
            ax.axhline(
                level, color=CHANCE_COLOUR, linestyle=':', linewidth=1.5, zorder=0.5, gid='chance')
        shown = ' / '.join(f'{c:.1f}' for c in levels) if len(set(levels)) > 1 else \
            ''.join(f'{c:.1f}' for c in set(levels))
        ax.set_title(f'{label} (chance {shown})' if shown else label, fontsize=10)
        ax.set_xticks(x)
        ax.set_xticklabels(ticks, rotation=30, ha='right', rotation_mode='anchor', fontsize=8)
        ax.set_xlim(-0.6, len(methods) - 0.4)
        ax.set_ylim(0, 105)
        ax.grid(axis='y', alpha=0.3)
    _hide_unused_label_rows(axes, len(panels))
    marker = dict(color='white', markeredgecolor='black', linestyle='')
    handles = [
        plt.Rectangle((0, 0), 1, 1, color=BASE_COLOUR),
        plt.Rectangle((0, 0), 1, 1, color=NOVEL_COLOUR),
        plt.Line2D([], [], color=HM_COLOUR, linewidth=2)
    ]
    names = ['Base', 'Novel', 'HM']
    if any(c is not None for levels in (chance or {}).values() for c in levels):
        handles.append(plt.Line2D([], [], color=CHANCE_COLOUR, linestyle=':', linewidth=1.5))
        names.append(CHANCE_LABEL + ', Base / Novel')
    if paper:
        handles += [
            plt.Line2D([], [], marker='v', ms=7, **marker),
            plt.Line2D([], [], marker='*', ms=10, **marker)
        ]
        names += ['published Base / Novel', 'published HM']
    figure.suptitle(table.title, fontsize=12)
    figure.tight_layout(rect=(0, 0, 1, 0.97))
    figure.legend(
        handles, names, loc='upper center', ncol=len(names), frameon=False, bbox_to_anchor=(0.5, 0))
    return figure


# -- few-shot ---------------------------------------------------------------------------
def few_shot_figure(tables: Sequence[Table], chance: Optional[Dict[str, float]] = None):
    """Top-1 against shots (log scale), one line per method, one panel per dataset.

    ``tables`` are :func:`few_shot_tables` of one CLIP. ``chance`` maps a row label
    (dataset, or its Average) to chance in %, given in the panel's title (a line
    would squeeze the curves towards the top).
    """
    backbones = {table.backbone for table in tables}
    if len(backbones) > 1:
        raise ValueError(f'One few-shot figure per CLIP, not {sorted(map(str, backbones))}.')
    plt = _pyplot()
    series: Dict[str, Dict[str, Tuple[List[int], List[float], List[float]]]] = {}
    titles: Dict[str, str] = {}
    for table in tables:
        method = table.title.split(' few-shot')[0]
        shots = [int(column.split()[0]) for column in table.header[1:]]
        for row in table.rows:
            points = [(k, *_mean_std(cell)) for k, cell in zip(shots, row[1:])]
            points = [p for p in points if p[1] is not None]
            label = re.sub(r' \(\d+ datasets?\)$', '', str(row[0]))
            level = (chance or {}).get(str(row[0]))
            titles[label] = label + ('' if level is None else f' (chance {level:.1f})')
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
        ax.set_title(titles[label], fontsize=10)
        ax.set_xlabel('shots per class')
        ax.grid(alpha=0.3)
    _hide_unused_label_rows(axes, len(series))
    handles, names = axes.flat[0].get_legend_handles_labels()
    clip = next(iter(backbones), None)
    figure.suptitle(
        'Few-shot classification (top-1 %, all classes'
        f'{", " + clip if clip else ""})',
        fontsize=12)
    figure.tight_layout(rect=(0, 0, 1, 0.96))
    figure.legend(
        handles,
        names,
        loc='upper center',
        ncol=min(len(names), 7),
        frameon=False,
        bbox_to_anchor=(0.5, 0))
    return figure


# -- protocols reported per test set ------------------------------------------------------
def per_set_figure(table: Table, chance: Optional[Dict[str, float]] = None):
    """One panel per column of a per-set table (test sets, averages), one bar per row.

    Rows are the table's, in its order (each method's runs, then its published row);
    published rows are hatched bars. ``chance``: ``{column: 100 / classes}``, drawn
    as a dotted line.
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
            paper = labels[i].endswith(_PAPER)
            if paper:
                ax.bar(i, value, 0.7, color='white', edgecolor='black', hatch='//')
            else:
                ax.bar(i, value, 0.7, yerr=std or None, color=BASE_COLOUR, capsize=2)
            _bar_value(ax, i, value, filled=not paper)
        if (chance or {}).get(column) is not None:
            ax.axhline(
                chance[column], color=CHANCE_COLOUR, linestyle=':', linewidth=1.5, gid='chance')
        ax.set_title(column, fontsize=10)
        ax.set_xticks(x)
        ax.set_xticklabels(labels, rotation=40, ha='right', fontsize=7)
        ax.set_ylim(0, 105)
        ax.grid(axis='y', alpha=0.3)
    _hide_unused_label_rows(axes, len(columns))
    handles = [plt.Rectangle((0, 0), 1, 1, color=BASE_COLOUR)]
    names = ['runs (mean +- std over seeds)']
    if any(label.endswith(_PAPER) for label in labels):
        handles.append(
            plt.Rectangle((0, 0), 1, 1, facecolor='white', edgecolor='black', hatch='//'))
        names.append('published')
    if any(line.get_gid() == 'chance' for ax in axes.flat for line in ax.get_lines()):
        handles.append(plt.Line2D([], [], color=CHANCE_COLOUR, linestyle=':', linewidth=1.5))
        names.append(CHANCE_LABEL)
    figure.suptitle(table.title, fontsize=12)
    figure.tight_layout(rect=(0, 0, 1, 0.96))
    figure.legend(
        handles, names, loc='upper center', ncol=len(names), frameon=False, bbox_to_anchor=(0.5, 0))
    return figure


def _stem(title: str) -> str:
    """'Domain generalisation, trained on ImageNet (top-1 %, 16 shots)' ->
    'domain_generalisation_imagenet_16shots'."""
    words = re.sub(r'\(top-1 %,? ?|\)|trained on ', '', title).replace(' shots', 'shots')
    return re.sub(r'[^a-z0-9]+', '_', words.lower()).strip('_')


# -- one run's curves -------------------------------------------------------------------
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


def iterations_per_epoch(train: Sequence[dict]) -> Optional[int]:
    """The shortest epoch the logged (global step, epoch) pairs allow; None without epochs.

    A line of epoch e at step s (1-based) says (e - 1) n < s <= e n for an epoch
    of n iterations. Exact when an epoch's last iteration was logged (mmengine
    logs it when the epoch is no longer than the logging interval); otherwise
    short by less than an interval over the number of epochs, and every line
    still falls inside its own epoch.
    """
    if not train or not all(isinstance(e.get('epoch'), int) and e['epoch'] > 0 for e in train):
        return None
    n = max(math.ceil(e['step'] / e['epoch']) for e in train)
    if any(e['step'] <= (e['epoch'] - 1) * n for e in train):
        return None  # not one run's lines
    return n


def epoch_learning_rates(train: Sequence[dict]) -> Optional[Dict[int, float]]:
    """``{epoch: lr}`` when every logged lr of an epoch is the same (a per-epoch schedule)."""
    rates: Dict[int, float] = {}
    for entry in train:
        if 'lr' not in entry or not entry.get('epoch'):
            return None
        rate = rates.setdefault(int(entry['epoch']), float(entry['lr']))
        if not math.isclose(rate, float(entry['lr']), rel_tol=1e-9):
            return None
    return rates


def _step_vertices(rates: Dict[int, float]) -> Tuple[List[float], List[float]]:
    """Epoch e's lr from e - 1 to e; a gap where an epoch logged nothing."""
    xs: List[float] = []
    ys: List[float] = []
    for epoch in sorted(rates):
        if xs and xs[-1] != epoch - 1:
            xs.append(float('nan'))
            ys.append(float('nan'))
        xs += [epoch - 1, epoch]
        ys += [rates[epoch], rates[epoch]]
    return xs, ys


def _draw_training(ax_loss, ax_lr, train: Sequence[dict]) -> None:
    from matplotlib.ticker import FuncFormatter, MaxNLocator
    per_epoch = iterations_per_epoch(train)
    xs = [e['step'] / per_epoch for e in train] if per_epoch else [e['step'] for e in train]
    ax_loss.plot(
        xs, [e['loss'] for e in train],
        color=BASE_COLOUR,
        marker='.' if len(train) <= 60 else None,
        label='loss')
    ax_loss.set_ylabel('loss')
    ax_loss.set_title('training loss (each logged iteration)', fontsize=10)
    rates = epoch_learning_rates(train) if per_epoch else None
    if rates:
        ax_lr.plot(*_step_vertices(rates), color=NOVEL_COLOUR, gid='lr steps')
        if len(rates) <= _LR_VALUES_UP_TO:
            for epoch, rate in rates.items():
                ax_lr.annotate(
                    f'{rate:.3g}', (epoch - 0.5, rate),
                    xytext=(0, 2),
                    textcoords='offset points',
                    ha='center',
                    va='bottom',
                    fontsize=7)
        ax_lr.set_title('learning rate of each epoch', fontsize=10)
        end = max(rates)
    else:  # set every iteration: the logged values
        ax_lr.plot(xs, [e.get('lr', float('nan')) for e in train], color=NOVEL_COLOUR, gid='lr')
        ax_lr.set_title('learning rate (each logged iteration)', fontsize=10)
        end = max(xs)
    top = max([e.get('lr', 0.0) for e in train] + [0.0])
    ax_lr.set_ylim(0, top * 1.3 if top > 0 else 1)
    ax_lr.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f'{value:.2g}'))
    ax_lr.set_ylabel('lr')
    ax_lr.set_xlabel('epoch' if per_epoch else 'iteration')
    ax_loss.set_xlim(0, max(end, max(xs)) * 1.02 if per_epoch else max(xs) * 1.02)
    for ax in (ax_loss, ax_lr):
        ax.grid(alpha=0.3)
        if per_epoch:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_loss.tick_params(labelbottom=False)


def _colours(count: int) -> List:
    """``count`` distinct colours: matplotlib's 10 default ones, or tab20's 20."""
    import matplotlib
    if count <= 10:
        return [f'C{i}' for i in range(count)]
    palette = matplotlib.colormaps['tab20'].colors
    return [palette[i % len(palette)] for i in range(count)]


def _draw_tests(ax, tests: Sequence[dict], chance: Dict[str, float]) -> None:
    from matplotlib.ticker import MaxNLocator

    # The sets in the order they were tested, then the summaries (HM, target_average).
    keys = list(dict.fromkeys(k for e in tests for k in e if k.startswith('test/')))
    keys.sort(key=lambda k: not k.endswith('/accuracy/top1'))
    colours = _colours(len(keys))
    levels: Dict[float, List] = {}  # chance -> the colours of its sets
    for j, key in enumerate(keys):
        points = sorted((e['step'], e[key]) for e in tests if key in e)
        name = key[len('test/'):].replace('/accuracy/top1', '')
        colour = colours[j]
        ax.plot(
            *zip(*points),
            marker=TEST_MARKERS[j % len(TEST_MARKERS)],
            ms=max(3.5, 9 - 1.1 * j),
            color=colour,
            linestyle='-' if len(points) > 1 else '',
            label=f'{name}: {points[-1][1]:.2f}')
        if chance.get(name) is not None:
            levels.setdefault(round(chance[name], 6), []).append(colour)
    for level, owners in levels.items():  # one line per level: in its set's colour, or grey
        ax.axhline(
            level,
            color=owners[0] if len(owners) == 1 else CHANCE_COLOUR,
            linestyle=':',
            linewidth=1.2,
            gid='chance')
    if levels:
        ax.plot([], [], color=CHANCE_COLOUR, linestyle=':', label=CHANCE_LABEL + ', per set')
    steps = sorted({e['step'] for e in tests})
    if steps:
        ax.set_xlim(steps[0] - 0.5, steps[-1] + 0.5)
    if 0 < len(steps) <= 12:
        ax.set_xticks(steps)
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(0, 105)
    ax.set_title('test top-1 (%) after epoch (last value)', fontsize=10)
    ax.set_xlabel('epoch')
    ax.grid(alpha=0.3)
    if keys:
        ax.legend(fontsize=8, loc='upper left', bbox_to_anchor=(1.02, 1), borderaxespad=0)


def training_curve_figure(run_dir: Path, title: str, chance: Optional[Dict[str, float]] = None):
    """Loss and learning rate against epochs, each test's accuracies beside them.

    ``chance`` maps a test set to its chance in % (drawn as a dotted line in the
    set's colour). A run that trained nothing gets the test panel alone.
    """
    plt = _pyplot()
    train, tests = read_scalars(run_dir)
    if not train and not tests:
        return None
    if train:
        figure = plt.figure(figsize=(12, 5))
        grid = figure.add_gridspec(2, 2, width_ratios=(1.6, 1), height_ratios=(2, 1))
        ax_loss = figure.add_subplot(grid[0, 0])
        ax_lr = figure.add_subplot(grid[1, 0], sharex=ax_loss)
        ax_test = figure.add_subplot(grid[:, 1])
        _draw_training(ax_loss, ax_lr, train)
    else:
        figure, ax_test = plt.subplots(figsize=(6, 4))
    _draw_tests(ax_test, tests, chance or {})
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


def _clip_suffix(table: Table) -> str:
    """'' for the papers' CLIP (or an unrecorded one), else '_<CLIP>' ('_RN50')."""
    if publishes(table.backbone):
        return ''
    return '_' + re.sub(r'[^A-Za-z0-9.]+', '-', table.backbone)


def plot_results(runs: Sequence[RunMetrics],
                 out_dir,
                 paper: bool = False,
                 overwrite: bool = False) -> List[Path]:
    """Every figure the runs give, under ``out_dir``; the paths written."""
    from maple_mm.datasets.catalog import BENCHMARKS, display_name
    out_dir = Path(out_dir)
    keys = {display_name(k): k for k in BENCHMARKS}
    keys.update({display_name(r.dataset): r.dataset for r in runs if r.dataset})
    levels = chance_levels(runs)
    by_protocol: Dict[str, Dict[str, Dict[str, float]]] = {}
    for (protocol, dataset), per_set in levels.items():
        by_protocol.setdefault(protocol, {})[dataset] = per_set
    written: List[Path] = []
    for table in base2novel_tables(runs, paper=paper):
        shots = re.search(r', (\d+) shots?[,)]', table.title)
        stem = 'base2novel' + (f'_{shots.group(1)}shots' if shots else '') + _clip_suffix(table)
        chance = _row_chance(table, keys, by_protocol.get('base2novel', {}), ('base', 'novel'))
        figure = base2novel_figure(table, keys, paper and publishes(table.backbone), chance)
        written += save_figure(figure, out_dir, stem, overwrite)
    few_shot = few_shot_tables(runs)
    few_shot_levels = {
        dataset: {
            'all': next(iter(per_set.values()))
        }
        for dataset, per_set in by_protocol.get('few_shot', {}).items() if len(per_set) == 1
    }
    for backbone in dict.fromkeys(table.backbone for table in few_shot):
        tables = [t for t in few_shot if t.backbone == backbone]
        chance = {
            label: levels[0]
            for table in tables
            for label, levels in _row_chance(table, keys, few_shot_levels, ('all', )).items()
        }
        written += save_figure(
            few_shot_figure(tables, chance), out_dir, 'few_shot' + _clip_suffix(tables[0]),
            overwrite)
    per_set_chance = {
        test_set: level
        for (protocol, _), per_set in levels.items() if protocol not in ('base2novel', 'few_shot')
        for test_set, level in per_set.items()
    }
    for table in per_set_tables(runs, paper=paper):
        figure = per_set_figure(table, per_set_chance)
        written += save_figure(figure, out_dir, _stem(table.title), overwrite)
    stems: Dict[str, int] = {}
    for run in runs:
        stem = _run_stem(run)
        stems[stem] = stems.get(stem, 0) + 1
        if stems[stem] > 1:
            stem = f'{stem}_{stems[stem]}'
        title = ' '.join(
            str(p) for p in (run.method, run.config, run.dataset, _shots_text(run.shots),
                             f'seed {run.seed}') if p)
        chance = {s: 100.0 / count for s, count in class_counts(run).items()}
        figure = training_curve_figure(run.path.parent.parent, title, chance)
        if figure is not None:
            written += save_figure(figure, out_dir / 'curves', stem, overwrite)
    return written

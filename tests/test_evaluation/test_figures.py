"""The figures of results_table.py --plot show their data: what each axes holds, where the
legends sit, the lr as the steps the scheduler took, the Average panel, chance and values.

The runs are written as a test writes them (test_metrics.json with its record and class
names, vis_data/scalars.json as mmengine's LoggerHook writes it), for several methods on
the 11 datasets; the figures are checked as matplotlib objects, drawn.
"""
import json
import math

import pytest

from maple_mm.datasets.catalog import BASE_TO_NOVEL, BENCHMARKS
from maple_mm.evaluation import collect_runs, figures, harmonic_mean
from maple_mm.evaluation.published import BASE2NOVEL, BASE2NOVEL_AVERAGE, CROSS_DATASET
from maple_mm.evaluation.published import METHODS as TABLE_ORDER
from ..test_configs.tiny_runs import fast_cpu_runs  # noqa: F401

TOP1 = 'accuracy/top1'
#: The example method; another with published per-dataset numbers; one published as an average
#: alone (picked by what is published: tests/test_method_files.py).
EXAMPLE = 'MaPLe'
OTHER = next(m for m in BASE2NOVEL if m != EXAMPLE)
AVERAGE_ONLY = next(m for m in BASE2NOVEL_AVERAGE if m not in BASE2NOVEL)
#: Methods of the fake base-to-novel sweep, in table order.
B2N_METHODS = tuple(m for m in TABLE_ORDER if m in (OTHER, EXAMPLE, AVERAGE_ONLY))
#: Methods of the fake few-shot sweep with their accuracy offsets.
FEW_SHOT_METHODS = ((OTHER, 0), (EXAMPLE, 3))
#: 5 epochs of 25 iterations logged every 20 and at each epoch's end (ProgressLoggerHook):
#: the steps and epochs of the lines, and the lr the scheduler set per epoch.
LOGGED = [(e * 25 + i, e + 1) for e in range(5) for i in (20, 25)]
EPOCH_LR = {1: 1e-5, 2: 3.5e-3, 3: 3.17e-3, 4: 2.29e-3, 5: 1.21e-3}
#: Test metrics logged without a set's '/accuracy/top1'.
SUMMARIES = ('HM', 'target_average')


def split_names(key):
    """Base and novel class names of a benchmark: Dassl's halves (base: the first ceil(C/2))."""
    total = BENCHMARKS[key].num_classes
    base = math.ceil(total / 2)
    return [f'c{i}' for i in range(base)], [f'c{i}' for i in range(base, total)]


def write_run(root, folder, metrics, record, classes, scalars=(), time='20250101_000000'):
    log = root / folder / time
    log.mkdir(parents=True)
    (log / 'test_metrics.json').write_text(
        json.dumps(dict(complete=True, record=record, metrics=metrics, classes=classes)))
    if scalars:
        (log / 'vis_data').mkdir()
        (log / 'vis_data' / 'scalars.json').write_text('\n'.join(json.dumps(s) for s in scalars))


def curve_scalars(tests):
    """Training lines of LOGGED (loss falling), then test lines ``{epoch: {set: top1}}``."""
    lines = [
        dict(lr=EPOCH_LR[epoch], loss=2.0 / epoch, epoch=epoch, iter=step, step=step)
        for step, epoch in LOGGED
    ]
    for epoch, sets in tests.items():
        line = {f'test/{s}' if s in SUMMARIES else f'test/{s}/{TOP1}': v for s, v in sets.items()}
        lines.append(dict(line, step=epoch))
    return lines


def b2n_record(method, dataset, seed, protocol='base2novel', shots=16):
    return dict(
        method=method,
        protocol=protocol,
        dataset=dataset,
        shots=shots,
        seed=seed,
        config=f'{protocol}_{dataset}',
        variant=f'{method.lower()}/{protocol}')


def write_fake_results(root):
    """Base-to-novel: B2N_METHODS x 11 datasets x 3 seeds, near the published numbers
    (AVERAGE_ONLY: 2 points under MaPLe's); MaPLe DTD seed 1 with its training curve and tests
    after epochs 1, 3 and 5. Few-shot: FEW_SHOT_METHODS x 11 datasets x K = 1 .. 16.
    Cross-dataset: one MaPLe run tested on the 11 datasets."""
    for method in B2N_METHODS:
        for key in BASE_TO_NOVEL:
            base_names, novel_names = split_names(key)
            published = BASE2NOVEL.get(method, BASE2NOVEL['MaPLe'])[key]
            for seed in (1, 2, 3):
                shift = seed - 2 - (2 if method == AVERAGE_ONLY else 0)
                base, novel = published[0] + shift, published[1] + shift / 2
                metrics = {f'base/{TOP1}': base, f'novel/{TOP1}': novel}
                metrics['HM'] = harmonic_mean(base, novel)
                scalars = ()
                if (method, key, seed) == ('MaPLe', 'dtd', 1):
                    scalars = curve_scalars({
                        e:
                        dict(
                            base=base - 10 + 2 * e,
                            novel=novel + 5 - e,
                            HM=harmonic_mean(base - 10 + 2 * e, novel + 5 - e))
                        for e in (1, 3, 5)
                    })
                write_run(root, f'b2n/{method}/{key}/seed{seed}', metrics,
                          b2n_record(method, key, seed), dict(base=base_names, novel=novel_names),
                          scalars)
    for method, offset in FEW_SHOT_METHODS:
        for key in BASE_TO_NOVEL:
            names = [f'c{i}' for i in range(BENCHMARKS[key].num_classes)]
            for shots in (1, 2, 4, 8, 16):
                for seed in (1, 2, 3):
                    top1 = 50 + 5 * math.log2(shots) + offset + seed
                    write_run(root, f'fs/{method}/{key}/{shots}/seed{seed}', {f'test/{TOP1}': top1},
                              b2n_record(method, key, seed, 'few_shot', shots), dict(test=names))
    targets = {key: 60.0 + i for i, key in enumerate(BASE_TO_NOVEL)}
    metrics = {f'{key}/{TOP1}': v for key, v in targets.items()}
    metrics['target_average'] = sum(v for k, v in targets.items() if k != 'imagenet') / 10
    write_run(
        root,
        'xd/maple/seed1',
        metrics,
        b2n_record('MaPLe', 'imagenet', 1, 'cross_dataset'),
        {key: [f'c{i}' for i in range(BENCHMARKS[key].num_classes)]
         for key in BASE_TO_NOVEL},
        scalars=[
            line
            for line in curve_scalars({2: dict(targets, target_average=metrics['target_average'])})
            if line['step'] in (20, 45, 2)
        ])


@pytest.fixture(scope='module')
def drawn(tmp_path_factory):
    """{file stem: figure} of plot_results on the fake results, with --paper."""
    root = tmp_path_factory.mktemp('fake_results')
    write_fake_results(root)
    runs = collect_runs([root]).runs
    found = {}
    original = figures.save_figure

    def keep(figure, out_dir, stem, overwrite=False):
        found[f'{out_dir.name}/{stem}' if out_dir.name == 'curves' else stem] = figure
        return original(figure, out_dir, stem, overwrite)

    figures.save_figure = keep
    try:
        written = figures.plot_results(runs, root / 'plots', paper=True)
    finally:
        figures.save_figure = original
    assert all(p.stat().st_size > 5000 for p in written)
    for figure in found.values():
        draw(figure)
    return found


def draw(figure):
    """Lay the figure out as saved (a closed figure gets a fresh Agg canvas)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    FigureCanvasAgg(figure).draw()


def boxes(figure):
    renderer = figure.canvas.get_renderer()
    legends = list(
        figure.legends) + [ax.get_legend() for ax in figure.axes if ax.get_legend() is not None]
    return ([legend.get_window_extent(renderer) for legend in legends],
            [ax.get_window_extent(renderer) for ax in figure.axes if ax.get_visible()])


def test_every_figure_kind_is_drawn(drawn):
    assert set(drawn) == {
        'base2novel_16shots', 'few_shot', 'curves/MaPLe_base2novel_dtd_16shots_seed1',
        'curves/MaPLe_cross_dataset_imagenet_16shots_seed1',
        'cross_dataset_transfer_imagenet_16shots'
    }


def test_per_set_figure_bars_with_values_chance_and_the_published_row(drawn):
    """A panel per column of the cross-dataset table: the run's bar and, where published,
    MaPLe's paper row hatched; each bar's value; chance at 100 / the set's classes."""
    found = panels(drawn['cross_dataset_transfer_imagenet_16shots'])
    assert list(found) == [*BASE_TO_NOVEL, 'target_average']
    for column, ax in found.items():
        values = [t.get_text() for t in ax.texts if t.get_gid() == 'bar value']
        hatched = [p.get_hatch() for p in ax.patches]
        published = CROSS_DATASET['MaPLe'].get(column)
        run = 60.0 + list(BASE_TO_NOVEL).index(column) if column != 'target_average' else None
        if run is not None:
            assert values[0] == f'{run:.1f}'
        if published is not None:
            assert values[-1] == f'{published:.1f}' and hatched[-1] == '//'
        chance = [line.get_ydata()[0] for line in ax.get_lines() if line.get_gid() == 'chance']
        expected = [100 / BENCHMARKS[column].num_classes] if column in BENCHMARKS else []
        assert chance == pytest.approx(expected)


def test_no_legend_covers_an_axes(drawn):
    """Legends sit outside every axes area, so they hide no data point (issue: the curves'
    legend covered the test points)."""
    for stem, figure in drawn.items():
        legends, axes = boxes(figure)
        assert legends, stem
        for legend in legends:
            assert not any(legend.overlaps(ax) for ax in axes), stem


def curve_axes(figure):
    (loss, ) = [ax for ax in figure.axes if ax.get_title().startswith('training loss')]
    (lr, ) = [ax for ax in figure.axes if ax.get_title().startswith('learning rate')]
    (test, ) = [ax for ax in figure.axes if ax.get_title().startswith('test top-1')]
    return loss, lr, test


def test_training_curve_loss_and_lr_in_their_own_axes_and_the_lr_as_steps(drawn):
    loss, lr, _ = curve_axes(drawn['curves/MaPLe_base2novel_dtd_16shots_seed1'])
    (loss_line, ) = loss.get_lines()
    # 25 iterations per epoch, found from the logged (step, epoch) pairs.
    assert list(loss_line.get_xdata()) == pytest.approx([s / 25 for s, _ in LOGGED])
    assert list(loss_line.get_ydata()) == [2.0 / e for _, e in LOGGED]
    (steps, ) = lr.get_lines()
    expected = [(x, EPOCH_LR[e]) for e in EPOCH_LR for x in (e - 1, e)]
    assert list(zip(steps.get_xdata(), steps.get_ydata())) == expected
    # Each epoch's lr is written on its step.
    assert [t.get_text() for t in lr.texts] == [f'{v:.3g}' for v in EPOCH_LR.values()]
    assert lr.get_ylim()[0] == 0 and loss.get_ylim() != lr.get_ylim()


def test_training_curve_tests_with_their_values_and_chance(drawn):
    _, _, test = curve_axes(drawn['curves/MaPLe_base2novel_dtd_16shots_seed1'])
    lines = {line.get_label(): line for line in test.get_lines() if line.get_gid() != 'chance'}
    base = BASE2NOVEL['MaPLe']['dtd'][0] - 1  # seed 1
    assert list(lines[f'base: {base:.2f}'].get_xdata()) == [1, 3, 5]
    assert list(lines[f'base: {base:.2f}'].get_ydata()) == [base - 8, base - 4, base]
    # Markers shrink set by set: equal values stay visible.
    sizes = [lines[k].get_markersize() for k in lines if not k.startswith('chance')]
    assert sizes == sorted(sizes, reverse=True) and len(set(sizes)) == len(sizes)
    chance = sorted(line.get_ydata()[0] for line in test.get_lines() if line.get_gid() == 'chance')
    assert chance == pytest.approx(sorted(100 / len(names) for names in split_names('dtd')))


def test_cross_dataset_curve_has_every_set(drawn):
    _, _, test = curve_axes(drawn['curves/MaPLe_cross_dataset_imagenet_16shots_seed1'])
    labels = [line.get_label() for line in test.get_lines() if line.get_gid() != 'chance']
    assert len(labels) == 11 + 1 + 1  # the sets, target_average and the chance key
    chance = [line.get_ydata()[0] for line in test.get_lines() if line.get_gid() == 'chance']
    # One line per level: Caltech101 and FGVCAircraft (100 classes) share one, as do
    # Food101 and UCF101 (101).
    assert sorted(chance) == pytest.approx(
        sorted({100 / BENCHMARKS[k].num_classes
                for k in BASE_TO_NOVEL}))


def panels(figure):
    return {ax.get_title().split(' (chance')[0]: ax for ax in figure.axes if ax.get_visible()}


def bar_heights(ax):
    return [patch.get_height() for patch in ax.patches]


def test_base2novel_average_panel_with_values_chance_and_published_marks(drawn):
    figure = drawn['base2novel_16shots']
    found = panels(figure)
    assert list(found) == [BENCHMARKS[k].name for k in BASE_TO_NOVEL] + ['Average']
    average = found['Average']
    # Bars: each method's mean Base and Novel over the 11 datasets; values written on them.
    means = {}
    for method in B2N_METHODS:
        shift = -2 if method == AVERAGE_ONLY else 0
        published = BASE2NOVEL.get(method, BASE2NOVEL['MaPLe'])
        means[method] = [
            sum(published[k][i] for k in BASE_TO_NOVEL) / 11 + shift / (1 + i) for i in (0, 1)
        ]
    assert bar_heights(average) == pytest.approx([v for m in B2N_METHODS for v in means[m]])
    assert [t.get_text() for t in average.texts
            if t.get_gid() == 'bar value'] == [f'{v:.1f}' for m in B2N_METHODS for v in means[m]]
    # HM under each method.
    ticks = [t.get_text() for t in average.get_xticklabels()]
    assert ticks == [f'{m}\nHM {harmonic_mean(*means[m]):.2f}' for m in B2N_METHODS]
    # Chance: 100 / classes of the base and the novel set; the Average's is their mean.
    dtd = [line.get_ydata()[0] for line in found['DTD'].get_lines() if line.get_gid() == 'chance']
    assert sorted(dtd) == pytest.approx([100 / 24, 100 / 23])
    assert found['DTD'].get_title() == 'DTD (chance 4.2 / 4.3)'  # Base / Novel
    mean_chance = [sum(100 / len(split_names(k)[i]) for k in BASE_TO_NOVEL) / 11 for i in (0, 1)]
    average_chance = [
        line.get_ydata()[0] for line in average.get_lines() if line.get_gid() == 'chance'
    ]
    assert average_chance == pytest.approx(mean_chance)
    # The published average of the 11 datasets: MaPLe's HM star and Base / Novel marks.
    stars = [
        tuple(line.get_xydata()[0]) for line in average.get_lines() if line.get_marker() == '*'
    ]
    assert (B2N_METHODS.index(EXAMPLE), BASE2NOVEL_AVERAGE[EXAMPLE][2]) in stars
    # A method published as an average alone gets its average's marks there too.
    assert (B2N_METHODS.index(AVERAGE_ONLY), BASE2NOVEL_AVERAGE[AVERAGE_ONLY][2]) in stars


def test_base2novel_average_panel_also_for_one_dataset(tmp_path):
    """The table's Average row is drawn whatever the number of datasets."""
    names = split_names('eurosat')
    write_run(tmp_path, 'r', {
        f'base/{TOP1}': 80.0,
        f'novel/{TOP1}': 60.0,
        'HM': harmonic_mean(80, 60)
    }, b2n_record('MaPLe', 'eurosat', 1), dict(base=names[0], novel=names[1]))
    runs = collect_runs([tmp_path]).runs
    (table, ) = figures.base2novel_tables(runs)
    figure = figures.base2novel_figure(
        table, {'EuroSAT': 'eurosat'}, chance={r[0]: (20.0, 20.0)
                                               for r in table.rows})
    found = panels(figure)
    assert list(found) == ['EuroSAT', 'Average (1 dataset)']
    assert bar_heights(found['Average (1 dataset)']) == [80.0, 60.0]
    assert found['Average (1 dataset)'].get_title() == 'Average (1 dataset) (chance 20.0)'


def test_every_methods_name_and_hm_stay_legible(tmp_path, drawn):
    """With every method in one panel, no method's tick label (name and HM) runs into
    another's."""
    names = split_names('eurosat')
    for i, method in enumerate(TABLE_ORDER):
        base, novel = 70.0 + i, 60.0 + i
        write_run(tmp_path, method, {
            f'base/{TOP1}': base,
            f'novel/{TOP1}': novel,
            'HM': harmonic_mean(base, novel)
        }, b2n_record(method, 'eurosat', 1), dict(base=names[0], novel=names[1]))
    (table, ) = figures.base2novel_tables(collect_runs([tmp_path]).runs)
    figure = figures.base2novel_figure(table, {'EuroSAT': 'eurosat'}, paper=True)
    draw(figure)
    for ax in figure.axes:
        assert len(ax.get_xticklabels()) == len(TABLE_ORDER)
        assert not crossing_tick_labels(ax), crossing_tick_labels(ax)
    # and the fake sweep's panels of three methods
    for ax in panels(drawn['base2novel_16shots']).values():
        assert not crossing_tick_labels(ax), crossing_tick_labels(ax)


def _label_corners(label, renderer):
    """The four corners (display coordinates) of a tick label as drawn: its unrotated box
    turned about its anchor (``rotation_mode='anchor'``, right-aligned, top)."""
    import numpy as np
    angle = label.get_rotation()
    label.set_rotation(0)
    box = label.get_window_extent(renderer)
    label.set_rotation(angle)
    assert label.get_ha() == 'right' and label.get_rotation_mode() == 'anchor'
    anchor = np.array([box.x1, box.y1])
    local = np.array([(0, 0), (-box.width, 0), (-box.width, -box.height), (0, -box.height)])
    turn = np.deg2rad(angle)
    rotation = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    return anchor + local @ rotation.T


def _quads_overlap(a, b) -> bool:
    """Whether two convex quadrilaterals overlap (no separating edge normal)."""
    import numpy as np
    for quad in (a, b):
        for k in range(4):
            edge = quad[(k + 1) % 4] - quad[k]
            normal = np.array([-edge[1], edge[0]])
            pa, pb = a @ normal, b @ normal
            if pa.max() <= pb.min() or pb.max() <= pa.min():
                return False
    return True


def crossing_tick_labels(ax):
    """Pairs of an axes' x tick labels whose drawn (rotated) boxes overlap."""
    renderer = ax.figure.canvas.get_renderer()
    labels = ax.get_xticklabels()
    quads = [_label_corners(t, renderer) for t in labels]
    return [(labels[i].get_text(), labels[j].get_text()) for i in range(len(quads))
            for j in range(i + 1, len(quads)) if _quads_overlap(quads[i], quads[j])]


def test_few_shot_panels_give_chance(drawn):
    found = panels(drawn['few_shot'])
    assert list(found) == [BENCHMARKS[k].name for k in BASE_TO_NOVEL] + ['Average']
    assert found['EuroSAT'].get_title() == 'EuroSAT (chance 10.0)'
    assert [c.get_label() for c in found['Average'].containers
            ] == [m for m in TABLE_ORDER if m in dict(FEW_SHOT_METHODS)]


def test_iterations_per_epoch_from_the_logged_lines():
    lines = [dict(step=s, epoch=e, loss=1.0) for s, e in LOGGED]
    assert figures.iterations_per_epoch(lines) == 25
    # Without each epoch's last line (mmengine's ignore_last), a lower bound under which
    # every line still falls inside its epoch.
    lines = [line for line in lines if line['step'] % 25]
    estimate = figures.iterations_per_epoch(lines)
    assert estimate == 24
    assert all(e - 1 < line['step'] / estimate <= e for line in lines for e in [line['epoch']])
    assert figures.iterations_per_epoch([dict(step=3, loss=1.0)]) is None
    # A per-iteration schedule is not drawn as steps.
    assert figures.epoch_learning_rates(
        [dict(step=1, epoch=1, lr=1.0),
         dict(step=2, epoch=1, lr=0.5)]) is None


def test_a_real_run_logs_each_epochs_end_and_its_curve_draws_the_schedulers_lr(
        tmp_path, fast_cpu_runs):  # noqa: F811
    """A tiny MaPLe run of 2 epochs of 4 iterations, logged every 3: ProgressLoggerHook also
    logs each epoch's last iteration, so the curve knows the epoch length exactly and
    draws the lr the scheduler set for each epoch as one step."""
    from mmpretrain.registry import RUNNERS

    from ..test_configs.tiny_runs import load, tiny, write_miniature
    from ..test_configs.zoo import CONFIGS
    write_miniature(tmp_path / 'data', 'dtd')
    cfg = tiny(
        load(CONFIGS / 'maple' / 'base2novel_dtd.py'),
        tmp_path / 'data',
        tmp_path / 'run',
        epochs=2)
    cfg.train_dataloader.batch_size = 1
    cfg.default_hooks.logger.interval = 3
    runner = RUNNERS.build(cfg)
    runner.train()
    per_epoch = len(runner.train_dataloader)
    train, _ = figures.read_scalars(tmp_path / 'run')
    assert per_epoch == 4 and [e['step'] for e in train] == [3, 4, 7, 8]
    assert figures.iterations_per_epoch(train) == per_epoch
    figure = figures.training_curve_figure(tmp_path / 'run', 'MaPLe')
    _, lr, _ = curve_axes(figure)
    (steps, ) = lr.get_lines()
    rates = [train[1]['lr'], train[3]['lr']]
    assert rates[0] == 1e-5 and rates[1] == cfg.optim_wrapper.optimizer.lr  # warm-up, then lr
    assert list(zip(steps.get_xdata(), steps.get_ydata())) == [(0, rates[0]), (1, rates[0]),
                                                               (1, rates[1]), (2, rates[1])]

    # A later test of its checkpoint alone (tools/test.py's way) is placed at the epoch the
    # checkpoint was saved at, as the record says, not at 0.
    test_cfg = cfg.copy()
    test_cfg.load_from, test_cfg.resume = str(tmp_path / 'run' / 'epoch_2.pth'), False
    tester = RUNNERS.build(test_cfg)
    tester.test()
    _, tests = figures.read_scalars(tmp_path / 'run')
    assert [line['step'] for line in tests] == [2]
    (metrics, ) = (tmp_path / 'run').glob('*/test_metrics.json')
    record = json.loads(metrics.read_text())
    assert record['record']['checkpoint']['epoch'] == 2
    _, _, test_axes = curve_axes(figures.training_curve_figure(tmp_path / 'run', 'MaPLe'))
    assert {
        x
        for line in test_axes.get_lines() if line.get_gid() != 'chance' for x in line.get_xdata()
    } == {2}

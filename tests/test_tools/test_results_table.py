"""tools/results_table.py: methods side by side, read from each run's record.

First on test_metrics.json files with known numbers (exact means, std, HM and
Average rows), then on a tiny sweep of every method run on miniature data. Runs
are of the example method (MaPLe) and of methods picked by what is published
for them (tests/test_method_files.py: no other method is named here).
"""
import contextlib
import csv
import io
import json
import math
import shutil

import pytest
from mmpretrain.registry import RUNNERS

from maple_mm.errors import MapleUserError
from maple_mm.evaluation import collect_runs, harmonic_mean
from maple_mm.evaluation.published import BASE2NOVEL, BASE2NOVEL_AVERAGE
from maple_mm.evaluation.published import METHODS as TABLE_ORDER
from maple_mm.evaluation.published import PER_SET_ROWS, per_set_rows
from maple_mm.run_layout import newest_test_metrics, sweep_work_dir
from ..conftest import load_tool, run_tool_here
from ..method_rows import trained_folders
from ..test_configs.tiny_runs import fast_cpu_runs, load, tiny, write_miniature  # noqa: F401
from ..test_configs.zoo import CONFIGS, METHODS, built

pytestmark = pytest.mark.long_running(seconds=33)

results_table = load_tool('tools/results_table.py')

TOP1 = 'accuracy/top1'
#: Another method with published per-dataset numbers than the example (the first in table order).
OTHER = next(m for m in BASE2NOVEL if m != 'MaPLe')
#: A method whose published base-to-novel numbers are the average alone.
AVERAGE_ONLY = next(m for m in BASE2NOVEL_AVERAGE if m not in BASE2NOVEL)
#: A name no method has (the tables take any method a record names).
UNPUBLISHED = 'SomeOtherMethod'


def write_run(root, folder, metrics, time='20250101_000000', **record):
    path = root / folder / time / 'test_metrics.json'
    path.parent.mkdir(parents=True)
    record = dict(
        dict(protocol='base2novel', dataset='dtd', shots=16, seed=1, config='c'), **record)
    path.write_text(json.dumps(dict(complete=True, record=record, metrics=metrics)))


def base2novel(base, novel):
    return {f'base/{TOP1}': base, f'novel/{TOP1}': novel, 'HM': harmonic_mean(base, novel)}


def run(*args):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        results_table.main([str(a) for a in args])
    return out.getvalue()


def tables(markdown):
    """{title: {first cell: {column: cell}}} of every Markdown table."""
    found, title, header = {}, None, None
    for line in markdown.splitlines():
        if line.startswith('**'):
            title, header = line.strip('*'), None
            found[title] = {}
        elif line.startswith('|') and not line.startswith('|---'):
            cells = [c.strip() for c in line.strip('|').split(' | ')]
            if header is None:
                header = cells
            else:
                found[title][cells[0]] = dict(zip(header[1:], cells[1:]))
    return found


def table(markdown, title_part):
    (rows, ) = [rows for title, rows in tables(markdown).items() if title_part in title]
    return rows


def hm(b, n):
    return 2 * b * n / (b + n)


@pytest.fixture
def root(tmp_path):
    """Folder names are deliberately meaningless: the records say what each run is."""
    for seed, (b, n) in enumerate([(80, 60), (82, 60), (84, 63)], 1):
        write_run(tmp_path, f'run{seed}', base2novel(b, n), method='MaPLe', seed=seed)
    for seed, (b, n) in enumerate([(90, 70), (94, 80)], 1):
        write_run(
            tmp_path, f'e{seed}', base2novel(b, n), method='MaPLe', seed=seed, dataset='eurosat')
    # An older test of the same run is ignored: the newest log folder counts.
    write_run(
        tmp_path, 'e1', base2novel(1, 1), time='20240101_000000', method='MaPLe', dataset='eurosat')
    write_run(tmp_path, 'other_dtd', base2novel(85, 40), method=OTHER)
    for folder, shots, seed, acc in [('f1', 1, 1, 40), ('f2', 1, 2, 44), ('f3', 16, 1, 70)]:
        write_run(
            tmp_path,
            folder, {f'test/{TOP1}': acc},
            method=OTHER,
            protocol='few_shot',
            shots=shots,
            seed=seed)
    write_run(
        tmp_path,
        'f4', {f'test/{TOP1}': 50},
        method=OTHER,
        protocol='few_shot',
        dataset='eurosat',
        shots=1)
    for seed, (i, d, e) in enumerate([(70, 40, 50), (72, 42, 52)], 1):
        write_run(
            tmp_path,
            f'x{seed}', {
                f'imagenet/{TOP1}': i,
                f'dtd/{TOP1}': d,
                f'eurosat/{TOP1}': e,
                'target_average': (d + e) / 2
            },
            method=UNPUBLISHED,
            protocol='cross_dataset',
            dataset='imagenet',
            seed=seed)
    (tmp_path / 'unfinished' / '20250101_000000').mkdir(parents=True)
    old = tmp_path / 'old' / '20250101_000000'
    old.mkdir(parents=True)
    (old / 'test_metrics.json').write_text(json.dumps(base2novel(1, 2)))  # no record
    return tmp_path


def test_base2novel_methods_side_by_side(root, capsys):
    rows = table(run(root), 'Base-to-novel')
    dtd_base_std = math.sqrt(8 / 3)  # 80, 82, 84: population std
    dtd_novel_std = math.sqrt(6 / 3)  # 60, 60, 63
    assert rows['DTD'] == {
        f'{OTHER} Base': '85.00 ± 0.00',
        f'{OTHER} Novel': '40.00 ± 0.00',
        f'{OTHER} HM': f'{hm(85, 40):.2f}',
        'MaPLe Base': f'82.00 ± {dtd_base_std:.2f}',
        'MaPLe Novel': f'61.00 ± {dtd_novel_std:.2f}',
        'MaPLe HM': f'{hm(82, 61):.2f}'
    }
    assert rows['EuroSAT']['MaPLe Base'] == '92.00 ± 2.00'
    assert rows['EuroSAT'][f'{OTHER} Base'] == '-'
    # Average row: HM of the mean Base (87) and mean Novel (68) over the datasets; none
    # for the other method, which ran on one of the two.
    average = rows['Average (2 datasets)']
    assert [average[f'MaPLe {c}']
            for c in ('Base', 'Novel', 'HM')] == ['87.00', '68.00', f'{hm(87, 68):.2f}']
    assert average[f'{OTHER} HM'] == '-'
    err = capsys.readouterr().err
    assert 'unfinished has no test metrics yet' in err
    assert 'old/20250101_000000/test_metrics.json was written by an earlier version' in err


def test_paper_columns_next_to_the_runs(root):
    markdown = run(root, '--paper')
    rows = table(markdown, 'Base-to-novel')
    header = next(line for line in markdown.splitlines() if line.startswith('| Dataset'))
    groups = [c[:-len(' Base')] for c in header.strip('|').split(' | ') if c.endswith(' Base')]
    # Each method in table order: its runs, then its published numbers (always for the
    # methods published per dataset, the others only when they ran).
    assert groups == [
        group for method in TABLE_ORDER
        for group in ([method] if method in (OTHER, 'MaPLe') else []) +
        ([f'{method} (paper)'] if method in BASE2NOVEL else [])
    ]
    for method in BASE2NOVEL:
        published = BASE2NOVEL[method]['dtd']
        assert [rows['DTD'][f'{method} (paper) {c}']
                for c in ('Base', 'Novel', 'HM')] == [f'{v:.2f}' for v in published]
        # The published average covers all 11 datasets: not shown for 2.
        assert rows['Average (2 datasets)'][f'{method} (paper) HM'] == '-'


def test_all_eleven_datasets_give_the_average_rows_and_their_paper_numbers(tmp_path):
    for method in ('MaPLe', AVERAGE_ONLY):
        for key, (base, novel, _) in BASE2NOVEL['MaPLe'].items():
            write_run(
                tmp_path, f'{method}_{key}', base2novel(base, novel), method=method, dataset=key)
    rows = table(run(tmp_path, '--paper'), 'Base-to-novel')
    assert list(rows)[0] == 'ImageNet' and list(rows)[-1] == 'Average'
    # The published per-dataset numbers reproduce the published Average row.
    assert [rows['Average'][f'MaPLe {c}']
            for c in ('Base', 'Novel', 'HM')] == ['82.28', '75.14', '78.55']
    assert rows['Average']['MaPLe (paper) HM'] == '78.55'
    for method in BASE2NOVEL:
        assert rows['Average'][f'{method} (paper) Novel'] == f'{BASE2NOVEL_AVERAGE[method][1]:.2f}'
    # A method published as its average alone: the Average row has it, no dataset does.
    for column, value in zip(('Base', 'Novel', 'HM'), BASE2NOVEL_AVERAGE[AVERAGE_ONLY]):
        assert rows['Average'][f'{AVERAGE_ONLY} (paper) {column}'] == \
            ('-' if value is None else f'{value:.2f}')
    assert rows['DTD'][f'{AVERAGE_ONLY} (paper) HM'] == '-'


def test_few_shot_table_per_method(root):
    rows = table(run(root), f'{OTHER} few-shot')
    assert rows['DTD'] == {'1 shot': '42.00 ± 2.00', '16 shots': '70.00 ± 0.00'}
    assert rows['EuroSAT'] == {'1 shot': '50.00 ± 0.00', '16 shots': '-'}
    # 16 shots ran on DTD only: no average that would cover 1 of the 2 datasets.
    assert rows['Average (2 datasets)'] == {'1 shot': '46.00', '16 shots': '-'}


def test_per_set_table_one_row_per_method(root):
    markdown = run(root, '--paper')
    rows = table(markdown, 'Cross-dataset transfer, trained on ImageNet')
    assert rows[UNPUBLISHED] == {
        'Seeds': '2',
        'imagenet': '71.00 ± 1.00',
        'dtd': '41.00 ± 1.00',
        'eurosat': '51.00 ± 1.00',
        'target_average': '46.00 ± 1.00'
    }
    assert rows['MaPLe (paper)'] == {
        'Seeds': '3',
        'imagenet': '70.72',
        'dtd': '-',
        'eurosat': '-',
        'target_average': '66.30'
    }


def test_test_time_rows_beside_their_base_methods_in_tables_and_figures(tmp_path):
    """Domain generalisation runs of a method, of TPT on it and of PromptAlign with --paper:
    each test-time row right after the method it tunes (runs, then the paper's), PromptAlign
    after MaPLe+TPT; the PromptAlign README's ViT-B/16 numbers; a figure of the table."""
    from maple_mm.evaluation.published import (DOMAIN_GENERALIZATION, PUBLISHED_BACKBONE, ROWS,
                                               TEST_TIME_METHODS, per_set_rows)
    tuned_row = next(r for r, m in TEST_TIME_METHODS.items()
                     if m in DOMAIN_GENERALIZATION and r in DOMAIN_GENERALIZATION and m != 'MaPLe')
    tuned = TEST_TIME_METHODS[tuned_row]
    sets = ['imagenet', 'imagenetv2', 'imagenet_sketch', 'imagenet_a', 'imagenet_r']
    runs = {tuned: 60, tuned_row: 62, 'PromptAlign': 64}
    for method, value in runs.items():
        metrics = {f'{s}/{TOP1}': value + i for i, s in enumerate(sets)}
        metrics['target_average'] = value + 2.5
        write_run(
            tmp_path,
            method,
            metrics,
            method=method,
            protocol='domain_generalization',
            dataset='imagenet')
    markdown = run(tmp_path, '--paper', '--plot', tmp_path / 'plots')
    rows = table(markdown, 'Domain generalisation, trained on ImageNet')
    # The runs record no CLIP: the published rows are ViT-B/16's, each method's configs'
    # (CoOp's also the CoOp paper's ViT-B/16 settings), after the method's runs.
    published = per_set_rows('domain_generalization', PUBLISHED_BACKBONE)
    assert list(rows) == [
        label for row in ROWS
        for label in [row] * (row in runs) + [r.label for r in published if r.method == row]
    ]
    labels = list(rows)
    assert labels.index(tuned_row) == labels.index(f'{tuned} (paper)') + 1
    assert labels[-4:] == [
        'MaPLe (paper)', 'MaPLe+TPT (paper)', 'PromptAlign', 'PromptAlign (paper)'
    ]
    assert rows['PromptAlign (paper)'] == {
        'Seeds': '3',
        'imagenet': '-',
        'imagenetv2': '65.29',
        'imagenet_sketch': '56.23',
        'imagenet_a': '59.37',
        'imagenet_r': '79.33',
        'target_average': '63.55'
    }
    assert rows[tuned_row]['imagenet_a'] == '65.00 ± 0.00'
    figure = tmp_path / 'plots' / 'domain_generalisation_imagenet_16shots.png'
    assert figure.stat().st_size > 5000


def test_csv_holds_every_number_at_full_precision(root, tmp_path):
    out = tmp_path / 'table.csv'
    run(root, '--csv', out)
    records = list(csv.DictReader(out.open()))
    dtd_base = next(r for r in records if r['row'] == 'DTD' and r['column'] == 'MaPLe Base')
    assert float(dtd_base['value']) == 82.0
    assert float(dtd_base['std']) == pytest.approx(math.sqrt(8 / 3))
    assert dtd_base['num_seeds'] == '3'
    average_hm = next(r for r in records
                      if r['row'].startswith('Average') and r['column'] == 'MaPLe HM')
    assert float(average_hm['value']) == pytest.approx(hm(87, 68))


def test_existing_outputs_are_not_overwritten(root, tmp_path):
    out = tmp_path / 'table.md'
    out.write_text('mine')
    with pytest.raises(MapleUserError, match='already exists; pass --overwrite'):
        run(root, '--markdown', out)
    assert out.read_text() == 'mine'
    run(root, '--markdown', out, '--overwrite')
    assert '**Base-to-novel generalisation' in out.read_text()


def test_every_test_in_one_work_dir_is_a_row(tmp_path, capsys):
    """tools/test.py of a MaPLe checkpoint, then of another method's, into one work dir: both
    are rows (the table read only the newest log folder of a work dir)."""
    write_run(tmp_path, 'W', base2novel(80, 60), time='20250101_000000', method='MaPLe')
    write_run(tmp_path, 'W', base2novel(70, 50), time='20250101_000001', method=OTHER)
    # The MaPLe run tested again, and a test of it that stopped after its first set.
    write_run(tmp_path, 'W', base2novel(81, 61), time='20250101_000002', method='MaPLe')
    write_run(tmp_path, 'W', {f'base/{TOP1}': 10}, time='20250101_000003', method='MaPLe', seed=2)
    stopped = tmp_path / 'W' / '20250101_000003' / 'test_metrics.json'
    stopped.write_text(json.dumps(dict(json.loads(stopped.read_text()), complete=False)))
    rows = table(run(tmp_path), 'Base-to-novel')
    assert (rows['DTD']['MaPLe Base'], rows['DTD'][f'{OTHER} Base']) == ('81.00 ± 0.00',
                                                                         '70.00 ± 0.00')
    err = capsys.readouterr().err.splitlines()
    older, newer = (
        tmp_path / 'W' / t / 'test_metrics.json' for t in ('20250101_000000', '20250101_000002'))
    assert err == [
        f'note: {stopped} is a test that stopped before its last set (MaPLe, dtd, 16 shots, '
        'seed 2); left out (test the run again to include it)',
        f'note: {older} is an earlier test of the run MaPLe, dtd, 16 shots, seed 1; the newest, '
        f'{newer}, counts.'
    ]


def test_no_finished_runs_is_a_clear_error(tmp_path):
    with pytest.raises(MapleUserError, match='No finished runs'):
        run(tmp_path)


# -- a tiny sweep of every method -----------------------------------------------------
#: The example and the first trained method (table order) with two seeds; the others: seed 1.
SWEEP_SEEDS = {trained_folders()[0]: (1, 2), 'maple': (1, 2)}


@pytest.fixture(scope='module')
def sweep(tmp_path_factory, fast_cpu_runs):  # noqa: F811
    """Every method on base-to-novel DTD, laid out as tools/run_sweep.py lays runs out."""
    tmp = tmp_path_factory.mktemp('zoo_sweep')
    data_root = tmp / 'data'
    write_miniature(data_root, 'dtd')
    root = tmp / 'work'
    for folder in METHODS:
        config = CONFIGS / folder / 'base2novel_dtd.py'
        for seed in SWEEP_SEEDS.get(folder, (1, )):
            work_dir = sweep_work_dir(root, config, seed)
            cfg = tiny(load(config, '--seed', str(seed)), data_root, work_dir)
            runner = RUNNERS.build(cfg)  # MapleRunner, as the tools run it
            if cfg.get('train_dataloader'):
                runner.train()
            runner.test()
    return root


def recorded(root, folder, seed):
    path = newest_test_metrics(root / folder / 'base2novel_dtd' / f'seed{seed}')
    return json.loads(path.read_text())['metrics']


def test_sweep_table_equals_the_recorded_metrics(sweep):
    markdown = run(sweep)
    for folder, method in METHODS.items():
        # One table per number of shots: the recipes' 16, ProGrad's 4.
        cfg = built(CONFIGS / folder / 'base2novel_dtd.py')
        shots = (cfg.get('train_dataloader') or cfg.test_dataloader).dataset.num_shots
        # The sweep's runs are on the tiny CLIP: a custom one, as the titles say.
        rows = table(markdown,
                     f'Base-to-novel generalisation (top-1 %, {shots} shots, custom CLIP)')
        runs = [recorded(sweep, folder, s) for s in SWEEP_SEEDS.get(folder, (1, ))]
        base = sum(r[f'base/{TOP1}'] for r in runs) / len(runs)
        novel = sum(r[f'novel/{TOP1}'] for r in runs) / len(runs)
        cells = rows['DTD']
        assert cells[f'{method} Base'].startswith(f'{base:.2f} ± ')
        assert cells[f'{method} Novel'].startswith(f'{novel:.2f} ± ')
        assert cells[f'{method} HM'] == f'{harmonic_mean(base, novel):.2f}'
        if len(runs) == 1:
            assert runs[0]['HM'] == pytest.approx(harmonic_mean(base, novel))
        average = rows['Average (1 dataset)']
        assert average[f'{method} HM'] == cells[f'{method} HM']


def test_two_variants_of_one_method_side_by_side_and_no_result_silently_replaced(tmp_path, capsys):
    """An ablation keeps its own columns and rows; two results of one run are reported."""
    deep, shallow = 'maple/base2novel', 'maple/base2novel [model.prompt_learner.depth=3]'
    for seed in (1, 2):
        write_run(
            tmp_path,
            f'deep{seed}',
            base2novel(80 + seed, 60),
            method='MaPLe',
            seed=seed,
            variant=deep)
        write_run(
            tmp_path,
            f'shallow{seed}',
            base2novel(70 + seed, 50),
            method='MaPLe',
            seed=seed,
            variant=shallow)
    for seed in (1, 2):  # cross-dataset: one row per variant
        for variant, acc in ((deep, 70), (shallow, 60)):
            write_run(
                tmp_path,
                f'x{variant[-2:]}{seed}', {
                    f'imagenet/{TOP1}': acc + seed,
                    'target_average': acc
                },
                method='MaPLe',
                protocol='cross_dataset',
                dataset='imagenet',
                seed=seed,
                variant=variant)
    # The same run (identity) again in another folder, tested later, by 4 processes.
    write_run(
        tmp_path,
        'copy_of_deep1',
        base2novel(99, 99),
        time='20250303_000000',
        method='MaPLe',
        seed=1,
        variant=deep,
        processes=4)
    markdown = run(tmp_path)
    rows = table(markdown, 'Base-to-novel')
    assert rows['DTD'][f'MaPLe ({shallow}) Base'] == '71.50 ± 0.50'
    assert rows['DTD'][f'MaPLe ({deep}) Base'] == '90.50 ± 8.50'  # 99 (newest) and 82
    assert f'Seeds: MaPLe ({deep}) 2, MaPLe ({shallow}) 2' in markdown
    cross = table(markdown, 'Cross-dataset')
    assert (cross[f'MaPLe ({deep})']['imagenet'],
            cross[f'MaPLe ({shallow})']['imagenet']) == ('71.50 ± 0.50', '61.50 ± 0.50')
    err = capsys.readouterr().err
    assert (f'warning: two results of one run (MaPLe {deep}, dtd, 16 shots, seed 1): '
            f'{tmp_path / "deep1"}') in err
    assert 'their records differ in processes (None vs 4)' in err
    assert f'The tables show the newest, {tmp_path / "copy_of_deep1"}' in err


def test_a_sweep_and_a_test_of_another_checkpoint_in_its_folder_lose_no_record(sweep, tmp_path):
    """The sweep's two methods with 2 seeds each, and a checkpoint of the other one's seed 3
    tested (with tools/test.py, without --seed) into MaPLe's seed-1 folder: every record is
    listed, under the method and seed of the run that wrote its checkpoint."""
    folder = next(f for f in SWEEP_SEEDS if f != 'maple')
    other = METHODS[folder]
    root = tmp_path / 'work'
    shutil.copytree(sweep, root)
    data_root = sweep.parent / 'data'
    config = CONFIGS / folder / 'base2novel_dtd.py'
    cfg = tiny(load(config, '--seed', '3'), data_root, tmp_path / 'other_seed3')
    RUNNERS.build(cfg).train()  # as the sweep trained its runs
    dumped = tmp_path / folder / 'base2novel_dtd.py'
    dumped.parent.mkdir()
    cfg.dump(dumped)
    maple_seed1 = root / 'maple' / 'base2novel_dtd' / 'seed1'
    assert run_tool_here('test', dumped, tmp_path / 'other_seed3' / 'epoch_1.pth', '--work-dir',
                         maple_seed1) is None
    found = collect_runs([root])
    seeds = {}
    for r in found.runs:
        seeds.setdefault(r.method, []).append(r.seed)
    assert seeds[other] == [1, 2, 3] and seeds['MaPLe'] == [1, 2]
    assert not found.duplicates and not found.incomplete and not found.unrecorded
    assert len(found.runs) == len(list(root.rglob('test_metrics.json')))  # none lost
    tests = [json.loads(p.read_text()) for p in root.rglob('test_metrics.json')]
    # The test in MaPLe's folder is filed under the run of the checkpoint, not the config's
    # default seed (1).
    (moved, ) = [t['record'] for t in tests if t['record']['checkpoint']]
    assert (moved['method'], moved['seed'], moved['checkpoint']['file']) == \
        (other, 3, str(tmp_path / 'other_seed3' / 'epoch_1.pth'))
    rows = table(run(root), 'Base-to-novel generalisation (top-1 %, 16 shots, custom CLIP)')
    for method in ('MaPLe', other):
        base = [t['metrics'][f'base/{TOP1}'] for t in tests if t['record']['method'] == method]
        assert len(base) == len(seeds[method])
        assert rows['DTD'][f'{method} Base'].startswith(f'{sum(base) / len(base):.2f} ± ')


def test_figures_of_the_sweep_and_of_few_shot_runs(sweep, root, tmp_path):
    """--plot: base-to-novel bars (two methods with 2 seeds each), each run's curves and
    few-shot lines, as PNG and SVG from the same records as the tables."""
    plots = tmp_path / 'plots'
    run(sweep, '--paper', '--plot', plots)
    names = {p.relative_to(plots).as_posix() for p in plots.rglob('*') if p.is_file()}
    # The tiny CLIP is a custom one: its figures say so, and get no published marks.
    for stem in ['base2novel_16shots_custom'] + [
            f'curves/{METHODS[f]}_base2novel_dtd_16shots_seed{s}' for f in SWEEP_SEEDS
            for s in (1, 2)
    ]:
        for fmt in ('png', 'svg'):
            assert f'{stem}.{fmt}' in names
            assert (plots / f'{stem}.{fmt}').stat().st_size > 5000, stem
    assert not any(name.endswith('.tmp') or '/.' in name for name in names)
    # Trained runs have loss and lr lines; a zero-shot one only its test.
    from maple_mm.evaluation.figures import read_scalars
    train, tests = read_scalars(sweep / 'maple' / 'base2novel_dtd' / 'seed1')
    assert train and all('loss' in e and 'lr' in e for e in train)
    assert {'test/base/accuracy/top1', 'test/novel/accuracy/top1', 'test/HM'} <= set(tests[-1])
    with pytest.raises(MapleUserError, match='already exists; pass --overwrite'):
        run(sweep, '--plot', plots)
    run(root, '--plot', tmp_path / 'few')
    for name in ('few_shot.png', 'few_shot.svg', 'base2novel_16shots.png'):
        assert (tmp_path / 'few' / name).stat().st_size > 5000


def test_runs_on_two_clips_never_share_a_table_or_a_figure(tmp_path, capsys):
    """A ViT-B/16 and an RN50 run of one method (same config name, dataset, seed): separate
    tables, each titled with its CLIP and holding only that CLIP's published numbers; both
    results kept; separate figures."""
    rn50_rows = PER_SET_ROWS['domain_generalization']['RN50']
    method = rn50_rows[0].method  # a method with published numbers on RN50 (table order)
    assert method in BASE2NOVEL  # and on ViT-B/16
    for backbone, (b, n), few, dg in (('ViT-B-16', (80, 60), 70, 71), ('RN50', (60, 40), 50, 63)):
        for seed in (1, 2):
            common = dict(method=method, seed=seed, backbone=backbone, variant='x/y')
            write_run(tmp_path, f'{backbone}_b2n{seed}', base2novel(b + seed, n), **common)
            write_run(
                tmp_path,
                f'{backbone}_few{seed}', {f'test/{TOP1}': few + seed},
                protocol='few_shot',
                shots=1,
                **common)
            sets = {f'{k}/{TOP1}': dg + seed for k in ('imagenet', 'imagenetv2')}
            write_run(
                tmp_path,
                f'{backbone}_dg{seed}',
                dict(sets, target_average=dg),
                protocol='domain_generalization',
                dataset='imagenet',
                **common)
    markdown = run(tmp_path, '--paper')
    assert 'two results of one run' not in capsys.readouterr().err
    vit = table(markdown, 'Base-to-novel generalisation (top-1 %, 16 shots, ViT-B-16)')
    rn50 = table(markdown, 'Base-to-novel generalisation (top-1 %, 16 shots, RN50)')
    assert (vit['DTD'][f'{method} Base'], rn50['DTD'][f'{method} Base']) == ('81.50 ± 0.50',
                                                                             '61.50 ± 0.50')
    assert vit['DTD'][f'{method} (paper) HM'] == f'{BASE2NOVEL[method]["dtd"][2]:.2f}'
    assert not any('paper' in column for column in rn50['DTD'])  # none published for RN50
    few_shot = f'{method} few-shot classification (top-1 %, all classes'
    assert table(markdown, f'{few_shot}, RN50)')['DTD'] == {'1 shot': '51.50 ± 0.50'}
    assert table(markdown, f'{few_shot}, ViT-B-16)')['DTD'] == {'1 shot': '71.50 ± 0.50'}
    dg_title = 'Domain generalisation, trained on ImageNet (top-1 %, 16 shots, '
    dg_rn50, dg_vit = table(markdown, dg_title + 'RN50)'), table(markdown, dg_title + 'ViT-B-16)')
    assert dg_rn50[method]['imagenet'] == '64.50 ± 0.50'
    assert dg_vit[method]['imagenet'] == '72.50 ± 0.50'
    # Each table holds the published rows of its CLIP, and only those.
    for rows, printed in ((rn50_rows, dg_rn50), (per_set_rows('domain_generalization',
                                                              'ViT-B-16'), dg_vit)):
        assert [label for label in printed if '(paper' in label] == [r.label for r in rows]
        for row in rows:
            assert printed[row.label]['imagenetv2'] == f'{row.numbers["imagenetv2"]:.2f}'
    assert 'MaPLe (paper)' in dg_vit and 'MaPLe (paper)' not in dg_rn50
    plots = tmp_path / 'plots'
    run(tmp_path, '--paper', '--plot', plots)
    for stem in ('base2novel_16shots', 'base2novel_16shots_RN50', 'few_shot', 'few_shot_RN50'):
        assert (plots / f'{stem}.png').stat().st_size > 5000, stem


def test_runs_of_earlier_versions_say_their_clip_is_not_recorded(root):
    """Records without a CLIP keep the published (ViT-B/16) numbers, with a note."""
    markdown = run(root, '--paper')
    assert 'Base-to-novel generalisation (top-1 %, 16 shots)' in markdown
    assert 'The runs do not record their CLIP' in markdown

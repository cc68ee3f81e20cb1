"""tools/results_table.py on work dirs with known test metrics: exact means, std, HM."""
import contextlib
import csv
import io
import json
import math
import sys

import pytest

from maple_mm.errors import MapleUserError
from maple_mm.evaluation.published import MAPLE_BASE2NOVEL

from ..conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / 'tools'))
import results_table  # noqa: E402

TOP1 = 'accuracy/top1'


def write_run(root, config, seed, metrics, time='20250101_000000'):
    folder = root / config / f'seed{seed}' / time
    folder.mkdir(parents=True)
    (folder / 'test_metrics.json').write_text(json.dumps(metrics))


def base2novel(base, novel):
    return {f'base/{TOP1}': base, f'novel/{TOP1}': novel,
            'HM': 2 * base * novel / (base + novel)}


@pytest.fixture
def root(tmp_path):
    for seed, (b, n) in enumerate([(80, 60), (82, 60), (84, 63)], 1):
        write_run(tmp_path, 'base2novel_dtd', seed, base2novel(b, n))
    for seed, (b, n) in enumerate([(90, 70), (94, 80)], 1):
        write_run(tmp_path, 'base2novel_eurosat', seed, base2novel(b, n))
    # An older test of the same run is ignored: the newest log folder counts.
    write_run(tmp_path, 'base2novel_eurosat', 1, base2novel(1, 1), time='20240101_000000')
    for config, seed, acc in [('few_shot_dtd_1shots', 1, 40), ('few_shot_dtd_1shots', 2, 44),
                              ('few_shot_dtd_16shots', 1, 70), ('few_shot_eurosat_1shots', 1, 50)]:
        write_run(tmp_path, config, seed, {f'test/{TOP1}': acc})
    for seed, (i, d, e) in enumerate([(70, 40, 50), (72, 42, 52)], 1):
        write_run(tmp_path, 'cross_dataset_imagenet', seed, {
            f'imagenet/{TOP1}': i, f'dtd/{TOP1}': d, f'eurosat/{TOP1}': e,
            'target_average': (d + e) / 2})
    (tmp_path / 'base2novel_ucf101' / 'seed1').mkdir(parents=True)  # unfinished
    return tmp_path


def run(*args):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        results_table.main([str(a) for a in args])
    return out.getvalue()


def rows(markdown, title_part):
    """{first cell: cells} of the Markdown table whose title contains ``title_part``."""
    blocks = markdown.split('\n\n')  # title, table, title, table, ...
    block = next(table for title, table in zip(blocks[::2], blocks[1::2]) if title_part in title)
    lines = [line.strip('|').split(' | ') for line in block.splitlines()[2:]]
    return {cells[0].strip(): [c.strip() for c in cells[1:]] for cells in lines
            if not cells[0].startswith('---')}


def hm(b, n):
    return 2 * b * n / (b + n)


def test_base2novel_means_std_hm_and_average(root, capsys):
    table = rows(run(root), 'base-to-novel')
    dtd_base_std = math.sqrt(8 / 3)  # 80, 82, 84: population std
    dtd_novel_std = math.sqrt(6 / 3)  # 60, 60, 63
    assert table['DTD'] == [f'82.00 ± {dtd_base_std:.2f}', f'61.00 ± {dtd_novel_std:.2f}',
                            f'{hm(82, 61):.2f}', '3']
    assert table['EuroSAT'] == ['92.00 ± 2.00', '75.00 ± 5.00', f'{hm(92, 75):.2f}', '2']
    # Average row: HM of the mean Base (87) and mean Novel (68) over the datasets.
    assert table['Average (2 datasets)'] == ['87.00', '68.00', f'{hm(87, 68):.2f}', '-']
    assert 'base2novel_ucf101/seed1 has no test metrics yet' in capsys.readouterr().err


def test_overlapping_roots_count_each_run_once(root):
    table = rows(run(root, root / 'base2novel_dtd', root / 'base2novel_dtd' / 'seed1'),
                 'base-to-novel')
    assert table['DTD'][3] == '3'


def test_paper_columns(root):
    table = rows(run(root, '--paper'), 'base-to-novel')
    paper = MAPLE_BASE2NOVEL['dtd']
    assert table['DTD'][4:] == [f'{paper[0]:.2f}', f'{paper[1]:.2f}', f'{paper[2]:.2f}',
                                f'{hm(82, 61) - paper[2]:.2f}']
    # The published average covers all 11 datasets: not shown for 2.
    assert table['Average (2 datasets)'][4:] == ['-'] * 4


def test_all_eleven_datasets_give_the_average_row_and_its_paper_numbers(tmp_path):
    for key, (base, novel, _) in MAPLE_BASE2NOVEL.items():
        write_run(tmp_path, f'base2novel_{key}', 1, base2novel(base, novel))
    table = rows(run(tmp_path, '--paper'), 'base-to-novel')
    assert list(table)[0] == 'ImageNet' and list(table)[-1] == 'Average'
    # The published per-dataset numbers reproduce the published Average row.
    assert table['Average'][:3] == ['82.28', '75.14', '78.55']
    assert table['Average'][4:] == ['82.28', '75.14', '78.55', '0.00']


def test_few_shot_table(root):
    table = rows(run(root), 'few-shot')
    assert table['DTD'] == ['42.00 ± 2.00', '70.00 ± 0.00']
    assert table['EuroSAT'] == ['50.00 ± 0.00', '-']
    # 16 shots ran on DTD only: no average that would cover 1 of the 2 datasets.
    assert table['Average (2 datasets)'] == ['46.00', '-']


def test_cross_dataset_table_per_target_set(root):
    markdown = run(root, '--paper')
    header = next(line for line in markdown.splitlines() if line.startswith('|  | Seeds'))
    assert header == '|  | Seeds | imagenet | dtd | eurosat | target_average |'
    table = rows(markdown, 'cross_dataset_imagenet')
    assert table['MaPLe (these runs)'] == ['2', '71.00 ± 1.00', '41.00 ± 1.00', '51.00 ± 1.00',
                                           '46.00 ± 1.00']
    assert table['MaPLe (paper)'] == ['3', '70.72', '-', '-', '66.30']


def test_csv_holds_every_number_at_full_precision(root, tmp_path):
    out = tmp_path / 'table.csv'
    run(root, '--csv', out)
    records = list(csv.DictReader(out.open()))
    dtd_base = next(r for r in records if r['row'] == 'DTD' and r['column'] == 'Base')
    assert float(dtd_base['value']) == 82.0
    assert float(dtd_base['std']) == pytest.approx(math.sqrt(8 / 3))
    assert dtd_base['num_seeds'] == '3'
    average_hm = next(r for r in records
                      if r['row'].startswith('Average') and r['column'] == 'HM')
    assert float(average_hm['value']) == pytest.approx(hm(87, 68))


def test_existing_outputs_are_not_overwritten(root, tmp_path):
    out = tmp_path / 'table.md'
    out.write_text('mine')
    with pytest.raises(MapleUserError, match='already exists; pass --overwrite'):
        run(root, '--markdown', out)
    assert out.read_text() == 'mine'
    run(root, '--markdown', out, '--overwrite')
    assert '**MaPLe base-to-novel' in out.read_text()


def test_no_finished_runs_is_a_clear_error(tmp_path):
    with pytest.raises(MapleUserError, match='No finished runs'):
        run(tmp_path)

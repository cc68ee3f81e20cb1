"""Finding the newest test metrics of runs, wherever they are, and what each run is."""
import json

import pytest

from maple_mm.evaluation import SeedStatistics, collect_runs
from maple_mm.evaluation.run_metrics import RunMetricsError
from maple_mm.run_layout import newest_test_metrics


def write_metrics(folder, time, metrics, record=None):
    path = folder / time / 'test_metrics.json'
    path.parent.mkdir(parents=True)
    content = metrics if record is None else dict(
        complete=True, record=record, metrics=metrics, classes={}, arrays={})
    path.write_text(json.dumps(content))
    return path


def record(method='MaPLe', seed=1, **kwargs):
    return dict(
        dict(
            method=method,
            protocol='base2novel',
            dataset='dtd',
            shots=16,
            seed=seed,
            config='base2novel_dtd'), **kwargs)


def test_newest_log_folder_wins(tmp_path):
    write_metrics(tmp_path, '20250102_000000', {'x': 2})
    newest = write_metrics(tmp_path, '20250102_120000', {'x': 3})
    write_metrics(tmp_path, '20241231_235959', {'x': 1})
    assert newest_test_metrics(tmp_path) == newest
    assert newest_test_metrics(tmp_path / 'nothing') is None


def test_runs_at_any_depth_are_read_from_their_records(tmp_path):
    """Folder names mean nothing: the record says what the run is."""
    write_metrics(tmp_path / 'a' / 'b' / 'seed9', '20250101_000000', {'x': 1}, record(seed=1))
    write_metrics(tmp_path / 'odd name', '20250101_000000', {'x': 2},
                  record('AnotherMethod', seed=2))
    write_metrics(tmp_path / 'flat', '20250101_000000', {'x': 3})  # earlier version: no record
    (tmp_path / 'started' / '20250101_000000').mkdir(parents=True)  # started, not finished
    found = collect_runs([tmp_path])
    assert [(r.method, r.seed, r.metrics) for r in found.runs] == [('AnotherMethod', 2, {
        'x': 2.0
    }), ('MaPLe', 1, {
        'x': 1.0
    })]
    assert found.runs[1].key == ('MaPLe', 'base2novel', 'dtd', 16, 1, None)
    assert found.unfinished == [tmp_path / 'started']
    assert found.unrecorded == [tmp_path / 'flat' / '20250101_000000' / 'test_metrics.json']
    assert len(collect_runs([tmp_path / 'a' / 'b' / 'seed9']).runs) == 1


def test_a_run_found_twice_counts_once_with_its_newest_test(tmp_path):
    old = write_metrics(tmp_path / 'x', '20250101_000000', {'x': 1}, record())
    write_metrics(tmp_path / 'y', '20250202_000000', {'x': 2}, record())
    found = collect_runs([tmp_path, tmp_path / 'x'])
    assert [r.metrics for r in found.runs] == [{'x': 2.0}] and found.replaced == [old]


def test_bad_folders_and_files_are_clear_errors(tmp_path):
    with pytest.raises(RunMetricsError, match='does not exist'):
        collect_runs([tmp_path / 'missing'])
    write_metrics(tmp_path, '20250101_000000', {}).write_text('{not json')
    with pytest.raises(RunMetricsError, match='Cannot read test metrics'):
        collect_runs([tmp_path])


def test_seed_statistics_use_the_population_std():
    stats = SeedStatistics.of([70.0, 72.0, 77.0])
    assert (stats.mean, stats.num_seeds) == (73.0, 3)
    assert stats.std == pytest.approx(((9 + 1 + 16) / 3)**0.5)  # np.std, ddof=0
    assert SeedStatistics.of([5.0]).std == 0.0

"""Finding the newest test metrics of runs laid out as <root>/<config>/seed<S>/<time>/."""
import json

import pytest

from maple_mm.evaluation import SeedStatistics, collect_runs
from maple_mm.run_layout import newest_test_metrics
from maple_mm.evaluation.run_metrics import RunMetricsError


def write_metrics(root, config, seed, time, metrics):
    folder = root / config / f'seed{seed}' / time
    folder.mkdir(parents=True)
    (folder / 'test_metrics.json').write_text(json.dumps(metrics))
    return folder / 'test_metrics.json'


def test_newest_log_folder_wins(tmp_path):
    write_metrics(tmp_path, 'c', 1, '20250102_000000', {'x': 2})
    newest = write_metrics(tmp_path, 'c', 1, '20250102_120000', {'x': 3})
    write_metrics(tmp_path, 'c', 1, '20241231_235959', {'x': 1})
    assert newest_test_metrics(tmp_path / 'c' / 'seed1') == newest
    assert newest_test_metrics(tmp_path / 'nothing') is None


def test_collect_runs_from_a_work_root_a_config_folder_or_a_seed_folder(tmp_path):
    write_metrics(tmp_path, 'a', 1, '20250101_000000', {'x': 1})
    write_metrics(tmp_path, 'a', 2, '20250101_000000', {'x': 2})
    write_metrics(tmp_path, 'b', 1, '20250101_000000', {'x': 3})
    (tmp_path / 'b' / 'seed2').mkdir()  # started, not finished
    runs, unfinished = collect_runs([tmp_path])
    assert [(r.config, r.seed, r.metrics) for r in runs] == [
        ('a', 1, {'x': 1.0}), ('a', 2, {'x': 2.0}), ('b', 1, {'x': 3.0})]
    assert unfinished == [tmp_path / 'b' / 'seed2']
    assert len(collect_runs([tmp_path / 'a'])[0]) == 2
    assert [r.seed for r in collect_runs([tmp_path / 'a' / 'seed2'])[0]] == [2]


def test_bad_folders_and_files_are_clear_errors(tmp_path):
    with pytest.raises(RunMetricsError, match='does not exist'):
        collect_runs([tmp_path / 'missing'])
    path = write_metrics(tmp_path, 'a', 1, '20250101_000000', {})
    path.write_text('{not json')
    with pytest.raises(RunMetricsError, match='Cannot read test metrics'):
        collect_runs([tmp_path])


def test_seed_statistics_use_the_population_std():
    stats = SeedStatistics.of([70.0, 72.0, 77.0])
    assert (stats.mean, stats.num_seeds) == (73.0, 3)
    assert stats.std == pytest.approx(((9 + 1 + 16) / 3) ** 0.5)  # np.std, ddof=0
    assert SeedStatistics.of([5.0]).std == 0.0

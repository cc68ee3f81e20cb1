"""Each run's log folder is its own, even when runs start in the same second."""
import shutil

from maple_mm.engine.runners.maple_runner import claim_log_dir


def test_runs_in_the_same_second_never_share_a_log_folder(tmp_path):
    assert claim_log_dir(str(tmp_path), '20261207_010203') == '20261207_010203'
    assert claim_log_dir(str(tmp_path), '20261207_010203') == '20261207_010203_2'


def test_a_removed_log_folder_name_is_not_claimed_again_in_the_same_process(tmp_path):
    # mmengine keeps one visualizer per run name, bound to the folder it first wrote:
    # a failed run's removed folder must not hand its name to the next run.
    first = claim_log_dir(str(tmp_path), '20261207_040506')
    shutil.rmtree(tmp_path / first)
    assert claim_log_dir(str(tmp_path), '20261207_040506') == '20261207_040506_2'


def test_a_name_is_claimed_once_per_process_whatever_the_work_dir(tmp_path):
    # Runs of one config in two work dirs would otherwise share mmengine's visualizer.
    (tmp_path / 'a').mkdir(), (tmp_path / 'b').mkdir()
    assert claim_log_dir(str(tmp_path / 'a'), '20261207_070809') == '20261207_070809'
    assert claim_log_dir(str(tmp_path / 'b'), '20261207_070809') == '20261207_070809_2'

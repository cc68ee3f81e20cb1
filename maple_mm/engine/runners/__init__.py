"""MapleRunner, its checkpoint loading and work-dir lock, the multi-set test loop and the
test-time tuning loop built on it."""
from .checkpoint_loader import load_checkpoint_file, safe_checkpoint_loading, weights_only_loading
from .maple_runner import MapleRunner
from .multi_set_test_loop import MultiSetTestLoop
from .run_config import apply_seed, apply_shots, load_run_config
from .test_time_loop import TestTimeTuningLoop
from .work_dir_lock import WorkDirLock

__all__ = [
    'load_checkpoint_file', 'safe_checkpoint_loading', 'weights_only_loading', 'MapleRunner',
    'MultiSetTestLoop', 'TestTimeTuningLoop', 'WorkDirLock', 'apply_seed', 'apply_shots',
    'load_run_config'
]

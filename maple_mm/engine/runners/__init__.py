"""MapleRunner, its checkpoint loading and work-dir lock, and the multi-set test loop."""
from .checkpoint_loader import load_checkpoint_file, safe_checkpoint_loading, weights_only_loading
from .maple_runner import MapleRunner
from .multi_set_test_loop import MultiSetTestLoop
from .run_config import apply_seed, apply_shots, load_run_config
from .work_dir_lock import WorkDirLock

__all__ = [
    'load_checkpoint_file', 'safe_checkpoint_loading', 'weights_only_loading', 'MapleRunner',
    'MultiSetTestLoop', 'WorkDirLock', 'apply_seed', 'apply_shots', 'load_run_config'
]

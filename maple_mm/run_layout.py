"""Where a run keeps its files, and how to find the newest complete ones.

One run (one config, one seed) writes into its work dir::

    <work_dir>/
        epoch_<N>.pth or iter_<N>.pth    complete checkpoints, each renamed into place
        .epoch_<N>.pth.partial           a checkpoint being written (left only by a crash)
        last_checkpoint                  path of the newest complete checkpoint
        .maple_train.lock                the training process that owns the work dir
        <config name>.py                 the config as run
        <YYYYmmdd_HHMMSS>[_<N>]/         one log folder per start of the tools, its own
            test_metrics.json            every metric of that test, with the run's record

A run is named by its config's method folder and file name (methods share
file names such as ``base2novel_imagenet``), and K when ``--shots K`` sets the
number of shots: ``<method folder>/<config name>[_<K>shots]`` (:func:`run_name`).
The tools put a run into ``work_dirs/<run name>/seed<S>`` by default and sweeps
into ``<work_root>/<run name>/seed<S>``. Tables never read these names: each
test writes what the run is into its ``test_metrics.json``.
"""
import os
import re
import zipfile
from pathlib import Path
from typing import List, Optional, Tuple, Union

PathLike = Union[str, Path]

#: Written by MultiSetTestLoop into each log folder.
METRICS_FILE = 'test_metrics.json'
#: mmengine's pointer to the newest checkpoint.
POINTER_FILE = 'last_checkpoint'
#: Held by the training process writing the work dir.
LOCK_FILE = '.maple_train.lock'
PARTIAL_SUFFIX = '.partial'

_CHECKPOINT = re.compile(r'^(epoch|iter)_(\d+)\.pth$')
_LOG_FOLDER = re.compile(r'^(\d{8}_\d{6})(?:_(\d+))?$')


def method_folder(config_file: PathLike) -> str:
    """The folder a config lives in, ``configs/<method folder>/<config>.py``."""
    return Path(config_file).resolve().parent.name


def run_name(config_file: PathLike, shots: Optional[int] = None) -> Path:
    """``<method folder>/<config name>[_<K>shots]``: what a run of ``config_file`` is called."""
    stem = Path(config_file).stem
    return Path(method_folder(config_file)) / (stem if shots is None else f'{stem}_{shots}shots')


def default_work_dir(config_file: PathLike,
                     seed: Optional[int] = None,
                     shots: Optional[int] = None) -> str:
    """``work_dirs/<run name>[/seed<S>]``, where the tools put a run by default."""
    work_dir = os.path.join('work_dirs', run_name(config_file, shots))
    return work_dir if seed is None else os.path.join(work_dir, f'seed{seed}')


def sweep_work_dir(work_root: PathLike,
                   config_file: PathLike,
                   seed: int,
                   shots: Optional[int] = None) -> Path:
    """``<work_root>/<run name>/seed<S>``: one run of a sweep."""
    return Path(work_root) / run_name(config_file, shots) / f'seed{seed}'


def partial_path(checkpoint: PathLike) -> Path:
    """The hidden name a checkpoint is written under before it is renamed into place."""
    checkpoint = Path(checkpoint)
    return checkpoint.with_name(f'.{checkpoint.name}{PARTIAL_SUFFIX}')


def checkpoint_step(path: PathLike) -> Optional[Tuple[str, int]]:
    """``('epoch', N)`` or ``('iter', N)`` for a checkpoint file name, else None."""
    match = _CHECKPOINT.match(Path(path).name)
    return (match.group(1), int(match.group(2))) if match else None


def checkpoint_files(work_dir: PathLike) -> List[Path]:
    """The ``epoch_<N>.pth`` / ``iter_<N>.pth`` files of a work dir, oldest step first."""
    folder = Path(work_dir)
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if p.is_file() and checkpoint_step(p)]
    return sorted(found, key=lambda p: checkpoint_step(p)[1])


def partial_files(work_dir: PathLike) -> List[Path]:
    """Checkpoints left half-written by a crash."""
    folder = Path(work_dir)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir()
                  if p.name.startswith('.') and p.name.endswith(PARTIAL_SUFFIX))


def is_complete_checkpoint(path: PathLike) -> bool:
    """Whether ``path`` is a whole torch zip archive (a save that finished).

    A save interrupted by a kill or a full disk leaves a file without the
    archive's closing directory; ``zipfile`` finds that without unpickling.
    """
    path = Path(path)
    try:
        if path.stat().st_size == 0 or not zipfile.is_zipfile(path):
            return False
        with zipfile.ZipFile(path) as archive:
            return any(name.endswith('data.pkl') for name in archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


def latest_complete_checkpoint(work_dir: PathLike) -> Tuple[Optional[Path], List[Path]]:
    """``(complete checkpoint with the highest step or None, incomplete checkpoint files)``.

    Steps, not the ``last_checkpoint`` pointer, decide: a crash between a
    rename and the pointer update leaves the pointer one checkpoint behind.
    """
    files = checkpoint_files(work_dir)
    incomplete = [p for p in files if not is_complete_checkpoint(p)]
    complete = [p for p in files if p not in incomplete]
    return (complete[-1] if complete else None), incomplete


def is_log_folder(name: str) -> bool:
    """Whether ``name`` is a run's log folder, ``<YYYYmmdd_HHMMSS>[_<N>]``."""
    return _LOG_FOLDER.match(name) is not None


def log_folder_order(name: str) -> Tuple[str, int]:
    """Sort key of log folders: start time (YYYYmmdd_HHMMSS), then the ``_<N>`` a run
    started in the same second gets."""
    match = _LOG_FOLDER.match(name)
    return (match.group(1), int(match.group(2) or 1)) if match else (name, 0)


def newest_test_metrics(work_dir: PathLike) -> Optional[Path]:
    """The ``test_metrics.json`` of the newest log folder in ``work_dir``, if any."""
    found = sorted(
        Path(work_dir).glob(f'*/{METRICS_FILE}'), key=lambda p: log_folder_order(p.parent.name))
    return found[-1] if found else None

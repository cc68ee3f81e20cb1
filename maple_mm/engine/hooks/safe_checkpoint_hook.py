"""mmengine's CheckpointHook, with saves that a kill, Ctrl-C or a full disk cannot break."""
import contextlib
import errno
import os
import signal
import threading
from collections import deque
from pathlib import Path
from typing import Iterator, List

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook
from mmpretrain.registry import HOOKS

from maple_mm.atomic_files import fsync_file, write_text_atomically
from maple_mm.errors import TrainingDivergedError, WorkDirError
from maple_mm.finite_values import non_finite_values
from maple_mm.run_layout import POINTER_FILE, checkpoint_files, partial_files, partial_path


@contextlib.contextmanager
def sigint_deferred() -> Iterator[None]:
    """Ctrl-C (SIGINT) during the block takes effect when the block ends.

    A save is then never cut in the middle: mmengine formats the config while
    saving and turns an interrupt there into a ``SyntaxError`` with the whole
    config dumped. The process's own SIGINT handler runs after the block.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(frame))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received and callable(previous):
            previous(signal.SIGINT, received[-1])
        elif received and previous == signal.SIG_DFL:
            raise KeyboardInterrupt


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """Save checkpoints so that the last complete one survives any interruption.

    mmengine's CheckpointHook deletes the oldest kept checkpoint before it
    writes the new one, in place. Here a checkpoint is written to a hidden
    ``.epoch_<N>.pth.partial`` file, flushed to disk and renamed into place;
    then ``last_checkpoint`` is replaced, and only then are checkpoints beyond
    ``max_keep_ckpts`` removed. A kill or a full disk at any moment leaves the
    previous checkpoint complete, and ``--resume`` continues from it; a
    half-written file from an earlier crash is removed at the next start.
    Ctrl-C during a save takes effect once the save is complete. A
    checkpoint holding NaN or Inf (weights, optimizer state, a hook's state) is
    never saved. Arguments are those of :class:`mmengine.hooks.CheckpointHook`
    (local folders only).
    """

    def before_train(self, runner) -> None:
        super().before_train(runner)
        # mmengine's bounded deque would forget a step without deleting its file.
        self.keep_ckpt_ids = deque(getattr(self, 'keep_ckpt_ids', ()))
        if is_main_process():
            for stale in partial_files(self.out_dir):
                runner.logger.warning(f'Removing {stale.name}, a checkpoint an earlier run '
                                      'did not finish writing.')
                stale.unlink(missing_ok=True)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        bad = [
            k for k, v in checkpoint.get('state_dict', {}).items()
            if getattr(v, 'is_floating_point', lambda: False)() and not v.isfinite().all()
        ] or non_finite_values(checkpoint)  # optimizer moments, hook states (GPA)
        if bad:
            raise TrainingDivergedError(
                f'Not saving a checkpoint at epoch {runner.epoch + 1}: {bad[:3]} hold NaN or '
                'Inf values. The last complete checkpoint is kept; lower the learning rate.')

    def _save_checkpoint_with_step(self, runner, step: int, meta: dict) -> None:
        with sigint_deferred():
            self._save_whole(runner, step, meta)

    def _save_whole(self, runner, step: int, meta: dict) -> None:
        filename = self.filename_tmpl.format(step)
        final = Path(self.out_dir) / filename
        partial = partial_path(final)
        self.last_ckpt = str(final)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        outdated = self._keep(runner, step)  # recorded in the checkpoint being written
        try:
            runner.save_checkpoint(
                self.out_dir,
                partial.name,
                self.file_client_args,
                save_optimizer=self.save_optimizer,
                save_param_scheduler=self.save_param_scheduler,
                meta=meta,
                by_epoch=self.by_epoch,
                backend_args=self.backend_args,
                **self.args)
            if is_main_process():
                fsync_file(partial)
                os.replace(partial, final)
                write_text_atomically(Path(runner.work_dir) / POINTER_FILE, self.last_ckpt)
        except OSError as err:
            if is_main_process():
                partial.unlink(missing_ok=True)
            kept = [p.name for p in checkpoint_files(self.out_dir)]
            cause = ('the disk is full'
                     if err.errno == errno.ENOSPC else f'writing failed ({err.strerror or err})')
            raise WorkDirError(f'Could not save {filename} in {self.out_dir}: {cause}. ' + (
                f'The last complete checkpoint, {kept[-1]}, is kept. ' if kept else '') +
                               'Free space or fix the folder, then rerun with --resume.') from None
        if is_main_process():  # only now that the new checkpoint is complete
            for old in outdated:
                (Path(self.out_dir) / self.filename_tmpl.format(old)).unlink(missing_ok=True)

    def _keep(self, runner, step: int) -> List[int]:
        """Record ``step`` among the kept checkpoints; return the steps to delete after it."""
        if self.max_keep_ckpts <= 0:
            return []
        if not self.keep_ckpt_ids or self.keep_ckpt_ids[-1] != step:
            self.keep_ckpt_ids.append(step)
        outdated = []
        while len(self.keep_ckpt_ids) > self.max_keep_ckpts:
            outdated.append(self.keep_ckpt_ids.popleft())
        runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))
        return outdated

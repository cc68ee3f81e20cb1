"""A hook that breaks a checkpoint save on purpose, for the crash-safety tests.

Imported by test configs (``custom_imports``); set ``MAPLE_FAULT`` to ``kill``
(SIGKILL in the middle of writing the checkpoint), ``enospc`` (the disk
fills up half way) or ``sigint`` (Ctrl-C during the save) and
``MAPLE_FAULT_EPOCH`` to the epoch whose save fails.
"""
import errno
import os
import signal

from mmengine.fileio.backends.local_backend import LocalBackend
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS


def _broken_put(fault: str):

    def put(self, obj: bytes, filepath) -> None:
        with open(filepath, 'wb') as f:
            f.write(obj[:len(obj) // 2])
            f.flush()
            os.fsync(f.fileno())
            if fault == 'kill':
                os.kill(os.getpid(), signal.SIGKILL)
            raise OSError(errno.ENOSPC, 'No space left on device', str(filepath))

    return put


@HOOKS.register_module()
class CheckpointFaultHook(Hook):
    """Make the save of epoch ``MAPLE_FAULT_EPOCH`` fail as ``MAPLE_FAULT`` says."""

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        fault = os.environ.get('MAPLE_FAULT')
        if fault and runner.epoch + 1 == int(os.environ.get('MAPLE_FAULT_EPOCH', 2)):
            if fault == 'sigint':
                os.kill(os.getpid(), signal.SIGINT)
                return
            LocalBackend.put = _broken_put(fault)

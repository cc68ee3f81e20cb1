"""One training process per work dir: a lock file holding the owner's pid."""
import json
import os
import socket
import time
from pathlib import Path
from typing import Optional

from maple_mm.atomic_files import write_text_atomically
from maple_mm.errors import WorkDirError, WorkDirLockedError
from maple_mm.run_layout import LOCK_FILE


def _start_time(pid: int) -> Optional[str]:
    """The kernel's start time of ``pid`` (tells a reused pid apart), None if unknown."""
    try:
        with open(f'/proc/{pid}/stat', encoding='utf-8') as f:
            return f.read().rsplit(')', 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive(owner: dict) -> bool:
    """Whether the process recorded in a lock still runs (on this host)."""
    pid = owner.get('pid')
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    started = owner.get('start_time')
    return started is None or _start_time(pid) in (None, started)


class WorkDirLock:
    """Held by the process that trains into ``work_dir``; released on exit.

    The lock is the file ``<work_dir>/.maple_train.lock``, created atomically,
    holding the owner's host, pid and process start time. A lock whose process
    is gone (a crashed or killed run on this host) is stale and taken over; a
    live one makes :meth:`acquire` raise :class:`WorkDirLockedError`.
    """

    def __init__(self, work_dir: str) -> None:
        self.path = Path(work_dir) / LOCK_FILE
        self.held = False

    def _record(self) -> str:
        return json.dumps(
            dict(
                host=socket.gethostname(),
                pid=os.getpid(),
                start_time=_start_time(os.getpid()),
                since=time.time()))

    def _read(self) -> dict:
        try:
            owner = json.loads(self.path.read_text(encoding='utf-8'))
            return owner if isinstance(owner, dict) else {}
        except (OSError, ValueError):
            return {}

    def acquire(self) -> 'WorkDirLock':
        """Take the lock or raise; a stale lock is replaced."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            self._take_over_stale()
        except OSError as err:
            raise WorkDirError(f'Cannot write into the work dir {self.path.parent}: '
                               f'{err.strerror}. Choose another --work-dir.') from None
        else:
            with os.fdopen(fd, 'w') as f:
                f.write(self._record())
        self.held = True
        return self

    def _take_over_stale(self) -> None:
        owner = self._read()
        same_host = owner.get('host', socket.gethostname()) == socket.gethostname()
        if owner and (not same_host or _alive(owner)):
            where = f'pid {owner.get("pid")} on {owner.get("host")}'
            raise WorkDirLockedError(
                f'{self.path.parent} is being trained into by another process ({where}). '
                'Wait for it to finish or use another --work-dir; if no such run is '
                f'active, delete {self.path}.')
        write_text_atomically(self.path, self._record())
        if self._read().get('pid') != os.getpid():  # another process took it first
            raise WorkDirLockedError(f'{self.path.parent} was just taken by another process; '
                                     'use another --work-dir.')

    def release(self) -> None:
        """Remove the lock if this process holds it."""
        if self.held and self._read().get('pid') == os.getpid():
            self.path.unlink(missing_ok=True)
        self.held = False

    def __enter__(self) -> 'WorkDirLock':
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()

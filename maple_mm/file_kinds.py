"""What a path given as a file to read really is, so an error can say it (not "does not exist")."""
import errno
import os
import stat
from typing import Optional

#: What :func:`not_a_file` says of a path that is not there.
MISSING = 'does not exist'


def not_a_file(path: str) -> Optional[str]:
    """Why ``path`` is no regular file: 'does not exist', 'is a folder', 'is a named pipe
    (FIFO)', 'is a character device', ... ; None if it is one (or a link to one).

    Only ``stat`` is called: a FIFO or device is never opened (reading one could block
    or never end).
    """
    try:
        mode = os.stat(path).st_mode
    except OSError as err:
        if err.errno == errno.ELOOP:
            return 'is a symbolic link loop (a link that leads back to itself)'
        if os.path.islink(path):
            return f'is a broken symbolic link (to {os.readlink(path)})'
        if err.errno == errno.EACCES:
            return 'cannot be accessed (permission denied)'
        return MISSING
    if stat.S_ISREG(mode):
        return None
    for test, what in ((stat.S_ISDIR, 'is a folder'), (stat.S_ISFIFO, 'is a named pipe (FIFO)'),
                       (stat.S_ISCHR, 'is a character device'), (stat.S_ISBLK, 'is a block device'),
                       (stat.S_ISSOCK, 'is a socket')):
        if test(mode):
            return what
    return 'is not a regular file'

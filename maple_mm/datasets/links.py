"""Where a dataset's paths really lead: symlink loops, broken links, links leaving the folder."""
import errno
import os
import os.path as osp
from typing import Dict, Optional


def missing_reason(path: str) -> str:
    """Why ``path`` cannot be opened: 'not found', a broken link or a symlink loop."""
    try:
        os.stat(path)
    except OSError as err:
        if err.errno == errno.ELOOP:
            return 'is a symbolic link loop (a link that leads back to itself)'
        if osp.islink(path):
            return f'is a broken symbolic link (to {os.readlink(path)})'
        return 'not found'
    return 'is not a file' if not osp.isdir(path) else 'is a folder, not a file'


class OutsideLinks:
    """Find images whose path resolves outside the dataset folder through symlinks.

    Each image costs one ``lstat``; the real path of each image folder is
    computed once. Links inside the folder, and a dataset folder that is itself
    a link (data on another disk), are fine.
    """

    def __init__(self, data_root: str) -> None:
        self.root = osp.realpath(data_root)
        self._folders: Dict[str, str] = {}

    def _inside(self, real: str) -> bool:
        return real == self.root or real.startswith(self.root.rstrip(os.sep) + os.sep)

    def target(self, path: str) -> Optional[str]:
        """Where ``path`` leads if that is outside the dataset folder, else None."""
        folder = osp.dirname(path)
        if folder not in self._folders:
            self._folders[folder] = osp.realpath(folder)
        real_folder = self._folders[folder]
        if osp.islink(path):
            real = osp.realpath(path)
        else:
            real = osp.join(real_folder, osp.basename(path))
        return None if self._inside(real) else real

"""maple_mm: MaPLe (multi-modal prompt learning for CLIP) as an mmpretrain plugin.

Importing the package applies the compatibility fixes of :mod:`maple_mm.compat`
and registers MaPLe's models, datasets, hooks and loops in mmpretrain's
registries, so configs only need ``custom_imports=dict(imports=['maple_mm'])``.
"""
from . import compat

compat.apply()

from . import datasets, engine, evaluation, models  # noqa: E402,F401

__version__ = '0.1.0'

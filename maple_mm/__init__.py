"""maple_mm: MaPLe (multi-modal prompt learning for CLIP) as an mmpretrain plugin.

Importing the package registers its models, datasets, hooks, loops and runner
in mmpretrain's registries, so configs only need
``custom_imports=dict(imports=['maple_mm'])``. It changes nothing else in the
process: what the pinned mm* releases need is applied by maple_mm's own
components (e.g. :class:`maple_mm.engine.MapleRunner`) where they run.
"""
from . import datasets, engine, evaluation, models  # noqa: F401

__version__ = '0.1.0'

"""maple_mm: MaPLe (multi-modal prompt learning for CLIP) as an mmpretrain plugin.

Importing the package registers its models, datasets, hooks, loops and runner
in mmpretrain's registries, so configs only need
``custom_imports=dict(imports=['maple_mm'])``, and the zoo's configs in
mmpretrain's model index (``mmpretrain.list_models('*maple*')``, ``get_model``).
It changes nothing else in the process: what the pinned mm* releases need is
applied by maple_mm's own components (e.g. :class:`maple_mm.engine.MapleRunner`)
where they run.
"""
from . import datasets, engine, evaluation, models  # noqa: F401
from .method_zoo import register_model_index

register_model_index()

__version__ = '0.1.0'

"""One module per method: what it learns and how it forms the prompts.

Every module of this package is imported here, which registers its classes in
mmpretrain's ``MODELS``, and the classifiers and prompt learners it defines are
exported under their names (``from maple_mm.models.methods import MaPLe``).
Adding a method adds its module; nothing lists it.
"""
import importlib
import pkgutil

from ..classifier import PromptedCLIP
from ..prompt_learner import PromptLearner


def _discover() -> dict:
    """``{name: class}`` of every classifier and learner the modules here define."""
    found = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f'{__name__}.{info.name}')
        for name, value in vars(module).items():
            if isinstance(value, type) and issubclass(value, (PromptedCLIP, PromptLearner)) \
                    and value.__module__ == module.__name__:
                found[name] = value
    return found


_EXPORTED = _discover()
globals().update(_EXPORTED)
__all__ = sorted(_EXPORTED)

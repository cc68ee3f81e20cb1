"""The runner as one of mmengine's loops sees it, with a different model or fewer hooks.

mmengine's loops reach everything through ``loop.runner`` (a property of
``BaseLoop``). A loop that runs mmengine's own ``run()`` several times, or its
own ``run_iter()`` under another precision, returns a :class:`RunnerView` from
that property instead of copying mmengine's loop bodies. Hooks still receive the
real runner: :meth:`RunnerView.call_hook` forwards to the runner's own.
"""
from typing import Any, Iterable, Optional


class RunnerView:
    """``runner`` with its ``model`` replaced and some hook calls dropped; the rest is its own.

    Args:
        runner: The runner (or another view).
        model: What ``view.model`` gives instead of ``runner.model`` (None: the runner's).
        skip_hooks: Hook names whose calls are dropped (e.g. ``before_test`` where a
            loop calls it once itself around several runs of mmengine's loop).
    """

    def __init__(self, runner, model: Optional[Any] = None, skip_hooks: Iterable[str] = ()):
        self.__dict__.update(_runner=runner, _model=model, _skip_hooks=frozenset(skip_hooks))

    @property
    def model(self):
        return self._runner.model if self._model is None else self._model

    def call_hook(self, fn_name: str, **kwargs) -> None:
        if fn_name not in self._skip_hooks:
            self._runner.call_hook(fn_name, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self._runner, name)

    def __setattr__(self, name: str, value) -> None:
        setattr(self._runner, name, value)  # a loop that sets runner state sets the runner's


class ModelView:
    """``model`` whose ``test_step`` runs inside ``context()``; everything else is the model's.

    Args:
        model: The model (or its wrapper).
        context: A callable returning a context manager, entered around each ``test_step``.
    """

    def __init__(self, model, context) -> None:
        self.__dict__.update(_model=model, _context=context)

    def test_step(self, data):
        with self._context():
            return self._model.test_step(data)

    def __getattr__(self, name: str):
        return getattr(self._model, name)

    def __setattr__(self, name: str, value) -> None:
        setattr(self._model, name, value)


def underlying(obj):
    """The runner or model behind any views of it (``obj`` itself if it is none)."""
    while isinstance(obj, (RunnerView, ModelView)):
        obj = obj._runner if isinstance(obj, RunnerView) else obj._model
    return obj

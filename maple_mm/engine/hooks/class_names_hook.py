"""Give the classifier the class names of whichever dataset comes next."""
import inspect
from typing import Sequence

from mmengine.dataset import BaseDataset
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS

from maple_mm.errors import CLASS_NAMES_HOOK_HINT, ClassNameError, DatasetFormatError


def dataset_class_names(dataset: BaseDataset) -> Sequence[str]:
    """The ``classes`` of a dataset's metainfo, or a clear error."""
    classes = getattr(dataset, 'metainfo', {}).get('classes')
    if not classes:
        raise DatasetFormatError(
            f'{type(dataset).__name__} has no class names in its metainfo; maple_mm builds one '
            'prompt per class name. Give the dataset `classes` or use a split-file dataset.')
    return classes


def check_model_classes(model, dataset: BaseDataset, set_name: str) -> None:
    """Fail when a prompted model is about to test ``dataset`` with other class names.

    Without :class:`ClassNamesHook` a model keeps the names of its checkpoint
    (the base classes), and a test on the novel classes would score the wrong
    prompts without any error.
    """
    model = model.module if is_model_wrapper(model) else model
    names = getattr(model, 'class_names', None)
    classes = list(getattr(dataset, 'metainfo', {}).get('classes') or [])
    if not names or not classes or list(names) == classes:
        return
    raise ClassNameError(
        f'The model would test set {set_name!r} ({len(classes)} classes: '
        f'{", ".join(map(str, classes[:3]))}, ...) with the prompts of other class names '
        f'({", ".join(map(str, list(names)[:3]))}, ...). {CLASS_NAMES_HOOK_HINT}.')


def _takes_dataset_meta(method) -> bool:
    params = inspect.signature(method).parameters.values()
    return any(p.name == 'dataset_meta' or p.kind == p.VAR_KEYWORD for p in params)


@HOOKS.register_module()
class ClassNamesHook(Hook):
    """Set the model's class names, and pass the metainfo, from the dataset of each phase.

    Training, validation and test sets may have different classes (base ->
    novel evaluation); the prompts are rebuilt before each epoch of each phase,
    so the same weights serve any class list. The whole metainfo goes along
    (``set_class_names(names, dataset_meta=metainfo)``), so a method can take
    more from the dataset, e.g. zero-shot CLIP its ``prompt_template``. Models
    without ``set_class_names`` (mmpretrain's own classifiers, stand-ins of
    mmpretrain's tools) are left alone.
    """

    priority = 'VERY_HIGH'

    @staticmethod
    def _set(runner, dataloader) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        set_class_names = getattr(model, 'set_class_names', None)
        if set_class_names is None:
            return
        dataset = dataloader.dataset
        names = dataset_class_names(dataset)
        if _takes_dataset_meta(set_class_names):
            set_class_names(names, dataset_meta=dict(dataset.metainfo))
        else:
            set_class_names(names)

    def before_train_epoch(self, runner) -> None:
        self._set(runner, runner.train_loop.dataloader)

    def before_val_epoch(self, runner) -> None:
        self._set(runner, runner.val_loop.dataloader)

    def before_test_epoch(self, runner) -> None:
        self._set(runner, runner.test_loop.dataloader)

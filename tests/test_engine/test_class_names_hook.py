"""ClassNamesHook gives a model the class names and the metainfo of each phase's dataset."""
from types import SimpleNamespace

import torch

from maple_mm.engine import ClassNamesHook


def runner_testing(model, dataset):
    return SimpleNamespace(
        model=model, test_loop=SimpleNamespace(dataloader=SimpleNamespace(dataset=dataset)))


class Recorder(torch.nn.Module):
    """A model whose set_class_names takes the names only."""

    def set_class_names(self, names):
        self.names = list(names)


def test_models_without_dataset_meta_get_the_names_only():
    model = Recorder()
    dataset = SimpleNamespace(metainfo=dict(classes=('a', 'b'), prompt_template='{}.'))
    ClassNamesHook().before_test_epoch(runner_testing(model, dataset))
    assert model.names == ['a', 'b']


def test_models_without_set_class_names_are_left_alone():
    """mmpretrain's classifiers, or the stand-in model of its vis_scheduler tool."""
    model = torch.nn.Linear(2, 2)
    ClassNamesHook().before_test_epoch(runner_testing(model, SimpleNamespace(metainfo={})))

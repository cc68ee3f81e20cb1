"""ClassNamesHook gives a model the class names and the metainfo of each phase's dataset."""
from types import SimpleNamespace

import torch
from mmpretrain.registry import DATASETS, MODELS

from maple_mm.engine import ClassNamesHook
from maple_mm.models import TINY_CLIP_CFG
from ..miniature_datasets import write_miniature


def runner_testing(model, dataset):
    return SimpleNamespace(
        model=model, test_loop=SimpleNamespace(dataloader=SimpleNamespace(dataset=dataset)))


def test_zero_shot_clip_gets_the_template_of_the_dataset(tmp_path):
    folder = write_miniature(tmp_path, 'dtd')
    dataset = DATASETS.build(
        dict(type='CoOpDTD', data_root=str(folder), split='test', serialize_data=False))
    model = MODELS.build(
        dict(type='ZeroShotCLIP', backbone=dict(type='OpenCLIPBackbone', model_cfg=TINY_CLIP_CFG)))
    ClassNamesHook().before_test_epoch(runner_testing(model, dataset))
    assert model.class_names == list(dataset.metainfo['classes'])
    assert model.prompt_learner.current_templates() == ['{} texture.']


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

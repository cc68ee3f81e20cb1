"""The demo config carries the paper's base-to-novel recipe (docs/benchmarks.md)."""
import pytest
from mmengine.config import Config

from ..conftest import REPO_ROOT
from ..test_engine.test_warmup_cosine_lr import per_epoch_lrs

CONFIG = REPO_ROOT / 'configs/maple/demo_base2novel_fashion_mnist.py'


@pytest.fixture(scope='module')
def cfg():
    return Config.fromfile(CONFIG)


def test_recipe_values(cfg):
    assert cfg.default_scope == 'mmpretrain'
    assert cfg.model.prompt_learner == dict(
        type='MaPLePromptLearner', n_ctx=2, ctx_init='a photo of a', depth=9)
    assert cfg.optim_wrapper.optimizer == dict(
        type='SGD', lr=0.0035, momentum=0.9, weight_decay=5e-4, nesterov=False)
    assert cfg.train_cfg.max_epochs == 5
    train, test = cfg.train_dataloader, cfg.test_dataloader
    assert (train.batch_size, train.drop_last, test.batch_size) == (4, True, 100)
    assert train.dataset.num_shots == 16 and train.dataset.subsample == 'base'
    assert test.dataset.subsample == 'base'
    assert cfg.test_cfg.extra_sets == dict(novel=dict(subsample='novel'))


def test_transforms(cfg):
    recipe = Config.fromfile(REPO_ROOT / 'configs/_base_/recipes/maple_base2novel.py')
    assert recipe.train_pipeline[1] == dict(
        type='RandomResizedCrop',
        scale=224,
        crop_ratio_range=(0.08, 1.0),
        interpolation='bicubic',
        backend='pillow')
    # The demo keeps whole 28-pixel images (see the config's comment).
    crop = cfg.train_dataloader.dataset.pipeline[1]
    assert crop == dict(recipe.train_pipeline[1], crop_ratio_range=(1.0, 1.0))
    assert cfg.train_dataloader.dataset.pipeline[2]['type'] == 'RandomFlip'
    resize, center = cfg.test_dataloader.dataset.pipeline[1:3]
    assert (resize.scale, resize.edge, resize.interpolation) == (224, 'short', 'bicubic')
    assert center.crop_size == 224
    pre = cfg.data_preprocessor  # the runner gives it to the model
    assert pre.to_rgb and pre.mean[0] == pytest.approx(0.48145466 * 255)
    assert pre.std[2] == pytest.approx(0.27577711 * 255)


def test_per_epoch_learning_rates(cfg):
    # T_max is the scheduler's end, which the runner sets to max_epochs.
    lrs = per_epoch_lrs(
        dict(cfg.param_scheduler, end=cfg.train_cfg.max_epochs), cfg.train_cfg.max_epochs,
        cfg.optim_wrapper.optimizer.lr)
    assert [round(lr, 5) for lr in lrs] == [1e-5, 3.5e-3, 3.17e-3, 2.29e-3, 1.21e-3]

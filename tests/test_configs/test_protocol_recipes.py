"""Every protocol config carries the reference recipe (spec section 2) and its data protocol."""
import ast
import math
from pathlib import Path
from typing import List, Set

import pytest
from mmengine.config import Config

from ..conftest import REPO_ROOT
from ..test_engine.test_warmup_cosine_lr import per_epoch_lrs
from .protocol_configs import (CONFIG_DIR, CROSS_DATASET, DATASETS, DEMO,
                               DOMAIN_GENERALIZATION, IMAGENET_VARIANTS, SHOTS,
                               base2novel_config, few_shot_config, protocol_configs)

CLIP_MEAN = [0.48145466 * 255, 0.4578275 * 255, 0.40821073 * 255]
CLIP_STD = [0.26862954 * 255, 0.26130258 * 255, 0.27577711 * 255]
TRAIN_CROP = dict(type='RandomResizedCrop', scale=224, crop_ratio_range=(0.08, 1.0),
                  interpolation='bicubic', backend='pillow')
FLIP = dict(type='RandomFlip', prob=0.5, direction='horizontal')
TEST_RESIZE = dict(type='ResizeEdge', scale=224, edge='short', interpolation='bicubic',
                   backend='pillow')
TEST_CROP = dict(type='CenterCrop', crop_size=224)
TEST_PIPELINE = [dict(type='LoadImageFromFile'), TEST_RESIZE, TEST_CROP,
                 dict(type='PackInputs')]


def load(path: Path) -> Config:
    return Config.fromfile(path)


def lrs(cfg: Config) -> list:
    epochs = cfg.train_cfg.max_epochs
    return [round(lr, 5) for lr in per_epoch_lrs(cfg.param_scheduler, epochs,
                                                 cfg.optim_wrapper.optimizer.lr)]


def check_common_recipe(cfg: Config, depth: int, lr: float, epochs: int) -> None:
    """Model, optimizer, loaders and transforms every protocol shares."""
    assert cfg.default_scope == 'mmpretrain'
    assert cfg.model.backbone == dict(type='OpenCLIPBackbone', model_name='ViT-B-16',
                                      pretrained='openai')
    assert cfg.model.prompt_learner == dict(type='MaPLePromptLearner', n_ctx=2,
                                            ctx_init='a photo of a', depth=depth)
    pre = cfg.model.data_preprocessor
    assert pre.to_rgb and pre.mean == pytest.approx(CLIP_MEAN)
    assert pre.std == pytest.approx(CLIP_STD)
    assert cfg.optim_wrapper.optimizer == dict(type='SGD', lr=lr, momentum=0.9,
                                               weight_decay=5e-4, nesterov=False)
    assert cfg.train_cfg.max_epochs == epochs and cfg.param_scheduler.by_epoch
    assert cfg.val_cfg is None and cfg.val_dataloader is None  # last epoch is evaluated
    assert cfg.randomness.seed == 1
    train, test = cfg.train_dataloader, cfg.test_dataloader
    assert (train.batch_size, train.drop_last, test.batch_size) == (4, True, 100)
    assert train.sampler.shuffle and not test.sampler.shuffle
    assert train.dataset.pipeline == [dict(type='LoadImageFromFile'), TRAIN_CROP, FLIP,
                                      dict(type='PackInputs')]
    assert test.dataset.pipeline == TEST_PIPELINE
    assert (train.dataset.split, test.dataset.split) == ('train', 'test')
    assert train.dataset.seed == test.dataset.seed == 1
    assert cfg.test_evaluator == dict(type='Accuracy', topk=(1, ))


def check_dataset(dataset: dict, key: str) -> None:
    type_, folder = DATASETS[key]
    assert (dataset.type, dataset.data_root) == (type_, f'data/{folder}')


def test_every_config_is_tested_and_named_after_its_protocol():
    found = set(CONFIG_DIR.glob('*.py')) - {DEMO}
    assert found == set(protocol_configs())


def base_files(path: Path) -> List[Path]:
    """The ``_base_`` files a config names directly."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Assign) and node.targets[0].id == '_base_':
            return [(path.parent / e.value).resolve() for e in node.value.elts]
    return []


def inheritance_depth(path: Path) -> int:
    return max((1 + inheritance_depth(base) for base in base_files(path)), default=0)


def ancestors(path: Path) -> Set[Path]:
    return set().union(*({base} | ancestors(base) for base in base_files(path)))


@pytest.mark.parametrize('path', [*protocol_configs(), DEMO], ids=lambda p: p.stem)
def test_configs_inherit_at_most_two_levels(path):
    """A config reads top to bottom: itself, one protocol recipe, the model and the runtime."""
    assert inheritance_depth(path) <= 2
    found = ancestors(path)
    assert REPO_ROOT / 'configs/_base_/maple_runtime.py' in found
    assert REPO_ROOT / 'configs/_base_/maple_vit_b16.py' in found
    assert len(found) <= 3


@pytest.mark.parametrize('key', DATASETS)
def test_base2novel(key):
    cfg = load(base2novel_config(key))
    check_common_recipe(cfg, depth=9, lr=0.0035, epochs=5)
    assert lrs(cfg) == [1e-5, 3.5e-3, 3.17e-3, 2.29e-3, 1.21e-3]
    train, test = cfg.train_dataloader.dataset, cfg.test_dataloader.dataset
    check_dataset(train, key)
    check_dataset(test, key)
    assert (train.num_shots, train.subsample, test.subsample) == (16, 'base', 'base')
    assert test.num_shots == 16  # the same draw decides the base / novel classes
    assert cfg.test_cfg == dict(type='MultiSetTestLoop', name='base',
                                extra_sets=dict(novel=dict(subsample='novel')))


@pytest.mark.parametrize('shots', SHOTS)
@pytest.mark.parametrize('key', DATASETS)
def test_few_shot(key, shots):
    cfg = load(few_shot_config(key, shots))
    check_common_recipe(cfg, depth=9, lr=0.0035, epochs=50)
    # Epoch 1 at 1e-5, then the cosine restarted after it over T_max = 50 epochs.
    cosine = [0.0035 * (1 + math.cos(math.pi * (e - 1) / 50)) / 2 for e in range(1, 50)]
    assert per_epoch_lrs(cfg.param_scheduler, 50, 0.0035) == pytest.approx([1e-5, *cosine])
    train, test = cfg.train_dataloader.dataset, cfg.test_dataloader.dataset
    check_dataset(train, key)
    check_dataset(test, key)
    assert (train.num_shots, train.subsample, test.subsample) == (shots, 'all', 'all')
    assert cfg.test_cfg == dict(type='MultiSetTestLoop', name='test')


def check_imagenet_training(cfg: Config) -> None:
    """Cross-dataset and domain generalisation train the same way (spec section 2)."""
    check_common_recipe(cfg, depth=3, lr=0.0026, epochs=2)
    assert lrs(cfg) == [1e-5, 2.6e-3]
    train, test = cfg.train_dataloader.dataset, cfg.test_dataloader.dataset
    check_dataset(train, 'imagenet')
    check_dataset(test, 'imagenet')
    assert (train.num_shots, train.subsample, test.subsample) == (16, 'all', 'all')
    assert cfg.test_cfg.type == 'MultiSetTestLoop' and cfg.test_cfg.name == 'imagenet'


def test_cross_dataset():
    cfg = load(CROSS_DATASET)
    check_imagenet_training(cfg)
    targets = cfg.test_cfg.extra_sets
    assert list(targets) == [k for k in DATASETS if k != 'imagenet']
    for key, dataset in targets.items():
        check_dataset(dataset, key)
        assert (dataset.split, dataset.subsample, dataset.seed) == ('test', 'all', 1)
        assert dataset.pipeline == TEST_PIPELINE
    assert cfg.test_cfg.averages == dict(target_average=list(targets))


def test_domain_generalization_trains_like_cross_dataset():
    cfg, cross = load(DOMAIN_GENERALIZATION), load(CROSS_DATASET)
    check_imagenet_training(cfg)
    for key in ('model', 'train_dataloader', 'test_dataloader', 'optim_wrapper',
                'param_scheduler', 'train_cfg'):
        assert cfg[key] == cross[key], key
    variants = cfg.test_cfg.extra_sets
    assert list(variants) == list(IMAGENET_VARIANTS)
    for key, dataset in variants.items():
        assert (dataset.type, dataset.data_root) == (
            IMAGENET_VARIANTS[key][0], f'data/{IMAGENET_VARIANTS[key][1]}')
        assert (dataset.split, dataset.seed, dataset.pipeline) == ('test', 1, TEST_PIPELINE)
    assert cfg.test_cfg.averages == dict(target_average=list(IMAGENET_VARIANTS))


def test_dataset_types_and_folders_match_the_dataset_catalog():
    from maple_mm.datasets import BENCHMARKS
    for key, (type_, folder) in DATASETS.items():
        assert (BENCHMARKS[key].type, BENCHMARKS[key].folder) == (type_, folder)
    for key, (type_, folder) in IMAGENET_VARIANTS.items():
        benchmark = BENCHMARKS[key]
        assert (benchmark.type, benchmark.folder) == (type_, folder)

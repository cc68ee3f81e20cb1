"""Every config carries its method's reference recipe and protocol (docs/benchmarks.md).

The recipes are each method's rows (``recipes`` of :class:`tests.method_rows.MethodRows`,
in the method's own test module); this file names no method.
"""
import math

import pytest
from mmpretrain.registry import DATASETS as DATASET_TYPES

from maple_mm.datasets.catalog import BENCHMARKS, IMAGENET_VARIANTS
from ..method_rows import Recipe, method_rows, recipe
from ..test_engine.test_warmup_cosine_lr import per_epoch_lrs
from .zoo import (BASE_DIR, CONFIGS, DATASETS, METHODS, PUBLISHED_LRS, all_leaf_configs, built,
                  protocol_of)

CLIP_MEAN = [0.48145466 * 255, 0.4578275 * 255, 0.40821073 * 255]
CLIP_STD = [0.26862954 * 255, 0.26130258 * 255, 0.27577711 * 255]
TRAIN_PIPELINE = [
    dict(type='LoadImageWithPIL'),
    dict(
        type='RandomResizedCrop',
        scale=224,
        crop_ratio_range=(0.08, 1.0),
        interpolation='bicubic',
        backend='pillow'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs')
]
TEST_PIPELINE = [
    dict(type='LoadImageWithPIL'),
    dict(type='ResizeEdge', scale=224, edge='short', interpolation='bicubic', backend='pillow'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs')
]
#: The protocol's data: (train subsample, test subsample, shots, main test set name).
PROTOCOLS = {
    'base2novel': ('base', 'base', 16, 'base'),
    'few_shot': ('all', 'all', 16, 'test'),
    'cross_dataset': ('all', 'all', 16, 'imagenet'),
    'domain_generalization': ('all', 'all', 16, 'imagenet')
}


def cases():
    """(path, method folder, protocol, dataset key) of every leaf config."""
    for path in all_leaf_configs():
        protocol = protocol_of(path)
        dataset = path.stem[len(protocol) + 1:]
        yield pytest.param(
            path, path.parent.name, protocol, dataset, id=f'{path.parent.name}/{path.stem}')


def cosine_lrs(lr: float, epochs: int) -> list:
    """Epoch 1 at 1e-5, then the cosine restarted after it over T_max = epochs."""
    return [1e-5] + [lr * (1 + math.cos(math.pi * (e - 1) / epochs)) / 2 for e in range(1, epochs)]


def check_dataset(dataset: dict, key: str) -> None:
    """The benchmark's type, reading data/<its folder> (the dataset's default data_root)."""
    benchmark = BENCHMARKS[key]
    assert dataset.type == benchmark.type and 'data_root' not in dataset
    built_lazily = DATASET_TYPES.build(dict(type=dataset.type, lazy_init=True))
    assert built_lazily.data_root == f'data/{benchmark.folder}'


@pytest.mark.parametrize('path,folder,protocol,dataset', cases())
def test_recipe_and_protocol(path, folder, protocol, dataset):
    cfg = built(path)
    # Model: the frozen ViT-B/16 OpenAI CLIP, its normalisation, the method's prompts.
    assert cfg.model.type == METHODS[folder]
    assert cfg.model.backbone == dict(
        type='OpenCLIPBackbone', model_name='ViT-B-16', pretrained='openai')
    pre = cfg.data_preprocessor  # mmengine's Runner gives it to the model
    assert pre.type == 'ClsDataPreprocessor' and pre.to_rgb
    assert pre.mean == pytest.approx(CLIP_MEAN) and pre.std == pytest.approx(CLIP_STD)
    row = recipe(folder, protocol, dataset)
    assert cfg.model.prompt_learner == row.learner
    # Loss weights: the method's, and those of this protocol or dataset.
    for key, value in dict(method_rows()[folder].model, **getattr(row, 'model', {})).items():
        assert cfg.model[key] == value
    # The hooks a method trains with, beyond the runtime's (which a user's cannot drop).
    runtime = set(built(BASE_DIR / 'default_runtime.py').default_hooks)
    hooks = {name: hook for name, hook in cfg.default_hooks.items() if name not in runtime}
    assert hooks == (row.hooks if isinstance(row, Recipe) else {})
    assert cfg.get('values_by_shots') == getattr(row, 'values_by_shots', None)

    # Data protocol.
    train_subsample, test_subsample, shots, main_set = PROTOCOLS[protocol]
    test = cfg.test_dataloader
    assert (test.batch_size, test.sampler.shuffle) == (100, False)
    assert test.dataset.pipeline == TEST_PIPELINE
    assert (test.dataset.split, test.dataset.subsample, test.dataset.num_shots,
            test.dataset.seed) == ('test', test_subsample, shots, 1)
    check_dataset(test.dataset, dataset)
    assert cfg.test_cfg.type == 'MultiSetTestLoop' and cfg.test_cfg.name == main_set
    assert cfg.test_evaluator == dict(type='Accuracy', topk=(1, ))
    assert cfg.get('val_cfg') is None and cfg.get('val_dataloader') is None  # the last epoch
    assert cfg.randomness.seed == 1
    check_test_sets(cfg, protocol)

    if not isinstance(row, Recipe):  # nothing to train (zero-shot)
        assert cfg.train_dataloader is None and 'optim_wrapper' not in cfg
        return
    lr, epochs, batch, shots = row.lr, row.epochs, row.batch, row.shots
    train = cfg.train_dataloader
    assert (train.batch_size, train.drop_last, train.sampler.shuffle) == (batch, True, True)
    assert train.dataset.pipeline == TRAIN_PIPELINE
    assert (train.dataset.split, train.dataset.subsample, train.dataset.num_shots,
            train.dataset.seed) == ('train', train_subsample, shots, 1)
    check_dataset(train.dataset, dataset)

    # Optimisation: SGD, constant warm-up epoch at 1e-5, then cosine, stepped per epoch.
    assert cfg.optim_wrapper.optimizer == dict(
        type='SGD', lr=lr, momentum=0.9, weight_decay=5e-4, nesterov=False)
    assert cfg.train_cfg == dict(by_epoch=True, max_epochs=epochs)
    assert cfg.param_scheduler == dict(
        type='ConstantWarmupCosineLR', warmup_value=1e-5, warmup_steps=1, by_epoch=True)
    # T_max = the scheduler's end, which the runner sets to max_epochs (test_warmup_cosine_lr)
    lrs = per_epoch_lrs(dict(cfg.param_scheduler, end=cfg.train_cfg.max_epochs), epochs, lr)
    assert lrs == pytest.approx(cosine_lrs(lr, epochs))
    if (lr, epochs) in PUBLISHED_LRS:
        assert [round(v, 5) for v in lrs] == PUBLISHED_LRS[lr, epochs]


def check_test_sets(cfg, protocol: str) -> None:
    sets = cfg.test_cfg.get('extra_sets', {})
    if protocol == 'base2novel':
        assert sets == dict(novel=dict(subsample='novel'))
        return
    if protocol == 'few_shot':
        assert not sets
        return
    keys = ([k for k in DATASETS
             if k != 'imagenet'] if protocol == 'cross_dataset' else list(IMAGENET_VARIANTS))
    assert list(sets) == keys
    for key, dataset in sets.items():
        check_dataset(dataset, key)
        assert (dataset.split, dataset.seed) == ('test', 1)
        assert 'pipeline' not in dataset  # MultiSetTestLoop gives it the main set's transforms
        assert 'num_shots' not in dataset  # every test item of every class
        if protocol == 'cross_dataset':
            assert dataset.subsample == 'all'
    assert cfg.test_cfg.averages == dict(target_average=keys)


def test_domain_generalization_trains_like_cross_dataset():
    for folder in METHODS:
        dg, xd = (
            built(CONFIGS / folder / f'{name}_imagenet.py')
            for name in ('domain_generalization', 'cross_dataset'))
        for key in ('model', 'train_dataloader', 'test_dataloader', 'optim_wrapper',
                    'param_scheduler', 'train_cfg'):
            assert dg.get(key) == xd.get(key), (folder, key)


@pytest.mark.parametrize('path', all_leaf_configs(), ids=lambda p: f'{p.parent.name}/{p.stem}')
def test_a_shot_table_holds_at_the_configs_own_shots(path):
    """A config is the config of its own K: each values_by_shots entry (covering the
    protocol's K) gives the value the file states."""
    cfg = built(path)
    assert 'epochs_by_shots' not in cfg
    for key, by_shots in (cfg.get('values_by_shots') or {}).items():
        assert set(by_shots) == {1, 2, 4, 8, 16}, key
        assert key == 'max_epochs' or key.startswith('model.'), key
        own = cfg.train_cfg.max_epochs if key == 'max_epochs' else cfg.model[key[len('model.'):]]
        assert own == by_shots[cfg.train_dataloader.dataset.num_shots], key

"""Every config carries its method's reference recipe and protocol (docs/benchmarks.md)."""
import math

import pytest

from maple_mm.datasets.catalog import BENCHMARKS, IMAGENET_VARIANTS
from ..test_engine.test_warmup_cosine_lr import per_epoch_lrs
from .zoo import (CONFIGS, COOP_EPOCHS_BY_SHOTS, DATASETS, LEARNERS, LOSS_WEIGHTS, METHODS,
                  PROMPTSRC_FINE_GRAINED_GPA, PROMPTSRC_GPA, PUBLISHED_LRS, SCHEDULES,
                  all_leaf_configs, built, clip_of, dataset_of, protocol_of, setting_of)

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
        dataset = dataset_of(path)
        yield pytest.param(
            path, path.parent.name, protocol, dataset, id=f'{path.parent.name}/{path.stem}')


def cosine_lrs(lr: float, epochs: int) -> list:
    """Epoch 1 at 1e-5, then the cosine restarted after it over T_max = epochs."""
    return [1e-5] + [lr * (1 + math.cos(math.pi * (e - 1) / epochs)) / 2 for e in range(1, epochs)]


def check_dataset(dataset: dict, key: str) -> None:
    benchmark = BENCHMARKS[key]
    assert (dataset.type, dataset.data_root) == (benchmark.type, f'data/{benchmark.folder}')


@pytest.mark.parametrize('path,folder,protocol,dataset', cases())
def test_recipe_and_protocol(path, folder, protocol, dataset):
    cfg = built(path)
    setting = setting_of(path)  # a recipe on another CLIP: 'rn50', 'rn50_csc', ...
    # Model: the frozen OpenAI CLIP (ViT-B/16, or the one the name says), its
    # normalisation, the method's prompts.
    assert cfg.model.type == cfg.method == METHODS[folder]
    assert cfg.model.backbone == dict(
        type='OpenCLIPBackbone', model_name=clip_of(path), pretrained='openai')
    pre = cfg.model.data_preprocessor
    assert pre.type == 'ClsDataPreprocessor' and pre.to_rgb
    assert pre.mean == pytest.approx(CLIP_MEAN) and pre.std == pytest.approx(CLIP_STD)
    learner = dict(LEARNERS[folder])
    transfer = protocol in ('cross_dataset', 'domain_generalization')
    if folder == 'maple' and transfer:
        learner['depth'] = 3  # the reference's cross-dataset depth
    if folder == 'coop' and protocol != 'few_shot' and setting is None:  # CoOp's ctxv1 configs
        learner.update(n_ctx=4, ctx_init='a photo of a')
    if setting and setting.endswith('_csc'):  # a context per class of the dataset
        learner.update(class_specific=True, num_classes=BENCHMARKS[dataset].num_classes)
    if folder == 'promptsrc' and transfer:  # vit_b16_c2_ep20_batch4_4+4ctx_cross_datasets.yaml
        learner.update(depth_text=3, depth_vision=3)
    if folder == 'kgcoop' and dataset == 'dtd':  # KgCoOp's CUSTOM_TEMPLATES (kgcoop.py)
        learner['template'] = 'a photo of a {}, a type of texture.'
    assert cfg.model.prompt_learner == learner
    for key, value in LOSS_WEIGHTS.get(folder, {}).items():
        assert cfg.model[key] == value
    gpa = cfg.default_hooks.get('gpa')
    if folder == 'promptsrc':
        mean_std = PROMPTSRC_GPA['cross_dataset' if transfer else protocol]
        if protocol == 'few_shot' and dataset in PROMPTSRC_FINE_GRAINED_GPA[1]:
            mean_std = PROMPTSRC_FINE_GRAINED_GPA[0]
        assert gpa == dict(type='GaussianPromptAggregationHook', mean=mean_std[0], std=mean_std[1])
    else:
        assert gpa is None

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

    schedule = SCHEDULES[folder,
                         'cross_dataset' if protocol == 'domain_generalization' else protocol]
    if schedule is None:  # zero-shot: nothing to train
        assert cfg.train_dataloader is None and 'optim_wrapper' not in cfg
        return
    lr, epochs, batch = schedule
    if (folder, dataset) == ('coop', 'imagenet') and protocol in ('few_shot', 'base2novel'):
        epochs = 50  # CoOp: ImageNet 50 epochs
    if (folder, protocol, dataset) == ('coop', 'few_shot', 'imagenet'):
        epochs = 50  # CoOp: ImageNet 50 epochs at every K
    if folder == 'kgcoop' and transfer:
        shots = 4  # KgCoOp's scripts/xd_train.sh: SHOTS=4
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
        type='ConstantWarmupCosineLR',
        warmup_value=1e-5,
        warmup_steps=1,
        by_epoch=True,
        T_max=epochs)
    lrs = per_epoch_lrs(cfg.param_scheduler, epochs, lr)
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


def test_coop_few_shot_epochs_depend_on_the_shots():
    for setting in ('', 'rn50_', 'rn50_csc_'):
        assert built(CONFIGS / 'coop' /
                     f'few_shot_{setting}dtd.py').epochs_by_shots == COOP_EPOCHS_BY_SHOTS
        imagenet = built(CONFIGS / 'coop' / f'few_shot_{setting}imagenet.py')
        assert imagenet.epochs_by_shots == {k: 50 for k in COOP_EPOCHS_BY_SHOTS}
    for folder in METHODS:  # only CoOp varies its epochs with K
        if folder not in ('coop', 'zero_shot_clip'):
            assert 'epochs_by_shots' not in built(CONFIGS / folder / 'few_shot_dtd.py')

"""Every protocol config trains and tests end to end on miniature datasets.

The configs are used as written except for what a CPU test needs: the tiny
random CLIP (prompt depth at most 3 for its 4 layers), 32-pixel images, data
roots redirected from ``data/`` to miniature copies, one epoch, no workers.
"""
import itertools
from pathlib import Path

import mmengine.config.config
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from maple_mm.models import TINY_CLIP_CFG

from ..miniature_datasets import DATASET_FOLDERS, write_miniature
from .protocol_configs import CROSS_DATASET, DATASETS, DOMAIN_GENERALIZATION, protocol_configs

SIZE = 32
NUM_CLASSES = 4
_run_ids = itertools.count()


@pytest.fixture(scope='module', autouse=True)
def fast_cpu_runs():
    """One torch thread (several busy threads starve on a shared 2-core machine) and no
    yapf formatting of the config each runner logs and dumps (~0.3 s a call)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(mmengine.config.config, 'FormatCode', lambda text, **kwargs: (text, None))
        yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def data_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp('data')
    for key in DATASET_FOLDERS:
        write_miniature(root, key, num_classes=NUM_CLASSES, images_per_class=2,
                        image_size=SIZE)
    return root


def shrink(node, data_root: Path):
    """Redirect data roots to the miniatures and 224-pixel transforms to 32 pixels."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == 'data_root' and isinstance(value, str) and value.startswith('data/'):
                node[key] = str(data_root / value[len('data/'):])
            elif key in ('scale', 'crop_size') and value == 224:
                node[key] = SIZE
            else:
                shrink(value, data_root)
    elif isinstance(node, list):
        for item in node:
            shrink(item, data_root)


def tiny_config(path: Path, data_root: Path, work_dir: Path) -> Config:
    cfg = Config.fromfile(path)
    cfg.model.backbone = dict(type='OpenCLIPBackbone', model_cfg=TINY_CLIP_CFG)
    cfg.model.prompt_learner.depth = min(cfg.model.prompt_learner.depth, 3)
    for key in ('train_dataloader', 'test_dataloader', 'test_cfg'):
        shrink(cfg[key], data_root)
    datasets = [cfg.train_dataloader.dataset, cfg.test_dataloader.dataset,
                *[d for d in cfg.test_cfg.get('extra_sets', {}).values() if 'type' in d]]
    for dataset in datasets:
        dataset.serialize_data = False  # its gc.collect() costs ~0.4 s a dataset
    for key in ('train_dataloader', 'test_dataloader'):
        cfg[key].num_workers = 0
        cfg[key].persistent_workers = False
    cfg.train_cfg.max_epochs = 1
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = f'{path.stem}_{next(_run_ids)}'  # runners in one second differ
    return cfg


def expected_metrics(path: Path) -> set:
    top1 = 'accuracy/top1'
    if path.stem.startswith('base2novel_'):
        return {f'base/{top1}', f'novel/{top1}', 'HM'}
    if path.stem.startswith('few_shot_'):
        return {f'test/{top1}'}
    targets = ([k for k in DATASETS if k != 'imagenet'] if path == CROSS_DATASET
               else ['imagenetv2', 'imagenet_sketch', 'imagenet_a', 'imagenet_r'])
    return {f'{s}/{top1}' for s in ['imagenet', *targets]} | {'target_average'}


@pytest.mark.parametrize('path', protocol_configs(), ids=lambda p: p.stem)
def test_config_trains_and_tests(path, data_root, tmp_path):
    runner = Runner.from_cfg(tiny_config(path, data_root, tmp_path))
    runner.train()
    metrics = runner.test()
    assert set(metrics) == expected_metrics(path)
    assert all(0 <= v <= 100 for v in metrics.values())
    assert sorted(tmp_path.glob('*/test_metrics.json'))
    classes = {name: len(loader.dataset.metainfo['classes'])
               for name, loader in runner.test_loop.dataloaders.items()}
    if path.stem.startswith('base2novel_'):
        assert classes == dict(base=NUM_CLASSES // 2, novel=NUM_CLASSES // 2)
        assert len(runner.train_dataloader.dataset.metainfo['classes']) == NUM_CLASSES // 2
    elif path == DOMAIN_GENERALIZATION:
        # ImageNet-A / -R are tested over their own classes (a subset of ImageNet's).
        assert classes['imagenet'] == classes['imagenetv2'] == NUM_CLASSES
        assert 0 < classes['imagenet_a'] < NUM_CLASSES and 0 < classes['imagenet_r'] < NUM_CLASSES
    else:
        assert set(classes.values()) == {NUM_CLASSES}

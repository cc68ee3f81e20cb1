"""Run zoo configs on miniature datasets with the tiny random CLIP, in this process.

The configs are used as written except for what a CPU test needs: the tiny
CLIP (prompt depths at most 3 for its 4 layers; the tiny ResNet CLIP for a
config on a ResNet), 32-pixel images and views, data roots redirected from ``data/`` to
miniature copies, a class-specific context for the miniatures' classes, train
batches of at most 2 (the miniatures hold 2 images per class), one epoch, no workers.
"""
import itertools
from pathlib import Path
from typing import Optional

import mmengine.config.config
import pytest
import torch
import yapf.yapflib.yapf_api
from mmengine.config import Config

from maple_mm.datasets.catalog import BENCHMARKS, dataset_key_of_type
from maple_mm.engine import load_run_config
from maple_mm.models import TINY_CLIP_CFG, TINY_RESNET_CLIP_CFG
from ..miniature_datasets import DATASET_FOLDERS, write_miniature

SIZE = 32
NUM_CLASSES = 4
_run_ids = itertools.count()


@pytest.fixture(scope='module')
def fast_cpu_runs():
    """One torch thread (several busy threads starve on a shared 2-core machine) and no
    yapf formatting of the config each runner logs and dumps (~0.3 s a call)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    unformatted = lambda text, **kwargs: (text, None)  # noqa: E731
    with pytest.MonkeyPatch.context() as patch:
        # Where mmengine finds yapf's FormatCode differs between releases (a module-level
        # import in mmengine 0.10.7, an import inside pretty_text in onedl-mmengine).
        patch.setattr(yapf.yapflib.yapf_api, 'FormatCode', unformatted)
        patch.setattr(mmengine.config.config, 'FormatCode', unformatted, raising=False)
        yield
    torch.set_num_threads(threads)


def write_miniatures(root: Path) -> Path:
    """Every benchmark layout, 4 classes of 2 images per split, under ``root``."""
    for key in DATASET_FOLDERS:
        write_miniature(root, key, num_classes=NUM_CLASSES, images_per_class=2, image_size=SIZE)
    return root


def load(config: Path, *argv: str) -> Config:
    """The config as tools/train.py loads it, with ``--seed S`` / ``--shots K`` applied."""
    options = dict(zip(argv[::2], argv[1::2]))
    seed, shots = options.pop('--seed', None), options.pop('--shots', None)
    assert not options, f'only --seed and --shots: {options}'
    return load_run_config(
        str(config),
        seed=None if seed is None else int(seed),
        shots=None if shots is None else int(shots))


def _shrink(node, data_root: Path) -> None:
    """Data roots to the miniatures, 224-pixel transforms to 32 pixels, depths to 3."""
    if isinstance(node, dict):
        key = dataset_key_of_type(node.get('type')) if isinstance(node.get('type'), str) else None
        if key is not None and 'data_root' not in node:  # a benchmark's default data/<folder>
            node['data_root'] = str(data_root / BENCHMARKS[key].folder)
        for key, value in node.items():
            if key == 'data_root' and isinstance(value, str) and value.startswith('data/'):
                node[key] = str(data_root / value[len('data/'):])
            elif key in ('scale', 'crop_size', 'size') and value == 224:
                node[key] = SIZE
            elif key in ('depth', 'depth_text', 'depth_vision') and isinstance(value, int):
                node[key] = min(value, 3)
            else:
                _shrink(value, data_root)
    elif isinstance(node, list):
        for item in node:
            _shrink(item, data_root)


def tiny(cfg: Config, data_root: Path, work_dir: Path, epochs: Optional[int] = 1) -> Config:
    """``cfg`` on the tiny CLIP and the miniatures, writing into ``work_dir``."""
    resnet = str(cfg.model.backbone.get('model_name', '')).startswith('RN')
    cfg.model.backbone = dict(
        type='OpenCLIPBackbone', model_cfg=TINY_RESNET_CLIP_CFG if resnet else TINY_CLIP_CFG)
    if cfg.model.get('prompt_learner', {}).get('class_specific'):
        cfg.model.prompt_learner.num_classes = NUM_CLASSES
    for key in ('model', 'train_dataloader', 'test_dataloader', 'test_cfg', 'source_statistics'):
        _shrink(cfg.get(key), data_root)
    loaders = [cfg[k] for k in ('train_dataloader', 'test_dataloader') if cfg.get(k)]
    datasets = [loader.dataset for loader in loaders]
    datasets += [d for d in (cfg.test_cfg.get('extra_sets') or {}).values() if 'type' in d]
    for dataset in datasets:
        dataset.serialize_data = False  # its gc.collect() costs ~0.4 s a dataset
    for loader in loaders:
        loader.num_workers = 0
        loader.persistent_workers = False
    if cfg.get('train_dataloader'):
        cfg.train_dataloader.batch_size = min(cfg.train_dataloader.batch_size, 2)
        if epochs is not None:
            cfg.train_cfg.max_epochs = epochs
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = f'tiny_{next(_run_ids)}'  # runners started in one second differ
    return cfg

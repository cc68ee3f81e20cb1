"""Compute and write PromptAlign's source statistics for a config and a checkpoint.

``tools/source_statistics.py`` is the command line over :func:`write_source_statistics`;
the format and the two passes: :mod:`maple_mm.models.test_time.source_statistics`.
"""
import copy
import os
from typing import Optional, Union

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from maple_mm.errors import ConfigError, SourceStatisticsError
from maple_mm.models.test_time.source_statistics import (compute_source_statistics,
                                                         save_source_statistics)
from maple_mm.progress import Progress
from .inference import load_model


def source_dataloader(cfg: Config) -> dict:
    """The data loader config of ``cfg.source_statistics`` (its dataset, the test transforms
    unless it names a pipeline), in order, without shuffling."""
    section = cfg.get('source_statistics')
    if not section or not section.get('dataset'):
        raise ConfigError('The config has no source_statistics.dataset to compute the statistics '
                          "on (PromptAlign's configs inherit it from configs/_base_/test_time.py).")
    dataset = copy.deepcopy(dict(section['dataset']))
    pipeline = section.get('pipeline') or cfg.get('test_pipeline')
    if not pipeline:
        raise ConfigError('source_statistics has no pipeline and the config no test_pipeline: '
                          'name the transforms its images go through.')
    dataset['pipeline'] = copy.deepcopy(pipeline)
    return dict(
        batch_size=section.get('batch_size', 64),
        num_workers=section.get('num_workers', 4),
        sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=dataset)


def write_source_statistics(config: Union[str, Config],
                            checkpoint: str,
                            out: Optional[str] = None,
                            device: str = 'cpu',
                            overwrite: bool = False,
                            progress: bool = True) -> str:
    """Compute the statistics of ``cfg.source_statistics.dataset`` through the checkpoint's
    prompts and write them to ``out`` (default: ``source_statistics.file``); return the path.

    An existing file is replaced only with ``overwrite`` (the new one is written beside it
    and renamed: the old one stays whole until then).
    """
    cfg = Config.fromfile(config) if isinstance(config, str) else config
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    path = out or (cfg.get('source_statistics') or {}).get('file')
    if not path:
        raise ConfigError('Where to write the statistics: give --out or set '
                          'source_statistics.file in the config.')
    if os.path.exists(path) and not overwrite:
        raise SourceStatisticsError(f'{path} already exists; pass --overwrite to replace it or '
                                    '--out another file.')
    loader_cfg = source_dataloader(cfg)
    from mmengine.runner import Runner
    loader = Runner.build_dataloader(loader_cfg, seed=0)
    total = len(loader.dataset)
    classes = list(loader.dataset.metainfo.get('classes') or []) or None
    model = load_model(cfg, checkpoint, device=device, classes=classes).eval()
    report = Progress(2 * total, 'source statistics (2 passes)', 'images') if progress else None

    def batches():
        for data in loader:
            yield model.data_preprocessor(data, False)['inputs']

    try:
        with torch.no_grad():
            mean, var, images = compute_source_statistics(model, batches,
                                                          report.update if report else None)
    finally:
        if report is not None:
            report.close()
    learner = model.prompt_learner
    save_source_statistics(
        path,
        mean,
        var,
        images,
        model=dict(
            type=type(model).__name__,
            clip=model.backbone.model_name,
            learner=f'{type(learner).__name__}({learner.extra_repr()})',
            checkpoint=os.path.basename(checkpoint)),
        dataset=f'{type(loader.dataset).__name__} {loader_cfg["dataset"].get("split", "")}'.strip())
    return path

"""Every shipped config resolves to its reference recipe, value by value.

Each method's rows (``recipes`` and ``other_clips`` of
:class:`tests.method_rows.MethodRows`, in its own test module) are written from the
reference repositories' own files, named per value, independently of the config
files: lr, train batch, epochs, the prompt settings, the precision (the trainers'
``PREC``), the base batch of ``--auto-scale-lr`` and the CLIP (the yaml's
``MODEL.BACKBONE.NAME``). The SGD settings and the warm-up are Dassl's
(``dassl/config/defaults.py``: momentum 0.9, weight decay 5e-4, no nesterov;
each yaml: ``WARMUP_EPOCH 1``, ``WARMUP_TYPE constant``, ``WARMUP_CONS_LR 1e-5``,
cosine). Configs are loaded with ``Config.fromfile`` as the tools load them.
"""
import pytest

from maple_mm.config_names import DEFAULT_CLIP
from ..method_rows import (Recipe, method_rows, other_clip_configs, protocols, recipe,
                           trained_folders)
from .zoo import CONFIGS, DATASETS, METHODS, built

DASSL_SGD = dict(type='SGD', momentum=0.9, weight_decay=5e-4, nesterov=False)


def trained_configs():
    """(folder, protocol, dataset, setting, path) of every trained config; ``setting``: that
    of a recipe on another CLIP ('rn50', 'rn50_csc'), None on ViT-B/16."""
    for folder in trained_folders():
        for protocol in ('base2novel', 'few_shot'):
            if protocol not in protocols(folder):
                continue
            for dataset in DATASETS:
                yield pytest.param(
                    folder,
                    protocol,
                    dataset,
                    None,
                    CONFIGS / folder / f'{protocol}_{dataset}.py',
                    id=f'{folder}/{protocol}_{dataset}')
        for name in ('cross_dataset', 'domain_generalization'):
            if 'cross_dataset' not in protocols(folder):
                continue
            yield pytest.param(
                folder,
                'cross_dataset',
                'imagenet',
                None,
                CONFIGS / folder / f'{name}_imagenet.py',
                id=f'{folder}/{name}_imagenet')
        for name, (setting, protocol, dataset) in other_clip_configs(folder).items():
            if isinstance(recipe(folder, protocol, dataset, setting), Recipe):
                yield pytest.param(
                    folder,
                    protocol,
                    dataset,
                    setting,
                    CONFIGS / folder / f'{name}.py',
                    id=f'{folder}/{name}')


@pytest.mark.parametrize('folder,protocol,dataset,setting,path', trained_configs())
def test_config_resolves_to_the_reference_recipe(folder, protocol, dataset, setting, path):
    row = recipe(folder, protocol, dataset, setting)
    assert isinstance(row, Recipe), path
    cfg = built(path)
    where = f'{path.relative_to(CONFIGS.parent)} vs {row.source}'
    clip = method_rows()[folder].other_clips[setting].clip if setting else DEFAULT_CLIP
    assert (cfg.model.backbone.model_name, cfg.model.backbone.pretrained) == (clip, 'openai'), where
    assert cfg.optim_wrapper.optimizer == dict(DASSL_SGD, lr=row.lr), where
    assert cfg.train_dataloader.batch_size == row.batch, where
    assert cfg.auto_scale_lr.base_batch_size == row.batch, where
    # T_max: the scheduler's end, which the runner sets to max_epochs (test_warmup_cosine_lr).
    assert cfg.train_cfg.max_epochs == row.epochs and 'T_max' not in cfg.param_scheduler, where
    assert (cfg.param_scheduler.type, cfg.param_scheduler.warmup_value,
            cfg.param_scheduler.warmup_steps) == ('ConstantWarmupCosineLR', 1e-5, 1), where
    learner = cfg.model.prompt_learner
    assert {k: learner.get(k) for k in row.learner} == row.learner, where
    assert cfg.precision.cuda == row.precision and cfg.precision.get('cpu') == 'fp32', where


@pytest.mark.parametrize('folder', METHODS)
def test_the_clip_of_each_recipe_on_another_clip_is_the_one_its_config_names(folder):
    """The rows' CLIP (the reference yaml's) is the one the configs' names say."""
    from maple_mm.config_names import config_name
    for setting, rows in method_rows()[folder].other_clips.items():
        assert config_name(f'few_shot_{setting}_dtd').clip == rows.clip, (folder, setting)
        assert rows.recipes, (folder, setting)


def test_auto_scale_lr_without_the_recipes_base_batch_is_a_clear_error(tmp_path):
    """A config of one's own without base_batch_size: no silent factor from another batch."""
    from mmengine.config import Config

    from maple_mm.errors import ConfigError
    from ..conftest import load_tool
    assert 'base_batch_size' not in Config.fromfile(CONFIGS / '_base_' /
                                                    'default_runtime.py').auto_scale_lr
    config = tmp_path / 'mine.py'
    config.write_text(f"_base_ = [{str(CONFIGS / '_base_' / 'default_runtime.py')!r}]\n")
    train = load_tool('tools/train.py')
    with pytest.raises(
            ConfigError,
            match=r'--auto-scale-lr: .*mine\.py sets no '
            r'auto_scale_lr\.base_batch_size, the batch its lr is for'):
        train.main([str(config), '--auto-scale-lr', '--work-dir', str(tmp_path / 'w')])

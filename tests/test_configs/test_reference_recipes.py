"""Every shipped training config resolves to its reference recipe, value by value.

Each method's rows (``recipes`` of :class:`tests.method_rows.MethodRows`, in its
own test module) are written from the reference repositories' own files, named
per value, independently of the config files: lr, train batch, epochs, the
prompt settings, the precision (the trainers' ``PREC``) and the base batch of
``--auto-scale-lr``. The SGD settings and the warm-up are Dassl's
(``dassl/config/defaults.py``: momentum 0.9, weight decay 5e-4, no nesterov;
each yaml: ``WARMUP_EPOCH 1``, ``WARMUP_TYPE constant``, ``WARMUP_CONS_LR 1e-5``,
cosine). Configs are loaded with ``Config.fromfile`` as the tools load them.
"""
import pytest

from ..method_rows import Recipe, protocols, recipe, trained_folders
from .zoo import CONFIGS, DATASETS, built

DASSL_SGD = dict(type='SGD', momentum=0.9, weight_decay=5e-4, nesterov=False)


def trained_configs():
    for folder in trained_folders():
        for protocol in ('base2novel', 'few_shot'):
            if protocol not in protocols(folder):
                continue
            for dataset in DATASETS:
                yield pytest.param(
                    folder,
                    protocol,
                    dataset,
                    CONFIGS / folder / f'{protocol}_{dataset}.py',
                    id=f'{folder}/{protocol}_{dataset}')
        for name in ('cross_dataset', 'domain_generalization'):
            if 'cross_dataset' not in protocols(folder):
                continue
            yield pytest.param(
                folder,
                'cross_dataset',
                'imagenet',
                CONFIGS / folder / f'{name}_imagenet.py',
                id=f'{folder}/{name}_imagenet')


@pytest.mark.parametrize('folder,protocol,dataset,path', trained_configs())
def test_config_resolves_to_the_reference_recipe(folder, protocol, dataset, path):
    row = recipe(folder, protocol, dataset)
    assert isinstance(row, Recipe), path
    cfg = built(path)
    where = f'{path.relative_to(CONFIGS.parent)} vs {row.source}'
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

"""--seed and --shots (tools/_cli.py): the run's seed, every dataset's few-shot draw, the
epochs CoOp gives K shots, and the default work dir work_dirs/<method>/<config>[_<K>shots]."""
import argparse
import os
import sys

import pytest

from maple_mm.errors import ConfigError

from ..conftest import REPO_ROOT
from .zoo import CONFIGS

sys.path.insert(0, str(REPO_ROOT / 'tools'))
import _cli  # noqa: E402

DTD = CONFIGS / 'maple' / 'base2novel_dtd.py'


def load(config, *argv):
    parser = argparse.ArgumentParser()
    parser.add_argument('config')
    _cli.add_common_args(parser)
    return _cli.load_config(parser.parse_args([str(config), *argv]))


def dataset_values(cfg, key: str) -> dict:
    values = {loader: cfg[loader].dataset.get(key)
              for loader in ('train_dataloader', 'test_dataloader') if cfg.get(loader)}
    values.update({name: fields.get(key) for name, fields in
                   cfg.test_cfg.get('extra_sets', {}).items()})
    return values


def test_seed_reaches_the_run_and_every_dataset():
    cfg = load(DTD, '--seed', '3')
    assert cfg.randomness.seed == 3
    # The novel set overrides fields of the base test set, so it shares its seed.
    assert dataset_values(cfg, 'seed') == dict(train_dataloader=3, test_dataloader=3, novel=None)
    assert cfg.work_dir == os.path.join('work_dirs', 'maple', 'base2novel_dtd', 'seed3')


def test_seed_reaches_complete_extra_sets():
    for name in ('cross_dataset_imagenet', 'domain_generalization_imagenet'):
        cfg = load(CONFIGS / 'vpt' / f'{name}.py', '--seed', '2')
        assert set(dataset_values(cfg, 'seed').values()) == {2}
        assert cfg.randomness.seed == 2


def test_without_seed_the_config_decides():
    cfg = load(DTD)
    assert cfg.randomness.seed == 1 and set(dataset_values(cfg, 'seed').values()) == {1, None}
    assert cfg.work_dir == os.path.join('work_dirs', 'maple', 'base2novel_dtd')


def test_methods_sharing_a_config_name_get_their_own_work_dirs():
    dirs = {load(CONFIGS / folder / 'base2novel_dtd.py', '--seed', '1').work_dir
            for folder in ('coop', 'cocoop', 'maple', 'zero_shot_clip')}
    assert len(dirs) == 4


def test_explicit_work_dir_wins_and_seed_beats_cfg_options(tmp_path):
    cfg = load(DTD, '--seed', '2', '--work-dir', str(tmp_path),
               '--cfg-options', 'randomness.seed=7', 'train_dataloader.dataset.seed=7')
    assert cfg.work_dir == str(tmp_path)
    assert cfg.randomness.seed == 2 and cfg.train_dataloader.dataset.seed == 2


def test_shots_reach_every_drawing_dataset_and_name_the_run():
    cfg = load(CONFIGS / 'maple' / 'few_shot_dtd.py', '--shots', '4', '--seed', '2')
    assert dataset_values(cfg, 'num_shots') == dict(train_dataloader=4, test_dataloader=4)
    assert cfg.work_dir == os.path.join('work_dirs', 'maple', 'few_shot_dtd_4shots', 'seed2')
    # Without epochs_by_shots the recipe's epochs stay.
    assert cfg.train_cfg.max_epochs == cfg.param_scheduler.T_max == 50


def test_shots_leave_the_other_test_sets_whole():
    cfg = load(CONFIGS / 'maple' / 'cross_dataset_imagenet.py', '--shots', '8')
    values = dataset_values(cfg, 'num_shots')
    assert values.pop('train_dataloader') == values.pop('test_dataloader') == 8
    assert set(values.values()) == {None}  # the targets keep all their test items


@pytest.mark.parametrize('shots,epochs', [(1, 50), (2, 100), (4, 100), (8, 200), (16, 200)])
def test_coop_epochs_follow_the_shots(shots, epochs):
    cfg = load(CONFIGS / 'coop' / 'few_shot_dtd.py', '--shots', str(shots))
    assert cfg.train_cfg.max_epochs == cfg.param_scheduler.T_max == cfg.max_epochs == epochs
    assert cfg.train_dataloader.dataset.num_shots == shots
    imagenet = load(CONFIGS / 'coop' / 'few_shot_imagenet.py', '--shots', str(shots))
    assert imagenet.train_cfg.max_epochs == imagenet.param_scheduler.T_max == 50


def test_shots_without_epochs_for_them_are_a_clear_error():
    with pytest.raises(ConfigError, match='epochs_by_shots gives epochs for'):
        load(CONFIGS / 'coop' / 'few_shot_dtd.py', '--shots', '3')
    with pytest.raises(ConfigError, match='at least 1'):
        load(DTD, '--shots', '0')

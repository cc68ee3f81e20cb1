"""--seed (tools/_cli.py) sets the run's seed and every dataset's few-shot seed."""
import argparse
import os
import sys

from ..conftest import REPO_ROOT
from .protocol_configs import CROSS_DATASET, DOMAIN_GENERALIZATION, base2novel_config

sys.path.insert(0, str(REPO_ROOT / 'tools'))
import _cli  # noqa: E402


def load(config, *argv):
    parser = argparse.ArgumentParser()
    parser.add_argument('config')
    _cli.add_common_args(parser)
    return _cli.load_config(parser.parse_args([str(config), *argv]))


def dataset_seeds(cfg) -> dict:
    seeds = {key: cfg[key].dataset.seed for key in ('train_dataloader', 'test_dataloader')}
    seeds.update({name: fields.get('seed') for name, fields in
                  cfg.test_cfg.get('extra_sets', {}).items()})
    return seeds


def test_seed_reaches_the_run_and_every_dataset():
    cfg = load(base2novel_config('dtd'), '--seed', '3')
    assert cfg.randomness.seed == 3
    # The novel set overrides fields of the base test set, so it shares its seed.
    assert dataset_seeds(cfg) == dict(train_dataloader=3, test_dataloader=3, novel=None)
    assert cfg.work_dir == os.path.join('work_dirs', 'base2novel_dtd', 'seed3')


def test_seed_reaches_complete_extra_sets():
    for config in (CROSS_DATASET, DOMAIN_GENERALIZATION):
        cfg = load(config, '--seed', '2')
        assert set(dataset_seeds(cfg).values()) == {2}
        assert cfg.randomness.seed == 2


def test_without_seed_the_config_decides():
    cfg = load(base2novel_config('dtd'))
    assert cfg.randomness.seed == 1 and set(dataset_seeds(cfg).values()) == {1, None}
    assert cfg.work_dir == os.path.join('work_dirs', 'base2novel_dtd')


def test_explicit_work_dir_wins_and_seed_beats_cfg_options(tmp_path):
    cfg = load(base2novel_config('dtd'), '--seed', '2', '--work-dir', str(tmp_path),
               '--cfg-options', 'randomness.seed=7', 'train_dataloader.dataset.seed=7')
    assert cfg.work_dir == str(tmp_path)
    assert cfg.randomness.seed == 2 and cfg.train_dataloader.dataset.seed == 2

"""--seed and --shots (maple_mm/engine/runners/run_config.py, what every tool's options go
through): the run's seed, every dataset's few-shot draw, the epochs a recipe gives K shots
(``values_by_shots``, on the first method whose rows declare it), and the default work dir
work_dirs/<method>/<config>[_<K>shots]."""
import argparse
import logging
import os

import pytest
from mmengine.config import DictAction

from maple_mm.engine import apply_shots, load_run_config
from maple_mm.errors import ConfigError
from ..method_rows import epochs_by_shots, recipe, with_epochs_by_shots
from .zoo import CONFIGS, METHODS

DTD = CONFIGS / 'maple' / 'base2novel_dtd.py'  # the example method's
#: A method whose few-shot epochs follow the shots, and its recipe's epochs by shots.
BY_SHOTS, BY_SHOTS_RECIPE = with_epochs_by_shots()
FEW_SHOT_DTD = CONFIGS / BY_SHOTS / 'few_shot_dtd.py'


def load(config, *argv):
    """load_run_config with the tools' options, parsed as the tools parse them."""
    parser = argparse.ArgumentParser()
    parser.add_argument('--seed', type=int)
    parser.add_argument('--shots', type=int)
    parser.add_argument('--work-dir')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    return load_run_config(str(config), args.cfg_options, args.seed, args.shots, args.work_dir)


def dataset_values(cfg, key: str) -> dict:
    values = {
        loader: cfg[loader].dataset.get(key)
        for loader in ('train_dataloader', 'test_dataloader') if cfg.get(loader)
    }
    values.update({
        name: fields.get(key)
        for name, fields in cfg.test_cfg.get('extra_sets', {}).items()
    })
    return values


def test_seed_reaches_the_run_and_every_dataset():
    cfg = load(DTD, '--seed', '3')
    assert cfg.randomness.seed == 3
    # The novel set overrides fields of the base test set, so it shares its seed.
    assert dataset_values(cfg, 'seed') == dict(train_dataloader=3, test_dataloader=3, novel=None)
    assert cfg.work_dir == os.path.join('work_dirs', 'maple', 'base2novel_dtd', 'seed3')


def test_seed_reaches_complete_extra_sets():
    for name in ('cross_dataset_imagenet', 'domain_generalization_imagenet'):
        cfg = load(CONFIGS / 'maple' / f'{name}.py', '--seed', '2')
        assert set(dataset_values(cfg, 'seed').values()) == {2}
        assert cfg.randomness.seed == 2


def test_without_seed_the_config_decides():
    cfg = load(DTD)
    assert cfg.randomness.seed == 1 and set(dataset_values(cfg, 'seed').values()) == {1, None}
    assert cfg.work_dir == os.path.join('work_dirs', 'maple', 'base2novel_dtd')


def test_methods_sharing_a_config_name_get_their_own_work_dirs():
    dirs = {
        load(CONFIGS / folder / 'base2novel_dtd.py', '--seed', '1').work_dir
        for folder in METHODS
    }
    assert len(dirs) == len(METHODS)


def test_explicit_work_dir_wins_and_seed_beats_cfg_options(tmp_path):
    cfg = load(DTD, '--seed', '2', '--work-dir', str(tmp_path), '--cfg-options',
               'randomness.seed=7', 'train_dataloader.dataset.seed=7')
    assert cfg.work_dir == str(tmp_path)
    assert cfg.randomness.seed == 2 and cfg.train_dataloader.dataset.seed == 2


def test_shots_reach_every_drawing_dataset_and_name_the_run():
    cfg = load(CONFIGS / 'maple' / 'few_shot_dtd.py', '--shots', '4', '--seed', '2')
    assert dataset_values(cfg, 'num_shots') == dict(train_dataloader=4, test_dataloader=4)
    assert cfg.work_dir == os.path.join('work_dirs', 'maple', 'few_shot_dtd_4shots', 'seed2')
    # Without values_by_shots the recipe's epochs stay.
    assert cfg.train_cfg.max_epochs == 50 and 'T_max' not in cfg.param_scheduler  # follows it


def test_shots_leave_the_other_test_sets_whole():
    cfg = load(CONFIGS / 'maple' / 'cross_dataset_imagenet.py', '--shots', '8')
    values = dataset_values(cfg, 'num_shots')
    assert values.pop('train_dataloader') == values.pop('test_dataloader') == 8
    assert set(values.values()) == {None}  # the targets keep all their test items


@pytest.mark.parametrize('shots,epochs', epochs_by_shots(BY_SHOTS_RECIPE).items())
def test_epochs_follow_the_shots(shots, epochs):
    cfg = load(FEW_SHOT_DTD, '--shots', str(shots))
    # The lr schedule's T_max follows max_epochs (the runner sets its end to it).
    assert cfg.train_cfg.max_epochs == epochs and 'T_max' not in cfg.param_scheduler
    assert cfg.train_dataloader.dataset.num_shots == shots
    imagenet = load(CONFIGS / BY_SHOTS / 'few_shot_imagenet.py', '--shots', str(shots))
    imagenet_epochs = epochs_by_shots(recipe(BY_SHOTS, 'few_shot', 'imagenet'))[shots]
    assert imagenet.train_cfg.max_epochs == imagenet_epochs
    assert 'T_max' not in imagenet.param_scheduler


def test_shots_without_epochs_for_them_are_a_clear_error():
    with pytest.raises(ConfigError, match='values_by_shots gives max_epochs for'):
        load(FEW_SHOT_DTD, '--shots', '3')
    with pytest.raises(ConfigError, match='at least 1'):
        load(DTD, '--shots', '0')


def test_shots_from_cfg_options_and_from_a_built_runner_as_from_the_tools(tmp_path):
    """mmpretrain's tools and Runner.from_cfg: a top-level ``shots`` entry is --shots."""
    epochs = epochs_by_shots(BY_SHOTS_RECIPE)
    cfg = load(FEW_SHOT_DTD, '--cfg-options', 'shots=2')
    assert cfg.train_dataloader.dataset.num_shots == 2 and cfg.train_cfg.max_epochs == epochs[2]
    assert cfg.work_dir == os.path.join('work_dirs', BY_SHOTS, 'few_shot_dtd_2shots')
    from mmengine.config import Config

    from maple_mm.engine import MapleRunner
    raw = Config.fromfile(FEW_SHOT_DTD)
    raw.shots, raw.work_dir = 4, str(tmp_path)
    seen = {}
    original = MapleRunner.__init__
    try:  # what from_cfg hands the runner; nothing is built

        def probe(self, **kwargs):
            seen.update(kwargs)
            self.logger = logging.getLogger('probe')

        MapleRunner.__init__ = probe
        MapleRunner.from_cfg(raw)
    finally:
        MapleRunner.__init__ = original
    assert seen['train_dataloader']['dataset']['num_shots'] == 4
    assert seen['train_cfg']['max_epochs'] == epochs[4]
    assert raw.train_dataloader.dataset.num_shots == 16
    apply_shots(raw, 4)
    apply_shots(raw, 4)  # the tools apply it, then the runner again: the same
    assert raw.train_cfg.max_epochs == epochs[4]

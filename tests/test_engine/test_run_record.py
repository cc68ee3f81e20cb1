"""A run's record names its experiment: the config (without the dataset) and what the run
changed in it, so variants of one method never merge in the results tables."""
import argparse

from mmengine.config import Config

from maple_mm.engine.optimizers.mixed_precision_optim_wrapper import apply_run_precision
from maple_mm.evaluation.run_record import run_record, variant_name
from ..conftest import REPO_ROOT, load_tool
from ..method_rows import with_dataset_recipe, with_epochs_by_shots
from ..test_configs.zoo import CONFIGS

_cli = load_tool('tools/_cli.py')


def record_of(config, *argv, device='cuda'):
    """The record of a run of ``config`` with the tools' options ``argv``."""
    parser = argparse.ArgumentParser()
    parser.add_argument('config')
    _cli.add_common_args(parser)
    cfg = _cli.load_config(parser.parse_args([str(config), *argv]))
    apply_run_precision(cfg, device)  # as MapleRunner does
    return run_record(cfg)


def test_one_recipe_is_one_variant_whatever_the_dataset_seed_shots_or_device():
    dtd = record_of(CONFIGS / 'maple' / 'base2novel_dtd.py', '--seed', '2')
    imagenet = record_of(CONFIGS / 'maple' / 'base2novel_imagenet.py', device='cpu')
    assert (dtd['method'], dtd['dataset'], dtd['seed'], dtd['variant']) == ('MaPLe', 'dtd', 2,
                                                                            'maple/base2novel')
    assert imagenet['variant'] == 'maple/base2novel' and imagenet['processes'] == 1
    # --shots 1 gives a method its epochs for 1 shot (values_by_shots): the recipe's, not a
    # change; nor is a dataset's own recipe value.
    folder, _ = with_epochs_by_shots()
    assert record_of(CONFIGS / folder / 'few_shot_eurosat.py', '--shots', '1')['variant'] \
        == f'{folder}/few_shot'
    folder, dataset = with_dataset_recipe('base2novel')
    assert record_of(CONFIGS / folder / f'base2novel_{dataset}.py')['variant'] == \
        f'{folder}/base2novel'


def test_transfer_runs_name_their_recipe_and_method():
    """The cross-dataset protocol's helper sets were once a top-level ``variant``, which the
    records took for the experiment's name (a dict); the method is the model's type."""
    for name in ('cross_dataset', 'domain_generalization'):
        record = record_of(CONFIGS / 'maple' / f'{name}_imagenet.py')
        assert (record['method'], record['variant'], record['protocol']) == ('MaPLe',
                                                                             f'maple/{name}', name)


def test_what_the_run_changed_names_the_variant():
    record = record_of(CONFIGS / 'maple' / 'base2novel_dtd.py', '--cfg-options',
                       'model.prompt_learner.depth=3', 'optim_wrapper.optimizer.lr=0.01',
                       '--precision', 'fp32')
    assert record['variant'] == ('maple/base2novel [model.prompt_learner.depth=3, '
                                 'optim_wrapper.optimizer.lr=0.01, precision=fp32]')


def test_another_config_file_is_another_variant(tmp_path):
    folder = tmp_path / 'maple_ema'
    folder.mkdir()
    config = folder / 'base2novel_dtd.py'
    config.write_text(f"_base_ = [{str(REPO_ROOT / 'configs/maple/base2novel_dtd.py')!r}]\n"
                      "custom_hooks = [dict(type='EMAHook', momentum=0.001)]\n")
    assert record_of(config)['variant'] == 'maple_ema/base2novel'


def test_the_config_a_run_saves_keeps_its_variant(tmp_path):
    """MapleRunner writes the name into the config; tools/test.py on the saved copy (in the
    work dir, another folder and file) records the same run."""
    parser = argparse.ArgumentParser()
    parser.add_argument('config')
    _cli.add_common_args(parser)
    cfg = _cli.load_config(
        parser.parse_args([
            str(CONFIGS / 'maple' / 'base2novel_dtd.py'), '--cfg-options',
            'model.prompt_learner.depth=3'
        ]))
    cfg.variant = variant_name(cfg)  # as MapleRunner.from_cfg does
    saved = tmp_path / 'seed1' / 'base2novel_dtd.py'
    saved.parent.mkdir()
    cfg.dump(str(saved))
    again = Config.fromfile(str(saved))
    assert run_record(again)['variant'] == variant_name(again) == \
        'maple/base2novel [model.prompt_learner.depth=3]'

"""A representative set of zoo configs trains and tests end to end on miniature datasets.

Every trained method once on base-to-novel (each on another dataset layout),
cross-dataset once, domain generalisation once, few-shot once (with --shots 2, on
a method whose epochs follow the shots) and every method that learns nothing
through tools/test.py without a checkpoint. The methods come from their rows
(tests/method_rows.py); this file names only the example method.
"""
import json

import pytest
from mmpretrain.registry import RUNNERS

from maple_mm.datasets.catalog import IMAGENET_VARIANTS
from ..conftest import load_tool
from ..method_rows import (epochs_by_shots, recipe, trained_folders, untrained_folders,
                           with_epochs_by_shots)
from .tiny_runs import NUM_CLASSES, fast_cpu_runs, load, tiny, write_miniatures  # noqa: F401
from .zoo import CONFIGS, DATASETS, METHODS

pytestmark = pytest.mark.long_running(seconds=16)

TOP1 = 'accuracy/top1'
#: Every trained method once on base-to-novel, each on another dataset layout while they last.
BASE2NOVEL = {folder: DATASETS[i % len(DATASETS)] for i, folder in enumerate(trained_folders())}


@pytest.fixture(scope='module', autouse=True)
def _fast(fast_cpu_runs):  # noqa: F811
    yield


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    return write_miniatures(tmp_path_factory.mktemp('data'))


def record(work_dir) -> dict:
    (path, ) = work_dir.glob('*/test_metrics.json')
    return json.loads(path.read_text())


def train_and_test(cfg):
    runner = RUNNERS.build(cfg)  # the config's runner_type: MapleRunner
    runner.train()
    return runner, runner.test()


@pytest.mark.parametrize('folder', BASE2NOVEL)
def test_base2novel(folder, data_root, tmp_path):
    dataset = BASE2NOVEL[folder]
    cfg = tiny(
        load(CONFIGS / folder / f'base2novel_{dataset}.py', '--seed', '2'), data_root, tmp_path)
    runner, metrics = train_and_test(cfg)
    assert set(metrics) == {f'base/{TOP1}', f'novel/{TOP1}', 'HM'}
    assert all(0 <= v <= 100 for v in metrics.values())
    classes = {
        name: len(loader.dataset.metainfo['classes'])
        for name, loader in runner.test_loop.dataloaders.items()
    }
    assert classes == dict(base=NUM_CLASSES // 2, novel=NUM_CLASSES // 2)
    written = record(tmp_path)['record']
    variant = written.pop('variant')
    trained, tested = written.pop('trained'), written.pop('tested')
    assert written == dict(
        method=METHODS[folder],
        protocol='base2novel',
        dataset=dataset,
        shots=recipe(folder, 'base2novel', dataset).shots,  # the recipe's (ProGrad trains 4)
        seed=2,
        config=f'base2novel_{dataset}',
        backbone='custom',  # the tiny CLIP
        processes=1,
        allow_other_method=False,
        checkpoint=None)  # tested the weights it trained
    # What the weights were trained on, and what each set tested: the base set has the
    # training classes; both sets read the same lists of the same source (every list of an
    # index file; ImageNet's builds list only the class folders they read).
    base = runner.test_loop.dataloaders['base'].dataset.metainfo['classes']
    assert trained['classes'] == list(base) and len(base) == NUM_CLASSES // 2
    assert set(tested) == {'base', 'novel'} and tested['base'] == tested['novel']
    assert trained['data']['source'] == tested['base']['source']
    common = set(trained['data']['lists']) & set(tested['base']['lists'])
    assert common == (set() if dataset == 'imagenet' else {'train', 'val', 'test'})
    assert all(trained['data']['lists'][k] == tested['base']['lists'][k] for k in common)
    # The recipe, and what tiny() changed in it (the seed is no change of the experiment).
    assert variant.startswith(f'{folder}/base2novel [') and 'max_epochs=1' in variant \
        and 'seed' not in variant


def test_cross_dataset(data_root, tmp_path):
    cfg = tiny(load(CONFIGS / 'maple' / 'cross_dataset_imagenet.py'), data_root, tmp_path)
    runner, metrics = train_and_test(cfg)
    assert set(metrics) == {f'{k}/{TOP1}' for k in DATASETS} | {'target_average'}
    assert set(
        len(loader.dataset.metainfo['classes'])
        for loader in runner.test_loop.dataloaders.values()) == {NUM_CLASSES}
    assert record(tmp_path)['record']['protocol'] == 'cross_dataset'


def test_domain_generalization(data_root, tmp_path):
    """On the last trained method (table order): another than cross-dataset's."""
    folder = trained_folders()[-1]
    cfg = tiny(load(CONFIGS / folder / 'domain_generalization_imagenet.py'), data_root, tmp_path)
    runner, metrics = train_and_test(cfg)
    sets = ['imagenet', *IMAGENET_VARIANTS]
    assert set(metrics) == {f'{s}/{TOP1}' for s in sets} | {'target_average'}
    classes = {
        name: len(loader.dataset.metainfo['classes'])
        for name, loader in runner.test_loop.dataloaders.items()
    }
    # ImageNet-A / -R are tested over their own classes (a subset of ImageNet's).
    assert classes['imagenet'] == classes['imagenetv2'] == NUM_CLASSES
    assert 0 < classes['imagenet_a'] < NUM_CLASSES and 0 < classes['imagenet_r'] < NUM_CLASSES
    assert record(tmp_path)['record']['protocol'] == 'domain_generalization'


def test_few_shot_with_two_shots(data_root, tmp_path):
    folder, recipe = with_epochs_by_shots()
    cfg = load(CONFIGS / folder / 'few_shot_dtd.py', '--shots', '2')
    # The lr schedule's T_max follows max_epochs (the runner sets its end to it).
    assert cfg.train_cfg.max_epochs == epochs_by_shots(recipe)[2]
    assert 'T_max' not in cfg.param_scheduler
    runner, metrics = train_and_test(tiny(cfg, data_root, tmp_path))
    assert [s.T_max for s in runner.param_schedulers] == [runner.max_epochs]  # the lr follows
    assert set(metrics) == {f'test/{TOP1}'}
    assert len(runner.train_dataloader.dataset) == 2 * NUM_CLASSES
    assert record(tmp_path)['record']['shots'] == 2


@pytest.mark.parametrize('folder', untrained_folders())
def test_a_method_that_learns_nothing_tests_without_checkpoint(folder, data_root, tmp_path):
    test_tool = load_tool('tools/test.py')
    cfg = tiny(load(CONFIGS / folder / 'base2novel_dtd.py'), data_root, tmp_path)
    config = tmp_path / 'untrained.py'
    cfg.dump(config)
    test_tool.main([str(config), '--work-dir', str(tmp_path / 'work')])
    content = record(tmp_path / 'work')
    assert set(content['metrics']) == {f'base/{TOP1}', f'novel/{TOP1}', 'HM'}
    assert content['record']['method'] == METHODS[folder]


def test_test_tool_needs_a_checkpoint_for_a_model_that_learns(data_root, tmp_path):
    test_tool = load_tool('tools/test.py')
    from maple_mm.errors import MapleUserError
    cfg = tiny(load(CONFIGS / 'maple' / 'base2novel_dtd.py'), data_root, tmp_path)
    config = tmp_path / 'maple.py'
    cfg.dump(config)
    with pytest.raises(MapleUserError, match='needs a checkpoint'):
        test_tool.main([str(config), '--work-dir', str(tmp_path / 'work')])

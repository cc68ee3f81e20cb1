"""A representative set of zoo configs trains and tests end to end on miniature datasets.

Every method once on base-to-novel (each on another dataset layout), cross-dataset
once, domain generalisation once, few-shot once (CoOp with --shots 2, whose epochs
follow the shots) and zero-shot CLIP through tools/test.py without a checkpoint.
"""
import json

import pytest
from mmpretrain.registry import RUNNERS

from maple_mm.datasets.catalog import IMAGENET_VARIANTS
from ..conftest import load_tool
from .tiny_runs import NUM_CLASSES, fast_cpu_runs, load, tiny, write_miniatures  # noqa: F401
from .zoo import CONFIGS, DATASETS, METHODS

TOP1 = 'accuracy/top1'
#: Every trained method once on base-to-novel, each on another dataset layout where it can.
LAYOUTS = {
    'coop': 'dtd',
    'cocoop': 'caltech101',
    'vpt': 'eurosat',
    'ivlp': 'oxford_pets',
    'language_prompting': 'fgvc_aircraft',
    'maple': 'imagenet',
    'kgcoop': 'food101',
    'promptsrc': 'ucf101'
}
BASE2NOVEL = {
    folder: LAYOUTS.get(folder, 'dtd')
    for folder in METHODS if folder != 'zero_shot_clip'
}


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
    assert written == dict(
        method=METHODS[folder],
        protocol='base2novel',
        dataset=dataset,
        shots=16,
        seed=2,
        config=f'base2novel_{dataset}',
        backbone='custom',  # the tiny CLIP
        processes=1)
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
    cfg = tiny(load(CONFIGS / 'ivlp' / 'domain_generalization_imagenet.py'), data_root, tmp_path)
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


def test_coop_few_shot_with_two_shots(data_root, tmp_path):
    cfg = load(CONFIGS / 'coop' / 'few_shot_dtd.py', '--shots', '2')
    assert cfg.train_cfg.max_epochs == cfg.param_scheduler.T_max == 100  # CoOp: 2 shots
    runner, metrics = train_and_test(tiny(cfg, data_root, tmp_path))
    assert set(metrics) == {f'test/{TOP1}'}
    assert len(runner.train_dataloader.dataset) == 2 * NUM_CLASSES
    assert record(tmp_path)['record']['shots'] == 2


def test_coop_rn50_class_specific_few_shot_on_a_resnet(data_root, tmp_path):
    """CoOp's few-shot figure recipe (RN50, a context per class) on the tiny ResNet CLIP."""
    cfg = load(CONFIGS / 'coop' / 'few_shot_rn50_csc_dtd.py', '--shots', '1')
    assert cfg.train_cfg.max_epochs == 50  # CoOp: 1 shot, rn50_ep50.yaml
    cfg = tiny(cfg, data_root, tmp_path)
    runner, metrics = train_and_test(cfg)
    assert type(runner.model.backbone.clip.visual).__name__ == 'ModifiedResNet'
    assert runner.model.prompt_learner.ctx.shape[0] == NUM_CLASSES
    assert set(metrics) == {f'test/{TOP1}'}
    assert record(tmp_path)['record']['config'] == 'few_shot_rn50_csc_dtd'


def test_zero_shot_clip_tests_without_checkpoint(data_root, tmp_path):
    test_tool = load_tool('tools/test.py')
    cfg = tiny(load(CONFIGS / 'zero_shot_clip' / 'base2novel_dtd.py'), data_root, tmp_path)
    config = tmp_path / 'zero_shot.py'
    cfg.dump(config)
    test_tool.main([str(config), '--work-dir', str(tmp_path / 'work')])
    content = record(tmp_path / 'work')
    assert set(content['metrics']) == {f'base/{TOP1}', f'novel/{TOP1}', 'HM'}
    assert content['record']['method'] == 'ZeroShotCLIP'


def test_test_tool_needs_a_checkpoint_for_a_model_that_learns(data_root, tmp_path):
    test_tool = load_tool('tools/test.py')
    from maple_mm.errors import MapleUserError
    cfg = tiny(load(CONFIGS / 'maple' / 'base2novel_dtd.py'), data_root, tmp_path)
    config = tmp_path / 'maple.py'
    cfg.dump(config)
    with pytest.raises(MapleUserError, match='needs a checkpoint'):
        test_tool.main([str(config), '--work-dir', str(tmp_path / 'work')])

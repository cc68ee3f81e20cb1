"""ProGrad through tools/train.py and tools/test.py: a shipped config on the tiny CLIP.

Its two loss terms are logged under their own keys (and ``loss``, their sum),
in the text log and in the scalars the visualizer writes; tools/test.py on the
saved checkpoint gives the training run's own test metrics.
"""
import json

import pytest

from ..miniature_datasets import write_miniature
from ..test_configs.tiny_runs import NUM_CLASSES, SIZE, load, tiny
from ..test_configs.zoo import CONFIGS
from .test_train_test_e2e import read_test_metrics, run_tool

pytestmark = pytest.mark.filterwarnings('ignore')


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('prograd')
    data = tmp / 'data'
    write_miniature(
        data, 'stanford_cars', num_classes=NUM_CLASSES, images_per_class=2, image_size=SIZE)
    cfg = tiny(
        load(CONFIGS / 'prograd' / 'base2novel_stanford_cars.py'), data, tmp / 'work', epochs=2)
    cfg.default_hooks.logger.interval = 1  # a log line at every iteration
    config = tmp / 'prograd_tiny.py'
    cfg.dump(str(config))
    proc = run_tool('train.py', config, '--work-dir', tmp / 'work')
    return dict(config=config, work=tmp / 'work', log=proc.stdout + proc.stderr)


def test_training_logs_each_term_and_their_sum(trained):
    lines = [line for line in trained['log'].splitlines() if 'Epoch(train)' in line]
    assert lines and all('loss_ce: ' in line and 'loss_kd: ' in line for line in lines)
    assert 'MixedPrecisionOptimWrapper' in trained['log']  # fp32 on CPU, the rule's wrapper
    (scalars, ) = trained['work'].glob('*/vis_data/scalars.json')
    steps = [json.loads(line) for line in scalars.read_text().splitlines()]
    steps = [s for s in steps if 'loss_ce' in s]
    assert {s['epoch'] for s in steps} == {1, 2}  # every iteration of both epochs
    for step in steps:
        assert step['loss'] == pytest.approx(step['loss_ce'] + step['loss_kd'], abs=2e-4)


def test_test_tool_reproduces_the_runs_metrics(trained):
    work = trained['work']
    run_tool('test.py', trained['config'], work / 'epoch_2.pth', '--work-dir', work / 'eval')
    metrics = read_test_metrics(work / 'eval')
    assert set(metrics) == {'base/accuracy/top1', 'novel/accuracy/top1', 'HM'}
    assert metrics == read_test_metrics(work)

"""MultiSetTestLoop: how extra sets are built, the summary metrics, config errors, and each
set as one run of mmengine's TestLoop (its test loss, its hooks).

The loop's runs on real configs are covered by tests/test_configs/test_configs_run.py.
"""
import json

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.structures import BaseDataElement
from mmpretrain.registry import HOOKS, MODELS, RUNNERS

from maple_mm.engine.runners.multi_set_test_loop import (InvalidTestSetsError, check_test_sets,
                                                         extra_set_dataloader, summary_metrics)
from maple_mm.errors import MapleUserError
from maple_mm.models import MaPLe
from ..conftest import write_split_dataset

MAIN = dict(
    batch_size=100,
    num_workers=4,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='CoOpDTD',
        data_root='data/dtd',
        split='test',
        subsample='base',
        num_shots=16,
        seed=1,
        pipeline=['p']))


def test_set_without_type_overrides_fields_of_the_main_dataset():
    cfg = extra_set_dataloader(MAIN, dict(subsample='novel'))
    assert cfg['dataset'] == dict(MAIN['dataset'], subsample='novel')
    assert cfg['batch_size'] == 100 and cfg['sampler'] == MAIN['sampler']
    assert MAIN['dataset']['subsample'] == 'base'  # the main config is left alone


def test_set_with_type_is_a_complete_dataset():
    target = dict(type='CoOpEuroSAT', data_root='data/eurosat', split='test', pipeline=['q'])
    cfg = extra_set_dataloader(MAIN, target)
    assert cfg['dataset'] == target  # nothing of the main dataset leaks in (e.g. num_shots)
    assert (cfg['batch_size'], cfg['num_workers']) == (100, 4)
    cfg['dataset']['pipeline'].append('r')
    assert target['pipeline'] == ['q']
    # Without transforms of its own, it takes the main set's test transforms.
    cfg = extra_set_dataloader(MAIN, {k: v for k, v in target.items() if k != 'pipeline'})
    assert cfg['dataset']['pipeline'] == ['p'] and 'num_shots' not in cfg['dataset']


def test_summary_metrics():
    metrics = {
        'base/accuracy/top1': 80.0,
        'novel/accuracy/top1': 60.0,
        'a/accuracy/top1': 10.0,
        'b/accuracy/top1': 20.0,
        'c/accuracy/top1': 60.0
    }
    summary = summary_metrics(metrics, dict(target_average=['a', 'b', 'c'], ab=['a', 'b']))
    assert summary == pytest.approx(dict(HM=2 * 80 * 60 / 140, target_average=30.0, ab=15.0))
    assert summary_metrics({'test/accuracy/top1': 5.0}, {}) == {}


@pytest.mark.parametrize('name, extra, averages, message', [
    ('base', dict(base=dict()), {}, "'base' is used twice"),
    ('imagenet', dict(dtd={}), dict(target_average=['dtd', 'eurosat']), "['eurosat']"),
    ('imagenet', dict(dtd={}), dict(target_average=[]), 'lists no test sets'),
    ('imagenet', dict(dtd={}), dict(dtd=['dtd']), 'must be a plain name'),
    ('base', dict(novel={}), dict(HM=['base']), 'must be a plain name'),
])
def test_bad_test_sets_are_clear_user_errors(name, extra, averages, message):
    with pytest.raises(InvalidTestSetsError, match=message.replace('[', r'\[').replace(']', r'\]')):
        check_test_sets(name, extra, averages)
    assert issubclass(InvalidTestSetsError, MapleUserError)


def test_valid_sets_pass():
    check_test_sets('imagenet', dict(dtd={}, eurosat={}), dict(target_average=['dtd', 'eurosat']))


# -- runs: each set through mmengine's own TestLoop.run ---------------------------------------


@MODELS.register_module(force=True)
class LossReportingMaPLe(MaPLe):
    """Tiny MaPLe whose test_step also returns a loss, as mmengine's TestLoop expects it."""

    def test_step(self, data):
        outputs = super().test_step(data)
        value = float(len(self.class_names))  # 3 on either set: a known mean
        return [*outputs, BaseDataElement(loss=dict(loss_probe=torch.tensor(value)))]


@HOOKS.register_module(force=True)
class RecordingHook(Hook):
    """Records the test hooks called and the metrics each set's epoch reports."""

    calls: list = []

    def before_test(self, runner):
        self.calls.append(('before_test', None))

    def before_test_epoch(self, runner):
        self.calls.append(('before_test_epoch', None))

    def after_test_epoch(self, runner, metrics=None):
        self.calls.append(('after_test_epoch', dict(metrics)))

    def after_test(self, runner):
        self.calls.append(('after_test', None))


@pytest.fixture(scope='module')
def tiny_base2novel(tmp_path_factory):
    from ..test_tools.test_train_test_e2e import tiny_config
    tmp = tmp_path_factory.mktemp('multi_set')
    return tiny_config(tmp, write_split_dataset(tmp / 'toy', train=2, test=2))


def test_each_set_keeps_mmengine_test_loss_and_hooks(tiny_base2novel, tmp_path, one_thread):
    """mmengine's TestLoop averages a loss test_step returns into the epoch's metrics: every
    set keeps it (``<set>/loss_probe``, ``<set>/test_loss``); before/after_test run once,
    the epoch hooks once per set with the set's metrics."""
    cfg = Config.fromfile(tiny_base2novel)
    cfg.model.type = 'LossReportingMaPLe'
    cfg.custom_hooks = [dict(type='RecordingHook')]
    cfg.work_dir = str(tmp_path)
    RecordingHook.calls.clear()
    runner = RUNNERS.build(cfg)
    metrics = runner.test()
    for name in ('base', 'novel'):
        assert metrics[f'{name}/loss_probe'] == metrics[f'{name}/test_loss'] == 3.0
    names = [name for name, _ in RecordingHook.calls]
    assert names == ['before_test'] + ['before_test_epoch', 'after_test_epoch'] * 2 + ['after_test']
    epochs = [m for name, m in RecordingHook.calls if name == 'after_test_epoch']
    assert {'base/accuracy/top1', 'loss_probe', 'test_loss'} <= set(epochs[0])
    assert 'novel/accuracy/top1' in epochs[1] and 'base/accuracy/top1' not in epochs[1]
    record = json.loads(next(tmp_path.glob('*/test_metrics.json')).read_text())
    assert record['complete'] and record['metrics']['novel/test_loss'] == 3.0

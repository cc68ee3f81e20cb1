"""MultiSetTestLoop: how extra sets are built, the summary metrics, config errors.

The loop's runs on real configs are covered by tests/test_configs/test_configs_run.py.
"""
import pytest

from maple_mm.engine.runners.multi_set_test_loop import (InvalidTestSetsError, check_test_sets,
                                                         extra_set_dataloader, summary_metrics)
from maple_mm.errors import MapleUserError

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

"""Few-shot draws and base/novel splits against the reference conventions."""
import random

import pytest

from maple_mm.datasets.few_shot import class_names_by_label, sample_few_shot, subsample_classes

# Labels in file order: first appearance is 2, 0, 1, 3; label 1 has 2 items and
# label 3 one, fewer than K=3.
TRAIN_LABELS = [2, 0, 2, 1, 0, 2, 0, 0, 2, 1, 0, 2, 0, 0, 3]
VAL_LABELS = [0, 1, 2, 0, 2, 0, 1, 0, 2, 2, 2, 0, 1, 1, 3]


def make_items(split, labels):
    return [(f'{split}/{i:02d}.jpg', label, f'class{label}') for i, label in enumerate(labels)]


TRAIN = make_items('train', TRAIN_LABELS)
VAL = make_items('val', VAL_LABELS)


@pytest.fixture(autouse=True)
def keep_global_random_state():
    state = random.getstate()
    yield
    random.setstate(state)


def reference_draw(items, num_shots):
    """The reference algorithm, written out with module-level ``random``."""
    first_seen = list(dict.fromkeys(item[1] for item in items))
    selected = []
    for label in first_seen:
        group = [item for item in items if item[1] == label]
        selected += random.sample(group, num_shots) if len(group) >= num_shots else group
    return selected


def names(items):
    return [item[0] for item in items]


@pytest.mark.parametrize('seed', [1, 2])
@pytest.mark.parametrize('num_shots', [1, 3, 5, 16])
def test_matches_reference_stream(seed, num_shots):
    random.seed(seed)
    expected_train = reference_draw(TRAIN, num_shots)
    expected_val = reference_draw(VAL, min(num_shots, 4))
    train, val = sample_few_shot(TRAIN, VAL, num_shots, seed)
    assert list(train) == expected_train
    assert list(val) == expected_val


@pytest.mark.parametrize('seed, train_ids, val_ids', [
    (1, ['02', '00', '11', '01', '07', '12', '03', '09', '14'
         ], ['07', '11', '00', '01', '06', '13', '09', '10', '08', '14']),
    (2, ['00', '11', '08', '06', '04', '13', '03', '09', '14'
         ], ['05', '03', '11', '01', '12', '13', '09', '10', '08', '14']),
])
def test_exact_items_three_shots(seed, train_ids, val_ids):
    train, val = sample_few_shot(TRAIN, VAL, 3, seed)
    assert names(train) == [f'train/{i}.jpg' for i in train_ids]
    assert names(val) == [f'val/{i}.jpg' for i in val_ids]
    # grouped by first appearance of the label: 2, 0, 1, 3 in train
    assert [item[1] for item in train] == [2, 2, 2, 0, 0, 0, 1, 1, 3]
    assert [item[1] for item in val] == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3]


def test_val_continues_the_train_stream():
    _, val = sample_few_shot(TRAIN, VAL, 3, seed=1)
    random.seed(1)
    val_from_fresh_stream = reference_draw(VAL, 3)
    assert list(val) != val_from_fresh_stream


def test_val_gets_at_most_four_shots():
    train, val = sample_few_shot(TRAIN, VAL, 16, seed=1)
    assert len(train) == len(TRAIN)  # every class has fewer than 16
    assert [item[1] for item in val].count(0) == 4
    assert [item[1] for item in val].count(2) == 4
    assert len(val) == 4 + 4 + 4 + 1


def test_small_classes_keep_all_items_in_order():
    train, _ = sample_few_shot(TRAIN, VAL, 3, seed=1)
    assert [item for item in train if item[1] == 1] == [TRAIN[3], TRAIN[9]]
    assert [item for item in train if item[1] == 3] == [TRAIN[14]]


@pytest.mark.parametrize('num_shots', [-1, 0, None])
def test_all_shots_returns_inputs(num_shots):
    train, val = sample_few_shot(TRAIN, VAL, num_shots, seed=1)
    assert train is TRAIN and val is VAL


def test_does_not_touch_global_random():
    random.seed(123)
    before = random.getstate()
    sample_few_shot(TRAIN, VAL, 3, seed=1)
    assert random.getstate() == before


@pytest.mark.parametrize('num_classes, num_base', [(10, 5), (37, 19), (47, 24), (397, 199)])
def test_base_novel_counts(num_classes, num_base):
    train = make_items('train', list(range(num_classes)) * 2)
    base, = subsample_classes(train, subsample='base')
    novel, = subsample_classes(train, subsample='novel')
    assert len({item[1] for item in base}) == num_base
    assert len({item[1] for item in novel}) == num_classes - num_base
    assert len(base) == 2 * num_base and len(novel) == 2 * (num_classes - num_base)


def test_relabel_and_filter_other_lists():
    # train has labels 10, 20, 30, 40, 50 (sorted: base 10, 20, 30; novel 40, 50)
    train = [('a', 30, 'c30'), ('b', 10, 'c10'), ('c', 50, 'c50'), ('d', 20, 'c20'),
             ('e', 40, 'c40')]
    val = [('v1', 40, 'c40'), ('v2', 10, 'c10')]
    test = [('t1', 50, 'c50'), ('t2', 20, 'c20'), ('t3', 60, 'c60'), ('t4', 30, 'c30')]
    base = subsample_classes(train, val, test, subsample='base')
    assert base == ([('a', 2, 'c30'), ('b', 0, 'c10'),
                     ('d', 1, 'c20')], [('v2', 0, 'c10')], [('t2', 1, 'c20'), ('t4', 2, 'c30')])
    novel = subsample_classes(train, val, test, subsample='novel')
    assert novel == ([('c', 1, 'c50'), ('e', 0, 'c40')], [('v1', 0, 'c40')], [('t1', 1, 'c50')])
    assert subsample_classes(train, val, test, subsample='new') == novel


def test_subsample_all_and_bad_value():
    assert subsample_classes(TRAIN, VAL, subsample='all') == (TRAIN, VAL)
    with pytest.raises(ValueError, match="subsample='half' is not supported"):
        subsample_classes(TRAIN, subsample='half')


def test_class_names_by_label():
    items = [('x', 2, 'cat'), ('y', 0, 'dog'), ('z', 1, 'emu'), ('w', 2, 'cat')]
    assert class_names_by_label(items) == ['dog', 'emu', 'cat']
    with pytest.raises(ValueError, match='Label 2 has two class names'):
        class_names_by_label(items + [('v', 2, 'lion')])
    with pytest.raises(ValueError, match=r'missing \[1\]'):
        class_names_by_label([('x', 0, 'a'), ('y', 2, 'b')])

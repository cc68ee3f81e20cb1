"""Few-shot draws of the benchmarks and their portable JSON cache."""
import contextlib
import json
import os
import shutil
import time
import warnings

import pytest
from mmengine.registry import init_default_scope
from mmpretrain.registry import DATASETS

import maple_mm  # noqa: F401  (registers the datasets)
from maple_mm.datasets import sample_few_shot
from maple_mm.errors import DatasetCacheWarning
from tests.miniature_datasets import write_miniature

CACHE = 'split_fewshot/shot_2-seed_1.json'


@pytest.fixture
def caltech(tmp_path):
    """Miniature Caltech101: 4 classes, 4 train / 4 val / 4 test images each."""
    return write_miniature(tmp_path / 'data', 'caltech101', images_per_class=4, image_size=8)


def build(folder, type='CoOpCaltech101', **kwargs):
    init_default_scope('mmpretrain')
    return DATASETS.build(dict(type=type, data_root=str(folder), serialize_data=False, **kwargs))


def relative_paths(dataset, folder):
    return [
        dataset.get_data_info(i)['img_path'][len(str(folder)) + 1:] for i in range(len(dataset))
    ]


@contextlib.contextmanager
def no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        yield


# Image numbers of the miniature: class c has train 12c+1..12c+4, val 12c+5..12c+8.
SEED1_TRAIN = [
    'Faces/image_0002.jpg', 'Faces/image_0003.jpg', 'Leopards/image_0013.jpg',
    'Leopards/image_0014.jpg', 'Motorbikes/image_0025.jpg', 'Motorbikes/image_0026.jpg',
    'accordion/image_0040.jpg', 'accordion/image_0038.jpg'
]


def test_exact_draw_and_determinism(caltech):
    train = build(caltech, split='train', num_shots=2, seed=1)
    assert relative_paths(train, caltech) == ['101_ObjectCategories/' + p for p in SEED1_TRAIN]
    again = build(caltech, split='train', num_shots=2, seed=1, fewshot_cache_dir=None)
    assert relative_paths(again, caltech) == relative_paths(train, caltech)
    other = build(caltech, split='train', num_shots=2, seed=2, fewshot_cache_dir=None)
    assert relative_paths(other, caltech) != relative_paths(train, caltech)
    assert len(other) == 8


def test_val_drawn_after_train_as_reference(caltech):
    split = json.loads((caltech / 'split_zhou_Caltech101.json').read_text())
    _, expected_val = sample_few_shot(split['train'], split['val'], 2, seed=3)
    val = build(caltech, split='val', num_shots=2, seed=3)
    assert relative_paths(val, caltech) == ['101_ObjectCategories/' + p for p, _, _ in expected_val]


def test_cache_file_holds_relative_paths(caltech):
    train = build(caltech, split='train', num_shots=2, seed=1)
    cache = json.loads((caltech / CACHE).read_text())
    assert sorted(cache) == ['fingerprint', 'format', 'num_shots', 'seed', 'train', 'val']
    assert (cache['num_shots'], cache['seed']) == (2, 1)
    assert [p for p, _, _ in cache['train']] == relative_paths(train, caltech)
    assert cache['train'][0] == ['101_ObjectCategories/Faces/image_0002.jpg', 0, 'face']
    assert len(cache['val']) == 8
    assert sorted(p.name for p in (caltech / 'split_fewshot').iterdir()) == [
        'shot_2-seed_1.json'
    ]  # no temporary file left behind


def test_moved_data_root_keeps_using_the_cache(caltech, tmp_path):
    build(caltech, split='train', num_shots=2, seed=1)
    cache = json.loads((caltech / CACHE).read_text())
    # swap a drawn item for another train item of its class: only a used cache shows it
    cache['train'][0] = ['101_ObjectCategories/Faces/image_0004.jpg', 0, 'face']
    (caltech / CACHE).write_text(json.dumps(cache))
    moved = tmp_path / 'elsewhere' / 'caltech-101'
    shutil.move(str(caltech), str(moved))
    with no_warnings():
        train = build(moved, split='train', num_shots=2, seed=1)
    assert relative_paths(train, moved)[0] == '101_ObjectCategories/Faces/image_0004.jpg'


def test_changed_split_file_makes_the_cache_stale(caltech):
    build(caltech, split='train', num_shots=2, seed=1)
    split_path = caltech / 'split_zhou_Caltech101.json'
    split = json.loads(split_path.read_text())
    split['train'] = split['train'][1:]  # one Faces image less
    split_path.write_text(json.dumps(split))
    with pytest.warns(DatasetCacheWarning, match=r'shot_2-seed_1.json is stale'):
        train = build(caltech, split='train', num_shots=2, seed=1)
    expected, _ = sample_few_shot(split['train'], split['val'], 2, seed=1)
    assert relative_paths(train, caltech) == ['101_ObjectCategories/' + p for p, _, _ in expected]
    with no_warnings():  # the regenerated cache fits
        build(caltech, split='train', num_shots=2, seed=1)


def test_cache_of_another_seed_is_stale(caltech):
    build(caltech, split='train', num_shots=2, seed=1)
    shutil.copy(caltech / CACHE, caltech / 'split_fewshot/shot_2-seed_2.json')
    with pytest.warns(DatasetCacheWarning, match='is stale'):
        seed2 = build(caltech, split='train', num_shots=2, seed=2)
    assert relative_paths(seed2, caltech) == relative_paths(
        build(caltech, split='train', num_shots=2, seed=2, fewshot_cache_dir=None), caltech)


@pytest.mark.parametrize('content, message', [
    ('{"train": [', 'is unreadable'),
    ('[]', 'is stale'),
])
def test_unreadable_cache_is_redrawn(caltech, content, message):
    (caltech / 'split_fewshot').mkdir()
    (caltech / CACHE).write_text(content)
    with pytest.warns(DatasetCacheWarning, match=message):
        train = build(caltech, split='train', num_shots=2, seed=1)
    assert relative_paths(train, caltech) == ['101_ObjectCategories/' + p for p in SEED1_TRAIN]


def test_cache_naming_foreign_items_is_corrupt(caltech):
    build(caltech, split='train', num_shots=2, seed=1)
    cache = json.loads((caltech / CACHE).read_text())
    cache['train'][0] = ['101_ObjectCategories/Faces/image_0005.jpg', 0, 'face']  # a val image
    (caltech / CACHE).write_text(json.dumps(cache))
    with pytest.warns(DatasetCacheWarning, match=r"is corrupt \(its 'train' list"):
        train = build(caltech, split='train', num_shots=2, seed=1)
    assert relative_paths(train, caltech)[0] == '101_ObjectCategories/Faces/image_0002.jpg'


def test_unwritable_cache_folder_warns_and_continues(caltech):
    # a folder below a file can never be created, whoever runs the test
    with pytest.warns(DatasetCacheWarning, match='Cannot write the few-shot cache'):
        train = build(
            caltech,
            split='train',
            num_shots=2,
            seed=1,
            fewshot_cache_dir='split_zhou_Caltech101.json/cache')
    assert len(train) == 8


def test_cache_folder_is_configurable(caltech, tmp_path):
    build(caltech, split='train', num_shots=2, seed=1, fewshot_cache_dir=str(tmp_path / 'c'))
    assert (tmp_path / 'c' / 'shot_2-seed_1.json').is_file()
    build(caltech, split='train', num_shots=2, seed=1, fewshot_cache_dir=None)
    assert not (caltech / 'split_fewshot').exists()


def test_all_shots_and_test_split_write_no_cache(caltech):
    build(caltech, split='train', num_shots=-1)
    build(caltech, split='test', num_shots=2)
    assert not (caltech / 'split_fewshot').exists()


def test_imagenet_caches_train_only(tmp_path):
    folder = write_miniature(tmp_path, 'imagenet', images_per_class=3, image_size=8)
    train = build(folder, 'CoOpImageNet', split='train', num_shots=2, seed=1)
    cache = json.loads((folder / CACHE).read_text())
    assert 'val' not in cache
    assert [p for p, _, _ in cache['train']] == relative_paths(train, folder)
    assert relative_paths(train, folder)[:2] == [
        'images/train/n01440764/n01440764_1.JPEG', 'images/train/n01440764/n01440764_3.JPEG'
    ]


def test_killed_cache_writes_are_removed_and_the_cache_follows_the_umask(caltech):
    folder = caltech / 'split_fewshot'
    folder.mkdir()
    leftover = folder / '.shot_2-seed_1.jsonab12cd.tmp'  # a write killed before its rename
    leftover.write_text('{"format"')
    os.utime(leftover, (time.time() - 3600, ) * 2)
    old_mask = os.umask(0o022)
    try:
        build(caltech, num_shots=2, seed=1)
    finally:
        os.umask(old_mask)
    assert not leftover.exists()
    assert (folder / 'shot_2-seed_1.json').stat().st_mode & 0o777 == 0o644  # was 0600

"""SplitFileDataset on a tiny on-disk dataset in the CoOp split-file format."""
import json
import os
import os.path as osp
import shutil

import numpy as np
import pytest
from mmengine.registry import init_default_scope
from mmpretrain.registry import DATASETS
from PIL import Image

import maple_mm  # noqa: F401  (registers SplitFileDataset)
from maple_mm.datasets import sample_few_shot
from maple_mm.errors import DatasetFormatError, DatasetNotFoundError
from tests.conftest import write_split_file

CLASSES = ('ant', 'bee', 'cat', 'dog', 'eel', 'fox')
PER_CLASS = dict(train=4, val=3, test=2)
SPLIT_FILE = 'split_zhou_Tiny.json'
PIPELINE = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    """6 classes; 4 train, 3 val and 2 test 8x8 PNGs per class under images/."""
    root = tmp_path_factory.mktemp('tiny')
    splits = {
        split: [[f'{name}/{split}_{i}.png', label, name] for label, name in enumerate(CLASSES)
                for i in range(count)]
        for split, count in PER_CLASS.items()
    }
    write_split_file(
        root,
        splits,
        SPLIT_FILE,
        image=lambda path, label: Image.fromarray(
            np.full(
                (8, 8, 3), 10 * label + int(path.stem.split('_')[-1]), dtype=np.uint8)).save(path))
    return str(root)


def build(data_root, **kwargs):
    init_default_scope('mmpretrain')
    cfg = dict(
        type='SplitFileDataset',
        data_root=data_root,
        split_file=SPLIT_FILE,
        image_dir='images',
        pipeline=PIPELINE)
    cfg.update(kwargs)
    return DATASETS.build(cfg)


def labels(dataset):
    return [dataset.get_data_info(i)['gt_label'] for i in range(len(dataset))]


@pytest.mark.parametrize('subsample, classes', [('all', CLASSES), ('base', CLASSES[:3]),
                                                ('novel', CLASSES[3:]), ('new', CLASSES[3:])])
@pytest.mark.parametrize('split, num_shots, per_class', [('train', 2, 2), ('val', 2, 2),
                                                         ('test', 2, 2), ('train', 16, 4),
                                                         ('val', 16, 3), ('val', 5, 3),
                                                         ('train', -1, 4), ('val', -1, 3)])
def test_lengths_labels_classes(data_root, split, num_shots, per_class, subsample, classes):
    dataset = build(data_root, split=split, num_shots=num_shots, subsample=subsample)
    assert len(dataset) == per_class * len(classes)
    assert sorted(set(labels(dataset))) == list(range(len(classes)))
    assert dataset.metainfo['classes'] == classes
    assert dataset.CLASSES == classes
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        assert osp.isabs(info['img_path']) and osp.isfile(info['img_path'])
        name = classes[info['gt_label']]
        assert osp.basename(osp.dirname(info['img_path'])) == name
        assert osp.basename(info['img_path']).startswith(split)


def test_few_shot_items_follow_sample_few_shot(data_root):
    with open(osp.join(data_root, SPLIT_FILE)) as f:
        splits = json.load(f)
    train, val = sample_few_shot(splits['train'], splits['val'], 2, seed=3)
    for split, expected in (('train', train), ('val', val)):
        dataset = build(data_root, split=split, num_shots=2, seed=3)
        assert [dataset.get_data_info(i)['img_path'] for i in range(len(dataset))
                ] == [osp.join(data_root, 'images', rel) for rel, _, _ in expected]


def test_novel_relabelled_from_zero(data_root):
    dataset = build(data_root, split='test', subsample='novel')
    assert labels(dataset) == [0, 0, 1, 1, 2, 2]
    assert dataset.get_data_info(0)['img_path'] == osp.join(data_root, 'images', 'dog',
                                                            'test_0.png')


def test_item_loads_through_pipeline(data_root):
    dataset = build(data_root, split='train', num_shots=1, subsample='base')
    sample = dataset[0]
    assert tuple(sample['inputs'].shape) == (3, 8, 8)
    assert sample['data_samples'].gt_label.tolist() == [0]


def test_missing_data_root(tmp_path):
    with pytest.raises(FileNotFoundError, match='Dataset folder .*nowhere not found'):
        build(str(tmp_path / 'nowhere'))


def test_missing_split_file(data_root):
    with pytest.raises(
            FileNotFoundError, match=r'Split file .*split_zhou_Other\.json not found.*preparation'):
        build(data_root, split_file='split_zhou_Other.json')


def test_missing_image_dir(data_root):
    with pytest.raises(FileNotFoundError, match=r'Image folder .*jpg not found'):
        build(data_root, image_dir='jpg')


def test_missing_image(tmp_path):
    (tmp_path / 'images').mkdir()
    (tmp_path / SPLIT_FILE).write_text(json.dumps(dict(train=[['a/x.png', 0, 'a']])))
    with pytest.raises(FileNotFoundError, match=r'Image .*a/x\.png listed in .* not found'):
        build(str(tmp_path))


@pytest.mark.parametrize('content, message', [
    ('{"train": [', 'is not valid JSON'),
    ('{"val": []}', "has no 'train' list"),
    ('[1, 2]', 'must hold a JSON object'),
    ('{"train": [["a.png", "0", "a"]]}', r'train\[0\] = .* is not \[rel_impath, label'),
    ('{"train": [["a.png", 1, "a"]]}', r'Tiny.json: train\[0\] has label 1, but the train '
     r'labels skip \[0\]'),
    ('{"train": [], "test": null}', r"Tiny.json: 'test' must be a list of \[rel_impath"),
])
def test_malformed_split_file(tmp_path, content, message):
    (tmp_path / 'images').mkdir()
    (tmp_path / SPLIT_FILE).write_text(content)
    with pytest.raises(ValueError, match=message):
        build(str(tmp_path))


def test_given_class_names(data_root):
    dataset = build(data_root, subsample='base', classes=['Ant', 'Bee', 'Cat'])
    assert dataset.CLASSES == ('Ant', 'Bee', 'Cat')
    with pytest.raises(ValueError, match="6 class names were given but the 'base' classes"):
        build(data_root, subsample='base', classes=list(CLASSES))


def test_bad_split_and_subsample(data_root):
    with pytest.raises(ValueError, match="split='trainval' is not supported"):
        build(data_root, split='trainval')
    with pytest.raises(ValueError, match="subsample='half' is not supported"):
        build(data_root, subsample='half')


def test_symlink_loops_and_links_leaving_the_dataset_are_named(data_root, tmp_path):
    root = tmp_path / 'data'
    shutil.copytree(data_root, root)
    image = root / 'images' / 'ant' / 'train_0.png'
    outside = tmp_path / 'elsewhere.png'
    shutil.move(image, outside)
    image.symlink_to(outside)  # e.g. a link to a system file
    with pytest.raises(
            DatasetFormatError,
            match='is a symbolic link to .*elsewhere.png, outside '
            'the dataset folder .*allow_outside_links=True'):
        build(str(root), split='train')
    assert len(build(str(root), split='train', allow_outside_links=True)) == 24
    image.unlink()
    image.symlink_to(image.name)  # a link to itself
    with pytest.raises(
            DatasetNotFoundError, match='train_0.png listed in .* is a symbolic link '
            'loop'):
        build(str(root), split='train', allow_outside_links=True)
    os.remove(image)
    (root / 'loop').symlink_to(root / 'loop')
    with pytest.raises(DatasetNotFoundError, match='loop is a symbolic link loop'):
        build(str(root / 'loop'))

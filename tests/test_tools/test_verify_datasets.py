"""tools/verify_datasets.py on miniature data roots."""
import json
import os
import shutil

import pytest

from tests.conftest import load_tool, write_split_dataset
from tests.miniature_datasets import write_miniature
from tests.test_tools.test_train_test_e2e import tiny_config

verify_datasets = load_tool('tools/verify_datasets.py')

KEYS = ['caltech101', 'imagenet', 'imagenet_r', 'fgvc_aircraft']


@pytest.fixture
def data_root(tmp_path):
    for key in KEYS:
        write_miniature(tmp_path, key, image_size=8)
    return tmp_path


def run(data_root, *args):
    return verify_datasets.main(['--data-root', str(data_root), '--workers', '2', *args])


def report(data_root, capsys, *args, status: int) -> str:
    """What the tool printed for ``args``, which must end with exit ``status``."""
    assert run(data_root, *args) == status
    return capsys.readouterr().out


def test_complete_miniatures_pass_without_counts(data_root, capsys):
    out = report(data_root, capsys, '--datasets', *KEYS, '--skip-counts', status=0)
    assert f'[ok] caltech101 ({data_root}/caltech-101): 4 classes, train 8, val 8, test 8' in out
    assert '[ok] imagenet_r' in out and 'test 4' in out
    assert 'All 4 datasets are complete' in out


def test_every_problem_is_reported(data_root, capsys):
    os.remove(data_root / 'caltech-101/101_ObjectCategories/Faces/image_0001.jpg')
    os.remove(data_root / 'caltech-101/101_ObjectCategories/Faces/image_0005.jpg')
    (data_root / 'imagenet/images/val/n01440764/ILSVRC2012_val_00000001.JPEG').write_text('x')
    (data_root / 'fgvc_aircraft/variants.txt').unlink()
    out = report(data_root, capsys, '--datasets', *KEYS, 'dtd', '--skip-counts', status=1)
    assert 'train: 1 of 8 listed images missing: ' in out
    assert 'test: 1 of 8 listed images missing: ' in out
    assert 'ILSVRC2012_val_00000001.JPEG unreadable (it is not an image' in out
    assert out.count('unreadable (') == 2  # val and test of ImageNet, each read once
    assert 'variants.txt not found: keep the .txt files' in out
    assert 'dataset folder' in out and 'dtd missing: download it as docs/datasets.md#dtd' in out
    assert '[ok] imagenet_r' in out
    assert '4 of 5 datasets need fixing (caltech101, imagenet, fgvc_aircraft, dtd)' in out


def test_counts_compared_with_the_official_splits(data_root, capsys):
    out = report(data_root, capsys, '--datasets', 'caltech101', status=1)
    assert '4 classes where the official split has 100' in out
    assert 'train lists 8 images where the official split has 4128' in out
    assert 'test lists 8 images where the official split has 2465' in out
    assert '--skip-counts' in out


def test_decode_finds_every_kind_of_bad_image(data_root, capsys):
    images = data_root / 'caltech-101/101_ObjectCategories/Faces'
    (images / 'image_0001.jpg').write_bytes(b'')
    (images / 'image_0002.jpg').write_text('<html>Not found</html>')
    truncated = images / 'image_0005.jpg'  # test
    truncated.write_bytes(truncated.read_bytes()[:-20])
    args = ('--datasets', 'caltech101', '--skip-counts')
    out = report(data_root, capsys, *args, status=1)  # headers only: truncation goes unseen
    assert 'train: 2 of 8 listed images unreadable' in out and 'test:' not in out
    out = report(data_root, capsys, *args, '--decode', status=1)
    for expected in ('train: 2 of 8 listed images unreadable: ',
                     'image_0001.jpg unreadable (the file is empty (0 bytes))',
                     'image_0002.jpg unreadable (it is not an image (no image format recognised))',
                     'test: 1 of 8 listed images unreadable: ',
                     'image_0005.jpg unreadable (the file is truncated'):
        assert expected in out


def _edit_split_file(data_root, edit):
    path = data_root / 'caltech-101/split_zhou_Caltech101.json'
    splits = json.loads(path.read_text())
    edit(splits)
    path.write_text(json.dumps(splits))


def test_empty_split_is_flagged_whatever_the_flags(data_root, capsys):
    _edit_split_file(data_root, lambda splits: splits.__setitem__('val', []))
    out = report(data_root, capsys, '--datasets', 'caltech101', '--skip-counts', status=1)
    assert '[PROBLEMS] caltech101' in out
    assert "No items in the val list of " in out and "split='val' is built from it" in out


def test_split_file_rules_are_reported_once(data_root, capsys):
    _edit_split_file(data_root, lambda splits: splits['test'][0].__setitem__(1, -1))
    out = report(data_root, capsys, '--datasets', 'caltech101', '--skip-counts', status=1)
    assert out.count('test[0] has the negative label -1: labels must run 0 .. n-1') == 1


def test_shared_class_names_are_a_note(data_root, capsys):
    _edit_split_file(
        data_root, lambda splits: [
            item.__setitem__(2, 'face') for items in splits.values() for item in items
            if item[1] == 1
        ])
    out = report(data_root, capsys, '--datasets', 'caltech101', '--skip-counts', status=0)
    assert '[ok] caltech101' in out
    assert out.count("note: ") == 1 and "give labels 0 and 1 the same class name 'face'" in out


def test_missing_data_root(tmp_path, capsys):
    assert run(tmp_path / 'nowhere') == 1
    assert 'nowhere' in capsys.readouterr().out


def test_unknown_dataset_name(data_root):
    with pytest.raises(SystemExit):
        run(data_root, '--datasets', 'mnist')


def test_symlinked_dataset_folder(data_root, tmp_path_factory, capsys):
    other = tmp_path_factory.mktemp('other')
    shutil.move(str(data_root / 'caltech-101'), str(other / 'caltech-101'))
    os.symlink(other / 'caltech-101', data_root / 'caltech-101')
    assert run(data_root, '--datasets', 'caltech101', '--skip-counts') == 0


def test_your_own_split_file_and_config(tmp_path, capsys):
    toy = write_split_dataset(tmp_path / 'toy', train=2, val=1, test=1)
    split_file = toy / 'split_zhou_Toy.json'
    assert verify_datasets.main(['--split-file', str(split_file), '--image-dir', 'images']) == 0
    out = capsys.readouterr().out
    assert f'[ok] {split_file} ({toy}): 6 classes, train 12, val 6, test 6' in out
    os.remove(toy / 'images' / 'blue' / 'test_0.png')
    config = tiny_config(tmp_path, toy)  # the demo config (SplitFileDataset) on this data
    assert verify_datasets.main(['--config', str(config), '--workers', '2']) == 1
    out = capsys.readouterr().out
    assert out.count('[PROBLEMS] split_zhou_Toy.json') == 1  # train and test sets: one dataset
    assert f'test: 1 of 6 listed images missing: {toy}/images/blue/test_0.png' in out

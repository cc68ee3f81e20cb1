"""tools/verify_datasets.py on miniature data roots."""
import importlib.util
import os
import os.path as osp
import shutil

import pytest

from tests.miniature_datasets import write_miniature

SCRIPT = osp.join(osp.dirname(__file__), '..', '..', 'tools', 'verify_datasets.py')
spec = importlib.util.spec_from_file_location('verify_datasets', SCRIPT)
verify_datasets = importlib.util.module_from_spec(spec)
spec.loader.exec_module(verify_datasets)

KEYS = ['caltech101', 'imagenet', 'imagenet_r', 'fgvc_aircraft']


@pytest.fixture
def data_root(tmp_path):
    for key in KEYS:
        write_miniature(tmp_path, key, image_size=8)
    return tmp_path


def run(data_root, *args):
    return verify_datasets.main(['--data-root', str(data_root), '--workers', '2', *args])


def test_complete_miniatures_pass_without_counts(data_root, capsys):
    assert run(data_root, '--datasets', *KEYS, '--skip-counts') == 0
    out = capsys.readouterr().out
    assert f'[ok] caltech101 ({data_root}/caltech-101): 4 classes, train 8, val 8, test 8' in out
    assert '[ok] imagenet_r' in out and 'test 4' in out
    assert 'All 4 datasets are complete' in out


def test_every_problem_is_reported(data_root, capsys):
    os.remove(data_root / 'caltech-101/101_ObjectCategories/Faces/image_0001.jpg')
    os.remove(data_root / 'caltech-101/101_ObjectCategories/Faces/image_0005.jpg')
    (data_root / 'imagenet/images/val/n01440764/ILSVRC2012_val_00000001.JPEG').write_text('x')
    (data_root / 'fgvc_aircraft/variants.txt').unlink()
    assert run(data_root, '--datasets', *KEYS, 'dtd', '--skip-counts') == 1
    out = capsys.readouterr().out
    assert 'train: 1 of 8 listed images missing: ' in out
    assert 'test: 1 of 8 listed images missing: ' in out
    assert 'ILSVRC2012_val_00000001.JPEG unreadable (UnidentifiedImageError' in out
    assert out.count('unreadable (') == 2  # val and test of ImageNet, each read once
    assert 'variants.txt not found: keep the .txt files' in out
    assert 'dataset folder' in out and 'dtd missing: download it as docs/datasets.md#dtd' in out
    assert '[ok] imagenet_r' in out
    assert '4 of 5 datasets need fixing (caltech101, imagenet, fgvc_aircraft, dtd)' in out


def test_counts_compared_with_the_official_splits(data_root, capsys):
    assert run(data_root, '--datasets', 'caltech101') == 1
    out = capsys.readouterr().out
    assert '4 classes where the official split has 100' in out
    assert 'train lists 8 images where the official split has 4128' in out
    assert 'test lists 8 images where the official split has 2465' in out
    assert '--skip-counts' in out


def test_decode_finds_truncated_images(data_root, capsys):
    image = data_root / 'caltech-101/101_ObjectCategories/Faces/image_0001.jpg'
    image.write_bytes(image.read_bytes()[:200])
    assert run(data_root, '--datasets', 'caltech101', '--skip-counts', '--decode') == 1
    assert 'train: 1 of 8 listed images unreadable' in capsys.readouterr().out


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

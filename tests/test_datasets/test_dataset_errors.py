"""A dataset that is not (all) there fails when it is built, saying what to do."""
import json
import shutil

import pytest
from mmengine.registry import init_default_scope
from mmpretrain.registry import DATASETS

import maple_mm  # noqa: F401  (registers the datasets)
from maple_mm.errors import DatasetFormatError, DatasetNotFoundError
from tests.miniature_datasets import write_miniature


def build(folder, type, **kwargs):
    init_default_scope('mmpretrain')
    return DATASETS.build(dict(type=type, data_root=str(folder), serialize_data=False, **kwargs))


def test_missing_dataset_folder(tmp_path):
    with pytest.raises(
            DatasetNotFoundError,
            match=r'Dataset folder .*data/dtd not found: prepare DTD there \(see '
            r'docs/datasets.md#dtd\) or set data_root'):
        build(tmp_path / 'data' / 'dtd', 'CoOpDTD')


def test_missing_split_file(tmp_path):
    folder = write_miniature(tmp_path, 'eurosat', image_size=8)
    (folder / 'split_zhou_EuroSAT.json').unlink()
    with pytest.raises(
            DatasetNotFoundError,
            match=r'Split file .*split_zhou_EuroSAT.json not '
            r'found: EuroSAT needs it .*#eurosat'):
        build(folder, 'CoOpEuroSAT')


def test_missing_image_folder(tmp_path):
    folder = write_miniature(tmp_path, 'ucf101', image_size=8)
    shutil.rmtree(folder / 'UCF-101-midframes')
    with pytest.raises(
            DatasetNotFoundError,
            match=r'Image folder .*UCF-101-midframes not found'
            r'.*docs/datasets.md#ucf101'):
        build(folder, 'CoOpUCF101', split='test')


def test_missing_images_are_counted(tmp_path):
    folder = write_miniature(tmp_path, 'food101', image_size=8)
    shutil.rmtree(folder / 'images' / 'baklava')
    with pytest.raises(
            DatasetNotFoundError,
            match=r'Image .*baklava/100017.jpg listed in the test list of '
            r'.*Food101.json not found \(and 1 more of its 8 images\).*verify_datasets.py'):
        build(folder, 'CoOpFood101', split='test')


def test_fgvc_aircraft_index_files(tmp_path):
    folder = write_miniature(tmp_path, 'fgvc_aircraft', image_size=8)
    (folder / 'images_variant_val.txt').unlink()
    with pytest.raises(
            DatasetNotFoundError, match=r'images_variant_val.txt not found: keep '
            r'the .txt files'):
        build(folder, 'CoOpFGVCAircraft', split='val')
    (folder / 'images_variant_test.txt').write_text('1000005 Boeing 999\n')
    with pytest.raises(
            DatasetFormatError, match=r"line 1: variant 'Boeing 999' is not in "
            r'variants.txt'):
        build(folder, 'CoOpFGVCAircraft', split='test')


def test_imagenet_classnames(tmp_path):
    folder = write_miniature(tmp_path, 'imagenet', image_size=8)
    (folder / 'classnames.txt').write_text('n01440764 tench\nn01443537 goldfish\n')
    with pytest.raises(
            DatasetFormatError, match=r'Class folder n01484850 has no line in '
            r'.*classnames.txt'):
        build(folder, 'CoOpImageNet')
    (folder / 'classnames.txt').unlink()
    with pytest.raises(
            DatasetNotFoundError,
            match=r"classnames.txt not found: ImageNet takes "
            r"its class names from ImageNet's"):
        build(folder, 'CoOpImageNet', split='test')


def test_imagenet_val_folders_must_match_train(tmp_path):
    folder = write_miniature(tmp_path, 'imagenet', image_size=8)
    (folder / 'images' / 'val' / 'n09999999').mkdir()
    with pytest.raises(DatasetFormatError, match=r"has class folders \['n09999999'\] that "):
        build(folder, 'CoOpImageNet', split='test')
    shutil.rmtree(folder / 'images' / 'val' / 'n01440764')
    shutil.rmtree(folder / 'images' / 'val' / 'n09999999')
    with pytest.raises(
            DatasetNotFoundError,
            match=r'Class folder .*val/n01440764 of ImageNet '
            r'not found: the download is incomplete'):
        build(folder, 'CoOpImageNet', split='test')


def test_imagenet_test_only_copy(tmp_path):
    folder = write_miniature(tmp_path, 'imagenet', image_size=8)
    shutil.rmtree(folder / 'images' / 'train')
    assert len(build(folder, 'CoOpImageNet', split='test')) == 8
    with pytest.raises(
            DatasetNotFoundError,
            match=r'images/train not found: extract the '
            r'ImageNet train set there'):
        build(folder, 'CoOpImageNet', split='train')


def test_imagenetv2_missing_class_folder(tmp_path):
    folder = write_miniature(tmp_path, 'imagenetv2', image_size=8)
    shutil.rmtree(folder / 'imagenetv2-matched-frequency-format-val' / '3')
    with pytest.raises(DatasetNotFoundError, match=r'Class folder .*format-val/3 of ImageNetV2'):
        build(folder, 'CoOpImageNetV2')


def test_split_file_labels_must_match_names(tmp_path):
    folder = write_miniature(tmp_path, 'dtd', image_size=8)
    path = folder / 'split_zhou_DescribableTextures.json'
    split = json.loads(path.read_text())
    split['train'][0][2] = 'stripy'
    path.write_text(json.dumps(split))
    with pytest.raises(
            DatasetFormatError,
            match=r"DescribableTextures.json: train\[1\] names "
            r"label 0 'banded', but train\[0\] names it "
            r"'stripy': each label needs one class name"):
        build(folder, 'CoOpDTD', split='test')

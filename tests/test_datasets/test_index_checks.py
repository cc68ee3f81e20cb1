"""Bad split files, index files and settings fail when any split is built, with one message."""
import copy
import json
import shutil
import warnings

import pytest
from mmengine.registry import init_default_scope
from mmpretrain.registry import DATASETS
from PIL import Image

import maple_mm  # noqa: F401  (registers the datasets)
from maple_mm.errors import DatasetFormatError, DatasetNotFoundError, DatasetWarning
from tests.conftest import write_split_file
from tests.miniature_datasets import write_miniature

NAMES = ('ant', 'bee', 'cat', 'dog')
SPLITS = {
    split: [[f'{name}/{split}_{i}.png', label, name] for label, name in enumerate(NAMES)
            for i in range(count)]
    for split, count in (('train', 2), ('val', 1), ('test', 1))
}


def write_dataset(root, splits):
    """``split.json`` and a 2x2 PNG under images/ for each path that stays inside root."""
    return write_split_file(
        root, splits, 'split.json', image=lambda path, label: Image.new('RGB', (2, 2)).save(path))


def build(root, type='SplitFileDataset', **kwargs):
    init_default_scope('mmpretrain')
    if type == 'SplitFileDataset':
        kwargs = dict(split_file='split.json', image_dir='images', **kwargs)
    return DATASETS.build(
        dict(
            type=type, data_root=str(root), serialize_data=False, fewshot_cache_dir=None, **kwargs))


def edited(edit):
    splits = copy.deepcopy(SPLITS)
    edit(splits)
    return splits


def relabel(splits, old, new):
    for items in splits.values():
        for item in items:
            item[1] = new if item[1] == old else item[1]


# (what is wrong, the edit, the expected message); 'train' is built, with every subsample.
FORMAT_PROBLEMS = [
    ('two names in test', lambda s: s['test'][1].__setitem__(2, 'wasp'),
     r"Split file .*split\.json: test\[1\] names label 1 'wasp', but train\[2\] names it "
     r"'bee': each label needs one class name; fix the split file \(see "
     r'docs/datasets\.md#use-your-own-dataset\)\.$'),
    ('negative label in test', lambda s: s['test'][0].__setitem__(1, -1),
     r'Split file .*split\.json: test\[0\] has the negative label -1: labels must run '
     r'0 \.\. n-1; fix the split file'),
    ('negative label in train', lambda s: s['train'][7].__setitem__(1, -3),
     r'train\[7\] has the negative label -3: '),
    ('label gap', lambda s: relabel(s, 1, 5),
     r'Split file .*split\.json: train\[2\] has label 5, but the train labels skip \[1, 4\]: '
     r'labels must run 0 \.\. n-1 over the train list \(every class needs train items\); '
     r'renumber the classes or fix the split file'),
    ('label only in test', lambda s: s['test'].append(['eel/test_0.png', 4, 'eel']),
     r'test\[4\] has label 4, which no train item has \(train labels run 0 \.\. 3\): every '
     r'class needs train items; fix the split file'),
    ('absolute path', lambda s: s['test'][2].__setitem__(0, '/etc/passwd'),
     r"test\[2\] names the image '/etc/passwd', outside the dataset folder .*: image paths "
     r'must be relative to the image folder and stay inside the dataset folder'),
    ('escaping path', lambda s: s['val'][0].__setitem__(0, '../../secret.png'),
     r"val\[0\] names the image 'images/\.\./\.\./secret\.png', outside the dataset folder"),
]


@pytest.mark.parametrize('subsample', ['all', 'base', 'novel'])
@pytest.mark.parametrize(
    'edit, message', [p[1:] for p in FORMAT_PROBLEMS], ids=[p[0] for p in FORMAT_PROBLEMS])
def test_every_list_is_checked_before_subsampling(tmp_path, edit, message, subsample):
    root = write_dataset(tmp_path, edited(edit))
    with pytest.raises(DatasetFormatError, match=message):
        build(root, split='train', subsample=subsample)


@pytest.mark.parametrize('empty, build_kwargs, message', [
    ('test', dict(split='test'), r"No items in the test list of .*split\.json, but "
     r"split='test' is built from it: add the items or use the "
     r"dataset's original files \(see docs/datasets\.md#use-your-"),
    ('val', dict(split='train', num_shots=1), r'No items in the val list of .*split\.json, '
     r'but the 1-shot draw takes val items from it'),
    ('train', dict(split='test'), r'No items in the train list of .*, but it defines the '
     r'classes'),
])
def test_empty_list_the_build_uses(tmp_path, empty, build_kwargs, message):
    root = write_dataset(tmp_path, edited(lambda s: s.__setitem__(empty, [])))
    with pytest.raises(DatasetFormatError, match=message):
        build(root, **build_kwargs)


def test_empty_list_the_build_does_not_use(tmp_path):
    root = write_dataset(tmp_path, edited(lambda s: s.__setitem__('val', [])))
    assert len(build(root, split='train')) == 8  # all items: val is not drawn from


def test_shared_class_name_warns_and_builds(tmp_path):
    root = write_dataset(
        tmp_path,
        edited(
            lambda s:
            [item.__setitem__(2, 'ant') for items in s.values() for item in items if item[1] == 2]))
    with pytest.warns(
            DatasetWarning,
            match=r"Split file .*split\.json: train\[0\] and "
            r"train\[4\] give labels 0 and 2 the same class "
            r"name 'ant'; .*give each class its own name"):
        dataset = build(root, split='test')
    assert dataset.CLASSES == ('ant', 'bee', 'ant', 'dog')


def test_good_file_builds_silently(tmp_path):
    root = write_dataset(
        tmp_path,
        edited(lambda s: s['train'][0].__setitem__(0, 'ant/../ant/train_0.png')))  # stays inside
    with warnings.catch_warnings():
        warnings.simplefilter('error', DatasetWarning)
        assert build(root, split='train', subsample='novel').CLASSES == ('cat', 'dog')


@pytest.mark.parametrize('num_shots', [0, -2, None, 1.5])
def test_num_shots_must_be_minus_one_or_positive(tmp_path, num_shots):
    with pytest.raises(
            DatasetFormatError,
            match=rf'num_shots={num_shots!r} is not supported: '
            r'-1 means all items; K >= 1 draws K per '
            r'class\.'):
        build(tmp_path, num_shots=num_shots)


@pytest.fixture
def aircraft(tmp_path):
    return write_miniature(tmp_path, 'fgvc_aircraft', images_per_class=1, image_size=8)


@pytest.mark.parametrize('file, content, split, message', [
    ('variants.txt', '707-320\n727-200\n707-320\n', 'train',
     r"variants\.txt line 3 repeats variant '707-320': each variant must be listed once"),
    ('images_variant_test.txt', '', 'test',
     r'No items in .*images_variant_test\.txt, but split=.test. is built from it'),
    ('images_variant_train.txt', '1000001 707-320\n1000004 727-200\n1000010 A300B4\n', 'train',
     r'images_variant_train\.txt: line 3 has label 3, but the train labels skip \[2\]'),
    ('images_variant_test.txt', '1000003 707-320\n../../../x 727-200\n', 'train',
     r"images_variant_test\.txt: line 2 names the image 'images/\.\./\.\./\.\./x\.jpg', "
     r'outside the dataset folder'),
])
def test_fgvc_aircraft_index_files(aircraft, file, content, split, message):
    (aircraft / file).write_text(content)
    with pytest.raises(DatasetFormatError, match=message):
        build(aircraft, 'CoOpFGVCAircraft', split=split)


def test_empty_class_folders(tmp_path):
    imagenet = write_miniature(tmp_path, 'imagenet', images_per_class=1, image_size=8)
    for image in (imagenet / 'images' / 'train' / 'n01443537').iterdir():
        image.unlink()
    with pytest.raises(
            DatasetNotFoundError,
            match=r'Class folder .*train/n01443537 of '
            r'ImageNet holds no images: the download '
            r'is incomplete'):
        build(imagenet, 'CoOpImageNet', split='train')
    sketch = write_miniature(tmp_path, 'imagenet_sketch', images_per_class=1, image_size=8)
    shutil.rmtree(sketch / 'images')
    (sketch / 'images').mkdir()
    with pytest.raises(
            DatasetNotFoundError,
            match=r'imagenet-sketch/images has no class '
            r'folders: extract the ImageNet-Sketch'):
        build(sketch, 'CoOpImageNetSketch')


def test_classnames_and_imagenetv2_folders(tmp_path):
    v2 = write_miniature(tmp_path, 'imagenetv2', images_per_class=1, image_size=8)
    lines = (v2 / 'classnames.txt').read_text().splitlines()
    (v2 / 'classnames.txt').write_text('\n'.join(lines[:3]) + '\n')
    with pytest.raises(
            DatasetFormatError,
            match=r"format-val has class folders \['3'\] beyond "
            r'the 3 classes of .*classnames\.txt'):
        build(v2, 'CoOpImageNetV2')
    (v2 / 'classnames.txt').write_text('\n'.join(lines + lines[:1]) + '\n')
    with pytest.raises(
            DatasetFormatError,
            match=r'classnames\.txt line 5 repeats wnid '
            r'n01440764: each class must be listed once'):
        build(v2, 'CoOpImageNetV2')
    (v2 / 'classnames.txt').write_text('\n')
    with pytest.raises(DatasetFormatError, match=r'classnames\.txt lists no classes'):
        build(v2, 'CoOpImageNetV2')


@pytest.mark.parametrize('key, type, remove, message', [
    ('dtd', 'CoOpDTD', None, r'Dataset folder .*dtd not found'),
    ('dtd', 'CoOpDTD', 'images', r'Image folder .*dtd/images not found'),
    ('dtd', 'CoOpDTD', 'split_zhou_DescribableTextures.json', r'Split file .* not found'),
    ('fgvc_aircraft', 'CoOpFGVCAircraft', 'images_variant_val.txt',
     r'images_variant_val\.txt not found'),
    ('imagenet', 'CoOpImageNet', 'classnames.txt', r'classnames\.txt not found'),
    ('imagenet', 'CoOpImageNet', 'images/val', r'images/val not found'),
    ('imagenet_r', 'CoOpImageNetR', 'classnames.txt', r'classnames\.txt not found'),
])
def test_check_source_on_a_lazy_dataset(tmp_path, key, type, remove, message):
    folder = write_miniature(tmp_path / 'data', key, images_per_class=1, image_size=8)
    for image in folder.rglob('*.[jJ][pP]*[gG]'):  # check_source lists no images
        image.unlink()
    split = 'test' if key == 'imagenet_r' else 'val'
    if remove is None:
        shutil.rmtree(folder)
    elif (folder / remove).is_dir():
        shutil.rmtree(folder / remove)
    else:
        (folder / remove).unlink()
    dataset = build(folder, type, split=split, lazy_init=True)
    with pytest.raises(DatasetNotFoundError, match=message):
        dataset.check_source()


@pytest.mark.parametrize('key, type', [('dtd', 'CoOpDTD'), ('imagenet', 'CoOpImageNet'),
                                       ('fgvc_aircraft', 'CoOpFGVCAircraft')])
def test_check_source_passes_without_listing_images(tmp_path, key, type):
    folder = write_miniature(tmp_path, key, images_per_class=1, image_size=8)
    for image in folder.rglob('*.[jJ][pP]*[gG]'):
        image.unlink()
    build(folder, type, split='train', num_shots=1, lazy_init=True).check_source()


def test_split_file_is_read_once_per_build(tmp_path, monkeypatch):
    from maple_mm.datasets import SplitFileDataset
    reads = []
    read_index = SplitFileDataset._read_index
    monkeypatch.setattr(SplitFileDataset, '_read_index',
                        lambda self: reads.append(1) or read_index(self))
    root = write_dataset(tmp_path, SPLITS)
    build(root, split='train', num_shots=1)  # train, val and the classes
    assert len(reads) == 1
    (root / 'split.json').write_text(json.dumps(edited(lambda s: s.__setitem__('val', []))))
    with pytest.raises(DatasetFormatError, match='No items in the val list'):
        build(root, split='val')  # a new build reads the file again
    assert len(reads) == 2


def test_subsample_that_keeps_no_items(tmp_path):
    root = write_dataset(
        tmp_path,
        edited(lambda s: s.__setitem__('test', [item for item in s['test']
                                                if item[1] < 2])))  # base classes only
    assert len(build(root, split='test', subsample='base')) == 2
    with pytest.raises(
            DatasetFormatError,
            match=r"subsample='novel' leaves no items in the test "
            r'list of .*split\.json: the novel classes are '
            r"2 of the train list's 4 and none of its items "
            r'has one; add test items of those classes'):
        build(root, split='test', subsample='novel')

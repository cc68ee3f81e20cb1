"""The registered CoOp benchmarks on miniature copies of their on-disk layouts."""
import os.path as osp
import shutil

import pytest
from mmengine.registry import init_default_scope
from mmpretrain.registry import DATASETS

import maple_mm  # noqa: F401  (registers the datasets)
from maple_mm.datasets import BASE_TO_NOVEL, BENCHMARKS, IMAGENET_VARIANTS
from tests.miniature_datasets import DATASET_FOLDERS, expected_class_names, write_miniature

PIPELINE = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
PER_CLASS = 3


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    """Every benchmark, 4 classes, 3 images per class and split."""
    root = tmp_path_factory.mktemp('data')
    for key in DATASET_FOLDERS:
        write_miniature(root, key, num_classes=4, images_per_class=PER_CLASS, image_size=16)
    return root


def build(folder, key, **kwargs):
    init_default_scope('mmpretrain')
    kwargs.setdefault('serialize_data', False)  # its gc.collect() is the slowest part here
    return DATASETS.build(
        dict(type=BENCHMARKS[key].type, data_root=str(folder), pipeline=PIPELINE, **kwargs))


def paths(dataset):
    return [dataset.get_data_info(i)['img_path'] for i in range(len(dataset))]


def labels(dataset):
    return [dataset.get_data_info(i)['gt_label'] for i in range(len(dataset))]


def test_registered_names_and_folders():
    assert {key: b.folder for key, b in BENCHMARKS.items()} == DATASET_FOLDERS
    assert [BENCHMARKS[key].type for key in BASE_TO_NOVEL] == [
        'CoOpImageNet', 'CoOpCaltech101', 'CoOpOxfordPets', 'CoOpStanfordCars', 'CoOpFlowers102',
        'CoOpFood101', 'CoOpFGVCAircraft', 'CoOpSUN397', 'CoOpDTD', 'CoOpEuroSAT', 'CoOpUCF101'
    ]
    assert [BENCHMARKS[key].type for key in IMAGENET_VARIANTS
            ] == ['CoOpImageNetV2', 'CoOpImageNetSketch', 'CoOpImageNetA', 'CoOpImageNetR']
    for benchmark in BENCHMARKS.values():
        assert DATASETS.get(benchmark.type) is not None


@pytest.mark.parametrize('key', BASE_TO_NOVEL)
@pytest.mark.parametrize('split', ['train', 'val', 'test'])
def test_all_items_and_class_names(data_root, key, split):
    folder = data_root / DATASET_FOLDERS[key]
    dataset = build(folder, key, split=split)
    assert dataset.CLASSES == tuple(expected_class_names(key))
    assert len(dataset) == 4 * PER_CLASS
    assert labels(dataset) == [label for label in range(4) for _ in range(PER_CLASS)]
    for path in paths(dataset):
        assert osp.isfile(path) and path.startswith(str(folder) + osp.sep)


@pytest.mark.parametrize('key', BASE_TO_NOVEL)
def test_few_shot_base_and_novel(data_root, key):
    folder = data_root / DATASET_FOLDERS[key]
    names = expected_class_names(key)
    train = build(folder, key, split='train', num_shots=2, seed=1, subsample='base')
    assert train.CLASSES == tuple(names[:2]) and len(train) == 2 * 2
    novel_test = build(folder, key, split='test', num_shots=2, seed=1, subsample='novel')
    assert novel_test.CLASSES == tuple(names[2:])
    assert labels(novel_test) == [0] * PER_CLASS + [1] * PER_CLASS
    assert train[0]['inputs'].shape == (3, 16, 16)


def test_imagenet_val_is_the_whole_test_set(data_root):
    folder = data_root / 'imagenet'
    val = build(folder, 'imagenet', split='val', num_shots=1)
    test = build(folder, 'imagenet', split='test', num_shots=1)
    assert paths(val) == paths(test)
    assert len(val) == 4 * PER_CLASS  # val is not few-shot drawn for ImageNet
    assert paths(test)[0] == str(folder / 'images/val/n01440764/ILSVRC2012_val_00000001.JPEG')
    train = build(folder, 'imagenet', split='train', num_shots=1)
    assert len(train) == 4 and all('/images/train/' in p for p in paths(train))


def test_fgvc_aircraft_names_from_variants(data_root):
    dataset = build(data_root / 'fgvc_aircraft', 'fgvc_aircraft', split='train')
    assert dataset.CLASSES == ('707-320', '727-200', '737-200', 'A300B4')
    assert paths(dataset)[0] == str(data_root / 'fgvc_aircraft' / 'images' / '1000001.jpg')


@pytest.mark.parametrize('key, classes, first_folder', [
    ('imagenetv2', ('tench', 'goldfish', 'great white shark', 'tiger shark'), '0'),
    ('imagenet_sketch', ('tench', 'goldfish', 'great white shark', 'tiger shark'), 'n01440764'),
    ('imagenet_a', ('goldfish', 'tiger shark'), 'n01443537'),
    ('imagenet_r', ('tench', 'great white shark'), 'n01440764'),
])
def test_variants(data_root, key, classes, first_folder):
    dataset = build(data_root / DATASET_FOLDERS[key], key)
    assert dataset.split == 'test' and dataset.CLASSES == classes
    assert labels(dataset) == [label for label in range(len(classes)) for _ in range(PER_CLASS)]
    assert osp.basename(osp.dirname(paths(dataset)[0])) == first_folder
    assert not any(p.endswith('README.txt') for p in paths(dataset))


@pytest.mark.parametrize('key', IMAGENET_VARIANTS)
def test_variants_are_test_only(data_root, key):
    with pytest.raises(
            ValueError,
            match=r"split='train' is not supported by CoOpImageNet.* "
            r"\(it is a test set\)"):
        build(data_root / DATASET_FOLDERS[key], key, split='train')


def test_variant_class_names_fall_back_to_imagenet(tmp_path):
    write_miniature(tmp_path, 'imagenet')
    folder = write_miniature(tmp_path, 'imagenet_a')
    (folder / 'classnames.txt').unlink()
    assert build(folder, 'imagenet_a').CLASSES == ('goldfish', 'tiger shark')
    shutil.rmtree(tmp_path / 'imagenet')
    with pytest.raises(
            FileNotFoundError,
            match=r'classnames.txt not found in .*imagenet-'
            r'adversarial nor in \.\./imagenet: copy'):
        build(folder, 'imagenet_a')


# Real class counts: base = ceil(n / 2) of the sorted labels, novel the rest.
BASE_NOVEL_COUNTS = {
    'imagenet': (500, 500),
    'caltech101': (50, 50),
    'oxford_pets': (19, 18),
    'stanford_cars': (98, 98),
    'oxford_flowers': (51, 51),
    'food101': (51, 50),
    'fgvc_aircraft': (50, 50),
    'sun397': (199, 198),
    'dtd': (24, 23),
    'eurosat': (5, 5),
    'ucf101': (51, 50),
}


@pytest.fixture(scope='module')
def full_size_root(tmp_path_factory):
    """Stand-ins with the real number of classes, one tiny image per class and split."""
    root = tmp_path_factory.mktemp('full_size')
    for key in BASE_TO_NOVEL:
        write_miniature(
            root, key, num_classes=BENCHMARKS[key].num_classes, images_per_class=1, image_size=8)
    return root


@pytest.mark.parametrize('key', BASE_TO_NOVEL)
def test_base_novel_class_counts(full_size_root, key):
    folder = full_size_root / DATASET_FOLDERS[key]
    num_base, num_novel = BASE_NOVEL_COUNTS[key]
    counts = {
        subsample:
        len(build(folder, key, split='test', num_shots=16, seed=1, subsample=subsample).CLASSES)
        for subsample in ('all', 'base', 'novel')
    }
    assert counts == dict(all=BENCHMARKS[key].num_classes, base=num_base, novel=num_novel)
    assert num_base + num_novel == BENCHMARKS[key].num_classes


@pytest.mark.parametrize('key', DATASET_FOLDERS)
def test_metainfo_holds_the_zero_shot_template(data_root, key):
    """The catalog's template, the reference's CUSTOM_TEMPLATES (trainers/zsclip.py)."""
    from tests.reference_trainers import CUSTOM_TEMPLATES
    dataset = build(
        data_root / DATASET_FOLDERS[key],
        key,
        split='test' if key in IMAGENET_VARIANTS else 'train',
        lazy_init=True)
    assert dataset.metainfo['prompt_template'] == BENCHMARKS[key].template
    assert BENCHMARKS[key].template == CUSTOM_TEMPLATES[key]


def test_own_datasets_may_give_a_template(tmp_path):
    from tests.conftest import write_split_dataset
    root = write_split_dataset(tmp_path / 'toy')
    common = dict(
        type='SplitFileDataset',
        data_root=str(root),
        split_file='split_zhou_Toy.json',
        image_dir='images',
        lazy_init=True)
    assert 'prompt_template' not in DATASETS.build(common).metainfo
    own = DATASETS.build(dict(common, metainfo=dict(prompt_template='a {} toy.')))
    assert own.metainfo['prompt_template'] == 'a {} toy.'

"""tools/dataset_converters/make_coop_split.py on fake raw downloads."""
import importlib.util
import json
import os.path as osp

import pytest

SCRIPT = osp.join(
    osp.dirname(__file__), '..', '..', 'tools', 'dataset_converters', 'make_coop_split.py')
spec = importlib.util.spec_from_file_location('make_coop_split', SCRIPT)
make_coop_split = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make_coop_split)


def touch_images(folder, names):
    folder.mkdir(parents=True)
    for name in names:
        (folder / name).write_bytes(b'')


def test_caltech101_ignores_and_renames_classes(tmp_path):
    images = tmp_path / '101_ObjectCategories'
    for category in ('BACKGROUND_Google', 'Faces', 'Faces_easy', 'airplanes', 'ant'):
        touch_images(images / category, [f'image_{i:04d}.jpg' for i in range(10)])
    splits = make_coop_split.make_split('caltech101', str(tmp_path), seed=1)
    assert [len(splits[k]) for k in ('train', 'val', 'test')] == [15, 6, 9]
    assert sorted({(label, name)
                   for _, label, name in splits['test']}) == [(0, 'face'), (1, 'airplane'),
                                                              (2, 'ant')]
    assert splits['train'][0][0].startswith('Faces/image_')
    again = make_coop_split.make_split('caltech101', str(tmp_path), seed=1)
    assert again == splits
    assert make_coop_split.make_split('caltech101', str(tmp_path), seed=2) != splits


def test_eurosat_names(tmp_path):
    for category in ('AnnualCrop', 'SeaLake'):
        touch_images(tmp_path / '2750' / category, [f'{category}_{i}.jpg' for i in range(5)])
    splits = make_coop_split.make_split('eurosat', str(tmp_path))
    # 5 per class: round(2.5) = 2 train (half to even, as the reference), 1 val, 2 test
    assert [len(splits[k]) for k in ('train', 'val', 'test')] == [4, 2, 4]
    assert {name for _, _, name in splits['val']} == {'Annual Crop Land', 'Sea or Lake'}


def test_oxford_pets_breeds(tmp_path):
    (tmp_path / 'annotations').mkdir()
    trainval = [
        f'{breed}_{i} {label} 1 1'
        for label, breed in enumerate(['Abyssinian', 'american_bulldog'], 1) for i in range(10)
    ]
    (tmp_path / 'annotations' / 'trainval.txt').write_text('\n'.join(trainval) + '\n')
    (tmp_path / 'annotations' / 'test.txt').write_text('Abyssinian_99 1 1 1\n')
    splits = make_coop_split.make_split('oxford_pets', str(tmp_path))
    assert [len(splits[k]) for k in ('train', 'val', 'test')] == [16, 4, 1]
    assert splits['test'] == [('Abyssinian_99.jpg', 0, 'abyssinian')]
    assert {name for _, _, name in splits['val']} == {'abyssinian', 'american_bulldog'}


def test_sun397_names(tmp_path):
    (tmp_path / 'ClassName.txt').write_text('/a/abbey\n/a/apse/indoor\n')
    lines = [f'/a/abbey/sun_{i}.jpg'
             for i in range(5)] + [f'/a/apse/indoor/sun_{i}.jpg' for i in range(5)]
    (tmp_path / 'Training_01.txt').write_text('\n'.join(lines))
    (tmp_path / 'Testing_01.txt').write_text('/a/apse/indoor/sun_9.jpg\n')
    splits = make_coop_split.make_split('sun397', str(tmp_path))
    assert splits['test'] == [('a/apse/indoor/sun_9.jpg', 1, 'indoor apse')]
    assert [len(splits['train']), len(splits['val'])] == [8, 2]


def test_ucf101_action_names(tmp_path):
    lists = tmp_path / 'ucfTrainTestlist'
    lists.mkdir()
    (lists / 'classInd.txt').write_text('1 ApplyEyeMakeup\n2 YoYo\n')
    (lists / 'trainlist01.txt').write_text(''.join(f'{a}/v_{a}_g{i:02d}_c01.avi {n}\n'
                                                   for n, a in ((1, 'ApplyEyeMakeup'), (2, 'YoYo'))
                                                   for i in range(5)))
    (lists / 'testlist01.txt').write_text('YoYo/v_YoYo_g25_c01.avi\n')
    splits = make_coop_split.make_split('ucf101', str(tmp_path))
    assert splits['test'] == [('Yo_Yo/v_YoYo_g25_c01.jpg', 1, 'Yo_Yo')]
    assert {name for _, _, name in splits['train']} == {'Apply_Eye_Makeup', 'Yo_Yo'}


def test_cli_writes_and_refuses(tmp_path, capsys):
    touch_images(tmp_path / 'images' / 'banded', [f'b_{i}.jpg' for i in range(10)])
    make_coop_split.main(['dtd', str(tmp_path)])
    split = json.loads((tmp_path / 'split_zhou_DescribableTextures.json').read_text())
    assert [len(split[k]) for k in ('train', 'val', 'test')] == [5, 2, 3]
    assert 'not the official CoOp split' in capsys.readouterr().out
    with pytest.raises(SystemExit, match='exists .*pass --force'):
        make_coop_split.main(['dtd', str(tmp_path)])
    with pytest.raises(SystemExit, match='StanfordCars labels are in .mat files'):
        make_coop_split.main(['stanford_cars', str(tmp_path)])
    with pytest.raises(SystemExit, match=r'101_ObjectCategories not found'):
        make_coop_split.main(['caltech101', str(tmp_path)])

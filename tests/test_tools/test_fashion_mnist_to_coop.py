"""tools/dataset_converters/fashion_mnist_to_coop.py on fake idx files."""
import gzip
import importlib.util
import json
import os
import os.path as osp

import numpy as np
import pytest
from PIL import Image

SCRIPT = osp.join(
    osp.dirname(__file__), '..', '..', 'tools', 'dataset_converters', 'fashion_mnist_to_coop.py')
spec = importlib.util.spec_from_file_location('fashion_mnist_to_coop', SCRIPT)
converter = importlib.util.module_from_spec(spec)
spec.loader.exec_module(converter)

NAMES = [
    'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag',
    'Ankle boot'
]
FOLDERS = [
    'T-shirt_top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag',
    'Ankle_boot'
]


def write_idx(path, array, compress=True):
    header = (0x800 + array.ndim).to_bytes(4, 'big') + b''.join(
        n.to_bytes(4, 'big') for n in array.shape)
    with (gzip.open if compress else open)(path, 'wb') as f:
        f.write(header + array.astype(np.uint8).tobytes())


def fake_images(count, offset):
    """Image i is filled with (offset + i) % 256, so files can be traced back."""
    return np.stack([np.full((28, 28), (offset + i) % 256) for i in range(count)])


@pytest.fixture
def src(tmp_path):
    """10 classes x 6 train images and 10 x 4 test images, labels cycling 0..9."""
    folder = tmp_path / 'src'
    folder.mkdir()
    write_idx(folder / 'train-images-idx3-ubyte.gz', fake_images(60, 0))
    write_idx(folder / 'train-labels-idx1-ubyte.gz', np.tile(np.arange(10), 6))
    write_idx(folder / 't10k-images-idx3-ubyte.gz', fake_images(40, 100))
    write_idx(folder / 't10k-labels-idx1-ubyte.gz', np.tile(np.arange(10), 4))
    return str(folder)


def run(src, out, train=3, val=2, test=4, *extra):
    return converter.main([
        '--src', src, '--out', out, '--train-per-class',
        str(train), '--val-per-class',
        str(val), '--test-per-class',
        str(test), '--no-download', *extra
    ])


def load_split(out):
    with open(osp.join(out, 'split_zhou_FashionMNIST.json')) as f:
        return json.load(f)


def test_converts(src, tmp_path, capsys):
    out = str(tmp_path / 'out')
    assert run(src, out) == 0
    assert 'Wrote' in capsys.readouterr().out
    splits = load_split(out)
    assert {k: len(v) for k, v in splits.items()} == dict(train=30, val=20, test=40)
    for split, per_class in (('train', 3), ('val', 2), ('test', 4)):
        assert [label for _, label, _ in splits[split]] == sorted(list(range(10)) * per_class)
        for rel, label, name in splits[split]:
            assert name == NAMES[label]
            assert rel.startswith(f'{FOLDERS[label]}/{split}_')
            assert osp.isfile(osp.join(out, 'images', rel))
    # first 3 of class 0 in file order are train, the next 2 val; test from t10k
    assert [rel for rel, _, _ in splits['train'][:3]] == [
        'T-shirt_top/train_0.png', 'T-shirt_top/train_10.png', 'T-shirt_top/train_20.png'
    ]
    assert [rel for rel, _, _ in splits['val'][-2:]
            ] == ['Ankle_boot/val_39.png', 'Ankle_boot/val_49.png']
    assert splits['test'][-1] == ['Ankle_boot/test_39.png', 9, 'Ankle boot']
    image = np.asarray(Image.open(osp.join(out, 'images', 'Ankle_boot', 'test_39.png')))
    assert image.shape == (28, 28) and image.dtype == np.uint8 and (image == 139).all()
    assert len(os.listdir(osp.join(out, 'images'))) == 10


def test_idempotent_and_refuses_to_overwrite(src, tmp_path, capsys):
    out = str(tmp_path / 'out')
    run(src, out)
    split_path = osp.join(out, 'split_zhou_FashionMNIST.json')
    mtime = os.stat(split_path).st_mtime_ns
    capsys.readouterr()
    assert run(src, out) == 0
    assert 'nothing to do' in capsys.readouterr().out
    assert os.stat(split_path).st_mtime_ns == mtime

    with pytest.raises(SystemExit, match='already exists .* pass --force'):
        run(src, out, 3, 2, 2)
    assert len(load_split(out)['test']) == 40

    assert run(src, out, 1, 1, 2, '--force') == 0
    assert {k: len(v) for k, v in load_split(out).items()} == dict(train=10, val=10, test=20)
    assert sorted(os.listdir(osp.join(
        out, 'images', 'Bag'))) == ['test_18.png', 'test_8.png', 'train_8.png', 'val_18.png']


def test_too_many_per_class(src, tmp_path):
    with pytest.raises(SystemExit, match="official train set has 6 images of class 'T-shirt/top'"):
        run(src, str(tmp_path / 'out'), 5, 2, 4)
    assert not osp.exists(tmp_path / 'out' / 'split_zhou_FashionMNIST.json')


def test_missing_source(tmp_path):
    with pytest.raises(SystemExit, match='apt-get install dataset-fashion-mnist'):
        run(str(tmp_path / 'empty'), str(tmp_path / 'out'))


def test_uncompressed_idx_files(tmp_path):
    """The layout torchvision downloads to (raw/, files without .gz) also works."""
    raw = tmp_path / 'raw'
    raw.mkdir()
    write_idx(raw / 'train-images-idx3-ubyte', fake_images(30, 0), compress=False)
    write_idx(raw / 'train-labels-idx1-ubyte', np.tile(np.arange(10), 3), compress=False)
    write_idx(raw / 't10k-images-idx3-ubyte', fake_images(10, 0), compress=False)
    write_idx(raw / 't10k-labels-idx1-ubyte', np.arange(10), compress=False)
    assert run(str(raw), str(tmp_path / 'out'), 2, 1, 1) == 0
    assert len(load_split(str(tmp_path / 'out'))['train']) == 20


def test_not_an_idx_file(src, tmp_path):
    with gzip.open(osp.join(src, 'train-labels-idx1-ubyte.gz'), 'wb') as f:
        f.write(b'not idx')
    with pytest.raises(SystemExit, match='is not an idx file'):
        run(src, str(tmp_path / 'out'))

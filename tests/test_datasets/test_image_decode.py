"""An image that is there but does not decode stops loading with one message naming it."""
import re

import mmcv
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import DATASETS
from PIL import Image

import maple_mm  # noqa: F401  (registers the datasets)
from maple_mm.datasets.image_check import image_problem
from maple_mm.errors import ImageDecodeError
from tests.conftest import REPO_ROOT
from tests.miniature_datasets import write_miniature

PIPELINE = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]


def spoil_empty(path):
    path.write_bytes(b'')


def spoil_text(path):
    path.write_text('not a picture\n')


def spoil_truncated(path):
    data = path.read_bytes()
    path.write_bytes(data[:len(data) * 9 // 10])


SPOILED = [(spoil_empty, r'the file is empty \(0 bytes\)'),
           (spoil_text, r'it is not an image \(no image format recognised\)'),
           (spoil_truncated, r'the file is truncated \(it ends before the image data does\)')]


@pytest.fixture
def dtd(tmp_path):
    return write_miniature(tmp_path / 'data', 'dtd', images_per_class=1, image_size=16)


def build(folder, pipeline=PIPELINE, **kwargs):
    init_default_scope('mmpretrain')
    return DATASETS.build(
        dict(
            type='CoOpDTD',
            data_root=str(folder),
            pipeline=pipeline,
            serialize_data=False,
            fewshot_cache_dir=None,
            **kwargs))


@pytest.mark.parametrize('spoil, problem', SPOILED, ids=['empty', 'text', 'truncated'])
@pytest.mark.parametrize('split, ignore_empty', [('test', False), ('train', False),
                                                 ('train', True)])
def test_undecodable_image_is_named(dtd, spoil, problem, split, ignore_empty):
    dataset = build(
        dtd,
        split=split,
        max_refetch=3,
        pipeline=[
            dict(type='LoadImageFromFile', ignore_empty=ignore_empty),
            dict(type='PackInputs')
        ])
    path = dataset.get_data_info(0)['img_path']
    spoil(type(dtd)(path))
    # ignore_empty makes the pipeline return None: mmengine would quietly take another image
    with pytest.raises(ImageDecodeError) as info:
        dataset[0]
    message = str(info.value)
    assert '\n' not in message
    assert message.startswith(f'Image {path} cannot be decoded: ')
    assert re.search(problem, message)
    assert message.endswith(f'replace it with a good copy, and run `python '
                            f'tools/verify_datasets.py --data-root {dtd.parent} --datasets dtd '
                            f'--decode` to list every bad image.')


def test_other_pipeline_errors_are_left_alone(dtd):

    def broken(results):
        raise KeyError('not about the image')

    dataset = build(dtd, split='test', pipeline=[dict(type='LoadImageFromFile'), broken])
    with pytest.raises(KeyError, match='not about the image'):
        dataset[0]
    skipping = build(
        dtd,
        split='train',
        max_refetch=2,
        pipeline=[dict(type='LoadImageFromFile'), lambda results: None])
    with pytest.raises(Exception, match='Cannot find valid image after 2'):
        skipping[0]  # None from a good image: mmengine's own retries, as before


def test_custom_dataset_hint(tmp_path):
    root = write_miniature(tmp_path, 'dtd', images_per_class=1, image_size=8)
    init_default_scope('mmpretrain')
    dataset = DATASETS.build(
        dict(
            type='SplitFileDataset',
            data_root=str(root),
            split_file='split_zhou_DescribableTextures.json',
            image_dir='images',
            split='test',
            pipeline=PIPELINE))
    spoil_text(type(root)(dataset.get_data_info(0)['img_path']))
    with pytest.raises(
            ImageDecodeError,
            match=r'decode every image of .*dtd/images to find the '
            r'others \(tools/verify_datasets\.py --decode'):
        dataset[0]


def test_error_crosses_the_data_loader_on_one_line(dtd):
    dataset = build(dtd, split='test')
    spoil_empty(type(dtd)(dataset.get_data_info(2)['img_path']))
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=4, num_workers=1, collate_fn=lambda batch: batch)
    batches = iter(loader)
    with pytest.raises(ImageDecodeError) as info:
        next(batches)
    last = str(info.value).strip().splitlines()[-1]
    del info, batches  # stops the worker now, not in a later test's garbage collection
    assert last.startswith('maple_mm.errors.ImageDecodeError: Image ')
    assert 'the file is empty (0 bytes)' in last and '--decode' in last


def test_image_problem_reads_only_the_header_unless_decoding(dtd):
    image = next((dtd / 'images').rglob('*.jpg'))
    assert image_problem(str(image)) is None
    spoil_truncated(image)
    assert image_problem(str(image), decode=False) is None
    assert 'truncated' in image_problem(str(image), decode=True)
    assert image_problem(str(dtd / 'nowhere.jpg')) == 'missing'


# -- decoding as the reference: PIL, RGB, the EXIF orientation not applied ---------------
def write_exif_rotated_jpeg(path) -> np.ndarray:
    """A 16 x 24 JPEG tagged 'rotate 90° to display' (orientation 6); PIL's array of it."""
    rng = np.random.default_rng(0)
    pixels = np.repeat(np.linspace(0, 255, 24, dtype=np.uint8)[None, :, None], 16, 0)
    pixels = np.concatenate([pixels, rng.integers(0, 255, (16, 24, 2), dtype=np.uint8)], -1)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(pixels).save(path, quality=95, exif=exif.tobytes())
    return np.asarray(Image.open(path).convert('RGB'))  # Dassl's read_image


def shipped_loaders():
    cfg = Config.fromfile(
        REPO_ROOT / 'configs/maple/base2novel_dtd.py', import_custom_modules=False)
    return {
        'train': cfg.train_dataloader.dataset.pipeline[0],
        'test': cfg.test_dataloader.dataset.pipeline[0]
    }


@pytest.mark.parametrize('split', ['train', 'test'])
def test_exif_rotated_jpeg_decodes_as_the_reference(dtd, tmp_path, split):
    loader = shipped_loaders()[split]
    dataset = build(dtd, split=split, pipeline=[loader, dict(type='PackInputs')])
    path = dataset.get_data_info(0)['img_path']
    pil_rgb = write_exif_rotated_jpeg(path)
    assert pil_rgb.shape == (16, 24, 3)
    # mmcv's default loader turns it by the tag: another image than the reference's.
    assert mmcv.imread(path).shape == (24, 16, 3)
    inputs = dataset[0]['inputs']  # (C, H, W), BGR as mmcv's (to_rgb=True makes it RGB)
    assert torch.equal(inputs, torch.from_numpy(pil_rgb[..., ::-1].transpose(2, 0, 1).copy()))


def test_damage_that_keeps_the_end_marker_is_not_called_truncated(tmp_path):
    """Truncation is told from the file (its format's end marker), not from PIL's message."""
    import numpy as np
    from PIL import Image
    path = tmp_path / 'damaged.png'
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (32, 32, 3), np.uint8)).save(path)
    data = bytearray(path.read_bytes())
    start = data.index(b'IDAT') + 8
    data[start:start + 16] = b'\xff' * 16  # damaged pixels, the IEND chunk kept
    path.write_bytes(bytes(data))
    problem = image_problem(str(path), decode=True)
    assert problem.startswith('it does not decode') and 'truncated' not in problem
    path.write_bytes(bytes(data[:len(data) * 9 // 10]))
    assert image_problem(
        str(path), decode=True) == ('the file is truncated (it ends before the image data does)')

"""A training set smaller than the batch trains one partial batch per epoch (Dassl's rule).

Dassl (``dassl/data/data_manager.py``) drops the last incomplete batch only when
the set holds at least one full batch; an epoch of 0 iterations is an error.
"""
import pytest
from mmengine.registry import init_default_scope
from torch.utils.data import Dataset

from maple_mm.engine import MapleRunner
from maple_mm.errors import ConfigError
from ..miniature_datasets import write_miniature

PIPELINE = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]


def loader_cfg(dataset, batch_size=32):
    """The train loader of configs/_base_/clip_vit_b16.py, at the recipe's batch."""
    return dict(
        batch_size=batch_size,
        num_workers=0,
        drop_last=True,
        sampler=dict(type='DefaultSampler', shuffle=True),
        dataset=dataset)


@pytest.fixture(scope='module')
def eurosat(tmp_path_factory):
    """EuroSAT's 10 classes; 4 train images each."""
    return write_miniature(
        tmp_path_factory.mktemp('data'),
        'eurosat',
        num_classes=10,
        images_per_class=4,
        image_size=8)


def eurosat_train(folder, shots):
    return dict(
        type='CoOpEuroSAT',
        data_root=str(folder),
        split='train',
        num_shots=shots,
        seed=1,
        fewshot_cache_dir=None,
        pipeline=PIPELINE)


def test_ten_images_at_batch_32_train_one_batch_of_ten(eurosat):
    init_default_scope('mmpretrain')
    loader = MapleRunner.build_dataloader(loader_cfg(eurosat_train(eurosat, 1)), seed=1)
    assert len(loader.dataset) == 10  # CoOp few-shot EuroSAT, 1 shot
    assert len(loader) == 1
    batches = list(loader)
    assert [len(batch['inputs']) for batch in batches] == [10]


def test_a_set_with_a_full_batch_still_drops_its_last_incomplete_one(eurosat):
    init_default_scope('mmpretrain')
    loader = MapleRunner.build_dataloader(loader_cfg(eurosat_train(eurosat, 4)), seed=1)
    assert (len(loader.dataset), len(loader), loader.drop_last) == (40, 1, True)


class Empty(Dataset):

    def __len__(self):
        return 0

    def __getitem__(self, idx):
        raise IndexError(idx)


def test_an_epoch_of_no_iterations_is_an_error_naming_size_batch_and_fix():
    with pytest.raises(
            ConfigError,
            match=r'^An epoch would run 0 iterations: Empty holds 0 '
            r'items, batch size 32\. Check the dataset .* or lower the batch size'):
        MapleRunner.build_dataloader(loader_cfg(Empty()), seed=1)

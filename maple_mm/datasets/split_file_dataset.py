"""A dataset read from a CoOp split file (``split_zhou_<Name>.json``)."""
import json
import os.path as osp
import posixpath
from typing import Dict, List, Sequence

from mmpretrain.registry import DATASETS

from maple_mm.errors import DatasetFormatError, DatasetNotFoundError
from .coop_dataset import SPLITS, CoOpDataset, Item
from .item_checks import Where, check_item_lists


@DATASETS.register_module()
class SplitFileDataset(CoOpDataset):
    """A split of a dataset listed in a CoOp split file; works for your own data too.

    The split file holds ``{"train": [[rel_impath, label, classname], ...],
    "val": [...], "test": [...]}`` with paths relative to ``image_dir`` and
    labels 0 .. n-1. Train gets ``num_shots`` per class and val
    ``min(num_shots, 4)``, the reference's draw for ``seed``; the classes kept
    by ``subsample`` are decided by the train list. See :class:`CoOpDataset`
    for the other arguments.

    Args:
        data_root: The dataset folder.
        split_file: The split JSON, relative to ``data_root``.
        image_dir: The folder the image paths are relative to, under
            ``data_root`` ('' for ``data_root`` itself).
    """

    dataset_name = 'the dataset'

    def __init__(self,
                 data_root: str,
                 split_file: str,
                 image_dir: str = '',
                 split: str = 'train',
                 num_shots: int = -1,
                 seed: int = 1,
                 subsample: str = 'all',
                 pipeline: Sequence = (),
                 **kwargs) -> None:
        super().__init__(
            data_root=data_root,
            split=split,
            num_shots=num_shots,
            seed=seed,
            subsample=subsample,
            pipeline=pipeline,
            ann_file=split_file,
            image_dir=image_dir,
            **kwargs)

    def describe_source(self, split: str) -> str:
        return f'the {split} list of {self.ann_file}'

    def _check_index_files(self) -> None:
        if not osp.isfile(self.ann_file):
            raise DatasetNotFoundError(
                f'Split file {self.ann_file} not found: {self.dataset_name} needs it next '
                f'to its images ({self._fix_hint()}, which says where the dataset '
                'preparation instructions get it), or fix split_file.')

    def list_items(self, split: str) -> List[Item]:
        lists = self._index_lists()
        if split not in lists:
            raise DatasetFormatError(f'Split file {self.ann_file} has no {split!r} list '
                                     f'(keys: {sorted(lists)}); it needs {SPLITS}.')
        return lists[split]

    def _read_index(self) -> Dict[str, List[Item]]:
        """Every list of the split file, parsed and checked together."""
        raw = self._load_json()
        prefix = self.image_dir_under_root()
        lists = {
            split: self._parse_list(split, raw[split], prefix)
            for split in SPLITS if split in raw
        }
        where = Where(
            file_of=lambda split: f'Split file {self.ann_file}',
            position=lambda split, index: f'{split}[{index}]',
            fix=f'fix the split file ({self._fix_hint()})')
        check_item_lists(lists, where, osp.abspath(self.data_root))
        return lists

    def _load_json(self) -> dict:
        self._check_index_files()
        try:
            with open(self.ann_file, encoding='utf-8') as f:
                splits = json.load(f)
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise DatasetFormatError(f'Split file {self.ann_file} is not valid JSON ({err}); '
                                     'download or generate it again.') from None
        if not isinstance(splits, dict):
            raise DatasetFormatError(f'Split file {self.ann_file} must hold a JSON object with '
                                     f'keys {SPLITS}, got {type(splits).__name__}.')
        return splits

    def _parse_list(self, split: str, raw, prefix: str) -> List[Item]:
        if not isinstance(raw, list):
            raise DatasetFormatError(f'Split file {self.ann_file}: {split!r} must be a list of '
                                     f'[rel_impath, label, classname], got {raw!r:.60}.')
        return [self._parse_item(split, i, item, prefix) for i, item in enumerate(raw)]

    def _parse_item(self, split: str, index: int, item, prefix: str) -> Item:
        if (not isinstance(item, (list, tuple)) or len(item) != 3 or not isinstance(item[0], str)
                or type(item[1]) is not int or not isinstance(item[2], str)):
            raise DatasetFormatError(f'Split file {self.ann_file}: {split}[{index}] = {item!r} '
                                     'is not [rel_impath, label, classname].')
        return (posixpath.join(prefix, item[0]) if prefix else item[0], item[1], item[2])

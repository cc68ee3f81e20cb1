"""A dataset read from a CoOp split file, with few-shot and base/novel subsets."""
import json
import os.path as osp
from typing import List, Sequence, Tuple

from mmpretrain.datasets import BaseDataset
from mmpretrain.registry import DATASETS

from maple_mm.errors import DatasetFormatError, DatasetNotFoundError

from .few_shot import SUBSAMPLE_CHOICES, class_names_by_label, sample_few_shot, subsample_classes

SPLITS = ('train', 'val', 'test')

#: How many image paths of the chosen split are checked at load time.
NUM_PATHS_CHECKED = 5


@DATASETS.register_module()
class SplitFileDataset(BaseDataset):
    """A split of a dataset listed in a CoOp ``split_zhou_<Name>.json`` file.

    The split file holds ``{"train": [[rel_impath, label, classname], ...],
    "val": [...], "test": [...]}``. Train always gets ``num_shots`` per class and
    val ``min(num_shots, 4)`` (see :func:`sample_few_shot`), so every split
    sees the same draws as the reference; the class subset (``subsample``) is
    decided by the few-shot train list. ``metainfo['classes']`` holds the class
    names of that subset ordered by label.

    Args:
        data_root: The dataset folder.
        split_file: The split JSON, relative to ``data_root``.
        image_dir: The folder the image paths are relative to, under
            ``data_root`` ('' for ``data_root`` itself).
        split: 'train', 'val' or 'test'.
        num_shots: Shots per class K; -1 keeps every item.
        seed: Seed of the few-shot draws.
        subsample: 'all', 'base' or 'novel' ('new' is accepted too).
        pipeline: Data transforms.
        **kwargs: Passed to :class:`mmpretrain.datasets.BaseDataset`. Class
            names given via ``classes`` / ``metainfo`` replace those of the split
            file and must be as many.
    """

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
        if split not in SPLITS:
            raise DatasetFormatError(f'split={split!r} is not supported; use one of {SPLITS}.')
        if subsample not in SUBSAMPLE_CHOICES:
            raise DatasetFormatError(f'subsample={subsample!r} is not supported; '
                                     f'use one of {SUBSAMPLE_CHOICES}.')
        if not data_root:
            raise DatasetFormatError('SplitFileDataset needs data_root, the dataset folder.')
        self.split = split
        self.num_shots = num_shots
        self.seed = seed
        self.subsample = subsample
        kwargs.setdefault('test_mode', split != 'train')
        super().__init__(
            ann_file=split_file,
            data_root=data_root,
            data_prefix=image_dir,
            pipeline=pipeline,
            **kwargs)

    def _read_split_file(self) -> dict:
        if not osp.isdir(self.data_root):
            where = '' if osp.isabs(self.data_root) else f' ({osp.abspath(self.data_root)})'
            raise DatasetNotFoundError(
                f'Dataset folder {self.data_root}{where} not found; '
                'prepare the dataset there (see the dataset preparation instructions) '
                'or set data_root.')
        if not osp.isfile(self.ann_file):
            raise DatasetNotFoundError(
                f'Split file {self.ann_file} not found. Split files come with the '
                'dataset preparation instructions; put it there or fix split_file.')
        try:
            with open(self.ann_file, encoding='utf-8') as f:
                splits = json.load(f)
        except json.JSONDecodeError as err:
            raise DatasetFormatError(f'Split file {self.ann_file} is not valid JSON ({err}); '
                                     'download or generate it again.') from None
        if not isinstance(splits, dict):
            raise DatasetFormatError(f'Split file {self.ann_file} must hold a JSON object with '
                                     f'keys {SPLITS}, got {type(splits).__name__}.')
        for key in {'train', self.split}:
            if not isinstance(splits.get(key), list):
                raise DatasetFormatError(f'Split file {self.ann_file} has no {key!r} list '
                                         f'(keys: {sorted(splits)}); it needs {SPLITS}.')
        return splits

    def _select(self, splits: dict) -> Tuple[list, list]:
        """The items of ``self.split``, and the train list that decides the classes."""
        items = {key: [self._parse_item(key, i, item)
                       for i, item in enumerate(splits.get(key, []))]
                 for key in SPLITS}
        train, val = sample_few_shot(items['train'], items['val'], self.num_shots, self.seed)
        train, val, test = subsample_classes(train, val, items['test'],
                                             subsample=self.subsample)
        return dict(train=train, val=val, test=test)[self.split], train

    def _parse_item(self, key: str, index: int, item) -> tuple:
        if (not isinstance(item, (list, tuple)) or len(item) != 3
                or not isinstance(item[0], str) or not isinstance(item[1], int)):
            raise DatasetFormatError(f'Split file {self.ann_file}: {key}[{index}] = {item!r} is '
                                     'not [rel_impath, label, classname].')
        return tuple(item)

    def _check_paths(self, data_list: List[dict]) -> None:
        image_dir = self.data_prefix['img_path']
        if not osp.isdir(image_dir):
            raise DatasetNotFoundError(
                f'Image folder {image_dir} not found under dataset folder '
                f'{self.data_root}; prepare the images there or fix image_dir.')
        for info in data_list[:NUM_PATHS_CHECKED]:
            if not osp.isfile(info['img_path']):
                raise DatasetNotFoundError(
                    f'Image {info["img_path"]} listed in {self.ann_file} not found; '
                    'the image folder is incomplete or image_dir is wrong.')

    def _set_classes(self, names: List[str], data_list: List[dict]) -> None:
        given = self._metainfo.get('classes')
        if given is not None and len(given) != len(names):
            raise DatasetFormatError(f'{len(given)} class names were given but the '
                                     f'{self.subsample!r} classes of {self.ann_file} '
                                     f'are {len(names)}.')
        classes = tuple(given) if given is not None else tuple(names)
        bad = [info['gt_label'] for info in data_list
               if not 0 <= info['gt_label'] < len(classes)]
        if bad:
            raise DatasetFormatError(f'{self.split} items of {self.ann_file} have labels '
                                     f'{sorted(set(bad))[:10]} missing from its train list '
                                     f'({len(classes)} classes).')
        self._metainfo['classes'] = classes

    def load_data_list(self) -> List[dict]:
        """Read, sample and subsample the split file; sets ``metainfo['classes']``."""
        items, train = self._select(self._read_split_file())
        image_dir = osp.abspath(self.data_prefix['img_path'])
        data_list = [dict(img_path=osp.join(image_dir, impath), gt_label=label)
                     for impath, label, _ in items]
        try:
            names = class_names_by_label(train)
        except ValueError as err:
            raise DatasetFormatError(f'train list of {self.ann_file}: {err}') from None
        self._set_classes(names, data_list)
        self._check_paths(data_list)
        return data_list

    def extra_repr(self) -> List[str]:
        return super().extra_repr() + [
            f'Split: \t{self.split}', f'Shots: \t{self.num_shots} (seed {self.seed})',
            f'Classes subset: \t{self.subsample}'
        ]

"""ImageNet and its test-only variants, read from class folders as CoOp lays them out.

Labels follow the reference: ImageNet, ImageNet-Sketch, -A and -R number their
``<wnid>`` folders in sorted order (A and R have 200 of them, so they are
evaluated over their own 200 classes); ImageNetV2's folders are the label
numbers ``0 .. 999``. Class names come from ``classnames.txt`` (``<wnid>
<name>`` lines, CLIP's ImageNet names). Files are listed sorted, where the
reference takes ``os.listdir`` order, so the ImageNet few-shot draw is the
same on every file system.
"""
import os.path as osp
import posixpath
from typing import Dict, List, Optional, Sequence, Tuple

from mmpretrain.registry import DATASETS

from maple_mm.errors import DatasetFormatError, DatasetNotFoundError
from .coop_dataset import CoOpDataset, Item
from .listing import list_files, list_subfolders, read_classnames

CLASSNAMES_FILE = 'classnames.txt'


class _ClassFolderDataset(CoOpDataset):
    """Images in one folder per class; subclasses say which folders and names."""

    def _classnames_path(self) -> str:
        return osp.join(self.data_root, CLASSNAMES_FILE)

    def _missing_classnames(self) -> str:
        return (f'{self._classnames_path()} not found: {self.dataset_name} takes its class '
                f"names from ImageNet's classnames.txt ({self._fix_hint()}).")

    def _require_classnames(self) -> str:
        """The path of classnames.txt; raises if it is missing."""
        path = self._classnames_path()
        if not osp.isfile(path):
            raise DatasetNotFoundError(self._missing_classnames())
        return path

    def _check_index_files(self) -> None:
        self._require_classnames()

    def _classnames(self) -> Dict[str, str]:
        return read_classnames(self._require_classnames())

    def _name_of(self, names: Dict[str, str], wnid: str) -> str:
        if wnid not in names:
            raise DatasetFormatError(f'Class folder {wnid} has no line in '
                                     f"{self._classnames_path()}; use CoOp's ImageNet "
                                     f'classnames.txt (1000 lines, see docs/datasets.md#imagenet).')
        return names[wnid]

    def _classes(self) -> List[Tuple[str, str]]:
        """(folder under the image folder, class name) by label."""
        raise NotImplementedError

    def _class_items(self) -> List[Item]:
        return [('', label, name) for label, (_, name) in enumerate(self._classes())]

    def _list_folders(self, image_dir: str, classes: Sequence[Tuple[str, str]]) -> List[Item]:
        """Every file of the class folders under ``image_dir`` (relative to data_root)."""
        items = []
        for label, (folder, name) in enumerate(classes):
            path = osp.join(self.data_root, image_dir, folder)
            files = list_files(path) if osp.isdir(path) else None
            if not files:
                state = 'not found' if files is None else 'holds no images'
                raise DatasetNotFoundError(f'Class folder {path} of {self.dataset_name} '
                                           f'{state}: the download is incomplete '
                                           f'({self._fix_hint()}).')
            items += [(f'{image_dir}/{folder}/{file}', label, name) for file in files]
        return items

    def _wnid_folders(self, folder: str) -> List[str]:
        """The sorted class folders of ``folder``; raises if there are none."""
        wnids = list_subfolders(folder)
        if not wnids:
            raise DatasetNotFoundError(f'{folder} has no class folders: extract the '
                                       f'{self.dataset_name} images there ({self._fix_hint()}).')
        return wnids


@DATASETS.register_module()
class CoOpImageNet(_ClassFolderDataset):
    """ImageNet: ``images/train/<wnid>/`` and ``images/val/<wnid>/`` + classnames.txt.

    As in the reference, labels number the sorted wnid folders of
    ``images/train``, only train is few-shot drawn, and val and test are both
    the whole official validation set (``images/val``). Without
    ``images/train`` (test-only copies) the wnids of ``images/val`` are used.
    See :class:`CoOpDataset` for the arguments.
    """

    sampled_splits = ('train', )

    def __init__(self,
                 data_root: Optional[str] = None,
                 split: str = 'train',
                 num_shots: int = -1,
                 seed: int = 1,
                 subsample: str = 'all',
                 pipeline: Sequence = (),
                 **kwargs) -> None:
        kwargs.setdefault('image_dir', 'images')
        super().__init__(
            data_root=data_root,
            split=split,
            num_shots=num_shots,
            seed=seed,
            subsample=subsample,
            pipeline=pipeline,
            **kwargs)

    def _split_dir(self, split: str) -> str:
        return 'train' if split == 'train' else 'val'

    def describe_source(self, split: str) -> str:
        return osp.join(self.image_dir, self._split_dir(split))

    def _check_index_files(self) -> None:
        super()._check_index_files()
        self._require_split_dir(self.split)

    def _require_split_dir(self, split: str) -> str:
        split_dir = self.describe_source(split)
        if not osp.isdir(split_dir):
            raise DatasetNotFoundError(f'{split_dir} not found: extract the ImageNet '
                                       f'{self._split_dir(split)} set there ({self._fix_hint()}).')
        return split_dir

    def _classes(self) -> List[Tuple[str, str]]:
        train_dir = osp.join(self.image_dir, 'train')
        wnid_dir = train_dir if osp.isdir(train_dir) else osp.join(self.image_dir, 'val')
        if not osp.isdir(wnid_dir):
            raise DatasetNotFoundError(f'Neither {train_dir} nor {wnid_dir} exists: extract '
                                       f'the ImageNet train and val sets there '
                                       f'({self._fix_hint()}).')
        names = self._classnames()
        return [(wnid, self._name_of(names, wnid)) for wnid in self._wnid_folders(wnid_dir)]

    def list_items(self, split: str) -> List[Item]:
        split_dir = self._require_split_dir(split)
        classes = self._classes()
        known = {folder for folder, _ in classes}
        extra = sorted(set(list_subfolders(split_dir)) - known)
        if extra:
            raise DatasetFormatError(f'{split_dir} has class folders {extra[:5]} that '
                                     f'{osp.join(self.image_dir, "train")} lacks; both need '
                                     'the same 1000 wnid folders.')
        split_dir = posixpath.join(self.image_dir_under_root(), self._split_dir(split))
        return self._list_folders(split_dir, classes)


class _ImageNetVariant(_ClassFolderDataset):
    """A test-only ImageNet variant; class names from ImageNet's classnames.txt.

    ``classnames.txt`` is read from the dataset folder, else from
    ``../imagenet/classnames.txt`` beside it. See :class:`CoOpDataset` for the
    arguments; ``split`` can only be 'test' and ``num_shots`` is ignored.
    """

    splits = ('test', )
    sampled_splits = ()
    default_image_dir = ''

    def __init__(self,
                 data_root: Optional[str] = None,
                 split: str = 'test',
                 num_shots: int = -1,
                 seed: int = 1,
                 subsample: str = 'all',
                 pipeline: Sequence = (),
                 **kwargs) -> None:
        kwargs.setdefault('image_dir', self.default_image_dir)
        super().__init__(
            data_root=data_root,
            split=split,
            num_shots=num_shots,
            seed=seed,
            subsample=subsample,
            pipeline=pipeline,
            **kwargs)

    def _classnames_path(self) -> str:
        own = osp.join(self.data_root, CLASSNAMES_FILE)
        shared = osp.join(osp.dirname(osp.abspath(self.data_root)), 'imagenet', CLASSNAMES_FILE)
        return own if osp.isfile(own) or not osp.isfile(shared) else shared

    def _missing_classnames(self) -> str:
        return (f'{CLASSNAMES_FILE} not found in {self.data_root} nor in ../imagenet: copy '
                f"ImageNet's classnames.txt to {self._classnames_path()} (see "
                'docs/datasets.md#imagenet).')

    def describe_source(self, split: str) -> str:
        return self.image_dir

    def list_items(self, split: str) -> List[Item]:
        return self._list_folders(self.image_dir_under_root(), self._classes())


class _WnidFolderVariant(_ImageNetVariant):
    """Labels number the sorted ``<wnid>`` folders of the image folder."""

    def _classes(self) -> List[Tuple[str, str]]:
        names = self._classnames()
        return [(wnid, self._name_of(names, wnid)) for wnid in self._wnid_folders(self.image_dir)]


@DATASETS.register_module()
class CoOpImageNetV2(_ImageNetVariant):
    """ImageNetV2 matched-frequency: ``imagenetv2-matched-frequency-format-val/<label>/``.

    Folder ``i`` holds class ``i``, named by line ``i`` of classnames.txt.
    """

    default_image_dir = 'imagenetv2-matched-frequency-format-val'

    def _classes(self) -> List[Tuple[str, str]]:
        classes = [(str(label), name) for label, name in enumerate(self._classnames().values())]
        extra = sorted(set(list_subfolders(self.image_dir)) - {folder for folder, _ in classes})
        if extra:
            raise DatasetFormatError(f'{self.image_dir} has class folders {extra[:5]} beyond the '
                                     f'{len(classes)} classes of {self._classnames_path()}: '
                                     "use ImageNet's classnames.txt (1000 lines, see "
                                     'docs/datasets.md#imagenet).')
        return classes


@DATASETS.register_module()
class CoOpImageNetSketch(_WnidFolderVariant):
    """ImageNet-Sketch: ``images/<wnid>/``, the 1000 ImageNet classes."""

    default_image_dir = 'images'


@DATASETS.register_module()
class CoOpImageNetA(_WnidFolderVariant):
    """ImageNet-A: ``imagenet-a/<wnid>/``, 200 classes labelled 0 .. 199."""

    default_image_dir = 'imagenet-a'


@DATASETS.register_module()
class CoOpImageNetR(_WnidFolderVariant):
    """ImageNet-R: ``imagenet-r/<wnid>/``, 200 classes labelled 0 .. 199."""

    default_image_dir = 'imagenet-r'

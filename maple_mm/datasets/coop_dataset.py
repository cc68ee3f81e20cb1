"""The CoOp data protocol shared by every dataset: few-shot draws, base/novel classes.

A subclass only says where the items of each split come from
(:meth:`CoOpDataset.list_items`); this class draws the few-shot subsets
(through the JSON cache), keeps the base or novel classes and checks that the
images are there, so a missing dataset fails when it is built, not inside a
data loader. An image that is there but does not decode stops the data loader
with an :class:`ImageDecodeError` naming it.
"""
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Tuple

from mmpretrain.datasets import BaseDataset

from maple_mm.errors import DatasetFormatError, DatasetNotFoundError, ImageDecodeError
from maple_mm.provenance import list_fingerprint
from .catalog import BENCHMARKS, dataset_key_of_type
from .few_shot import SUBSAMPLE_CHOICES, class_names_by_label, subsample_classes
from .few_shot_cache import cache_file_name, cached_few_shot
from .image_check import MISSING, image_problem
from .links import OutsideLinks, missing_reason

Item = Tuple[str, int, str]  # (image path relative to data_root, label, class name)

SPLITS = ('train', 'val', 'test')
DOCS = 'docs/datasets.md'


class CoOpDataset(BaseDataset):
    """Base of the datasets of the CoOp protocol (not registered itself).

    ``num_shots`` K >= 1 draws K items per class from train and, where val is
    drawn too (``sampled_splits``), min(K, 4) from val, exactly as the
    reference does for ``seed``; the draw is cached as
    ``<fewshot_cache_dir>/shot_<K>-seed_<S>.json``. ``subsample`` keeps the base
    (first ceil(n/2) labels) or novel classes, relabelled from 0.
    ``metainfo['classes']`` holds their names by label; a benchmark of
    :mod:`.catalog` also puts its zero-shot CLIP template in
    ``metainfo['prompt_template']`` (and ``'prompt_template_in_ensemble'``, False
    for ImageNet, whose template the reference's ensemble leaves out). Building
    checks the index files (all their lists at once), that the lists the build uses are not
    empty and that the images exist; :meth:`check_source` only checks that the folders and
    index files are there.

    Args:
        data_root: The dataset folder; a benchmark's defaults to ``data/<folder>`` (its
            record in :mod:`.catalog`).
        split: One of the dataset's ``splits``.
        num_shots: Shots per class K >= 1; -1 keeps every item.
        seed: Seed of the few-shot draw.
        subsample: 'all', 'base' or 'novel' ('new' is accepted too).
        pipeline: Data transforms.
        fewshot_cache_dir: Folder of the few-shot cache, relative to
            ``data_root`` unless absolute; None turns the cache off.
        ann_file: Index file of the dataset, relative to ``data_root``.
        image_dir: Image folder, relative to ``data_root`` ('' for itself).
        allow_outside_links: Follow symbolic links (of images or image
            folders) that lead outside ``data_root``, e.g. to images kept on
            another disk. False (default): such a link is an error, as a split
            file path leaving the dataset folder is. A ``data_root`` that is
            itself a link is always fine.
        **kwargs: Passed to :class:`mmpretrain.datasets.BaseDataset`. Class
            names given via ``classes`` / ``metainfo`` replace the dataset's
            and must be as many; ``metainfo=dict(prompt_template=...)`` gives
            zero-shot CLIP a template (a benchmark of the catalog has its own).
    """

    #: Name in messages, and the anchor of its section in docs/datasets.md (a benchmark's
    #: come from its record in the catalog).
    dataset_name = 'Dataset'
    docs_anchor = 'use-your-own-dataset'
    #: The splits the dataset has, and those that are few-shot drawn.
    splits: Tuple[str, ...] = SPLITS
    sampled_splits: Tuple[str, ...] = ('train', 'val')

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        key = dataset_key_of_type(cls.__name__)
        if key is not None:
            cls.dataset_name, cls.docs_anchor = BENCHMARKS[key].name, BENCHMARKS[key].docs_anchor

    def __init__(self,
                 data_root: Optional[str] = None,
                 split: str = 'train',
                 num_shots: int = -1,
                 seed: int = 1,
                 subsample: str = 'all',
                 pipeline: Sequence = (),
                 fewshot_cache_dir: Optional[str] = 'split_fewshot',
                 ann_file: str = '',
                 image_dir: str = '',
                 allow_outside_links: bool = False,
                 **kwargs) -> None:
        if split not in self.splits:
            only = ' (it is a test set)' if self.splits == ('test', ) else ''
            raise DatasetFormatError(f'split={split!r} is not supported by '
                                     f'{type(self).__name__}{only}; use one of {self.splits}.')
        if subsample not in SUBSAMPLE_CHOICES:
            raise DatasetFormatError(f'subsample={subsample!r} is not supported; '
                                     f'use one of {SUBSAMPLE_CHOICES}.')
        key = dataset_key_of_type(type(self).__name__)
        if data_root is None and key is not None:
            data_root = BENCHMARKS[key].data_root
        if not data_root:
            raise DatasetFormatError(f'{type(self).__name__} needs data_root, the dataset '
                                     'folder.')
        if type(num_shots) is not int or num_shots < -1 or num_shots == 0:
            raise DatasetFormatError(f'num_shots={num_shots!r} is not supported: -1 means all '
                                     'items; K >= 1 draws K per class.')
        self._index_cache: Optional[Dict[str, List[Item]]] = None  # see _index_lists
        self._listed: Dict[str, List[Item]] = {}  # the lists a data-list build read
        #: The split source and a fingerprint of each of its lists read by the build
        #: (every list of a split file): what a checkpoint's training data was.
        self.split_fingerprint: Optional[dict] = None
        self.split = split
        self.num_shots = num_shots
        self.seed = seed
        self.subsample = subsample
        self.fewshot_cache_dir = fewshot_cache_dir
        self.allow_outside_links = allow_outside_links
        kwargs.setdefault('test_mode', split != 'train')
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            data_prefix=image_dir,
            pipeline=pipeline,
            **kwargs)
        if key is not None:  # a benchmark: zero-shot CLIP's template for it
            self._metainfo.setdefault('prompt_template', BENCHMARKS[key].template)
            self._metainfo.setdefault('prompt_template_in_ensemble',
                                      BENCHMARKS[key].template_in_ensemble)

    # -- what subclasses provide ------------------------------------------------

    def list_items(self, split: str) -> List[Item]:
        """Every item of ``split`` (no few-shot draw), paths relative to ``data_root``."""
        raise NotImplementedError

    def describe_source(self, split: str) -> str:
        """Where the items of ``split`` are listed, for messages."""
        return self.data_prefix['img_path']

    def _check_index_files(self) -> None:
        """Raise :class:`DatasetNotFoundError` if a file listing the items is missing."""

    def _read_index(self) -> Dict[str, List[Item]]:
        """Every list of the dataset's index files, checked (datasets with such files)."""
        raise NotImplementedError

    def _class_items(self) -> List[Item]:
        """Items whose labels and names define the classes (the whole train list).

        The few-shot draw keeps at least one item per label, so the full train
        list has the same labels as the drawn one.
        """
        return self.checked_items('train')

    # -- shared checks and protocol ---------------------------------------------

    @property
    def image_dir(self) -> str:
        return self.data_prefix['img_path']

    def image_dir_under_root(self) -> str:
        """The image folder relative to ``data_root``, '/'-separated ('' for itself)."""
        rel = osp.relpath(self.image_dir, self.data_root)
        return '' if rel == '.' else rel.replace(osp.sep, '/')

    def _fix_hint(self) -> str:
        return f'see {DOCS}#{self.docs_anchor}'

    def draws_few_shot(self) -> bool:
        """True if this build draws ``num_shots`` per class."""
        return self.split in self.sampled_splits and self.num_shots >= 1

    def used_splits(self) -> Tuple[str, ...]:
        """The splits whose lists this build reads: its own, train and those drawn with it."""
        drawn = self.sampled_splits if self.draws_few_shot() else ()
        return tuple(s for s in self.splits if s in (self.split, 'train', *drawn))

    def check_source(self) -> None:
        """Raise :class:`DatasetNotFoundError` if the dataset folder, image folder or a file
        listing the items of this build is missing; lists no images.

        Cheap, and usable on a dataset built with ``lazy_init=True``.
        """
        self.check_folders()
        self._check_index_files()

    def check_folders(self) -> None:
        """Raise :class:`DatasetNotFoundError` if the dataset or image folder is missing."""
        if not osp.isdir(self.data_root):
            where = '' if osp.isabs(self.data_root) else f' ({osp.abspath(self.data_root)})'
            raise DatasetNotFoundError(
                f'Dataset folder {self.data_root}{where} {missing_reason(self.data_root)}: '
                f'prepare {self.dataset_name} there ({self._fix_hint()}) or set data_root.')
        if not osp.isdir(self.image_dir):
            raise DatasetNotFoundError(
                f'Image folder {self.image_dir} {missing_reason(self.image_dir)} under dataset '
                f'folder {self.data_root}: the {self.dataset_name} images are not (all) there '
                f'({self._fix_hint()}), or image_dir is wrong.')

    def checked_items(self, split: str) -> List[Item]:
        """The items of ``split`` (:meth:`list_items`); raises if there are none."""
        items = self.list_items(split)
        if not items:
            raise DatasetFormatError(self._empty_message(split))
        self._listed[split] = items
        return items

    def _empty_message(self, split: str) -> str:
        if split == self.split:
            why = f'split={split!r} is built from it'
        elif split == 'train':
            why = 'it defines the classes'
        else:
            why = f'the {self.num_shots}-shot draw takes {split} items from it'
        return (f'No items in {self.describe_source(split)}, but {why}: add the items or '
                f"use the dataset's original files ({self._fix_hint()}).")

    def _index_lists(self) -> Dict[str, List[Item]]:
        """:meth:`_read_index`, read once per data-list build."""
        if self._index_cache is None:
            self._index_cache = self._read_index()
        return self._index_cache

    def class_names(self) -> List[str]:
        """Names of all the dataset's classes by label, before ``subsample``."""
        return self._names_by_label(self._class_items())

    def _names_by_label(self, items: Sequence[Item]) -> List[str]:
        try:
            return class_names_by_label(items)
        except DatasetFormatError as err:
            raise DatasetFormatError(f'{self.describe_source("train")}: {err}') from None

    def _cache_path(self) -> Optional[str]:
        if self.fewshot_cache_dir is None:
            return None
        folder = osp.join(self.data_root, self.fewshot_cache_dir)
        return osp.join(folder, cache_file_name(self.num_shots, self.seed))

    def _select(self) -> Tuple[List[Item], List[Item]]:
        """The items of ``self.split`` and the train items that define the classes."""
        if self.draws_few_shot():
            sources = {split: self.checked_items(split) for split in self.sampled_splits}
            drawn = cached_few_shot(self._cache_path(), sources, self.num_shots, self.seed)
            return drawn[self.split], drawn['train']
        items = self.checked_items(self.split)
        return items, items if self.split == 'train' else self._class_items()

    def load_data_list(self) -> List[dict]:
        """Select, subsample and check the items; sets ``metainfo['classes']``."""
        self._index_cache, self._listed = None, {}
        try:
            return self._build_data_list()
        finally:
            self._index_cache, self._listed = None, {}

    def _build_data_list(self) -> List[dict]:
        self.check_source()
        items, train = self._select()
        kept_train, items = subsample_classes(train, items, subsample=self.subsample)
        if not items:
            raise DatasetFormatError(self._none_kept_message(train, kept_train))
        names = self._names_by_label(kept_train)
        root = osp.abspath(self.data_root)
        data_list = [
            dict(img_path=osp.join(root, path), gt_label=label) for path, label, _ in items
        ]
        self._set_classes(names, data_list)
        self._check_images(data_list)
        self.split_fingerprint = self._fingerprint()
        return data_list

    def _fingerprint(self) -> dict:
        """The dataset, its split source and :func:`list_fingerprint` of each list read."""
        lists = {**self._listed, **(self._index_cache or {})}  # a split file: all its lists
        return dict(
            dataset=dataset_key_of_type(type(self).__name__)
            or osp.basename(osp.normpath(self.data_root)),
            source=osp.basename(self.ann_file) if self.ann_file else
            (self.image_dir_under_root() or '.'),
            lists={
                split: list_fingerprint(items)
                for split, items in sorted(lists.items())
            })

    def _none_kept_message(self, train: Sequence[Item], kept_train: Sequence[Item]) -> str:
        num_kept = len({label for _, label, _ in kept_train})
        num_all = len({label for _, label, _ in train})
        return (f'subsample={self.subsample!r} leaves no items in '
                f'{self.describe_source(self.split)}: the {self.subsample} classes are '
                f"{num_kept} of the train list's {num_all} and none of its items has one; add "
                f"{self.split} items of those classes, or use subsample='all'.")

    def _set_classes(self, names: List[str], data_list: List[dict]) -> None:
        given = self._metainfo.get('classes')
        if given is not None and len(given) != len(names):
            raise DatasetFormatError(f'{len(given)} class names were given but the '
                                     f'{self.subsample!r} classes of '
                                     f'{self.describe_source("train")} are {len(names)}.')
        classes = tuple(given) if given is not None else tuple(names)
        bad = [info['gt_label'] for info in data_list if not 0 <= info['gt_label'] < len(classes)]
        if bad:
            raise DatasetFormatError(f'{self.split} items of {self.describe_source(self.split)} '
                                     f'have labels {sorted(set(bad))[:10]} missing from its '
                                     f'train list ({len(classes)} classes).')
        self._metainfo['classes'] = classes

    def prepare_data(self, idx: int) -> Any:
        """The pipeline's output for item ``idx``; raises :class:`ImageDecodeError`
        if the pipeline fails (or returns None) on an image that does not decode."""
        data_info = self.get_data_info(idx)
        path = data_info.get('img_path')
        try:
            data = self.pipeline(data_info)
        except Exception as err:
            decode_error = self._decode_error(path)
            if decode_error is not None:
                raise decode_error from err
            raise
        if data is None:  # mmengine would silently fetch another item instead
            decode_error = self._decode_error(path)
            if decode_error is not None:
                raise decode_error
        return data

    def _decode_error(self, path: Optional[str]) -> Optional[ImageDecodeError]:
        """The error to raise for the image at ``path``, or None if it decodes (or is gone)."""
        if not path:
            return None
        problem = image_problem(path, decode=True)
        if problem is None or problem == MISSING:
            return None
        return ImageDecodeError(f'Image {osp.abspath(path)} cannot be decoded: {problem}; '
                                f'replace it with a good copy, and {self._find_bad_images()}.')

    def _find_bad_images(self) -> str:
        """How to list every image of the dataset that does not decode."""
        key = dataset_key_of_type(type(self).__name__)
        if key is None:
            return (f'decode every image of {osp.abspath(self.image_dir)} to find the others '
                    '(tools/verify_datasets.py --decode does that for the CoOp benchmarks)')
        data_root = osp.dirname(osp.abspath(self.data_root))
        return (f'run `python tools/verify_datasets.py --data-root {data_root} --datasets '
                f'{key} --decode` to list every bad image')

    def _check_images(self, data_list: List[dict]) -> None:
        missing = [info['img_path'] for info in data_list if not osp.isfile(info['img_path'])]
        if missing:
            more = (f' (and {len(missing) - 1} more of its {len(data_list)} images)'
                    if len(missing) > 1 else '')
            reason = missing_reason(missing[0])
            fix = ('replace the link by the image'
                   if 'link' in reason else 'the image folder is incomplete or image_dir is wrong')
            raise DatasetNotFoundError(
                f'Image {missing[0]} listed in {self.describe_source(self.split)} '
                f'{reason}{more}: {fix} ({self._fix_hint()}; tools/verify_datasets.py lists '
                'every missing file).')
        if self.allow_outside_links:
            return
        links = OutsideLinks(self.data_root)
        for info in data_list:
            target = links.target(info['img_path'])
            if target is not None:
                raise DatasetFormatError(
                    f'Image {info["img_path"]} listed in {self.describe_source(self.split)} '
                    f'is a symbolic link to {target}, outside the dataset folder '
                    f'{osp.abspath(self.data_root)}: replace the link by the image, or set '
                    'allow_outside_links=True on the dataset if its images are kept on '
                    'another disk.')

    def extra_repr(self) -> List[str]:
        return super().extra_repr() + [
            f'Split: \t{self.split}', f'Shots: \t{self.num_shots} (seed {self.seed})',
            f'Classes subset: \t{self.subsample}'
        ]

"""The fine-grained benchmarks of the CoOp protocol, laid out as CoOp prepares them.

Each class only names where its split file and images are (docs/datasets.md
has the layouts); ``data_root`` is the dataset folder, e.g.
``data/caltech-101``. FGVCAircraft has no split file: it reads the dataset's
own ``variants.txt`` and ``images_variant_<split>.txt``.
"""
import os.path as osp
import posixpath
from typing import Dict, List, Optional, Sequence, Tuple

from mmpretrain.registry import DATASETS

from maple_mm.errors import DatasetFormatError, DatasetNotFoundError
from .coop_dataset import CoOpDataset, Item
from .item_checks import Where, check_item_lists
from .split_file_dataset import SplitFileDataset


class CoOpSplitFileBenchmark(SplitFileDataset):
    """A benchmark with a CoOp split file; subclasses set its file and image folder.

    Args:
        data_root: The dataset folder, e.g. ``'data/caltech-101'``.
        split: 'train', 'val' or 'test'.
        num_shots: Shots per class K; -1 keeps every item.
        seed: Seed of the few-shot draw.
        subsample: 'all', 'base' or 'novel'.
        pipeline: Data transforms.
        split_file: Defaults to the benchmark's CoOp split file.
        image_dir: Defaults to the benchmark's image folder.
        **kwargs: Passed to :class:`SplitFileDataset` (e.g. ``fewshot_cache_dir``).
    """

    default_split_file = ''
    default_image_dir = ''

    def __init__(self,
                 data_root: Optional[str] = None,
                 split: str = 'train',
                 num_shots: int = -1,
                 seed: int = 1,
                 subsample: str = 'all',
                 pipeline: Sequence = (),
                 split_file: Optional[str] = None,
                 image_dir: Optional[str] = None,
                 **kwargs) -> None:
        super().__init__(
            data_root=data_root,
            split_file=self.default_split_file if split_file is None else split_file,
            image_dir=self.default_image_dir if image_dir is None else image_dir,
            split=split,
            num_shots=num_shots,
            seed=seed,
            subsample=subsample,
            pipeline=pipeline,
            **kwargs)


@DATASETS.register_module()
class CoOpCaltech101(CoOpSplitFileBenchmark):
    """Caltech101: 101 object classes less BACKGROUND_Google and Faces_easy: 100 classes."""

    default_split_file, default_image_dir = 'split_zhou_Caltech101.json', '101_ObjectCategories'


@DATASETS.register_module()
class CoOpOxfordPets(CoOpSplitFileBenchmark):
    """OxfordPets: 37 cat and dog breeds."""

    default_split_file, default_image_dir = 'split_zhou_OxfordPets.json', 'images'


@DATASETS.register_module()
class CoOpStanfordCars(CoOpSplitFileBenchmark):
    """StanfordCars: 196 car models; image paths start with cars_train/ or cars_test/."""

    default_split_file, default_image_dir = 'split_zhou_StanfordCars.json', ''


@DATASETS.register_module()
class CoOpFlowers102(CoOpSplitFileBenchmark):
    """Flowers102: 102 flower species."""

    default_split_file, default_image_dir = 'split_zhou_OxfordFlowers.json', 'jpg'


@DATASETS.register_module()
class CoOpFood101(CoOpSplitFileBenchmark):
    """Food101: 101 dishes."""

    default_split_file, default_image_dir = 'split_zhou_Food101.json', 'images'


@DATASETS.register_module()
class CoOpSUN397(CoOpSplitFileBenchmark):
    """SUN397: 397 scene categories."""

    default_split_file, default_image_dir = 'split_zhou_SUN397.json', 'SUN397'


@DATASETS.register_module()
class CoOpDTD(CoOpSplitFileBenchmark):
    """DTD: 47 describable textures."""

    default_split_file, default_image_dir = 'split_zhou_DescribableTextures.json', 'images'


@DATASETS.register_module()
class CoOpEuroSAT(CoOpSplitFileBenchmark):
    """EuroSAT: 10 land-use classes of Sentinel-2 images."""

    default_split_file, default_image_dir = 'split_zhou_EuroSAT.json', '2750'


@DATASETS.register_module()
class CoOpUCF101(CoOpSplitFileBenchmark):
    """UCF101: 101 actions, one middle frame per video."""

    default_split_file, default_image_dir = 'split_zhou_UCF101.json', 'UCF-101-midframes'


@DATASETS.register_module()
class CoOpFGVCAircraft(CoOpDataset):
    """FGVCAircraft (variant level, 100 classes) from the dataset's own files.

    Class names and labels follow ``variants.txt`` line order; each line of
    ``images_variant_<split>.txt`` is ``<image id> <variant>``, the image being
    ``images/<image id>.jpg``. See :class:`CoOpDataset` for the arguments.
    """

    variants_file = 'variants.txt'

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

    def _index_path(self, name: str) -> str:
        return osp.join(self.data_root, name)

    def _require(self, name: str) -> str:
        """The path of index file ``name``; raises if it is missing."""
        path = self._index_path(name)
        if not osp.isfile(path):
            raise DatasetNotFoundError(
                f'{path} not found: keep the .txt files of the FGVCAircraft data/ folder '
                f'next to images/ ({self._fix_hint()}).')
        return path

    def _split_file(self, split: str) -> str:
        return f'images_variant_{split}.txt'

    def describe_source(self, split: str) -> str:
        return self._index_path(self._split_file(split))

    def _check_index_files(self) -> None:
        self._require(self.variants_file)
        for split in self.used_splits():
            self._require(self._split_file(split))

    def list_items(self, split: str) -> List[Item]:
        lists = self._index_lists()
        if split not in lists:
            self._require(self._split_file(split))  # raises: only missing files are not read
        return lists[split]

    def _read_index(self) -> Dict[str, List[Item]]:
        """The lists of every index file there is, parsed and checked together."""
        labels = self._labels()
        lists: Dict[str, List[Item]] = {}
        lines: Dict[str, List[int]] = {}
        for split in self.splits:
            if osp.isfile(self.describe_source(split)):
                lists[split], lines[split] = self._read_split(split, labels)
        where = Where(
            file_of=self.describe_source,
            position=lambda split, index: f'line {lines[split][index]}',
            fix=f'use the files of one FGVCAircraft release ({self._fix_hint()})')
        check_item_lists(lists, where, osp.abspath(self.data_root))
        return lists

    def _labels(self) -> Dict[str, int]:
        """Label of each variant: its line in variants.txt, counting non-blank lines."""
        path = self._require(self.variants_file)
        labels: Dict[str, int] = {}
        with open(path, encoding='utf-8') as f:
            for number, line in enumerate(f, 1):
                name = line.strip()
                if not name:
                    continue
                if name in labels:
                    raise DatasetFormatError(
                        f'{path} line {number} repeats variant {name!r}: each variant must be '
                        f'listed once; use the variants.txt of the FGVCAircraft release '
                        f'({self._fix_hint()}).')
                labels[name] = len(labels)
        return labels

    def _read_split(self, split: str, labels: Dict[str, int]) -> Tuple[List[Item], List[int]]:
        """The items of ``images_variant_<split>.txt`` and their line numbers."""
        path = self.describe_source(split)
        image_dir = self.image_dir_under_root()
        items, numbers = [], []
        with open(path, encoding='utf-8') as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                image_id, _, variant = line.strip().partition(' ')
                if variant not in labels:
                    raise DatasetFormatError(
                        f'{path} line {number}: variant {variant!r} is not in '
                        f'{self.variants_file}; the two files come from different '
                        'FGVCAircraft releases.')
                items.append((posixpath.join(image_dir,
                                             f'{image_id}.jpg'), labels[variant], variant))
                numbers.append(number)
        return items, numbers

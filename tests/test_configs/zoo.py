"""The config zoo: method folders, datasets and protocols.

Each method's reference recipes are rows of its own test module
(:mod:`tests.method_rows`), written out from the reference's files independently
of the config files, so the config tests compare the files against them.
"""
import ast
import functools
from pathlib import Path
from typing import Dict, List, Optional, Set

from mmengine.config import Config

from maple_mm.config_names import config_name
from maple_mm.datasets.catalog import BASE_TO_NOVEL
from maple_mm.method_zoo import method_folders
from ..conftest import REPO_ROOT

CONFIGS = REPO_ROOT / 'configs'
BASE_DIR = CONFIGS / '_base_'
#: Method folder -> the method every config in it records (from each folder's metafile.yml).
METHODS: Dict[str, str] = method_folders(REPO_ROOT / 'configs')
DATASETS = BASE_TO_NOVEL
DEMO = CONFIGS / 'maple' / 'demo_base2novel_fashion_mnist.py'  # `make demo` (the example)
#: Every method's demo on Fashion-MNIST (its base-to-novel recipe + the demo data and CLIP).
DEMOS = [CONFIGS / folder / 'demo_base2novel_fashion_mnist.py' for folder in METHODS]
DEMO_BASE = CONFIGS / '_base_' / 'demo_fashion_mnist.py'

#: The protocols a method folder has configs for (cross_dataset: also domain generalisation).
PROTOCOLS = ('base2novel', 'few_shot', 'cross_dataset')
#: The published per-epoch lr of two recipes (docs/benchmarks.md), by (lr, epochs).
PUBLISHED_LRS = {
    (0.0035, 5): [1e-5, 3.5e-3, 3.17e-3, 2.29e-3, 1.21e-3],
    (0.0026, 2): [1e-5, 2.6e-3]
}


def default_leaf_configs(folder: str) -> List[Path]:
    """The configs of the recipes on ViT-B/16 a method folder must hold (the demo aside): its
    rows' protocols."""
    from ..method_rows import protocols
    names = []
    for protocol in sorted(protocols(folder), key=PROTOCOLS.index):
        if protocol == 'cross_dataset':
            names += ['cross_dataset_imagenet', 'domain_generalization_imagenet']
        else:
            names += [f'{protocol}_{d}' for d in DATASETS]
    return [CONFIGS / folder / f'{name}.py' for name in names]


def clip_leaf_configs(folder: str) -> List[Path]:
    """The configs of the method's recipes on other CLIPs (its rows' ``other_clips``), named
    ``<protocol>_<setting>_<dataset>.py``."""
    from ..method_rows import other_clip_configs
    return [CONFIGS / folder / f'{name}.py' for name in other_clip_configs(folder)]


def leaf_configs(folder: str) -> List[Path]:
    """The experiment configs a method folder must hold (the demo aside)."""
    return default_leaf_configs(folder) + clip_leaf_configs(folder)


def all_leaf_configs() -> List[Path]:
    return [path for folder in METHODS for path in leaf_configs(folder)]


def protocol_of(path: Path) -> str:
    """The protocol a leaf config's name says (the config's own `protocol` is checked too)."""
    protocol = config_name(path.stem).protocol
    if protocol is None:
        raise ValueError(path.stem)
    return protocol


def setting_of(path: Path) -> Optional[str]:
    """What a config's name says between protocol and dataset (``'rn50'``, ``'rn50_csc'``),
    None for the recipes on ViT-B/16."""
    return config_name(path.stem).setting


def dataset_of(path: Path) -> Optional[str]:
    """The dataset key a leaf config's name ends with."""
    return config_name(path.stem).dataset


def clip_of(path: Path) -> Optional[str]:
    """The open_clip model a leaf config must use, as its name says (ViT-B-16 if it names
    none)."""
    return config_name(path.stem).clip


@functools.lru_cache(maxsize=None)
def base_files(path: Path) -> List[Path]:
    """The ``_base_`` files a config names directly (read once per session; do not modify)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], 'id', None) == '_base_':
            return [(path.parent / e.value).resolve() for e in node.value.elts]
    return []


def inheritance_depth(path: Path) -> int:
    return max((1 + inheritance_depth(base) for base in base_files(path)), default=0)


def ancestors(path: Path) -> Set[Path]:
    return set().union(*({base} | ancestors(base) for base in base_files(path)))


@functools.lru_cache(maxsize=None)
def built(path: Path) -> Config:
    """The config as Config.fromfile builds it, once per test session; do not modify it."""
    return Config.fromfile(path, import_custom_modules=False)

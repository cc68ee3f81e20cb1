"""The config zoo: method folders, datasets, protocols and the reference recipes they carry.

The recipe values are written out here from the reference configs (spec
sections 2 and 7, notes on the reference trainers), independently of the
config files, so the config tests compare the files against them.
"""
import ast
import functools
from pathlib import Path
from typing import Dict, List, Set

from mmengine.config import Config

from maple_mm.datasets.catalog import BASE_TO_NOVEL, BENCHMARKS
from maple_mm.method_zoo import method_folders
from ..conftest import REPO_ROOT

CONFIGS = REPO_ROOT / 'configs'
BASE_DIR = CONFIGS / '_base_'
#: Method folder -> the method every config in it records (from each folder's metafile.yml).
METHODS: Dict[str, str] = method_folders(REPO_ROOT / 'configs')
DATASETS = BASE_TO_NOVEL
DEMO = CONFIGS / 'maple' / 'demo_base2novel_fashion_mnist.py'  # `make demo`
#: Every method's demo on Fashion-MNIST (its base-to-novel recipe + the demo data and CLIP).
DEMOS = [CONFIGS / folder / 'demo_base2novel_fashion_mnist.py' for folder in METHODS]
DEMO_BASE = CONFIGS / '_base_' / 'demo_fashion_mnist.py'

#: The prompt learner of each method (its reference config's TRAINER section).
LEARNERS: Dict[str, dict] = {
    'zero_shot_clip':
    dict(type='ZeroShotPromptLearner', templates='dataset'),
    'coop':
    dict(
        type='CoOpPromptLearner',
        n_ctx=16,
        ctx_init='',
        class_specific=False,
        class_token_position='end'),
    'cocoop':
    dict(type='CoCoOpPromptLearner', n_ctx=4, ctx_init='a photo of a'),
    'vpt':
    dict(type='VPTPromptLearner', n_ctx=8, depth=12),
    'ivlp':
    dict(
        type='IVLPPromptLearner',
        n_ctx_text=2,
        n_ctx_vision=2,
        depth_text=12,
        depth_vision=12,
        ctx_init='a photo of a'),
    'language_prompting':
    dict(type='LanguagePromptLearner', n_ctx=4, depth=12, ctx_init='a photo of a'),
    'maple':
    dict(type='MaPLePromptLearner', n_ctx=2, ctx_init='a photo of a', depth=9),
    # configs/trainers/PromptSRC/vit_b16_c2_ep20_batch4_4+4ctx.yaml (muzairkhattak/PromptSRC)
    'promptsrc':
    dict(
        type='PromptSRCPromptLearner',
        n_ctx_text=4,
        n_ctx_vision=4,
        depth_text=9,
        depth_vision=9,
        ctx_init='a photo of a'),
    # KgCoOp/configs/trainers/KgCoOp/vit_b16_ep100_ctxv1.yaml: CTX_INIT True = "a photo of a"
    'kgcoop':
    dict(type='KgCoOpPromptLearner', n_ctx=4, ctx_init='a photo of a'),
}
#: The loss weights of the methods with their own objective (reference configs / scripts).
LOSS_WEIGHTS: Dict[str, dict] = {
    'promptsrc': dict(text_weight=25.0, image_weight=10.0),  # TEXT_/IMAGE_LOSS_WEIGHT
    'kgcoop': dict(weight=8.0),  # scripts/base2new_train.sh TRAINER.COOP.W 8.0
}
#: PromptSRC's GPA (mean, std) by protocol; few-shot: by dataset (its few-shot yaml's comment).
PROMPTSRC_GPA = {'base2novel': (15, 1), 'cross_dataset': (6, 10), 'few_shot': (30, 30)}
PROMPTSRC_FINE_GRAINED_GPA = ((45, 5), {
    'stanford_cars', 'oxford_flowers', 'fgvc_aircraft', 'dtd', 'eurosat'
})

#: (method folder, protocol) -> (lr, epochs, train batch); None: nothing is trained.
#: 'cross_dataset' covers domain generalisation, which trains alike.
SCHEDULES = {
    ('zero_shot_clip', 'base2novel'): None,
    ('zero_shot_clip', 'cross_dataset'): None,
    ('coop', 'base2novel'): (0.002, 200, 32),  # ImageNet 50
    ('coop', 'few_shot'): (0.002, 200, 32),  # 16 shots; epochs_by_shots for other K
    ('coop', 'cross_dataset'): (0.002, 50, 32),
    ('cocoop', 'base2novel'): (0.002, 10, 1),
    ('cocoop', 'few_shot'): (0.002, 50, 1),
    ('cocoop', 'cross_dataset'): (0.002, 10, 1),
    ('vpt', 'base2novel'): (0.0025, 5, 4),
    ('vpt', 'few_shot'): (0.0025, 50, 4),
    ('vpt', 'cross_dataset'): (0.0025, 5, 4),
    ('ivlp', 'base2novel'): (0.0035, 5, 4),
    ('ivlp', 'few_shot'): (0.0035, 50, 4),
    ('ivlp', 'cross_dataset'): (0.0035, 5, 4),
    ('language_prompting', 'base2novel'): (0.0025, 5, 4),
    ('language_prompting', 'few_shot'): (0.0025, 50, 4),
    ('language_prompting', 'cross_dataset'): (0.0025, 5, 4),
    ('maple', 'base2novel'): (0.0035, 5, 4),
    ('maple', 'few_shot'): (0.0035, 50, 4),
    ('maple', 'cross_dataset'): (0.0026, 2, 4),
    ('promptsrc', 'base2novel'): (0.0025, 20, 4),
    ('promptsrc', 'few_shot'): (0.0025, 50, 4),
    ('promptsrc', 'cross_dataset'): (0.0025, 20, 4),
    ('kgcoop', 'base2novel'): (0.002, 100, 128),
    ('kgcoop', 'few_shot'): (0.002, 100, 128),
    ('kgcoop', 'cross_dataset'): (0.002, 100, 128),
}
#: CoOp's epochs by shots (docs/CoOp.md of the reference); ImageNet: 50 at every K.
COOP_EPOCHS_BY_SHOTS = {1: 50, 2: 100, 4: 100, 8: 200, 16: 200}
#: The published per-epoch lr of the two MaPLe recipes (docs/benchmarks.md).
PUBLISHED_LRS = {
    (0.0035, 5): [1e-5, 3.5e-3, 3.17e-3, 2.29e-3, 1.21e-3],
    (0.0026, 2): [1e-5, 2.6e-3]
}

#: The CLIP a config's name can say, ``<protocol>_<clip>[_<variant>]_<dataset>.py`` (the
#: reference's recipes on other CLIPs, e.g. CoOp's ``rn50*.yaml``), as open_clip names it.
#: A name without one is the recipe's ViT-B/16 (clip_vit_b16.py).
CLIP_TOKENS = {'rn50': 'RN50', 'rn101': 'RN101', 'vit_b32': 'ViT-B-32', 'vit_b16': 'ViT-B-16'}
PROTOCOLS = ('base2novel', 'few_shot', 'cross_dataset', 'domain_generalization')


def default_leaf_configs(folder: str) -> List[Path]:
    """The configs of the default CLIP every method folder holds (the demo aside)."""
    names = [f'base2novel_{d}' for d in DATASETS]
    if folder != 'zero_shot_clip':
        names += [f'few_shot_{d}' for d in DATASETS]
    names += ['cross_dataset_imagenet', 'domain_generalization_imagenet']
    return [CONFIGS / folder / f'{name}.py' for name in names]


def clip_leaf_configs(folder: str) -> List[Path]:
    """The folder's configs of a recipe on another CLIP (``<protocol>_<clip>..._<dataset>``).

    A name whose setting names no CLIP is not one: the folder test reports it.
    """
    return sorted(p for p in (CONFIGS / folder).glob('*.py') if _clip_token(setting_of(p)))


def leaf_configs(folder: str) -> List[Path]:
    """The experiment configs of a method folder (the demo aside)."""
    return default_leaf_configs(folder) + clip_leaf_configs(folder)


def all_leaf_configs() -> List[Path]:
    return [path for folder in METHODS for path in leaf_configs(folder)]


def protocol_of(path: Path) -> str:
    """The protocol a leaf config's name says (the config's own `protocol` is checked too)."""
    stem = path.stem
    for protocol in PROTOCOLS:
        if stem.startswith(protocol):
            return protocol
    raise ValueError(stem)


def _split(path: Path):
    """``(protocol, setting or None, dataset)`` of a leaf config's name."""
    protocol = next((p for p in PROTOCOLS if path.stem.startswith(p + '_')), None)
    if protocol is None:
        return None, None, None
    rest = path.stem[len(protocol) + 1:]
    dataset = next(
        (k
         for k in sorted(BENCHMARKS, key=len, reverse=True) if rest == k or rest.endswith('_' + k)),
        None)
    setting = rest[:-len(dataset) - 1] if dataset and rest != dataset else None
    return protocol, setting, dataset


def setting_of(path: Path):
    """The setting a config's name says between protocol and dataset (``'rn50'``,
    ``'rn50_csc'``: a key of :data:`CLIP_TOKENS`, then a variant), None for the defaults."""
    return _split(path)[1]


def _clip_token(setting) -> str:
    """The key of :data:`CLIP_TOKENS` a setting starts with ('' if none)."""
    return next((t for t in CLIP_TOKENS
                 if setting and (setting == t or setting.startswith(t + '_'))), '')


def dataset_of(path: Path) -> str:
    """The dataset key a leaf config's name ends with."""
    return _split(path)[2]


def clip_of(path: Path) -> str:
    """The open_clip model a leaf config must use: the one its name says, else ViT-B-16."""
    token = _clip_token(setting_of(path))
    return CLIP_TOKENS[token] if token else 'ViT-B-16'


def base_files(path: Path) -> List[Path]:
    """The ``_base_`` files a config names directly."""
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

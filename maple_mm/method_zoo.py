"""The methods maple_mm ships: the one list that tables, tools and tests read.

A method is a model type registered by :mod:`maple_mm.models.methods` (a
:class:`~maple_mm.models.PromptedCLIP` subclass) with a folder
``configs/<folder>/`` holding its configs, README.md and an mmpretrain
``metafile.yml`` whose collection is named after that model type (the
``method`` its runs record). Adding a method adds its folder; nothing lists
it elsewhere (docs/adding-a-method.md).

The model index (``model-index.yml``, generated from the metafiles by
:func:`model_index_text`) names every config of the zoo for mmpretrain's
``list_models`` / ``get_model`` and for ``mim``; importing maple_mm registers it
(:func:`register_model_index`).
"""
from pathlib import Path
from typing import Dict, Optional

import yaml

#: The config zoo of a source checkout.
CONFIGS_DIR = Path(__file__).resolve().parent.parent / 'configs'
#: The model index of a source checkout, beside the configs (where mim reads it).
MODEL_INDEX = CONFIGS_DIR.parent / 'model-index.yml'
#: Every method's offline demo (a random CLIP on Fashion-MNIST), in the index too.
DEMO_CONFIG = 'demo_base2novel_fashion_mnist.py'


def method_folders(configs_dir: Optional[Path] = None) -> Dict[str, str]:
    """``{config folder: method}`` for every folder with a metafile.yml, in table order.

    Table order: the order of :data:`maple_mm.evaluation.published.METHODS`
    (the papers' tables), then methods without published numbers by name.
    """
    from maple_mm.evaluation.published import METHODS as TABLE_ORDER

    folders = {}
    for metafile in sorted(Path(configs_dir or CONFIGS_DIR).glob('*/metafile.yml')):
        collections = (yaml.safe_load(metafile.read_text(encoding='utf-8'))
                       or {}).get('Collections') or []
        if len(collections) != 1 or not collections[0].get('Name'):
            raise ValueError(f'{metafile} must name one collection: the method it holds.')
        folders[metafile.parent.name] = collections[0]['Name']

    def rank(folder: str):
        method = folders[folder]
        return (TABLE_ORDER.index(method) if method in TABLE_ORDER else len(TABLE_ORDER), method)

    return {folder: folders[folder] for folder in sorted(folders, key=rank)}


def model_config_file(folder: str, configs_dir: Optional[Path] = None) -> Path:
    """``configs/_base_/models/<folder>.py``: the method's model (its prompt learner and loss)."""
    return Path(configs_dir or CONFIGS_DIR) / '_base_' / 'models' / f'{folder}.py'


def base2novel_config_file(folder: str,
                           dataset: str = 'imagenet',
                           configs_dir: Optional[Path] = None) -> Path:
    """The method's base-to-novel config of ``dataset`` (its reference recipe)."""
    return Path(configs_dir or CONFIGS_DIR) / folder / f'base2novel_{dataset}.py'


def model_index(configs_dir: Optional[Path] = None) -> dict:
    """The model index of the zoo: each metafile's collection, its models that have a config
    (a published average has none) and the method's demo, in table order.

    Config paths are relative to the checkout, as in the metafiles.
    """
    configs_dir = Path(configs_dir or CONFIGS_DIR)
    index = dict(Collections=[], Models=[])
    for folder, method in method_folders(configs_dir).items():
        meta = yaml.safe_load((configs_dir / folder / 'metafile.yml').read_text(encoding='utf-8'))
        index['Collections'] += meta['Collections']
        index['Models'] += [model for model in meta.get('Models') or [] if model.get('Config')]
        if (configs_dir / folder / DEMO_CONFIG).is_file():
            index['Models'].append({
                'Name': f'{folder}_vit-b32-random_base2novel_fashion_mnist',
                'In Collection': method,
                'Metadata': {
                    'Training Data':
                    'Fashion-MNIST, the 5 base classes (offline demo, random '
                    'ViT-B/32 CLIP)'
                },
                'Config': f'{configs_dir.name}/{folder}/{DEMO_CONFIG}',
            })
    return index


def model_index_text(configs_dir: Optional[Path] = None) -> str:
    """``model-index.yml`` as it is committed: a header, then :func:`model_index`."""
    header = ('# Generated from configs/*/metafile.yml by `make format` (`make lint` checks it is '
              'up to date):\n# every config of the zoo, for mmpretrain.list_models / get_model '
              'and mim. Do not edit.\n')
    return header + yaml.safe_dump(
        model_index(configs_dir), sort_keys=False, allow_unicode=True, width=100)


def register_model_index(path: Path = MODEL_INDEX) -> None:
    """Register the zoo's models with mmpretrain's ModelHub, as mmpretrain registers its own.

    Adds names only (``list_models('*maple*')``, ``get_model(name)``); a checkout without
    ``model-index.yml`` (an installed wheel has no configs) registers nothing, and a second
    call changes nothing.
    """
    if not Path(path).is_file():
        return
    from mmpretrain.apis.model import ModelHub
    loader = getattr(yaml, 'CSafeLoader', yaml.SafeLoader)  # libyaml's: ~10x faster
    names = [model['Name'] for model in yaml.load(Path(path).read_text(), Loader=loader)['Models']]
    if names and all(ModelHub.has(name.lower()) for name in names):
        return
    ModelHub.register_model_index(str(path), config_prefix=str(Path(path).parent))

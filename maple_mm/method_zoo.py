"""The methods maple_mm ships: the one list that tables, tools and tests read.

A method is a model type registered by :mod:`maple_mm.models.methods` (a
:class:`~maple_mm.models.PromptedCLIP` subclass) with a folder
``configs/<folder>/`` holding its configs, README.md and an mmpretrain
``metafile.yml`` whose collection is named after that model type (the
``method`` its runs record). Adding a method adds its folder; nothing lists
it elsewhere (docs/adding-a-method.md).
"""
from pathlib import Path
from typing import Dict, Optional

import yaml

#: The config zoo of a source checkout.
CONFIGS_DIR = Path(__file__).resolve().parent.parent / 'configs'


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

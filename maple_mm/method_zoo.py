"""The methods maple_mm ships: the one list that tables, tools and tests read.

A method is a model type registered by :mod:`maple_mm.models.methods` (a
:class:`~maple_mm.models.PromptedCLIP` subclass) with a folder
``configs/<folder>/`` holding its configs, README.md and an mmpretrain
``metafile.yml`` whose collection is named after that model type (the
``method`` its runs record). Adding a method adds its folder; nothing lists
it elsewhere (docs/adding-a-method.md).

Test-time methods (TPT, PromptAlign) have config folders too, whose collection
lists ``Test-time adaptation`` among its ``Training Techniques``: they tune a
trained method's prompts on each test image and train nothing themselves, so
they are not among :func:`method_folders` (whose every folder holds the
training protocols) but are listed by :func:`test_time_folders`.
"""
from pathlib import Path
from typing import Dict, Optional

import yaml

#: The config zoo of a source checkout.
CONFIGS_DIR = Path(__file__).resolve().parent.parent / 'configs'

#: What a test-time method's collection lists among its ``Training Techniques``.
TEST_TIME = 'Test-time adaptation'


def _collections(configs_dir: Optional[Path] = None) -> Dict[str, dict]:
    """``{config folder: its metafile's one collection}``."""
    found = {}
    for metafile in sorted(Path(configs_dir or CONFIGS_DIR).glob('*/metafile.yml')):
        collections = (yaml.safe_load(metafile.read_text(encoding='utf-8'))
                       or {}).get('Collections') or []
        if len(collections) != 1 or not collections[0].get('Name'):
            raise ValueError(f'{metafile} must name one collection: the method it holds.')
        found[metafile.parent.name] = collections[0]
    return found


def _is_test_time(collection: dict) -> bool:
    return TEST_TIME in ((collection.get('Metadata') or {}).get('Training Techniques') or [])


def test_time_folders(configs_dir: Optional[Path] = None) -> Dict[str, str]:
    """``{config folder: test-time method}``: ``{'promptalign': 'PromptAlign', 'tpt': 'TPT'}``."""
    return {
        folder: c['Name']
        for folder, c in _collections(configs_dir).items() if _is_test_time(c)
    }


def method_folders(configs_dir: Optional[Path] = None) -> Dict[str, str]:
    """``{config folder: method}`` for every folder of a (trained) method, in table order.

    Table order: the order of :data:`maple_mm.evaluation.published.METHODS`
    (the papers' tables), then methods without published numbers by name.
    Test-time methods' folders are left out (:func:`test_time_folders`).
    """
    from maple_mm.evaluation.published import METHODS as TABLE_ORDER

    folders = {
        folder: c['Name']
        for folder, c in _collections(configs_dir).items() if not _is_test_time(c)
    }

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

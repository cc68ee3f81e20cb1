"""The methods maple_mm ships: the one list that tables, tools and tests read.

A method is a model type registered by :mod:`maple_mm.models.methods` (a
:class:`~maple_mm.models.PromptedCLIP` subclass) with a folder
``configs/<folder>/`` holding its configs, README.md and an mmpretrain
``metafile.yml`` whose collection is named after that model type (the
``method`` its runs record) and whose ``Code`` names its module. The metafile
is also the one source of the method's published numbers
(:mod:`maple_mm.evaluation.published` reads them). Adding a method adds its
folder; nothing lists it elsewhere (docs/adding-a-method.md).
"""
import functools
from pathlib import Path
from typing import Dict, List, Optional

import yaml

#: The config zoo of a source checkout.
CONFIGS_DIR = Path(__file__).resolve().parent.parent / 'configs'


@functools.lru_cache(maxsize=256)
def _parsed(path: str, mtime_ns: int, size: int) -> dict:
    """A metafile's content, parsed once per version of the file."""
    loader = getattr(yaml, 'CSafeLoader', yaml.SafeLoader)  # libyaml's, where installed
    return yaml.load(Path(path).read_text(encoding='utf-8'), Loader=loader) or {}


def metafiles(configs_dir: Optional[Path] = None) -> Dict[str, dict]:
    """``{config folder: its metafile.yml}`` for every folder with one, by folder name.

    Each metafile names exactly one collection: the method it holds. The
    parsed files are shared between calls: do not modify them.
    """
    found = {}
    for metafile in sorted(Path(configs_dir or CONFIGS_DIR).glob('*/metafile.yml')):
        stat = metafile.stat()
        meta = _parsed(str(metafile), stat.st_mtime_ns, stat.st_size)
        collections = meta.get('Collections') or []
        if len(collections) != 1 or not collections[0].get('Name'):
            raise ValueError(f'{metafile} must name one collection: the method it holds.')
        found[metafile.parent.name] = meta
    return found


def method_of(meta: dict) -> str:
    """The method (model type) a metafile holds."""
    return meta['Collections'][0]['Name']


def method_folders(configs_dir: Optional[Path] = None) -> Dict[str, str]:
    """``{config folder: method}`` for every folder with a metafile.yml, in table order.

    Table order (:func:`table_order`): the papers' order, methods without a
    paper or published numbers after them by name.
    """
    folders = {folder: method_of(meta) for folder, meta in metafiles(configs_dir).items()}
    order = table_order(configs_dir)
    return {
        folder: folders[folder]
        for folder in sorted(folders, key=lambda f: (order.index(folders[f]), f))
    }


def table_order(configs_dir: Optional[Path] = None) -> List[str]:
    """Every method in the order the tables show them.

    By the arXiv identifier of the method's paper (the metafile's
    ``Paper.URL``: publication order), and within one paper by its published
    base-to-novel HM, as papers order their ablations before the method they
    propose; methods without an arXiv paper last; then by name.
    """
    from maple_mm.evaluation.published import published_numbers
    metas = metafiles(configs_dir)
    averages = published_numbers(configs_dir).base2novel_average

    def key(folder: str):
        meta = metas[folder]
        method = method_of(meta)
        url = ((meta['Collections'][0].get('Paper') or {}).get('URL') or '')
        arxiv = url.rsplit('/abs/', 1)[-1] if '/abs/' in url else None
        hm = averages.get(method, (None, None, None))[2]
        return (arxiv is None, arxiv or '', hm is None, hm or 0.0, method)

    return [method_of(metas[folder]) for folder in sorted(metas, key=key)]


def model_config_file(folder: str, configs_dir: Optional[Path] = None) -> Path:
    """``configs/_base_/models/<folder>.py``: the method's model (its prompt learner and loss)."""
    return Path(configs_dir or CONFIGS_DIR) / '_base_' / 'models' / f'{folder}.py'


def base2novel_config_file(folder: str,
                           dataset: str = 'imagenet',
                           configs_dir: Optional[Path] = None) -> Path:
    """The method's base-to-novel config of ``dataset`` (its reference recipe)."""
    return Path(configs_dir or CONFIGS_DIR) / folder / f'base2novel_{dataset}.py'

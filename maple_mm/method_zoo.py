"""The methods maple_mm ships: the one list that tables, tools and tests read.

A method is a model type registered by :mod:`maple_mm.models.methods` (a
:class:`~maple_mm.models.PromptedCLIP` subclass) with a folder
``configs/<folder>/`` holding its configs, README.md and an mmpretrain
``metafile.yml`` whose collection is named after that model type (the
``method`` its runs record) and whose ``Code`` names its module. The metafile
is also the one source of the method's published numbers
(:mod:`maple_mm.evaluation.published` reads them). Adding a method adds its
folder; nothing lists it elsewhere (docs/adding-a-method.md).

The model index (``model-index.yml``, generated from the metafiles by
:func:`model_index_text`) names every config of the zoo for mmpretrain's
``list_models`` / ``get_model`` and for ``mim``; importing maple_mm registers it
(:func:`register_model_index`).

Test-time methods (TPT, PromptAlign) have config folders too, whose collection
lists ``Test-time adaptation`` among its ``Training Techniques``: they tune a
trained method's prompts on each test image and train nothing themselves, so
they are not among :func:`method_folders` (whose every folder holds the
training protocols) but are listed by :func:`test_time_folders`. Each of their
model entries names the method it tunes (``Metadata: Tuned Method``); their
runs and published numbers are rows such as ``CoOp+TPT``
(:func:`test_time_row`), shown beside the method they tune.
"""
import functools
from pathlib import Path
from typing import Dict, List, Optional

import yaml

#: The config zoo of a source checkout.
CONFIGS_DIR = Path(__file__).resolve().parent.parent / 'configs'
#: The model index of a source checkout, beside the configs (where mim reads it).
MODEL_INDEX = CONFIGS_DIR.parent / 'model-index.yml'
#: Every method's offline demo (a random CLIP on Fashion-MNIST), in the index too.
DEMO_CONFIG = 'demo_base2novel_fashion_mnist.py'


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


#: The ``Dataset`` of a metafile's base-to-novel average: its entry without a ``Config``.
AVERAGE_DATASET = 'Base-to-novel average (11 datasets)'


def average_metrics(meta: dict) -> Optional[dict]:
    """The published base-to-novel average of a metafile (Base, Novel, HM), None if none."""
    for model in meta.get('Models') or []:
        for result in (model.get('Results') or []) if not model.get('Config') else []:
            if result.get('Dataset') == AVERAGE_DATASET:
                return result.get('Metrics')
    return None


def method_of(meta: dict) -> str:
    """The method (model type) a metafile holds."""
    return meta['Collections'][0]['Name']


#: What a test-time method's collection lists among its ``Training Techniques``.
TEST_TIME = 'Test-time adaptation'
#: A test-time model entry's ``Metadata`` key naming the method whose prompts it tunes.
TUNED_METHOD = 'Tuned Method'


def is_test_time(meta: dict) -> bool:
    """Whether a metafile holds a test-time method (TPT, PromptAlign), not a trained one."""
    techniques = (meta['Collections'][0].get('Metadata') or {}).get('Training Techniques')
    return TEST_TIME in (techniques or [])


def method_folders(configs_dir: Optional[Path] = None) -> Dict[str, str]:
    """``{config folder: method}`` for every folder of a (trained) method, in table order.

    Table order (:func:`table_order`): the papers' order, methods without a
    paper or published numbers after them by name. Test-time methods' folders
    are left out (:func:`test_time_folders`).
    """
    folders = {
        folder: method_of(meta)
        for folder, meta in metafiles(configs_dir).items() if not is_test_time(meta)
    }
    order = table_order(configs_dir)
    return {
        folder: folders[folder]
        for folder in sorted(folders, key=lambda f: (order.index(folders[f]), f))
    }


def test_time_folders(configs_dir: Optional[Path] = None) -> Dict[str, str]:
    """``{config folder: test-time method}``, in publication order:
    ``{'tpt': 'TPT', 'promptalign': 'PromptAlign'}``."""
    metas = {f: m for f, m in metafiles(configs_dir).items() if is_test_time(m)}
    return {folder: method_of(metas[folder]) for folder in sorted(metas, key=_paper_key(metas))}


def tuned_methods(meta: dict) -> List[str]:
    """The methods a test-time metafile's models tune, in the order they are listed."""
    found = []
    for model in meta.get('Models') or []:
        tuned = (model.get('Metadata') or {}).get(TUNED_METHOD)
        if not tuned:
            raise ValueError(f'{model.get("Name")}: a test-time model entry names the method '
                             f'it tunes (Metadata: {TUNED_METHOD}).')
        if tuned not in found:
            found.append(tuned)
    return found


def test_time_row(tuned: str, test_time: str, configs_dir: Optional[Path] = None) -> str:
    """The row of ``test_time`` (e.g. TPT) tuning ``tuned`` (e.g. CoOp) in tables and records.

    ``<tuned>+<test-time method>`` (``CoOp+TPT``); a test-time method whose
    metafile tunes one method only is that method's successor and keeps its
    paper's name there (``PromptAlign``, on MaPLe).
    """
    for meta in metafiles(configs_dir).values():
        if is_test_time(meta) and method_of(meta) == test_time and \
                tuned_methods(meta) == [tuned]:
            return test_time
    return f'{tuned}+{test_time}'


def test_time_rows(configs_dir: Optional[Path] = None) -> Dict[str, str]:
    """``{row: tuned method}`` of every test-time method's metafile entries, in publication
    order (``{'ZeroShotCLIP+TPT': 'ZeroShotCLIP', ..., 'PromptAlign': 'MaPLe'}``)."""
    metas = metafiles(configs_dir)
    rows = {}
    for folder, test_time in test_time_folders(configs_dir).items():
        for tuned in tuned_methods(metas[folder]):
            rows[test_time_row(tuned, test_time, configs_dir)] = tuned
    return rows


def _paper_key(metas: Dict[str, dict]):
    """Sort key of folders: by the arXiv identifier of the method's paper (publication
    order), and within one paper by its published base-to-novel HM (papers order their
    ablations before the method they propose); methods without an arXiv paper last."""

    def key(folder: str):
        meta = metas[folder]
        url = ((meta['Collections'][0].get('Paper') or {}).get('URL') or '')
        arxiv = url.rsplit('/abs/', 1)[-1] if '/abs/' in url else None
        hm = (average_metrics(meta) or {}).get('HM')
        return (arxiv is None, arxiv or '', hm is None, hm or 0.0, method_of(meta))

    return key


def table_order(configs_dir: Optional[Path] = None) -> List[str]:
    """Every (trained) method in the order the tables show them.

    By the arXiv identifier of the method's paper (the metafile's
    ``Paper.URL``: publication order), and within one paper by its published
    base-to-novel HM, as papers order their ablations before the method they
    propose; methods without an arXiv paper last; then by name. Test-time
    methods are shown beside the method they tune (:func:`test_time_rows`).
    """
    metas = {f: m for f, m in metafiles(configs_dir).items() if not is_test_time(m)}
    return [method_of(metas[folder]) for folder in sorted(metas, key=_paper_key(metas))]


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
    (a published average has none) and the method's demo, in table order; then the
    test-time methods (whose metafiles list their demos).

    Config paths are relative to the checkout, as in the metafiles.
    """
    configs_dir = Path(configs_dir or CONFIGS_DIR)
    index = dict(Collections=[], Models=[])
    trained = method_folders(configs_dir)
    for folder, method in {**trained, **test_time_folders(configs_dir)}.items():
        meta = yaml.safe_load((configs_dir / folder / 'metafile.yml').read_text(encoding='utf-8'))
        index['Collections'] += meta['Collections']
        index['Models'] += [model for model in meta.get('Models') or [] if model.get('Config')]
        if folder in trained and (configs_dir / folder / DEMO_CONFIG).is_file():
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

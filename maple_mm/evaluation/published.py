"""Published results (top-1 accuracy in %, 16 shots, 3 seeds), read from the metafiles.

Each method's ``configs/<folder>/metafile.yml`` is the one source of its
published numbers: the ``Results`` of the model entry of each config, and the
base-to-novel average over the 11 datasets as an entry without a config
(mmpretrain reads the same files). Its README prints them and a test keeps it
equal. Keys are the method names runs record (each metafile's collection), the
dataset keys of the catalog (:mod:`maple_mm.datasets.catalog`), or the
test-set names of the cross-dataset / domain generalisation configs. A method
whose reference publishes no numbers has no entries: tables and figures list
it without them.

The CLIP of a number is the one its config's name says
(:mod:`maple_mm.config_names`): ViT-B/16 for the papers' tables
(``base2novel_<dataset>.py``, ``cross_dataset_imagenet.py``,
``domain_generalization_imagenet.py``), another CLIP for the reference's recipes on
it (``domain_generalization_rn50_imagenet.py``: the CoOp paper's Table 1 on RN50).
Numbers of one CLIP are never shown beside runs on another (:func:`per_set_rows`).

Test-time methods' metafiles (configs/tpt/, configs/promptalign/) hold rows
such as ``CoOp+TPT`` (:func:`maple_mm.method_zoo.test_time_row`: the method
each model entry tunes, its ``Metadata: Tuned Method``), placed right after
the method they tune (:data:`ROWS`); their config names put the tuned method
first (``coop_domain_generalization_imagenet.py``). An entry without a config
whose ``Metadata`` names a ``CLIP`` and a ``Protocol`` holds numbers published
for a recipe the zoo has no config for (TPT's RN50 table): a row of that CLIP's
per-set table with no config.
"""
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Tuple

from maple_mm.config_names import CONFIG_PROTOCOLS, DEFAULT_CLIP, ConfigName, config_name
from maple_mm.datasets.catalog import BENCHMARKS, display_name
from maple_mm.method_zoo import (AVERAGE_DATASET, TUNED_METHOD, is_test_time, metafiles, method_of,
                                 test_time_row)

Triple = Tuple[Optional[float], Optional[float], float]  # (Base, Novel, HM)

#: The CLIP of the base-to-novel tables and of the per-set tables of the default configs, as
#: runs record it (open_clip's name of OpenAI's ViT-B/16).
PUBLISHED_BACKBONE = DEFAULT_CLIP
#: The metafile's dataset name of the cross-dataset mean over the 10 targets.
TARGET_AVERAGE_DATASET = 'Mean of the 10 target datasets'
#: ... of domain generalisation's mean over the 4 ImageNet variants (the same key).
VARIANT_AVERAGE_DATASET = 'Mean of the 4 ImageNet variants'
#: ... of the mean over ImageNet and its 4 variants (TPT's RN50 table: "Avg").
ALL_SETS_AVERAGE_DATASET = 'Mean of ImageNet and its 4 variants'
_TARGET_AVERAGE = 'target_average'
#: The protocols reported per test set (their configs train on ImageNet).
PER_SET_PROTOCOLS = ('cross_dataset', 'domain_generalization')


class PublishedRow(NamedTuple):
    """The published numbers of one config of a protocol reported per test set."""

    method: str  # the model type runs record
    numbers: Dict[str, float]  # test set (or 'target_average') -> top-1 %
    #: 'configs/<folder>/<name>.py', the config that reproduces them ('' where the zoo has none)
    config: str
    #: What the config's name says besides protocol and dataset ('rn50', 'rn50_nctx4');
    #: '' for the method's default recipe.
    setting: str = ''

    @property
    def label(self) -> str:
        """'CoOp (paper)', 'CoOp (paper, rn50_nctx4)': as tables name the row."""
        return f'{self.method} (paper{", " + self.setting if self.setting else ""})'


class Published(NamedTuple):
    """Every method's published numbers."""

    #: Base-to-novel generalisation: method -> dataset key -> (Base, Novel, HM).
    base2novel: Dict[str, Dict[str, Triple]]
    #: The Average row over the 11 datasets: HM of the mean Base and mean Novel
    #: (Base and Novel None where only the HM is published).
    base2novel_average: Dict[str, Triple]
    #: protocol -> method -> test-set name -> top-1 of the default configs ('cross_dataset':
    #: the ImageNet source and the mean over the 10 targets; 'domain_generalization': the
    #: cross-dataset model on ImageNet and its variants).
    per_set: Dict[str, Dict[str, Dict[str, float]]]
    #: protocol -> CLIP (open_clip's name) -> the rows of every config on that CLIP.
    per_set_rows: Dict[str, Dict[str, List[PublishedRow]]]


def _dataset_key(name: str, where: str) -> str:
    keys = {display_name(key): key for key in BENCHMARKS}
    keys[TARGET_AVERAGE_DATASET] = keys[VARIANT_AVERAGE_DATASET] = _TARGET_AVERAGE
    keys[ALL_SETS_AVERAGE_DATASET] = 'average'
    if name not in keys:
        raise ValueError(f'{where}: unknown dataset {name!r}; use a name of the catalog '
                         f'({", ".join(keys)}).')
    return keys[name]


def _triple(metrics: dict, where: str) -> Triple:
    if set(metrics) - {'Base', 'Novel', 'HM'} or 'HM' not in metrics:
        raise ValueError(f'{where}: base-to-novel metrics are HM with optional Base and Novel, '
                         f'got {sorted(metrics)}.')
    return metrics.get('Base'), metrics.get('Novel'), metrics['HM']


def _recipe_name(stem: str, test_time: bool) -> ConfigName:
    """What a config's name says; a test-time config's name after the tuned method's prefix
    (``coop_domain_generalization_imagenet``)."""
    if test_time:
        for protocol in CONFIG_PROTOCOLS:
            at = stem.find(f'_{protocol}_')
            if at >= 0:
                return config_name(stem[at + 1:])
    return config_name(stem)


def published_numbers(configs_dir: Optional[Path] = None) -> Published:
    """Read every metafile's published numbers (see the module's docstring)."""
    numbers = Published({}, {}, {protocol: {}
                                 for protocol in PER_SET_PROTOCOLS},
                        {protocol: {}
                         for protocol in PER_SET_PROTOCOLS})
    for folder, meta in metafiles(configs_dir).items():
        test_time = is_test_time(meta)
        for model in meta.get('Models') or []:
            config = model.get('Config') or ''
            metadata = model.get('Metadata') or {}
            method = test_time_row(metadata.get(TUNED_METHOD), method_of(meta), configs_dir) \
                if test_time else method_of(meta)
            name = _recipe_name(Path(config).stem, test_time)
            if not config and metadata.get('Protocol') in PER_SET_PROTOCOLS:
                # numbers of a recipe without a config: its CLIP and protocol say where they go
                name = ConfigName(metadata['Protocol'], '', 'imagenet')
            clip = metadata.get('CLIP') if not config else name.clip
            where = f'configs/{folder}/metafile.yml ({model.get("Name")})'
            row = None
            for result in model.get('Results') or []:
                metrics, dataset = result['Metrics'], result['Dataset']
                if not config and name.protocol is None and dataset == AVERAGE_DATASET:
                    numbers.base2novel_average[method] = _triple(metrics, where)
                elif name.protocol == 'base2novel' and name.setting is None:
                    numbers.base2novel.setdefault(method, {})[name.dataset] = \
                        _triple(metrics, where)
                elif name.protocol in PER_SET_PROTOCOLS and name.dataset == 'imagenet' and clip:
                    if row is None:
                        row = PublishedRow(method, {}, config, name.setting or '')
                        numbers.per_set_rows[name.protocol].setdefault(clip, []).append(row)
                        if name.setting is None:
                            numbers.per_set[name.protocol][method] = row.numbers
                    row.numbers[_dataset_key(dataset, where)] = metrics['Top 1 Accuracy']
                else:
                    raise ValueError(f'{where}: published numbers of {config or "no config"} '
                                     f'for {dataset!r} are not read by maple_mm.')
    return numbers


_PUBLISHED = published_numbers()
#: Base-to-novel generalisation: method -> dataset key -> (Base, Novel, HM).
BASE2NOVEL: Dict[str, Dict[str, Triple]] = _PUBLISHED.base2novel
#: The Average row over the 11 datasets (Base and Novel None where only the HM is published).
BASE2NOVEL_AVERAGE: Dict[str, Triple] = _PUBLISHED.base2novel_average
#: Cross-dataset transfer (train ImageNet): method -> {ImageNet source, mean over the 10 targets}.
CROSS_DATASET: Dict[str, Dict[str, float]] = _PUBLISHED.per_set['cross_dataset']
#: Domain generalisation: the cross-dataset model on the ImageNet variants (ImageNet
#: itself is the same model's source accuracy).
DOMAIN_GENERALIZATION: Dict[str, Dict[str, float]] = _PUBLISHED.per_set['domain_generalization']
#: Published numbers of the protocols reported per test set (the default configs, ViT-B/16).
PER_SET: Dict[str, Dict[str, Dict[str, float]]] = _PUBLISHED.per_set
#: protocol -> CLIP -> published rows of every config on that CLIP (:func:`per_set_rows`).
PER_SET_ROWS: Dict[str, Dict[str, List[PublishedRow]]] = _PUBLISHED.per_set_rows


def _table_order() -> Tuple[Tuple[str, ...], Dict[str, str]]:
    from maple_mm.method_zoo import table_order, test_time_rows
    return tuple(table_order()), test_time_rows()


#: Every (trained) method in the order of the tables (:func:`maple_mm.method_zoo.table_order`),
#: and ``{row: the method it tunes}`` of the test-time methods (``CoOp+TPT``, PromptAlign).
METHODS, TEST_TIME_METHODS = _table_order()
#: Every row of the tables in order: each method, then the test-time rows tuning it.
ROWS: Tuple[str, ...] = tuple(
    row for method in METHODS
    for row in (method, *(r for r, tuned in TEST_TIME_METHODS.items() if tuned == method)))
for _table in (BASE2NOVEL, BASE2NOVEL_AVERAGE, *PER_SET.values()):  # in table order
    _rows = dict(_table)
    _table.clear()
    _table.update((row, _rows[row]) for row in ROWS if row in _rows)
    _table.update((row, values) for row, values in sorted(_rows.items()) if row not in ROWS)


def _row_rank(row: PublishedRow) -> tuple:
    """Table order, each method's default config first."""
    rank = ROWS.index(row.method) if row.method in ROWS else len(ROWS)
    return (rank, row.method, row.setting != '', row.setting)


for _by_clip in PER_SET_ROWS.values():
    for _clip_rows in _by_clip.values():
        _clip_rows.sort(key=_row_rank)


def per_set_rows(protocol: str, backbone: Optional[str]) -> List[PublishedRow]:
    """The published rows of ``protocol`` on the CLIP ``backbone`` (open_clip's name); a CLIP
    with no published numbers (a custom one) has none."""
    return list(PER_SET_ROWS.get(protocol, {}).get(backbone, []))

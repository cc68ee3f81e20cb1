"""Published results (ViT-B/16, 16 shots, 3 seeds; top-1 accuracy in %), read from the metafiles.

Each method's ``configs/<folder>/metafile.yml`` is the one source of its
published numbers: the ``Results`` of the model entry of each config, and the
base-to-novel average over the 11 datasets as an entry without a config
(mmpretrain reads the same files). Its README prints them and a test keeps it
equal. Keys are the method names runs record (each metafile's collection), the
dataset keys of the catalog (:mod:`maple_mm.datasets.catalog`), or the
test-set names of the cross-dataset / domain generalisation configs. A method
whose reference publishes no numbers has no entries: tables and figures list
it without them.

Test-time methods' metafiles (configs/tpt/, configs/promptalign/) hold rows
such as ``CoOp+TPT`` (:func:`maple_mm.method_zoo.test_time_row`: the method
each model entry tunes, its ``Metadata: Tuned Method``), placed right after
the method they tune (:data:`ROWS`). An entry without a config whose
``Metadata`` names a ``CLIP`` and a ``Protocol`` holds numbers published for
another CLIP than the zoo's ViT-B/16 (TPT's RN50 table), kept apart
(:data:`OTHER_CLIPS`) until configs for that CLIP exist.
"""
from pathlib import Path
from typing import Dict, NamedTuple, Optional, Tuple

from maple_mm.datasets.catalog import BENCHMARKS, display_name
from maple_mm.method_zoo import (AVERAGE_DATASET, TUNED_METHOD, is_test_time, metafiles, method_of,
                                 test_time_row)

Triple = Tuple[Optional[float], Optional[float], float]  # (Base, Novel, HM)

#: The metafile's dataset name of the cross-dataset mean over the 10 targets.
TARGET_AVERAGE_DATASET = 'Mean of the 10 target datasets'
#: ... of domain generalisation's mean over the 4 ImageNet variants (the same key).
VARIANT_AVERAGE_DATASET = 'Mean of the 4 ImageNet variants'
#: ... of the mean over ImageNet and its 4 variants (TPT's RN50 table: "Avg").
ALL_SETS_AVERAGE_DATASET = 'Mean of ImageNet and its 4 variants'
_TARGET_AVERAGE = 'target_average'
#: Per-set protocols: their config's name in a method folder.
_PER_SET_CONFIGS = {
    'cross_dataset': 'cross_dataset_imagenet',
    'domain_generalization': 'domain_generalization_imagenet'
}


class Published(NamedTuple):
    """Every method's published numbers."""

    #: Base-to-novel generalisation: method -> dataset key -> (Base, Novel, HM).
    base2novel: Dict[str, Dict[str, Triple]]
    #: The Average row over the 11 datasets: HM of the mean Base and mean Novel
    #: (Base and Novel None where only the HM is published).
    base2novel_average: Dict[str, Triple]
    #: protocol -> method -> test-set name -> top-1 ('cross_dataset': the ImageNet
    #: source and the mean over the 10 targets; 'domain_generalization': the
    #: cross-dataset model on ImageNet and its variants).
    per_set: Dict[str, Dict[str, Dict[str, float]]]
    #: CLIP -> protocol -> method -> test-set name -> top-1: numbers published for
    #: another CLIP than ViT-B/16, which the zoo has no configs for.
    other_clips: Dict[str, Dict[str, Dict[str, Dict[str, float]]]]


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


def _per_set_protocol(config: str, test_time: bool) -> Optional[str]:
    """The per-set protocol of a config name (a test-time config's ends with it)."""
    for protocol, name in _PER_SET_CONFIGS.items():
        if config == name or (test_time and config.endswith(f'_{name}')):
            return protocol
    return None


def published_numbers(configs_dir: Optional[Path] = None) -> Published:
    """Read every metafile's published numbers (see the module's docstring)."""
    numbers = Published({}, {}, {protocol: {} for protocol in _PER_SET_CONFIGS}, {})
    for folder, meta in metafiles(configs_dir).items():
        test_time = is_test_time(meta)
        for model in meta.get('Models') or []:
            config = Path(model.get('Config') or '').stem
            metadata = model.get('Metadata') or {}
            method = test_time_row(metadata.get(TUNED_METHOD), method_of(meta), configs_dir) \
                if test_time else method_of(meta)
            protocol = _per_set_protocol(config, test_time)
            for result in model.get('Results') or []:
                where = f'configs/{folder}/metafile.yml ({model.get("Name")})'
                metrics, dataset = result['Metrics'], result['Dataset']
                if not config and metadata.get('CLIP') and metadata.get('Protocol'):
                    table = numbers.other_clips.setdefault(metadata['CLIP'],
                                                           {}).setdefault(metadata['Protocol'], {})
                    table.setdefault(method, {})[_dataset_key(dataset, where)] = \
                        metrics['Top 1 Accuracy']
                elif not config and dataset == AVERAGE_DATASET:
                    numbers.base2novel_average[method] = _triple(metrics, where)
                elif config.startswith('base2novel_') and not test_time:
                    numbers.base2novel.setdefault(method, {})[config[len('base2novel_'):]] = \
                        _triple(metrics, where)
                elif protocol is not None:
                    numbers.per_set[protocol].setdefault(method, {})[_dataset_key(
                        dataset, where)] = metrics['Top 1 Accuracy']
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
#: Published numbers of the protocols reported per test set.
PER_SET: Dict[str, Dict[str, Dict[str, float]]] = _PUBLISHED.per_set
#: Numbers published for other CLIPs: CLIP -> protocol -> method -> test set -> top-1.
OTHER_CLIPS: Dict[str, Dict[str, Dict[str, Dict[str, float]]]] = _PUBLISHED.other_clips
#: TPT's README table (azshue/TPT): RN50 CLIP, domain generalisation, with ImageNet and the
#: mean over all five sets (``average``) as well as over the four variants
#: (``target_average``, "OOD Avg"). Kept for RN50 configs: the tables show ViT-B/16.
DOMAIN_GENERALIZATION_RN50: Dict[str, Dict[str, float]] = OTHER_CLIPS.get('RN50', {}).get(
    'domain_generalization', {})


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
for _table in (BASE2NOVEL, BASE2NOVEL_AVERAGE, *PER_SET.values(),
               *(t for protocols in OTHER_CLIPS.values()
                 for t in protocols.values())):  # in table order
    _rows = dict(_table)
    _table.clear()
    _table.update((row, _rows[row]) for row in ROWS if row in _rows)
    _table.update((row, values) for row, values in sorted(_rows.items()) if row not in ROWS)

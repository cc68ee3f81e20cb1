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
"""
from pathlib import Path
from typing import Dict, NamedTuple, Optional, Tuple

from maple_mm.datasets.catalog import BENCHMARKS, display_name
from maple_mm.method_zoo import AVERAGE_DATASET, metafiles, method_of

Triple = Tuple[Optional[float], Optional[float], float]  # (Base, Novel, HM)

#: The metafile's dataset name of the cross-dataset mean over the 10 targets.
TARGET_AVERAGE_DATASET = 'Mean of the 10 target datasets'
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


def _dataset_key(name: str, where: str) -> str:
    keys = {display_name(key): key for key in BENCHMARKS}
    keys[TARGET_AVERAGE_DATASET] = _TARGET_AVERAGE
    if name not in keys:
        raise ValueError(f'{where}: unknown dataset {name!r}; use a name of the catalog '
                         f'({", ".join(keys)}).')
    return keys[name]


def _triple(metrics: dict, where: str) -> Triple:
    if set(metrics) - {'Base', 'Novel', 'HM'} or 'HM' not in metrics:
        raise ValueError(f'{where}: base-to-novel metrics are HM with optional Base and Novel, '
                         f'got {sorted(metrics)}.')
    return metrics.get('Base'), metrics.get('Novel'), metrics['HM']


def published_numbers(configs_dir: Optional[Path] = None) -> Published:
    """Read every metafile's published numbers (see the module's docstring)."""
    numbers = Published({}, {}, {protocol: {} for protocol in _PER_SET_CONFIGS})
    for folder, meta in metafiles(configs_dir).items():
        method = method_of(meta)
        for model in meta.get('Models') or []:
            config = Path(model.get('Config') or '').stem
            for result in model.get('Results') or []:
                where = f'configs/{folder}/metafile.yml ({model.get("Name")})'
                metrics, dataset = result['Metrics'], result['Dataset']
                if not config and dataset == AVERAGE_DATASET:
                    numbers.base2novel_average[method] = _triple(metrics, where)
                elif config.startswith('base2novel_'):
                    numbers.base2novel.setdefault(method, {})[config[len('base2novel_'):]] = \
                        _triple(metrics, where)
                elif config in _PER_SET_CONFIGS.values():
                    protocol = next(p for p, c in _PER_SET_CONFIGS.items() if c == config)
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


def _table_order() -> Tuple[str, ...]:
    from maple_mm.method_zoo import table_order
    return tuple(table_order())


#: Every method in the order of the tables (:func:`maple_mm.method_zoo.table_order`).
METHODS: Tuple[str, ...] = _table_order()
for _table in (BASE2NOVEL, BASE2NOVEL_AVERAGE, *PER_SET.values()):  # in table order
    _rows = dict(_table)
    _table.clear()
    _table.update((method, _rows[method]) for method in METHODS if method in _rows)

"""The datasets of a run's config: every dataset config, the options their types take, and
the checks that fail before any CLIP is built (a dataset without a type, a missing folder,
a protocol option a dataset type does not have)."""
import inspect
from typing import List, Optional

from mmpretrain.registry import DATASETS

from maple_mm.errors import ConfigError


def dataset_configs(train_dataloader=None,
                    val_dataloader=None,
                    test_dataloader=None,
                    test_cfg=None) -> List[dict]:
    """Every dataset config of a run: the three loaders and the extra test sets."""
    found = []
    for loader in (train_dataloader, val_dataloader, test_dataloader):
        if isinstance(loader, dict) and isinstance(loader.get('dataset'), dict):
            found.append(loader['dataset'])
    main_test = found[-1] if isinstance(test_dataloader, dict) and found else {}
    for fields in ((test_cfg or {}).get('extra_sets') or {}).values():
        found.append(dict(fields) if 'type' in fields else {**main_test, **fields})
    return found


def check_dataset_types(train_dataloader=None, val_dataloader=None, test_dataloader=None) -> None:
    """One clear error, naming the config key, for a loader's dataset without ``type``."""
    loaders = dict(
        train_dataloader=train_dataloader,
        val_dataloader=val_dataloader,
        test_dataloader=test_dataloader)
    for key, loader in loaders.items():
        dataset = loader.get('dataset') if isinstance(loader, dict) else None
        if isinstance(dataset, dict) and not dataset.get('type'):
            raise ConfigError(
                f'{key}.dataset has no type: name its dataset class, e.g. '
                f"{key}.dataset.type='SplitFileDataset' (or a CoOp benchmark dataset such as "
                "'CoOpDTD', or an mmpretrain dataset such as 'CustomDataset').")


#: Protocol options of the CoOp datasets, and the value that asks nothing of a dataset.
PROTOCOL_OPTIONS = {'subsample': 'all', 'num_shots': -1, 'seed': None}


def dataset_takes(dataset_type, option: str) -> bool:
    """Whether a registered dataset type (name or class) has the constructor argument."""
    dataset_cls = DATASETS.get(dataset_type) if isinstance(dataset_type, str) else dataset_type
    return dataset_cls is not None and \
        option in inspect.signature(dataset_cls.__init__).parameters


def fit_protocol_options(dataset_cfg: dict, main_type: Optional[str] = None) -> None:
    """Drop protocol options a dataset type does not take, if they ask nothing of it.

    The protocol configs set ``subsample``, ``num_shots`` and ``seed`` on their
    datasets; other mmpretrain datasets (CIFAR10, CustomDataset, ...) have no
    such options. A neutral value (all classes, all items, any seed) is
    removed; asking such a dataset for base/novel classes or a few-shot draw
    is a clear error.
    """
    dataset_type = dataset_cfg.get('type', main_type)
    dataset_cls = DATASETS.get(dataset_type) if isinstance(dataset_type, str) else dataset_type
    if dataset_cls is None:
        return
    for key, neutral in PROTOCOL_OPTIONS.items():
        if key not in dataset_cfg or dataset_takes(dataset_cls, key):
            continue
        value = dataset_cfg.pop(key)
        if key != 'seed' and value not in (neutral, None):
            what = ('split its classes into base and novel'
                    if key == 'subsample' else 'draw few-shot subsets')
            raise ConfigError(
                f'{dataset_cls.__name__} cannot {what} (it has no {key!r} option), but the '
                f'config asks for {key}={value!r}. Use a CoOp benchmark dataset or '
                f'SplitFileDataset for this protocol, or set {key}={neutral!r}.')


def check_dataset_sources(configs: List[dict]) -> None:
    """Fail now, before any CLIP is built or downloaded, if a dataset folder is missing."""
    for cfg in configs:
        if not cfg.get('type'):
            continue  # check_dataset_types reports it
        dataset_cls = DATASETS.get(cfg['type'])
        if dataset_cls is None or not hasattr(dataset_cls, 'check_source'):
            continue
        dataset = DATASETS.build({
            k: v
            for k, v in cfg.items() if k != 'pipeline'
        }
                                 | dict(lazy_init=True))
        dataset.check_source()

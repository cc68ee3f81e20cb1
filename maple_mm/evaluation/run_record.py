"""What a run is, as the results tables read it: method, protocol, dataset, shots, seed, and
the experiment (its config, and what the run changed in it)."""
import json
import os.path as osp
from typing import Dict, Optional

from mmengine.config import Config
from mmengine.dist import get_world_size

from maple_mm.datasets.catalog import dataset_key_of_type
from maple_mm.run_layout import method_folder

#: The config entries that define an experiment, besides its dataset, shots and seed.
EXPERIMENT_KEYS = ('model', 'optim_wrapper', 'param_scheduler', 'train_cfg', 'custom_hooks',
                   'precision', 'auto_scale_lr', 'model_wrapper_cfg')
#: Of the train loader: what shapes the training (its dataset's folder, shots and seed do not).
TRAIN_LOADER_KEYS = ('batch_size', 'sampler', 'batch_sampler', 'collate_fn')
#: Set by the runner from ``precision``: they follow the device, not the experiment.
DEVICE_DEPENDENT = ('optim_wrapper.type', 'optim_wrapper.precision', 'optim_wrapper.loss_scale')
EPOCH_KEYS = ('train_cfg.max_epochs', 'param_scheduler.T_max', 'max_epochs')
#: Longest value written out in a variant name.
MAX_VALUE_CHARS = 40


def _dataset_key(dataset_cfg: dict) -> Optional[str]:
    """The catalog key of a dataset config, else the name of its folder."""
    key = dataset_key_of_type(dataset_cfg.get('type', ''))
    if key is None and dataset_cfg.get('data_root'):
        key = osp.basename(osp.normpath(dataset_cfg['data_root']))
    return key


def _flatten(value, prefix: str, out: Dict[str, str]) -> None:
    if isinstance(value, dict):
        for key in sorted(value, key=str):
            _flatten(value[key], f'{prefix}.{key}' if prefix else str(key), out)
    elif isinstance(value, (list, tuple)) and any(isinstance(v, dict) for v in value):
        for i, item in enumerate(value):
            _flatten(item, f'{prefix}.{i}', out)
    else:
        out[prefix] = json.dumps(value, default=repr, sort_keys=True)


def experiment_settings(cfg) -> Dict[str, str]:
    """``{'model.prompt_learner.depth': '9', ...}``: what defines the experiment of ``cfg``.

    The model, optimisation, schedule, hooks, precision and the train loader's
    batch and transforms; not the dataset, its shots and seed (fields of the
    record), the work dir or the device. Values that ``values_by_shots`` gives
    the run's shots (``--shots K``: CoOp's epochs, ProGrad's lambda) are the
    config's own.
    """
    parts = {key: cfg.get(key) for key in EXPERIMENT_KEYS if cfg.get(key) is not None}
    train = cfg.get('train_dataloader') or {}
    loader = {k: v for k, v in train.items() if k in TRAIN_LOADER_KEYS}
    if (train.get('dataset') or {}).get('pipeline') is not None:
        loader['pipeline'] = train['dataset']['pipeline']
    if loader:
        parts['train_dataloader'] = loader
    if 'max_epochs' in cfg:
        parts['max_epochs'] = cfg.max_epochs
    precision = parts.pop('precision', None)  # one value or a table: one setting
    flat: Dict[str, str] = {}
    _flatten(parts, '', flat)
    if precision is not None:
        flat['precision'] = json.dumps(precision, sort_keys=True)
    for key in DEVICE_DEPENDENT:
        flat.pop(key, None)
    shots = (train.get('dataset') or {}).get('num_shots')
    for key, by_shots in (cfg.get('values_by_shots') or {}).items():
        keys = EPOCH_KEYS if key == 'max_epochs' else (key, )
        if shots in by_shots and flat.get(keys[0]) == json.dumps(by_shots[shots], sort_keys=True):
            for name in keys:
                flat.pop(name, None)
    return flat


def _short(value: str) -> str:
    """A setting's JSON text as written in a name: strings bare, long values cut."""
    if value.startswith('"'):
        value = json.loads(value)
    return value if len(value) <= MAX_VALUE_CHARS else value[:MAX_VALUE_CHARS - 3] + '...'


def config_name(filename: Optional[str], dataset: Optional[str]) -> Optional[str]:
    """``<method folder>/<config name>`` without the dataset: the same for every dataset
    of one recipe (``maple/base2novel_dtd.py`` -> ``maple/base2novel``)."""
    if not filename:
        return None
    stem = osp.splitext(osp.basename(filename))[0]
    if dataset and f'_{dataset}' in stem:
        stem = stem.replace(f'_{dataset}', '', 1)
    folder = method_folder(filename)
    return f'{folder}/{stem}' if folder else stem


def changed_settings(cfg) -> Dict[str, str]:
    """The settings the run changed in its config file (``--cfg-options``, ``--precision``,
    ``--auto-scale-lr``, ...), or {} if the file cannot be read again."""
    filename = getattr(cfg, 'filename', None)
    if not filename or not osp.isfile(filename):
        return {}
    try:
        original = Config.fromfile(filename, import_custom_modules=False)
    except Exception:  # noqa: BLE001  the file changed since: name the run by it alone
        return {}
    ran, written = experiment_settings(cfg), experiment_settings(original)
    return {
        key: ran.get(key, 'null')
        for key in sorted(set(ran) | set(written)) if ran.get(key) != written.get(key)
    }


def _source_dataset(cfg) -> dict:
    """The dataset trained on, else the one tested."""
    train = ((cfg.get('train_dataloader') or {}).get('dataset') or {})
    return train or ((cfg.get('test_dataloader') or {}).get('dataset') or {})


def variant_name(cfg) -> Optional[str]:
    """A readable name of the experiment: the config, and what the run changed in it.

    E.g. ``maple/base2novel`` or
    ``maple/base2novel [model.prompt_learner.depth=3, auto_scale_lr.enable=true]``. A
    config may name itself with a top-level ``variant``; MapleRunner writes the name
    there, so the config a run saves in its work dir keeps it when tested again.
    """
    source = _source_dataset(cfg)
    name = cfg.get('variant') or config_name(
        getattr(cfg, 'filename', None),
        _dataset_key(source) if source else None)
    changes = changed_settings(cfg)
    if not changes:
        return name
    listed = ', '.join(f'{key}={_short(value)}' for key, value in changes.items())
    return f'{name or "config"} [{listed}]'


def method_of(cfg) -> Optional[str]:
    """The method of a config: its model's type (of the model a test-time wrapper such as
    mmpretrain's ``--tta`` holds)."""
    model = cfg.get('model') or {}
    return (model.get('module') or model).get('type')


def run_record(cfg, weights: Optional[dict] = None) -> dict:
    """The record a test writes beside its metrics.

    ``method`` is the model's type (of the model a test-time wrapper such as
    mmpretrain's ``--tta`` holds), ``protocol`` the config's top-level ``protocol``
    (set by the protocol's base config); the dataset is the one trained on
    (or tested, for a test-only config); shots and seed are those of its
    few-shot draw and of the run; ``variant`` names the experiment (the
    config's ``variant``, which MapleRunner sets from :func:`variant_name`), so
    two configs of one method are two runs; ``processes`` is the number of
    processes that tested.

    ``weights`` says what is tested (:func:`maple_mm.provenance.weights_record`):
    the checkpoint ``file`` (None for weights trained in the same run) and what
    wrote it. A checkpoint that says which run wrote it is filed under that
    run: its method, dataset, shots, seed, config and variant replace the
    config's (the config tests it; another method's checkpoint is tested only
    with ``allow_other_method``, which the record keeps, as it keeps that of the
    run that trained the weights). ``checkpoint`` names
    the file and its writer; ``trained`` keeps the class names and data
    fingerprint the weights were trained on; ``tested`` gets each test set's
    data fingerprint as the set is tested.
    """
    cfg = cfg or {}
    source = _source_dataset(cfg)
    filename = getattr(cfg, 'filename', None)
    record = dict(
        method=method_of(cfg),
        protocol=cfg.get('protocol'),
        dataset=_dataset_key(source) if source else None,
        shots=source.get('num_shots'),
        seed=(cfg.get('randomness') or {}).get('seed'),
        config=osp.splitext(osp.basename(filename))[0] if filename else None,
        variant=cfg.get('variant') or (variant_name(cfg) if isinstance(cfg, Config) else None),
        processes=get_world_size(),
        allow_other_method=bool(cfg.get('allow_other_method')),
    )
    written = (weights or {}).get('written_by') or {}
    if written.get('method'):
        record['method'] = written['method']
    run = written.get('run') or {}
    record.update(
        {key: run[key]
         for key in ('dataset', 'shots', 'seed', 'config', 'variant') if key in run})
    # Another method's weights were loaded: by this test, or by the run that trained them.
    record['allow_other_method'] = record['allow_other_method'] or bool(
        run.get('allow_other_method'))
    file = (weights or {}).get('file')
    record['checkpoint'] = dict(
        file=file,
        method=written.get('method'),
        clip=written.get('clip'),
        converted_from=written.get('converted_from'),
        loaded_into=method_of(cfg)) if file else None
    record['trained'] = dict(
        classes=written.get('classes'), data=written.get('data')) if written else None
    record['tested'] = {}
    return record

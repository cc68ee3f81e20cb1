"""A run's config from a config file and the tools' options (--seed, --shots, --work-dir).

Every entry point gets the same options:

- maple_mm's tools: ``--seed S``, ``--shots K`` (:func:`load_run_config`);
- Python: ``load_run_config('configs/coop/few_shot_dtd.py', seed=1, shots=4)``, or set
  ``cfg.shots = K`` on a config and build its runner;
- mmpretrain's own tools and ``Runner.from_cfg``: ``--cfg-options shots=K`` (a top-level
  ``shots`` entry, which :class:`MapleRunner` applies when it is built).
"""
import os
import warnings
from typing import Optional

from mmengine.config import Config

from maple_mm.errors import ConfigError, MapleUserError, ProtocolWarning
from maple_mm.run_layout import default_work_dir
from .run_datasets import dataset_takes


def set_dataset_option(cfg: Config, option: str, value, complete_sets: bool = True) -> int:
    """Set ``option`` on the datasets of the run that have it; return how many loaders'.

    The train / val / test datasets get it if their type takes it; the test
    loop's extra sets if they set the option themselves, or (``complete_sets``)
    if they are a complete dataset of such a type. Other sets inherit the main
    test set's value.
    """
    changed = 0
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset = (cfg.get(key) or {}).get('dataset')
        if dataset is not None and dataset_takes(dataset.get('type', ''), option):
            dataset[option] = value
            changed += 1
    for fields in ((cfg.get('test_cfg') or {}).get('extra_sets') or {}).values():
        if option in fields or (complete_sets and 'type' in fields
                                and dataset_takes(fields['type'], option)):
            fields[option] = value
    return changed


def apply_seed(cfg: Config, seed: int) -> None:
    """Set ``randomness.seed``, and the few-shot ``seed`` of every dataset that has one.

    Datasets without a few-shot draw (mmpretrain's own) are left alone.
    """
    cfg.setdefault('randomness', {})
    cfg.randomness.seed = seed
    set_dataset_option(cfg, 'seed', seed)


#: The ``values_by_shots`` key of the training length: ``train_cfg.max_epochs``, the
#: config's ``max_epochs`` and the ``T_max`` of its lr schedule.
EPOCHS_KEY = 'max_epochs'


def values_by_shots(cfg) -> dict:
    """The config's shot-dependent values: ``{config key: {K: value}}`` (may be empty).

    A config states a value that depends on the shots K once, e.g. CoOp's epochs
    and ProGrad's lambda::

        values_by_shots = {'max_epochs': {1: 50, 2: 100, 4: 100, 8: 200, 16: 200},
                           'model.lambda_': {1: 1.0, 2: 1.0, 4: 1.0, 8: 0.8, 16: 0.8}}

    ``max_epochs`` sets the training length (``train_cfg.max_epochs``,
    ``max_epochs`` and the lr schedule's ``T_max``); any other key is a dotted
    config key, as ``--cfg-options`` names it. The config's own values are
    those of its own K; ``--shots K`` applies the others (:func:`apply_shots`).
    """
    if cfg.get('epochs_by_shots') is not None:
        raise ConfigError("epochs_by_shots is now written values_by_shots = "
                          "{'max_epochs': {K: epochs, ...}}; rename it in the config.")
    table = cfg.get('values_by_shots') or {}
    for key, by_shots in table.items():
        if not isinstance(by_shots, dict) or not by_shots:
            raise ConfigError(f'values_by_shots[{key!r}] must map shots K to a value, '
                              f'e.g. {{1: 50, 16: 200}}; got {by_shots!r}.')
    return table


def shot_value(cfg, key: str):
    """The config's current value of a ``values_by_shots`` key (None where unset)."""
    if key == EPOCHS_KEY:
        return (cfg.get('train_cfg') or {}).get('max_epochs')
    node = cfg
    for part in key.split('.'):
        try:
            node = node[int(part) if isinstance(node, list) else part]
        except (KeyError, IndexError, TypeError, ValueError):
            return None
    return node


def _config_shots(cfg) -> Optional[int]:
    """K of the config before --shots: that of its first loader's dataset that has one."""
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        shots = ((cfg.get(key) or {}).get('dataset') or {}).get('num_shots')
        if isinstance(shots, int):
            return shots
    return None


def set_shot_value(cfg, key: str, value) -> None:
    """Set one shot-dependent value (``max_epochs``: every place the length is set)."""
    if key != EPOCHS_KEY:
        cfg.merge_from_dict({key: value})
        return
    cfg.train_cfg.max_epochs = value
    if 'max_epochs' in cfg:
        cfg.max_epochs = value
    schedulers = cfg.get('param_scheduler') or []
    for scheduler in schedulers if isinstance(schedulers, list) else [schedulers]:
        if 'T_max' in scheduler:
            scheduler.T_max = value


def apply_shots(cfg: Config, shots: int) -> None:
    """Set K shots per class, and the values the config gives K.

    ``num_shots`` of the train / val / test datasets whose type takes it, and
    of the test loop's extra sets that name it (other test sets keep all their
    items). Each entry of the config's ``values_by_shots`` (:func:`values_by_shots`:
    CoOp's epochs, ProGrad's lambda) takes its value for K, unless the config no
    longer holds the table's value for its own K (a user's ``--cfg-options``
    changed it: theirs is kept); a table without K is an error. ``cfg.shots``
    records K; applying the same K again changes nothing.
    """
    if not isinstance(shots, int) or isinstance(shots, bool) or shots < 1:
        raise ConfigError(f'--shots must be at least 1, got {shots}.')
    warn_off_protocol_shots(cfg, shots)
    table = values_by_shots(cfg)
    own_shots = _config_shots(cfg)
    if not set_dataset_option(cfg, 'num_shots', shots, complete_sets=False):
        raise ConfigError('--shots: no dataset of this config draws few-shot subsets '
                          '(none takes num_shots).')
    cfg.shots = shots
    for key, by_shots in table.items():
        if shots not in by_shots:
            raise ConfigError(f"--shots {shots}: the config's values_by_shots gives {key} for "
                              f'{sorted(by_shots)} shots only; add {shots} to it.')
        if own_shots in by_shots and shot_value(cfg, key) != by_shots[own_shots]:
            continue  # set by the user (--cfg-options): theirs
        set_shot_value(cfg, key, by_shots[shots])


def warn_off_protocol_shots(cfg: Config, shots: int) -> None:
    """A protocol that fixes the shots (base-to-novel, cross-dataset: 16) run with another K
    warns (:class:`ProtocolWarning`); the few-shot protocol is defined over K."""
    protocol = cfg.get('protocol')
    trained = ((cfg.get('train_dataloader') or {}).get('dataset') or {}).get('num_shots')
    if protocol in (None, 'few_shot') or not isinstance(trained, int) or trained < 1 \
            or trained == shots:
        return
    warnings.warn(
        f'--shots {shots}: the {protocol} protocol trains {trained} shots per class, as its '
        f'published numbers do; this run trains {shots}, and its results are filed as '
        f'{shots}-shot runs, not comparable with the {trained}-shot ones.', ProtocolWarning)


def load_run_config(config: str,
                    cfg_options: Optional[dict] = None,
                    seed: Optional[int] = None,
                    shots: Optional[int] = None,
                    work_dir: Optional[str] = None) -> Config:
    """The config of one run, as maple_mm's tools build it.

    ``cfg_options`` are merged first, then ``seed`` and ``shots`` win over
    them (except a value of ``values_by_shots`` that ``cfg_options`` set: it
    stays). Without ``work_dir`` (and without one in the config) the run goes to
    ``work_dirs/<method>/<config>[_<K>shots][/seed<S>]``.
    """
    if not os.path.isfile(config):
        raise MapleUserError(f'Config {config} does not exist; the configs are in '
                             'configs/<method>/.')
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if seed is not None:
        apply_seed(cfg, seed)
    if shots is None and cfg.get('shots') is not None:
        shots = cfg.shots  # --cfg-options shots=K
    if shots is not None:
        apply_shots(cfg, shots)
    if work_dir:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = default_work_dir(config, seed, shots)
    return cfg

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


def apply_shots(cfg: Config, shots: int) -> None:
    """Set K shots per class, and the epochs the config gives K.

    ``num_shots`` of the train / val / test datasets whose type takes it, and
    of the test loop's extra sets that name it (other test sets keep all their
    items). With an ``epochs_by_shots`` entry (``{K: epochs}``, e.g. CoOp's),
    ``train_cfg.max_epochs``, ``max_epochs`` and the ``T_max`` of the lr
    schedule become its epochs for K. ``cfg.shots`` records K; applying the
    same K again changes nothing.
    """
    if not isinstance(shots, int) or isinstance(shots, bool) or shots < 1:
        raise ConfigError(f'--shots must be at least 1, got {shots}.')
    warn_off_protocol_shots(cfg, shots)
    if not set_dataset_option(cfg, 'num_shots', shots, complete_sets=False):
        raise ConfigError('--shots: no dataset of this config draws few-shot subsets '
                          '(none takes num_shots).')
    cfg.shots = shots
    table = cfg.get('epochs_by_shots')
    if not table:
        return
    if shots not in table:
        raise ConfigError(f'--shots {shots}: the config\'s epochs_by_shots gives epochs for '
                          f'{sorted(table)} shots only; add {shots} to it.')
    epochs = table[shots]
    cfg.train_cfg.max_epochs = epochs
    if 'max_epochs' in cfg:
        cfg.max_epochs = epochs
    schedulers = cfg.get('param_scheduler') or []
    for scheduler in schedulers if isinstance(schedulers, list) else [schedulers]:
        if 'T_max' in scheduler:
            scheduler.T_max = epochs


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
    them. Without ``work_dir`` (and without one in the config) the run goes to
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

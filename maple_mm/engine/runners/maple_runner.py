"""mmengine's Runner with the safety and compatibility maple_mm's runs need.

Selected by ``runner_type = 'MapleRunner'`` (set in ``configs/_base_/default_runtime.py``),
so mmpretrain's own tools get it too. Everything here applies to this runner
only; other runners and models in the process are untouched.
"""
import contextlib
import copy
import inspect
import logging
import os
from typing import Iterator, List, Optional
from unittest import mock

import torch
from mmengine.dist import broadcast_object_list, get_rank, is_distributed
from mmengine.logging import print_log
from mmengine.runner import Runner
from mmpretrain.registry import DATASETS, RUNNERS

from maple_mm.errors import ConfigError, ResumeError, WorkDirError
from maple_mm.run_layout import checkpoint_files, latest_complete_checkpoint

from .checkpoint_loader import check_checkpoint_file, clear_load_errors, weights_only_loading
from .work_dir_lock import WorkDirLock


def _accelerator_available() -> bool:
    from mmengine.device import get_device
    return get_device() != 'cpu'


def dataset_configs(train_dataloader=None, val_dataloader=None, test_dataloader=None,
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
            what = ('split its classes into base and novel' if key == 'subsample'
                    else 'draw few-shot subsets')
            raise ConfigError(
                f'{dataset_cls.__name__} cannot {what} (it has no {key!r} option), but the '
                f'config asks for {key}={value!r}. Use a CoOp benchmark dataset or '
                f'SplitFileDataset for this protocol, or set {key}={neutral!r}.')


def check_dataset_sources(configs: List[dict]) -> None:
    """Fail now, before any CLIP is built or downloaded, if a dataset folder is missing."""
    for cfg in configs:
        dataset_cls = DATASETS.get(cfg.get('type', ''))
        if dataset_cls is None or not hasattr(dataset_cls, 'check_source'):
            continue
        dataset = DATASETS.build({k: v for k, v in cfg.items() if k != 'pipeline'}
                                 | dict(lazy_init=True))
        dataset.check_source()


def check_writable(work_dir: str) -> None:
    """One clear error if the work dir cannot be created or written."""
    try:
        os.makedirs(work_dir, exist_ok=True)
        probe = os.path.join(work_dir, f'.write_test_{os.getpid()}')
        with open(probe, 'w') as f:
            f.write('ok')
        os.remove(probe)
    except OSError as err:
        raise WorkDirError(f'Cannot write into the work dir {work_dir}: '
                           f'{err.strerror or err}. Choose another --work-dir.') from None


def check_no_overwrite(work_dir: str, resume) -> None:
    """Never overwrite a previous run silently: training into a work dir that holds
    checkpoints needs ``resume``. (:meth:`MapleRunner.train` checks it; the tools
    call it before the CLIP is built.)"""
    existing = checkpoint_files(work_dir)
    if existing and not resume:
        raise WorkDirError(
            f'{work_dir} already holds checkpoints of a run ({existing[-1].name}, ...). '
            'Pass --resume to continue it, or --work-dir to train into a new folder.')


@RUNNERS.register_module()
class MapleRunner(Runner):
    """A Runner whose runs cannot silently lose or overwrite work.

    - Inputs are checked before heavy work: the work dir is writable and every
      dataset folder exists before the CLIP is built (or downloaded). Protocol
      options (``subsample``, ``num_shots``, ``seed``) are dropped from datasets
      without them when they ask nothing, and are an error when they do.
    - Checkpoints load weights-only (:mod:`.checkpoint_loader`): mmengine's own
      runtime objects are accepted, pickled code never runs, and a damaged,
      empty or foreign file gets one clear error.
    - ``resume=True`` without ``load_from`` continues from the newest
      *complete* checkpoint of the work dir (the ``last_checkpoint`` pointer
      may be missing, empty or stale); a work dir holding only incomplete
      checkpoints is an error, not a silent restart.
    - :meth:`train` never overwrites a previous run: a work dir holding
      checkpoints trains only with ``resume``; and it holds a lock on the work
      dir, so a second training into the same folder stops at once.
    - A top-level ``shots = K`` entry (``--cfg-options shots=K`` with
      mmpretrain's tools) sets K shots per class and the epochs the config
      gives K, as maple_mm's ``--shots K`` (:mod:`.run_config`).
    - ``before_run`` hooks run once per runner: a test right after training
      tests what the training produced (mmengine's EMAHook would otherwise
      rebuild its average from the raw weights when ``test()`` starts, and the
      test would measure the non-averaged weights).
    - Without an accelerator, distributed runs use gloo on CPU processes: no
      ``torch.cuda.set_device`` while the process group starts, and DDP gets
      ``device_ids=None``. Nothing changes on GPU machines.
    """

    @classmethod
    def from_cfg(cls, cfg) -> 'MapleRunner':
        if cfg.get('shots') is not None:
            from .run_config import apply_shots
            cfg = copy.deepcopy(cfg)
            apply_shots(cfg, cfg.shots)
        return super().from_cfg(cfg)

    def __init__(self, *args, **kwargs) -> None:
        check_writable(os.path.abspath(kwargs['work_dir']))
        main_test_type = ((kwargs.get('test_dataloader') or {}).get('dataset') or {}).get('type')
        for cfg in dataset_configs(kwargs.get('train_dataloader'), kwargs.get('val_dataloader'),
                                   kwargs.get('test_dataloader')):
            fit_protocol_options(cfg)
        for fields in ((kwargs.get('test_cfg') or {}).get('extra_sets') or {}).values():
            fit_protocol_options(fields, main_test_type)
        check_dataset_sources(dataset_configs(
            kwargs.get('train_dataloader'), kwargs.get('val_dataloader'),
            kwargs.get('test_dataloader'), kwargs.get('test_cfg')))
        if kwargs.get('launcher', 'none') != 'none' and not _accelerator_available():
            env_cfg = dict(kwargs.get('env_cfg') or {})
            env_cfg['dist_cfg'] = dict(env_cfg.get('dist_cfg') or {}, backend='gloo')
            kwargs['env_cfg'] = env_cfg
            print_log('No CUDA device: distributed processes use the gloo backend instead of '
                      'nccl.', logger='current', level=logging.WARNING)
        super().__init__(*args, **kwargs)

    def call_hook(self, fn_name: str, **kwargs) -> None:
        if fn_name == 'before_run':
            if getattr(self, '_run_started', False):
                return
            self._run_started = True
        super().call_hook(fn_name, **kwargs)

    # -- distributed processes on CPUs -------------------------------------------
    def setup_env(self, env_cfg: dict) -> None:
        if self._distributed and not is_distributed() and not _accelerator_available():
            # mmengine's launchers select a CUDA device for every process.
            with mock.patch.object(torch.cuda, 'set_device', lambda device: None):
                return super().setup_env(env_cfg)
        return super().setup_env(env_cfg)

    def wrap_model(self, model_wrapper_cfg: Optional[dict], model):
        on_cpu = all(p.device.type == 'cpu' for p in model.parameters())
        if self.distributed and on_cpu:
            model_wrapper_cfg = dict(
                model_wrapper_cfg or dict(
                    type='MMDistributedDataParallel', broadcast_buffers=False,
                    find_unused_parameters=self.cfg.get('find_unused_parameters', False)),
                device_ids=None)  # what DDP requires for CPU modules
        return super().wrap_model(model_wrapper_cfg, model)

    # -- checkpoints ---------------------------------------------------------------
    def load_checkpoint(self, filename: str, *args, **kwargs) -> dict:
        if not filename.startswith(('http://', 'https://', 'open-mmlab://', 'torchvision://')):
            check_checkpoint_file(filename)
        with clear_load_errors(filename), weights_only_loading():
            return super().load_checkpoint(filename, *args, **kwargs)

    def load_or_resume(self) -> None:
        if self._resume and self._load_from is None and not self._has_loaded:
            self._load_from = self._checkpoint_to_resume()
            if self._load_from is None:
                self._resume = False
        super().load_or_resume()

    def _checkpoint_to_resume(self) -> Optional[str]:
        """The newest complete checkpoint of the work dir; None to start afresh."""
        latest, incomplete = latest_complete_checkpoint(self.work_dir)
        names = ', '.join(p.name for p in incomplete)
        if latest is None and incomplete:
            raise ResumeError(
                f'Nothing to resume in {self.work_dir}: its only checkpoints ({names}) are '
                'incomplete (a save was interrupted). Delete them to start again, or '
                'train into another --work-dir.')
        if incomplete:
            self.logger.warning(f'Ignoring incomplete checkpoints ({names}); resuming from '
                                f'{latest.name}.')
        if latest is None:
            self.logger.info(f'No checkpoint in {self.work_dir} to resume from: starting '
                             'a new run.')
            return None
        self.logger.info(f'Resuming from {latest}, the newest complete checkpoint.')
        return str(latest)

    # -- one training per work dir ---------------------------------------------------
    @contextlib.contextmanager
    def _work_dir_lock(self) -> Iterator[None]:
        """Rank 0 takes the lock; every rank learns whether it succeeded."""
        lock, error = WorkDirLock(self.work_dir), [None]
        if get_rank() == 0:
            try:
                lock.acquire()
            except WorkDirError as err:
                error = [err]
        if self.distributed:
            broadcast_object_list(error)
        if error[0] is not None:
            raise error[0]
        try:
            yield
        finally:
            lock.release()

    def train(self):
        check_no_overwrite(self.work_dir, self._resume)
        with self._work_dir_lock():
            return super().train()

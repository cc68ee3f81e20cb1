"""mmengine's Runner with the safety and compatibility maple_mm's runs need.

Selected by ``runner_type = 'MapleRunner'`` (set in ``configs/_base_/default_runtime.py``),
so mmpretrain's own tools get it too. Everything here applies to this runner
only; other runners and models in the process are untouched.
"""
import contextlib
import copy
import functools
import logging
import os
import shutil
from typing import Dict, Iterator, List, Optional, Sequence, Union

from mmengine.dist import broadcast_object_list, get_rank, is_distributed
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.runner import Runner
from mmpretrain.registry import HOOKS, RUNNERS
from torch.utils.data import DataLoader

from maple_mm.atomic_files import remove_stale_temporaries
from maple_mm.errors import ConfigError, ResumeError, WorkDirError
from maple_mm.evaluation.run_record import variant_name
from maple_mm.provenance import WRITTEN_BY, expecting_writer, training_writer, weights_record
from maple_mm.run_layout import checkpoint_files, latest_complete_checkpoint
from ..optimizers.mixed_precision_optim_wrapper import apply_run_precision
from ..optimizers.precision import current_device_type, describe_precision
from .checkpoint_loader import safe_checkpoint_loading
from .config_options import check_known_options
from .cpu_process_group import init_cpu_process_group
from .run_config import apply_shots
from .run_datasets import (check_dataset_sources, check_dataset_types, dataset_configs,
                           fit_protocol_options)
from .work_dir_lock import WorkDirLock


def _accelerator_available() -> bool:
    from mmengine.device import get_device
    return get_device() != 'cpu'


def with_config_vis_backends(visualizer, cfg):
    """The visualizer config, with the config's top-level ``vis_backends`` if it names none.

    A config on maple_mm's runtime adds a backend (e.g. TensorBoard) by setting
    ``vis_backends`` alone; ``visualizer.vis_backends``, when set, wins.
    """
    backends = cfg.get('vis_backends') if cfg is not None else None
    if isinstance(visualizer, dict) and 'vis_backends' not in visualizer and backends:
        return dict(visualizer, vis_backends=backends)
    return visualizer


def empty_loader_message(loader: DataLoader) -> str:
    """Why a data loader runs 0 iterations per epoch, and the fix."""
    dataset = loader.dataset
    name = type(dataset).__name__
    split = getattr(dataset, 'split', None)
    what = f'{name} ({split} split)' if split else name
    sampler = getattr(loader.batch_sampler, 'sampler', None)
    share = '' if sampler is None or len(sampler) == len(dataset) else \
        f', {len(sampler)} of them for this process'
    return (f'An epoch would run 0 iterations: {what} holds {len(dataset)} items{share}, '
            f'batch size {loader.batch_size}. Check the dataset folder, split, subsample '
            'and --shots, or lower the batch size.')


#: The log folder names this process claimed. mmengine names a run's logger, message hub
#: and visualizer after its config and log folder, and hands an existing instance of that
#: name to a later run: a name is never claimed twice in a process, whatever the work dir
#: and even after its folder was removed.
_CLAIMED_NAMES: set = set()


def claim_log_dir(work_dir: str, timestamp: str) -> str:
    """Create ``work_dir/<timestamp>`` for this run alone; return its name.

    ``os.mkdir`` fails if the folder exists, so two runs started in the same
    second (or any later run) never share a log folder: the second gets
    ``<timestamp>_2``, and so on.
    """
    name, number = timestamp, 1
    while True:
        try:
            if name in _CLAIMED_NAMES:
                raise FileExistsError(name)
            os.mkdir(os.path.join(work_dir, name))
            _CLAIMED_NAMES.add(name)
            return name
        except FileExistsError:
            number += 1
            name = f'{timestamp}_{number}'


#: What a run wrote that makes its log folder worth keeping after a failure.
MEASURED = ('test_metrics.json', os.path.join('vis_data', 'scalars.json'))


def remove_unmeasured_log_folder(log_dir: Optional[str],
                                 error: BaseException,
                                 created_work_dir: Optional[str] = None) -> None:
    """After a failed run: remove its log folder if the run measured nothing (no logged
    scalar, no test result), else end its log with the line the run stopped with.

    ``created_work_dir`` (a work dir the run created) goes too if it holds
    nothing but the config the run dumped into it.
    """
    if log_dir and os.path.isdir(log_dir):
        if any(os.path.exists(os.path.join(log_dir, name)) for name in MEASURED):
            log = os.path.join(log_dir, f'{os.path.basename(log_dir)}.log')
            what = 'interrupted' if isinstance(error, KeyboardInterrupt) else \
                f'{type(error).__name__}: {(str(error).splitlines() or [""])[0]}'
            with contextlib.suppress(OSError), open(log, 'a', encoding='utf-8') as f:
                f.write(f'The run stopped here: {what}\n')
            return
        shutil.rmtree(log_dir, ignore_errors=True)
    if created_work_dir and os.path.isdir(created_work_dir):
        with contextlib.suppress(OSError):  # anything else there (another run's) stays
            for name in os.listdir(created_work_dir):
                if name.endswith('.py'):  # the config this run dumped
                    os.remove(os.path.join(created_work_dir, name))
            os.rmdir(created_work_dir)


def leaves_nothing_unmeasured(method):
    """Decorate a runner method: when it fails (an error, Ctrl-C), the run's log folder goes
    if the run measured nothing, and the work dir too if the run created it
    (:func:`remove_unmeasured_log_folder`)."""

    @functools.wraps(method)
    def run(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except BaseException as err:
            if get_rank() == 0:
                remove_unmeasured_log_folder(
                    getattr(self, '_claimed_log_dir', None), err,
                    getattr(self, '_created_work_dir', None))
            raise

    return run


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


#: The hooks every maple_mm run needs, added by :class:`MapleRunner` when the config's
#: hooks lack them (a user's ``custom_hooks`` replaces the runtime's list).
REQUIRED_HOOKS = (
    'ClassNamesHook',  # prompts follow each dataset's class names
    'EpochSeedHook',  # resumed runs repeat uninterrupted ones
    'WeightsOnlyCheckpointHook',  # checkpoints load weights-only
    'DivergenceHook',  # NaN / Inf stops the run before anything is saved
)


def _hook_class(hook: Union[Hook, dict, None]) -> Optional[type]:
    if isinstance(hook, Hook):
        return type(hook)
    hook_type = hook.get('type') if isinstance(hook, dict) else None
    return HOOKS.get(hook_type) if isinstance(hook_type, str) else hook_type


def missing_required_hooks(default_hooks: Optional[Dict[str, Union[Hook, dict]]],
                           custom_hooks: Optional[Sequence[Union[Hook, dict]]]) -> List[str]:
    """The :data:`REQUIRED_HOOKS` that neither hook list holds (a subclass counts)."""
    present = [_hook_class(h) for h in [*(default_hooks or {}).values(), *(custom_hooks or [])]]
    present = [cls for cls in present if isinstance(cls, type)]
    return [
        name for name in REQUIRED_HOOKS
        if not any(issubclass(cls, HOOKS.get(name)) for cls in present)
    ]


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

    - Inputs are checked before heavy work: the work dir is writable and the
      folders of the test and validation sets exist before the CLIP is built (or
      downloaded); the training set's when training starts (``tools/train.py``
      checks it first), so testing never needs the training data. Protocol
      options (``subsample``, ``num_shots``, ``seed``) are dropped from datasets
      without them when they ask nothing, and are an error when they do; any other key
      a class of the config does not take is an error naming it (:mod:`.config_options`).
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
    - The hooks maple_mm needs (:data:`REQUIRED_HOOKS`: class names from each
      dataset, per-epoch seeds, weights-only checkpoints, divergence checks)
      are registered when neither ``default_hooks`` nor ``custom_hooks``
      holds them, so a config's own ``custom_hooks`` (e.g. adding
      ``EMAHook``) keeps them; one the config lists (with its own options) is
      used as it is, never twice.
    - ``before_run`` hooks run once per runner: a test right after training
      tests what the training produced (mmengine's EMAHook would otherwise
      rebuild its average from the raw weights when ``test()`` starts, and the
      test would measure the non-averaged weights).
    - The config's ``precision`` (a table by device type, or one forced value)
      picks the optimizer wrapper: on CUDA the recipes train and test in fp16
      mixed precision, VPT and CPUs in fp32 (:func:`apply_run_precision`).
    - A training set smaller than the batch trains one partial batch per epoch
      (Dassl's rule); a loader of 0 iterations is an error (:meth:`build_dataloader`).
    - The visualizer gets the config's ``vis_backends`` unless it names its own,
      so ``vis_backends = [..., dict(type='TensorboardVisBackend')]`` adds TensorBoard.
    - Temporary files that killed writes left in the work dir (older than a
      minute) are removed when a run starts.
    - Every run (each start of a tool) gets a log folder of its own, created
      atomically: ``<timestamp>``, or ``<timestamp>_2``, ... when it exists. A run
      that fails before it measured anything removes it again (and the work dir
      it created); one that holds results is kept, its log ending with why the
      run stopped.
    - Checkpoints say what wrote them (``meta.written_by``: method, CLIP, run,
      class names, data fingerprint; :mod:`maple_mm.provenance`); loading one
      of another method or CLIP architecture stops unless the config sets
      ``allow_other_method``. A test records the run of the checkpoint it tests
      and compares its data with the training data (:attr:`tested_weights`).
    - Resuming with another number of processes is allowed, with one warning
      saying what changes.
    - Without an accelerator, distributed runs use gloo on CPU processes: the
      process group starts without selecting a CUDA device
      (:func:`~.cpu_process_group.init_cpu_process_group`), and DDP gets
      ``device_ids=None``. Nothing changes on GPU machines.
    """

    @leaves_nothing_unmeasured
    def __init__(self, *args, **kwargs) -> None:
        work_dir = os.path.abspath(kwargs['work_dir'])
        self._created_work_dir = None if os.path.isdir(work_dir) else work_dir
        #: What a test of this runner tests: the checkpoint loaded, or the weights it
        #: trained (maple_mm.provenance.weights_record); None before either.
        self.tested_weights: Optional[dict] = None
        check_writable(work_dir)
        for pattern in ('.*.tmp', '*/.*.tmp'):  # killed writes (pointer, test metrics)
            remove_stale_temporaries(work_dir, pattern)
        check_dataset_types(
            kwargs.get('train_dataloader'), kwargs.get('val_dataloader'),
            kwargs.get('test_dataloader'))
        main_test_type = ((kwargs.get('test_dataloader') or {}).get('dataset') or {}).get('type')
        for cfg in dataset_configs(
                kwargs.get('train_dataloader'), kwargs.get('val_dataloader'),
                kwargs.get('test_dataloader')):
            fit_protocol_options(cfg)
        for fields in ((kwargs.get('test_cfg') or {}).get('extra_sets') or {}).values():
            fit_protocol_options(fields, main_test_type)
        # A key its class does not take: one error before anything is built.
        check_known_options({k: v for k, v in kwargs.items() if k != 'cfg'})
        # Test and validation sets now; the training set when training starts (tools/train.py
        # checks it before the runner is built), so testing needs only the sets it reads.
        check_dataset_sources(
            dataset_configs(None, kwargs.get('val_dataloader'), kwargs.get('test_dataloader'),
                            kwargs.get('test_cfg')))
        self._train_set_configs = dataset_configs(kwargs.get('train_dataloader'))
        kwargs['visualizer'] = with_config_vis_backends(kwargs.get('visualizer'), kwargs.get('cfg'))
        if kwargs.get('launcher', 'none') != 'none' and not _accelerator_available():
            env_cfg = dict(kwargs.get('env_cfg') or {})
            env_cfg['dist_cfg'] = dict(env_cfg.get('dist_cfg') or {}, backend='gloo')
            kwargs['env_cfg'] = env_cfg
            print_log(
                'No CUDA device: distributed processes use the gloo backend instead of '
                'nccl.',
                logger='current',
                level=logging.WARNING)
        super().__init__(*args, **kwargs)

    @classmethod
    def from_cfg(cls, cfg) -> 'MapleRunner':
        """The runner of ``cfg``, training and testing in the precision its device gets.

        ``cfg.variant`` becomes the name of the experiment (:func:`variant_name`), which
        every test records and the config saved in the work dir keeps.
        A top-level ``shots = K`` (``--cfg-options shots=K`` with mmpretrain's tools)
        sets K shots and the epochs the config gives K, as ``--shots K`` does.
        """
        cfg = copy.deepcopy(cfg)
        if cfg.get('shots') is not None:
            apply_shots(cfg, cfg.shots)
        cfg.variant = variant_name(cfg)  # before the device's precision changes the config
        precision = apply_run_precision(cfg)
        runner = super().from_cfg(cfg)
        if precision is not None:
            runner.logger.info(f'Precision on {current_device_type()}: '
                               f'{describe_precision(precision)} (docs/benchmarks.md#precision)')
        return runner

    def register_hooks(self,
                       default_hooks: Optional[Dict[str, Union[Hook, dict]]] = None,
                       custom_hooks: Optional[List[Union[Hook, dict]]] = None) -> None:
        missing = missing_required_hooks(default_hooks, custom_hooks)
        if missing:
            print_log(
                f'MapleRunner adds the hooks maple_mm needs that the config does not '
                f'list: {", ".join(missing)}.',
                logger='current',
                level=logging.DEBUG)
        super().register_hooks(default_hooks,
                               [*(custom_hooks or []), *(dict(type=name) for name in missing)])

    def call_hook(self, fn_name: str, **kwargs) -> None:
        if fn_name == 'before_run':
            if getattr(self, '_run_started', False):
                return
            self._run_started = True
        super().call_hook(fn_name, **kwargs)

    # -- data loaders ----------------------------------------------------------------
    @staticmethod
    def build_dataloader(dataloader,
                         seed: Optional[int] = None,
                         diff_rank_seed: bool = False) -> DataLoader:
        """mmengine's loader, with Dassl's rule for the last batch and no empty epochs.

        ``drop_last`` drops the last incomplete batch only when the process's share
        of the set holds at least one full batch (Dassl's ``build_data_loader``):
        a 10-image set at batch 32 trains one batch of 10 per epoch instead of
        nothing. A loader that would still run 0 iterations is an error.
        """
        loader = Runner.build_dataloader(dataloader, seed=seed, diff_rank_seed=diff_rank_seed)
        if len(loader) == 0 and loader.drop_last and isinstance(dataloader, dict) \
                and loader.batch_sampler is not None and len(loader.batch_sampler.sampler):
            # The built dataset goes along, so it is not read a second time.
            loader = Runner.build_dataloader(
                dict(dataloader, dataset=loader.dataset, drop_last=False),
                seed=seed,
                diff_rank_seed=diff_rank_seed)
        if len(loader) == 0:
            raise ConfigError(empty_loader_message(loader))
        return loader

    # -- distributed processes on CPUs, one log folder per run ----------------------
    def setup_env(self, env_cfg: dict) -> None:
        if self._distributed and not is_distributed() and not _accelerator_available():
            # mmengine's init_dist selects a CUDA device for every process; started here,
            # mmengine finds the group running and only reads rank and world size.
            init_cpu_process_group(self.launcher, env_cfg.get('dist_cfg'))
        super().setup_env(env_cfg)
        # mmengine names the log folder by the second the run started, and shares it.
        name = [claim_log_dir(self._work_dir, self._timestamp) if get_rank() == 0 else None]
        if is_distributed():
            broadcast_object_list(name)
        self._timestamp = name[0]
        self._claimed_log_dir = os.path.join(self._work_dir, name[0])

    def wrap_model(self, model_wrapper_cfg: Optional[dict], model):
        on_cpu = all(p.device.type == 'cpu' for p in model.parameters())
        if self.distributed and on_cpu:
            model_wrapper_cfg = dict(
                model_wrapper_cfg or dict(
                    type='MMDistributedDataParallel',
                    broadcast_buffers=False,
                    find_unused_parameters=self.cfg.get('find_unused_parameters', False)),
                device_ids=None)  # what DDP requires for CPU modules
        return super().wrap_model(model_wrapper_cfg, model)

    # -- checkpoints ---------------------------------------------------------------
    def load_checkpoint(self, filename: str, *args, **kwargs) -> dict:
        with safe_checkpoint_loading(), expecting_writer(self.cfg):
            checkpoint = super().load_checkpoint(filename, *args, **kwargs)
        if getattr(self, '_resuming', False):
            self._warn_other_world_size(checkpoint.get('meta') or {})
        self.tested_weights = weights_record(filename, (checkpoint.get('meta')
                                                        or {}).get(WRITTEN_BY))
        return checkpoint

    def resume(self, *args, **kwargs) -> None:
        self._resuming = True
        try:
            super().resume(*args, **kwargs)
        finally:
            self._resuming = False

    def save_checkpoint(self, *args, **kwargs) -> None:
        kwargs['meta'] = dict(
            kwargs.get('meta') or {},
            world_size=self.world_size,
            written_by=training_writer(self.cfg, self.train_dataloader.dataset))
        super().save_checkpoint(*args, **kwargs)

    def _warn_other_world_size(self, meta: dict) -> None:
        """One line when a run resumes on another number of processes."""
        saved = meta.get('world_size')
        if not isinstance(saved, int) or saved == self.world_size:
            return
        batch = getattr(getattr(self, 'train_dataloader', None), 'batch_size', None)
        if not isinstance(batch, int):
            return
        self.logger.warning(
            f'Resuming a run of {saved} processes with {self.world_size}: the total batch is '
            f'now {self.world_size * batch} (was {saved * batch}), so an epoch has '
            f'{saved / self.world_size:.3g}x the iterations it had; the learning rate and '
            f'its schedule continue as saved (set for a total batch of {saved * batch}).')

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

    @leaves_nothing_unmeasured
    def train(self):
        check_dataset_sources(self._train_set_configs)
        check_no_overwrite(self.work_dir, self._resume)
        with self._work_dir_lock():
            model = super().train()
        # A test after training tests these weights, trained on this run's data.
        self.tested_weights = weights_record(
            None, training_writer(self.cfg, self.train_dataloader.dataset))
        return model

    @leaves_nothing_unmeasured
    def test(self) -> dict:
        return super().test()

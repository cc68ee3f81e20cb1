"""Test-time prompt tuning (TPT, PromptAlign) as a test loop any config can switch on."""
import contextlib
import copy
from typing import Dict, List, Optional

import torch
from mmengine.model import is_model_wrapper
from mmpretrain.registry import LOOPS

from maple_mm.errors import ConfigError
from maple_mm.evaluation.run_record import run_record
from maple_mm.method_zoo import test_time_row
from maple_mm.models.classifier import predictions
from maple_mm.models.test_time.source_statistics import load_source_statistics
from maple_mm.models.test_time.tuner import LOSS_SCALE_INIT, Alignment, TestTimeTuner
from ..optimizers.mixed_precision_test_loop import model_device_type
from ..optimizers.precision import describe_precision, run_precision
from ..runner_view import ModelView, RunnerView, underlying
from .multi_set_test_loop import MultiSetTestLoop

#: What ``tuning`` (and each entry of ``set_tuning``) may hold.
TUNING_KEYS = ('params', 'lr', 'weight_decay', 'steps', 'selection', 'alignment', 'meta_net_input')
ALIGNMENT_KEYS = ('statistics', 'layers', 'weight')


def check_tuning(tuning: dict, where: str) -> None:
    """One clear error for a key the tuning settings do not have."""
    unknown = [k for k in tuning if k not in TUNING_KEYS]
    if unknown:
        raise ConfigError(f'{where} has no setting {unknown[0]!r}; it takes '
                          f'{", ".join(TUNING_KEYS)}.')
    alignment = tuning.get('alignment')
    if alignment is not None:
        unknown = [k for k in alignment if k not in ALIGNMENT_KEYS]
        if unknown:
            raise ConfigError(f'{where}.alignment takes {", ".join(ALIGNMENT_KEYS)}.')


class TestTimeStep(ModelView):
    """A model whose ``test_step`` tunes the prompts on each image before predicting it.

    Each data sample's input holds the original view and its augmented views
    (:class:`~maple_mm.datasets.TestTimeViews`); they are normalised by the
    model's data preprocessor, the :class:`TestTimeTuner` tunes on them and
    predicts the original view. Everything else is the model's.
    """

    def __init__(self, model, tuner: TestTimeTuner) -> None:
        super().__init__(model, contextlib.nullcontext)
        self.__dict__['_tuner'] = tuner

    def test_step(self, data: dict) -> list:
        model = self._model.module if is_model_wrapper(self._model) else self._model
        inputs, samples = data['inputs'], data.get('data_samples')
        samples = samples if samples is not None else [None] * len(inputs)
        outputs = []
        no_sync = getattr(self._model, 'no_sync', contextlib.nullcontext)  # DDP: no all-reduce
        for views, sample in zip(inputs, samples):
            if views.dim() != 4:
                raise ConfigError(
                    'TestTimeTuningLoop needs each test image as a stack of views: add '
                    "dict(type='TestTimeViews') to the test pipeline, before PackInputs "
                    '(configs/tpt/ and configs/promptalign/ show it).')
            views = model.data_preprocessor(dict(inputs=views), False)['inputs']
            with no_sync():
                logits = self._tuner(views)
            outputs += predictions(logits.float(), None if sample is None else [sample])
        return outputs


@LOOPS.register_module()
class TestTimeTuningLoop(MultiSetTestLoop):
    """:class:`MultiSetTestLoop` whose model tunes its prompts on every test image first.

    TPT (Shu et al., NeurIPS 2022) and, with ``alignment``, PromptAlign
    (Abdul Samadh et al., NeurIPS 2023): per image, the tuned tensors restart
    from the loaded prompts, the confident views of the image steer one AdamW
    step, and the original view is predicted (:class:`TestTimeTuner`). The test
    pipeline makes the views (``TestTimeViews``); test batches may hold several
    images, each tuned on its own. The config's ``precision`` sets the autocast
    (the references': fp16 on CUDA); under fp16 the loss scale persists across
    images and sets, as the reference's one ``GradScaler`` does. Everything
    else is :class:`MultiSetTestLoop`'s: sets, summary, metrics file, progress
    lines (one iteration per batch).

    The run is recorded as its own row, ``<tuned method>+TPT`` (``CoOp+TPT``;
    :func:`~maple_mm.method_zoo.test_time_row`), or PromptAlign with the
    alignment, never as a test of the checkpoint it starts from: its
    ``variant`` names the test-time config and the run that trained the
    prompts (``tpt/coop_domain_generalization on coop/cross_dataset``), and
    ``test_time`` in the record keeps the tuned method and run and the settings.

    Args:
        tuning: :class:`TestTimeTuner` settings: ``params``, ``lr``,
            ``weight_decay``, ``steps``, ``selection``, ``meta_net_input`` and
            ``alignment=dict(layers=(0, 1), weight=100 / 3, statistics=FILE)`` (the
            file ``tools/source_statistics.py`` writes; by default the config's
            ``source_statistics.file``).
        set_tuning: ``{set name: settings}`` overriding ``tuning`` on that set
            (PromptAlign's lr differs between the ImageNet family and the
            fine-grained sets).
        tuned_method: The method whose prompts the config builds, when they
            are tuned as built (TPT on zero-shot CLIP: CoOp's learner started
            from "a photo of a" is zero-shot CLIP's prompt): the run's row
            names it, and ``tools/test.py`` needs no checkpoint. A loaded
            checkpoint's method replaces it.
        **kwargs: :class:`MultiSetTestLoop` arguments.
    """

    def __init__(self,
                 runner,
                 dataloader,
                 evaluator,
                 tuning: Optional[dict] = None,
                 set_tuning: Optional[Dict[str, dict]] = None,
                 tuned_method: Optional[str] = None,
                 **kwargs) -> None:
        self.tuning = dict(tuning or {})
        self.tuned_method = tuned_method
        check_tuning(self.tuning, 'test_cfg.tuning')
        self.set_tuning = {k: dict(v) for k, v in (set_tuning or {}).items()}
        for name, settings in self.set_tuning.items():
            check_tuning(settings, f'test_cfg.set_tuning[{name!r}]')
        self._tuner: Optional[TestTimeTuner] = None
        super().__init__(runner, dataloader, evaluator, **kwargs)
        unknown = [name for name in self.set_tuning if name not in self.dataloaders]
        if unknown:
            raise ConfigError(f'test_cfg.set_tuning names {unknown}, which are not among the '
                              f'test sets {list(self.dataloaders)}.')
        self._statistics: Dict[str, tuple] = {}
        self._scaler: Optional[torch.amp.GradScaler] = None

    @property
    def method(self) -> str:
        """The test-time method the loop runs: PromptAlign with an alignment term, else TPT."""
        settings = [self.tuning, *self.set_tuning.values()]
        return 'PromptAlign' if any(s.get('alignment') is not None for s in settings) else 'TPT'

    def run_record(self, weights: Optional[dict]) -> dict:
        record = super().run_record(weights)
        own = run_record(self.runner.cfg)  # the test-time config's own config and variant
        loaded = ((weights or {}).get('written_by') or {}).get('method')
        tuned = loaded or self.tuned_method or record['method']
        tuned_variant = record['variant']
        record['test_time'] = dict(
            method=self.method,
            tuned=dict(method=tuned, config=record['config'], variant=tuned_variant),
            tuning=copy.deepcopy(self.tuning),
            set_tuning=copy.deepcopy(self.set_tuning))
        record['method'] = test_time_row(tuned, self.method)
        record['config'] = own['config']
        record['variant'] = own['variant'] if tuned_variant in (None, own['variant']) else \
            f'{own["variant"]} on {tuned_variant}'
        return record

    @property
    def runner(self):
        runner = super().runner
        if self._tuner is None:
            return runner
        model = underlying(runner.model)
        step = TestTimeStep(model, self._tuner)
        return RunnerView(runner, model=ModelView(step, self.test_precision_context))

    @property
    def test_precision(self):
        """The config's ``precision`` on this device (a test-time config trains nothing, so no
        optimizer carries it); else the training precision, as :class:`MultiSetTestLoop`."""
        runner = self.plain_runner
        setting = (runner.cfg or {}).get('precision')
        if self.fp16 or setting is None:
            return super().test_precision
        precision = run_precision(setting, model_device_type(runner.model))
        return None if precision == 'fp32' else precision

    def settings(self, set_name: str) -> dict:
        """The tuning settings of one set (``tuning`` updated by its ``set_tuning``)."""
        settings = copy.deepcopy(self.tuning)
        settings.update(copy.deepcopy(self.set_tuning.get(set_name, {})))
        return settings

    def run_set(self, set_name: str, dataloader, template) -> Dict[str, float]:
        try:
            return super().run_set(set_name, dataloader, template)
        finally:
            if self._tuner is not None:
                self._tuner.restore()
                self._tuner = None

    def run_iter(self, idx: int, data_batch) -> None:
        if self._tuner is None:
            # At the set's first batch, after before_test_epoch: the tuner starts from the
            # prompts as the hooks left them (e.g. EMAHook's averaged weights).
            self._tuner = self._build_tuner(self._set_name)
        super().run_iter(idx, data_batch)

    def _build_tuner(self, set_name: str) -> TestTimeTuner:
        model = underlying(self.plain_runner.model)
        model = model.module if is_model_wrapper(model) else model
        settings = self.settings(set_name)
        alignment = settings.pop('alignment', None)
        if alignment is not None:
            alignment = self._alignment(model, alignment)
        if self._scaler is None:  # one for the run, as the reference keeps one
            self._scaler = torch.amp.GradScaler(
                model_device_type(model),
                init_scale=LOSS_SCALE_INIT,
                enabled=self.test_precision == 'fp16')
        tuner = TestTimeTuner(model, alignment=alignment, scaler=self._scaler, **settings)
        self.plain_runner.logger.info(
            f'Test-time tuning on set {set_name!r}: {describe(tuner, self.test_precision)}')
        return tuner

    def _alignment(self, model, settings: dict) -> Alignment:
        settings = dict(settings)
        path = settings.pop('statistics', None) or \
            ((self.plain_runner.cfg or {}).get('source_statistics') or {}).get('file')
        if not path:
            raise ConfigError('The alignment needs source statistics: set '
                              'source_statistics.file (or tuning.alignment.statistics) to the '
                              'file tools/source_statistics.py writes.')
        if path not in self._statistics:
            self._statistics[path] = load_source_statistics(path, model)
        mean, var = self._statistics[path]
        return Alignment(mean, var, **settings)


def describe(tuner: TestTimeTuner, precision: Optional[str] = None) -> str:
    """One line: what is tuned, how, with which objective and in which precision."""
    if tuner.conditional:
        tuned = "each image's context"
    else:
        values = sum(p.numel() for p in tuner.params)
        tuned = f'{", ".join(_short_names(tuner.names))} ({values:,} values)'
    objective = 'marginal entropy' + (
        f' + {tuner.alignment.weight:.4g} x alignment of vision blocks '
        f'{list(tuner.alignment.layers)}' if tuner.alignment is not None else '')
    return (f'{tuned}, AdamW lr {tuner.lr:g} (weight decay {tuner.weight_decay:g}), '
            f'{tuner.steps} step(s) on the {tuner.selection:.0%} most confident views, '
            f'{objective}; {"fast" if tuner.model.efficient else "reference"} computation, '
            f'{describe_precision(precision or "fp32")}')


def _short_names(names: List[str]) -> List[str]:
    """Parameter names with list indices folded: ``deep_projs.*`` for ``deep_projs.0.weight``..."""
    short = []
    for name in names:
        head = name.split('.')[0]
        label = head + ('.*' if head != name else '')
        if label not in short:
            short.append(label)
    return short

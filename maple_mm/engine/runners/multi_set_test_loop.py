"""Evaluate one model on several named test sets in one run (e.g. base and novel)."""
import copy
import os.path as osp
from typing import Dict, Optional, Sequence

from mmengine.evaluator import Evaluator
from mmengine.runner import TestLoop
from mmpretrain.registry import LOOPS

from maple_mm.errors import InvalidTestSetsError, NonFiniteOutputError
from maple_mm.evaluation import harmonic_mean
from maple_mm.evaluation.run_metrics import TOP1, write_test_metrics
from maple_mm.evaluation.run_record import run_record
from maple_mm.provenance import check_tested_set
from maple_mm.run_layout import METRICS_FILE
from ..hooks.class_names_hook import check_model_classes
from ..optimizers.mixed_precision_test_loop import MixedPrecisionTestMixin
from ..runner_view import RunnerView, underlying


def extra_set_dataloader(main_cfg: dict, fields: dict) -> dict:
    """The dataloader config of an extra test set.

    ``fields`` with a ``type`` key is a complete dataset config that replaces
    the main test dataset (it takes the main dataset's test ``pipeline`` unless
    it has its own); otherwise its fields override those of the main dataset.
    Batch size, sampler and workers always come from the main loader.
    """
    cfg = copy.deepcopy(main_cfg)
    if 'type' in fields:
        pipeline = cfg['dataset'].get('pipeline')
        cfg['dataset'] = copy.deepcopy(dict(fields))
        if pipeline is not None:
            cfg['dataset'].setdefault('pipeline', pipeline)
    else:
        cfg['dataset'] = {**cfg['dataset'], **copy.deepcopy(dict(fields))}
    return cfg


class FiniteScores:
    """One test set's evaluator: refuses NaN or Inf scores, names metrics ``<set>/<metric>``.

    Such scores (broken weights) would be scored as wrong predictions, and
    reported as a finished test at 0% accuracy. The prefixed names are what
    ``after_test_epoch`` hooks (the log, the visualizer) receive for the set.
    """

    def __init__(self, evaluator: Evaluator, set_name: str) -> None:
        self.evaluator, self.set_name = evaluator, set_name

    def process(self, data_samples, data_batch=None) -> None:
        for sample in data_samples:
            score = sample.get('pred_score') if hasattr(sample, 'get') else None
            if score is not None and not bool(score.isfinite().all()):
                raise NonFiniteOutputError(
                    f'The model gives NaN or Inf scores on test set {self.set_name!r}: its '
                    'weights are broken, so nothing of this set is reported. Check the '
                    'checkpoint, or train again with a lower learning rate.')
        self.evaluator.process(data_samples, data_batch)

    def evaluate(self, size: int) -> Dict[str, float]:
        return {set_key(self.set_name, k): v for k, v in self.evaluator.evaluate(size).items()}

    def __getattr__(self, name: str):
        return getattr(self.evaluator, name)


def check_test_sets(name: str, extra_sets: dict, averages: Dict[str, Sequence[str]]) -> None:
    """Set names are unique and every average names existing sets."""
    names = [name, *extra_sets]
    if name in extra_sets:
        raise InvalidTestSetsError(f'Test set name {name!r} is used twice (main set and '
                                   'extra_sets); give every test set its own name.')
    for key, sets in averages.items():
        if not sets:
            raise InvalidTestSetsError(f'averages[{key!r}] lists no test sets.')
        missing = [s for s in sets if s not in names]
        if missing:
            raise InvalidTestSetsError(f'averages[{key!r}] lists {missing}, which are not '
                                       f'among the test sets {names}.')
        if key in names or '/' in key or key == 'HM':
            raise InvalidTestSetsError(f'averages key {key!r} must be a plain name other than '
                                       'HM and the test set names.')


@LOOPS.register_module()
class MultiSetTestLoop(MixedPrecisionTestMixin, TestLoop):
    """Test on the runner's test set and on extra sets, each with its own classes.

    Each set is one run of mmengine's own ``TestLoop.run`` (its iterations,
    hooks and test-loss averaging), so each set is a test epoch of its own:
    ``before_test_epoch`` (the class names of the set reach the model through
    ``ClassNamesHook``; EMAHook swaps in the averaged weights) and
    ``after_test_epoch`` with that set's metrics run once per set, while
    ``before_test`` and ``after_test`` run once around all sets. Losses a
    model's ``test_step`` returns (mmengine's convention: a last element
    holding only ``loss``) are averaged per set as mmengine does and reported
    as ``<set name>/<loss name>`` and ``<set name>/test_loss``. Every set is
    evaluated with a copy of the config's evaluators, so any metric list
    works (Accuracy, ConfusionMatrix, per-class SingleLabelMetric,
    DumpResults, ...); metrics are reported as
    ``<set name>/<metric>``, and a metric writing a file (``out_file_path``,
    e.g. ``--out``) writes one per set: ``<stem>_<set name><suffix>``. When
    sets named ``base`` and ``novel`` are present, ``HM`` (their harmonic mean
    of top-1 accuracy) is added; each entry of ``averages`` adds the mean top-1
    accuracy of its sets (e.g. ``target_average`` over the target datasets of
    cross-dataset transfer). ``test_metrics.json`` in the run's log folder is
    rewritten as each set finishes, so a later failure keeps the finished
    sets' results (``"complete": false`` until every set is done); it also
    holds the run's record (method, protocol, dataset, shots, seed), each
    set's class names and the non-scalar metrics (e.g. confusion matrices).
    NaN or Inf scores stop the test with an error (:class:`FiniteScores`), so
    broken weights are never reported as a complete result at 0%.

    Args:
        runner: The runner.
        dataloader: The main test set (config or DataLoader).
        evaluator: The evaluator config, copied for every set.
        name: Name of the main test set.
        extra_sets: ``{name: dataset config}``, each a further test set loaded
            like the main one. A config with a ``type`` is a complete dataset
            (e.g. another dataset for cross-dataset transfer); one without
            changes fields of the main dataset, e.g. ``dict(novel=dict(subsample='novel'))``.
        averages: ``{metric name: [set names]}``: mean top-1 accuracies to add.
        fp16: Whether to test under mmengine's autocast. Without it, a model
            trained with ``MixedPrecisionOptimWrapper`` is tested in its
            training precision (``MixedPrecisionTestMixin``).
    """

    #: True while one set runs through mmengine's ``TestLoop.run`` (see :attr:`runner`).
    _set_running = False

    def __init__(self,
                 runner,
                 dataloader,
                 evaluator,
                 name: str = 'test',
                 extra_sets: Optional[Dict[str, dict]] = None,
                 averages: Optional[Dict[str, Sequence[str]]] = None,
                 fp16: bool = False) -> None:
        extra_sets = dict(extra_sets or {})
        self.averages = {key: list(sets) for key, sets in (averages or {}).items()}
        check_test_sets(name, extra_sets, self.averages)
        if extra_sets and not isinstance(dataloader, dict):
            raise TypeError('extra_sets needs the test dataloader as a config dict')
        main_cfg = copy.deepcopy(dataloader)
        super().__init__(runner, dataloader, evaluator, fp16)
        self.dataloaders = {name: self.dataloader}
        for set_name, fields in extra_sets.items():
            cfg = extra_set_dataloader(main_cfg, fields)
            self.dataloaders[set_name] = runner.build_dataloader(cfg, seed=runner.seed)
        self._set_name = name

    def _evaluator_for(self, template: Evaluator, set_name: str) -> Evaluator:
        """A copy of the configured evaluator whose output files are the set's own."""
        if len(self.dataloaders) == 1:
            return template
        evaluator = copy.deepcopy(template)
        for metric in evaluator.metrics:
            if getattr(metric, 'out_file_path', None):
                root, suffix = osp.splitext(metric.out_file_path)
                metric.out_file_path = f'{root}_{set_name}{suffix}'
        return evaluator

    @property
    def runner(self):
        """The runner; while a set runs, as that set's run of mmengine's loop sees it.

        mmengine's ``TestLoop.run`` calls ``before_test`` and ``after_test``;
        :meth:`run` calls them once around all sets instead, so hooks that act
        once per test (e.g. mmengine's ``PrepareTTAHook``) act once.
        """
        runner = super().runner
        if self._set_running:
            return RunnerView(runner, skip_hooks=('before_test', 'after_test'))
        return runner

    def run(self) -> dict:
        """Run every set with mmengine's ``TestLoop.run``; return all metrics with set prefixes."""
        self.runner.call_hook('before_test')
        weights = getattr(self.runner, 'tested_weights', None)  # MapleRunner: what is tested
        self._record, warned = self.run_record(weights), set()
        template, metrics, classes = self.evaluator, {}, {}
        first = next(iter(self.dataloaders))
        try:
            for set_name, dataloader in self.dataloaders.items():
                classes[set_name] = list(dataloader.dataset.metainfo.get('classes') or [])
                self._record['tested'][set_name] = check_tested_set(  # the data it was trained on
                    weights, set_name, dataloader.dataset, set_name == first, self.runner.logger,
                    warned)
                metrics.update(self.run_set(set_name, dataloader, template))
                self._write(metrics, classes, complete=False)
        finally:
            self.evaluator = template
        summary = summary_metrics(metrics, self.averages)
        metrics.update(summary)
        self._report(metrics, summary)
        self._write(metrics, classes, complete=True)
        self.runner.call_hook('after_test')
        return metrics

    def run_record(self, weights: Optional[dict]) -> dict:
        """The run's record, written beside its metrics (:func:`~maple_mm.evaluation.run_record.
        run_record`); ``weights``: what is tested."""
        return run_record(self.runner.cfg, weights)

    def run_set(self, set_name: str, dataloader, template: Evaluator) -> Dict[str, float]:
        """One set as one run of mmengine's ``TestLoop.run``: its test epoch, hooks, test loss.

        Returns its metrics, each named ``<set name>/<metric>`` (test losses included).
        """
        self.dataloader = dataloader
        evaluator = self._evaluator_for(template, set_name)
        evaluator.dataset_meta = dataloader.dataset.metainfo
        self.evaluator = FiniteScores(evaluator, set_name)
        self.runner.logger.info(f'Testing set {set_name!r}: {len(dataloader.dataset)} images, '
                                f'{len(dataloader.dataset.metainfo.get("classes") or [])} classes')
        self._set_name, self._set_running = set_name, True
        try:
            set_metrics = super().run()
        finally:
            self._set_running = False
        return {set_key(set_name, k): v for k, v in set_metrics.items()}

    def run_iter(self, idx: int, data_batch) -> None:
        if idx == 0:  # after before_test_epoch: ClassNamesHook has set this set's names
            check_model_classes(
                underlying(self.runner.model), self.dataloader.dataset, self._set_name)
        super().run_iter(idx, data_batch)

    def _report(self, metrics: dict, summary: dict) -> None:
        parts = [
            f'{name.capitalize()} {metrics[f"{name}/{TOP1}"]:.2f}' for name in self.dataloaders
            if f'{name}/{TOP1}' in metrics
        ]
        parts += [f'{key} {value:.2f}' for key, value in summary.items()]
        self.runner.logger.info('Top-1 accuracy (%): ' + ' | '.join(parts))
        scalars = {f'test/{k}': float(v) for k, v in metrics.items() if k.endswith(TOP1)}
        scalars.update({f'test/{k}': float(v) for k, v in summary.items()})
        for key, value in summary.items():
            self.runner.message_hub.update_scalar(f'test/{key}', value)
        self.runner.visualizer.add_scalars(scalars, step=self._trained_epochs())

    def _trained_epochs(self) -> int:
        """The epoch training reached; 0 without training in this runner.

        ``runner.epoch`` would build the training loop, and with it read the
        training set, in a run that only tests.
        """
        trained = self.runner.message_hub.get_info('epoch') is not None
        return self.runner.epoch if trained else 0

    def _write(self, metrics: dict, classes: dict, complete: bool) -> None:
        if self.runner.rank != 0:
            return
        write_test_metrics(
            osp.join(self.runner.log_dir, METRICS_FILE),
            metrics,
            record=self._record,
            classes=classes,
            complete=complete)


def set_key(set_name: str, metric: str) -> str:
    """``<set name>/<metric>``; the evaluator's metrics already carry the prefix."""
    return metric if metric.startswith(f'{set_name}/') else f'{set_name}/{metric}'


def summary_metrics(metrics: Dict[str, float], averages: Dict[str,
                                                              Sequence[str]]) -> Dict[str, float]:
    """``HM`` of the base and novel sets (if both ran) and each mean of ``averages``."""
    summary = {}
    if f'base/{TOP1}' in metrics and f'novel/{TOP1}' in metrics:
        summary['HM'] = harmonic_mean(metrics[f'base/{TOP1}'], metrics[f'novel/{TOP1}'])
    for key, sets in averages.items():
        values = [float(metrics[f'{s}/{TOP1}']) for s in sets]
        summary[key] = sum(values) / len(values)
    return summary

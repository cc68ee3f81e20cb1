"""Evaluate one model on several named test sets in one run (e.g. base and novel)."""
import copy
import json
import os.path as osp
from typing import Dict, Optional

from mmengine.runner import TestLoop
from mmpretrain.registry import LOOPS

from maple_mm.evaluation import harmonic_mean

#: The metric the summary line and the harmonic mean use.
TOP1 = 'accuracy/top1'


@LOOPS.register_module()
class MultiSetTestLoop(TestLoop):
    """Test on the runner's test set and on extra sets, each with its own classes.

    Metrics are reported as ``<set name>/<metric>``. When sets named ``base``
    and ``novel`` are present, ``HM`` (their harmonic mean of top-1 accuracy)
    is added. The class names of each set reach the model through the
    ``before_test_epoch`` hook, which runs once per set. All metrics are also
    written to ``test_metrics.json`` in the run's log folder.

    Args:
        runner: The runner.
        dataloader: The main test set (config or DataLoader).
        evaluator: The evaluator, reused for every set.
        name: Name of the main test set.
        extra_sets: ``{name: dataset fields}``: each further test set is the main
            test dataloader with these fields changed in its dataset config,
            e.g. ``dict(novel=dict(subsample='novel'))``.
        fp16: Whether to test under autocast.
    """

    def __init__(self,
                 runner,
                 dataloader,
                 evaluator,
                 name: str = 'test',
                 extra_sets: Optional[Dict[str, dict]] = None,
                 fp16: bool = False) -> None:
        if extra_sets and not isinstance(dataloader, dict):
            raise TypeError('extra_sets needs the test dataloader as a config dict')
        main_cfg = copy.deepcopy(dataloader)
        super().__init__(runner, dataloader, evaluator, fp16)
        self.dataloaders = {name: self.dataloader}
        for set_name, fields in (extra_sets or {}).items():
            cfg = copy.deepcopy(main_cfg)
            cfg['dataset'] = {**cfg['dataset'], **fields}
            self.dataloaders[set_name] = runner.build_dataloader(cfg, seed=runner.seed)

    def run(self) -> dict:
        """Run every set; return all metrics with set-name prefixes."""
        self.runner.call_hook('before_test')
        metrics = {}
        for set_name, dataloader in self.dataloaders.items():
            self.dataloader = dataloader
            self.evaluator.dataset_meta = dataloader.dataset.metainfo
            self.runner.call_hook('before_test_epoch')
            self.runner.model.eval()
            for idx, data_batch in enumerate(dataloader):
                self.run_iter(idx, data_batch)
            set_metrics = self.evaluator.evaluate(len(dataloader.dataset))
            metrics.update({f'{set_name}/{k}': v for k, v in set_metrics.items()})
        if f'base/{TOP1}' in metrics and f'novel/{TOP1}' in metrics:
            metrics['HM'] = harmonic_mean(metrics[f'base/{TOP1}'], metrics[f'novel/{TOP1}'])
        self._report(metrics)
        self.runner.call_hook('after_test_epoch', metrics=metrics)
        self.runner.call_hook('after_test')
        return metrics

    def _report(self, metrics: dict) -> None:
        parts = [f'{name.capitalize()} {metrics[f"{name}/{TOP1}"]:.2f}'
                 for name in self.dataloaders if f'{name}/{TOP1}' in metrics]
        if 'HM' in metrics:
            parts.append(f'HM {metrics["HM"]:.2f}')
        self.runner.logger.info('Top-1 accuracy (%): ' + ' | '.join(parts))
        if self.runner.rank == 0:
            path = osp.join(self.runner.log_dir, 'test_metrics.json')
            with open(path, 'w') as f:
                json.dump({k: float(v) for k, v in metrics.items()}, f, indent=2)

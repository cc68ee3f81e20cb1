"""Test-only hook and metric that record what each rank did in a distributed run.

A test config imports this module (``custom_imports``); the records land in the
work dir, where the test reads them after the processes have ended.
"""
import os
import os.path as osp
import time
from typing import List, Optional, Sequence

import torch
from mmengine.dist import all_gather, all_gather_object, get_rank, is_distributed
from mmengine.evaluator import BaseMetric
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS, METRICS


def _trainable(runner) -> List[tuple]:
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    return [(name, p) for name, p in model.named_parameters() if p.requires_grad]


@HOOKS.register_module()
class PromptSyncProbeHook(Hook):
    """After every iteration, all-gather every trainable parameter of every rank.

    Each rank writes ``probe_rank<R>.pt`` to the work dir at the end of
    training: the backend and model wrapper used, the checkpoints it saved (as
    seen by the ``before_save_checkpoint`` hook point) and, per iteration, the
    largest difference of any rank's parameters from its own, the sample
    indices of every rank's batch and its own flattened parameters.
    """

    priority = 'LOWEST'

    def __init__(self) -> None:
        self.names: List[str] = []
        self.initial: Optional[torch.Tensor] = None
        self.params: List[torch.Tensor] = []
        self.rank_diffs: List[float] = []
        self.samples: List[list] = []
        self.saved_epochs: List[int] = []

    @staticmethod
    def _flat(runner) -> torch.Tensor:
        return torch.cat([p.detach().reshape(-1) for _, p in _trainable(runner)]).clone()

    def before_train(self, runner) -> None:
        self.names = [name for name, _ in _trainable(runner)]
        self.initial = self._flat(runner)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        flat = self._flat(runner)
        every_rank = all_gather(flat)
        self.rank_diffs.append(max(float((other - flat).abs().max()) for other in every_rank))
        indices = [int(s.sample_idx) for s in data_batch['data_samples']]
        self.samples.append(all_gather_object(indices))
        self.params.append(flat)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        self.saved_epochs.append(int(checkpoint['meta']['epoch']))

    def after_train(self, runner) -> None:
        backend = torch.distributed.get_backend() if is_distributed() else None
        record = dict(
            rank=get_rank(),
            world_size=runner.world_size,
            backend=backend,
            model_wrapper=type(runner.model).__name__,
            names=self.names,
            initial=self.initial,
            params=torch.stack(self.params),
            rank_diffs=self.rank_diffs,
            samples=self.samples,
            saved_epochs=self.saved_epochs)
        torch.save(record, osp.join(runner.work_dir, f'probe_rank{get_rank()}.pt'))


@METRICS.register_module()
class EvaluatedImagesProbe(BaseMetric):
    """Count the images behind a metric: per rank before, and after, collection.

    ``processed`` is what the ranks computed (padding included), ``images`` and
    ``distinct_images`` what the metrics were computed from.
    """

    default_prefix = 'probe'

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        self.results.extend(int(s['sample_idx']) for s in data_samples)

    def evaluate(self, size: int) -> dict:
        processed = sum(all_gather_object(len(self.results)))
        metrics = super().evaluate(size)
        metrics['probe/processed'] = processed
        return metrics

    def compute_metrics(self, results: list) -> dict:
        return dict(images=len(results), distinct_images=len(set(results)))


@HOOKS.register_module()
class SlowTrainingProbeHook(Hook):
    """Write ``pid_rank<R>`` into the work dir when training starts; sleep after every step.

    Lets a test stop a distributed run while its workers are training; a test run
    (``before_test``, ``after_test_iter``) is slowed the same way.
    """

    def __init__(self, seconds: float = 1.0) -> None:
        self.seconds = seconds

    def before_train(self, runner) -> None:
        with open(osp.join(runner.work_dir, f'pid_rank{get_rank()}'), 'w') as f:
            f.write(str(os.getpid()))

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        time.sleep(self.seconds)

    before_test = before_train

    def after_test_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        time.sleep(self.seconds)

"""mmengine's LoggerHook that also logs after some seconds of work: long loops are never silent."""
import time

from mmengine.hooks import LoggerHook
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class ProgressLoggerHook(LoggerHook):
    """Log a line every ``interval`` iterations or ``interval_s`` seconds, whichever comes first.

    The lines are mmengine's own (``Epoch(test) [ 7/15]  eta: 0:01:10  time: 9.8 ...``:
    done / total, seconds per iteration and ETA). With few but slow iterations,
    e.g. a test set of 1,500 images in 15 batches on a CPU, ``interval=20``
    alone prints nothing until the set is done; ``interval_s`` adds a line at
    least every that many seconds of work, on the terminal and in the log.

    Unlike mmengine's default, the last iteration of every training epoch is
    logged too (``ignore_last=False``): its global step tells the training
    curves where each epoch ends (:mod:`maple_mm.evaluation.figures`).

    Args:
        interval_s: Longest time without a line, in seconds (None: iterations only).
        ignore_last: Skip the lines of an epoch's last iterations after the last
            full interval (mmengine's default, True).
        **kwargs: :class:`mmengine.hooks.LoggerHook` arguments (``interval`` ...).
    """

    def __init__(self, interval_s: float = 10.0, ignore_last: bool = False, **kwargs) -> None:
        super().__init__(ignore_last=ignore_last, **kwargs)
        self.interval_s = interval_s
        self._last_line = time.monotonic()

    def every_n_inner_iters(self, batch_idx: int, n: int) -> bool:
        due = super().every_n_inner_iters(
            batch_idx, n) or (self.interval_s is not None
                              and time.monotonic() - self._last_line >= self.interval_s)
        if due:
            self._last_line = time.monotonic()
        return due

    def _restart_clock(self) -> None:
        self._last_line = time.monotonic()

    def before_train_epoch(self, runner) -> None:
        self._restart_clock()
        super().before_train_epoch(runner)

    def before_val_epoch(self, runner) -> None:
        self._restart_clock()
        super().before_val_epoch(runner)

    def before_test_epoch(self, runner) -> None:
        self._restart_clock()
        super().before_test_epoch(runner)

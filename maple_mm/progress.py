"""Progress of long work outside the runner (done / total, rate, ETA), on stderr.

On a terminal one line is redrawn in place; otherwise (a log file, a pipe)
a complete line is written every ``interval_s`` seconds, and a last one at the
end of work that took that long, so results printed to stdout are never glued
to a progress line. Work shorter than ``interval_s`` leaves no line in a file. The runner's
loops report in mmengine's manner instead (:class:`ProgressLoggerHook`).
"""
import sys
import time
from datetime import timedelta
from typing import IO, Iterable, Iterator, Optional, TypeVar

T = TypeVar('T')


def _duration(seconds: float) -> str:
    return str(timedelta(seconds=int(round(seconds))))


class Progress:
    """Counts ``done`` of ``total`` items and reports it while the work runs.

    Args:
        total: How many items the work has.
        desc: What is being done, e.g. ``'decode'``.
        unit: What an item is, e.g. ``'images'``.
        interval_s: Seconds between lines when the stream is not a terminal.
        stream: Where to write (default: ``sys.stderr``).
    """

    def __init__(self,
                 total: int,
                 desc: str,
                 unit: str = 'items',
                 interval_s: float = 10.0,
                 stream: Optional[IO[str]] = None) -> None:
        self.total, self.desc, self.unit, self.interval_s = total, desc, unit, interval_s
        self.stream = stream or sys.stderr
        self.live = bool(getattr(self.stream, 'isatty', lambda: False)())
        self.done = 0
        self.start = self.last = time.monotonic()
        self._drawn, self._written = False, 0

    def line(self) -> str:
        """``desc: done/total unit (pct), rate unit/s, ETA h:mm:ss``."""
        elapsed = max(time.monotonic() - self.start, 1e-9)
        rate = self.done / elapsed
        pct = f' ({100 * self.done / self.total:.0f}%)' if self.total else ''
        text = f'{self.desc}: {self.done}/{self.total} {self.unit}{pct}, {rate:.1f} {self.unit}/s'
        if self.done >= self.total:
            return f'{text}, done in {_duration(elapsed)}'
        eta = (self.total - self.done) / rate if rate > 0 else None
        return f'{text}, ETA {_duration(eta) if eta is not None else "?"}'

    def update(self, n: int = 1) -> None:
        """``n`` more items are done."""
        self.done += n
        now = time.monotonic()
        if now - self.last >= (0.2 if self.live else self.interval_s):
            self.last = now
            self._write()

    def close(self) -> None:
        """The last line (on a line of its own), if any line was written."""
        if not self._drawn:
            return
        if self._written != self.done:
            self._write()
        if self.live:
            self.stream.write('\n')
            self.stream.flush()

    def _write(self) -> None:
        self._drawn, self._written = True, self.done
        if self.live:
            self.stream.write('\r\033[K' + self.line())
        else:
            self.stream.write(self.line() + '\n')
        self.stream.flush()

    def __enter__(self) -> 'Progress':
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def track(items: Iterable[T],
          total: int,
          desc: str,
          unit: str = 'items',
          interval_s: float = 10.0,
          stream: Optional[IO[str]] = None) -> Iterator[T]:
    """Yield ``items``, reporting one more done after each."""
    with Progress(total, desc, unit, interval_s, stream) as progress:
        for item in items:
            yield item
            progress.update()

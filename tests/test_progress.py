"""maple_mm/progress.py: done / total, rate and ETA of work outside the runner, never glued
to results."""
import io
import re

from maple_mm.progress import Progress, track

LINE = re.compile(r'^decode: (\d+)/10 images \(\d+%\), [\d.]+ images/s, (ETA \d+:\d\d:\d\d|'
                  r'done in \d+:\d\d:\d\d)$')


class Terminal(io.StringIO):

    def isatty(self) -> bool:
        return True


def test_in_a_file_every_report_is_a_whole_line():
    stream = io.StringIO()
    assert list(track(range(10), 10, 'decode', 'images', interval_s=0, stream=stream)) == \
        list(range(10))
    lines = stream.getvalue().split('\n')
    assert lines[-1] == '' and '\r' not in stream.getvalue()
    assert [int(LINE.match(line).group(1)) for line in lines[:-1]] == list(range(1, 11))
    assert lines[0].endswith('ETA 0:00:00') and lines[-2].startswith('decode: 10/10')
    assert 'done in' in lines[-2]


def test_short_work_leaves_no_line_in_a_file():
    stream = io.StringIO()
    with Progress(10, 'decode', 'images', interval_s=60, stream=stream) as progress:
        progress.update(10)
    assert stream.getvalue() == ''


def test_on_a_terminal_one_line_is_redrawn_and_ended():
    stream = Terminal()
    progress = Progress(10, 'decode', 'images', stream=stream)
    progress.last -= 1  # the redraw interval has passed
    progress.update(4)
    progress.update(6)  # too soon after the last redraw
    progress.close()
    text = stream.getvalue()
    assert text.startswith('\r\033[Kdecode: 4/10 images (40%)') and text.endswith('\n')
    assert text.count('\n') == 1 and 'done in' in text.split('\r')[-1]

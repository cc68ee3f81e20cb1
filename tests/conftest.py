"""Shared fixtures: tiny random CLIPs and small datasets written to disk."""
import gc
import itertools
import json
import os
import signal
import threading
from pathlib import Path
from typing import Callable, Dict, List, Optional

os.environ.setdefault('HF_HUB_OFFLINE', '1')  # tests never touch the network
# One torch thread here and in the tools the tests start, unless the caller sets another number:
# the tiny CLIP's ops are too small to share between threads, and a second thread only waits
# for the first (10x slower per step on a busy 2-core machine; subprocess tests run 2 ranks).
os.environ.setdefault('OMP_NUM_THREADS', '1')

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from PIL import Image  # noqa: E402

import maple_mm  # noqa: E402,F401
from maple_mm.models import TINY_CLIP_CFG, MaPLe  # noqa: E402

init_default_scope('mmpretrain')
torch.set_num_threads(int(os.environ['OMP_NUM_THREADS']))
# A test run started in the background of a script has Ctrl-C (SIGINT) ignored, which the tools
# it starts inherit: the tests that stop them with SIGINT would see it ignored. A handler set
# here is the default again in every program this process starts.
if (signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        and threading.current_thread() is threading.main_thread()):
    signal.signal(signal.SIGINT, signal.default_int_handler)

REPO_ROOT = Path(__file__).resolve().parents[1]
CLASS_NAMES = ['red_square', 'green circle', 'blue', 'yellow', 'cyan', 'magenta']
_COLOURS = [(220, 30, 30), (30, 200, 30), (30, 30, 220), (220, 220, 30), (30, 220, 220),
            (220, 30, 220)]


def build_tiny_maple(n_ctx: int = 2,
                     depth: int = 3,
                     ctx_init: str = 'a photo of a',
                     class_names=None) -> MaPLe:
    """MaPLe on the tiny CLIP of ``TINY_CLIP_CFG`` (random weights, seed 0)."""
    from mmpretrain.registry import MODELS
    return MODELS.build(
        dict(
            type='MaPLe',
            backbone=dict(type='OpenCLIPBackbone', model_cfg=TINY_CLIP_CFG),
            prompt_learner=dict(
                type='MaPLePromptLearner', n_ctx=n_ctx, ctx_init=ctx_init, depth=depth),
            class_names=class_names))


@pytest.fixture
def tiny_maple() -> Callable[..., MaPLe]:
    return build_tiny_maple


@pytest.fixture(scope='module')
def backbone():
    """The tiny CLIP of ``TINY_CLIP_CFG`` (random weights), built once per module."""
    from maple_mm.models import OpenCLIPBackbone
    return OpenCLIPBackbone(model_cfg=TINY_CLIP_CFG)


def load_tool(relative_path: str):
    """A script of ``tools/`` imported as a module (they are not a package), once.

    Scripts import their shared helpers as ``_cli`` (from their own folder when
    run); ``tools/_cli.py`` is loaded under that name first, so no folder is
    put on ``sys.path``.
    """
    import importlib.util
    import sys
    path = REPO_ROOT / relative_path
    name = '_cli' if path.name == '_cli.py' else f'maple_tools.{path.stem}'
    if name not in sys.modules:
        if name != '_cli':
            load_tool('tools/_cli.py')
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
    return sys.modules[name]


_experiments = itertools.count()


def run_tool_here(tool: str, *argv):
    """``python tools/<tool>.py ARGV`` in this process, as ``run_cli`` runs it (without the
    ~10 s of imports of a process of its own): None when it ends well, else its exit code
    (an ``error:`` line for a user error). A training or test gets an experiment name of its
    own: mmengine's loggers, message hubs and visualizers are per experiment name, which is
    the config's name and the second by default."""
    argv = [str(a) for a in argv]
    if tool in ('train', 'test'):
        argv += ['--cfg-options', f'experiment_name=in_process_{next(_experiments)}']
    try:
        load_tool('tools/_cli.py').run_cli(load_tool(f'tools/{tool}.py').main, argv)
    except SystemExit as exit_info:
        return exit_info.code
    return None


def run_tool_here_ok(capfd, tool: str, *argv):
    """:func:`run_tool_here`, which must end well; what the tool printed (``.out``, ``.err``:
    capfd's capture of this run alone)."""
    capfd.readouterr()  # what came before is not this run's
    code = run_tool_here(tool, *argv)
    printed = capfd.readouterr()
    assert code is None, f'tools/{tool}.py ended with {code!r}:\n{printed.err[-3000:]}'
    return printed


@pytest.fixture(scope='module')
def one_thread():
    """The tiny CLIP's ops are too small to share between threads: a second thread
    only adds waiting (seconds per forward when the machine is busy)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def colour_image(label: int, rng: np.random.Generator, size: int = 32) -> np.ndarray:
    """An image whose colour tells its class, with noise and a random bright patch."""
    img = np.array(_COLOURS[label % len(_COLOURS)], np.float32) * rng.uniform(0.6, 1.0)
    img = np.broadcast_to(img, (size, size, 3)).copy()
    img += rng.normal(0, 25, img.shape)
    y, x = rng.integers(0, size // 2, 2)
    img[y:y + size // 4, x:x + size // 4] = 255
    return np.clip(img, 0, 255).astype(np.uint8)


ImageWriter = Callable[[Path, int], None]


def write_split_file(root: Path,
                     splits: Dict[str, list],
                     split_file: str = 'split_zhou_Toy.json',
                     image_dir: str = 'images',
                     image: Optional[ImageWriter] = None) -> Path:
    """The one writer of CoOp-format datasets in the tests: ``root/split_file`` listing
    ``splits`` (``{split: [[path, label, class name], ...]}``) and an image for every listed
    path inside ``root`` (``image(path, label)`` writes one; by default a 32-pixel PNG
    coloured by class). Images are written class by class, in list order."""
    rng = np.random.default_rng(0)
    write = image or (lambda path, label: Image.fromarray(colour_image(label, rng)).save(path))
    entries = [
        e for items in splits.values() for e in items  # malformed ones get no image
        if isinstance(e, (list, tuple)) and len(e) == 3 and isinstance(e[0], str)
    ]
    label_of = {id(e): e[1] if type(e[1]) is int else -1 for e in entries}
    for entry in sorted(entries, key=lambda e: label_of[id(e)]):  # stable: class by class
        path = root / image_dir / entry[0]
        if not entry[0].startswith(('/', '..')) and not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            write(path, label_of[id(entry)])
    (root / split_file).write_text(json.dumps(splits))
    return root


def write_split_dataset(root: Path,
                        class_names: List[str] = CLASS_NAMES,
                        train: int = 8,
                        val: int = 2,
                        test: int = 5,
                        seed: int = 0) -> Path:
    """A CoOp-format dataset: ``images/<class>/*.png`` and ``split_zhou_Toy.json``."""
    rng = np.random.default_rng(seed)
    splits = {
        part: [[f'{name.replace(" ", "_")}/{part}_{i}.png', label, name]
               for label, name in enumerate(class_names) for i in range(count)]
        for part, count in (('train', train), ('val', val), ('test', test))
    }
    return write_split_file(
        root,
        splits,
        image=lambda path, label: Image.fromarray(colour_image(label, rng)).save(path))


@pytest.fixture
def toy_dataset(tmp_path) -> Path:
    return write_split_dataset(tmp_path / 'toy')


# -- the time per test file, printed at the end of every run (issue 26.6) -------------------
_FILE_SECONDS: Dict[str, float] = {}


def pytest_runtest_logreport(report) -> None:
    """Setup, call and teardown of each test, summed by file (also from xdist's workers)."""
    path = report.nodeid.split('::')[0]
    _FILE_SECONDS[path] = _FILE_SECONDS.get(path, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter) -> None:
    if not _FILE_SECONDS:
        return
    total = sum(_FILE_SECONDS.values())
    terminalreporter.write_sep('=', f'seconds per test file ({total:.0f} s of tests in all)')
    for path, seconds in sorted(_FILE_SECONDS.items(), key=lambda item: -item[1]):
        if seconds >= 0.5:
            terminalreporter.write_line(f'{seconds:8.1f}  {path}')
    rest = [s for s in _FILE_SECONDS.values() if s < 0.5]
    if rest:
        terminalreporter.write_line(f'{sum(rest):8.1f}  {len(rest)} files under 0.5 s each')


# -- the longest test files start first (issue 26.6) ---------------------------------------
def pytest_configure(config) -> None:
    config.addinivalue_line(
        'markers', 'long_running(seconds): a test file that takes about this many seconds on '
        'a busy 2-core machine; the longest start first')


def _file_seconds(item) -> float:
    mark = item.get_closest_marker('long_running')
    return mark.kwargs['seconds'] if mark else 0.0


def pytest_collection_modifyitems(items) -> None:
    """Files marked ``long_running`` first, the longest first; the others after them in their
    usual order. With xdist's loadfile (``make test``, with ``--no-loadscope-reorder``, else
    xdist sorts the files by their number of tests) a long file started last keeps one worker
    busy alone at the end; started first, the short files fill in beside it."""
    items.sort(key=lambda item: -_file_seconds(item))  # stable: a file's tests stay in order


def pytest_collection_finish(session) -> None:
    """What the test modules imported lives to the end of the run: gc.freeze() keeps the
    garbage collector from walking it again. mmengine's datasets call gc.collect() when they
    serialise their data, which walked ~430k objects (0.4-0.7 s) for every dataset built."""
    gc.freeze()

"""A method is its own files: no other file names it.

The files of a method (:func:`method_files`): its module (its metafile's ``Code``),
its config folder ``configs/<folder>/`` (configs, README.md, metafile.yml), its
model and recipe bases (``configs/_base_/models/<folder>.py``,
``configs/_base_/recipes/<folder>_*.py``) and its test module
(``tests/test_models/test_methods/test_<module>.py``, whose rows may name more:
transcriptions shared by the trainers of one reference repository). No other
file of the package, the tools, the shared configs or the shared tests names a
method (its folder, model type or learner type) in code: identifiers and string
literals; comments and docstrings are prose, like the docs, and the method lists
the code prints are made from the registry. Two exceptions, both stated here:

- the example method (:data:`EXAMPLE`, MaPLe, after which the package is named)
  is the subject of the shared tests, the tools' examples and the Makefile's
  demo; the package and the shared configs never name it;
- "CoOp" naming the data protocol of the CoOp code base ("CoOp format", "a CoOp
  benchmark dataset", ...), not the method.

A test-time method (TPT, PromptAlign: :func:`maple_mm.method_zoo.test_time_folders`)
tunes other methods' prompts: its own files (:func:`files_of_test_time_method`: its config
folder, and the tests of its module's package) may name the methods its metafile
says it tunes (``Tuned Method``), as a method's files may name the method it extends.

Then a scratch method is added to a copy of the repository by following
docs/adding-a-method.md: it needs only its own files, and the shared tests take it.
"""
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tokenize
from pathlib import Path
from typing import Dict, List, Set

import pytest
from mmpretrain.registry import MODELS

from maple_mm import method_zoo
from maple_mm.method_zoo import metafiles, method_folders, method_of, tuned_methods
from .conftest import REPO_ROOT
from .method_rows import declared_rows

pytestmark = pytest.mark.long_running(seconds=24)

#: The example method's folder: the shared tests' subject.
EXAMPLE = 'maple'
#: Where the example may be named besides its own files.
EXAMPLE_MAY_APPEAR_IN = ('tests/', 'tools/', 'Makefile')
#: Shared tests that still name methods, with the names they may use: issue 25's tests of one
#: method's checkpoint loaded into another, on pairs whose learners have equal shapes. To make
#: generic (such pairs follow from the registry: a reference layout extending another,
#: ``reference_layout.base``, with the learner arguments that make the shapes equal); the check
#: fails if one names anything else, and once an entry is no longer needed.
PENDING = {
    'tests/test_tools/test_nothing_misfiled.py': {
        'coop', 'CoOp', 'kgcoop', 'KgCoOp', 'ivlp', 'IVLP', 'promptsrc', 'PromptSRC',
        'zero_shot_clip', 'ZeroShotCLIP'
    },
}
#: Scanned: the package, the tools, the configs and the tests (the docs are prose).
SCANNED = ('maple_mm', 'tools', 'configs', 'tests')
SUFFIXES = ('.py', '.sh', '.yml', '.yaml', '.cfg')
#: "CoOp" as the name of the data protocol of the CoOp code base.
DATA_PROTOCOL = re.compile(r"CoOp(?=[- ](format|benchmark|split|protocol|dataset|data\b|layout|"
                           r"convention|famil|style)|'s ImageNet)")


def method_names(folder: str, root: Path = REPO_ROOT) -> Set[str]:
    """What names a method: its folder, its model type and its learner type."""
    model_type = method_of(metafiles(root / 'configs')[folder])
    return {folder, model_type, MODELS.get(model_type).default_learner}


def method_files(folder: str, root: Path = REPO_ROOT) -> List[str]:
    """The files a method needs, relative to ``root``."""
    meta = metafiles(root / 'configs')[folder]
    module = meta['Collections'][0]['Code']['URL']
    files = [module, f'configs/_base_/models/{folder}.py']
    files += [p.relative_to(root).as_posix() for p in sorted((root / 'configs' / folder).iterdir())]
    files += [
        p.relative_to(root).as_posix()
        for p in sorted((root / 'configs' / '_base_' / 'recipes').glob(f'{folder}_*.py'))
    ]
    files.append(f'tests/test_models/test_methods/test_{Path(module).stem}.py')
    transcription = f'tests/reference_{Path(module).stem}.py'  # if it has one of its own
    files += [transcription] if (root / transcription).is_file() else []
    rows = declared_rows().get(folder)
    return files + list(rows.files if rows else ())


def files_of_test_time_method(folder: str, root: Path = REPO_ROOT) -> List[str]:
    """A test-time method's files: its config folder, and the tests of the package of its module
    (``tests/**/test_<package>*.py``, ``tests/reference_<package>.py``)."""
    meta = metafiles(root / 'configs')[folder]
    package = Path(meta['Collections'][0]['Code']['URL']).parent.name
    files = [p for p in sorted((root / 'configs' / folder).iterdir())]
    files += sorted((root / 'tests').rglob(f'test_{package}*.py'))
    files += sorted((root / 'tests').glob(f'reference_{package}.py'))
    return [p.relative_to(root).as_posix() for p in files]


def scanned_files(root: Path = REPO_ROOT) -> List[str]:
    """The files the check reads (not itself: it states the exceptions)."""
    found = [] if not (root / 'Makefile').is_file() else ['Makefile']
    for top in SCANNED:
        for path in sorted((root / top).rglob('*')):
            if path.is_file() and path.suffix in SUFFIXES and '__pycache__' not in path.parts:
                found.append(path.relative_to(root).as_posix())
    return [name for name in found if name != 'tests/test_method_files.py']


def _code_strings(path: Path) -> List[tuple]:
    """``(line, text)`` of the code of a file: Python's names and string literals (not
    docstrings), other files' lines without their comments."""
    source = path.read_text(encoding='utf-8')
    if path.suffix != '.py':
        return [(n, line.split('#', 1)[0]) for n, line in enumerate(source.splitlines(), 1)]
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    parts = []
    for i, token in enumerate(tokens):
        if token.type == tokenize.STRING:
            before = next((t for t in reversed(tokens[:i]) if t.type not in (tokenize.NL, )), None)
            after = tokens[i + 1] if i + 1 < len(tokens) else None
            statement_start = before is None or before.type in (tokenize.NEWLINE, tokenize.INDENT,
                                                                tokenize.DEDENT, tokenize.COMMENT)
            if statement_start and after is not None and after.type in (tokenize.NEWLINE,
                                                                        tokenize.ENDMARKER):
                continue  # a docstring (or another string statement): prose
        if token.type in (tokenize.NAME, tokenize.STRING) or token.type == getattr(
                tokenize, 'FSTRING_MIDDLE', None):
            parts.append((token.start[0], token.string))
    return parts


def names_outside_their_files(root: Path = REPO_ROOT,
                              pending: Dict[str, Set[str]] = PENDING) -> Dict[str, List[str]]:
    """``{file: ['line: name', ...]}`` for every method name in a file not its method's
    (but those ``pending`` allows)."""
    folders = list(method_folders(root / 'configs'))
    owned = {f for folder in folders for f in method_files(folder, root)}
    names = {folder: method_names(folder, root) for folder in folders}
    allowed = {name: set(names) for name, names in pending.items()}
    folder_of = {method: folder for folder, method in method_folders(root / 'configs').items()}
    for folder in method_zoo.test_time_folders(root / 'configs'):  # the methods it tunes
        tuned = tuned_methods(metafiles(root / 'configs')[folder])
        for name in files_of_test_time_method(folder, root):
            allowed.setdefault(name, set()).update(*(names[folder_of[t]] for t in tuned))
    everyone = sorted(set().union(*names.values()), key=len, reverse=True)
    pattern = re.compile(r'\b(' + '|'.join(map(re.escape, everyone)) + r')\b')
    found = {}
    for name in scanned_files(root):
        if name in owned:
            continue
        example_allowed = name.startswith(EXAMPLE_MAY_APPEAR_IN)
        hits = []
        for line, text in _code_strings(root / name):
            for match in pattern.finditer(DATA_PROTOCOL.sub('', text)):
                if not (example_allowed and match.group(1) in names[EXAMPLE]) and \
                        match.group(1) not in allowed.get(name, ()):
                    hits.append(f'{line}: {match.group(1)}')
        if hits:
            found[name] = hits
    return found


@pytest.mark.parametrize('folder', list(method_folders()))
def test_a_method_has_its_files(folder):
    files = method_files(folder)
    missing = [f for f in files if not (REPO_ROOT / f).is_file()]
    assert not missing, f'{folder} lacks {missing}'
    assert f'configs/{folder}/metafile.yml' in files and f'configs/{folder}/README.md' in files


@pytest.mark.parametrize('folder', list(method_zoo.test_time_folders()))
def test_a_test_time_method_has_its_files(folder):
    files = files_of_test_time_method(folder)
    assert f'configs/{folder}/metafile.yml' in files and f'configs/{folder}/README.md' in files
    assert any(f.startswith('tests/reference_') for f in files)  # the loops it transcribes
    assert set(tuned_methods(metafiles()[folder])) <= set(method_folders().values())


def test_no_other_file_names_a_method():
    found = names_outside_their_files()
    assert not found, 'method names outside their methods\' files (move the knowledge into ' \
        f'the method\'s files, or derive it from the registry): {found}'


def test_every_pending_file_still_names_a_method():
    found = names_outside_their_files(pending={})
    assert sorted(PENDING) == sorted(name for name in found if name in PENDING)


def test_the_check_finds_a_method_named_elsewhere(tmp_path):
    """A shared file with a method's name (not the example's) fails the check."""
    root = _copy_repository(tmp_path / 'repo')
    other = next(f for f in method_folders() if f != EXAMPLE)
    (root / 'maple_mm' / 'engine' / 'hooks' / 'listing.py'
     ).write_text(f'"""A hand list of methods."""\nKNOWN = ({other!r}, )  # names {other}\n')
    (root / 'tools' / 'example.py').write_text(f'DEFAULT = {EXAMPLE!r}\n')
    found = names_outside_their_files(root)
    assert found == {'maple_mm/engine/hooks/listing.py': [f'2: {other}']}


# -- a scratch method, added as docs/adding-a-method.md says ------------------------------------
SCRATCH = 'scratch'  # its folder (and module)
SCRATCH_MODULE = '''"""Scratch: {model}'s prompts under another name (tests/test_method_files.py).
"""
from mmpretrain.registry import MODELS

from ..classifier import PromptedCLIP
from .{module} import {learner}, {model}


@MODELS.register_module()
class ScratchPromptLearner({learner}):
    """{model}'s learner."""


@MODELS.register_module()
class Scratch(PromptedCLIP):
    """{model} under another name."""

    default_learner = 'ScratchPromptLearner'
    #: Its reference saves {model}'s keys: that layout, converted with --method scratch.
    reference_layout = {model}.reference_layout.extended('scratch', 'Scratch')
'''
SCRATCH_TESTS = '''"""Scratch: its test rows, {model}'s recipes (tests/test_method_files.py)."""
from tests.method_rows import MethodRows
from .test_{module} import EXPECTED as BASE

LEARNER = 'ScratchPromptLearner'
ROWS = next(r for r in BASE if r.folder == {folder!r})
EXPECTED = [
    MethodRows(
        folder='scratch',
        recipes={{
            key: recipe._replace(learner=dict(recipe.learner, type=LEARNER))
            for key, recipe in ROWS.recipes.items()
        }},
        converter=tuple(
            case._replace(
                case='scratch' + case.case[len(case.method):],
                method='scratch',
                model_type='Scratch') for case in ROWS.converter)),
]
'''


def scratch_base() -> str:
    """The method the scratch copies: the first (table order) whose reference saves checkpoints
    in a layout of its own, and not the example."""
    from maple_mm.checkpoints.reference_converter import reference_layouts
    model_types = {model_type for _, model_type in reference_layouts().values()}
    return next(folder for folder, meta in metafiles().items()
                if folder != EXAMPLE and method_of(meta) in model_types
                and vars(MODELS.get(method_of(meta))).get('reference_layout').base is None)


def _copy_repository(root: Path) -> Path:
    for top in (*SCANNED, 'Makefile', 'setup.cfg', 'docs'):
        source = REPO_ROOT / top
        if source.is_dir():
            shutil.copytree(source, root / top, ignore=shutil.ignore_patterns('__pycache__'))
        elif source.is_file():
            root.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / top)
    return root


def _renamed(text: str, base: str) -> str:
    """``text`` of a file of the method ``base``, with the scratch's names."""
    model_type = method_of(metafiles()[base])
    renames = ((rf'\b{MODELS.get(model_type).default_learner}\b', 'ScratchPromptLearner'),
               (rf'\b{model_type}\b', 'Scratch'), (rf'\b{base}\b', SCRATCH), (rf'\b{base}_',
                                                                              f'{SCRATCH}_'))
    text = DATA_PROTOCOL.sub('PROTOCOL_NAME', text)  # the data protocol keeps its name
    for pattern, name in renames:
        text = re.sub(pattern, name, text)
    return text.replace('PROTOCOL_NAME', DATA_PROTOCOL.pattern[:4])


def add_scratch_method(root: Path) -> List[str]:
    """Add the scratch method to the copy at ``root``; return the files it wrote.

    The steps of docs/adding-a-method.md, from the files of :func:`scratch_base`: the
    module; the model base, the recipes, the configs folder with its README and metafile
    (no published numbers: no ``Results``); the test module with its rows (the base's
    recipes and reference checkpoint cases: its files are the base's, converted with
    ``--method scratch``).
    """
    base = scratch_base()
    model_type = method_of(metafiles()[base])
    module = Path(metafiles()[base]['Collections'][0]['Code']['URL']).stem
    names = dict(
        model=model_type,
        learner=MODELS.get(model_type).default_learner,
        module=module,
        folder=base)
    written = {
        f'maple_mm/models/methods/{SCRATCH}.py': SCRATCH_MODULE.format(**names),
        f'tests/test_models/test_methods/test_{SCRATCH}.py': SCRATCH_TESTS.format(**names)
    }
    for name in method_files(base):
        if not name.startswith('configs/'):
            continue
        text = _renamed((REPO_ROOT / name).read_text(), base)
        if name.endswith('metafile.yml'):  # no published numbers
            text = re.sub(r'Results:\n(      - .*\n|        .*\n)+', 'Results: null\n', text)
            text = re.sub(r'URL: maple_mm/models/methods/\w+\.py',
                          f'URL: maple_mm/models/methods/{SCRATCH}.py', text)
        if name.endswith('README.md'):
            text = text[:text.index('## Published results')] + (
                '## Published results\n\nNone: a test of docs/adding-a-method.md.\n')
        written[_renamed(name, base)] = text
    for name, text in written.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return sorted(written)


SCRATCH_PROBE_AND_LINT = r'''
import json, sys
from maple_mm.checkpoints.reference_converter import reference_layouts
from maple_mm.evaluation import published
from maple_mm.method_zoo import method_folders
from maple_mm.models import Scratch
print(json.dumps(dict(
    folders=method_folders(), layouts=list(reference_layouts()), order=list(published.METHODS),
    published=sorted(published.BASE2NOVEL_AVERAGE))), flush=True)
# Then the config layout rules (make lint) with the model index regenerated as make format does.
from tests.lint_repo import main
sys.exit(main(['--fix']))
'''


def _all_files(root: Path) -> Set[str]:
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob('*') if p.is_file() and '__pycache__' not in p.parts
    }


def test_a_scratch_method_needs_only_its_own_files(tmp_path):
    root = _copy_repository(tmp_path / 'repo')
    before = _all_files(root)
    written = add_scratch_method(root)
    after = _all_files(root)
    assert after - before == set(written)  # nothing else was added ...
    for name in before:  # ... or changed
        source = REPO_ROOT / name
        assert (root / name).read_bytes() == source.read_bytes(), name
    assert set(written) == set(method_files(SCRATCH, root))  # exactly its files
    print(f'the scratch method took {len(written)} files: {written}')

    env = dict(os.environ, PYTHONPATH=str(root), HF_HUB_OFFLINE='1')
    # One process on the copy (its imports are most of the cost): the shared tests take the
    # method (its configs against its rows, its docs, the converter's choices and detection,
    # its files are its base's, which auto-detection keeps naming, and no other file names
    # it); then what the package makes of it and the lint rules (SCRATCH_PROBE_AND_LINT).
    shared_tests = [
        '-q', '-x', '-p', 'no:cacheprovider', 'tests/test_configs/test_recipes.py',
        'tests/test_configs/test_reference_recipes.py', 'tests/test_configs/test_model_zoo_docs.py',
        'tests/test_evaluation/test_published.py', 'tests/test_method_files.py',
        'tests/test_tools/test_reference_to_mm.py', '-k',
        f'({SCRATCH} or test_detection or test_method_choices or test_no_other_file or '
        'test_methods_and_keys) and not test_a_scratch_method'
    ]
    script = (f'import pytest\nprint("pytest exit code", int(pytest.main({shared_tests!r})), '
              f'flush=True)\n{SCRATCH_PROBE_AND_LINT}')
    probe = subprocess.run([sys.executable, '-c', script],
                           cwd=root,
                           env=env,
                           capture_output=True,
                           text=True,
                           timeout=900)
    lines = probe.stdout.splitlines()
    assert 'pytest exit code 0' in lines, probe.stdout[-3000:] + probe.stderr[-2000:]
    summary = lines[lines.index('pytest exit code 0') - 1]
    print(f'the shared tests on the copy with the scratch method: {summary}')
    assert re.search(r'\b\d\d+ passed', summary) and 'failed' not in summary, summary
    seen = [line for line in probe.stdout.splitlines() if line.startswith('{')]
    assert seen, probe.stdout[-3000:] + probe.stderr[-3000:]
    seen = json.loads(seen[0])
    assert seen['folders'][SCRATCH] == 'Scratch' and 'Scratch' not in seen['published']
    # Its paper is its base's: beside it, after it (no published numbers).
    base = method_of(metafiles()[scratch_base()])
    assert seen['order'].index('Scratch') == seen['order'].index(base) + 1
    assert SCRATCH in seen['layouts']
    # The config layout rules (make lint), the model index regenerated as make format does.
    assert probe.returncode == 0, probe.stdout[-3000:] + probe.stderr[-2000:]

"""The README and every docs page: links that resolve, and commands that exist.

Pages are discovered (README.md, docs/**/*.md, configs/*/README.md), so a new page is
checked without being listed here. Every shell command of a page (``bash``/``sh``/bare
code blocks, and inline ``python tools/...`` spans) is checked: a tool's script exists and
its argparse parser takes every ``--option`` used, ``bash`` scripts and ``make`` targets
exist, and every repository path named (configs/, tools/, docs/, ...) exists or, for a
glob, matches. The commands themselves run in the tests of each tool.
"""
import argparse
import glob
import re
import shlex
from functools import lru_cache
from pathlib import Path
from typing import Iterator, List, Tuple
from unittest import mock

import pytest

from maple_mm.method_zoo import metafiles, method_folders
from .conftest import REPO_ROOT, load_tool
from .test_method_files import DATA_PROTOCOL

PAGES = sorted({
    REPO_ROOT / 'README.md', *REPO_ROOT.glob('docs/**/*.md'), *REPO_ROOT.glob('configs/*/README.md')
})
SHELL_BLOCKS = {'', 'bash', 'sh', 'shell', 'console'}
_FENCE = re.compile(r'^```(\w*)\s*$')
_LINK = re.compile(r'\[[^\]]*\]\(([^)\s]+)\)')
_INLINE = re.compile(r'`((?:\.venv/bin/)?python3? tools/[^`]+|bash tools/[^`]+|make \w+)`')
_REPO_PATH = re.compile(r'^(configs|tools|docs|maple_mm|tests)/')
_PLACEHOLDER = re.compile(r'[<>{}]|\.\.\.|\bCONFIG\b|\bCKPT\b')
PYTHONS = {'python', 'python3', '.venv/bin/python', '$(PY)'}


def page_id(page: Path) -> str:
    return page.relative_to(REPO_ROOT).as_posix() if page.is_relative_to(REPO_ROOT) else page.name


def commands(page: Path) -> Iterator[Tuple[int, str]]:
    """(line number, command) of every shell command of the page, continuations joined."""
    fence, pending, start = None, '', 0
    for number, line in enumerate(page.read_text(encoding='utf-8').splitlines(), 1):
        match = _FENCE.match(line.strip())
        if match:
            fence = None if fence is not None else match.group(1)
            continue
        if fence is None:
            for inline in _INLINE.findall(line):
                yield number, inline
            continue
        if fence not in SHELL_BLOCKS:
            continue
        stripped = line.strip()
        if not pending:
            start = number
        if stripped.endswith('\\'):
            pending += stripped[:-1] + ' '
            continue
        command, pending = pending + stripped, ''
        if command and not command.startswith('#'):
            yield start, command


def words(command: str) -> List[List[str]]:
    """The simple commands of a line: env assignments, redirections and operators removed."""
    try:
        tokens = shlex.split(command, comments=True)
    except ValueError:  # an unbalanced quote in prose-like lines: check what can be read
        tokens = command.split()
    parts, current, skip = [], [], False
    for token in tokens:
        if skip:
            skip = False
            continue
        if token in ('&&', '||', ';', '|'):
            parts.append(current)
            current = []
        elif token in ('>', '>>', '<', '2>'):
            skip = True
        elif not current and re.match(r'^[A-Z_]+=', token):
            continue
        else:
            current.append(token)
    parts.append(current)
    return [p for p in parts if p]


class _Parser(Exception):
    pass


@lru_cache(maxsize=None)
def tool_options(script: str) -> frozenset:
    """Every option string the tool's argparse parser accepts (from its help text)."""
    module = load_tool(script)

    def capture(parser, *args, **kwargs):
        raise _Parser(parser)

    with mock.patch.object(argparse.ArgumentParser, 'parse_args', capture):
        try:
            (getattr(module, 'parse_args', None) or module.main)([])
        except _Parser as found:
            help_text = found.args[0].format_help()
    return frozenset(re.findall(r'(?<![\w-])(--?[A-Za-z][\w-]*)', help_text))


@lru_cache(maxsize=None)
def make_targets() -> frozenset:
    text = (REPO_ROOT / 'Makefile').read_text()
    return frozenset(re.findall(r'^([\w-]+):', text, re.M))


def problems_of(argv: List[str]) -> List[str]:
    found = []
    for token in argv:
        path = token.split('=', 1)[-1]
        if _REPO_PATH.match(path) and not _PLACEHOLDER.search(path):
            if glob.has_magic(path):
                if not glob.glob(str(REPO_ROOT / path)):
                    found.append(f'{path} matches no file')
            elif not (REPO_ROOT / path.rstrip('/')).exists():
                found.append(f'{path} does not exist')
    program, args = argv[0], argv[1:]
    if program in PYTHONS and args and args[0].startswith('tools/') and args[0].endswith('.py'):
        if (REPO_ROOT / args[0]).is_file():
            accepted = tool_options(args[0])
            for token in args[1:]:
                option = token.strip('[]()|,').split('=', 1)[0]
                if option.startswith('--') and len(option) > 2 and option not in accepted:
                    found.append(f'{args[0]} has no option {option}')
    elif program == 'make':
        found += [
            f'Makefile has no target {t}' for t in args
            if not t.startswith('-') and '=' not in t and t not in make_targets()
        ]
    elif program == 'bash' and args and args[0].startswith('tools/'):
        pass  # the path check above covers the script
    return found


@pytest.mark.parametrize('page', PAGES, ids=page_id)
def test_every_command_of_the_page_exists(page):
    problems = [
        f'{page_id(page)}:{number}: {problem}  [{command}]' for number, command in commands(page)
        for argv in words(command) for problem in problems_of(argv)
    ]
    assert not problems, '\n'.join(problems)


@pytest.mark.parametrize('page', PAGES, ids=page_id)
def test_every_link_of_the_page_resolves(page):
    broken = []
    text = re.sub(r'```.*?```|`[^`\n]*`', '', page.read_text(encoding='utf-8'), flags=re.S)
    for target in _LINK.findall(text):
        if re.match(r'^[a-z]+:', target) or target.startswith('#'):
            continue
        path = (page.parent / target.split('#')[0]).resolve()
        if not path.exists():
            broken.append(target)
    assert not broken, f'{page_id(page)} links to missing files: {broken}'


def test_readme_starts_with_the_install_and_links_every_page_once():
    readme = (REPO_ROOT / 'README.md').read_text(encoding='utf-8')
    lines = readme.splitlines()
    assert len(lines) <= 200, f'README.md has {len(lines)} lines'
    headings = [line for line in lines if line.startswith('## ')]
    assert headings[:3] == ['## The two commands', '## Install for real use', '## Quick start']
    assert lines.index('## Install for real use') < 60
    links = [t.split('#')[0] for t in _LINK.findall(readme)]
    for page in sorted(REPO_ROOT.glob('docs/*.md')):
        name = page.relative_to(REPO_ROOT).as_posix()
        assert links.count(name) == 1, f'README links {name} {links.count(name)} times, not once'


def test_the_check_finds_what_is_wrong(tmp_path):
    """The checker itself: a misspelt option, a missing path and a missing target fail."""
    page = tmp_path / 'page.md'
    page.write_text('```bash\npython tools/train.py configs/maple/base2novel_dtd.py --sed 1 \\\n'
                    '    --work-dir w   # comment --nope\nbash tools/no_such.sh\nmake demoo\n```\n'
                    'Inline: `python tools/test.py configs/none.py`.\n')
    found = [p for _, c in commands(page) for argv in words(c) for p in problems_of(argv)]
    assert found == [
        'tools/train.py has no option --sed', 'tools/no_such.sh does not exist',
        'Makefile has no target demoo', 'configs/none.py does not exist'
    ]


# -- method lists and stated facts -------------------------------------------------------
#: {config folder: model type} of every method (maple_mm/method_zoo.py): the one list.
METHOD_FOLDERS = method_folders()
_NUMBER_WORDS = ('one two three four five six seven eight nine ten eleven twelve thirteen '
                 'fourteen fifteen').split()
#: A count of the project's methods ("all seven methods", "The 9 methods"), not of some methods
#: an example uses ("a sweep of two methods").
_METHOD_COUNT = re.compile(
    r'(?:^|[.:] |\b(?:all|the|these|its|our|ships|implements|supports|covers) )(\d+|' +
    '|'.join(_NUMBER_WORDS) + r') (?:prompting )?methods\b', re.I)
_CHOICES = re.compile(r'(?<![\w-])(--[a-z][\w-]*)[ =]\[?\{?([\w.-]+(?:[|,][\w.-]+)+)\}?\]?')
_CODE_SPAN = re.compile(r'`([^`\n]+)`')


def _words(text: str) -> str:
    """Lowercase words separated by single spaces, padded: ' zero shot clip coop '."""
    return ' ' + ' '.join(re.sub(r'[^a-z0-9]+', ' ', text.lower()).split()) + ' '


def methods_named(text: str) -> set:
    """The method folders ``text`` names: by folder, by model type, as whole words
    (``zero-shot CLIP``, ``deep language prompting``, ``KgCoOp`` but not its ``CoOp``)."""
    words = _words(text)
    return {
        folder
        for folder, model_type in METHOD_FOLDERS.items()
        if any(f' {name} ' in words for name in (_words(folder).strip(), model_type.lower()))
    }


def tables(page: Path) -> Iterator[Tuple[int, List[str], List[List[str]]]]:
    """(line number, header cells, body rows) of every Markdown table of the page."""
    lines = page.read_text(encoding='utf-8').splitlines()
    number = 0
    while number < len(lines) - 1:
        if lines[number].startswith('|') and re.match(r'^\|[-:| ]+\|$', lines[number + 1]):
            header = [c.strip() for c in lines[number].strip('|').split('|')]
            rows, row = [], number + 2
            while row < len(lines) and lines[row].startswith('|'):
                rows.append([c.strip() for c in lines[row].strip('|').split(' | ')])
                row += 1
            yield number + 1, header, rows
            number = row
        else:
            number += 1


def method_list_problems(page: Path) -> List[str]:
    """Method tables and lists of method folders that miss a method, and method counts."""
    found = []
    for number, header, rows in tables(page):
        if header[0].lower().startswith('method'):
            missing = set(METHOD_FOLDERS) - set().union(*(methods_named(r[0]) for r in rows))
            if missing:
                found.append(f'{page_id(page)}:{number}: the method table has no row for '
                             f'{sorted(missing)}')
    for number, line in enumerate(page.read_text(encoding='utf-8').splitlines(), 1):
        for span in _CODE_SPAN.findall(line):
            listed = set(re.split(r'[\s|,]+', span.strip())) & set(METHOD_FOLDERS)
            if len(listed) >= 3 and '--' not in span and listed != set(METHOD_FOLDERS):
                found.append(f'{page_id(page)}:{number}: `{span}` lists method folders but '
                             f'not {sorted(set(METHOD_FOLDERS) - listed)}')
        for count in _METHOD_COUNT.findall(line):
            found.append(f'{page_id(page)}:{number}: "{count} methods" goes stale when a method '
                         'is added; say which (every method, ...)')
    start = 1
    for paragraph in page.read_text(encoding='utf-8').split('\n\n'):
        types = set(_CODE_SPAN.findall(paragraph)) & set(METHOD_FOLDERS.values())
        if len(types) >= 3 and types != set(METHOD_FOLDERS.values()):
            found.append(f'{page_id(page)}:{start}: the paragraph lists model types but not '
                         f'{sorted(set(METHOD_FOLDERS.values()) - types)}')
        start += paragraph.count('\n') + 2
    return found


@pytest.mark.parametrize('page', PAGES, ids=page_id)
def test_every_method_list_names_every_method(page):
    """A table whose first column is the method, and a code span listing method folders,
    name every method of maple_mm/method_zoo.py; no page counts the methods."""
    problems = method_list_problems(page)
    assert not problems, '\n'.join(problems)


@lru_cache(maxsize=None)
def tool_choices(script: str) -> dict:
    """``{option: (choices, default)}`` of the tool's options that list their choices."""
    module = load_tool(script)

    def capture(parser, *args, **kwargs):
        raise _Parser(parser)

    with mock.patch.object(argparse.ArgumentParser, 'parse_args', capture):
        try:
            (getattr(module, 'parse_args', None) or module.main)([])
        except _Parser as found:
            parser = found.args[0]
    choices = {}
    for option, values in re.findall(r'(?<![\w-])(--[\w-]+) \[?\{([^}]*)\}', parser.format_help()):
        default = parser.get_default(option[2:].replace('-', '_'))
        choices.setdefault(option, (frozenset(values.split(',')), default))
    return choices


def tool_scripts() -> List[str]:
    return sorted(
        p.relative_to(REPO_ROOT).as_posix() for p in REPO_ROOT.glob('tools/**/*.py')
        if not p.name.startswith('_'))


def choice_problems(page: Path) -> List[str]:
    """Each documented ``--option a|b|c`` lists the choices of a tool that has the option:
    all of them but its default."""
    found = []
    for number, line in enumerate(page.read_text(encoding='utf-8').splitlines(), 1):
        for option, values in _CHOICES.findall(line):
            documented = frozenset(re.split(r'[|,]', values))
            tools = [
                tool_choices(script)[option] for script in tool_scripts()
                if option in tool_choices(script)
            ]
            if tools and not any(documented <= choices and choices - {default} <= documented
                                 for choices, default in tools):
                found.append(f'{page_id(page)}:{number}: {option} {"|".join(sorted(documented))}'
                             f' is not what the tools take: ' +
                             '; '.join('|'.join(sorted(c)) + f' (default {d})' for c, d in tools))
    return found


@pytest.mark.parametrize('page', PAGES, ids=page_id)
def test_documented_option_choices_are_the_tools(page):
    problems = choice_problems(page)
    assert not problems, '\n'.join(problems)


def test_the_method_choice_and_path_checks_find_what_is_wrong(tmp_path):
    folders, types = list(METHOD_FOLDERS), list(METHOD_FOLDERS.values())
    page = tmp_path / 'page.md'
    page.write_text(
        f'| method | x |\n|---|---|\n| {folders[0].replace("_", "-")} | 1 |\n| {types[1]} | 2 |\n'
        f'\nFolders `{" ".join(folders[:3])}`; all seven methods; a sweep of two methods; '
        f'`{types[0]}`, `{types[1]}`, `{types[2]}`.\n'
        '`--amp [bf16|fp16]`, `--precision fp32|fp16|bf16|amp`.\n'
        'GPA: `maple_mm/engine/gpa_hook.py`, not the reference\'s '
        '`configs/trainers/x.yaml`; `configs/<method>/README.md`.\n')
    problems = method_list_problems(page) + choice_problems(page) + path_problems(page)
    assert len(problems) == 6, problems
    assert f'has no row for {sorted(set(folders) - set(folders[:2]))}' in problems[0]
    assert f'but not {sorted(set(folders) - set(folders[:3]))}' in problems[1]
    assert '"seven methods" goes stale' in problems[2]
    missing_types = sorted(set(types) - set(types[:3]))
    assert f'page.md:6: the paragraph lists model types but not {missing_types}' in problems[3]
    assert '--amp bf16|fp16 is not what the tools take: auto|bf16|fp16' in problems[4]
    assert problems[5] == 'page.md:8: maple_mm/engine/gpa_hook.py does not exist'


def path_problems(page: Path) -> List[str]:
    """This repository's paths written as code in the page's prose that do not exist.

    Only paths no reference repository shares are checked: the package, the tests and
    the configs of ``_base_`` and of the method folders (the references' own
    ``configs/trainers/...`` are named too). Placeholders such as ``<method>`` and
    globs are read as patterns.
    """
    ours = re.compile(r'^(maple_mm|tests|configs/(_base_|' + '|'.join(METHOD_FOLDERS) + '))/')
    found = []
    text = re.sub(
        r'```.*?```',
        lambda m: '\n' * m.group(0).count('\n'),
        page.read_text(encoding='utf-8'),
        flags=re.S)
    for number, line in enumerate(text.splitlines(), 1):
        for span in _CODE_SPAN.findall(line):
            for token in span.split():
                path = token.strip('(),;:').split('#')[0].split('::')[0]
                if not ours.match(path) or '...' in path:
                    continue
                pattern = re.sub(r'<[^>]*>|\{[^}]*\}|\bCONFIG\b|\bCKPT\b', '*', path)
                if not glob.glob(str(REPO_ROOT / pattern.rstrip('/'))):
                    found.append(f'{page_id(page)}:{number}: {path} does not exist')
    return found


@pytest.mark.parametrize('page', PAGES, ids=page_id)
def test_every_path_named_in_the_prose_exists(page):
    problems = path_problems(page)
    assert not problems, '\n'.join(problems)


def test_launcher_environment_and_its_defaults_are_documented():
    """Each variable the launch scripts read (``VAR=${VAR:-default}``) is in distributed.md with
    its default, and PYTHON with the interpreter tools/_python.sh picks."""
    text = ' '.join((REPO_ROOT / 'docs' / 'distributed.md').read_text(encoding='utf-8').split())
    problems = []
    for script in sorted((REPO_ROOT / 'tools').glob('*.sh')):
        for name, default in re.findall(r'^(\w+)=\$\{\1:-(.*)\}$',
                                        script.read_text(encoding='utf-8'), re.M):
            described = re.search(rf'`{name}` \(((?:[^()]|\([^()]*\))*)\)', text)
            default = {'$((GPUS < 8 ? GPUS : 8))': 'min(GPUS, 8)', '': ''}.get(default, default)
            if not described or default not in described.group(1):
                problems.append(f'{script.name}: {name} (default {default!r})')
    python = (REPO_ROOT / 'tools' / '_python.sh').read_text(encoding='utf-8')
    assert '.venv/bin/python' in python and 'PYTHON=python' in python
    described = re.search(r'`PYTHON` \(((?:[^()]|\([^()]*\))*)\)', text)
    assert described and '.venv/bin/python' in described.group(1) and \
        '`python` on `PATH`' in described.group(1)
    assert not problems, 'not in docs/distributed.md with its default: ' + ', '.join(problems)


def test_tool_descriptions_name_every_method_or_none():
    """A tool's --help line (its docstring's first line) serves every method: 'Train MaPLe ...'
    for a tool that trains any config misleads."""
    import ast
    problems = []
    for script in tool_scripts():
        doc = ast.get_docstring(ast.parse((REPO_ROOT / script).read_text(encoding='utf-8'))) or ''
        first = doc.strip().splitlines()[0] if doc.strip() else ''
        # The package's name and the CoOp code base's data protocol are no method.
        named = methods_named(DATA_PROTOCOL.sub('', first.replace('maple_mm', '')))
        if named and named != set(METHOD_FOLDERS):
            problems.append(f'{script}: "{first}" names {sorted(named)} only')
    assert not problems, '\n'.join(problems)


def test_the_layout_names_every_module_and_tool():
    """docs/development.md's layout block names each module of maple_mm/ (but the methods'
    own: a method is its own files) and each script of tools/, and names no file that does not
    exist."""
    text = (REPO_ROOT / 'docs' / 'development.md').read_text(encoding='utf-8')
    block = text.split('## Layout', 1)[1].split('```')[1]
    named = set(re.findall(r'[\w/]+\.(?:py|sh)\b', block))
    methods = {REPO_ROOT / meta['Collections'][0]['Code']['URL'] for meta in metafiles().values()}
    files = [
        p for p in (*REPO_ROOT.glob('maple_mm/**/*.py'), *REPO_ROOT.glob('tools/**/*.py'),
                    *REPO_ROOT.glob('tools/*.sh')) if p.name != '__init__.py' and p not in methods
    ]
    missing = [
        p.relative_to(REPO_ROOT).as_posix() for p in files
        if not any(p.as_posix().endswith('/' + name) for name in named)
    ]
    assert not missing, f'docs/development.md does not name {missing}'
    everything = {
        p.relative_to(REPO_ROOT).as_posix()
        for folder in ('maple_mm', 'tools', 'tests', 'configs')
        for p in (REPO_ROOT / folder).rglob('*') if p.suffix in ('.py', '.sh')
    }
    unknown = [
        name for name in named
        if not any(path == name or path.endswith('/' + name) for path in everything)
    ]
    assert not unknown, f'docs/development.md names files that do not exist: {unknown}'

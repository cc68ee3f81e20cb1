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

from .conftest import REPO_ROOT, load_tool

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
    return page.relative_to(REPO_ROOT).as_posix()


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

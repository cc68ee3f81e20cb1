"""The rules `make lint` adds to flake8 / isort / yapf (tests/lint_repo.py) find what they
are for: an import cycle, a :mod: link to no module, a stale model-index.yml."""
from pathlib import Path

from maple_mm.method_zoo import MODEL_INDEX, model_index_text
from . import lint_repo


def write_package(root: Path, files: dict) -> dict:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return lint_repo.package_modules(root / 'pkg')


def test_import_cycles_count_imports_inside_functions_too(tmp_path):
    modules = write_package(
        tmp_path, {
            'pkg/__init__.py': '',
            'pkg/a.py': 'from .b import f\n',
            'pkg/b.py': 'def f():\n    from pkg.a import g\n',
            'pkg/c.py': 'from . import a\n',
        })
    assert lint_repo.import_cycles(modules) == [['pkg.a', 'pkg.b']]


def test_module_links_name_existing_modules(tmp_path):
    modules = write_package(
        tmp_path, {
            'pkg/__init__.py': '',
            'pkg/sub/__init__.py': '',
            'pkg/sub/a.py': '"""See :mod:`.b`, :mod:`pkg.sub.a` and :mod:`~pkg.gone`."""\n',
            'pkg/sub/b.py': '',
        })
    lint_repo.REPO_ROOT, root = tmp_path, lint_repo.REPO_ROOT
    try:
        found = list(lint_repo.module_links(modules, [tmp_path / 'pkg/sub/a.py']))
    finally:
        lint_repo.REPO_ROOT = root
    assert found == ['pkg/sub/a.py: :mod: link to pkg.gone, no such module']


def test_the_model_index_is_generated_from_the_metafiles():
    assert MODEL_INDEX.read_text(encoding='utf-8') == model_index_text()

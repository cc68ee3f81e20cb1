"""The project's own lint rules, run by ``make lint`` after flake8, isort and yapf.

    python -m tests.lint_repo          # print every problem; exit 1 if there is one
    python -m tests.lint_repo --fix    # also rewrite the generated model-index.yml

Rules on the layout of files rather than on behaviour (that is what the tests check):

- the config zoo is laid out as documented: every config builds, reads top to bottom
  with at most two levels of inheritance, names its method folder and protocol, its
  runner is found by mmpretrain's own tools, each recipe cites one reference source,
  each shared fact lives in one base file, and a dataset config is a few lines;
- generated files are up to date (``model-index.yml``, from the metafiles);
- maple_mm's modules import each other without a cycle, and every ``:mod:`` link of
  a docstring names a module that exists; every benchmark's section exists in
  docs/datasets.md.
"""
import argparse
import ast
import re
import sys
import warnings
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Set

# mmcv-lite has no compiled ops and says so on every import; nothing here needs them.
warnings.filterwarnings('ignore', message='Fail to import ``MultiScaleDeformableAttention``')

from tests.test_configs.zoo import (  # noqa: E402  isort: skip  (after the filter)
    BASE_DIR, CONFIGS, DATASETS, DEMO_BASE, DEMOS, METHODS, all_leaf_configs, ancestors, base_files,
    built, clip_leaf_configs, inheritance_depth, leaf_configs, protocol_of)

REPO_ROOT = CONFIGS.parent
PACKAGE = REPO_ROOT / 'maple_mm'

# -- the config zoo ---------------------------------------------------------------


def experiment_configs() -> List[Path]:
    return [*all_leaf_configs(), *DEMOS]


def method_folders_hold_their_configs() -> Iterator[str]:
    """Each method folder holds exactly its configs, README.md, metafile.yml and demo; the
    other folders are test-time methods' (tests/test_configs/test_test_time_configs.py)."""
    from maple_mm.method_zoo import test_time_folders
    folders = {p.name for p in CONFIGS.iterdir() if p.is_dir()} - {'_base_'}
    expected = set(METHODS) | set(test_time_folders(CONFIGS))
    if folders != expected:
        yield f'configs/: config folders {sorted(folders)}, metafiles name {sorted(expected)}'
    for folder in METHODS:
        expected = {p.name
                    for p in leaf_configs(folder)
                    } | {'README.md', 'metafile.yml', 'demo_base2novel_fashion_mnist.py'}
        found = {p.name for p in (CONFIGS / folder).iterdir()}
        if found != expected:
            yield (f'configs/{folder}/: missing {sorted(expected - found)}, '
                   f'unexpected {sorted(found - expected)}')


def configs_build_and_name_their_method_and_protocol() -> Iterator[str]:
    """Every config builds; its model type is its folder's method, its protocol its name's;
    mmpretrain's own tools find its runner; a top-level ``variant`` (the run's name) is text."""
    from mmengine.registry import RUNNERS as ROOT_RUNNERS

    from maple_mm.engine.runners.maple_runner import MapleRunner
    from tests.method_rows import trained_folders

    # A method that learns nothing (zero-shot) has no few-shot configs; the recipes on other
    # CLIPs are those of the methods' rows.
    expected_count = (
        len(METHODS) * (len(DATASETS) + 3) + len(trained_folders()) * len(DATASETS) +
        sum(len(clip_leaf_configs(folder)) for folder in METHODS))
    if len(experiment_configs()) != expected_count:
        yield f'configs/: {len(experiment_configs())} configs, expected {expected_count}'
    for path in experiment_configs():
        where = path.relative_to(REPO_ROOT)
        try:
            cfg = built(path)
        except Exception as err:  # noqa: BLE001  reported, the other configs still checked
            yield f'{where}: does not build ({type(err).__name__}: {err})'
            continue
        method = METHODS[path.parent.name]
        if cfg.model.type != method:
            yield f'{where}: model type {cfg.model.type}, its folder holds {method}'
        protocol = 'base2novel' if path in DEMOS else protocol_of(path)
        if cfg.get('protocol') != protocol:
            yield f'{where}: protocol {cfg.get("protocol")!r}, its name says {protocol!r}'
        if not cfg.test_dataloader.dataset.get('type'):
            yield f'{where}: the test dataset has no type'
        if ROOT_RUNNERS.get(cfg.runner_type) is not MapleRunner:  # as mmpretrain's tools look
            yield f'{where}: runner_type {cfg.runner_type!r} is not found in mmengine\'s registry'
        if 'method' in cfg:
            yield f'{where}: sets `method`; the method is the model type'
        if not isinstance(cfg.get('variant', ''), str):
            yield f'{where}: a top-level `variant` must be the run\'s name, not a set of fields'


def configs_inherit_at_most_two_levels() -> Iterator[str]:
    """Leaf, then one recipe, then the runtime, CLIP, model, protocol and schedule files; a
    demo also takes the demo's data and CLIP (one file, no bases of its own)."""
    runtime = (BASE_DIR / 'default_runtime.py').resolve()
    for path in experiment_configs():
        where = path.relative_to(REPO_ROOT)
        if inheritance_depth(path) > 2:
            yield f'{where}: {inheritance_depth(path)} levels of inheritance (at most 2)'
        recipe, *demo = base_files(path)
        if demo != ([DEMO_BASE.resolve()] if path in DEMOS else []):
            yield f'{where}: bases {[b.name for b in base_files(path)]}'
        if recipe.parent != (BASE_DIR / 'recipes').resolve():
            yield f'{where}: its first base is not a recipe of configs/_base_/recipes/'
        if runtime not in ancestors(path):
            yield f'{where}: does not inherit configs/_base_/default_runtime.py'


def recipes_are_named_and_cite_one_source() -> Iterator[str]:
    """Every recipe is used, is named <method>_<protocol>[_<clip>].py, cites one reference
    source and inherits the runtime, the CLIP, its method's model and its protocol; a recipe
    on another CLIP takes it from clip_backbones.py (clip_vit_b16.py holds every CLIP's
    inputs)."""
    from maple_mm.config_names import CONFIG_CLIPS, DEFAULT_CLIP
    recipes = sorted((BASE_DIR / 'recipes').glob('*.py'))
    used = {base for path in all_leaf_configs() for base in base_files(path)}
    for recipe in sorted({r.resolve() for r in recipes} - used):
        yield f'{recipe.relative_to(REPO_ROOT.resolve())}: no config uses it'
    for recipe in recipes:
        where = recipe.relative_to(REPO_ROOT)
        text = recipe.read_text()
        # A source line may go on in comment lines indented by 2 more spaces.
        sources = [
            re.sub(r'\n#\s+', ' ', m)
            for m in re.findall(r'^# Source: (.+(?:\n#   .+)*)$', text, re.M)
        ]
        if len(sources) != 1:
            yield f'{where}: {len(sources)} "# Source:" lines, one expected'
            continue
        trainer_config = re.match(r'([\w.]+/)?configs/trainers/', sources[0])
        if not (trainer_config or 'zeroshot.sh' in sources[0]):
            yield f'{where}: its source is not a reference trainer config: {sources[0]}'
        if not sources[0].endswith(')'):
            yield f'{where}: its source does not name the reference repository in (...)'
        named = next(((p, clip) for p in ('base2novel', 'few_shot', 'cross_dataset')
                      for clip in ('', *CONFIG_CLIPS)
                      if recipe.stem.endswith(f'_{p}_{clip}' if clip else f'_{p}')), None)
        if named is None:
            yield f'{where}: not named <method>_<protocol>[_<clip>].py'
            continue
        protocol, clip = named
        method = recipe.stem[:recipe.stem.rindex(f'_{protocol}')]
        bases = {b.relative_to(BASE_DIR.resolve()).as_posix() for b in base_files(recipe)}
        needed = {
            'default_runtime.py', 'clip_vit_b16.py', f'models/{method}.py',
            f'protocols/{protocol}.py'
        }
        if not needed <= bases:
            yield f'{where}: does not inherit {sorted(needed - bases)}'
        default = not clip or CONFIG_CLIPS[clip] == DEFAULT_CLIP
        uses = re.findall(r'backbone=\{\{_base_\.(\w+)\}\}', text)
        if uses != ['clip_backbone' if default else f'clip_{clip}']:
            yield f'{where}: its backbone is {uses}, its name says {clip or "the default CLIP"}'
        if ('clip_backbones.py' in bases) == default:
            yield (f'{where}: a recipe on another CLIP than {DEFAULT_CLIP} (and only one) '
                   'inherits clip_backbones.py')


#: A shared fact, written once: the one base file it is in.
SHARED_FACTS = {
    'momentum=0.9': 'schedules/sgd_warmup_cosine.py',
    'weight_decay=5e-4': 'schedules/sgd_warmup_cosine.py',
    'warmup_value=1e-5': 'schedules/sgd_warmup_cosine.py',
    "model_name='ViT-B-16'": 'clip_vit_b16.py',
    "model_name='RN50'": 'clip_backbones.py',
    "model_name='RN101'": 'clip_backbones.py',
    "model_name='ViT-B-32'": 'clip_backbones.py',
    '0.48145466': 'clip_vit_b16.py',
    "'RandomResizedCrop'": 'clip_vit_b16.py',
    'batch_size=100': 'clip_vit_b16.py',
    "type='Accuracy'": 'default_runtime.py',
    "subsample='novel'": 'protocols/base2novel.py',
    "'CoOpImageNetR'": 'protocols/cross_dataset.py',
    'runner_type': 'default_runtime.py',
}


def shared_facts() -> Dict[str, str]:
    """:data:`SHARED_FACTS`, and each method's learner type: in its model file alone."""
    from tests.method_rows import method_rows
    return dict(
        SHARED_FACTS, **{
            f"type='{rows.recipes['base2novel'].learner['type']}'": f'models/{folder}.py'
            for folder, rows in method_rows().items()
        })


def each_shared_fact_lives_in_one_base_file() -> Iterator[str]:
    """(The demo changes the recipe's crops on purpose.) A recipe's batch is stated once (its
    auto_scale_lr base is the train batch), and no dataset config names a benchmark's folder
    (the dataset's record in the catalog does)."""
    configs = [p for p in CONFIGS.rglob('*.py') if p != DEMO_BASE]
    for fact, home in shared_facts().items():
        files = sorted(p.relative_to(BASE_DIR).as_posix() for p in configs if fact in p.read_text())
        if files != [home]:
            yield f'{fact!r} is in {files}, only configs/_base_/{home} should say it'
    for path in configs:
        text = path.read_text()
        if re.search(r'base_batch_size\s*=\s*\d', text):
            yield f'{path.relative_to(REPO_ROOT)}: states the batch twice (base_batch_size)'
        if "data_root='data/" in text:
            yield (f'{path.relative_to(REPO_ROOT)}: sets a benchmark\'s data_root; its record in '
                   'maple_mm/datasets/catalog.py knows the folder')


def dataset_configs_are_a_few_lines() -> Iterator[str]:
    """A dataset config names its dataset (and at most one recipe value, with its source; its
    own epochs and shot-dependent values; a class-specific context, its number of classes)."""
    for path in all_leaf_configs():
        text = path.read_text()
        code = [line for line in text.splitlines() if line.strip() and not line.startswith('#')]
        limit = 4
        if '# Source: ' in text:  # one per-dataset recipe value, with its source
            limit += 1
        # A dataset's own epochs, and values that follow its shots: a line each.
        for key in ('train_cfg =', 'values_by_shots ='):
            limit += any(line.startswith(key) for line in code)
        if 'class_specific=True' in text:  # a context per class: the dataset's classes
            limit += 1
        if len(code) > limit:
            yield f'{path.relative_to(REPO_ROOT)}: {len(code)} lines of code, at most {limit}'


# -- generated files ----------------------------------------------------------------


def model_index_is_generated(fix: bool = False) -> Iterator[str]:
    """model-index.yml is what maple_mm.method_zoo.model_index_text() makes of the metafiles."""
    from maple_mm.method_zoo import MODEL_INDEX, model_index_text
    expected = model_index_text()
    if MODEL_INDEX.is_file() and MODEL_INDEX.read_text(encoding='utf-8') == expected:
        return
    if fix:
        MODEL_INDEX.write_text(expected, encoding='utf-8')
        print(f'{MODEL_INDEX.name}: regenerated')
        return
    yield f'{MODEL_INDEX.name}: not generated from the metafiles; run `make format`'


# -- the package's modules ----------------------------------------------------------


def package_modules(root: Path = PACKAGE) -> Dict[str, Path]:
    """{dotted module name: file} of every module of the package at ``root``."""
    modules = {}
    for path in sorted(root.rglob('*.py')):
        parts = list(path.relative_to(root.parent).with_suffix('').parts)
        if parts[-1] == '__init__':
            parts = parts[:-1]
        modules['.'.join(parts)] = path
    return modules


def imported_modules(name: str, path: Path, modules: Dict[str, Path]) -> Set[str]:
    """The package's modules that module ``name`` imports anywhere (also inside functions)."""
    package = name if path.name == '__init__.py' else name.rpartition('.')[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
        targets = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                parts = package.split('.')
                parts = parts[:len(parts) - node.level + 1]
                base = '.'.join(parts + ([base] if base else []))
            targets = [base] + [f'{base}.{alias.name}' for alias in node.names]
        found |= {t for t in targets if t in modules and t != name}
    return found


def import_cycles(modules: Dict[str, Path]) -> List[List[str]]:
    """The cycles of the import graph (its strongly connected components of 2 or more)."""
    graph = {name: imported_modules(name, path, modules) for name, path in modules.items()}
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    cycles = []

    def visit(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def no_import_cycle() -> Iterator[str]:
    for cycle in import_cycles(package_modules()):
        yield f'maple_mm: import cycle {" <-> ".join(cycle)}'


_MOD_LINK = re.compile(r':mod:`~?([\w.]+)`')


def module_links(modules: Dict[str, Path], files: List[Path]) -> Iterator[str]:
    """Every ``:mod:`` link of ``files`` names a module of ``modules`` (relative ones too)."""
    by_path = {path: name for name, path in modules.items()}
    for path in files:
        name = by_path.get(path, '')
        package = name if path.name == '__init__.py' else name.rpartition('.')[0]
        for link in _MOD_LINK.findall(path.read_text(encoding='utf-8')):
            target = link
            if link.startswith('.'):
                level = len(link) - len(link.lstrip('.'))
                parts = package.split('.')
                target = '.'.join(parts[:len(parts) - level + 1] + [link.lstrip('.')])
            if target not in modules:
                yield f'{path.relative_to(REPO_ROOT)}: :mod: link to {link}, no such module'


def module_links_resolve() -> Iterator[str]:
    modules = package_modules()
    yield from module_links(modules, [*modules.values(), *sorted(REPO_ROOT.glob('tools/**/*.py'))])


def benchmarks_have_their_docs_section() -> Iterator[str]:
    """The errors of a benchmark point to docs/datasets.md#<its name>: that heading exists."""
    from maple_mm.datasets.catalog import BENCHMARKS
    headings = re.findall(r'^#+ (.+)$', (REPO_ROOT / 'docs' / 'datasets.md').read_text(), re.M)
    anchors = {re.sub(r'[^\w\- ]', '', h).strip().lower().replace(' ', '-') for h in headings}
    for key, benchmark in BENCHMARKS.items():
        if benchmark.docs_anchor not in anchors:
            yield f'docs/datasets.md: no section #{benchmark.docs_anchor} for {key}'


RULES: List[Callable[[], Iterator[str]]] = [
    method_folders_hold_their_configs,
    configs_build_and_name_their_method_and_protocol,
    configs_inherit_at_most_two_levels,
    recipes_are_named_and_cite_one_source,
    each_shared_fact_lives_in_one_base_file,
    dataset_configs_are_a_few_lines,
    no_import_cycle,
    module_links_resolve,
    benchmarks_have_their_docs_section,
]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--fix', action='store_true', help='rewrite the generated files')
    args = parser.parse_args(argv)
    problems = list(model_index_is_generated(fix=args.fix))
    for rule in RULES:
        problems += list(rule())
    for problem in problems:
        print(problem)
    print(f'lint_repo: {len(problems)} problems' if problems else 'lint_repo: ok')
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())

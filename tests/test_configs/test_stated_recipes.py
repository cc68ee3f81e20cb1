"""Every recipe figure the docs state is the shipped configs' own.

Read from the recipe tables of docs/benchmarks.md (a row per method and protocols) and of each
method folder's README.md (a row per protocol), the header comment of every config and each
metafile's training data: lr, train and test batch, epochs (with their ImageNet, few-shot and
per-K exceptions), shots and the GPA hook's mean and std, each compared with the configs
loaded as the tools load them. The reference values themselves are checked in
test_reference_recipes.py; this keeps the words in line with the files.
"""
import re
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest
import yaml
from mmengine.config import Config

from maple_mm.datasets.catalog import BENCHMARKS
from maple_mm.method_zoo import DEMO_CONFIG
from ..conftest import REPO_ROOT
from ..test_docs import _CODE_SPAN, METHOD_FOLDERS, methods_named, tables
from .zoo import CONFIGS, leaf_configs

PROTOCOLS = {
    'base-to-novel': 'base2novel',
    'few-shot': 'few_shot',
    'cross-dataset': 'cross_dataset'
}
#: The example method (tests/test_method_files.py).
EXAMPLE = 'maple'
#: The dataset whose config stands for a protocol's "main" figures (one without exceptions).
MAIN_DATASET = 'caltech101'
NAMES = {b.name: key for key, b in BENCHMARKS.items()}
_NUMBER = r'(\d+(?:\.\d+)?(?:e-?\d+)?)'
#: (name, pattern) of every statement a recipe cell may make.
STATEMENTS = [
    ('epochs_by_shots',
     re.compile(r'((?:\d+ / )+\d+) epochs for (?:K = )?((?:\d+ / )+\d+)(?: shots)?')),
    # '50 epochs for 1 shot, 100 for 2 and 4, 200 for 8 and 16'
    ('epochs_by_shots_words',
     re.compile(r'(\d+) epochs for (\d+(?: and \d+)*) shots?((?:, \d+ for \d+(?: and \d+)*)+)')),
    ('imagenet_epochs', re.compile(r'ImageNet (\d+)(?: at every K)?(?=\)|;|,|$)')),
    ('few_shot_epochs', re.compile(r'\(few-shot (\d+)\)')),
    ('cross_dataset_shots',
     re.compile(r'(\d+) shots of all ImageNet classes|on (\d+) ImageNet shots')),
    ('base2novel_shots', re.compile(r'(\d+) shots of the base classes')),
    ('gpa_exception', re.compile(r'\(([A-Za-z0-9, ]+): mean (\d+), std (\d+)\)')),
    ('gpa', re.compile(r'GPA mean (\d+), std (\d+)')),
    ('test_batch', re.compile(r'test batch (\d+)')),
    ('lr', re.compile(r'\blr ' + _NUMBER)),
    ('batch', re.compile(r'(?<!test )\bbatch (\d+)')),
    ('epochs', re.compile(r'(?<![/\d] )\b(\d+)(?: epochs|-epoch)\b')),
]


def statements(cell: str) -> Tuple[Dict[str, list], str]:
    """The statements of a recipe cell (name -> matches) and what is left of it."""
    found: Dict[str, list] = {}
    for name, pattern in STATEMENTS:
        for match in pattern.finditer(cell):
            found.setdefault(name, []).append([g for g in match.groups() if g is not None])
        cell = pattern.sub(' ', cell)
    return found, cell


@lru_cache(maxsize=None)
def config(folder: str, protocol: str, dataset: str, pattern: Optional[str] = None) -> Config:
    """A protocol's config of ``dataset`` (``pattern``: a file name with ``<dataset>``, for
    the configs a README row names, e.g. ``few_shot_rn50_<dataset>.py``)."""
    if pattern:
        name = pattern.replace('<dataset>', dataset)[:-len('.py')]
    else:
        name = 'cross_dataset_imagenet' if protocol == 'cross_dataset' else f'{protocol}_{dataset}'
    return Config.fromfile(str(CONFIGS / folder / f'{name}.py'))


def expand(span: str) -> List[str]:
    """The file names a configs cell's span stands for: ``{a,b}`` either, ``[x]`` optional."""
    match = re.search(r'\{([^{}]*)\}|\[([^\[\]]*)\]', span)
    if not match:
        return [span]
    options = match.group(1).split(',') if match.group(1) is not None else ['', match.group(2)]
    return [
        name for option in options
        for name in expand(span[:match.start()] + option + span[match.end():])
    ]


def named_configs(cell: str) -> Dict[str, List[str]]:
    """``{protocol: [file name pattern, ...]}`` of the configs a README row names
    (domain generalisation trains as cross-dataset)."""
    found: Dict[str, List[str]] = {}
    for span in _CODE_SPAN.findall(cell):
        for name in expand(span):
            protocol = next((p for p in (*PROTOCOLS.values(), 'domain_generalization')
                             if name.startswith(p + '_') and name.endswith('.py')), None)
            if protocol:
                protocol = 'cross_dataset' if protocol == 'domain_generalization' else protocol
                found.setdefault(protocol, []).append(name)
    return found


def has(folder: str, protocol: str) -> bool:
    return any((CONFIGS / folder).glob(f'{protocol}_*.py'))


def epochs_by_shots(found: Dict[str, list]) -> List[Dict[int, int]]:
    """``{shots: epochs}`` of each epochs-by-shots statement of a cell."""
    tables = [
        dict(zip(map(int, by_shots.split(' / ')), map(int, by_epochs.split(' / '))))
        for by_epochs, by_shots in found.get('epochs_by_shots', [])
    ]
    for first, shots, rest in found.get('epochs_by_shots_words', []):
        table = {}
        for epochs, of in [(first, shots)] + re.findall(r', (\d+) for (\d+(?: and \d+)*)', rest):
            table.update({int(k): int(epochs) for k in of.split(' and ')})
        tables.append(table)
    return tables


def epochs_by_shots_of(cfg: Config) -> Optional[Dict[int, int]]:
    """The config's epochs by shot count (``values_by_shots['max_epochs']``), if it has them."""
    return (cfg.get('values_by_shots') or {}).get('max_epochs')


def check(folder: str,
          protocols: List[str],
          cell: str,
          where: str,
          patterns: Optional[Dict[str, List[str]]] = None) -> List[str]:
    """What in ``cell`` differs from the configs of ``folder`` for ``protocols`` (or for the
    file name ``patterns`` of each protocol, :func:`named_configs`)."""
    found, _ = statements(cell)
    problems = []

    def expect(what, stated, actual):
        if stated != actual:
            problems.append(f'{where}: {what} is {actual} in the configs, not {stated} '
                            f'({folder}, {cell!r})')

    every = [(p, name) for p in protocols for name in (patterns or {}).get(p, [None])]
    for protocol, pattern in every:
        main = config(folder, protocol, MAIN_DATASET, pattern)
        for (value, ) in found.get('lr', []):
            expect(f'{protocol} lr', float(value), main.optim_wrapper.optimizer.lr)
        for (value, ) in found.get('batch', []):
            expect(f'{protocol} batch', int(value), main.train_dataloader.batch_size)
        for (value, ) in found.get('test_batch', []):
            expect(f'{protocol} test batch', int(value), main.test_dataloader.batch_size)
        epochs = found.get('epochs', [])
        if protocol == 'few_shot' and 'few_shot_epochs' in found:
            epochs = found['few_shot_epochs']
        for (value, ) in epochs:
            expect(f'{protocol} epochs', int(value), main.train_cfg.max_epochs)
        for stated in epochs_by_shots(found):
            expect(f'{protocol} epochs by shots', stated, epochs_by_shots_of(main))
        if protocol != 'cross_dataset':
            imagenet = config(folder, protocol, 'imagenet', pattern)
            for (value, ) in found.get('imagenet_epochs', []):
                expect(f'{protocol} ImageNet epochs', int(value), imagenet.train_cfg.max_epochs)
                by_shots = epochs_by_shots_of(imagenet)
                if by_shots:
                    expect(f'{protocol} ImageNet epochs_by_shots', {int(value)},
                           set(by_shots.values()))
        for (mean, std) in found.get('gpa', []):
            gpa = main.default_hooks.gpa
            expect(f'{protocol} GPA', (int(mean), int(std)), (gpa.mean, gpa.std))
        for names, mean, std in found.get('gpa_exception', []):
            for name in names.split(', '):
                gpa = config(folder, protocol, NAMES[name], pattern).default_hooks.gpa
                expect(f'{protocol} GPA of {name}', (int(mean), int(std)), (gpa.mean, gpa.std))
    for name, protocol in (('cross_dataset_shots', 'cross_dataset'), ('base2novel_shots',
                                                                      'base2novel')):
        for value in found.get(name, []):
            for pattern in (patterns or {}).get(protocol, [None]):
                actual = config(folder, protocol, MAIN_DATASET,
                                pattern).train_dataloader.dataset.num_shots
                expect(f'{protocol} shots', int(value[0]), actual)
    return problems


def protocols_of(label: str, folder: str) -> List[str]:
    """The protocols a row's first cell names (all of the folder's for 'all protocols')."""
    named = [p for words, p in PROTOCOLS.items() if words in label]
    return [p for p in (named or list(PROTOCOLS.values())) if has(folder, p)]


def recipe_rows(page: Path, column: str, folder: str = None):
    """(line, folder, protocols, recipe cell, configs cell) of the page's tables with a
    ``column`` column (the configs cell: '' without a ``configs`` column)."""
    for number, header, rows in tables(page):
        if column not in header:
            continue
        for offset, row in enumerate(rows):
            (row_folder, ) = [folder] if folder else methods_named(row[0])
            configs = row[header.index('configs')] if 'configs' in header else ''
            yield number + 2 + offset, row_folder, protocols_of(row[0], row_folder), \
                row[header.index(column)], configs


BENCHMARKS_PAGE = REPO_ROOT / 'docs' / 'benchmarks.md'


def test_benchmarks_recipe_table_is_the_configs():
    rows = list(recipe_rows(BENCHMARKS_PAGE, 'recipe'))
    assert {folder for _, folder, _, _, _ in rows} == set(METHOD_FOLDERS)
    problems = []
    for number, folder, protocols, cell, _ in rows:
        where = f'docs/benchmarks.md:{number}'
        left = statements(cell)[1]
        if re.search(r'\d', left):  # every figure of this column is one the test reads
            problems.append(f'{where}: figures the test cannot read in {cell!r}: {left!r}')
        problems += check(folder, protocols, cell, where)
    assert not problems, '\n'.join(problems)


def demo_problems(page: Path) -> List[str]:
    """The demo table's config column (``coop/`` (batch 32, 200 epochs)) against each
    method's demo config: batch, epochs and lr as it trains them."""
    problems = []
    for number, folder, _, cell, _ in recipe_rows(page, 'config'):
        found, _ = statements(cell)
        cfg = Config.fromfile(str(CONFIGS / folder / DEMO_CONFIG))
        actual = {} if not cfg.get('train_dataloader') else dict(
            batch=cfg.train_dataloader.batch_size,
            epochs=cfg.train_cfg.max_epochs,
            lr=cfg.optim_wrapper.optimizer.lr)
        for name, convert in (('batch', int), ('epochs', int), ('lr', float)):
            for (value, ) in found.get(name, []):
                if convert(value) != actual.get(name):
                    problems.append(f'{page.name}:{number}: {folder}\'s demo trains {name} '
                                    f'{actual.get(name)}, not {value} ({cell!r})')
    return problems


def test_demo_table_states_what_each_demo_trains():
    assert not demo_problems(REPO_ROOT / 'docs' / 'demo.md')


def test_the_demo_check_finds_what_is_wrong(tmp_path):
    cfg = Config.fromfile(str(CONFIGS / EXAMPLE / DEMO_CONFIG))
    batch, epochs = cfg.train_dataloader.batch_size, cfg.train_cfg.max_epochs
    page = tmp_path / 'demo.md'
    page.write_text('| method | config | Base |\n|---|---|--:|\n'
                    f'| {EXAMPLE} | `{EXAMPLE}/` (batch {batch}, {epochs + 1} epochs) | 1 |\n')
    assert demo_problems(page) == [
        f"demo.md:3: {EXAMPLE}'s demo trains epochs {epochs}, not {epochs + 1} "
        f"('`{EXAMPLE}/` (batch {batch}, {epochs + 1} epochs)')"
    ]


@pytest.mark.parametrize('folder', METHOD_FOLDERS)
def test_readme_recipe_table_is_the_configs(folder):
    page = CONFIGS / folder / 'README.md'
    rows = list(recipe_rows(page, 'recipe', folder))
    assert rows, f'{page} has no recipe table'
    problems = []
    for number, _, protocols, cell, configs in rows:
        named = named_configs(configs)
        problems += check(folder,
                          list(named) or protocols, cell, f'configs/{folder}/README.md:{number}',
                          named)
    assert not problems, '\n'.join(problems)


@pytest.mark.parametrize('folder', METHOD_FOLDERS)
def test_config_headers_and_metafile_state_the_shots_trained(folder):
    """'(all classes, 16 shots)' at the top of a config, 'ImageNet, 4 shots of all classes' in
    its metafile entry: the shots its training set draws."""
    problems = []
    for path in leaf_configs(folder):
        header = ''.join(line for line in path.read_text().splitlines(keepends=True)
                         if line.startswith('#'))
        stated = re.findall(r'\b(\d+) shots\b', header)
        cfg = Config.fromfile(str(path))
        if stated and cfg.get('train_dataloader'):
            shots = cfg.train_dataloader.dataset.num_shots
            problems += [
                f'{path.name}: the header says {s} shots, it trains {shots}' for s in stated
                if int(s) != shots
            ]
    meta = yaml.safe_load((CONFIGS / folder / 'metafile.yml').read_text())
    for model in meta['Models']:
        stated = re.findall(r'\b(\d+) shots of all classes',
                            str((model.get('Metadata') or {}).get('Training Data')))
        if stated and model.get('Config'):
            cfg = Config.fromfile(str(REPO_ROOT / model['Config']))
            shots = cfg.train_dataloader.dataset.num_shots
            problems += [
                f'metafile {model["Name"]}: {s} shots, its config trains {shots}' for s in stated
                if int(s) != shots
            ]
    assert not problems, '\n'.join(problems)


def test_the_recipe_check_finds_what_is_wrong():
    assert statements('lr 0.002, batch 32, 50 / 100 / 100 / 200 / 200 epochs for K = 1 / 2 / 4 / '
                      '8 / 16 (ImageNet 50)')[0] == {
                          'epochs_by_shots': [['50 / 100 / 100 / 200 / 200', '1 / 2 / 4 / 8 / 16']],
                          'imagenet_epochs': [['50']],
                          'lr': [['0.002']],
                          'batch': [['32']]
                      }
    # The configs a README row names.
    assert expand('domain_generalization_{rn50,vit_b16}[_nctx4]_imagenet.py') == [
        'domain_generalization_rn50_imagenet.py', 'domain_generalization_rn50_nctx4_imagenet.py',
        'domain_generalization_vit_b16_imagenet.py',
        'domain_generalization_vit_b16_nctx4_imagenet.py'
    ]
    assert named_configs('`few_shot[_rn50]_<dataset>.py` + `--shots K`, '
                         '`domain_generalization_imagenet.py`') == {
                             'few_shot': ['few_shot_<dataset>.py', 'few_shot_rn50_<dataset>.py'],
                             'cross_dataset': ['domain_generalization_imagenet.py']
                         }
    assert epochs_by_shots(statements('50 / 100 epochs for 1 / 2 shots')[0]) == [{1: 50, 2: 100}]
    # Checked on the example method, and on the first whose few-shot configs train with GPA.
    main = config(EXAMPLE, 'base2novel', MAIN_DATASET)
    epochs = main.train_cfg.max_epochs
    imagenet = config(EXAMPLE, 'base2novel', 'imagenet').train_cfg.max_epochs
    cell = f'lr {main.optim_wrapper.optimizer.lr}, batch {main.train_dataloader.batch_size}, ' \
        f'{epochs + 1} epochs (ImageNet {imagenet + 1})'
    assert check(EXAMPLE, ['base2novel'], cell, 'x') == [
        f'x: base2novel epochs is {epochs} in the configs, not {epochs + 1} ({EXAMPLE}, {cell!r})',
        f'x: base2novel ImageNet epochs is {imagenet} in the configs, not {imagenet + 1} '
        f'({EXAMPLE}, {cell!r})'
    ]
    # Epochs by shots, in both wordings, against values_by_shots['max_epochs'].
    by_shots = next(
        f for f in METHOD_FOLDERS
        if has(f, 'few_shot') and epochs_by_shots_of(config(f, 'few_shot', MAIN_DATASET)))
    table = epochs_by_shots_of(config(by_shots, 'few_shot', MAIN_DATASET))
    shots = sorted(table)
    wrong = {**table, shots[0]: table[shots[0]] + 1}
    cells = [
        ' / '.join(str(wrong[k]) for k in shots) + ' epochs for K = ' + ' / '.join(map(str, shots)),
        f'{wrong[shots[0]]} epochs for {shots[0]} shot' + ''.join(f', {wrong[k]} for {k}'
                                                                  for k in shots[1:])
    ]
    for cell in cells:
        assert epochs_by_shots(statements(cell)[0]) == [wrong]
        assert check(by_shots, ['few_shot'], cell, 'w') == [
            f'w: few_shot epochs by shots is {table} in the configs, not {wrong} '
            f'({by_shots}, {cell!r})'
        ]
    shots = config(EXAMPLE, 'cross_dataset', MAIN_DATASET).train_dataloader.dataset.num_shots
    assert check(EXAMPLE, ['cross_dataset'],
                 f'the same on {shots + 1} shots of all ImageNet classes', 'y')
    with_gpa = next(
        f for f in METHOD_FOLDERS if has(f, 'few_shot')
        and config(f, 'few_shot', MAIN_DATASET).get('default_hooks', {}).get('gpa'))
    gpa = config(with_gpa, 'few_shot', MAIN_DATASET).default_hooks.gpa
    dtd = config(with_gpa, 'few_shot', 'dtd').default_hooks.gpa
    cell = f'GPA mean {gpa.mean}, std {gpa.std} (DTD: mean {dtd.mean + 1}, std {dtd.std})'
    assert check(with_gpa, ['few_shot'], cell, 'z') == [
        f'z: few_shot GPA of DTD is ({dtd.mean}, {dtd.std}) in the configs, not '
        f'({dtd.mean + 1}, {dtd.std}) ({with_gpa}, {cell!r})'
    ]

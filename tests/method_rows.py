"""Each method's test expectations: data rows its own test module declares.

The test module of a method, ``tests/test_models/test_methods/test_<module>.py``
(``<module>`` its module in ``maple_mm/models/methods/``, as its metafile's
``Code`` names it), declares ``EXPECTED``: one :class:`MethodRows` per method
the module defines. Each row is written from the reference's own files and
names them. The shared tests (recipes, configs, the checkpoint converter,
published numbers, ...) iterate the rows and name no method; a method folder
without rows fails them.
"""
import importlib
import pkgutil
from pathlib import Path
from typing import Any, Callable, Dict, NamedTuple, Optional, Tuple, Union

from maple_mm.method_zoo import method_folders
from .conftest import REPO_ROOT

METHOD_TESTS = REPO_ROOT / 'tests' / 'test_models' / 'test_methods'
Triple = Tuple[Optional[float], Optional[float], float]


class Recipe(NamedTuple):
    """The reference recipe of one protocol (or one dataset of it), value by value."""

    lr: float
    batch: int
    epochs: int
    #: ``model.prompt_learner``, its ``type`` included.
    learner: dict
    #: The training precision on CUDA (the trainer's ``PREC``); CPUs train in fp32.
    precision: str
    #: The reference file the values come from.
    source: str
    #: The script that runs it, or why it was chosen.
    how: Optional[str] = None
    #: The training shots.
    shots: int = 16
    #: The config's ``values_by_shots``: ``{key: {K: value}}`` for values that follow
    #: ``--shots K`` (``'max_epochs'``: the epochs; other keys are dotted config keys).
    values_by_shots: Optional[Dict[str, Dict[int, Any]]] = None
    #: ``model`` entries of this protocol (or dataset) beyond the method's ``model``.
    model: dict = {}
    #: The ``default_hooks`` the method trains with, beyond the runtime's.
    hooks: Dict[str, dict] = {}


class Untrained(NamedTuple):
    """A protocol the method tests without training (nothing is learned)."""

    learner: dict
    source: str
    precision: str = 'fp32'


class ConverterCase(NamedTuple):
    """A reference checkpoint of the method and what the converter must make of it."""

    #: The case's name (the converter's method name, or it with a suffix).
    case: str
    #: The converter's name of the layout (``--method``).
    method: str
    model_type: str
    #: maple_mm's ``prompt_learner`` config of the same prompts.
    learner: dict
    #: The reference trainer's settings (the transcription's keyword arguments).
    reference: dict
    #: ``(clip, tokenizer, class_names, seed, **reference) ->`` the reference
    #: CustomCLIP's state dict of learned tensors and buffers.
    state_dict: Callable
    #: ``(clip, tokenizer, state_dict, images, class_names, **reference) ->`` its logits.
    logits: Callable
    #: The trainer whose Dassl file layout it has (tests/reference_trainers.py).
    dassl_trainer: str
    #: The learner arguments and widths the converter reads from it.
    meta: dict


class MethodRows(NamedTuple):
    """Everything the shared tests expect of one method."""

    #: Its folder ``configs/<folder>/``.
    folder: str
    #: ``protocol`` or ``(protocol, dataset)`` -> its recipe; a dataset's row
    #: replaces the protocol's for that dataset. Domain generalisation trains as
    #: 'cross_dataset' does.
    recipes: Dict[Union[str, Tuple[str, str]], Union[Recipe, Untrained]]
    #: ``model`` entries besides the learner (loss weights), in every config.
    model: dict = {}
    #: Reference checkpoints the converter must read.
    converter: Tuple[ConverterCase, ...] = ()
    #: The published base-to-novel average (Base, Novel, HM; None: not published).
    published_average: Optional[Triple] = None
    #: Where ``published_average`` is printed.
    published_source: str = ''
    #: Further files of the method beyond those named after it (tests/test_method_files.py),
    #: e.g. transcriptions it shares with the other trainers of its reference repository.
    files: Tuple[str, ...] = ()


def declared_rows() -> Dict[str, MethodRows]:
    """``{folder: rows}`` as the test modules declare them (whatever the config folders)."""
    rows = {}
    for info in sorted(pkgutil.iter_modules([str(METHOD_TESTS)]), key=lambda m: m.name):
        if not info.name.startswith('test_'):
            continue
        module = importlib.import_module(f'tests.test_models.test_methods.{info.name}')
        for row in getattr(module, 'EXPECTED', ()):
            if row.folder in rows:
                raise AssertionError(f'two test modules declare rows for {row.folder}')
            rows[row.folder] = row
    return rows


def method_rows(configs_dir: Optional[Path] = None) -> Dict[str, MethodRows]:
    """``{folder: rows}`` of every method folder, in table order."""
    folders = method_folders(configs_dir)
    rows = declared_rows()
    missing = [f for f in folders if f not in rows]
    unknown = [f for f in rows if f not in folders]
    assert not missing, (f'no test rows for configs/{missing[0]}/: declare EXPECTED in the '
                         'test module of its method (tests/method_rows.py)')
    assert not unknown, f'test rows for {unknown} but no such config folder'
    return {folder: rows[folder] for folder in folders}


def recipe(folder: str, protocol: str, dataset: str) -> Union[Recipe, Untrained]:
    """The row a config of ``folder`` for ``protocol`` on ``dataset`` must follow."""
    recipes = method_rows()[folder].recipes
    protocol = 'cross_dataset' if protocol == 'domain_generalization' else protocol
    return recipes.get((protocol, dataset)) or recipes[protocol]


def protocols(folder: str) -> Tuple[str, ...]:
    """The protocols the method's folder has configs for."""
    return tuple(p for p in method_rows()[folder].recipes if isinstance(p, str))


def trains(folder: str) -> bool:
    return any(isinstance(r, Recipe) for r in method_rows()[folder].recipes.values())


def trained_folders() -> Tuple[str, ...]:
    return tuple(f for f in method_rows() if trains(f))


def untrained_folders() -> Tuple[str, ...]:
    return tuple(f for f in method_rows() if not trains(f))


def converter_cases() -> Dict[str, ConverterCase]:
    """Every method's reference checkpoint cases, by case name."""
    return {case.case: case for rows in method_rows().values() for case in rows.converter}


def epochs_by_shots(row: Recipe) -> Optional[Dict[int, int]]:
    """``{K: epochs}`` of a recipe whose epochs follow ``--shots K``, else None."""
    return (row.values_by_shots or {}).get('max_epochs')


def with_epochs_by_shots() -> Tuple[str, Recipe]:
    """The first method (table order) whose few-shot epochs follow the shots: (folder, recipe)."""
    return next(
        (folder, recipe(folder, 'few_shot', 'dtd')) for folder in trained_folders()
        if 'few_shot' in protocols(folder) and epochs_by_shots(recipe(folder, 'few_shot', 'dtd')))


def with_dataset_recipe(protocol: str) -> Tuple[str, str]:
    """The first method (table order) with a dataset-specific recipe of ``protocol``."""
    return next((folder, key[1]) for folder, rows in method_rows().items() for key in rows.recipes
                if isinstance(key, tuple) and key[0] == protocol)

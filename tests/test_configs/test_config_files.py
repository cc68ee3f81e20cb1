"""The config zoo is laid out as documented: every config builds, reads top to bottom,
names its method folder, and keeps each shared fact in one base file."""
import re

import pytest

from . import zoo
from .zoo import (BASE_DIR, CONFIGS, DEMO_BASE, DEMOS, METHODS, all_leaf_configs, ancestors,
                  base_files, inheritance_depth, leaf_configs, protocol_of)


@pytest.fixture(scope='module')
def built():
    """Every experiment config, built once (about 30 ms each)."""
    return {path: zoo.built(path) for path in [*all_leaf_configs(), *DEMOS]}


def test_each_method_folder_holds_exactly_its_configs_readme_and_metafile():
    from maple_mm.method_zoo import test_time_folders
    folders = {p.name for p in CONFIGS.iterdir() if p.is_dir()} - {'_base_'}
    assert folders == set(METHODS) | set(test_time_folders(CONFIGS))  # test_test_time_configs
    for folder in METHODS:
        expected = {p.name
                    for p in leaf_configs(folder)
                    } | {'README.md', 'metafile.yml', 'demo_base2novel_fashion_mnist.py'}
        assert {p.name for p in (CONFIGS / folder).iterdir()} == expected, folder


def test_every_config_builds(built):
    trained = [f for f in METHODS if f != 'zero_shot_clip']  # zero-shot has no few-shot
    assert len(built) == len(METHODS) * 11 + len(trained) * 11 + len(METHODS) * 2 + len(METHODS)
    for path, cfg in built.items():
        assert cfg.model.type == cfg.method, path
        assert cfg.test_dataloader.dataset.type, path


def test_every_leaf_records_the_method_of_its_folder_and_its_protocol(built):
    for path, cfg in built.items():
        assert cfg.method == METHODS[path.parent.name], path
        expected = 'base2novel' if path in DEMOS else protocol_of(path)
        assert cfg.protocol == expected, path


@pytest.mark.parametrize(
    'path', [*all_leaf_configs(), *DEMOS], ids=lambda p: p.parent.name + '/' + p.stem)
def test_configs_inherit_at_most_two_levels(path):
    """Leaf, then one recipe, then the runtime, CLIP, model, protocol and schedule files.

    A demo also takes the demo's data and CLIP (one file, no bases of its own).
    """
    assert inheritance_depth(path) <= 2
    recipe, *demo = base_files(path)
    assert demo == ([DEMO_BASE.resolve()] if path in DEMOS else [])
    assert recipe.parent == (BASE_DIR / 'recipes').resolve()
    assert (BASE_DIR / 'default_runtime.py').resolve() in ancestors(path)


def test_recipes_are_named_after_method_and_protocol_and_cite_one_source():
    recipes = sorted((BASE_DIR / 'recipes').glob('*.py'))
    used = {base for path in all_leaf_configs() for base in base_files(path)}
    assert {r.resolve() for r in recipes} == used  # every recipe is used
    for recipe in recipes:
        text = recipe.read_text()
        # A source line may go on in comment lines indented by 2 more spaces.
        sources = [
            re.sub(r'\n#\s+', ' ', m)
            for m in re.findall(r'^# Source: (.+(?:\n#   .+)*)$', text, re.M)
        ]
        assert len(sources) == 1, recipe.name
        assert re.match(r'(\w+/)?configs/trainers/', sources[0]) or 'zeroshot.sh' in sources[0]
        assert sources[0].endswith(')')  # names the reference repository
        protocol = next(
            p for p in ('base2novel', 'few_shot', 'cross_dataset') if recipe.stem.endswith(f'_{p}'))
        method = recipe.stem[:-len(protocol) - 1]
        bases = {b.relative_to(BASE_DIR.resolve()).as_posix() for b in base_files(recipe)}
        assert {
            'default_runtime.py', 'clip_vit_b16.py', f'models/{method}.py',
            f'protocols/{protocol}.py'
        } <= bases, recipe.name


#: A shared fact, written once: the one base file it is in.
SHARED_FACTS = {
    'momentum=0.9': 'schedules/sgd_warmup_cosine.py',
    'weight_decay=5e-4': 'schedules/sgd_warmup_cosine.py',
    'warmup_value=1e-5': 'schedules/sgd_warmup_cosine.py',
    "model_name='ViT-B-16'": 'clip_vit_b16.py',
    '0.48145466': 'clip_vit_b16.py',
    "'RandomResizedCrop'": 'clip_vit_b16.py',
    'batch_size=100': 'clip_vit_b16.py',
    "type='Accuracy'": 'default_runtime.py',
    "subsample='novel'": 'protocols/base2novel.py',
    "'CoOpImageNetR'": 'protocols/cross_dataset.py',
    "type='MaPLePromptLearner'": 'models/maple.py',
    "type='VPTPromptLearner'": 'models/vpt.py',
}


@pytest.mark.parametrize('fact', SHARED_FACTS)
def test_each_shared_fact_lives_in_one_base_file(fact):
    """(The demo changes the recipe's crops on purpose.)"""
    files = [p for p in CONFIGS.rglob('*.py') if fact in p.read_text() and p != DEMO_BASE]
    assert [p.relative_to(BASE_DIR).as_posix() for p in files] == [SHARED_FACTS[fact]]


def test_dataset_configs_are_a_few_lines():
    for path in all_leaf_configs():
        code = [
            line for line in path.read_text().splitlines()
            if line.strip() and not line.startswith('#')
        ]
        limit = {
            'few_shot_imagenet': 9,
            'base2novel_imagenet': 7
        }.get(path.stem, 4) if path.parent.name == 'coop' else 4
        if '# Source: ' in path.read_text():  # one per-dataset recipe value, with its source
            limit += 1
        assert len(code) <= limit, path

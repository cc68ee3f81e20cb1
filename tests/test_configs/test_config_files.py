"""The config zoo is laid out as documented: every config builds, reads top to bottom,
names its method folder, and keeps each shared fact in one base file."""
import re

import pytest

from maple_mm.datasets.catalog import BASE_TO_NOVEL as DATASETS
from . import zoo
from .zoo import (BASE_DIR, CLIP_TOKENS, CONFIGS, DEMO_BASE, DEMOS, METHODS, all_leaf_configs,
                  ancestors, base_files, clip_leaf_configs, dataset_of, inheritance_depth,
                  leaf_configs, protocol_of, setting_of)


@pytest.fixture(scope='module')
def built():
    """Every experiment config, built once (about 30 ms each)."""
    return {path: zoo.built(path) for path in [*all_leaf_configs(), *DEMOS]}


def test_each_method_folder_holds_exactly_its_configs_readme_and_metafile():
    """The default CLIP's configs, and recipes on other CLIPs named
    ``<protocol>_<clip>[_<variant>]_<dataset>.py``."""
    folders = {p.name for p in CONFIGS.iterdir() if p.is_dir()} - {'_base_'}
    assert folders == set(METHODS)
    for folder in METHODS:
        expected = {p.name
                    for p in leaf_configs(folder)
                    } | {'README.md', 'metafile.yml', 'demo_base2novel_fashion_mnist.py'}
        assert {p.name for p in (CONFIGS / folder).iterdir()} == expected, folder
        for path in clip_leaf_configs(folder):  # names that parse: a CLIP and a dataset
            assert setting_of(path) and dataset_of(path) in DATASETS, path.name


def test_the_coop_repository_recipes_on_other_clips_are_shipped():
    """CoOp's few-shot figure (RN50, M=16, end, and class-specific) on the 11 datasets, its
    Table 1 (ImageNet -> 4 variants) on RN50, RN101, ViT-B/32 and ViT-B/16, zero-shot CLIP
    on the same CLIPs (ViT-B/16: domain_generalization_imagenet.py) and on RN50 for every
    dataset."""

    def names(folder):
        return {p.stem for p in clip_leaf_configs(folder)}

    table1 = {f'domain_generalization_{clip}_imagenet' for clip in CLIP_TOKENS}
    assert names('coop') == {f'few_shot_rn50_{d}'
                             for d in DATASETS} | {f'few_shot_rn50_csc_{d}'
                                                   for d in DATASETS} | table1
    assert names('zero_shot_clip') == (table1 - {'domain_generalization_vit_b16_imagenet'}) | {
        'cross_dataset_rn50_imagenet'
    }


def test_every_config_builds(built):
    trained = [f for f in METHODS if f != 'zero_shot_clip']  # zero-shot has no few-shot
    others = sum(len(clip_leaf_configs(f)) for f in METHODS)
    assert len(
        built) == len(METHODS) * 11 + len(trained) * 11 + len(METHODS) * 2 + len(METHODS) + others
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
    """``<method>_<protocol>[_<clip>].py``; a recipe on another CLIP takes it from
    clip_backbones.py (ViT-B/16 from clip_vit_b16.py, which also holds every CLIP's inputs)."""
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
        protocol, clip = next((p, recipe.stem.split(f'_{p}', 1)[1].lstrip('_'))
                              for p in ('base2novel', 'few_shot', 'cross_dataset')
                              if f'_{p}' in recipe.stem)
        method = recipe.stem.split(f'_{protocol}', 1)[0]
        assert clip in ('', *CLIP_TOKENS), recipe.name
        bases = {b.relative_to(BASE_DIR.resolve()).as_posix() for b in base_files(recipe)}
        assert {
            'default_runtime.py', 'clip_vit_b16.py', f'models/{method}.py',
            f'protocols/{protocol}.py'
        } <= bases, recipe.name
        uses = re.findall(r'backbone=\{\{_base_\.(\w+)\}\}', text)
        assert uses == [{
            '': 'clip_backbone',
            'vit_b16': 'clip_backbone'
        }.get(clip, f'clip_{clip}')], recipe.name
        assert ('clip_backbones.py' in bases) == (clip not in ('', 'vit_b16')), recipe.name


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
        stem = path.stem.replace('_rn50_csc', '').replace('_rn50', '')
        limit = {
            'few_shot_imagenet': 9,
            'base2novel_imagenet': 7
        }.get(stem, 4) if path.parent.name == 'coop' else 4
        if '# Source: ' in path.read_text():  # one per-dataset recipe value, with its source
            limit += 1
        if 'class_specific=True' in path.read_text():  # its number of classes
            limit += 1
        assert len(code) <= limit, path

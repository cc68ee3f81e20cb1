"""The published numbers are internally consistent and each method's headline is its paper's.

The numbers are read from the metafiles (maple_mm/evaluation/published.py); each
method's published average is also written out in its test rows
(``published_average``, naming where it is printed), independently.
"""
import pytest

from maple_mm.datasets.catalog import BASE_TO_NOVEL, BENCHMARKS, IMAGENET_VARIANTS
from maple_mm.evaluation import harmonic_mean
from maple_mm.evaluation.published import (BASE2NOVEL, BASE2NOVEL_AVERAGE, CROSS_DATASET,
                                           DOMAIN_GENERALIZATION, METHODS, PER_SET_ROWS,
                                           PUBLISHED_BACKBONE, per_set_rows)
from ..conftest import REPO_ROOT
from ..method_rows import method_rows
from ..test_configs.zoo import METHODS as FOLDERS
from ..test_configs.zoo import built


@pytest.mark.parametrize('method', BASE2NOVEL)
def test_each_hm_is_the_hm_of_its_base_and_novel(method):
    assert list(BASE2NOVEL[method]) == list(BASE_TO_NOVEL)  # the 11 datasets, table order
    for key, (base, novel, hm) in BASE2NOVEL[method].items():
        assert harmonic_mean(base, novel) == pytest.approx(hm, abs=0.006), (method, key)


@pytest.mark.parametrize('method', BASE2NOVEL)
def test_average_row_is_the_hm_of_the_mean_base_and_mean_novel(method):
    base = sum(v[0] for v in BASE2NOVEL[method].values()) / 11
    novel = sum(v[1] for v in BASE2NOVEL[method].values()) / 11
    assert (base, novel, harmonic_mean(base, novel)) == pytest.approx(
        BASE2NOVEL_AVERAGE[method], abs=0.006)


@pytest.mark.parametrize('method', BASE2NOVEL_AVERAGE)
def test_each_published_average_hm_is_the_hm_of_its_base_and_novel(method):
    base, novel, hm = BASE2NOVEL_AVERAGE[method]
    if base is not None:  # each printed to 0.01: rounding moves the HM by up to 0.01
        assert harmonic_mean(base, novel) == pytest.approx(hm, abs=0.01), method


@pytest.mark.parametrize('folder', FOLDERS)
def test_published_average_is_the_one_its_rows_transcribe(folder):
    rows = method_rows()[folder]
    assert BASE2NOVEL_AVERAGE.get(FOLDERS[folder]) == rows.published_average, \
        rows.published_source
    assert rows.published_average is None or rows.published_source


def test_methods_and_keys_are_known():
    assert set(BASE2NOVEL_AVERAGE) <= set(METHODS) == set(FOLDERS.values())
    assert list(METHODS) == list(FOLDERS.values())  # one table order
    for method, numbers in DOMAIN_GENERALIZATION.items():
        assert set(numbers) - {'imagenet'} <= set(BENCHMARKS)
        # ImageNet is the source accuracy of the same cross-dataset model (where published).
        if method in CROSS_DATASET:
            assert CROSS_DATASET[method]['imagenet'] == numbers['imagenet']


def test_each_per_set_row_is_its_configs_on_the_clip_it_builds():
    """A published row of another CLIP's table comes with the config that reproduces it, and
    that config builds the CLIP of the table (the CLIP its name says)."""
    for protocol, by_clip in PER_SET_ROWS.items():
        for clip, rows in by_clip.items():
            for row in rows:
                cfg = built(REPO_ROOT / row.config)
                assert cfg.model.backbone.model_name == clip and cfg.protocol == protocol, row
                assert row.method == cfg.model.type, row
                if protocol == 'domain_generalization':
                    assert set(row.numbers) - {'target_average'} == {
                        'imagenet', *IMAGENET_VARIANTS
                    }, row
    # The default configs' rows are the ViT-B/16 tables' first rows of their methods.
    for protocol, numbers in (('cross_dataset', CROSS_DATASET), ('domain_generalization',
                                                                 DOMAIN_GENERALIZATION)):
        defaults = [r for r in per_set_rows(protocol, PUBLISHED_BACKBONE) if not r.setting]
        assert {r.method: r.numbers for r in defaults} == numbers


def test_per_set_rows_are_those_of_the_clip():
    """Each CLIP's rows, labelled by their config's setting; none for a custom CLIP."""
    for protocol, by_clip in PER_SET_ROWS.items():
        for clip, rows in by_clip.items():
            assert per_set_rows(protocol, clip) == rows
            labels = [r.label for r in rows]
            assert len(set(labels)) == len(labels), labels
            for row in rows:
                assert row.label == f'{row.method} (paper' + (f', {row.setting})'
                                                              if row.setting else ')')
    assert per_set_rows('domain_generalization', 'custom') == []
    assert per_set_rows('domain_generalization', None) == []

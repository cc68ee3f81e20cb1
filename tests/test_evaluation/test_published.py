"""The published numbers are internally consistent (Table 1 of the MaPLe paper)."""
import pytest

from maple_mm.datasets.catalog import BASE_TO_NOVEL, BENCHMARKS, IMAGENET_VARIANTS
from maple_mm.evaluation import harmonic_mean
from maple_mm.evaluation.published import (BASE2NOVEL, BASE2NOVEL_AVERAGE, COOP_TABLE1,
                                           CROSS_DATASET, DOMAIN_GENERALIZATION,
                                           DOMAIN_GENERALIZATION_BY_BACKBONE, METHODS,
                                           PUBLISHED_BACKBONE, TPT_README, per_set_rows)
from ..conftest import REPO_ROOT


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


def test_methods_and_keys_are_known():
    assert set(BASE2NOVEL_AVERAGE) == set(METHODS)
    assert {
        m: v[2]
        for m, v in BASE2NOVEL_AVERAGE.items() if v[0] is None
    } == {
        'VPT': 76.68,
        'LanguagePrompting': 77.56,
        'IVLP': 77.90
    }  # the ablations: HM only
    assert set(DOMAIN_GENERALIZATION['MaPLe']) - {'imagenet'} <= set(BENCHMARKS)
    assert CROSS_DATASET['MaPLe']['imagenet'] == DOMAIN_GENERALIZATION['MaPLe']['imagenet'] \
        == 70.72


def test_coop_table1_covers_four_clips_with_zero_shot_and_both_context_lengths():
    assert set(DOMAIN_GENERALIZATION_BY_BACKBONE) == {'RN50', 'RN101', 'ViT-B-32', 'ViT-B-16'}
    for backbone, rows in DOMAIN_GENERALIZATION_BY_BACKBONE.items():
        table1 = [r for r in rows if r.source == COOP_TABLE1]
        assert [(r.method, r.setting) for r in table1] == [('ZeroShotCLIP', ''), ('CoOp', 'M=16'),
                                                           ('CoOp', 'M=4')], backbone
        for row in rows:
            assert set(row.numbers) - {'target_average'} == {'imagenet', *IMAGENET_VARIANTS}
            assert (REPO_ROOT / row.config).is_file() if row.config else True
    # CoOp's 4-token RN50 prompts as TPT's README reprints them (test-time-spec.md, section 1).
    m4 = next(r for r in DOMAIN_GENERALIZATION_BY_BACKBONE['RN50'] if r.setting == 'M=4')
    assert m4.numbers == dict(
        imagenet=63.33, imagenet_a=23.06, imagenetv2=55.40, imagenet_r=56.60, imagenet_sketch=34.67)


def test_tpt_readme_ood_average_is_the_mean_of_the_four_variants():
    rows = [r for r in DOMAIN_GENERALIZATION_BY_BACKBONE['RN50'] if r.source == TPT_README]
    assert len(rows) == 6
    for row in rows:
        mean = sum(row.numbers[k] for k in IMAGENET_VARIANTS) / 4
        assert mean == pytest.approx(row.numbers['target_average'], abs=0.006), row.label


def test_per_set_rows_are_those_of_the_clip():
    vit = [r.label for r in per_set_rows('domain_generalization', PUBLISHED_BACKBONE)]
    assert vit[0] == 'MaPLe (paper)' and 'CoOp (paper, M=16)' in vit
    assert [r.label for r in per_set_rows('cross_dataset', 'RN50')] == []
    assert per_set_rows('domain_generalization', 'custom') == []

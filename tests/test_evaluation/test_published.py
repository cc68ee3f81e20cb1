"""The published numbers are internally consistent (Table 1 of the MaPLe paper)."""
import pytest

from maple_mm.datasets.catalog import BASE_TO_NOVEL, BENCHMARKS
from maple_mm.evaluation import harmonic_mean
from maple_mm.evaluation.published import (BASE2NOVEL, BASE2NOVEL_AVERAGE, CROSS_DATASET,
                                           DOMAIN_GENERALIZATION, METHODS)


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

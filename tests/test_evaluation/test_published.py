"""The published MaPLe numbers are internally consistent (spec section 4)."""
import pytest

from maple_mm.evaluation import harmonic_mean
from maple_mm.evaluation.published import (DATASET_NAMES, MAPLE_BASE2NOVEL,
                                           MAPLE_BASE2NOVEL_AVERAGE, MAPLE_CROSS_DATASET,
                                           MAPLE_DOMAIN_GENERALIZATION)


def test_each_hm_is_the_hm_of_its_base_and_novel():
    for key, (base, novel, hm) in MAPLE_BASE2NOVEL.items():
        assert harmonic_mean(base, novel) == pytest.approx(hm, abs=0.006), key


def test_average_row_is_the_hm_of_the_mean_base_and_mean_novel():
    base = sum(v[0] for v in MAPLE_BASE2NOVEL.values()) / 11
    novel = sum(v[1] for v in MAPLE_BASE2NOVEL.values()) / 11
    assert (base, novel, harmonic_mean(base, novel)) == pytest.approx(
        MAPLE_BASE2NOVEL_AVERAGE, abs=0.006)


def test_keys_are_known_datasets():
    assert len(MAPLE_BASE2NOVEL) == 11
    keys = set(MAPLE_BASE2NOVEL) | set(MAPLE_DOMAIN_GENERALIZATION)
    assert keys <= set(DATASET_NAMES)
    assert MAPLE_CROSS_DATASET['imagenet'] == MAPLE_DOMAIN_GENERALIZATION['imagenet'] == 70.72

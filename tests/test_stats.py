"""Statistics helpers against scipy and textbook values."""

import numpy as np
import pytest
from scipy import stats

from consensuslab.stats import chisquare_uniform, compare, ecdf, summarize, wilson


def test_summarize_values_and_ci_contains_the_truth():
    x = np.random.default_rng(0).normal(10, 2, 2000)
    s = summarize(x, seed=1)
    assert s["n"] == 2000 and s["mean"] == pytest.approx(x.mean())
    assert s["mean_lo"] < 10 < s["mean_hi"]
    assert s["median_lo"] < s["median"] < s["median_hi"]
    assert s["q99"] == pytest.approx(np.quantile(x, 0.99))
    assert summarize(x, seed=1).equals(s)  # reproducible


def test_summarize_constant_sample_and_errors():
    s = summarize([3.0, 3.0])
    assert s["mean_lo"] == s["mean_hi"] == 3.0
    with pytest.raises(ValueError, match="`samples` must hold at least 1"):
        summarize([])
    with pytest.raises(ValueError, match="`samples` must be finite"):
        summarize([1.0, np.nan])
    with pytest.raises(ValueError, match="`confidence`"):
        summarize([1.0, 2.0], confidence=1.0)


def test_ecdf_and_dkw_band_cover_the_true_cdf():
    x = np.random.default_rng(1).exponential(1.0, 500)
    e = ecdf(x)
    truth = stats.expon.cdf(e.x)
    assert ((e.lower <= truth) & (truth <= e.upper)).all()
    eps = np.sqrt(np.log(2 / 0.05) / 1000)
    assert (e.upper - e.cdf).max() == pytest.approx(eps)


def test_wilson_matches_known_value():
    lo, hi = wilson(0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.2775, abs=1e-4)  # Wilson 95% for 0/10
    with pytest.raises(ValueError, match="`successes` must be an int >= 0 and <= 10; got 11"):
        wilson(11, 10)


def test_compare_and_chisquare():
    rng = np.random.default_rng(2)
    assert compare(rng.normal(size=500), rng.normal(size=500)).pvalue > 0.01
    assert compare(rng.normal(size=500), rng.normal(1, 1, size=500)).pvalue < 1e-6
    assert chisquare_uniform([1000, 1000, 1000, 1000]) == 1.0
    assert chisquare_uniform([1000, 1200, 1000, 800]) < 1e-6
    with pytest.raises(ValueError, match="`loads`"):
        chisquare_uniform([0, 0])

"""Statistics helpers: thin wrappers over :mod:`scipy.stats`.

Theory of operation
-------------------
Experiments produce samples (election times, loads, rounds to decision). These helpers turn a
sample into the numbers a notebook or report shows, always with an uncertainty:

* :func:`summarize` — count, mean, median, chosen quantiles, extremes, and percentile
  bootstrap confidence intervals for the mean and the median (``scipy.stats.bootstrap``).
* :func:`ecdf` — the empirical CDF (``scipy.stats.ecdf``) with a Dvoretzky–Kiefer–Wolfowitz
  band: with probability ``confidence`` the true CDF lies within ``eps = sqrt(ln(2/alpha)/(2n))``
  of the ECDF everywhere (Massart's tight constant).
* :func:`wilson` — the Wilson score interval for a proportion
  (``scipy.stats.binomtest(...).proportion_ci(method="wilson")``).
* :func:`compare` — two-sample Kolmogorov–Smirnov test (``scipy.stats.ks_2samp``).
* :func:`chisquare_uniform` — chi-square test that a load vector is uniform
  (``scipy.stats.chisquare``).

Nothing here reimplements a test; every helper validates its input and names the parameter.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as _st

from consensuslab._validate import check_float, check_int

__all__ = ["summarize", "ecdf", "wilson", "compare", "chisquare_uniform"]


def _as_sample(name: str, samples: Sequence[float] | np.ndarray, min_size: int = 1) -> np.ndarray:
    x = np.asarray(samples, dtype=float).ravel()
    if x.size < min_size:
        raise ValueError(f"`{name}` must hold at least {min_size} value(s); got {x.size}.")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"`{name}` must be finite; got {int(np.sum(~np.isfinite(x)))} non-finite value(s).")
    return x


def summarize(
    samples: Sequence[float] | np.ndarray,
    quantiles: Sequence[float] = (0.05, 0.5, 0.95, 0.99),
    confidence: float = 0.95,
    seed: int = 0,
    n_resamples: int = 2000,
) -> pd.Series:
    """Summary of a sample with bootstrap confidence intervals.

    Parameters
    ----------
    samples : array_like
        Finite values, at least one.
    quantiles : sequence of float
        Quantiles to report, each in [0, 1]; reported as ``q05``, ``q50``, ...
    confidence : float
        Confidence level of the bootstrap intervals, in (0, 1).
    seed : int
        Seed of the bootstrap resampling (results are reproducible).
    n_resamples : int
        Bootstrap resamples, >= 100.

    Returns
    -------
    pandas.Series
        ``n, mean, std, min, q.., median, max, mean_lo, mean_hi, median_lo, median_hi``.
        With fewer than 2 distinct values the intervals collapse to the point estimate.

    Examples
    --------
    >>> s = summarize([1.0, 2.0, 3.0, 4.0], seed=1)
    >>> float(s["mean"]), float(s["median"]), int(s["n"])
    (2.5, 2.5, 4)
    """
    x = _as_sample("samples", samples)
    check_float("confidence", confidence, 0.0, 1.0, low_open=True, high_open=True)
    check_int("n_resamples", n_resamples, 100)
    qs = [check_float("quantiles", q, 0.0, 1.0) for q in quantiles]
    out: dict[str, float] = {
        "n": float(x.size),
        "mean": float(x.mean()),
        "std": float(x.std(ddof=1)) if x.size > 1 else 0.0,
        "min": float(x.min()),
    }
    for q, v in zip(qs, np.quantile(x, qs)):
        out[f"q{round(q * 100):02d}" if q * 100 == round(q * 100) else f"q{q}"] = float(v)
    out["median"] = float(np.median(x))
    out["max"] = float(x.max())
    if np.ptp(x) == 0:
        for stat in ("mean", "median"):
            out[f"{stat}_lo"] = out[f"{stat}_hi"] = out[stat]
    else:
        rng = np.random.default_rng(seed)
        for stat, fn in (("mean", np.mean), ("median", np.median)):
            res = _st.bootstrap(
                (x,), fn, confidence_level=confidence, n_resamples=n_resamples,
                method="percentile", random_state=rng, vectorized=True,
            )
            out[f"{stat}_lo"] = float(res.confidence_interval.low)
            out[f"{stat}_hi"] = float(res.confidence_interval.high)
    return pd.Series(out)


def ecdf(samples: Sequence[float] | np.ndarray, confidence: float = 0.95) -> pd.DataFrame:
    """Empirical CDF with a DKW confidence band.

    Returns
    -------
    pandas.DataFrame
        Columns ``x`` (sorted distinct values), ``cdf``, ``lower``, ``upper``.

    Notes
    -----
    DKW inequality (Massart 1990): ``P(sup |F_n - F| > eps) <= 2 exp(-2 n eps^2)``.

    Examples
    --------
    >>> ecdf([3.0, 1.0, 2.0])["cdf"].tolist()
    [0.3333333333333333, 0.6666666666666666, 1.0]
    """
    x = _as_sample("samples", samples)
    check_float("confidence", confidence, 0.0, 1.0, low_open=True, high_open=True)
    res = _st.ecdf(x).cdf
    eps = np.sqrt(np.log(2.0 / (1.0 - confidence)) / (2.0 * x.size))
    p = res.probabilities
    return pd.DataFrame(
        {"x": res.quantiles, "cdf": p, "lower": np.clip(p - eps, 0, 1), "upper": np.clip(p + eps, 0, 1)}
    )


def wilson(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion.

    Examples
    --------
    >>> lo, hi = wilson(50, 100)
    >>> round(lo, 3), round(hi, 3)
    (0.404, 0.596)
    """
    trials = check_int("trials", trials, 1)
    successes = check_int("successes", successes, 0, trials)
    check_float("confidence", confidence, 0.0, 1.0, low_open=True, high_open=True)
    ci = _st.binomtest(successes, trials).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


def compare(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> Any:
    """Two-sample Kolmogorov–Smirnov test (``scipy.stats.ks_2samp``); returns its result."""
    return _st.ks_2samp(_as_sample("a", a), _as_sample("b", b))


def chisquare_uniform(loads: Sequence[float] | np.ndarray) -> float:
    """p-value of the chi-square test that ``loads`` (counts per node) are uniform.

    Examples
    --------
    >>> chisquare_uniform([100, 100, 100]) == 1.0
    True
    """
    x = _as_sample("loads", loads, min_size=2)
    if np.any(x < 0):
        raise ValueError("`loads` must be counts >= 0; got a negative value.")
    if x.sum() == 0:
        raise ValueError("`loads` must not all be zero.")
    return float(_st.chisquare(x).pvalue)

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

For the reproduction report, an :class:`Estimate` is one number with its sample size and its
95% interval; the helpers that build one say which interval they use:

* :func:`proportion_estimate` — Wilson score interval (``scipy.stats.binomtest``).
* :func:`quantile_estimate` — the exact, distribution-free order-statistic interval of a
  quantile (``scipy.stats.quantile_test``); the median is the quantile 0.5.
* :func:`mean_estimate` — the t interval (``scipy.stats.ttest_1samp``) for a handful of
  independent runs, or a percentile bootstrap (``scipy.stats.bootstrap``) for a large sample.
* :func:`bootstrap_estimate` — a percentile bootstrap of any statistic (a standard deviation,
  a ratio, a maximum). For a maximum the interval only says how much the few largest trials
  matter; maxima are compared at the published sample size only (see :mod:`consensuslab.references`).
* :func:`exact_estimate` — a census or a deterministic computation: no sampling, the interval
  is the value itself.

Nothing here reimplements a test; every helper validates its input and names the parameter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as _st

from consensuslab._validate import check_float, check_int

__all__ = [
    "summarize", "ecdf", "wilson", "compare", "chisquare_uniform",
    "Estimate", "proportion_estimate", "quantile_estimate", "mean_estimate", "bootstrap_estimate", "exact_estimate",
]


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


# ---------------------------------------------------------------------------------------------
# estimates with their interval (what the reproduction report shows for "ours")


@dataclass(frozen=True, slots=True)
class Estimate:
    """A measured value with its sample size and confidence interval.

    Attributes
    ----------
    value : float
        The point estimate (the number the report shows as "ours").
    low, high : float
        The confidence interval (``low <= high``); equal to ``value`` for an exact value.
    n : int
        The sample size the value was computed from (trials, nodes, histories...).
    statistic : str
        What was computed: ``"proportion"``, ``"mean"``, ``"quantile"``, ``"max"``, ``"min"``,
        ``"std"``, ``"ratio"``, ``"exact"``... ``"max"``/``"min"`` and tail quantiles depend on
        the sample size (see :attr:`size_dependent`).
    method : str
        How the interval was computed (``"Wilson"``, ``"exact order statistic"``,
        ``"percentile bootstrap"``, ``"t"``, ``"exact"``).
    unit : str
        What ``n`` counts (``"trials"``, ``"node shares"``, ``"histories"``...).
    q : float, optional
        The quantile level, for ``statistic="quantile"``.
    confidence : float
        The confidence level of the interval.

    Examples
    --------
    >>> e = proportion_estimate(52, 1000)
    >>> round(e.value, 3), round(e.low, 3), round(e.high, 3), e.n
    (0.052, 0.04, 0.068, 1000)
    """

    value: float
    low: float
    high: float
    n: int
    statistic: str
    method: str
    unit: str = "trials"
    q: float | None = None
    confidence: float = 0.95

    def __post_init__(self) -> None:
        if not (self.low <= self.high) and not (np.isnan(self.low) or np.isnan(self.high)):
            raise ValueError(f"`low` must be <= `high`; got {self.low} > {self.high}.")
        check_int("n", self.n, 0)

    @property
    def size_dependent(self) -> bool:
        """Whether the statistic changes systematically with the sample size.

        True for maxima and minima (the largest of 20 trials is smaller than the largest of
        1000), and for a tail quantile estimated from fewer than 10 points beyond it
        (``n * min(q, 1 - q) < 10``). Such values are comparable with a published one only
        at the published sample size.
        """
        if self.statistic in ("max", "min"):
            return True
        if self.statistic == "quantile" and self.q is not None:
            return self.n * min(self.q, 1.0 - self.q) < 10
        return False

    def as_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (for JSON sidecars)."""
        return {f: getattr(self, f) for f in self.__slots__}


def proportion_estimate(successes: int, trials: int, confidence: float = 0.95, unit: str = "trials") -> Estimate:
    """A proportion with its Wilson score interval (:func:`wilson`)."""
    lo, hi = wilson(successes, trials, confidence)
    return Estimate(successes / trials, lo, hi, int(trials), "proportion", "Wilson", unit, confidence=confidence)


def quantile_estimate(
    samples: Sequence[float] | np.ndarray, q: float, confidence: float = 0.95, unit: str = "trials",
    method: str = "inverted_cdf",
) -> Estimate:
    """The ``q`` quantile with its exact order-statistic interval (``scipy.stats.quantile_test``).

    The interval is distribution-free: it holds for any continuous distribution. ``+inf``
    values (censored trials) are allowed; the point estimate uses ``numpy.quantile(method=...)``.

    Examples
    --------
    >>> e = quantile_estimate(np.arange(1.0, 101.0), 0.5)
    >>> e.value, e.low, e.high
    (50.0, 40.0, 61.0)
    """
    x = np.asarray(samples, dtype=float).ravel()
    if x.size < 1 or np.any(np.isnan(x)):
        raise ValueError(f"`samples` must hold at least one value and no NaN; got {x.size} value(s).")
    check_float("q", q, 0.0, 1.0, low_open=True, high_open=True)
    check_float("confidence", confidence, 0.0, 1.0, low_open=True, high_open=True)
    value = float(np.quantile(x, q, method=method))  # type: ignore[call-overload]
    ci = _st.quantile_test(x, q=value if np.isfinite(value) else 0.0, p=q).confidence_interval(confidence)
    low = float(ci.low) if np.isfinite(ci.low) else float(np.min(x))
    high = float(ci.high) if not np.isnan(ci.high) else float(np.max(x))
    return Estimate(value, min(low, value), max(high, value), int(x.size), "quantile", "exact order statistic", unit,
                    q=float(q), confidence=confidence)


def mean_estimate(
    samples: Sequence[float] | np.ndarray, confidence: float = 0.95, unit: str = "trials", method: str = "auto",
    seed: int = 0, n_resamples: int = 2000,
) -> Estimate:
    """The mean with a t interval (fewer than 30 values, or ``method="t"``) or a percentile
    bootstrap interval (``method="bootstrap"``)."""
    x = _as_sample("samples", samples)
    if method == "auto":
        method = "t" if x.size < 30 else "bootstrap"
    if method not in ("t", "bootstrap"):
        raise ValueError(f"`method` must be one of ['auto', 't', 'bootstrap']; got {method!r}.")
    mean = float(x.mean())
    if x.size < 2 or np.ptp(x) == 0:
        return Estimate(mean, mean, mean, int(x.size), "mean", "t" if method == "t" else "percentile bootstrap", unit,
                        confidence=confidence)
    if method == "t":
        ci = _st.ttest_1samp(x, 0.0).confidence_interval(confidence)
        return Estimate(mean, float(ci.low), float(ci.high), int(x.size), "mean", "t", unit, confidence=confidence)
    return bootstrap_estimate(x, np.mean, "mean", confidence=confidence, unit=unit, seed=seed, n_resamples=n_resamples)


def bootstrap_estimate(
    samples: Sequence[float] | np.ndarray,
    statistic: Callable[..., Any],
    name: str,
    confidence: float = 0.95,
    unit: str = "trials",
    seed: int = 0,
    n_resamples: int = 2000,
    q: float | None = None,
) -> Estimate:
    """Any statistic of one sample with a percentile bootstrap interval (``scipy.stats.bootstrap``).

    Parameters
    ----------
    samples : array_like
        Finite values, at least two.
    statistic : callable
        ``statistic(x, axis=-1) -> value`` (vectorized, like ``numpy.std``).
    name : str
        The :attr:`Estimate.statistic` label (``"std"``, ``"max"``...).

    Examples
    --------
    >>> e = bootstrap_estimate(np.arange(10.0), np.max, "max")
    >>> e.value, e.high, e.statistic
    (9.0, 9.0, 'max')
    """
    x = _as_sample("samples", samples, min_size=2)
    check_int("n_resamples", n_resamples, 100)
    value = float(statistic(x, axis=-1))
    if np.ptp(x) == 0:
        return Estimate(value, value, value, int(x.size), name, "percentile bootstrap", unit, q=q, confidence=confidence)
    batch = max(1, int(2e7 // max(1, x.size)))  # bounded memory for large samples
    res = _st.bootstrap((x,), statistic, confidence_level=confidence, n_resamples=n_resamples, method="percentile",
                        random_state=np.random.default_rng(seed), vectorized=True, batch=batch)
    low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
    return Estimate(value, min(low, value), max(high, value), int(x.size), name, "percentile bootstrap", unit,
                    q=q, confidence=confidence)


def exact_estimate(value: float, n: int = 1, unit: str = "cases", statistic: str = "exact") -> Estimate:
    """A value without sampling error (a census, a closed form): the interval is the value."""
    v = float(value)
    return Estimate(v, v, v, int(n), statistic, "exact", unit)

"""The dissertation's analytic model of split votes and election time (Ongaro 2014, chapter 9).

Theory of operation
-------------------
Pure functions of their arguments, no simulation (the simulated counterpart is
:mod:`consensuslab.experiments.election`):

:func:`earliest_timeout_mean`
    ``E[M_s] = 1 / (s + 1)``, the mean earliest of ``s`` standard-uniform timeouts (§9.1);
:func:`split_vote_probability`
    the fixed-latency split-vote probability ``Pr(D_{c,s} <= l)``: the first ``c`` of ``s``
    servers time out within ``l`` of each other, ``c = s - floor(n/2) + 1`` (§9.2); a binomial
    tail, computed with ``scipy.stats.binom.sf``;
:func:`expected_terms`
    the geometric number of election terms, mean ``1 / (1 - r)`` (§9.3);
:func:`expected_election_time`
    ``E[E_s]``, the expected time from a leader crash to its successor (§9.3);
:func:`split_vote_model`
    the long table behind the dissertation's Figure 9.4.

References
----------
Ongaro, D. (2014). Consensus: bridging theory and practice. PhD thesis, Stanford, §9.1-§9.3.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats as _st

from consensuslab._validate import check_float, check_int, check_range_pair, describe

__all__ = [
    "earliest_timeout_mean",
    "split_vote_probability",
    "expected_terms",
    "expected_election_time",
    "split_vote_model",
]


def earliest_timeout_mean(s: int) -> float:
    """``E[M_s] = 1 / (s + 1)``: mean earliest of ``s`` standard-uniform timeouts (§9.1)."""
    s = check_int("s", s, 1)
    return 1.0 / (s + 1)


def split_vote_probability(l: float | np.ndarray, s: int, n: int) -> float | np.ndarray:
    """Fixed-latency split-vote probability ``Pr(D_{c,s} <= l)`` (dissertation §9.2).

    The first server to time out collects the votes of every server that does not time out
    within ``l`` of it; the vote splits when at least ``c = s - floor(n/2) + 1`` servers (the
    first included) time out within ``l``. The dissertation derives
    ``Pr(D_{c,s} <= l) = sum_{k=c-1}^{s} C(s, k) l^k (1-l)^(s-k)``, i.e. a binomial tail.

    Parameters
    ----------
    l : float or array
        One-way latency as a fraction of the election timeout range (>= 0; values >= 1 give 1).
    s : int
        Servers available (>= 1).
    n : int
        Cluster size (>= s).

    Returns
    -------
    float or numpy.ndarray
        The probability; 1 when ``s`` is not a majority of ``n`` (no leader can be elected).

    Examples
    --------
    >>> round(float(split_vote_probability(0.1, s=4, n=5)), 4)   # dissertation: "about 5.2%"
    0.0523
    """
    n = check_int("n", n, 1)
    s = check_int("s", s, 1, n)
    arr = np.asarray(l, dtype=float)
    if np.any(~np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"`l` must be finite and >= 0; got {describe(l)}.")
    c = s - n // 2 + 1
    if c <= 1:
        out = np.ones_like(arr)
    else:
        out = _st.binom.sf(c - 2, s, np.clip(arr, 0.0, 1.0))
    return float(out) if np.ndim(l) == 0 else out


def expected_terms(r: float | np.ndarray) -> float | np.ndarray:
    """Mean number of election terms, ``1 / (1 - r)`` (geometric; dissertation §9.3)."""
    arr = np.asarray(r, dtype=float)
    if np.any((arr < 0) | (arr > 1)):
        raise ValueError(f"`r` must be a probability in [0, 1]; got {describe(r)}.")
    with np.errstate(divide="ignore"):
        out = 1.0 / (1.0 - arr)
    return float(out) if np.ndim(r) == 0 else out


def expected_election_time(
    election_timeout: tuple[float, float],
    latency: float,
    disk: float = 0.0,
    s: int = 4,
    n: int = 5,
    heartbeat: float | None = None,
) -> float:
    """``E[E_s]`` in ms: expected time from the crash to the new leader (dissertation §9.3).

    ``E[E_s] = (lo + R/(s+1) + L) / (1 - r) + L + W - heartbeat/2`` with ``R = hi - lo``,
    ``r = split_vote_probability(L / R, s, n)``; the dissertation writes it with timeouts in
    ``[1, 2]`` and ``heartbeat = 1/2``. It ends when the winner counts its majority (add one
    ``L`` for the followers to hear its first heartbeat).

    Examples
    --------
    >>> round(expected_election_time((150, 300), latency=2.5, disk=7.0), 1)
    154.8
    """
    lo, hi = check_range_pair("election_timeout", election_timeout, 0.0)
    L = check_float("latency", latency, 0.0)
    W = check_float("disk", disk, 0.0)
    hb = lo / 2 if heartbeat is None else check_float("heartbeat", heartbeat, 0.0)
    R = hi - lo
    if R == 0:
        r = 1.0 if L > 0 or s < n // 2 + 1 else 0.0
    else:
        r = float(split_vote_probability(L / R, s, n))
    if r >= 1:
        return math.inf
    return (lo + R * earliest_timeout_mean(s) + L) / (1 - r) + L + W - hb / 2


def split_vote_model(ls: Sequence[float] | np.ndarray, sizes: Sequence[int] = (3, 5, 7, 9)) -> pd.DataFrame:
    """Long table of the fixed-latency model for every cluster size and number of failures.

    Columns ``n, failed, s, c, l, split_rate, expected_terms`` (Figure 9.4 of the dissertation).
    """
    rows = []
    ls = np.asarray(ls, dtype=float)
    for n in sizes:
        for failed in range(0, (n - 1) // 2 + 1):
            s = n - failed
            r = split_vote_probability(ls, s, n)
            for l, p in zip(ls, np.atleast_1d(r)):
                rows.append(dict(n=n, failed=failed, s=s, c=s - n // 2 + 1, l=float(l), split_rate=float(p),
                                 expected_terms=float(expected_terms(p)) if p < 1 else math.inf))
    return pd.DataFrame(rows)

"""Balance and movement metrics, and the ring's theory curves.

Theory of operation
-------------------
*Balance* summarizes per-node loads (keys per node, or exact shares of the hash space):
peak-to-mean ``max/mean``, coefficient of variation ``std/mean`` and a chi-square goodness-of-fit
p-value against the loads the weights ask for. *Movement* compares two configurations key for
key by node *name*: the fraction of keys whose node changed, against the *ideal*: the keys that
must move whatever the algorithm, i.e. the keys the removed nodes held before the change and the
keys the added nodes hold after it (the removed node's actual share, not ``1/n``: a node that
held 13% of the keys cannot leave with less than 13% moving). ``moved / ideal`` is therefore
>= 1, and exactly 1 for a minimally disruptive change. ``ideal_balanced`` is the weight share
(``1/(n+1)`` on a join, ``1/n`` on a leave, unweighted): what the ideal would be with perfect
balance. The fraction of moved keys that went to an added node or came from a removed one is
1.0 for a minimally disruptive algorithm.

*Jump hash's key space.* :func:`jump_keyspace_shares` gives the exact share of the 64-bit key
space that jump hash's own arithmetic (31-bit draws, double-precision ratio, the C reference's
truncation) gives each bucket, under the paper's model that each step draws an independent
uniform 31-bit number: from bucket ``b`` the next jump target ``j`` satisfies ``j >= i`` for
exactly ``#{u in 1..2**31 : floor((b + 1) * (2**31 / u)) >= i}`` of the ``2**31`` draws (counted
in closed form, with the double rounding checked at the boundary), and a dynamic program over
buckets gives ``P(final bucket = b)``. Shares differ from ``1/n`` only by the quantization of the
31-bit draws (std/mean ~3e-9 at 10 buckets, ~2.6e-8 at 100): the "near perfect" balance
Lamping & Veach state.

For a ring with ``v`` points per node on ``n`` nodes, a node's share is the sum of ``v`` of the
``n v`` spacings of uniform points: Beta(v, (n-1) v), mean ``1/n``, so
``CV = sqrt((n - 1) / (n v + 1))`` and the expected peak-to-mean is about
``1 + sqrt(2 ln n / v)`` (Gaussian maximum of ``n`` shares).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from consensuslab._validate import check_int
from consensuslab.hashing.base import PlacementAlgorithm
from consensuslab.hashing.keys import KeyLike

__all__ = [
    "balance",
    "jump_keyspace_shares",
    "loads",
    "movement",
    "ring_cv_theory",
    "ring_peak_to_mean_theory",
    "ring_share_quantiles_theory",
]


def loads(assignment: npt.ArrayLike, n_nodes: int) -> npt.NDArray[np.int64]:
    """Keys per node from an assignment vector (node indices)."""
    n_nodes = check_int("n_nodes", n_nodes, 1)
    a = np.asarray(assignment)
    if a.ndim != 1:
        raise ValueError(f"`assignment` must be one-dimensional; got shape {a.shape}.")
    if a.size and (a.min() < 0 or a.max() >= n_nodes):
        raise ValueError(f"`assignment` must hold node indices in [0, {n_nodes}); got {a.min()}..{a.max()}.")
    return np.bincount(a.astype(np.intp), minlength=n_nodes)


def balance(
    assignment: npt.ArrayLike | None = None,
    n_nodes: int | None = None,
    weights: Sequence[float] | None = None,
    *,
    shares: npt.ArrayLike | None = None,
) -> pd.Series:
    """Balance summary of an assignment (or of exact shares).

    Parameters
    ----------
    assignment : array of int, optional
        Node index per key (as returned by ``assign``).
    n_nodes : int, optional
        Number of nodes (default: ``len(weights)`` or ``max(assignment) + 1``).
    weights : sequence of float, optional
        Relative capacities; loads are compared with ``weights / sum(weights)``.
    shares : array of float, optional
        Instead of an assignment: each node's fraction of the hash space (no sampling noise).

    Returns
    -------
    pandas.Series
        ``keys, nodes, mean, max, min, peak_to_mean, min_to_mean, cv, chi2_p`` (``chi2_p`` is
        NaN for shares). Loads are normalized by each node's expected load when weighted.

    Examples
    --------
    >>> s = balance([0, 1, 1, 0], 2)
    >>> float(s["peak_to_mean"]), float(s["cv"])
    (1.0, 0.0)
    """
    if (assignment is None) == (shares is None):
        raise ValueError("pass exactly one of `assignment` and `shares`.")
    if shares is not None:
        x = np.asarray(shares, dtype=np.float64)
        n = x.shape[0] if n_nodes is None else check_int("n_nodes", n_nodes, 1)
        total = float(x.sum())
        count = math.nan
    else:
        a = np.asarray(assignment)
        n = (len(weights) if weights is not None else int(a.max()) + 1 if a.size else 1) if n_nodes is None else n_nodes
        x = loads(a, n).astype(np.float64)
        total = float(x.sum())
        count = total
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape[0] != n:
        raise ValueError(f"`weights` must have one entry per node ({n}); got {w.shape[0]}.")
    expected = total * w / w.sum()
    rel = x / expected if total > 0 else np.zeros(n)
    chi2_p = math.nan
    if shares is None and total > 0 and n > 1:
        chi2_p = float(stats.chisquare(x, expected).pvalue)
    return pd.Series(
        {
            "keys": count,
            "nodes": n,
            "mean": total / n,
            "max": float(x.max()),
            "min": float(x.min()),
            "peak_to_mean": float(rel.max()),
            "min_to_mean": float(rel.min()),
            "cv": float(rel.std()),
            "chi2_p": chi2_p,
        }
    )


def movement(old: PlacementAlgorithm, new: PlacementAlgorithm, keys: KeyLike) -> pd.Series:
    """Keys that change node between two configurations, against the least that must move.

    Parameters
    ----------
    old, new : placement algorithms
        Two configurations (e.g. ``new = old.with_node("x")``).
    keys : keys
        The keys to compare.

    Returns
    -------
    pandas.Series
        ``keys``; ``moved`` (fraction of keys whose node name changed); ``ideal`` (fraction of
        keys that must move whatever the algorithm: those on a removed node before the change
        or on an added node after it -- the removed node's share, the new node's share);
        ``moved_over_ideal`` (>= 1; 1 for a minimally disruptive change); ``ideal_balanced``
        (weight share of the added nodes in ``new`` plus that of the removed nodes in ``old``:
        ``1/(n+1)`` for a join, ``1/n`` for a leave, unweighted); ``share_over_balanced``
        (``ideal / ideal_balanced``: below 1 when the changed node holds less than a fair
        share); ``to_added`` (fraction of moved keys now on an added node) and
        ``from_removed`` (fraction of moved keys that were on a removed node).

    Notes
    -----
    A key on a removed node must move, and so must a key that an added node now holds, so
    ``moved >= ideal`` always: ``moved_over_ideal`` cannot read as "better than ideal". A
    join that moves fewer keys than ``1/(n+1)`` shows up as ``share_over_balanced < 1``
    (the new node took less than its share: a balance shortfall, not a movement saving).

    Examples
    --------
    >>> from consensuslab.hashing import Jump
    >>> import numpy as np
    >>> j = Jump([f"n{i}" for i in range(9)])
    >>> s = movement(j, j.with_node("n9"), np.arange(100_000))
    >>> float(s["moved_over_ideal"]), round(float(s["ideal_balanced"]), 3), float(s["to_added"])
    (1.0, 0.1, 1.0)
    """
    a = np.asarray(old.node_names(old.assign(keys)))
    b = np.asarray(new.node_names(new.assign(keys)))
    moved = a != b
    added = set(new.nodes) - set(old.nodes)
    removed = set(old.nodes) - set(new.nodes)
    w_new = dict(zip(new.nodes, new.weights))
    w_old = dict(zip(old.nodes, old.weights))
    balanced = sum(w_new[x] for x in added) / sum(new.weights) + sum(w_old[x] for x in removed) / sum(old.weights)
    on_removed = np.isin(a, list(removed)) if removed else np.zeros(a.shape[0], dtype=bool)
    on_added = np.isin(b, list(added)) if added else np.zeros(b.shape[0], dtype=bool)
    total = max(1, a.shape[0])
    must = float(np.count_nonzero(on_removed | on_added)) / total
    nm = int(moved.sum())
    to_added = float(on_added[moved].mean()) if nm and added else math.nan
    from_removed = float(on_removed[moved].mean()) if nm and removed else math.nan
    frac = nm / total
    return pd.Series(
        {
            "keys": a.shape[0],
            "moved": frac,
            "ideal": must,
            "moved_over_ideal": frac / must if must > 0 else (1.0 if nm == 0 else math.nan),
            "ideal_balanced": balanced,
            "share_over_balanced": must / balanced if balanced > 0 else math.nan,
            "to_added": to_added,
            "from_removed": from_removed,
        }
    )


def jump_keyspace_shares(n: int, bits: int = 31) -> npt.NDArray[np.float64]:
    """Exact share of the key space jump hash gives each of ``n`` buckets (31-bit arithmetic).

    Parameters
    ----------
    n : int
        Number of buckets, 1 <= n <= 4096 (the dynamic program is O(n^2) in time and memory).
    bits : int, default 31
        Bits per draw (the reference's 31; smaller values, 1 <= bits <= 31, coarsen the draws
        so that a simulation can check the computation).

    Returns
    -------
    numpy.ndarray of float64, shape (n,)
        ``P(jump_hash(key, n) = b)`` for a uniformly random key, under the paper's model that
        each jump step draws an independent uniform ``bits``-bit number ``(key >> 33) + 1``; sums
        to 1. Differs from ``1/n`` only by the quantization of those draws.

    Notes
    -----
    From bucket ``b`` the reference computes ``j = floor((b + 1) * (2**31 / u))`` in double
    precision with ``u`` uniform on ``1..2**31``. ``j >= i`` holds for the ``u`` up to about
    ``(b + 1) 2**31 / i``; the count is taken in closed form and corrected by evaluating the
    reference's own double arithmetic at the boundary ``u`` (and the next one). Then
    ``P(visit k) = sum_{b<k} P(visit b) (P(j >= k | b) - P(j >= k+1 | b))`` and
    ``P(final = b) = P(visit b) P(j >= n | b)``. With exact probabilities ``(b+1)/i`` this gives
    ``1/n`` for every bucket (Lamping & Veach 2014, section 3).

    Examples
    --------
    >>> s = jump_keyspace_shares(10)
    >>> round(float(s.sum()), 12), bool(abs(s * 10 - 1).max() < 1e-8)
    (1.0, True)
    """
    n = check_int("n", n, 1, 4096)
    ge = _jump_at_least(n, check_int("bits", bits, 1, 31))
    visit = np.zeros(n)
    visit[0] = 1.0
    for k in range(1, n):
        visit[k] = float(np.dot(visit[:k], ge[:k, k] - ge[:k, k + 1]))
    return visit * ge[:, n]


def _jump_at_least(n: int, bits: int = 31) -> npt.NDArray[np.float64]:
    """``P(j >= i | b)`` for jump's next target ``j`` from bucket ``b``: shape ``(n, n + 1)``.

    The fraction of the ``2**bits`` draws ``u`` with ``floor((b + 1) * (2**bits / u)) >= i``, in
    closed form (``u <= (b + 1) 2**bits / i``), corrected at the boundary by evaluating the
    reference's double arithmetic on the boundary ``u`` and the next one. 1 for ``i <= b + 1``.
    """
    t = float(2**bits)
    b = np.arange(n, dtype=np.float64)[:, None]
    i = np.arange(n + 1, dtype=np.float64)[None, :]

    def jumps_at_least(u: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
        # the C reference: j = (b + 1) * (double(1 << 31) / double(u)), truncated
        return np.floor((t / np.maximum(u, 1.0)) * (b + 1)) >= i

    count = np.minimum(np.floor((b + 1) * t / np.maximum(i, 1.0)), t)
    count = np.where(jumps_at_least(count), count, count - 1)
    count = np.where((count + 1 <= t) & jumps_at_least(count + 1), count + 1, count)
    return np.where(i <= b + 1, 1.0, count / t)


def ring_cv_theory(n: npt.ArrayLike, v: npt.ArrayLike) -> Any:
    """CV of a node's share on a ring with ``v`` points per node: ``sqrt((n-1)/(n v + 1))``."""
    n = np.asarray(n, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    return np.sqrt((n - 1) / (n * v + 1))


def ring_peak_to_mean_theory(n: int, v: npt.ArrayLike) -> Any:
    """Approximate expected max share / mean share on a ring: ``1 + sqrt(2 ln n / v)``."""
    v = np.asarray(v, dtype=np.float64)
    return 1 + np.sqrt(2 * math.log(n) / v)


def ring_share_quantiles_theory(n: int, v: int, q: Sequence[float] = (0.005, 0.995)) -> npt.NDArray[np.float64]:
    """Quantiles of a node's share / mean under Beta(v, (n-1) v) (e.g. the 99% interval)."""
    return n * stats.beta.ppf(np.asarray(q), v, (n - 1) * v)

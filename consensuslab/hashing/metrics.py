"""Balance and movement metrics, and the ring's theory curves.

Theory of operation
-------------------
*Balance* summarizes per-node loads (keys per node, or exact shares of the hash space):
peak-to-mean ``max/mean``, coefficient of variation ``std/mean`` and a chi-square goodness-of-fit
p-value against the loads the weights ask for. *Movement* compares two configurations key for
key by node *name*: the fraction of keys whose node changed, against the ideal (the share the
added node should take, or the share the removed node held: ``1/(n+1)`` and ``1/n`` unweighted),
and the fraction of moved keys that went to an added node or came from a removed one (1.0 for a
minimally disruptive algorithm).

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
    """Keys that change node between two configurations, against the ideal.

    Parameters
    ----------
    old, new : placement algorithms
        Two configurations (e.g. ``new = old.with_node("x")``).
    keys : keys
        The keys to compare.

    Returns
    -------
    pandas.Series
        ``moved`` (fraction of keys whose node name changed), ``ideal`` (weight share of the
        added nodes in ``new`` plus that of the removed nodes in ``old``), ``moved_over_ideal``,
        ``to_added`` (fraction of moved keys now on an added node) and ``from_removed``
        (fraction of moved keys that were on a removed node).

    Examples
    --------
    >>> from consensuslab.hashing import Jump
    >>> import numpy as np
    >>> j = Jump([f"n{i}" for i in range(9)])
    >>> s = movement(j, j.with_node("n9"), np.arange(100_000))
    >>> round(float(s["ideal"]), 3), float(s["to_added"])
    (0.1, 1.0)
    """
    a = np.asarray(old.node_names(old.assign(keys)))
    b = np.asarray(new.node_names(new.assign(keys)))
    moved = a != b
    added = set(new.nodes) - set(old.nodes)
    removed = set(old.nodes) - set(new.nodes)
    w_new = dict(zip(new.nodes, new.weights))
    w_old = dict(zip(old.nodes, old.weights))
    ideal = sum(w_new[x] for x in added) / sum(new.weights) + sum(w_old[x] for x in removed) / sum(old.weights)
    nm = int(moved.sum())
    to_added = float(np.isin(b[moved], list(added)).mean()) if nm and added else math.nan
    from_removed = float(np.isin(a[moved], list(removed)).mean()) if nm and removed else math.nan
    frac = nm / max(1, a.shape[0])
    return pd.Series(
        {
            "keys": a.shape[0],
            "moved": frac,
            "ideal": ideal,
            "moved_over_ideal": frac / ideal if ideal > 0 else math.nan,
            "to_added": to_added,
            "from_removed": from_removed,
        }
    )


def ring_cv_theory(n: int, v: npt.ArrayLike) -> Any:
    """CV of a node's share on a ring with ``v`` points per node: ``sqrt((n-1)/(n v + 1))``."""
    v = np.asarray(v, dtype=np.float64)
    return np.sqrt((n - 1) / (n * v + 1))


def ring_peak_to_mean_theory(n: int, v: npt.ArrayLike) -> Any:
    """Approximate expected max share / mean share on a ring: ``1 + sqrt(2 ln n / v)``."""
    v = np.asarray(v, dtype=np.float64)
    return 1 + np.sqrt(2 * math.log(n) / v)


def ring_share_quantiles_theory(n: int, v: int, q: Sequence[float] = (0.005, 0.995)) -> npt.NDArray[np.float64]:
    """Quantiles of a node's share / mean under Beta(v, (n-1) v) (e.g. the 99% interval)."""
    return n * stats.beta.ppf(np.asarray(q), v, (n - 1) * v)

"""One-call studies behind the notebook and the explorer widget.

Theory of operation
-------------------
:func:`study` builds an algorithm from a handful of knobs (algorithm name, node count, vnodes,
weight skew, key count, bounded-load factor), places ``"key-<i>"`` keys, and returns the
object, the per-node loads and the :func:`~consensuslab.hashing.metrics.balance` summary, plus
the movement when one node joins and when one leaves. :func:`balance_vs_vnodes` and
:func:`compare_algorithms` produce the notebook's tidy tables.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from consensuslab._validate import check_float, check_int
from consensuslab.hashing.base import PlacementAlgorithm
from consensuslab.hashing.metrics import (
    balance,
    loads,
    movement,
    ring_cv_theory,
    ring_peak_to_mean_theory,
    ring_share_quantiles_theory,
)

__all__ = ["balance_vs_vnodes", "build", "compare_algorithms", "node_names", "study"]

_WEIGHTED = {"ring", "rendezvous", "maglev", "bounded"}


def node_names(n: int) -> list[str]:
    """``["node-0", ..., "node-<n-1>"]``."""
    return [f"node-{i}" for i in range(check_int("n_nodes", n, 1))]


def build(
    algorithm: str,
    n_nodes: int,
    *,
    vnodes: int = 100,
    weight_skew: float = 1.0,
    c: float = 1.25,
    probes: int = 21,
    table_size: int = 65537,
) -> PlacementAlgorithm:
    """Build ``algorithm`` on ``n_nodes`` nodes; weights rise linearly from 1 to ``weight_skew``."""
    from consensuslab.hashing.registry import make

    n_nodes = check_int("n_nodes", n_nodes, 1)
    weight_skew = check_float("weight_skew", weight_skew, 1.0)
    name = algorithm.lower()
    opts: dict[str, Any] = {}
    if name in _WEIGHTED and weight_skew != 1.0:
        opts["weights"] = list(np.linspace(1.0, weight_skew, n_nodes))
    if name in ("ring", "bounded"):
        opts["vnodes"] = vnodes
    if name == "bounded":
        opts["c"] = c
    if name == "multiprobe":
        opts["probes"] = probes
    if name == "maglev":
        opts["table_size"] = table_size
    return make(name, node_names(n_nodes), **opts)


def study(
    algorithm: str = "ring",
    n_nodes: int = 10,
    n_keys: int = 100_000,
    *,
    vnodes: int = 100,
    weight_skew: float = 1.0,
    c: float = 1.25,
    probes: int = 21,
    table_size: int = 65537,
) -> dict[str, Any]:
    """Place ``n_keys`` keys with one configuration and summarize balance and movement.

    Returns
    -------
    dict
        ``algo`` (the object), ``loads`` (keys per node), ``summary`` (a pandas Series: the
        balance summary plus ``moved_on_join``, ``ideal_on_join``, ``moved_on_leave``,
        ``ideal_on_leave``, ``memory_bytes``).

    Examples
    --------
    >>> r = study("jump", n_nodes=4, n_keys=1000)
    >>> int(r["loads"].sum())
    1000
    """
    n_keys = check_int("n_keys", n_keys, 1)
    algo = build(algorithm, n_nodes, vnodes=vnodes, weight_skew=weight_skew, c=c, probes=probes, table_size=table_size)
    keys = [f"key-{i}" for i in range(n_keys)]
    a = algo.assign(keys)
    summary = balance(a, len(algo.nodes), algo.weights)
    join = movement(algo, algo.with_node("node-new"), keys)
    summary["moved_on_join"] = join["moved"]
    summary["ideal_on_join"] = join["ideal"]
    if len(algo.nodes) > 1:
        leave = movement(algo, algo.without_node(algo.nodes[0]), keys)
        summary["moved_on_leave"] = leave["moved"]
        summary["ideal_on_leave"] = leave["ideal"]
    summary["memory_bytes"] = algo.memory_bytes()
    return {"algo": algo, "loads": loads(a, len(algo.nodes)), "summary": summary}


def balance_vs_vnodes(
    n_nodes: int, vnodes: Sequence[int], trials: int = 5, seed: int = 0
) -> pd.DataFrame:
    """Exact ring shares (no key sampling) for each vnode count, with the Beta theory.

    Each trial renames the nodes (``"t<trial>-s<seed>-node-<i>"``), giving independent rings.

    Returns
    -------
    pandas.DataFrame
        One row per vnodes: ``vnodes, cv, peak_to_mean, q005, q995`` (pooled share/mean
        quantiles: the 99% interval) and the theory ``cv_theory, peak_theory, q005_theory,
        q995_theory``.
    """
    from consensuslab.hashing.ring import Ring

    rows = []
    for v in vnodes:
        rel = []
        peaks = []
        for t in range(trials):
            ring = Ring([f"t{t}-s{seed}-node-{i}" for i in range(n_nodes)], vnodes=v)
            r = ring.shares() * n_nodes
            rel.append(r)
            peaks.append(r.max())
        allr = np.concatenate(rel)
        q = ring_share_quantiles_theory(n_nodes, v)
        rows.append(
            {
                "vnodes": v,
                "cv": float(allr.std()),
                "peak_to_mean": float(np.mean(peaks)),
                "q005": float(np.quantile(allr, 0.005)),
                "q995": float(np.quantile(allr, 0.995)),
                "cv_theory": float(ring_cv_theory(n_nodes, v)),
                "peak_theory": float(ring_peak_to_mean_theory(n_nodes, v)),
                "q005_theory": float(q[0]),
                "q995_theory": float(q[1]),
            }
        )
    return pd.DataFrame(rows)


def compare_algorithms(
    algorithms: Sequence[str] = ("ring", "jump", "rendezvous", "maglev", "multiprobe", "bounded", "anchor"),
    n_nodes: int = 50,
    n_keys: int = 200_000,
    vnodes: int = 100,
) -> pd.DataFrame:
    """The practitioner's table: balance, movement, memory and lookup speed per algorithm."""
    keys = [f"key-{i}" for i in range(n_keys)]
    rows = []
    for name in algorithms:
        algo = build(name, n_nodes, vnodes=vnodes)
        t0 = time.perf_counter()
        a = algo.assign(keys)
        dt = time.perf_counter() - t0
        b = balance(a, n_nodes)
        join = movement(algo, algo.with_node("node-new"), keys)
        leave = movement(algo, algo.without_node(algo.nodes[n_nodes // 2]), keys)
        rows.append(
            {
                "algorithm": name,
                "peak_to_mean": b["peak_to_mean"],
                "cv": b["cv"],
                "moved_on_join_over_ideal": join["moved_over_ideal"],
                "moved_on_leave_over_ideal": leave["moved_over_ideal"],
                "memory_bytes": algo.memory_bytes(),
                "keys_per_s": n_keys / dt,
            }
        )
    return pd.DataFrame(rows)

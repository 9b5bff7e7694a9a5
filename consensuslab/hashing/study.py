"""One-call studies behind notebook 05 and the explorer widget.

Theory of operation
-------------------
Each function here turns a handful of knobs into a tidy pandas table that a plot in
:mod:`consensuslab.plots.hashing` draws; nothing here draws.

* :func:`study` builds one algorithm (name, node count, vnodes, weight skew, key count,
  bounded-load factor), places ``"key-<i>"`` keys and summarizes balance, movement on a join
  and a leave, and memory: the explorer's one call.
* :func:`balance_vs_vnodes` measures a ring's *exact* shares of the circle (no key sampling)
  over independent rings, with 95% confidence intervals: the CV (bootstrap over nodes,
  :func:`scipy.stats.bootstrap`), the peak (t interval over rings) and the 99% interval of
  share / mean (distribution-free intervals for the pooled quantiles,
  :func:`scipy.stats.quantile_test`), beside the Beta theory of
  :mod:`consensuslab.hashing.metrics`.
* :func:`jump_vs_ring` is Lamping & Veach's comparison: the spread of the buckets' shares of the
  key space against the number of buckets, for rings with ``v`` points per bucket (exact shares)
  and for jump hash (:func:`~consensuslab.hashing.metrics.jump_keyspace_shares`, exact).
  :func:`keys_per_node_balance` is what a cluster sees with a finite number of keys: jump's
  key counts spread exactly like a perfect hash's (multinomial), a ring's add its arcs' spread.
* :func:`table_balance` is the Maglev paper's section 5.3: fill a lookup table of ``M``
  entries for ``N`` backends with Maglev, Karger (a ring with ``v`` points per backend) and
  rendezvous, and count entries per backend (max / mean, min / mean), over seeds.
  :func:`table_balance_theory` gives the same quantities for an ideal hash: multinomial counts
  for rendezvous, multinomial over Dirichlet(v, ..., v) arc shares for Karger (each node's
  share of a ring is a sum of ``v`` of the ``N v`` uniform spacings), and the exact
  ``floor(M/N)`` / ``ceil(M/N)`` of Maglev's fill (paper, section 3.4).
* :func:`bounded_vs_c` shows bounded loads where the bound binds: the ring's peak beside the
  bounded peak (at most ``ceil(c m / n)``) and the movement it costs, for a range of ``c``.
* :func:`compare_algorithms` is the practitioner's table.

Rings built for independent trials are named ``t<trial>-s<seed>-node-<i>`` and kept in a small
cache (:func:`trial_ring`), so the notebook's balance figure and its Maglev figure share the
thousand-node rings instead of building them twice.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from consensuslab._validate import check_float, check_int
from consensuslab.hashing.base import PlacementAlgorithm
from consensuslab.hashing.metrics import (
    balance,
    jump_keyspace_shares,
    loads,
    movement,
    ring_cv_theory,
    ring_peak_to_mean_theory,
    ring_share_quantiles_theory,
)
from consensuslab.hashing.ring import Ring

__all__ = [
    "balance_vs_vnodes",
    "bounded_vs_c",
    "build",
    "compare_algorithms",
    "jump_vs_ring",
    "keys_per_node_balance",
    "mean_ci",
    "movement_table",
    "node_names",
    "study",
    "table_balance",
    "table_balance_theory",
    "trial_ring",
]

_WEIGHTED = {"ring", "rendezvous", "maglev", "bounded"}


def node_names(n: int) -> list[str]:
    """``["node-0", ..., "node-<n-1>"]``."""
    return [f"node-{i}" for i in range(check_int("n_nodes", n, 1))]


def trial_names(n: int, trial: int, seed: int) -> list[str]:
    """Node names of independent trial ``trial`` under ``seed``: ``t<trial>-s<seed>-node-<i>``."""
    return [f"t{trial}-s{seed}-node-{i}" for i in range(check_int("n_nodes", n, 1))]


#: rings of at least this many points are kept by :func:`trial_ring` (smaller ones rebuild fast)
_CACHE_MIN_POINTS = 1 << 18
#: how many large rings :func:`trial_ring` keeps (~60 MB each at 10**6 points)
_CACHE_SIZE = 5
_ring_cache: OrderedDict[tuple[int, int, int, int], Ring] = OrderedDict()


def trial_ring(n: int, vnodes: int, trial: int, seed: int) -> Ring:
    """The ring of independent trial ``trial``: :func:`trial_names` with ``vnodes`` points each.

    Rings of at least 2**18 points are cached (the five most recently used): a 1000-node ring
    with 1000 points per node takes about a second to build, and the notebook uses the same
    rings for its balance figure and for the Maglev paper's Karger tables.
    """
    key = (int(n), int(vnodes), int(trial), int(seed))
    ring = _ring_cache.get(key)
    if ring is not None:
        _ring_cache.move_to_end(key)
        return ring
    ring = Ring(trial_names(n, trial, seed), vnodes=vnodes)
    if n * vnodes >= _CACHE_MIN_POINTS:
        _ring_cache[key] = ring
        while len(_ring_cache) > _CACHE_SIZE:
            _ring_cache.popitem(last=False)
    return ring


def mean_ci(values: npt.ArrayLike, confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and Student-t confidence interval of independent trial values.

    Returns ``(mean, lo, hi)``; ``lo`` and ``hi`` are NaN with fewer than two values.
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    m = float(x.mean())
    if x.size < 2 or float(x.std()) == 0.0:
        return (m, m, m) if x.size >= 2 else (m, math.nan, math.nan)
    lo, hi = stats.t.interval(confidence, x.size - 1, loc=m, scale=stats.sem(x))
    return m, float(lo), float(hi)


def _std_ci(x: npt.NDArray[np.float64], seed: int) -> tuple[float, float]:
    """95% percentile-bootstrap interval of the standard deviation of ``x``."""
    res = stats.bootstrap((x,), np.std, n_resamples=999, confidence_level=0.95, method="percentile",
                          vectorized=True, random_state=np.random.default_rng(seed))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def _quantile_ci(x: npt.NDArray[np.float64], q: float) -> tuple[float, float]:
    """Distribution-free 95% interval of the ``q`` quantile (order statistics)."""
    ci = stats.quantile_test(x, q=float(np.quantile(x, q)), p=q).confidence_interval(0.95)
    return float(ci.low), float(ci.high)


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
        balance summary plus ``moved_on_join``, ``ideal_on_join`` (the new node's share),
        ``moved_on_leave``, ``ideal_on_leave`` (the leaving node's share), ``memory_bytes``).

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
    """Exact ring shares (no key sampling) for each vnode count, with 95% intervals and theory.

    Each trial is an independent ring (:func:`trial_ring`).

    Returns
    -------
    pandas.DataFrame
        One row per vnodes: ``vnodes, nodes, trials``; ``cv`` (std of share / mean, pooled over
        the trials' nodes) with its bootstrap interval ``cv_lo, cv_hi``; ``peak_to_mean`` (mean
        over rings of max share / mean) with ``peak_lo, peak_hi`` (t interval over rings);
        ``q005, q995`` (pooled quantiles of share / mean: the 99% interval) with
        distribution-free intervals ``q005_lo, q005_hi, q995_lo, q995_hi``; and the Beta theory
        ``cv_theory, peak_theory, q005_theory, q995_theory``.
    """
    n_nodes = check_int("n_nodes", n_nodes, 2)
    trials = check_int("trials", trials, 1)
    rows = []
    for v in vnodes:
        v = check_int("vnodes", v, 1)
        rel = [trial_ring(n_nodes, v, t, seed).shares() * n_nodes for t in range(trials)]
        allr = np.concatenate(rel)
        peak, peak_lo, peak_hi = mean_ci([r.max() for r in rel])
        cv_lo, cv_hi = _std_ci(allr, seed)
        q = ring_share_quantiles_theory(n_nodes, v)
        lo005, hi005 = _quantile_ci(allr, 0.005)
        lo995, hi995 = _quantile_ci(allr, 0.995)
        rows.append(
            {
                "vnodes": v,
                "nodes": n_nodes,
                "trials": trials,
                "cv": float(allr.std()),
                "cv_lo": cv_lo,
                "cv_hi": cv_hi,
                "peak_to_mean": peak,
                "peak_lo": peak_lo,
                "peak_hi": peak_hi,
                "q005": float(np.quantile(allr, 0.005)),
                "q005_lo": lo005,
                "q005_hi": hi005,
                "q995": float(np.quantile(allr, 0.995)),
                "q995_lo": lo995,
                "q995_hi": hi995,
                "cv_theory": float(ring_cv_theory(n_nodes, v)),
                "peak_theory": float(ring_peak_to_mean_theory(n_nodes, v)),
                "q005_theory": float(q[0]),
                "q995_theory": float(q[1]),
            }
        )
    return pd.DataFrame(rows)


def jump_vs_ring(
    buckets: Sequence[int] = (10, 100, 1000),
    vnodes: Sequence[int] = (100, 1000),
    trials: int = 3,
    seed: int = 0,
    jump_buckets: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Spread of the buckets' shares of the key space: rings with ``v`` points vs jump hash.

    Parameters
    ----------
    buckets : sequence of int
        Bucket (node) counts at which rings are measured (exact shares, ``trials`` rings each).
    vnodes : sequence of int
        Points per bucket of the rings.
    trials : int
        Independent rings per (buckets, vnodes).
    seed : int
        Names the rings (:func:`trial_ring`).
    jump_buckets : sequence of int, optional
        Bucket counts for jump hash (exact, :func:`jump_keyspace_shares`); default 3 to
        ``max(buckets)`` on a geometric grid (with 2 buckets the split is exactly even).

    Returns
    -------
    pandas.DataFrame
        ``algorithm`` (``"ring"``/``"jump"``), ``vnodes`` (0 for jump), ``buckets``, ``std``
        (std of share / mean; rings: pooled over trials), ``std_lo, std_hi`` (95% bootstrap
        interval; equal to ``std`` for jump, which is exact), ``std_theory`` (rings: Beta;
        jump: the exact value), ``max_dev`` (largest ``|share / mean - 1|``), ``method``.
    """
    trials = check_int("trials", trials, 1)
    rows: list[dict[str, Any]] = []
    for v in vnodes:
        for n in buckets:
            rel = np.concatenate([trial_ring(n, v, t, seed).shares() * n for t in range(trials)])
            lo, hi = _std_ci(rel, seed)
            rows.append({"algorithm": "ring", "vnodes": int(v), "buckets": int(n), "std": float(rel.std()),
                         "std_lo": lo, "std_hi": hi, "std_theory": float(ring_cv_theory(n, v)),
                         "max_dev": float(np.abs(rel - 1).max()),
                         "method": f"exact arc shares, {trials} rings"})
    if jump_buckets is None:
        top = max(int(b) for b in buckets)
        jump_buckets = sorted({int(round(x)) for x in np.geomspace(3, top, 25)})
    for n in jump_buckets:
        rel = jump_keyspace_shares(int(n)) * n
        s = float(rel.std())
        rows.append({"algorithm": "jump", "vnodes": 0, "buckets": int(n), "std": s, "std_lo": s, "std_hi": s,
                     "std_theory": s, "max_dev": float(np.abs(rel - 1).max()),
                     "method": "exact, 31-bit arithmetic"})
    return pd.DataFrame(rows)


def keys_per_node_balance(
    n_nodes: int = 100,
    keys_per_node: Sequence[int] = (10, 100, 1000, 10_000),
    vnodes: Sequence[int] = (100, 1000),
    trials: int = 3,
    seed: int = 0,
) -> pd.DataFrame:
    """CV of keys per node against keys per node: jump (a perfect hash) vs rings.

    Keys are uniform random 64-bit integers (a fresh draw per trial). With ``m`` keys on ``n``
    nodes a perfect hash's counts are multinomial, CV ``sqrt((n - 1) / m)``; a ring adds its
    arcs' spread, CV about ``sqrt(cv_ring^2 + (n - 1) / m)``.

    Returns
    -------
    pandas.DataFrame
        ``algorithm, vnodes`` (0 for jump), ``keys_per_node, keys, cv`` (mean over trials),
        ``cv_lo, cv_hi`` (95% t interval), ``cv_theory``, ``cv_over_multinomial``.
    """
    from consensuslab.hashing.jump import Jump

    n_nodes = check_int("n_nodes", n_nodes, 2)
    trials = check_int("trials", trials, 1)
    rng = np.random.default_rng(seed)
    configs: list[tuple[str, int]] = [("jump", 0)] + [("ring", int(v)) for v in vnodes]
    algos: dict[tuple[str, int], list[PlacementAlgorithm]] = {
        (name, v): [Jump(trial_names(n_nodes, t, seed)) if name == "jump" else trial_ring(n_nodes, v, t, seed)
                    for t in range(trials)]
        for name, v in configs
    }
    rows = []
    for kpn in keys_per_node:
        m = check_int("keys_per_node", kpn, 1) * n_nodes
        draws = [rng.integers(0, 2**63, m, dtype=np.int64) for _ in range(trials)]
        multinomial = math.sqrt((n_nodes - 1) / m)
        for name, v in configs:
            cvs = []
            for algo, keys in zip(algos[(name, v)], draws):
                c = loads(algo.assign(keys), n_nodes) / (m / n_nodes)
                cvs.append(float(c.std()))
            cv, lo, hi = mean_ci(cvs)
            theory = multinomial if name == "jump" else math.sqrt(float(ring_cv_theory(n_nodes, v)) ** 2 + multinomial**2)
            rows.append({"algorithm": name, "vnodes": v, "keys_per_node": int(kpn), "keys": m, "cv": cv,
                         "cv_lo": lo, "cv_hi": hi, "cv_theory": theory, "cv_over_multinomial": cv / multinomial})
    return pd.DataFrame(rows)


def table_balance(
    n_backends: int = 1000,
    table_sizes: Sequence[int] = (65537, 655373),
    methods: Sequence[str] = ("maglev", "karger", "rendezvous"),
    karger_vnodes: int = 1000,
    seeds: int = 3,
    seed: int = 0,
    max_rendezvous_work: float = math.inf,
) -> pd.DataFrame:
    """Entries per backend when a lookup table of ``M`` entries is filled (Maglev paper, 5.3).

    Parameters
    ----------
    n_backends : int
        ``N`` (the paper: 1000).
    table_sizes : sequence of int
        ``M`` (the paper: 65537 "small" and 655373 "large"; primes).
    methods : sequence of {"maglev", "karger", "rendezvous"}
        Maglev's own fill; Karger: a ring with ``karger_vnodes`` points per backend (the
        paper's "1000 views"), entry ``i`` placed as key ``i``; rendezvous: entry ``i`` to the
        backend of highest random weight.
    karger_vnodes : int
        Points per backend of the Karger ring (the paper: 1000).
    seeds : int
        Independent layouts (backend names, :func:`trial_names`) for Karger and rendezvous.
        Maglev is measured once per table size: its fill gives every backend ``floor(M/N)`` or
        ``ceil(M/N)`` entries whatever the names (paper, section 3.4).
    seed : int
        Names the layouts.
    max_rendezvous_work : float
        Skip rendezvous where ``N * M`` (hash evaluations) exceeds this (its cost is
        ``N`` scores per entry: 6.5e8 for the large table, ~20 s).

    Returns
    -------
    pandas.DataFrame
        One row per (method, table size, trial): ``method, table_size, backends, trial,
        max_over_mean, min_over_mean, max_entries, min_entries, mean_entries, seconds``.
    """
    from consensuslab.hashing.maglev import Maglev
    from consensuslab.hashing.rendezvous import Rendezvous

    n = check_int("n_backends", n_backends, 2)
    seeds = check_int("seeds", seeds, 1)
    rows = []
    for method in methods:
        if method not in ("maglev", "karger", "rendezvous"):
            raise ValueError(f"`methods` must hold 'maglev', 'karger' or 'rendezvous'; got {method!r}.")
        for size in table_sizes:
            size = check_int("table_sizes", size, n + 1)
            if method == "rendezvous" and n * size > max_rendezvous_work:
                continue
            for t in range(1 if method == "maglev" else seeds):
                t0 = time.perf_counter()
                if method == "maglev":
                    counts = np.bincount(Maglev(trial_names(n, t, seed), table_size=size).table, minlength=n)
                else:
                    algo = trial_ring(n, karger_vnodes, t, seed) if method == "karger" else Rendezvous(trial_names(n, t, seed))
                    counts = loads(algo.assign(np.arange(size, dtype=np.int64)), n)
                mean = size / n
                rows.append({"method": method, "table_size": size, "backends": n, "trial": t,
                             "max_over_mean": float(counts.max() / mean), "min_over_mean": float(counts.min() / mean),
                             "max_entries": int(counts.max()), "min_entries": int(counts.min()), "mean_entries": mean,
                             "seconds": time.perf_counter() - t0})
    return pd.DataFrame(rows)


def table_balance_theory(
    n_backends: int = 1000,
    table_sizes: Sequence[int] = (65537, 655373),
    karger_vnodes: int = 1000,
    draws: int = 2000,
    seed: int = 0,
    quantiles: Sequence[float] = (0.01, 0.05, 0.5, 0.95, 0.99),
) -> pd.DataFrame:
    """Max / mean and min / mean entries per backend for an ideal hash (no implementation).

    Rendezvous with an ideal hash sends each entry to a uniform backend: multinomial counts.
    Karger's ring gives each backend a share ~ Dirichlet(v, ..., v) of the circle (a sum of
    ``v`` of the ``N v`` uniform spacings), then the entries are multinomial over those
    shares. Maglev's fill is exact: ``ceil(M/N) / (M/N)`` and ``floor(M/N) / (M/N)``.

    Returns
    -------
    pandas.DataFrame
        ``method, table_size, backends, stat`` (``"max"``/``"min"``) and one column per
        quantile (``q01``, ``q05``, ``q50``, ...) of that statistic over ``draws`` tables.
    """
    n = check_int("n_backends", n_backends, 2)
    draws = check_int("draws", draws, 1)
    rng = np.random.default_rng(seed)
    names = [f"q{round(q * 100):02d}" for q in quantiles]
    rows = []
    for size in table_sizes:
        size = check_int("table_sizes", size, n + 1)
        mean = size / n
        rows.append({"method": "maglev", "table_size": size, "backends": n, "stat": "max",
                     **{k: math.ceil(size / n) / mean for k in names}})
        rows.append({"method": "maglev", "table_size": size, "backends": n, "stat": "min",
                     **{k: math.floor(size / n) / mean for k in names}})
        for method in ("karger", "rendezvous"):
            mx = np.empty(draws)
            mn = np.empty(draws)
            for d in range(draws):
                p = rng.dirichlet(np.full(n, float(karger_vnodes))) if method == "karger" else np.full(n, 1.0 / n)
                c = rng.multinomial(size, p)
                mx[d], mn[d] = c.max() / mean, c.min() / mean
            for stat, x in (("max", mx), ("min", mn)):
                rows.append({"method": method, "table_size": size, "backends": n, "stat": stat,
                             **dict(zip(names, np.quantile(x, quantiles).tolist()))})
    return pd.DataFrame(rows)


def bounded_vs_c(
    n_nodes: int = 50,
    n_keys: int = 50_000,
    vnodes: int = 100,
    cs: Sequence[float] = (1.05, 1.1, 1.2, 1.3, 1.5),
    trials: int = 3,
    seed: int = 0,
) -> pd.DataFrame:
    """Bounded loads against the plain ring they sit on, for a range of load factors ``c``.

    Each trial is an independent layout (:func:`trial_names`) and a fresh batch of ``n_keys``
    random integer keys. For each ``c``: the bounded peak (max load / mean, at most
    ``ceil(c m / n) / (m / n)``) beside the same ring's peak, and the movement when a node
    joins and when one leaves, over the least possible (:func:`movement`'s ``ideal``).

    Returns
    -------
    pandas.DataFrame
        One row per (c, trial): ``c, trial, ring_peak, bounded_peak, cap, binds``
        (``ring_peak > cap``), ``join_over_ideal, leave_over_ideal`` (bounded) and
        ``ring_join_over_ideal, ring_leave_over_ideal``.
    """
    from consensuslab.hashing.bounded import BoundedLoad

    n_nodes = check_int("n_nodes", n_nodes, 2)
    n_keys = check_int("n_keys", n_keys, 1)
    trials = check_int("trials", trials, 1)
    rng = np.random.default_rng(seed)
    rows = []
    for t in range(trials):
        names = trial_names(n_nodes, t, seed)
        keys = rng.integers(0, 2**63, n_keys, dtype=np.int64)
        ring = Ring(names, vnodes=vnodes)
        ring_peak = float(loads(ring.assign(keys), n_nodes).max() / (n_keys / n_nodes))
        ring_join = movement(ring, ring.with_node("node-new"), keys)["moved_over_ideal"]
        ring_leave = movement(ring, ring.without_node(names[0]), keys)["moved_over_ideal"]
        for c in cs:
            c = check_float("cs", c, 1.0, low_open=True)
            b = BoundedLoad(names, c=c, vnodes=vnodes)
            peak = float(loads(b.assign(keys), n_nodes).max() / (n_keys / n_nodes))
            cap = float(b.capacities(n_keys).max() / (n_keys / n_nodes))
            rows.append({"c": c, "trial": t, "ring_peak": ring_peak, "bounded_peak": peak, "cap": cap,
                         "binds": ring_peak > cap,
                         "join_over_ideal": float(movement(b, b.with_node("node-new"), keys)["moved_over_ideal"]),
                         "leave_over_ideal": float(movement(b, b.without_node(names[0]), keys)["moved_over_ideal"]),
                         "ring_join_over_ideal": float(ring_join), "ring_leave_over_ideal": float(ring_leave)})
    return pd.DataFrame(rows)


def movement_table(
    algorithms: Sequence[str] = ("ring", "jump", "rendezvous", "maglev", "multiprobe", "anchor"),
    n_nodes: int = 10,
    n_keys: int = 20_000,
    leave: int = 3,
    vnodes: int = 100,
) -> pd.DataFrame:
    """:func:`movement` for each algorithm when ``"node-new"`` joins and when node ``leave`` leaves.

    Returns
    -------
    pandas.DataFrame
        One row per (algorithm, event): ``algorithm, event`` (``"join"``/``"leave"``) and the
        columns of :func:`movement` (``moved, ideal, moved_over_ideal, ideal_balanced, ...``).
    """
    n_nodes = check_int("n_nodes", n_nodes, 2)
    leave = check_int("leave", leave, 0, n_nodes - 1)
    keys = [f"key-{i}" for i in range(check_int("n_keys", n_keys, 1))]
    rows = []
    for name in algorithms:
        algo = build(name, n_nodes, vnodes=vnodes)
        for event, other in (("join", algo.with_node("node-new")), ("leave", algo.without_node(algo.nodes[leave]))):
            rows.append({"algorithm": name, "event": event, **movement(algo, other, keys).to_dict()})
    return pd.DataFrame(rows)


def compare_algorithms(
    algorithms: Sequence[str] = ("ring", "jump", "rendezvous", "maglev", "multiprobe", "bounded", "anchor"),
    n_nodes: int = 50,
    n_keys: int = 200_000,
    vnodes: int = 100,
    c: float = 1.25,
) -> pd.DataFrame:
    """The practitioner's table: balance, movement, memory and lookup speed per algorithm.

    Movement is over the least possible (:func:`movement`): 1.0 means only the joining node's
    or the leaving node's keys moved. ``join_share_over_fair`` is the share the joining node
    took over ``1/(n+1)``: below 1 when it took less than a fair share (a balance shortfall,
    not a saving). Bounded loads use ``c`` on a ring with ``vnodes`` points per node, like the
    ``ring`` row, so the two rows differ exactly where the cap binds.
    """
    keys = [f"key-{i}" for i in range(n_keys)]
    rows = []
    for name in algorithms:
        algo = build(name, n_nodes, vnodes=vnodes, c=c)
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
                "join_share_over_fair": join["share_over_balanced"],
                "memory_bytes": algo.memory_bytes(),
                "keys_per_s": n_keys / dt,
            }
        )
    return pd.DataFrame(rows)

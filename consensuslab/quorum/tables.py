"""Tidy tables for the quorum notebook and widgets (one library call per figure).

Theory of operation
-------------------
Each function sweeps one knob over a family of quorum systems and returns a long-format
``pandas.DataFrame`` ready for :mod:`consensuslab.plots.quorum`. They only call the public
methods of the systems in :mod:`consensuslab.quorum.systems`, so every number in a plot is
the same number a test checks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from consensuslab._validate import check_int, check_probability
from consensuslab.quorum import pbs
from consensuslab.quorum.systems import FlexiblePaxos, Grid, Majority, Probabilistic, QuorumSystem

__all__ = [
    "standard_systems",
    "availability_curve",
    "system_summary",
    "grid_vs_majority",
    "flexible_paxos_table",
    "probabilistic_table",
    "survivable_failures",
    "pbs_curve",
]


def standard_systems(sizes: Sequence[int] = (3, 5, 7, 9), grids: Sequence[int] = (2, 3)) -> dict[str, QuorumSystem]:
    """Majorities of the given sizes and ``d x d`` row-column grids, keyed by a display name."""
    systems: dict[str, QuorumSystem] = {f"Majority({n})": Majority(n) for n in sizes}
    systems.update({f"Grid({d}x{d})": Grid(d, d) for d in grids})
    return systems


def availability_curve(systems: Mapping[str, QuorumSystem], p: Sequence[float] | np.ndarray) -> pd.DataFrame:
    """Availability of each system at each per-node failure probability.

    Returns
    -------
    pandas.DataFrame
        Columns ``system``, ``n``, ``p`` (node failure probability), ``availability``,
        ``unavailability``.
    """
    ps = [check_probability("p", float(x)) for x in np.atleast_1d(p)]
    rows = []
    for name, q in systems.items():
        for x in ps:
            u = q.unavailability(x)
            rows.append({"system": name, "n": q.n, "p": x, "availability": 1.0 - u, "unavailability": u})
    return pd.DataFrame(rows)


def system_summary(systems: Mapping[str, QuorumSystem], p: float = 0.1) -> pd.DataFrame:
    """Load, capacity, resilience and availability at ``p`` for each system (the load/availability trade-off)."""
    p = check_probability("p", p)
    rows = []
    for name, q in systems.items():
        load = q.load()
        rows.append(
            {
                "system": name,
                "n": q.n,
                "load": load,
                "capacity": 1.0 / load,
                "resilience": q.resilience(),
                "availability": q.availability(p),
                "unavailability": q.unavailability(p),
                # chance that two quorums miss each other: 0 for strict systems
                "p_nonintersect": float(q.p_nonintersect()) if isinstance(q, Probabilistic) else 0.0,
            }
        )
    return pd.DataFrame(rows)


def grid_vs_majority(sides: Sequence[int], p: float = 0.1) -> pd.DataFrame:
    """A d x d grid against a majority of as many nodes: load and unavailability at ``p``.

    The majority is of ``n = d²`` nodes, or ``d² + 1`` when ``d²`` is even (clusters run an odd
    number of nodes: a majority of 4 has the load and availability of a majority of 3 plus a node).

    Examples
    --------
    >>> t = grid_vs_majority([3])
    >>> bool(np.isclose(t.loc[0, "grid_load"], t.loc[0, "majority_load"]))  # 5/9 both
    True
    """
    p = check_probability("p", p)
    rows = []
    for d in sides:
        d = check_int("sides", d, 1)
        m_n = d * d + (1 - d * d % 2)
        g, m = Grid(d, d), Majority(m_n)
        rows.append({"side": d, "n": d * d, "grid": f"Grid({d}x{d})", "majority": f"Majority({m_n})",
                     "grid_load": g.load(), "majority_load": m.load(),
                     "grid_unavailability": g.unavailability(p), "majority_unavailability": m.unavailability(p)})
    return pd.DataFrame(rows)


def flexible_paxos_table(n: int, p: float) -> pd.DataFrame:
    """Every Flexible Paxos configuration with ``q1 + q2 = n + 1`` (the smallest safe pairs).

    Returns
    -------
    pandas.DataFrame
        Columns ``q1``, ``q2``, ``phase1_availability``, ``phase2_availability``,
        ``both_availability``, ``phase2_load``, ``intersects``.
    """
    n = check_int("n", n, 1)
    p = check_probability("p", p)
    rows = []
    for q2 in range(1, n + 1):
        q1 = n + 1 - q2
        fp = FlexiblePaxos(n, q1, q2)
        rows.append(
            {
                "q1": q1,
                "q2": q2,
                "phase1_availability": fp.phase1_availability(p),
                "phase2_availability": fp.phase2_availability(p),
                "both_availability": fp.availability(p),
                "phase2_load": fp.load(read_fraction=0.0),
                "intersects": fp.intersects(),
            }
        )
    return pd.DataFrame(rows)


def probabilistic_table(n: int, ls: Sequence[float]) -> pd.DataFrame:
    """Exact non-intersection vs the ``exp(-l**2)`` bound for probabilistic quorums of size ``l sqrt(n)``."""
    n = check_int("n", n, 1)
    rows = []
    for l in ls:  # noqa: E741
        q = Probabilistic(n, l=l)
        rows.append({"l": l, "q": q.q, "l_effective": q.l, "p_nonintersect": q.p_nonintersect(), "bound": q.bound(), "load": q.load()})
    return pd.DataFrame(rows)


def survivable_failures(ns: Sequence[int]) -> pd.DataFrame:
    """Majority size, failures survived (resilience) and failures that block, per cluster size."""
    rows = []
    for n in ns:
        m = Majority(n)
        rows.append({"n": m.n, "quorum": m.k, "survives": m.resilience(), "blocked_by": m.blocking_number(), "intersection_min": 2 * m.k - m.n})
    return pd.DataFrame(rows)


def pbs_curve(n: int, r: int, w: int, t: Sequence[float] | np.ndarray, trials: int = 200_000, seed: int = 0) -> pd.DataFrame:
    """P(consistent read) vs time after commit for every profile in :data:`pbs.PROFILES` (see :func:`pbs.wars_curve`)."""
    return pbs.wars_curve(n, r, w, list(pbs.PROFILES), t, trials=trials, seed=seed)


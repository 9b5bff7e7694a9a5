"""Quorum systems: membership, intersection, availability, load/capacity and resilience.

Theory of operation
-------------------
A *quorum system* over nodes ``X`` is a family of subsets (quorums); here every system is
*monotone* — a superset of a quorum is a quorum — so it is described by a predicate
``is_quorum(alive)``. Two families *intersect* when every quorum of one meets every quorum of
the other; a majority system intersects itself by pigeonhole (``2 * (n//2 + 1) > n``).

Every system answers the same questions:

``is_quorum(alive)``
    ``alive`` is a 1-D bool vector (one entry per node), a 2-D bool array (states x nodes),
    or a collection (set/list/tuple) of node names. Vectorized over rows.
``availability(p)``
    P(some quorum is fully alive) when node ``i`` **fails** independently with probability
    ``p`` (scalar) or ``p[i]`` (vector). Closed forms where they exist (binomial /
    Poisson-binomial for thresholds, weight-sum DP for integer weights, inclusion-exclusion
    for grids and disjoint quorums), else exact enumeration of all ``2**n`` states
    (``n <= ENUMERATION_LIMIT``), else Monte Carlo (:meth:`QuorumSystem.availability_mc`
    returns a Wilson confidence interval).
``load()`` / ``capacity()``
    Naor & Wool (1998): a *strategy* is a distribution over quorums; a node's load is the
    probability it is picked; the system's load is the min over strategies of the max node
    load (an LP, ``scipy.optimize.linprog``); capacity = 1/load. Closed forms for thresholds
    (``k/n``) and grids (``(r + c - 1)/(r c)``).
``minimal_quorums()``, ``resilience()``
    Resilience is the largest ``f`` such that *any* ``f`` failures leave a live quorum (as in
    quoracle); the fewest failures that leave no live quorum is ``resilience() + 1``
    (:meth:`QuorumSystem.blocking_number`).

Read/write systems (:class:`ReadWriteSystem`, :class:`ReadWrite`, :class:`FlexiblePaxos`)
pair two systems (``.read``/``.write``, alias ``.phase1``/``.phase2``); their ``is_quorum`` is
"both a read and a write quorum are alive" and their load takes a read fraction, exactly as
quoracle does. :func:`intersecting` decides whether every quorum of one system meets every
quorum of another — the safety condition of Flexible Paxos (``|Q1| + |Q2| > N``) and of
strict R/W quorums (``R + W > N``).
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import cast

import numpy as np
from scipy import stats
from scipy.optimize import Bounds, LinearConstraint, milp

from consensuslab.stats import wilson
from consensuslab._validate import check_float, check_int, check_probability, describe
from consensuslab.quorum._core import (
    ENUMERATION_LIMIT,
    all_states,
    count_distribution,
    failure_vector,
    optimal_load,
    state_probabilities,
)
from consensuslab.quorum.expr import And, Expr, Node, Or, minimize, parse

__all__ = [
    "QuorumSystem",
    "Threshold",
    "Majority",
    "Weighted",
    "Grid",
    "ExprSystem",
    "Explicit",
    "Probabilistic",
    "ReadWriteSystem",
    "ReadWrite",
    "FlexiblePaxos",
    "Strategy",
    "intersecting",
    "expr",
    "MINIMAL_QUORUM_LIMIT",
]

NodeName = Hashable

#: Default cap on the number of minimal quorums listed or fed to the load LP.
MINIMAL_QUORUM_LIMIT = 200_000

_METHODS = ("auto", "closed", "enumerate", "montecarlo")


@dataclass(frozen=True)
class Strategy:
    """An optimal (load-minimising) strategy.

    Attributes
    ----------
    load : float
        Max node load under the strategy (the system's load).
    read : dict[frozenset, float]
        Probability of picking each (read) quorum; zero-probability quorums omitted.
    write : dict[frozenset, float] or None
        Same for write quorums (read/write systems only).
    node_loads : dict
        Load of every node, by name.
    """

    load: float
    read: dict
    write: dict | None
    node_loads: dict = field(default_factory=dict)

    @property
    def capacity(self) -> float:
        """1 / load."""
        return math.inf if self.load == 0 else 1.0 / self.load


def _names_to_mask(system_nodes: Sequence[NodeName], index: dict, members: Iterable, what: str) -> np.ndarray:
    mask = np.zeros(len(system_nodes), dtype=bool)
    for m in members:
        key = m.item() if isinstance(m, np.generic) else m
        if key not in index:
            raise ValueError(f"`{what}` names node {key!r}, which is not one of the nodes {list(system_nodes)[:12]}.")
        mask[index[key]] = True
    return mask


class QuorumSystem:
    """Base class: a monotone quorum system over named nodes. Subclasses define :meth:`_evaluate`."""

    def __init__(self, nodes: Sequence[NodeName]) -> None:
        nodes = tuple(nodes)
        if len(nodes) < 1:
            raise ValueError("`n` must be an int >= 1; got 0.")
        index = {}
        for i, name in enumerate(nodes):
            if name in index:
                raise ValueError(f"`nodes` must be distinct; got {name!r} twice.")
            index[name] = i
        self._nodes = nodes
        self._index = index

    # -- identity --------------------------------------------------------------------------
    @property
    def nodes(self) -> tuple:
        """Node names, in column order of state arrays."""
        return self._nodes

    @property
    def n(self) -> int:
        """Number of nodes."""
        return len(self._nodes)

    def index_of(self, name: NodeName) -> int:
        """Column of node ``name``."""
        if name not in self._index:
            raise ValueError(f"`name` must be one of the nodes {list(self._nodes)[:12]}; got {name!r}.")
        return self._index[name]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n={self.n})"

    # -- membership ------------------------------------------------------------------------
    def _evaluate(self, states: np.ndarray) -> np.ndarray:
        """``states``: ``(m, n)`` bool; return ``(m,)`` bool (is a quorum alive?)."""
        raise NotImplementedError

    def as_states(self, alive: object, what: str = "alive") -> tuple[np.ndarray, bool]:
        """Normalise ``alive`` to a 2-D bool array; second value is True if the input was one state."""
        if isinstance(alive, (set, frozenset)):
            return _names_to_mask(self._nodes, self._index, alive, what)[None, :], True
        if isinstance(alive, (str, bytes)) or alive is None or isinstance(alive, numbers.Number):
            raise TypeError(
                f"`{what}` must be a bool vector of length {self.n}, a 2-D bool array, "
                f"or a collection of node names; got {describe(alive)}."
            )
        arr = np.asarray(alive)
        if arr.dtype == bool:
            if arr.ndim == 1:
                if arr.shape[0] != self.n:
                    raise ValueError(f"`{what}` must have length {self.n} (one entry per node); got {arr.shape[0]}.")
                return arr[None, :], True
            if arr.ndim == 2:
                if arr.shape[1] != self.n:
                    raise ValueError(f"`{what}` must have {self.n} columns (one per node); got shape {arr.shape}.")
                return arr, False
            raise ValueError(f"`{what}` must be 1-D or 2-D; got {arr.ndim}-D.")
        if arr.ndim > 1:
            raise TypeError(f"`{what}` as a 2-D array must have dtype bool; got {arr.dtype}.")
        names = cast("Iterable[NodeName]", alive)  # a 1-D array-like that is not bool: node names
        return _names_to_mask(self._nodes, self._index, list(names), what)[None, :], True

    def is_quorum(self, alive: object) -> bool | np.ndarray:
        """Does ``alive`` contain a quorum?

        Parameters
        ----------
        alive : bool array (n,) or (m, n), or a collection of node names
            Bool arrays must have dtype ``bool``; any other 1-D input is read as node names.

        Returns
        -------
        bool or numpy.ndarray of bool
            One bool for one state, an ``(m,)`` array for a 2-D input.

        Examples
        --------
        >>> q = Majority(5)
        >>> q.is_quorum({0, 1, 2}), q.is_quorum([True, True, False, False, False])
        (True, False)
        """
        states, single = self.as_states(alive)
        out = np.asarray(self._evaluate(states), dtype=bool)
        return bool(out[0]) if single else out

    # -- availability ----------------------------------------------------------------------
    def _availability_closed(self, p: np.ndarray) -> float | None:
        """Closed form, or None if this system has none."""
        return None

    def availability(
        self,
        p: object,
        method: str = "auto",
        *,
        trials: int = 200_000,
        seed: int = 0,
    ) -> float:
        """Probability that at least one quorum is fully alive.

        Parameters
        ----------
        p : float or array_like of shape (n,)
            **Failure** probability of each node (independent failures); a scalar applies to
            every node.
        method : {"auto", "closed", "enumerate", "montecarlo"}
            ``auto`` uses the closed form if there is one, else exact enumeration when
            ``n <= ENUMERATION_LIMIT``, else Monte Carlo.
        trials, seed : int
            Monte Carlo sample size and seed (only for ``montecarlo``).

        Returns
        -------
        float

        Raises
        ------
        ValueError
            Probabilities outside [0, 1]; ``closed`` for a system without a closed form;
            ``enumerate`` beyond ``ENUMERATION_LIMIT`` nodes.

        Examples
        --------
        >>> round(1 - Majority(5).availability(0.1), 5)
        0.00856
        """
        from consensuslab._validate import check_choice

        check_choice("method", method, _METHODS)
        pv = failure_vector(p, self.n)
        if method in ("auto", "closed"):
            value = self._availability_closed(pv)
            if value is not None:
                return float(min(max(value, 0.0), 1.0))
            if method == "closed":
                raise ValueError(f"`method` must not be 'closed' for {type(self).__name__}: it has no closed form.")
        if method == "enumerate" or (method == "auto" and self.n <= ENUMERATION_LIMIT):
            return 1.0 - self._unavailability_enumerate(pv)
        return self.availability_mc(pv, trials=trials, seed=seed)[0]

    def unavailability(self, p: object, method: str = "auto") -> float:
        """1 - availability, computed directly where possible (no cancellation for tiny values)."""
        from consensuslab._validate import check_choice

        check_choice("method", method, _METHODS)
        pv = failure_vector(p, self.n)
        if method == "enumerate" or (method == "auto" and self._availability_closed(pv) is None and self.n <= ENUMERATION_LIMIT):
            return self._unavailability_enumerate(pv)
        return 1.0 - self.availability(pv, method=method)

    def _unavailability_enumerate(self, p: np.ndarray) -> float:
        states = all_states(self.n)
        probs = state_probabilities(p)
        ok = self._evaluate_chunked(states)
        return float(probs[~ok].sum())

    def _evaluate_chunked(self, states: np.ndarray, chunk: int = 1 << 18) -> np.ndarray:
        if len(states) <= chunk:
            return np.asarray(self._evaluate(states), dtype=bool)
        return np.concatenate([np.asarray(self._evaluate(states[i : i + chunk]), dtype=bool) for i in range(0, len(states), chunk)])

    def availability_mc(
        self, p: object, trials: int = 200_000, seed: int = 0, confidence: float = 0.95
    ) -> tuple[float, float, float]:
        """Monte Carlo availability with a Wilson confidence interval.

        Parameters
        ----------
        p : float or array_like
            Per-node failure probabilities (as in :meth:`availability`).
        trials : int
            Number of sampled failure patterns.
        seed : int
            Seed of the ``numpy.random.Generator``.
        confidence : float
            Confidence level of the interval.

        Returns
        -------
        (estimate, low, high)
        """
        pv = failure_vector(p, self.n)
        trials = check_int("trials", trials, 1)
        check_int("seed", seed, 0)
        check_float("confidence", confidence, 0.0, 1.0, low_open=True, high_open=True)
        rng = np.random.default_rng(seed)
        hits = 0
        chunk = max(1, (1 << 22) // self.n)
        done = 0
        while done < trials:
            m = min(chunk, trials - done)
            alive = rng.random((m, self.n)) >= pv
            hits += int(np.count_nonzero(self._evaluate(alive)))
            done += m
        low, high = wilson(hits, trials, confidence)
        return hits / trials, low, high

    # -- structure -------------------------------------------------------------------------
    def _minimal_quorum_indices(self, limit: int) -> list[np.ndarray]:
        """Generic: enumerate all states, keep quorums whose every one-node removal is not one."""
        states = all_states(self.n)
        ok = self._evaluate_chunked(states)
        idx = np.flatnonzero(ok).astype(np.int64)
        minimal = np.ones(len(idx), dtype=bool)
        for i in range(self.n):
            has = ((idx >> i) & 1).astype(bool)
            minimal &= ~has | ~ok[idx & ~(1 << i)]
        chosen = idx[minimal]
        if len(chosen) > limit:
            raise ValueError(f"`limit` must be >= the number of minimal quorums ({len(chosen)}); got {limit}.")
        rows = states[chosen]
        return [np.flatnonzero(r) for r in rows]

    def minimal_quorums(self, limit: int = MINIMAL_QUORUM_LIMIT) -> list[frozenset]:
        """The inclusion-minimal quorums, as frozensets of node names.

        Raises
        ------
        ValueError
            If there are more than ``limit`` of them (or the system is too large to enumerate).
        """
        limit = check_int("limit", limit, 1)
        return [frozenset(self._nodes[i] for i in q) for q in self._minimal_quorum_indices(limit)]

    def _load_closed(self) -> float | None:
        return None

    def strategy(self) -> Strategy:
        """The load-optimal strategy (Naor & Wool LP over the minimal quorums)."""
        quorums = self._minimal_quorum_indices(MINIMAL_QUORUM_LIMIT)
        load, x, _, node_loads = optimal_load(self.n, quorums)
        read = {frozenset(self._nodes[i] for i in q): float(v) for q, v in zip(quorums, x) if v > 1e-12}
        return Strategy(load, read, None, dict(zip(self._nodes, map(float, node_loads))))

    def load(self, method: str = "auto") -> float:
        """Optimal load (Naor & Wool 1998): min over strategies of the busiest node's load.

        Parameters
        ----------
        method : {"auto", "closed", "lp"}
            ``auto`` uses the closed form when the system has one, else the LP.

        Examples
        --------
        >>> Majority(5).load(), round(Grid(3, 3).load(method="lp"), 6)
        (0.6, 0.555556)
        """
        from consensuslab._validate import check_choice

        check_choice("method", method, ("auto", "closed", "lp"))
        if method != "lp":
            value = self._load_closed()
            if value is not None:
                return value
            if method == "closed":
                raise ValueError(f"`method` must not be 'closed' for {type(self).__name__}: it has no closed form.")
        return self.strategy().load

    def capacity(self, method: str = "auto") -> float:
        """1 / :meth:`load` (operations per unit of per-node throughput)."""
        return 1.0 / self.load(method)

    def _resilience_closed(self) -> int | None:
        return None

    def resilience(self) -> int:
        """Largest ``f`` such that any ``f`` failed nodes still leave a live quorum.

        Examples
        --------
        >>> Majority(5).resilience(), Majority(5).blocking_number()
        (2, 3)
        """
        value = self._resilience_closed()
        if value is not None:
            return value
        if self.n <= ENUMERATION_LIMIT:
            states = all_states(self.n)
            ok = self._evaluate_chunked(states)
            dead = self.n - states.sum(axis=1)
            return int(dead[~ok].min()) - 1
        return self._resilience_milp()

    def _resilience_milp(self) -> int:
        quorums = self._minimal_quorum_indices(MINIMAL_QUORUM_LIMIT)
        m = len(quorums)
        a = np.zeros((m, self.n))
        for j, q in enumerate(quorums):
            a[j, q] = 1.0
        res = milp(
            c=np.ones(self.n),
            constraints=LinearConstraint(a, lb=np.ones(m), ub=np.inf),
            integrality=np.ones(self.n),
            bounds=Bounds(0, 1),
        )
        return int(round(res.fun)) - 1

    def blocking_number(self) -> int:
        """Fewest node failures that leave no live quorum (= ``resilience() + 1``)."""
        return self.resilience() + 1

    def to_expr(self) -> Expr:
        """An equivalent boolean expression (OR of ANDs of the minimal quorums)."""
        return Or(tuple(And(tuple(Node(x) for x in sorted(q, key=str))) for q in self.minimal_quorums()))

    def dual(self) -> QuorumSystem:
        """The dual system: minimal sets meeting every quorum (optimal write quorums for these reads)."""
        return ExprSystem(self.to_expr().dual(), nodes=self._nodes)

    def is_intersecting(self) -> bool:
        """Do every two quorums of this system intersect (a coterie)?"""
        return intersecting(self, self)


# -- threshold family --------------------------------------------------------------------
def _default_nodes(n: int, nodes: Sequence[NodeName] | None) -> tuple:
    if nodes is None:
        return tuple(range(n))
    nodes = tuple(nodes)
    if len(nodes) != n:
        raise ValueError(f"`nodes` must name exactly n = {n} nodes; got {len(nodes)}.")
    return nodes


class Threshold(QuorumSystem):
    """Any ``k`` of ``n`` nodes form a quorum.

    Parameters
    ----------
    n : int
        Number of nodes (>= 1).
    k : int
        Quorum size, ``1 <= k <= n``.
    nodes : sequence, optional
        Node names (default ``0 .. n-1``).

    Notes
    -----
    Availability is the binomial tail ``P(Bin(n, 1-p) >= k)`` (Poisson-binomial for
    per-node ``p``); load ``k/n`` (uniform over k-subsets is optimal by symmetry); resilience
    ``n - k``. Two threshold systems intersect iff ``k1 + k2 > n``.
    """

    def __init__(self, n: int, k: int, nodes: Sequence[NodeName] | None = None) -> None:
        n = check_int("n", n, 1)
        k = check_int("k", k, 1, n)
        super().__init__(_default_nodes(n, nodes))
        self.k = k

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n={self.n}, k={self.k})"

    def _evaluate(self, states: np.ndarray) -> np.ndarray:
        return np.count_nonzero(states, axis=1) >= self.k

    def _availability_closed(self, p: np.ndarray) -> float | None:
        if np.all(p == p[0]):
            return float(stats.binom.sf(self.k - 1, self.n, 1.0 - p[0]))
        return float(count_distribution(1.0 - p)[self.k :].sum())

    def unavailability(self, p: object, method: str = "auto") -> float:
        pv = failure_vector(p, self.n)
        if method in ("auto", "closed"):
            if np.all(pv == pv[0]):
                return float(stats.binom.cdf(self.k - 1, self.n, 1.0 - pv[0]))
            return float(count_distribution(1.0 - pv)[: self.k].sum())
        return super().unavailability(pv, method)

    def _minimal_quorum_indices(self, limit: int) -> list[np.ndarray]:
        count = math.comb(self.n, self.k)
        if count > limit:
            raise ValueError(f"`limit` must be >= the number of minimal quorums C({self.n}, {self.k}) = {count}; got {limit}.")
        return [np.array(c) for c in itertools.combinations(range(self.n), self.k)]

    def _load_closed(self) -> float | None:
        return self.k / self.n

    def _resilience_closed(self) -> int | None:
        return self.n - self.k

    def dual(self) -> QuorumSystem:
        return Threshold(self.n, self.n - self.k + 1, nodes=self.nodes)


class Majority(Threshold):
    """Majority quorums: any ``n // 2 + 1`` of ``n`` nodes. Tolerates ``(n - 1) // 2`` failures.

    Examples
    --------
    >>> Majority(5).k, Majority(5).resilience(), Majority(4).k
    (3, 2, 3)
    """

    def __init__(self, n: int, nodes: Sequence[NodeName] | None = None) -> None:
        n = check_int("n", n, 1)
        super().__init__(n, n // 2 + 1, nodes)

    def __repr__(self) -> str:
        return f"Majority(n={self.n})"


class Probabilistic(Threshold):
    """Probabilistic quorums (Malkhi, Reiter, Wool & Wright 2001): random quorums of size ``l * sqrt(n)``.

    Every set of ``q = ceil(l * sqrt(n))`` nodes is a quorum and clients pick one uniformly at
    random; two such quorums fail to intersect with probability
    ``C(n - q, q) / C(n, q) <= exp(-l**2)`` (:meth:`p_nonintersect`, :meth:`bound`). Load is
    ``q / n = l / sqrt(n)`` — far below a majority's 1/2 — and the system stays available
    until fewer than ``q`` nodes are alive.

    Parameters
    ----------
    n : int
        Number of nodes.
    l : float, optional
        Quorum size factor ``l > 0`` (quorum size ``ceil(l * sqrt(n))``, capped at ``n``).
    q : int, optional
        Quorum size directly (give exactly one of ``l`` and ``q``).
    """

    def __init__(self, n: int, l: float | None = None, q: int | None = None, nodes: Sequence[NodeName] | None = None) -> None:  # noqa: E741
        n = check_int("n", n, 1)
        if (l is None) == (q is None):
            raise ValueError("`l` and `q`: give exactly one of them; got " + ("neither." if l is None else "both."))
        if l is not None:
            l = check_float("l", l, 0.0, low_open=True)
            q = min(n, math.ceil(l * math.sqrt(n) - 1e-9))
        q = check_int("q", q, 1, n)
        super().__init__(n, q, nodes)
        self.q = q
        self.l = q / math.sqrt(n)

    def __repr__(self) -> str:
        return f"Probabilistic(n={self.n}, q={self.q})"

    def p_nonintersect(self) -> float:
        """Exact probability that two independent uniformly random quorums are disjoint."""
        return math.comb(self.n - self.q, self.q) / math.comb(self.n, self.q)

    def bound(self) -> float:
        """The Malkhi-Reiter-Wool-Wright bound ``exp(-l**2)`` with ``l = q / sqrt(n)``."""
        return math.exp(-self.l**2)


class Weighted(QuorumSystem):
    """Weighted voting (Gifford 1979): a set is a quorum if its votes reach the threshold.

    Parameters
    ----------
    weights : sequence of float
        Non-negative votes per node (at least one positive).
    threshold : float, optional
        A set is a quorum iff its total weight ``>= threshold``. Default: strictly more
        than half of the total weight (weighted majority; any two quorums intersect).
    nodes : sequence, optional
        Node names (default ``0 .. n-1``).
    """

    def __init__(self, weights: Sequence[float], threshold: float | None = None, nodes: Sequence[NodeName] | None = None) -> None:
        if isinstance(weights, (str, bytes)) or not hasattr(weights, "__len__"):
            raise TypeError(f"`weights` must be a sequence of numbers; got {describe(weights)}.")
        w = np.array([check_float(f"weights[{i}]", x, 0.0) for i, x in enumerate(weights)], dtype=float)
        if len(w) < 1:
            raise ValueError("`weights` must hold at least 1 weight; got 0.")
        total = float(w.sum())
        if total <= 0:
            raise ValueError(f"`weights` must have a positive total; got {total}.")
        super().__init__(_default_nodes(len(w), nodes))
        self.weights = w
        self.total = total
        if threshold is None:
            self.threshold = total / 2.0
            self.strict = True
        else:
            self.threshold = check_float("threshold", threshold, 0.0, total, low_open=True)
            self.strict = False

    def __repr__(self) -> str:
        return f"Weighted(weights={self.weights.tolist()}, threshold={self.threshold}{' (strict)' if self.strict else ''})"

    def _meets(self, value: np.ndarray) -> np.ndarray:
        return value > self.threshold if self.strict else value >= self.threshold

    def _evaluate(self, states: np.ndarray) -> np.ndarray:
        return self._meets(states.astype(float) @ self.weights)

    def _integer_weights(self) -> bool:
        return bool(np.all(self.weights == np.round(self.weights))) and self.total <= 1_000_000

    def _availability_closed(self, p: np.ndarray) -> float | None:
        if not self._integer_weights():
            return None
        dist = np.zeros(int(self.total) + 1)
        dist[0] = 1.0
        for wi, pi in zip(self.weights.astype(int), p):
            shifted = np.zeros_like(dist)
            shifted[wi:] = dist[: len(dist) - wi] if wi > 0 else dist
            dist = dist * pi + shifted * (1.0 - pi)
        sums = np.arange(len(dist), dtype=float)
        return float(dist[self._meets(sums)].sum())


class _TwoSided:
    """Read (phase-1) and write (phase-2) quorum systems over the same nodes."""

    read: QuorumSystem
    write: QuorumSystem

    @property
    def phase1(self) -> QuorumSystem:
        """Alias of :attr:`read` (Paxos phase-1 quorums)."""
        return self.read

    @property
    def phase2(self) -> QuorumSystem:
        """Alias of :attr:`write` (Paxos phase-2 quorums)."""
        return self.write

    def intersects(self) -> bool:
        """Does every read quorum intersect every write quorum? (Always True for a grid.)"""
        return intersecting(self.read, self.write)


class Grid(_TwoSided, QuorumSystem):
    """A ``rows x cols`` grid (Cheung, Ammar & Ahamad 1990; Naor & Wool 1998).

    Nodes are laid out row-major (node ``r * cols + c``). A quorum of the grid itself is a
    full row together with a full column (``rows + cols - 1`` nodes); any two such quorums
    intersect. The read/write variant is exposed as :attr:`read` (any full row) and
    :attr:`write` (any full column) — every row meets every column — and
    :meth:`read_write` bundles them as a :class:`ReadWriteSystem`.

    Notes
    -----
    Load of the row-column grid: ``(rows + cols - 1) / (rows * cols)`` (``(2d - 1)/d**2`` for a
    ``d x d`` grid, Naor & Wool 1998). Availability is computed exactly by
    inclusion-exclusion over sets of full columns (``O(2**min(rows, cols) rows cols)``).
    """

    def __init__(self, rows: int, cols: int, nodes: Sequence[NodeName] | None = None) -> None:
        rows = check_int("rows", rows, 1)
        cols = check_int("cols", cols, 1)
        super().__init__(_default_nodes(rows * cols, nodes))
        self.rows = rows
        self.cols = cols
        grid = np.array(self.nodes, dtype=object).reshape(rows, cols)
        self.read = Explicit([list(r) for r in grid], nodes=self.nodes)
        self.write = Explicit([list(c) for c in grid.T], nodes=self.nodes)

    def __repr__(self) -> str:
        return f"Grid(rows={self.rows}, cols={self.cols})"

    def read_write(self) -> ReadWriteSystem:
        """Reads = full rows, writes = full columns."""
        return ReadWriteSystem(self.read, self.write)

    def _evaluate(self, states: np.ndarray) -> np.ndarray:
        s = states.reshape(states.shape[0], self.rows, self.cols)
        # some row fully alive and some column fully alive, per state: (m,) bool (the function
        # forms, because numpy's stubs type ndarray.all(axis=...) as "scalar | array")
        return np.any(np.all(s, axis=2), axis=1) & np.any(np.all(s, axis=1), axis=1)

    def _availability_closed(self, p: np.ndarray) -> float | None:
        a = (1.0 - p).reshape(self.rows, self.cols)
        if self.cols > self.rows:
            a = a.T
        r, c = a.shape
        if c > 20:
            return None
        total = 0.0
        for size in range(1, c + 1):
            sign = 1.0 if size % 2 else -1.0
            for cols in itertools.combinations(range(c), size):
                sel = np.zeros(c, dtype=bool)
                sel[list(cols)] = True
                in_s = a[:, sel].prod(axis=1)
                rest = a[:, ~sel].prod(axis=1)
                p_s_full = in_s.prod()
                p_s_full_no_row = (in_s * (1.0 - rest)).prod() if size < c else 0.0
                total += sign * (p_s_full - p_s_full_no_row)
        return total

    def _minimal_quorum_indices(self, limit: int) -> list[np.ndarray]:
        count = self.rows * self.cols
        if count > limit:
            raise ValueError(f"`limit` must be >= the number of minimal quorums ({count}); got {limit}.")
        idx = np.arange(self.n).reshape(self.rows, self.cols)
        out = []
        for i in range(self.rows):
            for j in range(self.cols):
                out.append(np.union1d(idx[i], idx[:, j]))
        return minimize_indices(out)

    def _load_closed(self) -> float | None:
        return (self.rows + self.cols - 1) / (self.rows * self.cols)

    def _resilience_closed(self) -> int | None:
        return min(self.rows, self.cols) - 1


def minimize_indices(quorums: list[np.ndarray]) -> list[np.ndarray]:
    """Drop non-minimal index sets."""
    sets = minimize(frozenset(map(int, q)) for q in quorums)
    return [np.array(sorted(s)) for s in sets]


# -- general systems ---------------------------------------------------------------------
class ExprSystem(QuorumSystem):
    """A quorum system given by a boolean expression over named nodes.

    Parameters
    ----------
    expression : Expr or str
        E.g. ``"(a & b) | (c & d)"`` or ``Node('a') * Node('b') + Node('c')``.
    nodes : sequence, optional
        All node names (may include nodes the expression does not mention). Default: the
        names in the expression, in order of appearance. Names in the expression that are
        not in ``nodes`` raise ``ValueError``.
    """

    def __init__(self, expression: Expr | str, nodes: Sequence[NodeName] | None = None) -> None:
        if isinstance(expression, str):
            expression = parse(expression, nodes)
        if not isinstance(expression, Expr):
            raise TypeError(f"`expression` must be an Expr or a str; got {describe(expression)}.")
        names = expression.names()
        if nodes is None:
            nodes = names
        else:
            nodes = tuple(nodes)
            unknown = [x for x in names if x not in set(nodes)]
            if unknown:
                raise ValueError(f"`expression` names node {unknown[0]!r}, which is not one of the nodes {list(nodes)[:12]}.")
        super().__init__(nodes)
        self.expression = expression

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.expression})"

    def _evaluate(self, states: np.ndarray) -> np.ndarray:
        return self.expression.evaluate(states, self._index)

    def _minimal_quorum_indices(self, limit: int) -> list[np.ndarray]:
        if self.n <= 16:
            return super()._minimal_quorum_indices(limit)
        quorums = self.expression.dnf(limit)
        if len(quorums) > limit:
            raise ValueError(f"`limit` must be >= the number of minimal quorums ({len(quorums)}); got {limit}.")
        return [np.array(sorted(self._index[x] for x in q)) for q in quorums]

    def to_expr(self) -> Expr:
        return self.expression

    def dual(self) -> QuorumSystem:
        return ExprSystem(self.expression.dual(), nodes=self.nodes)


class Explicit(ExprSystem):
    """A quorum system given by an explicit list of quorums (supersets are quorums too).

    Parameters
    ----------
    quorums : sequence of collections of node names
        At least one non-empty quorum.
    nodes : sequence, optional
        All node names; default: union of the quorums in order of appearance.

    Examples
    --------
    >>> q = Explicit([{"a", "b"}, {"c", "d"}])
    >>> q.is_quorum({"a", "b", "c"}), q.is_quorum({"a", "c"})
    (True, False)
    """

    def __init__(self, quorums: Iterable[Iterable[NodeName]], nodes: Sequence[NodeName] | None = None) -> None:
        if isinstance(quorums, (str, bytes)) or not isinstance(quorums, Iterable):
            raise TypeError(f"`quorums` must be a list of node collections; got {describe(quorums)}.")
        qs: list[list] = []
        for i, q in enumerate(quorums):
            if isinstance(q, (str, bytes)) or not isinstance(q, Iterable):
                raise TypeError(f"`quorums[{i}]` must be a collection of node names; got {describe(q)}.")
            members = list(dict.fromkeys(q.item() if isinstance(q, np.generic) else q for q in q))
            if not members:
                raise ValueError(f"`quorums[{i}]` must be non-empty; got an empty quorum.")
            qs.append(members)
        if not qs:
            raise ValueError("`quorums` must hold at least 1 quorum; got an empty list.")
        expression = Or(tuple(And(tuple(Node(x) for x in q)) for q in qs))
        super().__init__(expression, nodes)
        self._given = minimize(frozenset(q) for q in qs)
        self._incidence = np.zeros((self.n, len(self._given)), dtype=np.float32)
        for j, q in enumerate(self._given):
            for x in q:
                self._incidence[self._index[x], j] = 1.0
        self._sizes = self._incidence.sum(axis=0)

    def __repr__(self) -> str:
        return f"Explicit({[sorted(q, key=str) for q in self._given]})"

    def _evaluate(self, states: np.ndarray) -> np.ndarray:
        m = len(self._given)
        if m <= 8:
            out = np.zeros(states.shape[0], dtype=bool)
            for q in self._given:
                out |= states[:, [self._index[x] for x in q]].all(axis=1)
            return out
        chunk = max(1, (1 << 24) // m)
        outs = []
        for i in range(0, states.shape[0], chunk):
            hit = states[i : i + chunk].astype(np.float32) @ self._incidence
            outs.append((hit >= self._sizes - 0.5).any(axis=1))
        return np.concatenate(outs) if outs else np.zeros(0, dtype=bool)

    def _minimal_quorum_indices(self, limit: int) -> list[np.ndarray]:
        if len(self._given) > limit:
            raise ValueError(f"`limit` must be >= the number of minimal quorums ({len(self._given)}); got {limit}.")
        return [np.array(sorted(self._index[x] for x in q)) for q in self._given]

    def _disjoint(self) -> bool:
        return bool(np.all(self._incidence.sum(axis=1) <= 1))

    def _availability_closed(self, p: np.ndarray) -> float | None:
        if not self._disjoint():
            return None
        dead_all = 1.0
        for q in self._given:
            dead_all *= 1.0 - np.prod([1.0 - p[self._index[x]] for x in q])
        return 1.0 - dead_all

    def _load_closed(self) -> float | None:
        if self._disjoint():
            # Every node of quorum j carries exactly x_j, so the optimum is x_j = 1/m.
            return 1.0 / len(self._given)
        return None

    def _resilience_closed(self) -> int | None:
        if self._disjoint():
            # Blocking needs one failure inside every (disjoint) quorum.
            return len(self._given) - 1
        return None


def expr(text: str | Expr, nodes: Sequence[NodeName] | None = None) -> ExprSystem:
    """Build a quorum system from a boolean expression: ``expr("(a & b) | (c & d)")``.

    Parameters
    ----------
    text : str or Expr
        ``&``/``*`` = AND, ``|``/``+`` = OR, ``choose(k, ...)`` = at least k of.
    nodes : sequence, optional
        The allowed node names; unknown names in ``text`` raise ``ValueError``.

    Examples
    --------
    >>> q = expr("(a & b) | (c & d)")
    >>> sorted(sorted(x) for x in q.minimal_quorums())
    [['a', 'b'], ['c', 'd']]
    """
    return ExprSystem(text, nodes)


# -- read/write systems ------------------------------------------------------------------
class ReadWriteSystem(_TwoSided, QuorumSystem):
    """A read/write (bicoterie) system: a read side and a write side over the same nodes.

    Parameters
    ----------
    read : QuorumSystem
        Read (phase-1) quorums.
    write : QuorumSystem, optional
        Write (phase-2) quorums. Default: the dual of ``read`` — the smallest write
        quorums that intersect every read quorum (as quoracle does).

    Notes
    -----
    ``is_quorum(alive)`` of the pair is "a read quorum *and* a write quorum are alive", so
    :meth:`availability` is the probability that both operations can complete;
    :meth:`read_availability` and :meth:`write_availability` give each side. The pair need
    not intersect (partial quorums, as in Dynamo with ``R + W <= N``): :meth:`intersects`
    tells.
    """

    def __init__(self, read: QuorumSystem, write: QuorumSystem | None = None) -> None:
        if not isinstance(read, QuorumSystem):
            raise TypeError(f"`read` must be a QuorumSystem; got {describe(read)}.")
        if write is None:
            write = read.dual()
        if not isinstance(write, QuorumSystem):
            raise TypeError(f"`write` must be a QuorumSystem; got {describe(write)}.")
        if set(read.nodes) != set(write.nodes):
            raise ValueError("`write` must be over the same nodes as `read`; got different node sets.")
        super().__init__(read.nodes)
        self.read = read
        self.write = write
        self._perm = np.array([write.index_of(x) for x in read.nodes])
        self._inv = np.argsort(self._perm)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(read={self.read!r}, write={self.write!r})"

    @property
    def is_strict(self) -> bool:
        """True iff the system is strict: every read quorum meets every write quorum."""
        return self.intersects()

    def _evaluate(self, states: np.ndarray) -> np.ndarray:
        return np.asarray(self.read._evaluate(states), bool) & np.asarray(self.write._evaluate(states[:, self._inv]), bool)

    def read_availability(self, p: object, method: str = "auto") -> float:
        """Probability that some read quorum is alive (``p``: per-node failure probability)."""
        return self.read.availability(p, method)

    def write_availability(self, p: object, method: str = "auto") -> float:
        """Probability that some write quorum is alive (``p`` in this system's node order)."""
        pv = failure_vector(p, self.n)
        return self.write.availability(pv[self._inv], method)

    def _quorum_sides(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        reads = self.read._minimal_quorum_indices(MINIMAL_QUORUM_LIMIT)
        writes = [np.sort(self._inv[q]) for q in self.write._minimal_quorum_indices(MINIMAL_QUORUM_LIMIT)]
        return reads, writes

    def _capacities(self, read_capacity: object, write_capacity: object) -> tuple[np.ndarray | None, np.ndarray | None]:
        out: list[np.ndarray | None] = []
        for name, cap in (("read_capacity", read_capacity), ("write_capacity", write_capacity)):
            if cap is None:
                out.append(None)
                continue
            arr = np.asarray(cap, dtype=float) * np.ones(self.n)
            if arr.shape != (self.n,) or not np.all(arr > 0) or not np.all(np.isfinite(arr)):
                raise ValueError(f"`{name}` must be a positive number or {self.n} positive numbers; got {describe(cap)}.")
            out.append(arr)
        return out[0], out[1]

    def strategy(
        self, read_fraction: float = 0.5, read_capacity: object = None, write_capacity: object = None
    ) -> Strategy:
        """Load-optimal strategy for a workload with the given read fraction.

        Parameters
        ----------
        read_fraction : float
            Fraction of operations that are reads (phase-1), in [0, 1].
        read_capacity, write_capacity : float or array_like, optional
            Per-node throughput for reads/writes (quoracle's heterogeneous nodes); loads are
            then fractions of each node's capacity and :attr:`Strategy.capacity` is in
            operations per unit time.
        """
        f = check_probability("read_fraction", read_fraction)
        rc, wc = self._capacities(read_capacity, write_capacity)
        reads, writes = self._quorum_sides()
        load, x, y, node_loads = optimal_load(self.n, reads, writes, f, rc, wc)
        assert y is not None
        nm = self.nodes
        return Strategy(
            load,
            {frozenset(nm[i] for i in q): float(v) for q, v in zip(reads, x) if v > 1e-12},
            {frozenset(nm[i] for i in q): float(v) for q, v in zip(writes, y) if v > 1e-12},
            dict(zip(nm, map(float, node_loads))),
        )

    def _load_closed_rw(self, f: float) -> float | None:
        return None

    def load(  # type: ignore[override]  # quoracle's signature: the read fraction comes first
        self,
        read_fraction: float = 0.5,
        method: str = "auto",
        read_capacity: object = None,
        write_capacity: object = None,
    ) -> float:
        """Optimal load for a workload with ``read_fraction`` reads (Naor & Wool LP; quoracle's definition)."""
        from consensuslab._validate import check_choice

        f = check_probability("read_fraction", read_fraction)
        check_choice("method", method, ("auto", "closed", "lp"))
        if method != "lp" and read_capacity is None and write_capacity is None:
            value = self._load_closed_rw(f)
            if value is not None:
                return value
            if method == "closed":
                raise ValueError(f"`method` must not be 'closed' for {type(self).__name__}: it has no closed form.")
        return self.strategy(f, read_capacity, write_capacity).load

    def capacity(  # type: ignore[override]  # as load(): the read fraction comes first
        self, read_fraction: float = 0.5, method: str = "auto", read_capacity: object = None, write_capacity: object = None
    ) -> float:
        """1 / :meth:`load`."""
        return 1.0 / self.load(read_fraction, method, read_capacity, write_capacity)

    def _minimal_quorum_indices(self, limit: int) -> list[np.ndarray]:
        reads, writes = self._quorum_sides()
        combos = {frozenset(map(int, r)) | frozenset(map(int, w)) for r in reads for w in writes}
        out = minimize(combos)
        if len(out) > limit:
            raise ValueError(f"`limit` must be >= the number of minimal quorums ({len(out)}); got {limit}.")
        return [np.array(sorted(s)) for s in out]

    def _resilience_closed(self) -> int | None:
        return min(self.read.resilience(), self.write.resilience())


class ReadWrite(ReadWriteSystem):
    """Dynamo-style partial/strict quorums: reads wait for ``r`` of ``n`` replicas, writes for ``w``.

    Parameters
    ----------
    n : int
        Replication factor (>= 1).
    r, w : int
        Read and write quorum sizes in ``[1, n]``.

    Notes
    -----
    Strict (every read sees the latest write) iff ``r + w > n``. For partial quorums the
    probability that a read quorum misses the last write quorum is
    ``C(n - w, r) / C(n, r)`` (:meth:`p_nonintersect`; Bailis et al. 2012, Eq. 1).

    Examples
    --------
    >>> ReadWrite(3, 2, 2).is_strict, ReadWrite(3, 1, 1).is_strict
    (True, False)
    """

    def __init__(self, n: int, r: int, w: int, nodes: Sequence[NodeName] | None = None) -> None:
        n = check_int("n", n, 1)
        r = check_int("r", r, 1, n)
        w = check_int("w", w, 1, n)
        super().__init__(Threshold(n, r, nodes), Threshold(n, w, nodes))
        self.r = r
        self.w = w

    def __repr__(self) -> str:
        return f"ReadWrite(n={self.n}, r={self.r}, w={self.w})"

    @property
    def is_strict(self) -> bool:
        """``r + w > n``."""
        return self.r + self.w > self.n

    def p_nonintersect(self) -> float:
        """Probability that a uniformly random read quorum misses a random write quorum."""
        from consensuslab.quorum.pbs import p_nonintersect

        return p_nonintersect(self.n, self.r, self.w)

    def _availability_closed(self, p: np.ndarray) -> float | None:
        return Threshold(self.n, max(self.r, self.w))._availability_closed(p)

    def _load_closed_rw(self, f: float) -> float | None:
        return (f * self.r + (1.0 - f) * self.w) / self.n

    def _resilience_closed(self) -> int | None:
        return self.n - max(self.r, self.w)


class FlexiblePaxos(ReadWriteSystem):
    """Flexible Paxos quorums (Howard, Malkhi & Spiegelman 2016): phase-1 size ``q1``, phase-2 ``q2``.

    Safety needs only that every phase-1 quorum meets every phase-2 quorum:
    ``q1 + q2 > n`` for threshold quorums (:meth:`intersects`). Phase-2 quorums may be
    smaller than a majority (faster steady state) at the cost of larger phase-1 quorums.

    Examples
    --------
    >>> fp = FlexiblePaxos(6, 5, 2)
    >>> fp.intersects(), fp.phase2.is_quorum({0, 4}), fp.phase1.is_quorum({0, 1, 2, 3})
    (True, True, False)
    """

    def __init__(self, n: int, q1: int, q2: int, nodes: Sequence[NodeName] | None = None) -> None:
        n = check_int("n", n, 1)
        q1 = check_int("q1", q1, 1, n)
        q2 = check_int("q2", q2, 1, n)
        super().__init__(Threshold(n, q1, nodes), Threshold(n, q2, nodes))
        self.q1 = q1
        self.q2 = q2

    def __repr__(self) -> str:
        return f"FlexiblePaxos(n={self.n}, q1={self.q1}, q2={self.q2})"

    def phase1_availability(self, p: object) -> float:
        """P(some phase-1 quorum alive)."""
        return self.read.availability(p)

    def phase2_availability(self, p: object) -> float:
        """P(some phase-2 quorum alive)."""
        return self.write.availability(p)

    def _availability_closed(self, p: np.ndarray) -> float | None:
        return Threshold(self.n, max(self.q1, self.q2))._availability_closed(p)

    def _load_closed_rw(self, f: float) -> float | None:
        return (f * self.q1 + (1.0 - f) * self.q2) / self.n

    def _resilience_closed(self) -> int | None:
        return self.n - max(self.q1, self.q2)


# -- intersection ------------------------------------------------------------------------
def intersecting(a: QuorumSystem, b: QuorumSystem) -> bool:
    """Does every quorum of ``a`` intersect every quorum of ``b``?

    Nodes are matched by name, so the systems may be over different node sets.

    Notes
    -----
    Threshold systems over the same nodes intersect iff ``k_a + k_b > n`` (pigeonhole).
    Otherwise: ``a`` and ``b`` intersect iff, for every minimal quorum ``Q`` of ``a``, the
    nodes of ``b`` outside ``Q`` do not contain a quorum of ``b`` (one vectorized
    ``is_quorum`` call over all complements).

    Examples
    --------
    >>> intersecting(Threshold(5, 3), Threshold(5, 3)), intersecting(Threshold(5, 2), Threshold(5, 3))
    (True, False)
    """
    if not isinstance(a, QuorumSystem) or not isinstance(b, QuorumSystem):
        raise TypeError(f"`a` and `b` must be QuorumSystems; got {describe(a)} and {describe(b)}.")
    if isinstance(a, Threshold) and isinstance(b, Threshold) and set(a.nodes) == set(b.nodes):
        return a.k + b.k > a.n
    quorums = a._minimal_quorum_indices(MINIMAL_QUORUM_LIMIT)
    complements = np.ones((len(quorums), b.n), dtype=bool)
    for j, q in enumerate(quorums):
        for i in q:
            name = a.nodes[i]
            if name in b._index:
                complements[j, b._index[name]] = False
    return not bool(np.any(b._evaluate(complements)))

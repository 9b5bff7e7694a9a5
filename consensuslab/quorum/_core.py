"""Vectorized building blocks: state enumeration, state probabilities, Poisson-binomial, LP load.

Theory of operation
-------------------
A *state* of ``n`` nodes is a boolean vector, ``True`` = alive. State number ``s`` (an integer
in ``[0, 2**n)``) has node ``i`` alive iff bit ``i`` of ``s`` is set; :func:`all_states` returns
the ``(2**n, n)`` boolean matrix of every state in that order and :func:`state_probabilities`
the matching probability vector when node ``i`` fails independently with probability
``p[i]`` (built by doubling: ``O(2**n)`` work, no ``2**n x n`` float products).

Availability of a threshold system with heterogeneous nodes is a Poisson-binomial tail
(:func:`count_distribution`, an ``O(n**2)`` dynamic programme). Load is the optimum of the
Naor-Wool linear programme (:func:`optimal_load`), solved with ``scipy.optimize.linprog``
(HiGHS).
"""

from __future__ import annotations

import functools
import numbers
from collections.abc import Sequence

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

from consensuslab._validate import check_probability, describe

__all__ = [
    "ENUMERATION_LIMIT",
    "all_states",
    "state_probabilities",
    "count_distribution",
    "failure_vector",
    "optimal_load",
]

#: Largest node count for which exact enumeration of all ``2**n`` states is allowed.
ENUMERATION_LIMIT = 22


@functools.lru_cache(maxsize=4)
def _states_cached(n: int) -> np.ndarray:
    idx = np.arange(2**n, dtype=np.uint32)
    bits = np.unpackbits(idx.view(np.uint8).reshape(-1, 4), axis=1, bitorder="little")[:, :n]
    states = bits.astype(bool)
    states.setflags(write=False)
    return states


def all_states(n: int) -> np.ndarray:
    """Every alive/dead pattern of ``n`` nodes as a read-only ``(2**n, n)`` bool array.

    Row ``s`` has node ``i`` alive iff bit ``i`` of ``s`` is set.

    Raises
    ------
    ValueError
        If ``n`` exceeds :data:`ENUMERATION_LIMIT`.
    """
    if n > ENUMERATION_LIMIT:
        raise ValueError(
            f"`n` must be an int <= {ENUMERATION_LIMIT} for exact enumeration of all 2**n states; "
            f"got {n}. Use method='montecarlo' instead."
        )
    return _states_cached(n)


def failure_vector(p: object, n: int, name: str = "p") -> np.ndarray:
    """Validate ``p`` (scalar or length-``n`` vector of failure probabilities in [0, 1])."""
    if isinstance(p, numbers.Real) and not isinstance(p, bool):
        return np.full(n, check_probability(name, p))
    if isinstance(p, (bool, str, bytes)) or p is None:
        raise TypeError(f"`{name}` must be a probability or a vector of {n} probabilities; got {describe(p)}.")
    try:
        arr = np.asarray(p, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"`{name}` must be a probability or a vector of {n} probabilities; got {describe(p)}.") from None
    if arr.ndim == 0:
        return np.full(n, check_probability(name, float(arr)))
    if arr.shape != (n,):
        raise ValueError(f"`{name}` must be a probability or a vector of {n} probabilities; got shape {arr.shape}.")
    bad = ~((arr >= 0.0) & (arr <= 1.0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"`{name}` must hold probabilities in [0, 1]; got {name}[{i}] = {arr[i]}.")
    return arr


def state_probabilities(p: np.ndarray) -> np.ndarray:
    """Probability of every state (ordering of :func:`all_states`) for failure probabilities ``p``."""
    n = len(p)
    if n > ENUMERATION_LIMIT:
        raise ValueError(f"`n` must be an int <= {ENUMERATION_LIMIT} for exact enumeration; got {n}.")
    probs = np.ones(1)
    for i in range(n):
        probs = np.concatenate([probs * p[i], probs * (1.0 - p[i])])
    return probs


def count_distribution(alive_prob: np.ndarray) -> np.ndarray:
    """Poisson-binomial pmf of the number of live nodes: ``out[j] = P(exactly j alive)``."""
    dist = np.zeros(len(alive_prob) + 1)
    dist[0] = 1.0
    for i, q in enumerate(alive_prob):
        dist[1 : i + 2] = dist[1 : i + 2] * (1.0 - q) + dist[: i + 1] * q
        dist[0] *= 1.0 - q
    return dist


def _incidence(quorums: Sequence[np.ndarray], n: int) -> sparse.csr_matrix:
    rows = np.concatenate([q for q in quorums]) if quorums else np.zeros(0, dtype=int)
    cols = np.repeat(np.arange(len(quorums)), [len(q) for q in quorums])
    return sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, len(quorums)))


def optimal_load(
    n: int,
    read_quorums: Sequence[np.ndarray],
    write_quorums: Sequence[np.ndarray] | None = None,
    read_fraction: float = 1.0,
    read_capacity: np.ndarray | None = None,
    write_capacity: np.ndarray | None = None,
) -> tuple[float, np.ndarray, np.ndarray | None, np.ndarray]:
    """Solve the Naor-Wool load LP.

    Minimise ``L`` subject to: ``x`` a distribution over read quorums, ``y`` over write
    quorums, and for every node ``i``:
    ``f * sum_{j: i in R_j} x_j / rc_i + (1 - f) * sum_{j: i in W_j} y_j / wc_i <= L``.

    Returns
    -------
    (load, x, y, node_loads)
    """
    inc_r = _incidence(read_quorums, n)
    rc = np.ones(n) if read_capacity is None else np.asarray(read_capacity, float)
    blocks = [sparse.diags(read_fraction / rc) @ inc_r]
    m_r = len(read_quorums)
    m_w = 0
    if write_quorums is not None:
        inc_w = _incidence(write_quorums, n)
        wc = np.ones(n) if write_capacity is None else np.asarray(write_capacity, float)
        blocks.append(sparse.diags((1.0 - read_fraction) / wc) @ inc_w)
        m_w = len(write_quorums)
    a_ub = sparse.hstack(blocks + [sparse.csr_matrix(-np.ones((n, 1)))]).tocsr()
    eq_rows = [np.r_[np.ones(m_r), np.zeros(m_w), 0.0]]
    if write_quorums is not None:
        eq_rows.append(np.r_[np.zeros(m_r), np.ones(m_w), 0.0])
    c = np.zeros(m_r + m_w + 1)
    c[-1] = 1.0
    res = linprog(
        c,
        A_ub=a_ub,
        b_ub=np.zeros(n),
        A_eq=np.array(eq_rows),
        b_eq=np.ones(len(eq_rows)),
        bounds=[(0, None)] * (m_r + m_w + 1),
        method="highs",
    )
    if res.status != 0:  # pragma: no cover - the LP is always feasible and bounded
        raise RuntimeError(f"load LP failed: {res.message}")
    x = res.x[:m_r]
    y = res.x[m_r : m_r + m_w] if write_quorums is not None else None
    node_loads = np.asarray(a_ub[:, :-1] @ res.x[:-1]).ravel()
    return float(res.x[-1]), x, y, node_loads

"""Maglev hashing (Eisenbud et al. 2016): a permutation-filled lookup table.

Theory of operation
-------------------
Each node ``i`` has a pseudo-random permutation of the ``M`` table slots,
``perm_i[j] = (offset_i + j * skip_i) mod M`` with ``offset_i = h1(name) mod M`` and
``skip_i = h2(name) mod (M - 1) + 1`` (a full cycle because ``M`` is prime). Nodes take turns,
in order, each claiming its next preferred slot that is still empty, until the table is full
(the paper's Pseudocode 1). Every node ends with ``floor(M/n)`` or ``ceil(M/n)`` slots, so
shares differ by at most ``n/M``: ``M > 100 n`` keeps them within 1% (paper section 3.4).
With weights, a node of weight ``w`` takes a turn whenever its accumulated credit
``w / max(w)`` reaches 1 (the paper's weighted variant, section 3.4).

Lookup is one table read: ``table[(hash(key) >> 32) * M >> 32]`` (multiply-shift range
reduction instead of ``mod M``). A preference list walks the table forward from that slot and
skips nodes already chosen. The table fill is a build-time loop over slots (O(M log M)), not a
per-key loop.

References
----------
D. E. Eisenbud et al., "Maglev: A Fast and Reliable Software Network Load Balancer", NSDI 2016,
section 3.4 and Pseudocode 1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from consensuslab._validate import check_int, check_size
from consensuslab.hashing.base import PlacementAlgorithm, first_distinct
from consensuslab.hashing.keys import hash_keys

__all__ = ["MAX_FILL_VISITS", "MAX_TABLE_SIZE", "Maglev", "fill_visits", "is_prime", "maglev_table"]

_CHUNK = 1 << 16
#: Largest table size ``M``. The table fill is a sequential Python loop (~4 microseconds per
#: slot): 5000011 slots take ~20 s for 100 nodes. It is Envoy's (and Istio's) limit on
#: Maglev's ``table_size`` and 76x the paper's small table (65537); the paper's large table,
#: 655373, builds in ~2 s.
MAX_TABLE_SIZE = 5_000_011
#: Most node visits the weighted fill may make. Each round of the fill visits every node and
#: only nodes whose credit reaches 1 take a slot, so a node far heavier than the rest makes
#: the others wait many rounds: the fill visits about ``n * M * max(w) / sum(w)`` nodes
#: (``M`` for equal weights). 2**28 visits take ~10 s.
MAX_FILL_VISITS = 2**28


def fill_visits(n: int, size: int, weights: Sequence[float] | None = None) -> int:
    """Node visits the (weighted) fill of :func:`maglev_table` makes, to within one round.

    Each round visits all ``n`` nodes and hands out ``sum(w) / max(w)`` slots on average, so
    the fill takes ``ceil(size * max(w) / sum(w))`` rounds.
    """
    if weights is None:
        return n * math.ceil(size / n)
    rel = math.fsum(float(w) / max(weights) for w in weights)
    return n * math.ceil(size / rel)


def is_prime(m: int) -> bool:
    """Deterministic primality test (trial division; table sizes are small)."""
    if m < 2:
        return False
    if m % 2 == 0:
        return m == 2
    f = 3
    while f * f <= m:
        if m % f == 0:
            return False
        f += 2
    return True


def maglev_table(offsets: Sequence[int], skips: Sequence[int], size: int, weights: Sequence[float] | None = None) -> npt.NDArray[np.int32]:
    """Fill a Maglev lookup table (Pseudocode 1 of the paper, optional weighted turns).

    Parameters
    ----------
    offsets, skips : sequence of int
        Per-node permutation parameters (``0 <= offset < size``, ``1 <= skip < size``).
    size : int
        Table size ``M`` (prime, at most :data:`MAX_TABLE_SIZE` = 5000011).
    weights : sequence of float, optional
        Relative weights; a node takes a turn when its credit reaches 1.

    Returns
    -------
    numpy.ndarray of int32, shape (size,)
        Node index per slot.

    Raises
    ------
    ValueError
        If ``size`` exceeds :data:`MAX_TABLE_SIZE`, or the weighted fill would visit more
        than :data:`MAX_FILL_VISITS` nodes (see :func:`fill_visits`); checked before the fill.
    """
    n = len(offsets)
    size = check_int("table_size", size, 1, MAX_TABLE_SIZE)
    how = f"{n} nodes x ceil(table_size * max(w) / sum(w)) rounds; table_size={size}"
    check_size("weights", fill_visits(n, size, weights), MAX_FILL_VISITS, "node visits in the table fill", how)
    entry = [-1] * size
    nxt = [0] * n
    off = [int(o) for o in offsets]
    skp = [int(s) for s in skips]
    rel = [1.0] * n if weights is None else [float(w) / max(weights) for w in weights]
    credit = [0.0] * n
    filled = 0
    while True:
        for i in range(n):
            credit[i] += rel[i]
            if credit[i] < 1.0:
                continue
            credit[i] -= 1.0
            o, s, j = off[i], skp[i], nxt[i]
            c = (o + j * s) % size
            while entry[c] >= 0:
                j += 1
                c = (o + j * s) % size
            entry[c] = i
            nxt[i] = j + 1
            filled += 1
            if filled == size:
                return np.array(entry, dtype=np.int32)


class Maglev(PlacementAlgorithm):
    """Maglev consistent hashing.

    Parameters
    ----------
    nodes : sequence of str
        Distinct node names.
    weights : sequence of float or mapping, optional
        Relative weights (finite, > 0).
    table_size : int, default 65537
        ``M``: a prime larger than the number of nodes (use ``M > 100 n`` for 1% balance),
        at most :data:`MAX_TABLE_SIZE` = 5000011.

    Raises
    ------
    ValueError
        If ``table_size`` is not prime, not larger than the node count, or larger than
        :data:`MAX_TABLE_SIZE`; or if the weights are so skewed that the weighted fill would
        visit more than :data:`MAX_FILL_VISITS` (2**28) nodes.

    Notes
    -----
    Size limits, checked before the table is filled: ``table_size <= 5000011`` (Envoy's limit;
    the paper uses 65537 and 655373; the fill takes ~4 microseconds per slot, ~20 s at the
    limit), and with weights ``n * table_size * max(w) / sum(w) <= 2**28`` node visits
    (``table_size`` for equal weights; 999 nodes of weight 1 beside one of weight 1000 need
    2.5e9 visits at ``M = 5000011``, several minutes of fill).

    Examples
    --------
    >>> m = Maglev(["a", "b", "c"], table_size=251)
    >>> np.bincount(m.table).tolist()
    [84, 84, 83]
    """

    name = "maglev"
    supports_weights = True

    table_size: int
    #: node index per table slot
    table: npt.NDArray[np.signedinteger[Any]]
    _m: np.uint64

    def __init__(
        self,
        nodes: Sequence[str],
        weights: Sequence[float] | Mapping[str, float] | None = None,
        table_size: int = 65537,
    ) -> None:
        super().__init__(nodes, weights)
        m = check_int("table_size", table_size, 2, MAX_TABLE_SIZE)  # before the primality test
        if not is_prime(m):
            raise ValueError(f"`table_size` must be a prime number; got {m}.")
        if m <= len(self.nodes):
            raise ValueError(f"`table_size` must be larger than the number of nodes ({len(self.nodes)}); got {m}.")
        self._set("table_size", m)
        names = list(self.nodes)
        offsets = (hash_keys(names, seed=4) % np.uint64(m)).tolist()
        skips = (hash_keys(names, seed=5) % np.uint64(m - 1) + np.uint64(1)).tolist()
        w = None if len(set(self.weights)) == 1 else self.weights
        table = maglev_table(offsets, skips, m, w)
        self._set("table", table.astype(np.int16 if len(names) < 2**15 else np.int32))
        self._set("_m", np.uint64(m))

    def _options(self) -> dict[str, Any]:
        return {"table_size": self.table_size}

    def slots(self, h: npt.NDArray[np.uint64]) -> npt.NDArray[np.intp]:
        """Table slot of each key hash: ``((h >> 32) * M) >> 32``."""
        out = np.empty(h.shape[0], dtype=np.uint64)
        for s in range(0, h.shape[0], _CHUNK):
            o = out[s : s + _CHUNK]
            np.right_shift(h[s : s + _CHUNK], np.uint64(32), out=o)
            np.multiply(o, self._m, out=o)
            np.right_shift(o, np.uint64(32), out=o)
        return out.view(np.intp)

    def _assign(self, h: npt.NDArray[np.uint64]) -> npt.NDArray[np.intp]:
        out = np.empty(h.shape[0], dtype=np.intp)
        buf = np.empty(min(_CHUNK, h.shape[0]), dtype=np.uint64)
        small = np.empty(min(_CHUNK, h.shape[0]), dtype=self.table.dtype)
        for s in range(0, h.shape[0], _CHUNK):
            hc = h[s : s + _CHUNK]
            b = buf[: hc.shape[0]]
            np.right_shift(hc, np.uint64(32), out=b)
            np.multiply(b, self._m, out=b)
            np.right_shift(b, np.uint64(32), out=b)
            np.take(self.table, b.view(np.intp), out=small[: hc.shape[0]])
            out[s : s + hc.shape[0]] = small[: hc.shape[0]]
        return out

    def _assign_replicas(self, h: npt.NDArray[np.uint64], k: int) -> npt.NDArray[np.intp]:
        start = self.slots(h)
        m = self.table_size
        table = self.table

        def candidate(rows: npt.NDArray[np.intp], step: int) -> npt.NDArray[np.intp]:
            idx = start[rows] + step
            idx[idx >= m] -= m
            return table[idx].astype(np.intp)

        return first_distinct(candidate, h.shape[0], k, m)

    def shares(self) -> npt.NDArray[np.float64]:
        """Fraction of table slots (hence of the hash space) per node."""
        return np.bincount(self.table, minlength=len(self.nodes)) / self.table_size

    def memory_bytes(self) -> int:
        return int(self.table.nbytes)

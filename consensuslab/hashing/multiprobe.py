"""Multi-probe consistent hashing (Appleton & O'Reilly 2015).

Theory of operation
-------------------
Each node has a single point on the 64-bit circle (no virtual nodes: O(n) memory). A key is
hashed ``probes`` times (``fmix64(hash(key) ^ salt_p)``); each probe finds its clockwise
successor node, and the key goes to the successor that is *closest* to its probe. Taking the
minimum of ``K`` distances caps what a node with a long arc can win, at the cost of ``K``
binary searches per lookup.

Exact shares. With arcs (gaps before each node) ``g_1..g_n`` as fractions of the circle, a probe
lands at distance > x from its successor with probability ``S(x) = sum_j max(g_j - x, 0)``, so a
node with arc ``g`` wins the fraction ``K * integral_0^g S(x)^(K-1) dx`` of the key space.
``S`` is piecewise linear between the sorted gaps, so :meth:`MultiProbe.shares` evaluates this
exactly (no key sampling). For large ``n`` the arcs are nearly exponential, ``S(x) ~ exp(-n x)``,
and a node's share is at most ``K / ((K - 1) n)``: the paper's peak-to-average ``K / (K - 1)``
(1.05 for 21 probes), stated for ``2 <= K << sqrt(n) / ln n``. With few nodes the peak depends
strongly on the layout (for 10 nodes and 21 probes, 5%-95% of layouts give 1.00-1.17).

A preference list of ``r`` nodes takes, for every probe, the next ``r`` nodes clockwise (all
distinct, since each node has one point) with their distances, and keeps the ``r`` distinct
nodes with the smallest distance; its first entry is the primary above.

References
----------
B. Appleton and M. O'Reilly, "Multi-Probe Consistent Hashing", arXiv:1505.00062, 2015.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from consensuslab._validate import check_int
from consensuslab.hashing.base import PlacementAlgorithm, first_distinct
from consensuslab.hashing.keys import fmix64, hash_keys

__all__ = ["MAX_PROBES", "MultiProbe"]

_BLOCK = 1 << 20  # probe evaluations per block
#: Most probes per key. A lookup costs ``probes`` hash evaluations and binary searches per key;
#: 1024 is ~50x the paper's 21, and its peak-to-average ``K/(K-1)`` = 1.001 is below what any
#: practical key count can measure -- more probes only make every lookup slower.
MAX_PROBES = 1024


def _probe_salts(k: int) -> npt.NDArray[np.uint64]:
    return hash_keys(np.arange(k, dtype=np.uint64), seed=6)


def _column_of(
    ranked: npt.NDArray[np.intp],
) -> Callable[[npt.NDArray[np.intp], int], npt.NDArray[np.intp]]:
    """The candidate function of :func:`first_distinct`: column ``j`` of ``ranked``, given rows."""

    def candidate(rows: npt.NDArray[np.intp], j: int) -> npt.NDArray[np.intp]:
        return ranked[rows, j]

    return candidate


class MultiProbe(PlacementAlgorithm):
    """Multi-probe consistent hashing.

    Parameters
    ----------
    nodes : sequence of str
        Distinct node names.
    probes : int, default 21
        Number of probes per key (1 <= probes <= :data:`MAX_PROBES` = 1024). A lookup costs
        ``probes`` hash evaluations and binary searches per key (``probes * replicas`` for a
        preference list); the peak-to-average load is about ``probes / (probes - 1)``.

    Raises
    ------
    ValueError
        If ``probes`` is out of range.

    Examples
    --------
    >>> MultiProbe(["a", "b", "c"]).assign(["user:1", "user:2"]).tolist()
    [2, 0]
    """

    name = "multiprobe"

    probes: int
    #: sorted node points on the 64-bit circle
    points: npt.NDArray[np.uint64]
    #: node index of each point
    owners: npt.NDArray[np.intp]
    #: per-probe salts
    salts: npt.NDArray[np.uint64]

    def __init__(self, nodes: Sequence[str], probes: int = 21) -> None:
        super().__init__(nodes)
        self._set("probes", check_int("probes", probes, 1, MAX_PROBES))
        pts = hash_keys(list(self.nodes), seed=7)
        order = np.argsort(pts, kind="stable")
        self._set("points", pts[order])
        self._set("owners", order.astype(np.intp))
        self._set("salts", _probe_salts(self.probes))

    def _options(self) -> dict[str, Any]:
        return {"probes": self.probes}

    def _probe(self, h: npt.NDArray[np.uint64]) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.uint64]]:
        """Successor index and clockwise distance for every (key, probe): shape (m, probes)."""
        p = fmix64(h[:, None] ^ self.salts[None, :])
        pos = np.searchsorted(self.points, p, side="left")
        pos[pos == self.points.shape[0]] = 0
        dist = self.points[pos] - p  # uint64 arithmetic wraps around the circle
        return pos, dist

    def _assign(self, h: npt.NDArray[np.uint64]) -> npt.NDArray[np.intp]:
        out = np.empty(h.shape[0], dtype=np.intp)
        step = max(1, _BLOCK // self.probes)
        for s in range(0, h.shape[0], step):
            pos, dist = self._probe(h[s : s + step])
            best = np.argmin(dist, axis=1)
            out[s : s + step] = self.owners[np.take_along_axis(pos, best[:, None], axis=1)[:, 0]]
        return out

    def _assign_replicas(self, h: npt.NDArray[np.uint64], k: int) -> npt.NDArray[np.intp]:
        n = self.points.shape[0]
        out = np.empty((h.shape[0], k), dtype=np.intp)
        step = max(1, _BLOCK // (self.probes * k))
        for s in range(0, h.shape[0], step):
            hc = h[s : s + step]
            p = fmix64(hc[:, None] ^ self.salts[None, :])
            pos = np.searchsorted(self.points, p, side="left")
            cand = (pos[:, :, None] + np.arange(k)[None, None, :]) % n  # next k nodes per probe
            dist = (self.points[cand] - p[:, :, None]).reshape(hc.shape[0], -1)
            cand = cand.reshape(hc.shape[0], -1)
            order = np.argsort(dist, axis=1, kind="stable")
            ranked = self.owners[np.take_along_axis(cand, order, axis=1)]
            out[s : s + step] = first_distinct(_column_of(ranked), hc.shape[0], k, ranked.shape[1])
        return out

    def shares(self) -> npt.NDArray[np.float64]:
        """Exact fraction of the key space each node wins (no key sampling).

        Returns
        -------
        numpy.ndarray of float64, shape (n,)
            Share per node (in :attr:`nodes` order); sums to 1. The expected fraction of
            uniformly hashed keys :meth:`assign` sends to each node.

        Notes
        -----
        A node whose arc (the gap before its point) is ``g`` wins
        ``K * integral_0^g S(x)^(K-1) dx`` with ``S(x) = sum_j max(g_j - x, 0)``; between
        consecutive sorted gaps ``S`` is linear, ``S(x) = T_k - (n - k) x``, so each piece
        integrates to ``(S(s_k)^K - S(s_{k+1})^K) / (n - k)``. See the module notes.

        Examples
        --------
        >>> mp = MultiProbe([f"n{i}" for i in range(4)], probes=21)
        >>> round(float(mp.shares().sum()), 12)
        1.0
        """
        n = self.points.shape[0]
        if n == 1:
            return np.ones(1)
        k = float(self.probes)
        gaps = (self.points - np.roll(self.points, 1)).astype(np.float64) / 2.0**64  # uint64 wraps
        order = np.argsort(gaps, kind="stable")
        s = np.concatenate([[0.0], gaps[order]])  # s_0 = 0 <= s_1 <= ... <= s_n
        tail = np.concatenate([[0.0], np.cumsum(s[:0:-1])])[::-1]  # tail[k] = sum_{j > k} s_j
        left = np.arange(n, -1, -1, dtype=np.float64)  # n - k: arcs longer than s_k
        at = np.maximum(tail - left * s, 0.0)  # S(s_k)
        piece = (at[:-1] ** k - at[1:] ** k) / left[:-1]
        by_point = np.empty(n)
        by_point[order] = np.cumsum(piece)
        out = np.empty(n)
        out[self.owners] = by_point
        return out

    def memory_bytes(self) -> int:
        return int(self.points.nbytes + self.owners.nbytes + self.salts.nbytes)

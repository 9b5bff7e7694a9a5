"""Consistent hashing with bounded loads (Mirrokni, Thorup & Zadimoghaddam 2018).

Theory of operation
-------------------
Keys are placed as a batch of ``m`` balls on a ring with virtual nodes. Each node ``i`` has
capacity ``ceil(c * m * w_i / sum(w))`` (``ceil(c m / n)`` unweighted, ``c > 1``). The paper
inserts balls one at a time: a ball goes to the first node clockwise of its hash that is not
full. Here the batch order is the priority (key 0 first), and the result is *exactly* that
sequential greedy outcome, computed in vectorized rounds of deferred acceptance: every
unplaced key proposes to the next node on its clockwise walk; each node keeps its
``capacity`` lowest-indexed proposers (old and new) and rejects the rest, who move one point
on. Because all nodes rank keys by the same index order, the stable matching is unique and
equals serial dictatorship in that order -- i.e. the sequential insertion.

No node holds more than its capacity; with ``c = 1 + eps`` a node's expected load is within
the cap and the expected number of keys moved per insertion/removal is O(1/eps^2) times the
ideal (paper, Theorem 1.1).

Preference lists: the primary is load-bounded as above; backups are the next distinct nodes
clockwise from the primary's ring point (not load-bounded).

References
----------
V. Mirrokni, M. Thorup and M. Zadimoghaddam, "Consistent Hashing with Bounded Loads", SODA 2018.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from consensuslab._validate import check_float, check_int
from consensuslab.hashing.base import PlacementAlgorithm
from consensuslab.hashing.ring import MAX_POINTS, Ring

__all__ = ["BoundedLoad"]


class BoundedLoad(PlacementAlgorithm):
    """Bounded-load consistent hashing of a batch of keys.

    Parameters
    ----------
    nodes : sequence of str
        Distinct node names.
    weights : sequence of float or mapping, optional
        Relative capacities (finite, > 0).
    c : float, default 1.25
        Load factor (> 1): a node holds at most ``ceil(c * m * w_i / sum(w))`` of ``m`` keys.
    vnodes : int, default 100
        Virtual nodes per unit weight on the underlying ring (1 <= vnodes <= 2**24).

    Raises
    ------
    ValueError
        Bad nodes or weights, ``c <= 1``, ``vnodes`` out of range, or an underlying ring of
        more than :data:`~consensuslab.hashing.ring.MAX_POINTS` (2**24) points in total
        (``round(vnodes * weight)`` per node): the same limits as :class:`Ring`.

    Examples
    --------
    >>> import numpy as np
    >>> b = BoundedLoad(["a", "b", "c"], c=1.1)
    >>> loads = np.bincount(b.assign(np.arange(3000)), minlength=3)
    >>> bool(loads.max() <= b.capacities(3000).max())
    True
    """

    name = "bounded"
    supports_weights = True

    c: float
    vnodes: int
    #: the underlying ring with virtual nodes
    ring: Ring

    def __init__(
        self,
        nodes: Sequence[str],
        weights: Sequence[float] | Mapping[str, float] | None = None,
        c: float = 1.25,
        vnodes: int = 100,
    ) -> None:
        super().__init__(nodes, weights)
        self._set("c", check_float("c", c, 1.0, low_open=True))
        self._set("vnodes", check_int("vnodes", vnodes, 1, MAX_POINTS))
        self._set("ring", Ring(self.nodes, weights=self.weights, vnodes=self.vnodes))

    def _options(self) -> dict[str, Any]:
        return {"c": self.c, "vnodes": self.vnodes}

    def capacities(self, m: int) -> npt.NDArray[np.int64]:
        """Per-node capacity for a batch of ``m`` keys: ``ceil(c * m * w_i / sum(w))``."""
        w = np.asarray(self.weights, dtype=np.float64)
        return np.array([math.ceil(self.c * m * wi / w.sum() - 1e-9) for wi in w], dtype=np.int64)

    def _place(self, h: npt.NDArray[np.uint64]) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
        """Node and ring point (index) of each key after deferred acceptance."""
        ring = self.ring
        p = ring.points.shape[0]
        owners = ring.owners.astype(np.intp)
        m = h.shape[0]
        cap = self.capacities(m)
        point = ring._positions(h, None).astype(np.intp)
        node = np.full(m, -1, dtype=np.intp)  # accepted node per key (-1: proposing)
        proposers = np.arange(m, dtype=np.intp)
        while proposers.size:
            target = owners[point[proposers]]
            touched = np.unique(target)
            mark = np.zeros(len(self.nodes), dtype=bool)
            mark[touched] = True
            held = np.flatnonzero((node >= 0) & mark[np.maximum(node, 0)])
            pool = np.concatenate([held, proposers])
            pool_node = np.concatenate([node[held], target])
            order = np.lexsort((pool, pool_node))  # by node, then key index (priority)
            pool, pool_node = pool[order], pool_node[order]
            first = np.searchsorted(pool_node, pool_node, side="left")
            rank = np.arange(pool.shape[0]) - first
            accept = rank < cap[pool_node]
            node[pool[accept]] = pool_node[accept]
            rejected = pool[~accept]
            node[rejected] = -1
            point[rejected] += 1
            point[rejected] %= p
            proposers = np.sort(rejected)
        return node, point

    def _assign(self, h: npt.NDArray[np.uint64]) -> npt.NDArray[np.intp]:
        if h.shape[0] == 0:
            return np.empty(0, dtype=np.intp)
        return self._place(h)[0]

    def _assign_replicas(self, h: npt.NDArray[np.uint64], k: int) -> npt.NDArray[np.intp]:
        point = self._place(h)[1]
        return self.ring.preference_table(k)[point].astype(np.intp)

    def memory_bytes(self) -> int:
        return self.ring.memory_bytes()

"""Rendezvous (highest-random-weight) hashing, weighted by the logarithmic method.

Theory of operation
-------------------
Every (key, node) pair gets a pseudo-random number ``u`` in (0, 1) from
``fmix64(hash(key) ^ node_seed)``; the key goes to the node with the highest score
``-w_i / ln(u)`` (Schindelhauer & Schomaker's logarithmic method: node ``i`` wins with
probability exactly ``w_i / sum(w)``; with equal weights this is plain HRW, argmax of ``u``,
which :meth:`Rendezvous.assign` computes as the argmax of the integer ``x >> 11`` that ``u`` is
made of -- the same winner, ties included, without the logarithms).
Removing a node moves only its own keys (each to its second-highest node); adding a node takes
keys only for itself. A preference list is the ``k`` highest scores. Lookup costs O(n) per key
(vectorized over a ``(keys, nodes)`` block).

Sizes: there is no table or size parameter -- the state is one seed and one weight per node,
and lookups run in blocks of at most ``2**16`` (key, node) scores (~512 KB, cache-sized: twice
as fast as 16 MB blocks on 1000 nodes), whatever the number of keys and nodes -- so there is
nothing to bound.

References
----------
D. Thaler and C. Ravishankar, "Using Name-Based Mappings to Increase Hit Rates", IEEE/ACM ToN 1998.
C. Schindelhauer and G. Schomaker, "Weighted Distributed Hash Tables", SPAA 2005 (log method).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from consensuslab.hashing.base import PlacementAlgorithm
from consensuslab.hashing.keys import fmix64, hash_keys

__all__ = ["Rendezvous"]

_BLOCK = 1 << 16  # key-node pairs per block


class Rendezvous(PlacementAlgorithm):
    """Weighted rendezvous (HRW) hashing.

    Parameters
    ----------
    nodes : sequence of str
        Distinct node names.
    weights : sequence of float or mapping, optional
        Relative capacities (finite, > 0).

    Examples
    --------
    >>> Rendezvous(["a", "b", "c"]).assign(["user:1", "user:2"], replicas=2).tolist()
    [[0, 2], [0, 1]]
    """

    name = "rendezvous"
    supports_weights = True

    #: per-node hash seed
    node_seeds: npt.NDArray[np.uint64]
    _w: npt.NDArray[np.float64]

    def __init__(
        self, nodes: Sequence[str], weights: Sequence[float] | Mapping[str, float] | None = None
    ) -> None:
        super().__init__(nodes, weights)
        self._set("node_seeds", hash_keys(list(self.nodes), seed=3))
        self._set("_w", np.asarray(self.weights, dtype=np.float64))

    def scores(self, h: npt.NDArray[np.uint64]) -> npt.NDArray[np.float64]:
        """Score matrix ``(len(h), n)``: ``-w / ln(u)`` for each key hash and node."""
        x = fmix64(h[:, None] ^ self.node_seeds[None, :])
        u = ((x >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53  # in (0, 1)
        return -self._w / np.log(u)

    def _blocks(self, m: int) -> range:
        return range(0, m, max(1, _BLOCK // len(self.nodes)))

    def _assign(self, h: npt.NDArray[np.uint64]) -> npt.NDArray[np.intp]:
        out = np.empty(h.shape[0], dtype=np.intp)
        step = max(1, _BLOCK // len(self.nodes))
        equal = bool(np.all(self._w == self._w[0]))
        for s in self._blocks(h.shape[0]):
            if equal:  # argmax of u = ((x >> 11) + 0.5) / 2**53, exact in float64: argmax of x >> 11
                x = h[s : s + step, None] ^ self.node_seeds[None, :]
                fmix64(x, out=x)
                np.right_shift(x, np.uint64(11), out=x)
                out[s : s + step] = np.argmax(x, axis=1)
            else:
                out[s : s + step] = np.argmax(self.scores(h[s : s + step]), axis=1)
        return out

    def _assign_replicas(self, h: npt.NDArray[np.uint64], k: int) -> npt.NDArray[np.intp]:
        out = np.empty((h.shape[0], k), dtype=np.intp)
        step = max(1, _BLOCK // len(self.nodes))
        for s in self._blocks(h.shape[0]):
            sc = -self.scores(h[s : s + step])
            top = np.argpartition(sc, k - 1, axis=1)[:, :k] if k < sc.shape[1] else np.argsort(sc, axis=1)
            order = np.argsort(np.take_along_axis(sc, top, axis=1), axis=1, kind="stable")
            out[s : s + step] = np.take_along_axis(top, order, axis=1)[:, :k]
        return out

    def memory_bytes(self) -> int:
        return int(self.node_seeds.nbytes + self._w.nbytes)

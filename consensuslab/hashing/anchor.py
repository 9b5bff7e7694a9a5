"""AnchorHash (Mendelson et al.): a fully consistent hash with a fixed anchor of buckets.

Theory of operation
-------------------
AnchorHash fixes a *capacity* ``a`` (the anchor: buckets ``0 .. a-1``) and keeps a working
subset ``W`` of them, one bucket per node. Its state is four integer arrays of length ``a`` and
a stack ``R`` of removed buckets (the paper's Algorithm 3, "AnchorHash implementation"):

* ``A[b]`` -- 0 if ``b`` is working, else ``|W_b|``: the working-set size right after ``b``
  was removed (removed buckets hold the distinct values ``N .. a-1``, larger = removed earlier);
* ``W[0:N]`` -- the working buckets, ``L[b]`` -- the position of ``b`` in ``W``;
* ``K[b]`` -- the bucket that took ``b``'s position in ``W`` when ``b`` was removed.

``REMOVEBUCKET(b)`` pushes ``b`` on ``R``, decrements ``N``, sets ``A[b] = N`` and moves the
last working bucket ``W[N]`` into ``b``'s position; ``ADDBUCKET()`` pops the *last removed*
bucket (LIFO) and undoes exactly that removal. A lookup is::

    b = hash(k) mod a
    while A[b] > 0:                       # b is removed
        h = hash_b(k) mod A[b]            # a position in W_b, the working set after b left
        while A[h] >= A[b]:               # h was removed before (or is) b:
            h = K[h]                      #   follow the replacements to W_b[h]
        b = h
    return b

A key that lands on a removed bucket is re-drawn uniformly among the buckets that were working
right after that removal, so the buckets stay perfectly balanced (uniform over ``W``) and a
removal moves exactly the removed bucket's keys, an addition exactly the keys the new bucket
takes (full consistency, the paper's Theorems 1-2). The expected number of hash evaluations
per lookup is at most ``1 + ln(a / N)``.

Here each step runs over *all keys at once*: the keys that still stand on a removed bucket are
a shrinking index set, and the inner ``K``-chain walk is a masked loop over that set.

The per-bucket hash is ``hash_b(k) = fmix64(hash(k) XOR fmix64((b + 1) * 0x9E3779B97F4A7C15))``
(independent across ``b``, as the paper requires), ``hash(k)`` is
:func:`~consensuslab.hashing.keys.hash_keys`, and ``mod`` is the exact 64-bit remainder.

Nodes sit on buckets through the paper's wrapper map ``M`` (bucket -> node): node ``i`` of the
initial list is bucket ``i``; :meth:`AnchorHash.with_node` takes ``ADDBUCKET()``'s bucket and
:meth:`AnchorHash.without_node` calls ``REMOVEBUCKET`` on the node's bucket. The state
therefore depends on the history of additions and removals, not only on the node set, exactly
as in the paper (all participants must agree on the order of changes).

Preference lists (``replicas=k``) are the *failover order*: replica ``j + 1`` is the node the
key would move to if replicas ``1..j`` were removed, in that order. It is computed without
copying the state: the lookup continues from the removed bucket with per-key overrides of
``A``, ``K``, ``W`` and ``L`` for the virtually removed buckets. So when a node fails, each of
its keys moves precisely to its second replica.

References
----------
G. Mendelson, S. Vargaftik, K. Barabash, D. H. Lorenz, I. Keslassy and A. Orda, "AnchorHash: A
Scalable Consistent Hash", IEEE/ACM Transactions on Networking 29(2), 2021; arXiv:1812.09674,
Algorithms 2-3.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from consensuslab._validate import check_float, check_int, describe
from consensuslab.hashing.base import PlacementAlgorithm
from consensuslab.hashing.keys import fmix64

__all__ = ["MAX_CAPACITY", "AnchorHash"]

IntArray = npt.NDArray[np.intp]
U64Array = npt.NDArray[np.uint64]

_CW = np.uint64(0x9E3779B97F4A7C15)
_ONE = np.uint64(1)
#: Largest anchor (``capacity``). The state is ~28 bytes per bucket (four int32 arrays, the
#: removed stack and the bucket -> node map), and every ``with_node``/``without_node`` copies
#: it: 2**24 buckets hold ~470 MB and build in ~0.3 s; 2**26 would take ~1.9 GB per copy.
#: 16,777,216 buckets is 8000x the benchmark's anchor (2 x 1000 nodes).
MAX_CAPACITY = 2**24
_CHUNK = 1 << 17  # keys per block: the per-step index sets stay in cache


def bucket_hash(h: U64Array, b: IntArray) -> U64Array:
    """``hash_b(k)``: the 64-bit hash of key hash ``h`` salted with bucket ``b`` (elementwise).

    Parameters
    ----------
    h : numpy.ndarray of uint64
        Key hashes.
    b : numpy.ndarray of int
        Bucket per key (same shape).

    Returns
    -------
    numpy.ndarray of uint64
        ``fmix64(h ^ fmix64((b + 1) * 0x9E3779B97F4A7C15))``.
    """
    salt = b.astype(np.uint64)
    salt += _ONE
    salt *= _CW
    fmix64(salt, out=salt)
    salt ^= h
    return fmix64(salt, out=salt)


class AnchorHash(PlacementAlgorithm):
    """AnchorHash over a fixed anchor of ``capacity`` buckets.

    Parameters
    ----------
    nodes : sequence of str
        Distinct node names; node ``i`` starts on bucket ``i``.
    capacity : int, optional
        Anchor size ``a``: the largest number of nodes this object (and the objects derived
        from it by :meth:`with_node`) can hold; ``len(nodes) <= capacity <=``
        :data:`MAX_CAPACITY` (2**24 = 16,777,216). Default ``2 * len(nodes)`` (at most
        :data:`MAX_CAPACITY`). Lookups cost about ``1 + ln(capacity / len(nodes))`` hash
        evaluations per key; the state costs ~28 bytes per bucket (~470 MB at the limit).

    Raises
    ------
    ValueError
        If ``capacity`` is smaller than the number of nodes or larger than
        :data:`MAX_CAPACITY`.

    Notes
    -----
    Full consistency (paper, Section 4): removing a node moves only its keys; adding a node
    moves only keys to it; keys are uniform over the working buckets. A removed bucket is
    reused last-in first-out, so ``algo.without_node(x).with_node(y)`` puts ``y`` on ``x``'s
    bucket and restores every other key's placement.

    Examples
    --------
    >>> a = AnchorHash(["a", "b", "c"], capacity=8)
    >>> a.assign(["user:1", "user:2", "user:3"]).tolist()
    [2, 0, 2]
    >>> b = a.without_node("c")
    >>> b.nodes, b.assign(["user:1", "user:2", "user:3"]).tolist()
    (('a', 'b'), [0, 0, 0])
    """

    name = "anchor"

    capacity: int
    #: ``A``: 0 for a working bucket, else the working-set size right after its removal
    anchor: npt.NDArray[np.int32]
    #: ``K``: the bucket that replaced each removed bucket in ``W``
    replacement: npt.NDArray[np.int32]
    #: ``W``: working buckets in positions ``0 .. N-1`` (later positions are stale)
    working: npt.NDArray[np.int32]
    #: ``L``: position of each bucket in ``W``
    location: npt.NDArray[np.int32]
    #: ``R``: removed buckets, bottom of the stack first
    removed: npt.NDArray[np.int32]
    #: node index on each bucket (-1 for a removed bucket)
    bucket_node: npt.NDArray[np.intp]
    #: bucket of each node
    node_bucket: npt.NDArray[np.intp]

    def __init__(self, nodes: Sequence[str], capacity: int | None = None) -> None:
        super().__init__(nodes)
        n = len(self.nodes)
        if capacity is None:
            capacity = max(n, min(2 * n, MAX_CAPACITY))
        a = check_int("capacity", capacity, n, MAX_CAPACITY)
        # INITANCHOR(a, n): every bucket starts as itself; buckets a-1 .. n are removed in
        # that order (A[b] = b, K[b] = L[b] = W[b] = b).
        idx = np.arange(a, dtype=np.int32)
        A = idx.copy()
        A[:n] = 0
        R = idx[n:][::-1].copy()
        node_bucket = np.arange(n, dtype=np.intp)
        self._init_state(a, A, idx.copy(), idx.copy(), idx.copy(), R, node_bucket)

    def _init_state(
        self,
        capacity: int,
        A: npt.NDArray[np.int32],
        K: npt.NDArray[np.int32],
        W: npt.NDArray[np.int32],
        L: npt.NDArray[np.int32],
        R: npt.NDArray[np.int32],
        node_bucket: IntArray,
    ) -> None:
        bucket_node = np.full(capacity, -1, dtype=np.intp)
        bucket_node[node_bucket] = np.arange(node_bucket.shape[0], dtype=np.intp)
        for arr in (A, K, W, L, R, node_bucket, bucket_node):
            arr.flags.writeable = False
        self._set("capacity", capacity)
        self._set("anchor", A)
        self._set("replacement", K)
        self._set("working", W)
        self._set("location", L)
        self._set("removed", R)
        self._set("node_bucket", node_bucket)
        self._set("bucket_node", bucket_node)

    @classmethod
    def _from_state(
        cls,
        nodes: tuple[str, ...],
        capacity: int,
        A: npt.NDArray[np.int32],
        K: npt.NDArray[np.int32],
        W: npt.NDArray[np.int32],
        L: npt.NDArray[np.int32],
        R: npt.NDArray[np.int32],
        node_bucket: IntArray,
    ) -> AnchorHash:
        obj = cls.__new__(cls)
        PlacementAlgorithm.__init__(obj, nodes)
        obj._init_state(capacity, A, K, W, L, R, node_bucket)
        return obj

    def _options(self) -> dict[str, Any]:
        return {"capacity": self.capacity}

    @property
    def n_working(self) -> int:
        """``N``: the number of working buckets (= number of nodes)."""
        return len(self.nodes)

    # -- ADDBUCKET / REMOVEBUCKET (the paper's Algorithm 3) -------------------------------------
    def with_node(self, name: str, weight: float = 1.0) -> AnchorHash:
        """A new object with node ``name`` on the last removed bucket (``ADDBUCKET``).

        Raises
        ------
        ValueError
            If ``name`` is already a node, ``weight`` is not 1, or the anchor is full
            (``len(nodes) == capacity``).
        """
        if not isinstance(name, str):
            raise TypeError(f"`name` must be a str; got {describe(name)}.")
        if name in self.nodes:
            raise ValueError(f"`name` must be a new node; {name!r} is already in `nodes`.")
        if check_float("weight", weight, 0.0, low_open=True) != 1.0:
            raise ValueError(f"`weight` is not supported by AnchorHash; got {weight}.")
        if self.removed.shape[0] == 0:
            raise ValueError(
                f"`capacity` ({self.capacity}) is reached: this AnchorHash holds {self.capacity} nodes "
                "and cannot add another; build a new one with a larger capacity."
            )
        A, K, W, L = (x.copy() for x in (self.anchor, self.replacement, self.working, self.location))
        n = self.n_working
        b = int(self.removed[-1])  # b <- R.pop()
        A[b] = 0  # W <- W u {b}
        L[W[n]] = n
        W[L[b]] = b
        K[b] = b
        node_bucket = np.append(self.node_bucket, np.intp(b))
        return AnchorHash._from_state(self.nodes + (name,), self.capacity, A, K, W, L, self.removed[:-1].copy(), node_bucket)

    def without_node(self, name: str) -> AnchorHash:
        """A new object without node ``name`` (``REMOVEBUCKET`` on its bucket).

        The other nodes keep their relative order in :attr:`nodes`.

        Raises
        ------
        ValueError
            If ``name`` is not a node, or it is the last one.
        """
        if name not in self.nodes:
            raise ValueError(f"`name` must be one of the nodes; got {name!r}.")
        if len(self.nodes) == 1:
            raise ValueError("`nodes` must keep at least one node; cannot remove the last one.")
        i = self.nodes.index(name)
        b = int(self.node_bucket[i])
        A, K, W, L = (x.copy() for x in (self.anchor, self.replacement, self.working, self.location))
        n = self.n_working - 1  # N <- N - 1
        A[b] = n  # A[b] <- |W_b|
        last = W[n]
        W[L[b]] = last
        K[b] = last
        L[last] = L[b]
        R = np.append(self.removed, np.int32(b))  # R.push(b)
        node_bucket = np.delete(self.node_bucket, i)
        return AnchorHash._from_state(self.nodes[:i] + self.nodes[i + 1 :], self.capacity, A, K, W, L, R, node_bucket)

    # -- GETBUCKET, vectorized -------------------------------------------------------------------
    def _resolve(self, h: U64Array, b: IntArray, rows: IntArray) -> None:
        """Run the outer GETBUCKET loop in place on ``b[rows]`` (rows standing on removed buckets)."""
        A = self.anchor
        K = self.replacement
        while rows.size:
            bb = b[rows]
            ab = A[bb]
            x = bucket_hash(h[rows], bb)
            x %= ab.astype(np.uint64)
            hh = x.astype(np.intp)
            # inner loop: follow K while h was removed before (or is) b
            inner = np.flatnonzero(A[hh] >= ab)
            while inner.size:
                nxt = K[hh[inner]]
                hh[inner] = nxt
                inner = inner[A[nxt] >= ab[inner]]
            b[rows] = hh
            rows = rows[A[hh] > 0]

    def buckets(self, h: U64Array) -> IntArray:
        """GETBUCKET for every key hash: the working bucket of each key.

        Parameters
        ----------
        h : numpy.ndarray of uint64
            Key hashes (see :meth:`hash`).

        Returns
        -------
        numpy.ndarray of intp
            Bucket per key (map to nodes with :attr:`bucket_node`).
        """
        b = (h % np.uint64(self.capacity)).astype(np.intp)
        if self.removed.shape[0]:
            for s in range(0, h.shape[0], _CHUNK):
                hb, bb = h[s : s + _CHUNK], b[s : s + _CHUNK]
                self._resolve(hb, bb, np.flatnonzero(self.anchor[bb] > 0))
        return b

    def _assign(self, h: U64Array) -> IntArray:
        return self.bucket_node[self.buckets(h)]

    def _assign_replicas(self, h: U64Array, k: int) -> IntArray:
        m = h.shape[0]
        A, K, W, L = self.anchor, self.replacement, self.working, self.location
        n = self.n_working
        out = np.empty((m, k), dtype=np.intp)
        cur = self.buckets(h)
        out[:, 0] = self.bucket_node[cur]
        # Per-key virtual removals of the replicas found so far. Column j describes the key's
        # (j+1)-th removal (of bucket chosen[:, j], leaving N - j - 1 working buckets):
        #   K[chosen] = moved, W[pos] = moved and L[moved] = pos,
        # where `moved` is the bucket that was last in W and `pos` the removed bucket's position.
        chosen = np.empty((m, k - 1), dtype=np.intp)
        moved = np.empty((m, k - 1), dtype=np.intp)
        pos = np.empty((m, k - 1), dtype=np.intp)
        for i in range(1, k):
            col = i - 1
            n_i = n - i  # N after this key's i-th virtual removal
            # REMOVEBUCKET(cur) in the key's virtual state: last = W[N], loc = L[cur]
            last = np.full(m, W[n_i], dtype=np.intp)
            loc = L[cur].astype(np.intp)
            for j in range(col):  # apply earlier overrides in order (the latest one wins)
                np.copyto(last, moved[:, j], where=pos[:, j] == n_i)
                np.copyto(loc, pos[:, j], where=moved[:, j] == cur)
            chosen[:, col] = cur
            moved[:, col] = last
            pos[:, col] = loc
            # GETBUCKET continues from cur, now removed with A[cur] = n_i, the smallest A of
            # all removed buckets: every removed bucket (base or virtual) is followed via K.
            x = bucket_hash(h, cur)
            x %= np.uint64(n_i)
            hh = x.astype(np.intp)
            act = np.arange(m, dtype=np.intp)
            while act.size:
                sub = hh[act]
                match = chosen[act, : col + 1] == sub[:, None]
                virt = match.any(axis=1)
                rem = virt | (A[sub] > 0)
                act, sub, match, virt = act[rem], sub[rem], match[rem], virt[rem]
                nxt = K[sub].astype(np.intp)
                if virt.any():
                    nxt = np.where(virt, moved[act, match.argmax(axis=1)], nxt)
                hh[act] = nxt
            out[:, i] = self.bucket_node[hh]
            cur = hh
        return out

    def memory_bytes(self) -> int:
        """Bytes of state: ``A``, ``K``, ``W``, ``L``, the stack ``R`` and the bucket/node maps."""
        arrays = (self.anchor, self.replacement, self.working, self.location, self.removed, self.bucket_node, self.node_bucket)
        return int(sum(x.nbytes for x in arrays))

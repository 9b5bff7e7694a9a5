"""Consistent-hash ring with virtual nodes (Karger et al. 1997), plus client-compatible layouts.

Theory of operation
-------------------
Each node owns ``v`` points ("virtual nodes") on a circle of ``2**bits`` positions; a key is
stored on the owner of the first point strictly clockwise of the key's hash (``bisect_right``,
wrapping to the first point) -- the convention of libketama and ``uhashring``. A node's share of
the circle is then a sum of ``v`` spacings, distributed Beta(v, (n-1)v): coefficient of variation
``sqrt((n-1)/(n v + 1))`` (see :func:`consensuslab.hashing.metrics.ring_cv_theory`).

Layouts (``mode``):

``"native"`` (default)
    ``round(vnodes * weight)`` points (at least 1) per node, at ``hash_keys(f"{name}#{j}", seed=1)``;
    keys hashed with :func:`~consensuslab.hashing.keys.hash_keys` (64-bit).
``"ketama"``
    libketama / memcached-client layout as implemented by ``uhashring`` (``hash_fn="ketama"``):
    node ``i`` gets ``(vnodes * n * weight_i) // sum(weights)`` labels ``f"{name}-{w}"``
    (``vnodes`` defaults to 40), each label's MD5 giving ``4`` 32-bit little-endian points; a key
    hashes to the first 4 MD5 bytes of ``str(key)``, little-endian.
``"uhashring"``
    ``uhashring``'s default layout: ``vnodes * weight`` labels ``f"{name}-{w}"`` per node
    (``vnodes`` defaults to 160, integer weights), each point the full 128-bit MD5 integer;
    keys hash to the 128-bit MD5 integer of ``str(key)``.

In both compatibility modes, when two points coincide the node inserted last owns it (the
libraries' dict semantics), so every key lands on the same node as in the library.

Lookup is a radix table over the top ``b`` bits of the hash (``b = ceil(log2 points) + 4``):
a bucket without points stores its owner directly (one gather per key); only keys falling in
the few buckets that contain points do a ``searchsorted``. Preference lists walk clockwise and
skip nodes already chosen; they are computed once per replica count for every point and cached,
so ``assign(keys, replicas=k)`` is a gather too.

References
----------
D. Karger et al., "Consistent Hashing and Random Trees", STOC 1997.
R. Jones, libketama (last.fm, 2007); ``uhashring`` 2.x (ultrabug).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from consensuslab._validate import check_choice, check_int, check_size
from consensuslab.hashing.base import PlacementAlgorithm, first_distinct
from consensuslab.hashing.keys import KeyLike, hash_keys, md5_digests

__all__ = ["MAX_POINTS", "Ring"]

RingMode = Literal["native", "ketama", "uhashring"]
_DEFAULT_VNODES = {"native": 160, "ketama": 40, "uhashring": 160}
_CHUNK = 1 << 16
#: Most ring points one Ring may place (all nodes, all modes), checked from ``vnodes`` and
#: ``weights`` before any point is made. 2**24 points take ~17 s and ~2.5 GB to build (the
#: labels are Python strings); it is 16x the largest ring the notebooks build (1000 nodes x
#: 1000 vnodes) and holds 100,000 nodes at libketama-scale 160 vnodes.
MAX_POINTS = 2**24


def _dedupe_last_writer(
    keys: tuple[npt.NDArray[np.uint64], ...], owners: npt.NDArray[np.intp]
) -> tuple[tuple[npt.NDArray[np.uint64], ...], npt.NDArray[np.intp]]:
    """Sort points by (keys...) and keep, for equal points, the one inserted last."""
    insertion = np.arange(owners.shape[0])
    order = np.lexsort((insertion,) + tuple(reversed(keys)))
    sk = tuple(k[order] for k in keys)
    so = owners[order]
    if so.shape[0] > 1:
        same_as_next = np.ones(so.shape[0] - 1, dtype=bool)
        for k in sk:
            same_as_next &= k[1:] == k[:-1]
        keep = np.append(~same_as_next, True)
        sk = tuple(k[keep] for k in sk)
        so = so[keep]
    return sk, so


class Ring(PlacementAlgorithm):
    """Consistent-hash ring with virtual nodes and weights.

    Parameters
    ----------
    nodes : sequence of str
        Distinct node names.
    weights : sequence of float or mapping name -> float, optional
        Relative capacities (finite, > 0; default 1). ``"uhashring"`` mode needs integers.
    vnodes : int, optional
        Virtual nodes per unit weight (1 <= vnodes <= :data:`MAX_POINTS` = 2**24); default 160
        (native, uhashring) or 40 (ketama).
    mode : {"native", "ketama", "uhashring"}, default "native"
        Point layout and key hash; see the module notes.
    replicas_per_label : int, default 4
        ``ketama`` only: 32-bit points cut from each label's MD5 digest (1-4).

    Raises
    ------
    ValueError
        Empty/duplicate node names, bad weights, ``vnodes`` out of range, unknown mode, or a
        layout of more than :data:`MAX_POINTS` (2**24 = 16,777,216) ring points in total.

    Notes
    -----
    Size limit: the ring places ``sum(round(vnodes * weight))`` points (native mode), so a
    large ``vnodes`` *or* a large weight makes it big; a layout of more than
    :data:`MAX_POINTS` points is refused up front, before any label is made. Building costs
    about 1 microsecond and ~150 bytes per point (~17 s and ~2.5 GB at the limit); the lookup
    state left behind is ~12 bytes per point plus a radix table of at most 2**22 entries.

    Examples
    --------
    >>> ring = Ring(["a", "b", "c"], vnodes=100)
    >>> ring.assign(["user:1", "user:2"]).tolist()
    [1, 2]
    >>> ring.assign(["user:1"], replicas=3).tolist()
    [[1, 0, 2]]
    """

    name = "ring"
    supports_weights = True

    vnodes: int
    mode: RingMode
    replicas_per_label: int
    #: sorted ring points (ketama: 32-bit values; uhashring: the top 64 of 128 bits)
    points: npt.NDArray[np.uint64]
    #: uhashring mode: the low 64 bits of each 128-bit point (else None)
    points_lo: npt.NDArray[np.uint64] | None
    #: node index of each point
    owners: npt.NDArray[np.int32]
    #: width of the ring in bits (64, or 32 for ketama)
    bits: int
    _shift: np.uint64
    _table: npt.NDArray[np.signedinteger[Any]]
    _first_after: npt.NDArray[np.intp]
    _mixed: npt.NDArray[np.bool_]

    def __init__(
        self,
        nodes: Sequence[str],
        weights: Sequence[float] | Mapping[str, float] | None = None,
        vnodes: int | None = None,
        mode: RingMode = "native",
        replicas_per_label: int = 4,
    ) -> None:
        super().__init__(nodes, weights)
        check_choice("mode", mode, ("native", "ketama", "uhashring"))
        vnodes = _DEFAULT_VNODES[mode] if vnodes is None else check_int("vnodes", vnodes, 1, MAX_POINTS)
        replicas_per_label = check_int("replicas_per_label", replicas_per_label, 1, 4)
        self._set("vnodes", vnodes)
        self._set("mode", mode)
        self._set("replicas_per_label", replicas_per_label)
        if mode == "uhashring":
            for w in self.weights:
                if float(w) != int(w):
                    raise ValueError(f"`weights` must be integers in mode 'uhashring'; got {w}.")
        self._build()

    def _options(self) -> dict[str, Any]:
        opts: dict[str, Any] = {"vnodes": self.vnodes, "mode": self.mode}
        if self.mode == "ketama" and self.replicas_per_label != 4:
            opts["replicas_per_label"] = self.replicas_per_label
        return opts

    # -- construction ----------------------------------------------------------------------
    def points_per_node(self) -> npt.NDArray[np.intp]:
        """Number of ring points each node places (before coincident points are merged)."""
        counts = self._label_counts()
        if self.mode == "ketama":
            return np.array(counts, dtype=np.intp) * self.replicas_per_label
        return np.array(counts, dtype=np.intp)

    def _label_counts(self) -> list[int]:
        """Labels per node (one point each, ``replicas_per_label`` points in ketama mode).

        Checked against :data:`MAX_POINTS` before any label is made: the counts are computed
        as Python numbers from ``vnodes`` and ``weights`` alone.
        """
        n = len(self.nodes)
        v = self.vnodes
        uniform = all(float(w) == 1.0 for w in self.weights)
        name = "vnodes" if uniform or self.mode == "ketama" else "weights"
        if self.mode == "native":
            xs = [v * float(w) for w in self.weights]
            if all(x <= MAX_POINTS for x in xs):  # also false for inf/nan
                counts: list[int] = [max(1, round(x)) for x in xs]
                total: float = sum(counts)
            else:
                counts, total = [], math.fsum(xs)
            how = f"round(vnodes * weight), at least 1, summed over {n} nodes; vnodes={v}"
            check_size(name, total, MAX_POINTS, "ring points", how)
            return counts
        if self.mode == "uhashring":
            counts = [v * int(w) for w in self.weights]
            how = f"vnodes * weight summed over {n} nodes; vnodes={v}"
            check_size(name, sum(counts), MAX_POINTS, "ring points", how)
            return counts
        wsum = sum(self.weights)
        raw = [(v * n * w) // wsum for w in self.weights]  # libketama's label count per node
        r = self.replicas_per_label
        how = f"{r} points per label, (vnodes * {n} nodes * weight) // sum(weights) labels per node; vnodes={v}"
        if not all(math.isfinite(x) for x in raw):
            check_size(name, math.inf, MAX_POINTS, "ring points", how)
        counts = [int(x) for x in raw]
        check_size(name, sum(counts) * r, MAX_POINTS, "ring points", how)
        return counts

    def _build(self) -> None:
        n = len(self.nodes)
        lo: npt.NDArray[np.uint64] | None = None
        per = self._label_counts()  # raises before building if the ring would be too large
        if self.mode == "native":
            counts = np.array(per, dtype=np.intp)
            labels = [f"{name}#{j}" for name, c in zip(self.nodes, counts) for j in range(c)]
            points = hash_keys(labels, seed=1)
            owners = np.repeat(np.arange(n, dtype=np.intp), counts)
            (points,), owners = _dedupe_last_writer((points,), owners)
            bits = 64
        elif self.mode == "uhashring":
            labels = [f"{name}-{j}" for name, c in zip(self.nodes, per) for j in range(c)]
            d = md5_digests(labels)
            hi = np.ascontiguousarray(d[:, :8]).view(">u8").ravel().astype(np.uint64)
            lo_all = np.ascontiguousarray(d[:, 8:]).view(">u8").ravel().astype(np.uint64)
            owners = np.repeat(np.arange(n, dtype=np.intp), per)
            (points, lo), owners = _dedupe_last_writer((hi, lo_all), owners)
            bits = 64
        else:
            labels = [f"{name}-{j}" for name, c in zip(self.nodes, per) for j in range(c)]
            r = self.replicas_per_label
            d = md5_digests(labels) if labels else np.empty((0, 16), dtype=np.uint8)
            words = np.ascontiguousarray(d).view("<u4")[:, :r].ravel().astype(np.uint64)
            owners = np.repeat(np.repeat(np.arange(n, dtype=np.intp), per), r)
            (points,), owners = _dedupe_last_writer((words,), owners)
            bits = 32
        if points.shape[0] == 0:
            raise ValueError(f"`vnodes` is too small: no node gets a point on the ring; got {self.vnodes}.")
        present = np.zeros(n, dtype=bool)
        present[owners] = True
        self._set("points", points)
        self._set("points_lo", lo)
        self._set("owners", owners.astype(np.int32))
        self._set("bits", bits)
        p = points.shape[0]
        # ~64 buckets per point: ~1.5% of keys fall in a bucket holding a point (table <= 8 MB)
        b = min(bits, 22, max(8, math.ceil(math.log2(p)) + 6))
        shift = bits - b
        bucket = (points >> np.uint64(shift)).astype(np.intp)
        counts = np.bincount(bucket, minlength=1 << b)
        first_after = np.cumsum(counts) % p  # first point in a later bucket (wrapping)
        table_dtype = np.int16 if n < 2**15 - 1 else np.int32
        table = self.owners[first_after].astype(table_dtype)
        table[counts > 0] = -1  # mixed bucket: resolve with searchsorted
        self._set("_shift", np.uint64(shift))
        self._set("_table", table)
        self._set("_first_after", first_after)
        self._set("_mixed", counts > 0)

    # -- hashing and lookup -------------------------------------------------------------------
    def _key_hashes(self, keys: KeyLike) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64] | None]:
        if self.mode == "native":
            return hash_keys(keys), None
        d = md5_digests(keys)
        if self.mode == "ketama":
            return np.ascontiguousarray(d[:, :4]).view("<u4").ravel().astype(np.uint64), None
        hi = np.ascontiguousarray(d[:, :8]).view(">u8").ravel().astype(np.uint64)
        lo = np.ascontiguousarray(d[:, 8:]).view(">u8").ravel().astype(np.uint64)
        return hi, lo

    def hash(self, keys: KeyLike) -> npt.NDArray[np.uint64]:
        """Key positions on the ring (ketama: 32-bit; uhashring: the top 64 of 128 bits)."""
        return self._key_hashes(keys)[0]

    def _search(self, h: npt.NDArray[np.uint64], lo: npt.NDArray[np.uint64] | None) -> npt.NDArray[np.intp]:
        """Index of the first point strictly clockwise of each hash (exact, 128-bit aware)."""
        p = self.points.shape[0]
        pos = np.searchsorted(self.points, h, side="right")
        if lo is not None:
            left = np.searchsorted(self.points, h, side="left")
            tie = np.flatnonzero(left != pos)
            if tie.size:  # equal top 64 bits: compare the full 128-bit values (vanishingly rare)
                points_lo = self.points_lo
                assert points_lo is not None  # a 128-bit key hash implies 128-bit points (uhashring)
                full = [(int(a) << 64) | int(b) for a, b in zip(self.points.tolist(), points_lo.tolist())]
                for t in tie.tolist():
                    pos[t] = bisect.bisect_right(full, (int(h[t]) << 64) | int(lo[t]))
        pos[pos == p] = 0
        return pos

    def _lookup_owner(self, h: npt.NDArray[np.uint64], lo: npt.NDArray[np.uint64] | None) -> npt.NDArray[np.intp]:
        out = np.empty(h.shape[0], dtype=np.intp)
        idx = np.empty(min(_CHUNK, h.shape[0]), dtype=np.uint64)
        small = np.empty(min(_CHUNK, h.shape[0]), dtype=self._table.dtype)
        for start in range(0, h.shape[0], _CHUNK):
            hc = h[start : start + _CHUNK]
            m = hc.shape[0]
            np.right_shift(hc, self._shift, out=idx[:m])
            np.take(self._table, idx[:m].view(np.intp), out=small[:m])
            oc = out[start : start + m]
            oc[...] = small[:m]
            mixed = np.flatnonzero(small[:m] < 0)
            if mixed.size:
                oc[mixed] = self.owners[self._search(hc[mixed], None if lo is None else lo[start : start + m][mixed])]
        return out

    def positions(self, keys: KeyLike) -> npt.NDArray[np.intp]:
        """Index (into :attr:`points`) of the point that owns each key."""
        h, lo = self._key_hashes(keys)
        return self._positions(h, lo)

    def _positions(self, h: npt.NDArray[np.uint64], lo: npt.NDArray[np.uint64] | None) -> npt.NDArray[np.intp]:
        bucket = (h >> self._shift).astype(np.intp)
        pos = self._first_after[bucket]
        mixed = np.flatnonzero(self._mixed[bucket])
        if mixed.size:
            pos[mixed] = self._search(h[mixed], None if lo is None else lo[mixed])
        return pos

    def preference_table(self, k: int) -> npt.NDArray[np.int32]:
        """For every ring point, the first ``k`` distinct nodes clockwise from it (cached)."""
        k = check_int("replicas", k, 1, len(self.nodes))
        key = ("pref", k)
        if key not in self._cache:
            p = self.points.shape[0]
            owners = self.owners

            def candidate(rows: npt.NDArray[np.intp], step: int) -> npt.NDArray[np.int32]:
                idx = rows + step
                idx[idx >= p] -= p
                return owners[idx]

            self._cache[key] = first_distinct(candidate, p, k, p).astype(np.int32)
        return self._cache[key]

    def assign(self, keys: KeyLike, replicas: int | None = None) -> npt.NDArray[np.intp]:
        if replicas is not None:
            replicas = check_int("replicas", replicas, 1, len(self.nodes))
            present = np.unique(self.owners).shape[0]
            if replicas > present:
                raise ValueError(
                    f"`replicas` must be <= the {present} nodes that own ring points; got {replicas}."
                )
        h, lo = self._key_hashes(keys)
        if replicas is None:
            return self._lookup_owner(h, lo)
        return self.preference_table(replicas)[self._positions(h, lo)].astype(np.intp)

    assign.__doc__ = PlacementAlgorithm.assign.__doc__

    def _assign(self, h: npt.NDArray[np.uint64]) -> npt.NDArray[np.intp]:
        return self._lookup_owner(h, None)

    # -- analysis ---------------------------------------------------------------------------
    def shares(self) -> npt.NDArray[np.float64]:
        """Exact fraction of the hash circle each node owns (arcs ending at its points)."""
        p = self.points
        arcs = np.empty(p.shape[0], dtype=np.float64)
        arcs[1:] = (p[1:] - p[:-1]).astype(np.float64)
        arcs[0] = float((int(p[0]) - int(p[-1])) % (1 << self.bits)) if p.shape[0] > 1 else float(1 << self.bits)
        out = np.bincount(self.owners, weights=arcs, minlength=len(self.nodes))
        return out / out.sum()

    def memory_bytes(self) -> int:
        total = self.points.nbytes + self.owners.nbytes + self._table.nbytes
        return int(total + (0 if self.points_lo is None else self.points_lo.nbytes))

"""Jump consistent hash (Lamping & Veach 2014), vectorized over keys.

Theory of operation
-------------------
Jump hash maps a 64-bit key to a bucket in ``[0, n)`` with no state but ``n``. It follows the
key's bucket as the bucket count grows from 1 to ``n``: the key moves to the new bucket ``j``
with probability ``1/j`` -- so exactly the ideal ``1/(n+1)`` of keys move when a bucket is
appended, all of them to the new bucket -- and it only evaluates the ``O(ln n)`` growth steps
at which the key actually jumps, drawing the next jump target from a linear congruential
generator seeded by the key::

    b, j = -1, 0
    while j < n:
        b = j
        key = key * 2862933555777941757 + 1            (mod 2**64)
        j = floor((b + 1) * (2**31 / ((key >> 33) + 1)))   (double precision)
    return b

Here the loop runs over *all keys at once*: each iteration advances the keys still jumping
(uint64 arithmetic for the generator, float64 for the ratio, exactly as the C reference) and
drops the keys whose next jump lands beyond ``n``. Buckets are numbered, so nodes are an
ordered list: :meth:`Jump.with_node` appends (minimal movement); :meth:`Jump.without_node`
moves the last node into the removed slot (the removed node's keys go to it, and the last
bucket's keys are redistributed: ~2/n of keys move rather than the ideal 1/n).

Preference lists (``replicas=k``) use the bucket of the key rehashed with salts 1, 2, ...
over the nodes not yet chosen (each candidate drawn by jump over the remaining list), so each
replica level is again a jump hash. The list of remaining nodes is a per-key permutation, so
keys are processed in blocks of about ``2**21 / n`` (a bounded ~16 MB working set).

Sizes: jump hash has no table, so there is nothing to build; the bucket count is at most
``2**31 - 1`` (:data:`MAX_BUCKETS`, the C reference's ``int32``).

References
----------
J. Lamping and E. Veach, "A Fast, Minimal Memory, Consistent Hash Algorithm", arXiv:1406.2294, 2014.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from consensuslab._validate import check_int
from consensuslab.hashing.base import PlacementAlgorithm
from consensuslab.hashing.keys import (
    KeyLike,
    _seed_constant,
    as_key_array,
    fmix64,
    hash_keys,
)

__all__ = ["MAX_BUCKETS", "Jump", "jump_hash"]

_LCG = np.uint64(2862933555777941757)
_ONE = np.uint64(1)
_S33 = np.uint64(33)
_TWO31 = float(1 << 31)
# (key >> 33) | _MAGIC, read as a double, is 2**52 + (key >> 33) exactly; subtracting
# _MAGIC_M1 = 2**52 - 1 leaves float(key >> 33) + 1 exactly (both are < 2**53).
_MAGIC = np.uint64(0x4330000000000000)
_MAGIC_M1 = float(2**52 - 1)
#: keys per block (the working set, ~4 float64/uint64 arrays of this length, stays in L2/L3
#: cache while the ~20 numpy calls per iteration stay cheap against the element work)
_CHUNK = 1 << 17
#: compact the live entries when at most this fraction of the block is still jumping
_COMPACT = 0.5
#: most buckets (the C reference takes an ``int32`` bucket count)
MAX_BUCKETS = 2**31 - 1
#: (key, node) entries per block of a preference-list computation
_PREF_BLOCK = 1 << 21


def jump_hash(keys: npt.NDArray[np.uint64], n: int) -> npt.NDArray[np.intp]:
    """Jump consistent hash of 64-bit keys into ``n`` buckets, bit-exact with the paper's C code.

    Parameters
    ----------
    keys : numpy.ndarray of uint64
        The (already hashed) keys.
    n : int
        Number of buckets (1 <= n < 2**31, the C reference's ``int32``).

    Returns
    -------
    numpy.ndarray of intp
        Bucket per key.

    Raises
    ------
    ValueError
        If ``n`` is out of range.

    Examples
    --------
    >>> import numpy as np
    >>> jump_hash(np.array([0, 1, 2**63], dtype=np.uint64), 10).tolist()
    [0, 6, 5]
    """
    n = check_int("n", n, 1, MAX_BUCKETS)
    return _jump(np.asarray(keys, dtype=np.uint64), n, None)


def _jump(keys: npt.NDArray[np.uint64], n: int, seed: np.uint64 | None) -> npt.NDArray[np.intp]:
    """Blocked, vectorized jump hash; with ``seed``, keys are first hashed as by ``hash_keys``.

    Per block, every iteration advances the entries still jumping in lockstep, in place, with
    preallocated buffers (about 13 whole-array passes: the generator in uint64, ``(key >> 33) + 1``
    to float64 by the 2**52 exponent trick, the divide and multiply in float64 exactly as the C
    code rounds them, ``floor``, and the bookkeeping below). An entry whose ``j`` reaches ``n``
    is finished: ``j`` only grows afterwards (``2**31 / ((key >> 33) + 1) >= 1``), so no mask
    is needed -- ``best`` keeps the last ``b + 1`` seen below ``n``, which is the answer plus
    one. Finished entries are dropped (gathering the live ones) only when at most half of the
    block is still live, so the gathers cost about one pass per key in total.
    """
    total = keys.shape[0]
    out = np.empty(total, dtype=np.intp)
    nf = float(n)
    size = min(_CHUNK, total)
    kbuf = np.empty(size, dtype=np.uint64)  # generator state
    ubuf = np.empty(size, dtype=np.uint64)  # (key >> 33) | magic, then j in float64
    bbuf = np.empty(size, dtype=np.float64)  # b + 1
    sbuf = np.empty(size, dtype=np.float64)  # best: answer + 1
    gbuf = np.empty(size, dtype=bool)  # j < n: still jumping
    rbuf = np.empty(size, dtype=np.float64)  # results of the block (answer + 1)
    for start in range(0, total, _CHUNK):
        src = keys[start : start + _CHUNK]
        m = m0 = src.shape[0]
        key, u, bp1, best, g = kbuf[:m], ubuf[:m], bbuf[:m], sbuf[:m], gbuf[:m]
        j = u.view(np.float64)
        if seed is not None:  # fused hash_keys for integer keys: fmix64(key + seed)
            np.add(src, seed, out=key)
            fmix64(key, out=key)
            np.multiply(key, _LCG, out=key)
        else:
            np.multiply(src, _LCG, out=key)
        # first step (b = 0, so b + 1 = 1 needs no multiply)
        np.add(key, _ONE, out=key)
        np.right_shift(key, _S33, out=u)
        np.bitwise_or(u, _MAGIC, out=u)
        np.subtract(j, _MAGIC_M1, out=j)
        np.divide(_TWO31, j, out=j)
        np.floor(j, out=bp1)
        bp1 += 1.0
        np.less(j, nf, out=g)
        np.multiply(bp1, g, out=best)
        np.maximum(best, 1.0, out=best)
        alive = int(np.count_nonzero(g))
        res = rbuf[:m0]
        rows: npt.NDArray[np.intp] | None = None  # block row of each live entry (None: all)
        while True:
            if alive <= _COMPACT * m:
                if rows is None:
                    np.copyto(res, best)
                else:
                    res[rows] = best
                if alive == 0:
                    break
                idx = np.flatnonzero(g)
                rows = idx if rows is None else rows[idx]
                m = alive
                np.take(key, idx, out=kbuf[:m])
                np.take(bp1, idx, out=bbuf[:m])
                key, u, bp1, best, g = kbuf[:m], ubuf[:m], bbuf[:m], sbuf[:m], gbuf[:m]
                j = u.view(np.float64)
                np.copyto(best, bp1)  # a live entry's best is its current b + 1
            np.multiply(key, _LCG, out=key)  # key = key * 2862933555777941757 + 1
            np.add(key, _ONE, out=key)
            np.right_shift(key, _S33, out=u)
            np.bitwise_or(u, _MAGIC, out=u)
            np.subtract(j, _MAGIC_M1, out=j)  # (key >> 33) + 1
            np.divide(_TWO31, j, out=j)
            np.multiply(j, bp1, out=j)  # j = (b + 1) * (2**31 / ((key >> 33) + 1))
            np.floor(j, out=bp1)
            bp1 += 1.0
            np.less(j, nf, out=g)
            np.multiply(bp1, g, out=j)  # j is no longer needed: reuse its buffer
            np.maximum(best, j, out=best)
            alive = int(np.count_nonzero(g))
        res -= 1.0
        out[start : start + m0] = res
    return out


class Jump(PlacementAlgorithm):
    """Jump consistent hash over an ordered list of nodes.

    Parameters
    ----------
    nodes : sequence of str
        Distinct node names; bucket ``i`` is ``nodes[i]``.
    hash_keys : bool, default True
        Hash keys with :func:`~consensuslab.hashing.keys.hash_keys` first. With ``False``,
        integer keys are used directly as the 64-bit jump key, which matches the C reference
        (and the ``jump`` package's ``jump.hash(key, n)``) key for key; string keys are always
        hashed.

    Examples
    --------
    >>> Jump(["a", "b", "c"]).assign(["user:1", "user:2", "user:3"]).tolist()
    [0, 2, 1]
    """

    name = "jump"

    hash_keys: bool

    def __init__(self, nodes: Sequence[str], hash_keys: bool = True) -> None:
        super().__init__(nodes)
        if not isinstance(hash_keys, bool):
            raise TypeError(f"`hash_keys` must be a bool; got {hash_keys!r}.")
        self._set("hash_keys", hash_keys)

    def _options(self) -> dict[str, Any]:
        return {} if self.hash_keys else {"hash_keys": False}

    def hash(self, keys: KeyLike) -> npt.NDArray[np.uint64]:
        if self.hash_keys:
            return hash_keys(keys)
        arr = as_key_array(keys)
        return arr if isinstance(arr, np.ndarray) else hash_keys(arr)

    def assign(self, keys: KeyLike, replicas: int | None = None) -> npt.NDArray[np.intp]:
        """Place keys on nodes (see :meth:`PlacementAlgorithm.assign`).

        Integer keys are hashed block by block inside the jump loop (the same
        :func:`~consensuslab.hashing.keys.hash_keys` value, without a separate pass).
        """
        if replicas is None and self.hash_keys:
            arr = as_key_array(keys)
            if isinstance(arr, np.ndarray):
                return _jump(arr, len(self.nodes), _seed_constant(0))
            return super().assign(arr)
        return super().assign(keys, replicas)

    def without_node(self, name: str) -> Jump:
        """A new object without ``name``; the last node takes over its bucket number."""
        if name not in self.nodes:
            raise ValueError(f"`name` must be one of the nodes; got {name!r}.")
        if len(self.nodes) == 1:
            raise ValueError("`nodes` must keep at least one node; cannot remove the last one.")
        nodes = list(self.nodes)
        i = nodes.index(name)
        nodes[i] = nodes[-1]
        nodes.pop()
        return Jump(nodes, **self._options())

    def _assign(self, h: npt.NDArray[np.uint64]) -> npt.NDArray[np.intp]:
        return jump_hash(h, len(self.nodes))

    def _assign_replicas(self, h: npt.NDArray[np.uint64], k: int) -> npt.NDArray[np.intp]:
        n = len(self.nodes)
        out = np.empty((h.shape[0], k), dtype=np.intp)
        # Keys in blocks of about _PREF_BLOCK / n rows: the per-row permutation below is
        # (rows, n), which for all keys at once would be keys x nodes x 8 bytes (8 GB for
        # 10**6 keys on 1000 nodes). Rows are independent, so blocking changes no result.
        step = max(1, _PREF_BLOCK // n)
        for s in range(0, h.shape[0], step):
            hb = h[s : s + step]
            m = hb.shape[0]
            # remaining[r] lists the node indices not yet chosen for row r (as a permutation).
            remaining = np.broadcast_to(np.arange(n, dtype=np.intp), (m, n)).copy()
            rows = np.arange(m)
            for level in range(k):
                salted = hb if level == 0 else fmix64(hb ^ np.uint64((0x9E3779B97F4A7C15 * level) & (2**64 - 1)))
                slot = jump_hash(salted, n - level)
                out[s + rows, level] = remaining[rows, slot]
                # remove the chosen node: move the last live entry into its slot
                remaining[rows, slot] = remaining[:, n - level - 1]
        return out

    def memory_bytes(self) -> int:
        return 0

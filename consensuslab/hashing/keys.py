"""Stable, vectorized 64-bit key hashing.

Theory of operation
-------------------
Every placement algorithm in :mod:`consensuslab.hashing` first maps each key to a 64-bit
unsigned integer with :func:`hash_keys`, then places that integer. The hash is a pure function
of the key's value (never Python's salted ``hash()``), identical across processes, platforms and
batch sizes, and computed over whole numpy arrays:

* **Integer keys** (any numpy integer array, or a sequence of Python ``int``): the key is taken
  modulo 2**64 (two's complement for negative values) and passed through MurmurHash3's 64-bit
  finalizer ``fmix64`` after adding a seed-dependent constant. ``fmix64`` is a bijection, so
  distinct ``uint64`` keys never collide.
* **String keys** (``str`` hashed as their UTF-8 bytes, so ``"abc"`` and ``b"abc"`` agree): the
  bytes of all keys are concatenated into one buffer; each key is read as little-endian 64-bit
  words (the last one zero-padded). Words are absorbed from the *last* to the first with the
  bijective step ``h = g(h ^ w)``, ``g(x) = (x * C) ^ ((x * C) >> 32)``, starting from ``h = 0``;
  finally ``fmix64(h ^ seed_constant ^ (len * K))`` mixes in the byte length, so keys that differ
  only by trailing NUL bytes still differ. One pass per word column, vectorized over keys.

The reference implementation of the string hash for a single key is :func:`hash_bytes_scalar`
(a plain-Python loop kept for documentation and as the test oracle).

Compatibility modes (:class:`~consensuslab.hashing.Ring` with ``mode="ketama"`` or
``"uhashring"``) instead hash ``str(key)`` with MD5 exactly as those libraries do; see
:func:`md5_digests`. That path is a per-key ``hashlib`` call (the libraries' own definition), not
vectorizable.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["KeyLike", "as_key_array", "fmix64", "hash_bytes_scalar", "hash_keys", "md5_digests"]

KeyLike = npt.NDArray[np.integer] | Sequence[str] | Sequence[bytes] | Sequence[int]

_U64 = np.uint64
_M64 = (1 << 64) - 1
_C1 = _U64(0xFF51AFD7ED558CCD)
_C2 = _U64(0xC4CEB9FE1A85EC53)
_CW = _U64(0x9E3779B97F4A7C15)  # word-absorption multiplier (golden ratio)
_CL = _U64(0xD6E8FEB86659FD93)  # length multiplier
_S33 = _U64(33)
_S32 = _U64(32)
_CHUNK = 1 << 16  # keys per block: keeps the working set in cache


def _seed_constant(seed: int) -> np.uint64:
    """The 64-bit constant mixed into every hash for a given ``seed``."""
    return _U64(_fmix64_int((0x8C16A8D1F0E1A2B3 + seed * 0x9E3779B97F4A7C15) & _M64))


def _fmix64_int(x: int) -> int:
    """MurmurHash3 ``fmix64`` on a Python int (the scalar reference)."""
    x &= _M64
    x ^= x >> 33
    x = (x * 0xFF51AFD7ED558CCD) & _M64
    x ^= x >> 33
    x = (x * 0xC4CEB9FE1A85EC53) & _M64
    x ^= x >> 33
    return x


def fmix64(x: npt.NDArray[np.uint64], out: npt.NDArray[np.uint64] | None = None) -> npt.NDArray[np.uint64]:
    """MurmurHash3's 64-bit finalizer, elementwise (a bijection on ``uint64``).

    Parameters
    ----------
    x : numpy.ndarray of uint64
        Input words.
    out : numpy.ndarray of uint64, optional
        Where to write the result (may be ``x`` itself).

    Returns
    -------
    numpy.ndarray of uint64
        ``fmix64(x)``.

    References
    ----------
    Austin Appleby, MurmurHash3 (public domain), ``fmix64``.
    """
    if out is None:
        out = np.array(x, dtype=np.uint64, copy=True)
    elif out is not x:
        np.copyto(out, x)
    tmp = np.empty_like(out)
    np.right_shift(out, _S33, out=tmp)
    np.bitwise_xor(out, tmp, out=out)
    np.multiply(out, _C1, out=out)
    np.right_shift(out, _S33, out=tmp)
    np.bitwise_xor(out, tmp, out=out)
    np.multiply(out, _C2, out=out)
    np.right_shift(out, _S33, out=tmp)
    np.bitwise_xor(out, tmp, out=out)
    return out


def _hash_uint64(keys: npt.NDArray[np.uint64], seed: int) -> npt.NDArray[np.uint64]:
    out = np.empty(keys.shape[0], dtype=np.uint64)
    c = _seed_constant(seed)
    for start in range(0, keys.shape[0], _CHUNK):
        block = out[start : start + _CHUNK]
        np.add(keys[start : start + _CHUNK], c, out=block)
        fmix64(block, out=block)
    return out


def hash_bytes_scalar(data: bytes, seed: int = 0) -> int:
    """Reference (plain Python) string hash of one key's bytes; see the module notes.

    Parameters
    ----------
    data : bytes
        The key's bytes (a ``str`` key is hashed as ``key.encode("utf-8")``).
    seed : int, default 0
        Hash seed.

    Returns
    -------
    int
        The 64-bit hash, equal to ``hash_keys([data], seed)[0]``.

    Examples
    --------
    >>> hash_bytes_scalar(b"key-1") == int(hash_keys(["key-1"])[0])
    True
    """
    n = len(data)
    padded = data + b"\0" * (-n % 8)
    words = [int.from_bytes(padded[i : i + 8], "little") for i in range(0, len(padded), 8)]
    h = 0
    for w in reversed(words):
        x = ((h ^ w) * 0x9E3779B97F4A7C15) & _M64
        h = x ^ (x >> 32)
    h ^= int(_seed_constant(seed))
    h ^= (n * 0xD6E8FEB86659FD93) & _M64
    return _fmix64_int(h)


def _join_strings(keys: Sequence[Any]) -> tuple[bytes, npt.NDArray[np.int64]]:
    """Concatenate the UTF-8 bytes of ``keys`` and return ``(buffer, lengths)``."""
    n = len(keys)
    first = keys[0]
    parts: Sequence[bytes]
    if isinstance(first, str):
        try:
            joined = "\0".join(keys)
        except TypeError:
            raise TypeError("`keys` must be all str, all bytes, or integers; got a mixed sequence.") from None
        if joined.isascii() and joined.count("\0") == n - 1:
            buf = joined.encode("ascii")
            seps = np.flatnonzero(np.frombuffer(buf, dtype=np.uint8) == 0)
            ends = np.empty(n, dtype=np.int64)
            ends[:-1] = seps
            ends[-1] = len(buf)
            starts = np.empty(n, dtype=np.int64)
            starts[0] = 0
            starts[1:] = seps + 1
            return buf, np.stack([starts, ends - starts])
        parts = [k.encode("utf-8") for k in keys]
    else:
        parts = keys  # bytes
        try:
            joined_b = b"\0".join(parts)
        except TypeError:
            raise TypeError("`keys` must be all str, all bytes, or integers; got a mixed sequence.") from None
        if joined_b.count(b"\0") == n - 1:
            seps = np.flatnonzero(np.frombuffer(joined_b, dtype=np.uint8) == 0)
            ends = np.empty(n, dtype=np.int64)
            ends[:-1] = seps
            ends[-1] = len(joined_b)
            starts = np.empty(n, dtype=np.int64)
            starts[0] = 0
            starts[1:] = seps + 1
            return joined_b, np.stack([starts, ends - starts])
    lengths = np.fromiter(map(len, parts), dtype=np.int64, count=n)
    starts = np.zeros(n, dtype=np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])
    return b"".join(parts), np.stack([starts, lengths])


def _hash_strings(keys: Sequence[Any], seed: int) -> npt.NDArray[np.uint64]:
    buf, (starts, lengths) = _join_strings(keys)
    # 8 bytes of padding so an unaligned 8-byte read at any start stays inside the buffer.
    padded = buf + b"\0" * 8
    words_view = np.ndarray(shape=(len(padded) - 7,), dtype="<u8", buffer=padded, strides=(1,))
    n = starts.shape[0]
    out = np.empty(n, dtype=np.uint64)
    seedc = _seed_constant(seed)
    for lo in range(0, n, _CHUNK):
        st = starts[lo : lo + _CHUNK]
        ln = lengths[lo : lo + _CHUNK]
        nwords = int((int(ln.max()) + 7) // 8) if ln.size else 0
        h = np.zeros(st.shape[0], dtype=np.uint64)
        tmp = np.empty_like(h)
        for j in range(nwords - 1, -1, -1):
            rem = ln - 8 * j  # bytes of this key in word j (<= 0: word absent)
            active = rem > 0
            idx = np.flatnonzero(active) if not active.all() else None
            if idx is None:
                w = words_view[st + 8 * j]
                r = rem
            else:
                w = words_view[st[idx] + 8 * j]
                r = rem[idx]
            partial = r < 8
            if partial.any():
                bits = (np.minimum(r[partial], 8) * 8).astype(np.uint64)
                w[partial] &= (np.uint64(1) << bits) - np.uint64(1)
            if idx is None:
                np.bitwise_xor(h, w, out=h)
                np.multiply(h, _CW, out=h)
                np.right_shift(h, _S32, out=tmp)
                np.bitwise_xor(h, tmp, out=h)
            else:
                x = (h[idx] ^ w) * _CW
                h[idx] = x ^ (x >> _S32)
        np.bitwise_xor(h, seedc, out=h)
        np.bitwise_xor(h, ln.astype(np.uint64) * _CL, out=h)
        out[lo : lo + _CHUNK] = fmix64(h, out=h)
    return out


def as_key_array(keys: Any) -> npt.NDArray[np.uint64] | list[Any]:
    """Validate ``keys``: return a ``uint64`` array for integer keys, else the str/bytes list."""
    if isinstance(keys, (str, bytes)):
        raise TypeError(f"`keys` must be a sequence of keys, not a single {type(keys).__name__}; wrap it in a list.")
    if isinstance(keys, np.ndarray):
        if keys.ndim != 1:
            raise ValueError(f"`keys` must be one-dimensional; got shape {keys.shape}.")
        if keys.dtype.kind in "iu":
            return keys.astype(np.uint64, copy=False)
        if keys.dtype.kind in "SUO":
            return keys.tolist()
        raise TypeError(f"`keys` must hold integers, str or bytes; got dtype {keys.dtype}.")
    if not isinstance(keys, Sequence):
        try:
            keys = list(keys)
        except TypeError:
            raise TypeError(f"`keys` must be a sequence of int, str or bytes; got {type(keys).__name__}.") from None
    if len(keys) == 0:
        return np.empty(0, dtype=np.uint64)
    first = keys[0]
    if isinstance(first, (str, bytes)):
        return keys if isinstance(keys, list) else list(keys)
    if isinstance(first, (int, np.integer)) and not isinstance(first, bool):
        try:
            return np.array([int(k) & _M64 for k in keys], dtype=np.uint64)
        except TypeError:
            raise TypeError("`keys` must be all str, all bytes, or integers; got a mixed sequence.") from None
    raise TypeError(f"`keys` must hold integers, str or bytes; got {type(first).__name__}.")


def hash_keys(keys: KeyLike, seed: int = 0) -> npt.NDArray[np.uint64]:
    """Hash keys to stable 64-bit integers, vectorized.

    Parameters
    ----------
    keys : numpy integer array, or sequence of str / bytes / int
        The keys. ``str`` keys are hashed as their UTF-8 bytes.
    seed : int, default 0
        Selects an independent hash function (used for Maglev's offset/skip, probes...).

    Returns
    -------
    numpy.ndarray of uint64
        One hash per key.

    Raises
    ------
    TypeError
        If keys are of an unsupported type or mixed.

    Notes
    -----
    See the module docstring for the exact definition; :func:`hash_bytes_scalar` is the
    single-key reference for string keys, and for integers
    ``hash_keys([k]) == fmix64(k mod 2**64 + seed_constant)``.

    Examples
    --------
    >>> import numpy as np
    >>> h = hash_keys(np.arange(3))
    >>> h.dtype, len(set(h.tolist()))
    (dtype('uint64'), 3)
    >>> int(hash_keys(["a"])[0]) == int(hash_keys([b"a"])[0])
    True
    """
    arr = as_key_array(keys)
    if isinstance(arr, np.ndarray):
        return _hash_uint64(arr, seed)
    return _hash_strings(arr, seed)


def md5_digests(keys: KeyLike) -> npt.NDArray[np.uint8]:
    """MD5 digests of ``str(key)`` (UTF-8), one row of 16 bytes per key.

    This is the key hash of libketama-style clients and of ``uhashring``; it is used only by the
    ring's compatibility modes.

    Parameters
    ----------
    keys : numpy integer array, or sequence of str / bytes / int
        The keys; each is rendered with ``str()`` exactly as those libraries do
        (so ``b"a"`` is hashed as the text ``"b'a'"``).

    Returns
    -------
    numpy.ndarray of uint8, shape (len(keys), 16)
    """
    if isinstance(keys, np.ndarray):
        items = keys.tolist()
    else:
        as_key_array(keys)  # validation only
        items = keys
    md5 = hashlib.md5
    data = b"".join([md5(str(k).encode("utf-8")).digest() for k in items])
    return np.frombuffer(data, dtype=np.uint8).reshape(-1, 16)

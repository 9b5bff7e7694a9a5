"""The interface shared by every placement algorithm.

Theory of operation
-------------------
A placement algorithm is an immutable object built from node names (and weights where the
algorithm supports them). ``assign(keys)`` hashes the keys with
:func:`~consensuslab.hashing.keys.hash_keys` (or the MD5 scheme of a compatibility mode) and
returns, for each key, the index of its node in :attr:`PlacementAlgorithm.nodes`.
``assign(keys, replicas=k)`` returns a ``(len(keys), k)`` preference list of *distinct* nodes,
primary first. ``with_node``/``without_node`` return new objects; nothing mutates in place, so
an old and a new configuration can be compared key for key (see
:func:`consensuslab.hashing.movement`).

:func:`first_distinct` is the vectorized "walk forward, skip nodes already taken" loop used by
the ring, Maglev and multi-probe preference lists: every row advances one step per iteration and
rows that have collected ``k`` distinct nodes drop out of the active set.
"""

from __future__ import annotations

import math
import numbers
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from consensuslab._validate import check_float, check_int, describe
from consensuslab.hashing.keys import KeyLike, hash_keys

__all__ = ["PlacementAlgorithm", "check_nodes", "check_weights", "first_distinct"]

IntArray = npt.NDArray[np.intp]


def check_nodes(nodes: Any) -> tuple[str, ...]:
    """Validate node names: a non-empty sequence of distinct, non-empty ``str``."""
    if isinstance(nodes, (str, bytes)) or not isinstance(nodes, (Sequence, np.ndarray)):
        raise TypeError(f"`nodes` must be a sequence of node names (str); got {describe(nodes)}.")
    names = tuple(nodes)
    if len(names) == 0:
        raise ValueError("`nodes` must hold at least one node name; got an empty sequence.")
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"`nodes` must hold str node names; got {describe(name)}.")
        if name == "":
            raise ValueError("`nodes` must not contain an empty node name; got ''.")
    if len(set(names)) != len(names):
        dups = sorted(n for n, count in Counter(names).items() if count > 1)
        raise ValueError(f"`nodes` must be distinct; got duplicate name(s) {dups}.")
    return names


def check_weights(weights: Any, names: tuple[str, ...]) -> tuple[float, ...]:
    """Validate weights (sequence aligned with ``names`` or a name->weight mapping; finite, > 0)."""
    if weights is None:
        return (1.0,) * len(names)
    if isinstance(weights, Mapping):
        unknown = sorted(set(weights) - set(names))
        if unknown:
            raise ValueError(f"`weights` names unknown node(s) {unknown}.")
        weights = [weights.get(n, 1.0) for n in names]
    if isinstance(weights, (str, bytes)) or not isinstance(weights, (Sequence, np.ndarray)):
        raise TypeError(f"`weights` must be a sequence of numbers or a mapping; got {describe(weights)}.")
    if len(weights) != len(names):
        raise ValueError(f"`weights` must have one entry per node ({len(names)}); got {len(weights)}.")
    out: list[float] = []
    for w in weights:
        if isinstance(w, bool) or not isinstance(w, numbers.Real):
            raise TypeError(f"`weights` must hold numbers > 0; got {describe(w)}.")
        if not math.isfinite(float(w)) or float(w) <= 0:
            raise ValueError(f"`weights` must hold finite numbers > 0; got {float(w)}.")
        out.append(cast(float, w))  # kept as given (an int weight stays an int)
    return tuple(out)


def first_distinct(
    candidate: Callable[[IntArray, int], npt.NDArray[np.integer[Any]]],
    n_rows: int,
    k: int,
    max_steps: int,
) -> IntArray:
    """For each row, the first ``k`` distinct values of a candidate sequence.

    Parameters
    ----------
    candidate : callable ``(rows, step) -> values``
        Value (node index) at position ``step`` of each row's sequence, for the given rows.
    n_rows : int
        Number of rows.
    k : int
        Distinct values wanted per row.
    max_steps : int
        Length of each row's sequence; a row that has fewer than ``k`` distinct values by then
        raises ``RuntimeError`` (an internal invariant: callers pass sequences that contain
        every node).

    Returns
    -------
    numpy.ndarray, shape (n_rows, k)
        Distinct values per row, in order of first appearance.
    """
    out = np.full((n_rows, k), -1, dtype=np.intp)
    count = np.zeros(n_rows, dtype=np.intp)
    rows = np.arange(n_rows, dtype=np.intp)
    for step in range(max_steps):
        if rows.size == 0:
            break
        vals = candidate(rows, step)
        if step == 0:
            out[rows, 0] = vals
            count[rows] = 1
        else:
            seen = (out[rows] == vals[:, None]).any(axis=1)
            new = ~seen
            r = rows[new]
            out[r, count[r]] = vals[new]
            count[r] += 1
        rows = rows[count[rows] < k]
    if rows.size:
        raise RuntimeError("internal error: a preference walk ended before finding k distinct nodes")
    return out


class PlacementAlgorithm:
    """Base class: immutable nodes/weights, key hashing and the ``assign`` dispatch."""

    #: lowercase name used by :func:`consensuslab.hashing.make`
    name: str = ""
    supports_weights: bool = False

    nodes: tuple[str, ...]
    weights: tuple[float, ...]
    #: derived lookup tables, built on first use (e.g. the ring's preference tables)
    _cache: dict[Any, Any]

    def __init__(self, nodes: Sequence[str], weights: Sequence[float] | Mapping[str, float] | None = None) -> None:
        names = check_nodes(nodes)
        if weights is not None and not self.supports_weights:
            ws = check_weights(weights, names)
            if len(set(ws)) > 1:
                raise ValueError(f"`weights` are not supported by {type(self).__name__}; got {list(ws)}.")
        object.__setattr__(self, "nodes", names)
        object.__setattr__(self, "weights", check_weights(weights, names))
        object.__setattr__(self, "_cache", {})

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable; use with_node()/without_node().")

    def _set(self, key: str, value: Any) -> None:
        object.__setattr__(self, key, value)

    # -- construction of modified copies -------------------------------------------------
    def _options(self) -> dict[str, Any]:
        """Constructor keyword arguments other than nodes/weights."""
        return {}

    def _rebuild(self, nodes: Sequence[str], weights: Sequence[float]) -> PlacementAlgorithm:
        if self.supports_weights:
            return type(self)(nodes, weights=weights, **self._options())
        return type(self)(nodes, **self._options())

    def with_node(self, name: str, weight: float = 1.0) -> PlacementAlgorithm:
        """A new object with node ``name`` (weight ``weight``) appended.

        Raises
        ------
        ValueError
            If ``name`` is already a node, or ``weight`` is not finite and > 0.
        """
        if not isinstance(name, str):
            raise TypeError(f"`name` must be a str; got {describe(name)}.")
        if name in self.nodes:
            raise ValueError(f"`name` must be a new node; {name!r} is already in `nodes`.")
        weight = check_float("weight", weight, 0.0, low_open=True)
        if not self.supports_weights and weight != 1.0:
            raise ValueError(f"`weight` is not supported by {type(self).__name__}; got {weight}.")
        return self._rebuild(self.nodes + (name,), self.weights + (weight,))

    def without_node(self, name: str) -> PlacementAlgorithm:
        """A new object without node ``name`` (the others keep their relative order).

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
        return self._rebuild(self.nodes[:i] + self.nodes[i + 1 :], self.weights[:i] + self.weights[i + 1 :])

    # -- placement ------------------------------------------------------------------------
    def hash(self, keys: KeyLike) -> npt.NDArray[np.uint64]:
        """The 64-bit key hashes this algorithm places (see :mod:`consensuslab.hashing.keys`)."""
        return hash_keys(keys)

    def assign(self, keys: KeyLike, replicas: int | None = None) -> npt.NDArray[np.intp]:
        """Place keys on nodes.

        Parameters
        ----------
        keys : numpy integer array, or sequence of str / bytes / int
            The keys to place.
        replicas : int, optional
            If given, return each key's preference list of ``replicas`` distinct nodes
            (1 <= replicas <= number of nodes), primary first.

        Returns
        -------
        numpy.ndarray of int
            Shape ``(len(keys),)`` node indices into :attr:`nodes`, or
            ``(len(keys), replicas)`` if ``replicas`` is given.

        Raises
        ------
        ValueError
            If ``replicas`` is out of range.
        TypeError
            If keys are of an unsupported type.
        """
        if replicas is not None:
            replicas = check_int("replicas", replicas, 1, len(self.nodes))
        h = self.hash(keys)
        if replicas is None:
            return self._assign(h)
        if h.shape[0] == 0:
            return np.empty((0, replicas), dtype=np.intp)
        return self._assign_replicas(h, replicas)

    def _assign(self, h: npt.NDArray[np.uint64]) -> npt.NDArray[np.intp]:
        raise NotImplementedError

    def _assign_replicas(self, h: npt.NDArray[np.uint64], k: int) -> npt.NDArray[np.intp]:
        raise NotImplementedError

    def node_names(self, indices: npt.ArrayLike) -> npt.NDArray[np.object_]:
        """Map node indices (as returned by :meth:`assign`) to node names."""
        return np.asarray(self.nodes, dtype=object)[np.asarray(indices)]

    def memory_bytes(self) -> int:
        """Bytes of lookup state held by this object (numpy arrays only)."""
        return 0

    def __len__(self) -> int:
        return len(self.nodes)

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self._options().items())
        shown = list(self.nodes[:4]) + (["..."] if len(self.nodes) > 4 else [])
        return f"{type(self).__name__}({shown}{', ' + opts if opts else ''})"

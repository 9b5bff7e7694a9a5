"""Canonical encodings and fingerprints of model states.

Theory of operation
-------------------
The explorer keeps a visited set of *fingerprints*: two states with the same fingerprint are the
same state, and only the first one reached is expanded. A fingerprint must therefore be a
function of the state's *value*, never of object identity, insertion order or the process it
runs in. :func:`canonical` turns a value into a nested tuple of primitives (``None``, ``bool``,
``int``, ``float``, ``str``, ``bytes``) by these rules:

* primitives stand for themselves; lists and tuples become tuples of their encoded items;
* dicts become ``("dict", ((k, v), ...))`` sorted by the encoded key, sets ``("set", (...))``
  sorted likewise, so insertion order never matters;
* dataclasses, named tuples and plain objects become ``(type name, encoded fields)``; an object
  may instead provide ``explore_state()`` returning the value to encode (that is the hook for a
  node whose fields hold something that is not state);
* a reference back to an object being encoded (a component holding its host node) becomes
  ``("cycle", depth)``; enums their type and value; numpy arrays their dtype, shape and bytes.

Anything else — a random generator, a function, a socket — has no canonical value and raises
:class:`FingerprintError` naming the field that holds it. :func:`fingerprint` hashes the
``repr`` of the encoding with BLAKE2b (16 bytes): ``repr`` of primitives is exact and the same
in every process (``hash()`` of a string is salted per process; pickle's output depends on
object sharing), so fingerprints are reproducible.

What a node must provide
------------------------
:func:`node_state` encodes a sans-I/O node (:class:`consensuslab.node.Node`): every attribute in
``vars(node)`` except the ones the driver owns — ``id``, ``peers``, ``rng``, ``now``, ``out`` and
``stable`` (the explorer fingerprints persisted state separately, since it outlives the node) —
so ghost fields (``ghost_*``, verification history) are part of the state, as they must be for
a monitor's verdict to be a function of the state. A node whose fields hold something without a
canonical value defines ``explore_state()``. Its random stream must influence only timer delays,
which the explorer ignores: timers fire in every order it can.

Speed
-----
Encoding is most of a search's cost after copying nodes, and most of what it encodes has been
encoded before: a protocol's messages, log entries and configurations are frozen dataclasses
that successive states share. So the encoding of a *deeply* immutable value (a frozen dataclass
or enum made only of primitives, tuples, frozensets and such values) is remembered by object
identity, holding the object so that its ``id`` cannot be reused. A frozen dataclass holding a
list is not deeply immutable and is encoded afresh every time.

Example
-------
>>> canonical({"b": [1, 2], "a": {3}})
('dict', (('a', ('set', (3,))), ('b', (1, 2))))
>>> fingerprint({"a": 1, "b": 2}) == fingerprint({"b": 2, "a": 1})
True
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any

import numpy as np

__all__ = ["DRIVER_FIELDS", "FingerprintError", "canonical", "fingerprint", "is_value_type", "node_state"]

#: Node attributes that belong to the driver, not to the protocol's state.
DRIVER_FIELDS = frozenset({"id", "peers", "rng", "now", "out", "stable"})

_PRIMITIVES = (type(None), bool, int, float, str, bytes)


class FingerprintError(TypeError):
    """A state holds a value with no canonical encoding; the message names the field."""


class _Unencodable(Exception):
    def __init__(self, value: Any) -> None:
        super().__init__(value)
        self.value = value


def _sorted(items: list) -> list:
    try:
        return sorted(items)
    except TypeError:  # mixed types (None beside ints, ...): order by the exact text instead
        return sorted(items, key=repr)


_FIELDS: dict[type, tuple[str, ...]] = {}

#: Encodings of deeply immutable values, by ``id``: ``id -> (value, encoding)``. Holding the
#: value keeps its ``id`` from being reused while the entry lives; the table is emptied when it
#: reaches ``_MEMO_LIMIT`` entries. A protocol's messages, log entries, ballots and
#: configurations are frozen dataclasses shared between states, so most of a node's encoding
#: is a lookup (module docstring, "Speed").
_MEMO: dict[int, tuple[Any, Any]] = {}
_MEMO_LIMIT = 200_000
_VALUE_TYPES: dict[type, bool] = {}


def is_value_type(t: type) -> bool:
    """Instances of ``t`` are values that nothing mutates, by declaration: frozen dataclasses
    and enums (the protocols' messages, ballots, log entries and configurations)."""
    verdict = _VALUE_TYPES.get(t)
    if verdict is None:
        params = getattr(t, "__dataclass_params__", None)
        verdict = _VALUE_TYPES[t] = bool(params is not None and params.frozen) or issubclass(t, enum.Enum)
    return verdict


def _deeply_immutable(value: Any) -> bool:
    """``value`` can never change: primitives, and tuples, frozensets, enums and frozen
    dataclasses made of such (a frozen dataclass may still hold a list: that one is not)."""
    t = type(value)
    if t in _PRIMITIVES:
        return True
    if t is tuple or t is frozenset:
        return all(_deeply_immutable(v) for v in value)
    if not is_value_type(t):
        return False
    if isinstance(value, enum.Enum):
        return True
    hit = _MEMO.get(id(value))
    if hit is not None and hit[0] is value:
        return True
    return all(_deeply_immutable(getattr(value, f)) for f in _fields_of(value) or ())


def _fields_of(value: Any) -> tuple[str, ...] | None:
    """The field names of a dataclass or named tuple; ``None`` for anything else."""
    t = type(value)
    fields = _FIELDS.get(t)
    if fields is None:
        if dataclasses.is_dataclass(value):
            fields = tuple(f.name for f in dataclasses.fields(value))
        elif isinstance(value, tuple) and hasattr(t, "_fields"):
            fields = t._fields
        else:
            return None
        _FIELDS[t] = fields
    return fields


def _encode(value: Any, stack: list) -> Any:
    t = type(value)
    if t in _PRIMITIVES:
        return value
    # primitives are tested inline below: most items are, and a call per item is most of the cost
    if t is tuple or t is list:
        return tuple([v if type(v) in _PRIMITIVES else _encode(v, stack) for v in value])
    if t is dict:
        return ("dict", tuple(_sorted([(k if type(k) in _PRIMITIVES else _encode(k, stack),
                                        v if type(v) in _PRIMITIVES else _encode(v, stack))
                                       for k, v in value.items()])))
    if t is frozenset or t is set:
        return ("set", tuple(_sorted([v if type(v) in _PRIMITIVES else _encode(v, stack) for v in value])))
    if is_value_type(t):
        hit = _MEMO.get(id(value))
        if hit is not None and hit[0] is value:
            return hit[1]
        encoded = _encode_object(value, t, stack)
        if _deeply_immutable(value):
            if len(_MEMO) >= _MEMO_LIMIT:
                _MEMO.clear()
            _MEMO[id(value)] = (value, encoded)
        return encoded
    return _encode_object(value, t, stack)


def _encode_object(value: Any, t: type, stack: list) -> Any:
    for depth, outer in enumerate(reversed(stack)):
        if outer is value:
            return ("cycle", depth)
    stack.append(value)
    try:
        hook = getattr(value, "explore_state", None)
        if hook is not None and callable(hook):
            return (t.__qualname__, _encode(hook(), stack))
        fields = _fields_of(value)
        if fields is not None:
            return (t.__qualname__, tuple([_encode(getattr(value, f), stack) for f in fields]))
        if isinstance(value, enum.Enum):
            return (t.__qualname__, _encode(value.value, stack))
        if isinstance(value, (bool, int, float, str, bytes)):  # subclasses of primitives
            return (t.__qualname__, t.__mro__[-2](value))
        if isinstance(value, Mapping):
            return ("dict", tuple(_sorted([(_encode(k, stack), _encode(v, stack)) for k, v in value.items()])))
        if isinstance(value, AbstractSet):
            return ("set", tuple(_sorted([_encode(v, stack) for v in value])))
        if isinstance(value, Sequence):  # deques, named sequences
            return tuple([_encode(v, stack) for v in value])
        if isinstance(value, np.ndarray) and value.dtype != object:
            return ("ndarray", str(value.dtype), value.shape, value.tobytes())
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, (np.random.Generator, np.random.BitGenerator)) or callable(value):
            raise _Unencodable(value)
        attrs = getattr(value, "__dict__", None)
        if attrs is None:
            slots = [s for k in t.__mro__ for s in getattr(k, "__slots__", ()) if hasattr(value, s)]
            if not slots:
                raise _Unencodable(value)
            attrs = {s: getattr(value, s) for s in slots}
        return (t.__qualname__, _encode(attrs, stack))
    finally:
        stack.pop()


def _locate(value: Any, where: str, bad: Any, seen: set[int]) -> str | None:
    """The path of the first field holding ``bad`` (for the error message)."""
    if value is bad:
        return where
    if type(value) in _PRIMITIVES or id(value) in seen:
        return None
    seen.add(id(value))
    if isinstance(value, Mapping):
        children: Any = ((f"{where}[{k!r}]", v) for k, v in value.items())
    elif isinstance(value, (tuple, list, AbstractSet)):
        children = ((f"{where}[{i}]", v) for i, v in enumerate(value))
    elif hasattr(value, "__dict__"):
        children = ((f"{where}.{k}", v) for k, v in vars(value).items())
    else:
        return None
    for path, child in children:
        found = _locate(child, path, bad, seen)
        if found is not None:
            return found
    return None


def canonical(value: Any, name: str = "state") -> Any:
    """``value`` as nested tuples of primitives (see the module docstring).

    Raises
    ------
    FingerprintError
        If part of ``value`` has no canonical encoding; the message names the field, starting
        from ``name``.
    """
    try:
        return _encode(value, [])
    except _Unencodable as exc:
        where = _locate(value, name, exc.value, set()) or name
        kind = f"{type(exc.value).__module__}.{type(exc.value).__qualname__}"
        raise FingerprintError(
            f"cannot fingerprint {where}: a {kind} has no canonical value. Keep only data in "
            f"state fields, or give the object an explore_state() method that returns its state."
        ) from None


def fingerprint(value: Any, name: str = "state") -> bytes:
    """A 16-byte BLAKE2b digest of ``repr(canonical(value))``, the same in every process."""
    return hashlib.blake2b(repr(canonical(value, name)).encode(), digest_size=16).digest()


def node_state(node: Any) -> Any:
    """The canonical encoding of a sans-I/O node's protocol state (see "What a node must provide")."""
    name = type(node).__name__
    hook = getattr(node, "explore_state", None)
    if hook is not None and callable(hook):
        return (name, canonical(hook(), f"{name}.explore_state()"))
    fields = {k: v for k, v in vars(node).items() if k not in DRIVER_FIELDS}
    try:
        return (name, _encode(fields, [node]))
    except _Unencodable as exc:
        seen: set[int] = {id(node)}
        where = next((w for k, v in fields.items() if (w := _locate(v, f"{name}.{k}", exc.value, seen))), name)
        kind = f"{type(exc.value).__module__}.{type(exc.value).__qualname__}"
        raise FingerprintError(
            f"cannot fingerprint node {getattr(node, 'id', '?')}'s field {where}: a {kind} has no "
            f"canonical value. Keep only data in node fields, or define {name}.explore_state()."
        ) from None

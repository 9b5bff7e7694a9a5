"""The wire format of live clusters: protocol messages as versioned, validated JSON datagrams.

Theory of operation
-------------------
Every message a sans-I/O node sends is a small frozen dataclass (or a tuple, number, string…)
from :mod:`consensuslab.protocols`. :func:`encode` turns one into JSON text, tagging what JSON
cannot say itself::

    tuple          {"T": [...]}                     (JSON arrays decode as lists)
    dict           {"D": [[key, value], ...]}       (keys need not be strings)
    set/frozenset  {"S": [...]}
    dataclass      {"C": "ClassName", "f": [field values in declaration order]}
    NamedTuple     {"C": "ClassName", "f": [...]}   (e.g. Paxos's Ballot)
    enum member    {"E": "ClassName", "v": value}
    float inf/nan  "Infinity" / "NaN" (Python's json extension; VeSTA's empty stamp is -inf)

A datagram is an *envelope* ``{"v": WIRE_VERSION, "k": kind, ...}`` with ``kind`` one of
``"msg"`` (node to node: ``src``, ``m``), ``"req"`` (client request: ``m``), ``"rep"`` (reply:
``m``), ``"status"`` / ``"status-reply"`` (the runtime's own status query, no protocol involved) and
``"ctl"`` (set the runtime's fault filter: ``spec``).

:func:`decode` is the only way in, and it trusts nothing: text that is not UTF-8 JSON, a version
other than :data:`WIRE_VERSION`, an unknown kind, a class that is not a registered protocol type
(:func:`registry`), a field count that does not match, or a field whose declared type is a plain
``int``/``float``/``str``/``bool`` holding something else raises :class:`WireError`. The runtime
counts those and drops the datagram; a node never sees them. Semantically odd but well-typed
content (a negative term) is the protocol's business, as in the simulator: the fault model is
crash-stop/recover, not Byzantine.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import json
import math
import typing
from collections.abc import Callable
from functools import lru_cache
from typing import Any

__all__ = ["WIRE_VERSION", "MAX_DATAGRAM", "WireError", "encode", "decode", "envelope", "open_envelope", "registry"]

#: Bumped whenever the encoding or a message class changes incompatibly.
WIRE_VERSION = 1
#: Largest UDP payload on loopback (65,535 - 8 UDP - 20 IP bytes); larger messages are refused.
MAX_DATAGRAM = 65_507
#: Modules whose dataclasses, NamedTuples and enums may travel.
PROTOCOL_MODULES = (
    "consensuslab.protocols.kv",
    "consensuslab.protocols.raft_messages",
    "consensuslab.protocols.paxos",
    "consensuslab.protocols.multipaxos",
    "consensuslab.protocols.vesta",
)
KINDS = ("msg", "req", "rep", "status", "status-reply", "ctl")


class WireError(ValueError):
    """A datagram that is not a valid message of this wire version (it is dropped and counted)."""


@lru_cache(maxsize=1)
def registry() -> dict[str, type]:
    """Class name -> class, for every message-like type the protocol modules define."""
    out: dict[str, type] = {}
    for name in PROTOCOL_MODULES:
        module = importlib.import_module(name)
        for attr, obj in vars(module).items():
            if not isinstance(obj, type) or obj.__module__ != name:
                continue
            if attr.startswith("_") or attr.endswith("Config"):
                continue  # configurations and private records never travel
            frozen = dataclasses.is_dataclass(obj) and obj.__dataclass_params__.frozen  # type: ignore[attr-defined]
            if frozen or _is_namedtuple(obj) or issubclass(obj, enum.Enum):
                if attr in out and out[attr] is not obj:
                    # two protocols define e.g. "Prepare": qualify by module
                    out[f"{name.rsplit('.', 1)[1]}.{attr}"] = obj
                    continue
                out[attr] = obj
    return out


@lru_cache(maxsize=None)
def _name_of(cls: type) -> str:
    reg = registry()
    short = cls.__name__
    if reg.get(short) is cls:
        return short
    qualified = f"{cls.__module__.rsplit('.', 1)[1]}.{short}"
    if reg.get(qualified) is cls:
        return qualified
    raise WireError(f"type {cls.__module__}.{short} is not a registered protocol type")


def _is_namedtuple(cls: type) -> bool:
    return issubclass(cls, tuple) and hasattr(cls, "_fields")


def _to_json(x: Any) -> Any:
    if x is None or isinstance(x, (bool, int, str)):
        return x
    if isinstance(x, float):
        return x
    if isinstance(x, enum.Enum):
        return {"E": _name_of(type(x)), "v": x.value}
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return {"C": _name_of(type(x)), "f": [_to_json(getattr(x, f.name)) for f in dataclasses.fields(x)]}
    if isinstance(x, tuple):
        if _is_namedtuple(type(x)):
            return {"C": _name_of(type(x)), "f": [_to_json(v) for v in x]}
        return {"T": [_to_json(v) for v in x]}
    if isinstance(x, list):
        return [_to_json(v) for v in x]
    if isinstance(x, dict):
        return {"D": [[_to_json(k), _to_json(v)] for k, v in x.items()]}
    if isinstance(x, (set, frozenset)):
        return {"S": [_to_json(v) for v in sorted(x, key=repr)]}
    raise WireError(f"cannot encode a {type(x).__name__}")


_PLAIN: dict[Any, type | tuple[type, ...]] = {int: int, str: str, bool: bool, float: (int, float)}


@lru_cache(maxsize=None)
def _field_checks(cls: type) -> tuple[Callable[[Any], bool] | None, ...]:
    """Per field, a check of its declared plain type (None where the type is richer)."""
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # an annotation that does not resolve: check field counts only
        hints = {}
    names = [f.name for f in dataclasses.fields(cls)] if dataclasses.is_dataclass(cls) else list(getattr(cls, "_fields"))
    checks: list[Callable[[Any], bool] | None] = []
    for name in names:
        want = _PLAIN.get(hints.get(name))
        if want is None:
            checks.append(None)
        elif want is int:
            checks.append(lambda v: isinstance(v, int) and not isinstance(v, bool))
        else:
            checks.append(lambda v, w=want: isinstance(v, w))  # type: ignore[misc]
    return tuple(checks)


def _from_json(x: Any, depth: int = 0) -> Any:
    if depth > 64:
        raise WireError("message nested too deeply")
    if x is None or isinstance(x, (bool, int, str, float)):
        return x
    if isinstance(x, list):
        return [_from_json(v, depth + 1) for v in x]
    if not isinstance(x, dict):
        raise WireError(f"unexpected JSON value {type(x).__name__}")
    if set(x) == {"T"} and isinstance(x["T"], list):
        return tuple(_from_json(v, depth + 1) for v in x["T"])
    if set(x) == {"S"} and isinstance(x["S"], list):
        return frozenset(_from_json(v, depth + 1) for v in x["S"])
    if set(x) == {"D"} and isinstance(x["D"], list):
        out = {}
        for pair in x["D"]:
            if not (isinstance(pair, list) and len(pair) == 2):
                raise WireError("a dict entry must be a [key, value] pair")
            out[_from_json(pair[0], depth + 1)] = _from_json(pair[1], depth + 1)
        return out
    if set(x) == {"E", "v"}:
        cls = registry().get(x["E"]) if isinstance(x["E"], str) else None
        if cls is None or not issubclass(cls, enum.Enum):
            raise WireError(f"unknown enum {x['E']!r}")
        try:
            return cls(x["v"])
        except ValueError as exc:
            raise WireError(str(exc)) from None
    if set(x) == {"C", "f"} and isinstance(x["f"], list):
        cls = registry().get(x["C"]) if isinstance(x["C"], str) else None
        if cls is None or issubclass(cls, enum.Enum):
            raise WireError(f"unknown message class {x['C']!r}")
        values = [_from_json(v, depth + 1) for v in x["f"]]
        checks = _field_checks(cls)  # type: ignore[arg-type]  # a registered class is hashable
        if len(values) != len(checks):
            raise WireError(f"{x['C']} has {len(checks)} fields; got {len(values)}")
        for i, (check, v) in enumerate(zip(checks, values)):
            if check is not None and not check(v):
                raise WireError(f"{x['C']} field {i} has the wrong type ({type(v).__name__})")
        try:
            return cls(*values)
        except Exception as exc:  # a class whose __post_init__ validates
            raise WireError(f"{x['C']}: {exc}") from None
    raise WireError(f"unexpected object with keys {sorted(map(str, x))[:5]}")


def encode(msg: Any) -> Any:
    """A message as JSON-ready data (see the module docstring)."""
    return _to_json(msg)


def decode(data: Any) -> Any:
    """Inverse of :func:`encode`; raises :class:`WireError` on anything it does not recognise."""
    return _from_json(data)


def envelope(kind: str, **fields: Any) -> bytes:
    """A datagram: ``{"v": WIRE_VERSION, "k": kind, **fields}`` with ``m`` encoded; UTF-8 JSON."""
    if kind not in KINDS:
        raise WireError(f"unknown envelope kind {kind!r}")
    body = {"v": WIRE_VERSION, "k": kind}
    for key, value in fields.items():
        body[key] = encode(value) if key == "m" else value
    data = json.dumps(body, separators=(",", ":"), allow_nan=True).encode()
    if len(data) > MAX_DATAGRAM:
        raise WireError(f"a {kind} datagram of {len(data)} bytes exceeds {MAX_DATAGRAM}")
    return data


def open_envelope(data: bytes) -> tuple[str, dict[str, Any]]:
    """``(kind, fields)`` of a datagram, with ``m`` decoded; raises :class:`WireError`."""
    try:
        body = json.loads(data.decode("utf-8"), parse_constant=_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise WireError(f"not UTF-8 JSON: {exc}") from None
    if not isinstance(body, dict):
        raise WireError("a datagram must be a JSON object")
    if body.get("v") != WIRE_VERSION:
        raise WireError(f"wire version {body.get('v')!r}; this runtime speaks {WIRE_VERSION}")
    kind = body.get("k")
    if kind not in KINDS:
        raise WireError(f"unknown envelope kind {kind!r}")
    if "m" in body:
        body["m"] = decode(body["m"])
    return kind, body


def _constant(name: str) -> float:
    return {"Infinity": math.inf, "-Infinity": -math.inf, "NaN": math.nan}[name]

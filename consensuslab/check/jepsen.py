"""Loaders for Jepsen-style histories (``:invoke`` / ``:ok`` / ``:fail`` / ``:info`` events).

Theory of operation
-------------------
Jepsen records a history as a list of events. Each client *process* invokes one operation at a
time: an ``:invoke`` event is completed by the next ``:ok`` (it happened, with this value),
``:fail`` (it did not happen) or ``:info`` (unknown: it timed out; Jepsen then retires the
process id) event of the same process. An invocation that is never completed is also unknown.
The position of an event in the log is its time.

:func:`from_events` turns such events into :class:`~consensuslab.check.Operation` s;
:func:`load_jepsen_etcd` and :func:`load_porcupine_kv` parse the two text formats of
Porcupine's test data (see ``../shared/reference/porcupine/FORMAT.md``):

* etcd logs (a single register): ``:read`` returns a value or ``nil`` (absent, ``None``);
  ``:write v``; ``:cas [from to]``. A ``:cas`` that returns ``:fail`` *happened* and observed
  a value other than ``from`` (output ``False``); a ``:fail``/``:info`` read constrains
  nothing. Check them with ``model="cas-register"``.
* kv logs (one EDN map per line, ``:get``/``:put``/``:append`` on string keys): a ``:get``
  reading ``""`` read an absent key and is converted to ``None``; check them with
  ``model="kv"``.

References
----------
Kingsbury, K. Jepsen: ``jepsen.history`` event model (``:invoke``, ``:ok``, ``:fail``,
``:info``). Athalye, A. Porcupine, ``porcupine_test.go`` (the parsers of the same files).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from consensuslab._validate import check_choice
from consensuslab.check.history import UNKNOWN, Operation
from consensuslab.check.models import KVInput, RegisterInput

__all__ = ["from_events", "load_jepsen_etcd", "load_porcupine_kv", "parse_edn_value"]

_TYPES = ("invoke", "ok", "fail", "info")


def from_events(
    events: Iterable[Mapping[str, Any]],
    convert: Callable[[Mapping[str, Any], Mapping[str, Any] | None], tuple[Any, Any] | None],
    *,
    fail: str = "drop",
) -> list[Operation]:
    """Pair Jepsen events into operations.

    Parameters
    ----------
    events : iterable of mapping
        Each with ``process`` and ``type`` (``"invoke"``, ``"ok"``, ``"fail"`` or ``"info"``)
        and whatever ``convert`` reads (``f``, ``value``, ``key``...). An optional ``time``
        gives the event's time; otherwise its position is used.
    convert : callable
        ``convert(invoke_event, completion_event_or_None) -> (input, output)``, or ``None`` to
        leave the operation out. The completion is ``None`` for an unknown outcome; an output
        of :data:`~consensuslab.check.models.UNKNOWN` turns a completed operation into one with
        an unknown outcome (e.g. a timed-out read reported as ``:fail``).
    fail : {"drop", "keep"}
        ``"drop"`` (Jepsen's meaning: a failed operation did not happen) or ``"keep"`` (record
        it as completed; ``convert`` decides what a failure observed).

    Returns
    -------
    list of Operation
        In invocation order; ``ret=None`` for ``:info`` and never-completed invocations.

    Raises
    ------
    ValueError
        For an event of unknown type, or a completion without an invocation.
    """
    check_choice("fail", fail, ("drop", "keep"))
    pending: dict[Any, tuple[float, Mapping[str, Any], int]] = {}
    done: list[tuple[int, Operation]] = []
    order = 0
    for pos, ev in enumerate(events):
        kind = str(ev["type"]).lstrip(":")
        if kind not in _TYPES:
            raise ValueError(f"`events[{pos}].type` must be one of {list(_TYPES)}; got {ev['type']!r}.")
        t = float(ev.get("time", pos))
        proc = ev["process"]
        if kind == "invoke":
            if proc in pending:
                raise ValueError(f"process {proc!r} invoked at event {pos} with an operation pending.")
            pending[proc] = (t, ev, order)
            order += 1
            continue
        if proc not in pending:
            raise ValueError(f"event {pos}: a {kind!r} completion for process {proc!r} without an invocation.")
        call, inv, k = pending.pop(proc)
        if kind == "fail" and fail == "drop":
            continue
        if kind == "info":
            io = convert(inv, None)
            if io is not None:
                done.append((k, Operation(proc, call, None, io[0], None)))
            continue
        io = convert(inv, ev)
        if io is not None:
            unknown = io[1] is UNKNOWN
            done.append((k, Operation(proc, call, None if unknown else t, io[0], None if unknown else io[1])))
    for proc, (call, inv, k) in pending.items():
        io = convert(inv, None)
        if io is not None:
            done.append((k, Operation(proc, call, None, io[0], None)))
    done.sort(key=lambda x: x[0])
    return [op for _, op in done]


_ETCD_LINE = re.compile(r"jepsen\.util\s+-\s+(\S+)\s+:(\w+)\s+:(\w+)\s*(.*?)\s*$")


def _etcd_value(text: str) -> Any:
    text = text.strip()
    if text == "nil":
        return None
    if text.startswith("["):
        a, b = text.strip("[]").split()
        return (_etcd_value(a), _etcd_value(b))
    if text.startswith(":"):
        return text
    return int(text)


def _etcd_convert(inv: Mapping[str, Any], done: Mapping[str, Any] | None) -> tuple[Any, Any]:
    f = inv["f"]
    if f == "read":
        if done is None or done["type"] != "ok":
            return RegisterInput("read"), UNKNOWN  # timed out: constrains nothing
        return RegisterInput("read"), done["value"]
    if f == "write":
        return RegisterInput("write", inv["value"]), None
    if f == "cas":
        expected, new = inv["value"]
        if done is None:
            return RegisterInput("cas", new, expected), None
        return RegisterInput("cas", new, expected), done["type"] == "ok"
    raise ValueError(f"unknown etcd operation {f!r}")


def load_jepsen_etcd(path: str | os.PathLike[str]) -> list[Operation]:
    """Load one of Jepsen's etcd register logs (Porcupine's ``test_data/jepsen/etcd_NNN.log``).

    Parameters
    ----------
    path : path-like
        The log file (tab- or space-separated ``INFO jepsen.util - <process> :<type> :<f>
        <value>`` lines).

    Returns
    -------
    list of Operation
        Register operations (:class:`~consensuslab.check.models.RegisterInput`); the line
        number is the time. ``:info`` operations and timed-out reads have ``ret=None``.

    Notes
    -----
    A ``:cas`` completed with ``:fail`` happened and observed another value (output
    ``False``): the semantics under which Porcupine's expected verdicts hold.
    """
    events = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            mt = _ETCD_LINE.search(line)
            if not mt:
                continue
            proc, kind, f, value = mt.groups()
            ev: dict[str, Any] = {"process": int(proc), "type": kind, "f": f}
            ev["value"] = None if value.startswith(":timed-out") else _etcd_value(value) if value else None
            events.append(ev)

    def convert(inv: Mapping[str, Any], done: Mapping[str, Any] | None) -> tuple[Any, Any] | None:
        if done is not None and done["type"] == "fail" and inv["f"] != "cas":
            return _etcd_convert(inv, None)[0], UNKNOWN  # a timed-out read or write
        return _etcd_convert(inv, done)

    return from_events(events, convert, fail="keep")


_EDN_PAIR = re.compile(r':(\w[\w-]*)\s+("(?:[^"\\]|\\.)*"|\S+?)\s*(?:,|\})')


def parse_edn_value(text: str) -> Any:
    """Parse the small EDN scalars Jepsen writes: ``nil``, keywords, integers, strings."""
    text = text.strip()
    if text == "nil":
        return None
    if text.startswith('"'):
        return text[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    if text.startswith(":"):
        return text[1:]
    try:
        return int(text)
    except ValueError:
        return text


def load_porcupine_kv(path: str | os.PathLike[str]) -> list[Operation]:
    """Load one of Porcupine's key-value histories (``test_data/kv/cNN-ok|bad.txt``).

    Parameters
    ----------
    path : path-like
        One EDN map per line: ``{:process 0, :type :invoke, :f :get, :key "4", :value nil}``.

    Returns
    -------
    list of Operation
        With :class:`~consensuslab.check.models.KVInput` inputs; a ``:get`` that read ``""``
        (Porcupine's absent value) has output ``None``. Check with ``model="kv"``.
    """
    events = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            ev = {k: parse_edn_value(v) for k, v in _EDN_PAIR.findall(line)}
            events.append(ev)

    def convert(inv: Mapping[str, Any], done: Mapping[str, Any] | None) -> tuple[Any, Any]:
        f, key = inv["f"], inv["key"]
        if f == "get":
            out = None if done is None else done.get("value")
            return KVInput("get", key), (None if out == "" else out)
        return KVInput(f, key, inv["value"]), None

    return from_events(events, convert)


def porcupine_dir(root: str | os.PathLike[str] | None = None) -> Path:
    """The folder of Porcupine's reference histories: ``<repo>/../shared/reference/porcupine``."""
    if root is not None:
        return Path(root)
    return Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "porcupine"

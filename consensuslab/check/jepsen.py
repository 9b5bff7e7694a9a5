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
Porcupine's test data, which the repository ships in ``data/jepsen/`` (see its ``FORMAT.md``
and ``README.md``; :func:`porcupine_dir` and :func:`reference_file` find them):

* etcd logs (a single register): ``:read`` returns a value or ``nil`` (absent, ``None``);
  ``:write v``; ``:cas [from to]``. A ``:cas`` that returns ``:fail`` *happened* and observed
  a value other than ``from`` (output ``False``); a ``:fail``/``:info`` read constrains
  nothing. Check them with ``model="cas-register"``.
* kv logs (one EDN map per line, ``:get``/``:put``/``:append`` on string keys): a ``:get``
  reading ``""`` read an absent key and is converted to ``None``; check them with
  ``model="kv"``.

Parsing is strict, because a silently skipped line changes the history (a lost ``:ok`` turns a
completed operation into one with an unknown outcome):

* a file may be gzip-compressed (recognised by its magic bytes, whatever its name);
* it must be UTF-8 text whose every non-blank line is one event of the format, and whose last
  line ends with a newline (a file that does not was cut short);
* the events must pair up (no completion without an invocation, no second invocation while one
  is pending, a completion names the same operation as its invocation);
* it must hold at least one operation.

Anything else raises :class:`HistoryFormatError` (a ``ValueError``) naming the file, the line
and what was expected there. A file cut at a line boundary is a valid, shorter history: the
invocations whose completion was cut off become operations with an unknown outcome. A corrupted
value that is still well formed (a digit changed into another) cannot be detected.

References
----------
Kingsbury, K. Jepsen: ``jepsen.history`` event model (``:invoke``, ``:ok``, ``:fail``,
``:info``). Athalye, A. Porcupine, ``porcupine_test.go`` (the parsers of the same files).
"""

from __future__ import annotations

import os
import re
import zlib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from consensuslab._validate import check_choice
from consensuslab.check.history import UNKNOWN, Operation
from consensuslab.check.models import KVInput, RegisterInput

__all__ = [
    "HistoryFormatError",
    "from_events",
    "load_jepsen_etcd",
    "load_porcupine_kv",
    "parse_edn_value",
    "porcupine_dir",
    "reference_file",
]

_TYPES = ("invoke", "ok", "fail", "info")


class HistoryFormatError(ValueError):
    """A history file or event stream that does not follow its format.

    Parameters
    ----------
    where : str
        The location: ``"<file>, line <n>"``, ``"<file>"`` or ``"events[<k>]"``.
    expected : str
        What the format requires there.
    got : str
        What was found.
    path : str, optional
        The file, when there is one.
    line : int, optional
        The 1-based line number, when there is one.

    Attributes
    ----------
    where, expected, got, path, line
        As given; the message reads ``"<where>: expected <expected>; got <got>."``.
    """

    def __init__(
        self, where: str, expected: str, got: str, path: str | None = None, line: int | None = None
    ) -> None:
        self.where = where
        self.expected = expected
        self.got = got
        self.path = path
        self.line = line
        super().__init__(f"{where}: expected {expected}; got {got}.")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.where, self.expected, self.got, self.path, self.line))


def _clip(text: str, limit: int = 70) -> str:
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


# -- pairing events into operations -----------------------------------------------------------


def _pair(
    events: Iterable[Mapping[str, Any]],
    convert: Callable[[Mapping[str, Any], Mapping[str, Any] | None], tuple[Any, Any] | None],
    fail: str,
    error: Callable[[int, str, str], Exception],
) -> list[Operation]:
    """Pair invocations and completions; ``error(pos, expected, got)`` builds the exception."""
    pending: dict[Any, tuple[float, Mapping[str, Any], int, int]] = {}
    done: list[tuple[int, Operation]] = []
    order = 0
    for pos, ev in enumerate(events):
        if not isinstance(ev, Mapping):
            raise error(pos, "a mapping with 'process' and 'type'", _clip(repr(ev)))
        for key in ("type", "process"):
            if key not in ev:
                raise error(pos, f"an event with a {key!r} field", f"the fields {sorted(map(str, ev))}")
        kind = str(ev["type"]).lstrip(":")
        if kind not in _TYPES:
            raise error(pos, f"a 'type' among {list(_TYPES)}", repr(ev["type"]))
        try:
            t = float(ev.get("time", pos))
        except (TypeError, ValueError):
            raise error(pos, "a numeric 'time'", repr(ev.get("time"))) from None
        proc = ev["process"]
        try:
            hash(proc)
        except TypeError:
            raise error(pos, "a hashable 'process'", repr(proc)) from None
        if kind == "invoke":
            if proc in pending:
                raise error(
                    pos,
                    f"no new invocation by process {proc!r} while its operation is pending",
                    "a second :invoke",
                )
            pending[proc] = (t, ev, order, pos)
            order += 1
            continue
        if proc not in pending:
            raise error(
                pos, f"a completion only after an :invoke of process {proc!r}",
                f"a :{kind} completion without an invocation",
            )
        call, inv, k, _ = pending.pop(proc)
        if "f" in ev and "f" in inv and ev["f"] != inv["f"]:
            raise error(
                pos,
                f"a completion of the pending {inv['f']!r} of process {proc!r}",
                f"a completion of {ev['f']!r}",
            )
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
    for proc, (call, inv, k, _) in pending.items():
        io = convert(inv, None)
        if io is not None:
            done.append((k, Operation(proc, call, None, io[0], None)))
    done.sort(key=lambda x: x[0])
    return [op for _, op in done]


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
    HistoryFormatError
        (a ``ValueError``) naming the event, for an event that is not a mapping, lacks
        ``type`` or ``process``, has an unknown type, completes nothing, completes another
        operation than its process invoked, or invokes while an operation is pending.

    Examples
    --------
    >>> ev = [{"process": 0, "type": "invoke", "f": "write", "value": 1},
    ...       {"process": 0, "type": "ok", "f": "write", "value": 1}]
    >>> from_events(ev, lambda inv, done: (("write", inv["value"]), None))
    [Operation(client=0, call=0.0, ret=1.0, input=('write', 1), output=None)]
    """
    check_choice("fail", fail, ("drop", "keep"))

    def error(pos: int, expected: str, got: str) -> Exception:
        return HistoryFormatError(f"events[{pos}]", expected, got)

    return _pair(events, convert, fail, error)


# -- reading files --------------------------------------------------------------------------


def _gunzip(raw: bytes, name: str) -> bytes:
    """Decompress a gzip stream, reporting where a corrupt or truncated stream breaks."""
    d = zlib.decompressobj(wbits=31)
    out = bytearray()
    try:
        for i in range(0, len(raw), 1024):
            out += d.decompress(raw[i : i + 1024])
            if d.eof:
                break
        out += d.flush()
    except zlib.error as exc:
        line = out.count(b"\n") + 1
        raise HistoryFormatError(
            f"{name}, line {line}", "an intact gzip stream",
            f"corrupt compressed data after {line - 1} line(s) ({exc})", name, line,
        ) from None
    if not d.eof:
        line = out.count(b"\n") + 1
        raise HistoryFormatError(
            f"{name}, line {line}", "a complete gzip stream",
            f"a stream that ends after {line - 1} line(s) (the file was cut short)", name, line,
        )
    if d.unused_data:
        raise HistoryFormatError(
            name, "one gzip stream", f"{len(d.unused_data)} trailing byte(s) after it", name,
        )
    return bytes(out)


def _read_lines(path: str | os.PathLike[str]) -> tuple[str, list[tuple[int, str]]]:
    """``(name, [(line_number, text), ...])`` of the non-blank lines of a (gzipped) text file."""
    name = os.fspath(path)
    raw = Path(name).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = _gunzip(raw, name)
    if not raw.strip():
        raise HistoryFormatError(
            name, "at least one operation", "an empty file" if not raw else "only blank lines", name
        )
    chunks = raw.split(b"\n")
    lines: list[tuple[int, str]] = []
    for k, chunk in enumerate(chunks, start=1):
        try:
            text = chunk.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise HistoryFormatError(
                f"{name}, line {k}", "UTF-8 text",
                f"the byte 0x{chunk[exc.start]:02x} at column {exc.start + 1} (a binary file?)", name, k,
            ) from None
        if "\x00" in text:
            raise HistoryFormatError(
                f"{name}, line {k}", "UTF-8 text without NUL bytes", f"a NUL byte at column {text.index(chr(0)) + 1}", name, k
            )
        text = text.rstrip("\r")
        if text.strip():
            lines.append((k, text))
    if chunks[-1]:
        k = len(chunks)
        raise HistoryFormatError(
            f"{name}, line {k}", "a last line that ends with a newline",
            f"{_clip(chunks[-1].decode('utf-8', 'replace'))} without one (the file was cut short)", name, k,
        )
    return name, lines


def _load(
    path: str | os.PathLike[str],
    parse_line: Callable[[str], dict[str, Any]],
    convert: Callable[[Mapping[str, Any], Mapping[str, Any] | None], tuple[Any, Any] | None],
    fail: str,
) -> list[Operation]:
    name, lines = _read_lines(path)
    events: list[dict[str, Any]] = []
    for k, text in lines:
        try:
            events.append(parse_line(text))
        except _LineError as exc:
            raise HistoryFormatError(f"{name}, line {k}", exc.expected, exc.got, name, k) from None

    def error(pos: int, expected: str, got: str) -> Exception:
        k = lines[pos][0]
        return HistoryFormatError(f"{name}, line {k}", expected, got, name, k)

    ops = _pair(events, convert, fail, error)
    if not ops:
        raise HistoryFormatError(
            name, "at least one operation",
            f"{len(events)} event(s) that make none (only failed operations?)", name,
        )
    return ops


class _LineError(Exception):
    def __init__(self, expected: str, got: str) -> None:
        super().__init__(expected, got)
        self.expected = expected
        self.got = got


# -- Jepsen etcd logs ---------------------------------------------------------------------------

_ETCD_PREFIX = re.compile(r"INFO\s+jepsen\.util\s+-\s+")
_ETCD_SHAPE = "'INFO  jepsen.util - <process> :<type> :<f> <value>'"
_INT = re.compile(r"-?\d+")
_KEYWORD = re.compile(r":[A-Za-z][\w.-]*")


def _etcd_value(text: str) -> Any:
    """``nil`` -> None, an integer, ``[a b]`` -> a pair, ``:kw`` -> ``":kw"``; else _LineError."""
    text = text.strip()
    if text == "nil":
        return None
    if _INT.fullmatch(text):
        return int(text)
    if _KEYWORD.fullmatch(text):
        return text
    if text.startswith("[") and text.endswith("]"):
        items = text[1:-1].split()
        if len(items) == 2 and all(i == "nil" or _INT.fullmatch(i) for i in items):
            return tuple(None if i == "nil" else int(i) for i in items)
    raise _LineError("a value: nil, an integer, [<from> <to>] or a :keyword", _clip(text))


def _etcd_line(line: str) -> dict[str, Any]:
    head = _ETCD_PREFIX.match(line.strip())
    if head is None:
        raise _LineError(f"an event line {_ETCD_SHAPE}", _clip(line))
    fields = line.strip()[head.end() :].split(None, 3)
    if len(fields) < 4:
        raise _LineError(f"four fields after 'jepsen.util -' ({_ETCD_SHAPE})", _clip(line))
    proc, kind, f, value_text = fields
    if not _INT.fullmatch(proc):
        raise _LineError("a process number after 'jepsen.util -'", _clip(proc))
    kind_name = kind[1:] if kind.startswith(":") else None
    if kind_name not in _TYPES:
        raise _LineError("a type among :invoke, :ok, :fail, :info", _clip(kind))
    f_name = f[1:] if f.startswith(":") else None
    if f_name not in ("read", "write", "cas"):
        raise _LineError("an operation among :read, :write, :cas", _clip(f))
    value = _etcd_value(value_text)
    if kind_name == "invoke" and f_name == "write" and not isinstance(value, int):
        raise _LineError("an integer value for :invoke :write", _clip(value_text))
    if kind_name == "invoke" and f_name == "cas" and not isinstance(value, tuple):
        raise _LineError("[<from> <to>] for :invoke :cas", _clip(value_text))
    if kind_name == "ok" and f_name == "read" and not (value is None or isinstance(value, int)):
        raise _LineError("an integer or nil for :ok :read", _clip(value_text))
    if isinstance(value, str):  # a keyword (:timed-out): no value
        value = None
    return {"process": int(proc), "type": kind_name, "f": f_name, "value": value}


def _etcd_convert(inv: Mapping[str, Any], done: Mapping[str, Any] | None) -> tuple[Any, Any]:
    f = inv["f"]
    if f == "read":
        if done is None or done["type"] != "ok":
            return RegisterInput("read"), UNKNOWN  # timed out: constrains nothing
        return RegisterInput("read"), done["value"]
    if f == "write":
        if done is not None and done["type"] == "fail":
            return RegisterInput("write", inv["value"]), UNKNOWN
        return RegisterInput("write", inv["value"]), None
    expected, new = inv["value"]  # cas (the line parser guarantees the pair)
    if done is None:
        return RegisterInput("cas", new, expected), None
    return RegisterInput("cas", new, expected), done["type"] == "ok"


def load_jepsen_etcd(path: str | os.PathLike[str]) -> list[Operation]:
    """Load one of Jepsen's etcd register logs (Porcupine's ``test_data/jepsen/etcd_NNN.log``).

    Parameters
    ----------
    path : path-like
        The log file, plain or gzip-compressed: one ``INFO jepsen.util - <process> :<type>
        :<f> <value>`` line per event, fields separated by tabs or spaces.

    Returns
    -------
    list of Operation
        Register operations (:class:`~consensuslab.check.models.RegisterInput`); the event's
        position is its time. ``:info`` operations and timed-out reads have ``ret=None``.

    Raises
    ------
    HistoryFormatError
        (a ``ValueError``) naming the file, the line and what was expected there: a line that
        is not an event of this format, a value of the wrong form, events that do not pair up,
        a file that is binary, empty, cut short (no final newline, incomplete gzip stream) or
        holds no operation. See the module docstring.
    OSError
        If the file cannot be read.

    Notes
    -----
    A ``:cas`` completed with ``:fail`` happened and observed another value (output
    ``False``): the semantics under which Porcupine's expected verdicts hold. A ``:fail`` read
    or write (a timeout reported as a failure) has an unknown outcome.

    Examples
    --------
    >>> h = load_jepsen_etcd(reference_file("jepsen/etcd_000.log"))  # doctest: +SKIP
    """

    def convert(inv: Mapping[str, Any], done: Mapping[str, Any] | None) -> tuple[Any, Any] | None:
        return _etcd_convert(inv, done)

    return _load(path, _etcd_line, convert, fail="keep")


# -- Porcupine kv histories (EDN maps) ---------------------------------------------------------

_EDN_TOKEN = re.compile(
    r"""[\s,]*(?:
        (?P<open>\{) | (?P<close>\}) |
        (?P<kw>:[A-Za-z_*!?+<>=/-][\w*!?+<>=/.-]*) |
        (?P<str>"(?:[^"\\]|\\.)*") |
        (?P<num>-?\d+)(?![\w.]) |
        (?P<nil>nil|true|false)(?![\w.-])
    )""",
    re.VERBOSE,
)
_EDN_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r"}


def _edn_string(token: str) -> str:
    body = token[1:-1]
    if "\\" not in body:
        return body
    out: list[str] = []
    it = iter(range(len(body)))
    for i in it:
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            continue
        nxt = body[i + 1]  # the token regex guarantees a character after a backslash
        next(it)
        if nxt not in _EDN_ESCAPES:
            raise _LineError('a string escape among \\" \\\\ \\n \\t \\r', _clip("\\" + nxt))
        out.append(_EDN_ESCAPES[nxt])
    return "".join(out)


def _edn_scalar(kind: str, token: str) -> Any:
    if kind == "nil":
        return {"nil": None, "true": True, "false": False}[token]
    if kind == "num":
        return int(token)
    if kind == "kw":
        return token[1:]
    return _edn_string(token)


def _edn_map(line: str) -> dict[str, Any]:
    """Parse ``{:k v, :k v}`` (flat, scalar values) strictly; raise _LineError otherwise."""
    pos, end = 0, len(line.rstrip())
    if not line.lstrip(" \t,").startswith("{"):
        raise _LineError("an EDN map '{:process 0, :type :invoke, ...}'", _clip(line))
    tokens: list[tuple[str, str]] = []
    while pos < end:
        mt = _EDN_TOKEN.match(line, pos)
        if mt is None or mt.lastgroup is None:
            rest = line[pos:].lstrip(" \t,")
            raise _LineError("an EDN token (keyword, string, integer, nil, '{' or '}')", _clip(rest))
        tokens.append((mt.lastgroup, mt.group(mt.lastgroup)))
        pos = mt.end()
    if not tokens or tokens[0][0] != "open":
        raise _LineError("an EDN map '{:process 0, :type :invoke, ...}'", _clip(line))
    if tokens[-1][0] != "close":
        raise _LineError("a map closed by '}' at the end of the line", _clip(line))
    body = tokens[1:-1]
    if len(body) % 2:
        raise _LineError("keyword/value pairs inside the map", f"an odd number of items in {_clip(line)}")
    out: dict[str, Any] = {}
    for j in range(0, len(body), 2):
        (kk, key), (vk, val) = body[j], body[j + 1]
        if kk != "kw":
            raise _LineError("a :keyword as map key", _clip(key))
        if vk in ("open", "close"):
            raise _LineError(f"a scalar value for {key}", _clip(val))
        if key[1:] in out:
            raise _LineError("each key once per map", f"{key} twice")
        out[key[1:]] = _edn_scalar(vk, val)
    return out


def parse_edn_value(text: str) -> Any:
    """Parse one of the small EDN scalars Jepsen writes: ``nil``, keywords, integers, strings.

    Examples
    --------
    >>> parse_edn_value('"say \\\\"hi\\\\""'), parse_edn_value(":ok"), parse_edn_value("12")
    ('say "hi"', 'ok', 12)
    """
    text = text.strip()
    mt = _EDN_TOKEN.fullmatch(text)
    if mt is not None and mt.lastgroup not in (None, "open", "close"):
        return _edn_scalar(mt.lastgroup, mt.group(mt.lastgroup))
    return text


def _kv_line(line: str) -> dict[str, Any]:
    ev = _edn_map(line)
    for key in ("process", "type", "f", "key", "value"):
        if key not in ev:
            raise _LineError(f"a :{key} entry (:process, :type, :f, :key, :value)", _clip(line))
    if not isinstance(ev["process"], int) or isinstance(ev["process"], bool):
        raise _LineError("an integer :process", repr(ev["process"]))
    if ev["type"] not in _TYPES:
        raise _LineError("a :type among :invoke, :ok, :fail, :info", repr(ev["type"]))
    if ev["f"] not in ("get", "put", "append"):
        raise _LineError("an :f among :get, :put, :append", repr(ev["f"]))
    if not isinstance(ev["key"], (str, int)) or isinstance(ev["key"], bool):
        raise _LineError("a string (or integer) :key", repr(ev["key"]))
    value = ev["value"]
    if ev["f"] in ("put", "append") and ev["type"] == "invoke" and not isinstance(value, str):
        raise _LineError(f"a string :value for :invoke :{ev['f']}", repr(value))
    if ev["f"] == "get" and ev["type"] == "ok" and not (value is None or isinstance(value, str)):
        raise _LineError("a string or nil :value for :ok :get", repr(value))
    return ev


def _kv_convert(inv: Mapping[str, Any], done: Mapping[str, Any] | None) -> tuple[Any, Any]:
    f, key = inv["f"], inv["key"]
    if f == "get":
        out = None if done is None else done["value"]
        return KVInput("get", key), (None if out == "" else out)
    return KVInput(f, key, inv["value"]), None


def load_porcupine_kv(path: str | os.PathLike[str]) -> list[Operation]:
    """Load one of Porcupine's key-value histories (``test_data/kv/cNN-ok|bad.txt``).

    Parameters
    ----------
    path : path-like
        Plain or gzip-compressed; one EDN map per line:
        ``{:process 0, :type :invoke, :f :get, :key "4", :value nil}``.

    Returns
    -------
    list of Operation
        With :class:`~consensuslab.check.models.KVInput` inputs; a ``:get`` that read ``""``
        (Porcupine's absent value) has output ``None``. Check with ``model="kv"``.

    Raises
    ------
    HistoryFormatError
        (a ``ValueError``) naming the file, the line and what was expected there: a line that
        is not a flat EDN map, a missing or ill-typed ``:process``, ``:type``, ``:f``, ``:key``
        or ``:value``, events that do not pair up, a file that is binary, empty, cut short or
        holds no operation. See the module docstring.
    OSError
        If the file cannot be read.
    """
    return _load(path, _kv_line, _kv_convert, fail="drop")


# -- the reference histories shipped with the repository -------------------------------------


def porcupine_dir(root: str | os.PathLike[str] | None = None) -> Path:
    """The folder of Porcupine's reference histories: the repository's ``data/jepsen``.

    Parameters
    ----------
    root : path-like, optional
        Another folder laid out the same way (``expected.json``, ``jepsen/``, ``kv/``).

    Returns
    -------
    pathlib.Path
        ``<repository>/data/jepsen`` (present in a checkout and an editable install; a wheel
        does not carry ``data/``, so pass ``root`` there).
    """
    if root is not None:
        return Path(root)
    return Path(__file__).resolve().parents[2] / "data" / "jepsen"


def reference_file(name: str, root: str | os.PathLike[str] | None = None) -> Path:
    """Resolve a name of ``expected.json`` (``"jepsen/etcd_000.log"``) to its file.

    The repository stores the files gzip-compressed (``etcd_000.log.gz``); the plain name is
    returned when it exists, else the ``.gz`` one.

    Raises
    ------
    FileNotFoundError
        If neither exists.
    """
    folder = porcupine_dir(root)
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"no reference history {name!r} (nor {name}.gz) in {folder}")

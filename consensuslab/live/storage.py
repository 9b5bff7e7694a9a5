"""Durable storage for a live node: the simulator's ``Persist`` semantics on a real disk.

Theory of operation
-------------------
A node's stable storage is a key/value map that ``Persist(values)`` updates. On disk it is an
append-only file of records, each::

    4 bytes  payload length n (big-endian)
    4 bytes  CRC-32 of the payload
    n bytes  payload: the persisted values as wire-format JSON (:mod:`consensuslab.live.wire`)

:meth:`Storage.persist` appends one record and, with ``fsync=True`` (the default), calls
``os.fsync`` before it returns, so the runtime performs the effects that follow a ``Persist`` only
once the write is durable (the ordering contract of :mod:`consensuslab.node`). :meth:`Storage.load`
replays the records in order. A crash can tear the last record: a short header, a short payload
or a CRC mismatch. Loading stops at the first bad record, **truncates the file there and warns**
(:class:`TornRecordWarning`): what a torn record held was never acknowledged, because nothing that
follows a ``Persist`` is performed before the record is complete.

Protocols persist whole values (Raft writes its log tuple), so the file grows; after
``compact_every`` records :meth:`persist` rewrites it as one record of the current map (written
to a temporary file, fsynced, renamed over the old one, and the directory fsynced).
"""

from __future__ import annotations

import json
import os
import struct
import warnings
import zlib
from pathlib import Path
from typing import Any

from consensuslab._validate import check_bool, check_int
from consensuslab.live.wire import WireError, decode, encode

__all__ = ["Storage", "TornRecordWarning"]

_HEADER = struct.Struct(">II")


class TornRecordWarning(UserWarning):
    """The storage file ended in a torn or corrupt record, which was truncated away."""


class Storage:
    """A node's stable storage in ``path`` (created if missing).

    Parameters
    ----------
    path : str or Path
        The storage file.
    fsync : bool
        ``os.fsync`` after every record (durable); False trades durability for speed.
    compact_every : int
        Rewrite the file as one record after this many appends.
    """

    def __init__(self, path: str | os.PathLike[str], fsync: bool = True, compact_every: int = 2000) -> None:
        self.path = Path(path)
        self.fsync = check_bool("fsync", fsync)
        self.compact_every = check_int("compact_every", compact_every, 1)
        self.values: dict[str, Any] = {}
        self.records = 0
        self.truncated = 0  # bytes cut off by load()
        self._file: Any = None

    # -- recovery ---------------------------------------------------------------------------
    def load(self) -> dict[str, Any]:
        """Replay the file into :attr:`values` (truncating a torn tail) and open it for appends."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = self.path.read_bytes() if self.path.exists() else b""
        values: dict[str, Any] = {}
        pos = good = records = 0
        problem = ""
        while pos < len(data):
            if pos + _HEADER.size > len(data):
                problem = "a short record header"
                break
            n, crc = _HEADER.unpack_from(data, pos)
            body = data[pos + _HEADER.size:pos + _HEADER.size + n]
            if len(body) < n:
                problem = f"a record of {n} bytes with only {len(body)} present"
                break
            if zlib.crc32(body) != crc:
                problem = "a record whose CRC-32 does not match"
                break
            try:
                update = decode(json.loads(body.decode("utf-8")))
            except (UnicodeDecodeError, ValueError, WireError) as exc:
                problem = f"a record that does not decode ({exc})"
                break
            if not isinstance(update, dict):
                problem = "a record that is not a key/value map"
                break
            values.update(update)
            pos += _HEADER.size + n
            good = pos
            records += 1
        if problem:
            self.truncated = len(data) - good
            warnings.warn(
                f"{self.path}: {problem} at byte {good}; truncated {self.truncated} bytes "
                f"(kept {records} records)", TornRecordWarning, stacklevel=2)
            with open(self.path, "r+b") as f:
                f.truncate(good)
                f.flush()
                os.fsync(f.fileno())
        self.values = values
        self.records = records
        self._file = open(self.path, "ab")
        return dict(values)

    # -- writes -----------------------------------------------------------------------------
    def persist(self, values: dict[str, Any]) -> None:
        """Append ``values`` as one record; durable when this returns (with ``fsync``)."""
        if self._file is None:
            raise RuntimeError(f"{self.path}: call load() before persist()")
        self.values.update(values)
        self._append(self._file, values)
        self.records += 1
        if self.records >= self.compact_every:
            self.compact()

    def _append(self, f: Any, values: dict[str, Any]) -> None:
        body = json.dumps(encode(values), separators=(",", ":"), allow_nan=True).encode()
        f.write(_HEADER.pack(len(body), zlib.crc32(body)) + body)
        f.flush()
        if self.fsync:
            os.fsync(f.fileno())

    def compact(self) -> None:
        """Rewrite the file as a single record of the current values (atomic rename)."""
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        with open(tmp, "wb") as f:
            self._append(f, self.values)
            os.fsync(f.fileno())
        self._file.close()
        os.replace(tmp, self.path)
        if self.fsync:
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        self._file = open(self.path, "ab")
        self.records = 1

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

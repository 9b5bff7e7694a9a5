"""The replicated key-value state machine and the client protocol shared by Raft and Multi-Paxos.

Theory of operation
-------------------
Clients send :class:`ClientRequest` ``(client, seq, command)``; ``seq`` increases by one per
operation of a client and a client has at most one operation outstanding, retrying it with the
*same* ``seq`` until it gets an answer. Every command — reads included — goes through the
replicated log, so reads are linearizable (Raft dissertation §6.3 "through the log").

:class:`KVStore` applies committed commands in log order with exactly-once semantics
(Raft dissertation §6.3; Paxos Made Moderately Complex's client table): it remembers, per
client, the highest ``seq`` applied and its result. A command whose ``seq`` is the last one
applied is a retry — its cached result is returned and the store does not change; an older
``seq`` is a stale duplicate of an operation the client already gave up on — ignored.

Operations: ``get`` returns the value or ``None`` if absent; ``put`` sets; ``append``
concatenates a string to the current value (absent = ``""``; the checker's kv model agrees); ``noop`` is the no-op a new leader
commits (Raft §8 / Multi-Paxos gap filling) and never comes from a client.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Command", "ClientRequest", "ClientResponse", "KVStore", "NOOP", "Op"]

Op = Literal["get", "put", "append", "noop"]


@dataclass(frozen=True, slots=True)
class Command:
    """One state-machine command."""

    client: int
    seq: int
    op: Op
    key: str = ""
    value: Any = None


NOOP = Command(-1, 0, "noop")


@dataclass(frozen=True, slots=True)
class ClientRequest:
    """What a client sends to a node; ``client`` routes the reply."""

    client: int
    seq: int
    command: Command


@dataclass(frozen=True, slots=True)
class ClientResponse:
    """A node's answer. ``ok=False`` with ``leader_hint`` means "ask that node instead"."""

    client: int
    seq: int
    ok: bool
    value: Any = None
    leader_hint: int | None = None
    error: str | None = None


@dataclass
class KVStore:
    """Key-value state machine with a per-client table for exactly-once application."""

    data: dict[str, Any] = field(default_factory=dict)
    sessions: dict[int, tuple[int, Any]] = field(default_factory=dict)

    def apply(self, cmd: Command) -> Any:
        """Apply ``cmd`` (exactly once per ``(client, seq)``); return its result."""
        if cmd.op == "noop":
            return None
        last = self.sessions.get(cmd.client)
        if last is not None:
            if cmd.seq == last[0]:
                return last[1]  # a retry of the last operation: same answer, no new effect
            if cmd.seq < last[0]:
                return None  # a stale duplicate the client no longer waits for
        if cmd.op == "get":
            result = self.data.get(cmd.key)
        elif cmd.op == "put":
            self.data[cmd.key] = cmd.value
            result = None
        elif cmd.op == "append":
            self.data[cmd.key] = (self.data.get(cmd.key) or "") + cmd.value
            result = None
        else:
            raise ValueError(f"unknown command op {cmd.op!r}")
        self.sessions[cmd.client] = (cmd.seq, result)
        return result

    def snapshot(self) -> tuple[tuple[tuple[str, Any], ...], tuple[tuple[int, tuple[int, Any]], ...]]:
        """An immutable copy (for log compaction)."""
        return tuple(sorted(self.data.items())), tuple(sorted(self.sessions.items()))

    @classmethod
    def restore(cls, snap: Any) -> "KVStore":
        data, sessions = snap
        return cls(dict(data), dict(sessions))

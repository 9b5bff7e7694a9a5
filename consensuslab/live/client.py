"""A live KV client: finds the leader, retries with the same ``(client, seq)``, records a history.

Theory of operation
-------------------
:class:`LiveClient` speaks the client protocol of :mod:`consensuslab.protocols.kv` over UDP,
exactly as the simulator's clients do (:mod:`consensuslab.cluster`): it sends a
``ClientRequest(client, seq, command)`` to the node it believes leads; a ``ClientResponse`` with
``ok=False`` and a ``leader_hint`` redirects it; no answer within ``client_timeout`` sends the
*same* request (same ``client`` and ``seq``, so the state machine applies it at most once) to the
next node. After ``op_timeout`` the operation is abandoned: its outcome is unknown, and the
history records it with no return time, which the linearizability checker treats as "may or may
not have happened". Times are ``time.monotonic()`` in ms, one clock for every client of a host.

:func:`status` asks a node's runtime (not the protocol) for its role, term, leader and counters.
"""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from consensuslab._validate import check_float
from consensuslab.check import Operation
from consensuslab.check.models import KVInput
from consensuslab.live.runtime import Address
from consensuslab.live.wire import WireError, envelope, open_envelope
from consensuslab.protocols.kv import ClientRequest, ClientResponse, Command

__all__ = ["LiveClient", "LiveResult", "status", "control"]


@dataclass
class LiveResult:
    ok: bool
    value: Any = None
    error: str | None = None
    attempts: int = 0
    leader: int | None = None


def _ask(addr: Address, data: bytes, timeout: float) -> dict[str, Any] | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(data, addr)
        try:
            reply, _ = s.recvfrom(1 << 16)
            kind, body = open_envelope(reply)
        except (TimeoutError, socket.timeout, WireError, ConnectionRefusedError, OSError):
            return None
    return body.get("status") if kind == "status-reply" else None


def status(addr: Address, timeout: float = 0.5) -> dict[str, Any] | None:
    """The runtime status of the node at ``addr`` (None if it does not answer)."""
    return _ask((str(addr[0]), int(addr[1])), envelope("status"), timeout)


def control(addr: Address, spec: dict[str, Any], timeout: float = 0.5) -> dict[str, Any] | None:
    """Set the fault filter of the node at ``addr`` (see :class:`~consensuslab.live.runtime.LinkFilter`)."""
    return _ask((str(addr[0]), int(addr[1])), envelope("ctl", spec=spec), timeout)


class LiveClient:
    """A KV client of the cluster at ``peers``.

    Parameters
    ----------
    peers : sequence of (host, port)
        The nodes' addresses (node i is entry i).
    client_id : int, optional
        Unique per client across the cluster's life (default: random 31-bit).
    client_timeout : float
        Resend to the next node after this many ms without an answer.
    op_timeout : float
        Abandon an operation (outcome unknown) after this many ms.
    """

    def __init__(self, peers: Sequence[Address], client_id: int | None = None, client_timeout: float = 300.0,
                 op_timeout: float = 5000.0) -> None:
        self.peers: list[Address] = [(str(h), int(p)) for h, p in peers]
        self.id = random.SystemRandom().randrange(1, 2**31) if client_id is None else int(client_id)
        self.client_timeout = check_float("client_timeout", client_timeout, 0.0, low_open=True)
        self.op_timeout = check_float("op_timeout", op_timeout, 0.0, low_open=True)
        self.seq = 0
        self.target = 0
        self.history: list[Operation] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> LiveClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def put(self, key: str, value: Any) -> LiveResult:
        return self.call("put", key, value)

    def get(self, key: str) -> LiveResult:
        return self.call("get", key)

    def append(self, key: str, value: str) -> LiveResult:
        return self.call("append", key, value)

    def call(self, op: str, key: str, value: Any = None) -> LiveResult:
        """Run one operation to completion or abandonment; record it in :attr:`history`."""
        if op not in ("get", "put", "append"):
            raise ValueError(f"`op` must be one of ['get', 'put', 'append']; got {op!r}.")
        self.seq += 1
        req = ClientRequest(self.id, self.seq, Command(self.id, self.seq, op, key, value))  # type: ignore[arg-type]
        data = envelope("req", m=req)
        start = time.monotonic()
        deadline = start + self.op_timeout / 1000.0
        attempts = 0
        result = LiveResult(False, error="timeout")
        while time.monotonic() < deadline:
            attempts += 1
            self._sock.sendto(data, self.peers[self.target])
            resp = self._wait(req, min(deadline, time.monotonic() + self.client_timeout / 1000.0))
            if resp is None:  # no answer: try the next node with the same request
                self.target = (self.target + 1) % len(self.peers)
                continue
            if resp.ok:
                result = LiveResult(True, resp.value, None, attempts, self.target)
                break
            hint = resp.leader_hint
            if hint is not None and 0 <= hint < len(self.peers) and hint != self.target:
                self.target = hint
            else:
                self.target = (self.target + 1) % len(self.peers)
                time.sleep(0.01)  # no leader known yet: back off briefly
        end = time.monotonic()
        result.attempts = attempts
        self.history.append(Operation(
            client=self.id, call=start * 1000.0, ret=end * 1000.0 if result.ok else None,
            input=KVInput(op, key, value), output=result.value if (result.ok and op == "get") else None))
        return result

    def _wait(self, req: ClientRequest, until: float) -> ClientResponse | None:
        while True:
            left = until - time.monotonic()
            if left <= 0:
                return None
            self._sock.settimeout(left)
            try:
                data, _ = self._sock.recvfrom(1 << 16)
            except (TimeoutError, socket.timeout):
                return None
            except OSError:  # e.g. ICMP port unreachable from a killed node
                return None
            try:
                kind, body = open_envelope(data)
            except WireError:
                continue
            resp = body.get("m")
            if kind == "rep" and isinstance(resp, ClientResponse) and resp.client == self.id and resp.seq == req.seq:
                return resp

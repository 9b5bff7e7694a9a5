"""The live runtime: one sans-I/O node driven by asyncio, real timers, UDP on loopback and a disk.

Theory of operation
-------------------
:class:`NodeRuntime` is a driver of the node contract (:mod:`consensuslab.node`), like the
simulator, but with real I/O. It builds the *same* node objects the simulator runs (any
protocol's ``ProtocolConfig.make_node``) and feeds them one input at a time from the asyncio
event loop:

* a datagram from a peer -> ``on_message(src, msg)``; from a client -> ``on_client(request)``;
* a timer armed with ``SetTimer`` fires -> ``on_timer(name)`` (``loop.call_later``; re-arming
  replaces the armed timer, as in the simulator);
* ``self.now`` is set before each handler to the node's clock: milliseconds of
  ``time.monotonic()`` since the runtime started.

After each handler the runtime performs ``node.out`` **in order**: ``Persist`` is written and
fsynced (:class:`~consensuslab.live.storage.Storage`) before any later effect is performed, so a
peer never sees a message that depends on state that is not durable; ``Send``/``Broadcast`` go
out as datagrams (:mod:`consensuslab.live.wire`); ``Reply`` goes to the address the client's
request came from; ``Note`` is kept in a small event log that the status query returns.

Why UDP. The protocols were written for the simulator's network, which loses, duplicates and
reorders messages; they already retry what matters. UDP gives exactly that model with no
connection state to manage, no head-of-line blocking between unrelated messages and no
reconnection logic after a peer is killed with ``-9`` (stateright's ``spawn`` makes the same
choice). The cost is the datagram size (:data:`~consensuslab.live.wire.MAX_DATAGRAM`): Raft's
``max_entries`` keeps AppendEntries small; a message that would not fit is counted and dropped.

Faults. Every runtime has a :class:`LinkFilter`: per peer, a drop probability, an added delay
and a block flag, applied to outgoing datagrams. A ``ctl`` datagram sets it, so
:class:`~consensuslab.live.cluster.LocalCluster` can replay the simulator's nemesis schedules
(partition, cut_link, set_loss, heal) on real processes; crash and restart are ``kill -9`` and a
new process.

Malformed input (not JSON, a wrong version, an unknown class, wrong field types, an unknown
sender) is counted in ``counters["malformed"]`` and dropped; it never reaches the node. A node
handler that raises on a well-formed message is counted in ``counters["handler_errors"]``,
logged, and the runtime keeps serving.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from consensuslab.live.storage import Storage
from consensuslab.live.wire import WireError, envelope, open_envelope
from consensuslab.node import Broadcast, CancelTimer, Node, NodeId, Note, Persist, Reply, Send, SetTimer

__all__ = ["Address", "LinkFilter", "NodeRuntime", "parse_peers"]

log = logging.getLogger("consensuslab.live")
Address = tuple[str, int]


def parse_peers(text: str) -> list[Address]:
    """``"127.0.0.1:9001,127.0.0.1:9002"`` -> ``[("127.0.0.1", 9001), ...]`` (node i is entry i)."""
    out: list[Address] = []
    for part in text.split(","):
        host, sep, port = part.strip().rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"`peers` must be host:port entries separated by commas; got {part!r} in {text!r}.")
        out.append((host, int(port)))
    if not out:
        raise ValueError(f"`peers` must name at least one node; got {text!r}.")
    return out


@dataclass
class LinkFilter:
    """Per-peer faults on outgoing datagrams: drop probability, added delay (ms), blocked."""

    drop: dict[int, float] = field(default_factory=dict)
    delay: dict[int, float] = field(default_factory=dict)
    blocked: set[int] = field(default_factory=set)
    loss: float = 0.0  # applies to every peer

    def update(self, spec: dict[str, Any]) -> None:
        """Apply a ``ctl`` message: ``{"heal": true}`` or any of ``block``, ``drop``, ``delay``, ``loss``."""
        if spec.get("heal"):
            self.drop.clear()
            self.delay.clear()
            self.blocked.clear()
            self.loss = 0.0
        if "block" in spec:
            self.blocked = {int(p) for p in spec["block"]}
        if "drop" in spec:
            self.drop = {int(k): float(v) for k, v in spec["drop"]}
        if "delay" in spec:
            self.delay = {int(k): float(v) for k, v in spec["delay"]}
        if "loss" in spec:
            self.loss = float(spec["loss"])


class NodeRuntime(asyncio.DatagramProtocol):
    """Serve one node on ``peers[node_id]`` (UDP), persisting to ``storage``.

    Parameters
    ----------
    make_node : callable
        ``make_node(node_id, peers, rng, stable) -> Node`` (a protocol config's ``make_node``).
    node_id : int
        This node's index into ``peers``.
    peers : sequence of (host, port)
        Every node's address, this one included.
    storage : Storage
        Stable storage (loaded here).
    seed : int, optional
        Seed of the node's random stream (default: fresh entropy).
    """

    def __init__(self, make_node: Callable[..., Node], node_id: NodeId, peers: Sequence[Address],
                 storage: Storage, seed: int | None = None) -> None:
        self.make_node = make_node
        self.id = node_id
        self.peers: list[Address] = [(str(h), int(p)) for h, p in peers]
        self.by_addr = {(host, port): i for i, (host, port) in enumerate(self.peers)}
        self.storage = storage
        self.rng = np.random.default_rng(seed)
        self.filter = LinkFilter()
        self.counters = {"received": 0, "sent": 0, "malformed": 0, "handler_errors": 0, "oversize": 0,
                         "filtered": 0, "persists": 0}
        self.events: deque[tuple[float, str, dict[str, Any]]] = deque(maxlen=2000)
        self.clients: dict[int, Address] = {}
        self.node: Any = None
        self.transport: Any = None
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._t0 = time.monotonic()
        self._last_leader: Any = None
        self._random = random.Random(seed)

    # -- lifecycle ---------------------------------------------------------------------------
    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        stable = self.storage.load()
        ids = tuple(range(len(self.peers)))
        self.node = self.make_node(self.id, ids, self.rng, stable)
        self._run(self.node.on_start)

    def now(self) -> float:
        """The node's clock, ms since the runtime started."""
        return (time.monotonic() - self._t0) * 1000.0

    # -- inputs ------------------------------------------------------------------------------
    def datagram_received(self, data: bytes, addr: Address) -> None:
        self.counters["received"] += 1
        try:
            kind, body = open_envelope(data)
        except WireError as exc:
            self.counters["malformed"] += 1
            log.debug("node %s: dropped a malformed datagram from %s: %s", self.id, addr, exc)
            return
        if kind == "msg":
            src = body.get("src")
            if not isinstance(src, int) or not 0 <= src < len(self.peers) or src == self.id or "m" not in body:
                self.counters["malformed"] += 1
                return
            self._run(self.node.on_message, src, body["m"])
        elif kind == "req":
            req = body.get("m")
            client = getattr(req, "client", None)
            if not isinstance(client, int):
                self.counters["malformed"] += 1
                return
            self.clients[client] = addr
            self._run(self.node.on_client, req)
        elif kind == "status":
            self._send_raw(envelope("status-reply", status=self.status()), addr)
        elif kind == "ctl":
            spec = body.get("spec")
            if isinstance(spec, dict):
                try:
                    self.filter.update(spec)
                except (TypeError, ValueError):
                    self.counters["malformed"] += 1
                    return
                self._send_raw(envelope("status-reply", status=self.status()), addr)
            else:
                self.counters["malformed"] += 1
        else:  # replies and status replies are for clients, not nodes
            self.counters["malformed"] += 1

    def _fire(self, name: str, handle_id: int) -> None:
        handle = self._timers.get(name)
        if handle is None or id(handle) != handle_id:
            return  # cancelled or re-armed since
        del self._timers[name]
        self._run(self.node.on_timer, name)

    # -- the driver loop ----------------------------------------------------------------------
    def _run(self, handler: Callable[..., None], *args: Any) -> None:
        node = self.node
        node.now = self.now()
        try:
            handler(*args)
        except Exception:  # noqa: BLE001 - a protocol bug must not take the process down
            self.counters["handler_errors"] += 1
            log.exception("node %s: handler %s raised", self.id, getattr(handler, "__name__", handler))
        out, node.out = node.out, []
        for effect in out:
            self._perform(effect)
        leader = getattr(node, "leader_id", None)
        if leader != self._last_leader:
            self._last_leader = leader
            self.events.append((time.monotonic(), "leader", {"leader": leader, "term": getattr(node, "term", None)}))

    def _perform(self, e: Any) -> None:
        t = type(e)
        if t is Persist:
            self.storage.persist(e.values)  # durable before anything after it is performed
            self.counters["persists"] += 1
        elif t is Send:
            self._send(e.dst, e.msg)
        elif t is Broadcast:
            for dst in range(len(self.peers)):
                if dst != self.id:
                    self._send(dst, e.msg)
        elif t is SetTimer:
            old = self._timers.pop(e.name, None)
            if old is not None:
                old.cancel()
            loop = asyncio.get_running_loop()
            box: list[asyncio.TimerHandle] = []
            handle = loop.call_later(max(e.delay, 0.0) / 1000.0, lambda: self._fire(e.name, id(box[0])))
            box.append(handle)
            self._timers[e.name] = handle
        elif t is CancelTimer:
            old = self._timers.pop(e.name, None)
            if old is not None:
                old.cancel()
        elif t is Reply:
            client = getattr(e.request, "client", None)
            addr = self.clients.get(client) if isinstance(client, int) else None
            if addr is not None:
                self._send_raw(envelope("rep", m=e.response), addr)
        elif t is Note:
            self.events.append((time.monotonic(), e.event, dict(e.data)))

    def _send(self, dst: NodeId, msg: Any) -> None:
        f = self.filter
        if dst in f.blocked or (f.loss and self._random.random() < f.loss) or \
                (dst in f.drop and self._random.random() < f.drop[dst]):
            self.counters["filtered"] += 1
            return
        try:
            data = envelope("msg", src=self.id, m=msg)
        except WireError as exc:
            self.counters["oversize"] += 1
            log.warning("node %s: not sent to %s: %s", self.id, dst, exc)
            return
        delay = f.delay.get(dst, 0.0)
        if delay > 0:
            asyncio.get_running_loop().call_later(delay / 1000.0, self._send_raw, data, self.peers[dst])
        else:
            self._send_raw(data, self.peers[dst])

    def _send_raw(self, data: bytes, addr: Address) -> None:
        if self.transport is not None:
            self.transport.sendto(data, addr)
            self.counters["sent"] += 1

    # -- observation --------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """What the status query answers: role, term, leader, commit, counters, recent events."""
        node = self.node
        role = getattr(node, "role", None)
        return {
            "id": self.id,
            "role": getattr(role, "value", None if role is None else str(role)),
            "term": getattr(node, "term", getattr(getattr(node, "ballot", None), "round", None)),
            "leader": getattr(node, "leader_id", getattr(node, "leader_hint", None)),
            "commit": getattr(node, "commit_index", None),
            "counters": dict(self.counters),
            "blocked": sorted(self.filter.blocked),
            "events": [[t, name, data] for t, name, data in list(self.events)[-200:]],
            "monotonic": time.monotonic(),
        }


async def serve(make_node: Callable[..., Node], node_id: NodeId, peers: Sequence[Address], storage: Storage,
                seed: int | None = None, stop: asyncio.Event | None = None) -> NodeRuntime:
    """Bind ``peers[node_id]`` and serve until ``stop`` is set (forever by default)."""
    loop = asyncio.get_running_loop()
    runtime = NodeRuntime(make_node, node_id, peers, storage, seed)
    host, port = peers[node_id]
    transport, _ = await loop.create_datagram_endpoint(lambda: runtime, local_addr=(str(host), int(port)))
    try:
        await (stop.wait() if stop is not None else asyncio.Event().wait())
    finally:
        transport.close()
        storage.close()
    return runtime

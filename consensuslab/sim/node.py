"""The sans-I/O node interface and the effects a node emits.

Theory of operation
-------------------
A protocol node is a plain object. The driver (the :class:`~consensuslab.sim.Simulator`, or a
real transport) feeds it inputs by calling exactly one handler at a time:

``on_start()``
    the node (re)starts; recover from ``self.stable`` (what was persisted before a crash).
``on_message(src, msg)``
    a message from peer ``src`` arrived.
``on_timer(name)``
    the timer ``name`` set earlier with :meth:`Node.set_timer` fired.
``on_client(request)``
    a client request arrived (``request.client`` identifies the client).

A handler never performs I/O. It *emits effects* — small immutable values appended to
``self.out`` — and the driver performs them in order after the handler returns:

==================  ===========================================================
``Send``            deliver ``msg`` to ``dst`` (through the network model)
``Broadcast``       ``Send`` to every peer except the sender
``SetTimer``        (re)arm timer ``name`` to fire after ``delay`` ms (replaces an armed one)
``CancelTimer``     disarm timer ``name`` (no-op if not armed)
``Persist``         write key/values to stable storage (survives crashes)
``Reply``           answer a client request
``Note``            a trace record (role change, commit, ...) with no effect on the run
==================  ===========================================================

Ordering contract (etcd's ``Ready``): effects are performed in emission order, so a node that
emits ``Persist`` before ``Send`` has its state durable before any peer can see the message.
Handlers run atomically: a crash happens between inputs, never inside one.

Inputs a node may read: ``self.id``, ``self.peers`` (all node ids, including itself),
``self.rng`` (this node's own ``numpy.random.Generator`` stream; it continues across restarts),
``self.stable`` (a copy of persisted state, read it in ``on_start``) and ``self.now`` (the
driver's time in ms, set before each handler call — an input, like etcd's ticks; protocols
that do not need absolute time should use timers only).

Example
-------
A node that answers every ``"ping"`` with ``"pong"`` and counts what it has seen, durably:

>>> class Echo(Node):
...     def on_start(self):
...         self.seen = self.stable.get("seen", 0)
...     def on_message(self, src, msg):
...         self.seen += 1
...         self.persist(seen=self.seen)        # durable before the reply is sent
...         if msg == "ping":
...             self.send(src, "pong")
>>> import numpy as np
>>> e = Echo(1, (0, 1), np.random.default_rng(0))
>>> e.on_start(); e.on_message(0, "ping")
>>> e.out
[Persist(values={'seen': 1}), Send(dst=0, msg='pong')]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

__all__ = [
    "NodeId",
    "Node",
    "Send",
    "Broadcast",
    "SetTimer",
    "CancelTimer",
    "Persist",
    "Reply",
    "Note",
    "Effect",
]

NodeId = int


class Send(NamedTuple):
    dst: NodeId
    msg: Any


class Broadcast(NamedTuple):
    msg: Any


class SetTimer(NamedTuple):
    name: str
    delay: float


class CancelTimer(NamedTuple):
    name: str


class Persist(NamedTuple):
    values: dict[str, Any]


class Reply(NamedTuple):
    request: Any
    response: Any


class Note(NamedTuple):
    event: str
    data: dict[str, Any]


Effect = Send | Broadcast | SetTimer | CancelTimer | Persist | Reply | Note


class Node:
    """Base class of a sans-I/O protocol node. Override the ``on_*`` handlers.

    Parameters
    ----------
    node_id : int
        This node's id (0-based).
    peers : tuple of int
        Ids of all nodes in the cluster, this one included.
    rng : numpy.random.Generator
        The node's own random stream (the driver keeps it across restarts).
    stable : mapping, optional
        What the node persisted before it last crashed (empty at first start).
    """


    def __init__(
        self,
        node_id: NodeId,
        peers: tuple[NodeId, ...],
        rng: np.random.Generator,
        stable: Mapping[str, Any] | None = None,
    ) -> None:
        self.id = node_id
        self.peers = tuple(peers)
        self.rng = rng
        self.stable: dict[str, Any] = dict(stable or {})
        self.now = 0.0
        self.out: list[Effect] = []

    # -- inputs (override) -------------------------------------------------------------
    def on_start(self) -> None:
        """The node starts or restarts; recover from ``self.stable``."""

    def on_message(self, src: NodeId, msg: Any) -> None:
        """A message from ``src`` arrived."""

    def on_timer(self, name: str) -> None:
        """Timer ``name`` fired."""

    def on_client(self, request: Any) -> None:
        """A client request arrived. Default: the protocol serves no clients."""
        raise NotImplementedError(f"{type(self).__name__} does not serve client requests")

    # -- effects -------------------------------------------------------------------------
    @property
    def others(self) -> tuple[NodeId, ...]:
        """All peers except this node."""
        return tuple(p for p in self.peers if p != self.id)

    def send(self, dst: NodeId, msg: Any) -> None:
        self.out.append(Send(dst, msg))

    def broadcast(self, msg: Any) -> None:
        self.out.append(Broadcast(msg))

    def set_timer(self, name: str, delay: float) -> None:
        self.out.append(SetTimer(name, delay))

    def cancel_timer(self, name: str) -> None:
        self.out.append(CancelTimer(name))

    def persist(self, **values: Any) -> None:
        """Write ``values`` to stable storage. Pass immutable values (tuples, not lists)."""
        self.stable.update(values)
        self.out.append(Persist(values))

    def reply(self, request: Any, response: Any) -> None:
        self.out.append(Reply(request, response))

    def note(self, event: str, **data: Any) -> None:
        self.out.append(Note(event, data))

"""The sans-I/O node contract: the one interface between every protocol and every driver.

Theory of operation
-------------------
A protocol node is a plain object. A *driver* feeds it inputs by calling exactly one handler at a
time. The drivers are the discrete-event simulator (:mod:`consensuslab.sim`), and any other
runtime that honours this page (an exhaustive explorer of interleavings, a real network
transport). Protocols (:mod:`consensuslab.protocols`) import this module and nothing from any
driver; drivers import this module and know protocols only through it. The layering test
(``tests/test_layering.py``) holds both sides to that.

The inputs:

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

What a driver owes a node: it sets ``now`` before each handler, performs ``out`` in order and
then empties it, keeps ``stable`` across a crash (a restarted node is a *new* object built from
the persisted values; volatile fields are lost), and never calls two handlers at once.

Ghost state. Attributes whose names start with ``ghost_`` are verification-only history (the
accepts a Paxos acceptor performed, the requests a leader received): the protocol appends to
them and never reads them to decide anything. A driver keeps them across crashes, as it keeps
``stable``: :func:`adopt_ghosts` hands a restarted node the very objects its earlier incarnations
filled, and the driver shows them as ``ghosts[i]`` even while node ``i`` is down. So a monitor's
verdict depends neither on when it is called nor on which nodes happen to be up.

Monitors (the safety checkers of :mod:`consensuslab.protocols`) look at a running cluster only
through :class:`ClusterView`: the live nodes (``None`` for a crashed one), their persisted
state, their ghost state and the driver's time. Any driver that exposes those attributes can be
checked by the same monitors.

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

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, Protocol

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
    "ClusterView",
    "adopt_ghosts",
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


class ClusterView(Protocol):
    """What a monitor may read of a running cluster, whatever drives it.

    ``nodes[i]`` is node ``i``'s live object or ``None`` while it is down; ``storage[i]`` is what
    node ``i`` has persisted (it survives crashes); ``ghosts[i]`` is node ``i``'s ghost state over all its incarnations (see
    :func:`adopt_ghosts`); ``now`` is the driver's time in ms (a driver
    with no clock, such as an explorer of interleavings, reports a step count or 0).
    """

    @property
    def nodes(self) -> Sequence[Any]: ...  # each a protocol's Node subclass, or None while down

    @property
    def storage(self) -> Sequence[Mapping[str, Any]]: ...

    @property
    def ghosts(self) -> Sequence[Mapping[str, Any]]: ...

    @property
    def now(self) -> float: ...


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


def adopt_ghosts(node: Node, ghosts: dict[str, Any]) -> None:
    """Share ``node``'s ``ghost_*`` attributes with ``ghosts``, the driver's record for its index.

    On a node's first start the driver's record is empty and takes the node's (fresh) ghost
    objects; on a restart the new node is given the objects its earlier incarnations filled, so
    ghost history survives crashes. Call it right after building a node, before ``on_start``.

    >>> import numpy as np
    >>> class G(Node):
    ...     def __init__(self, *args):
    ...         super().__init__(*args)
    ...         self.ghost_seen = []             # verification-only history
    >>> record = {}
    >>> first = G(0, (0,), np.random.default_rng(0)); adopt_ghosts(first, record)
    >>> first.ghost_seen.append("x")
    >>> again = G(0, (0,), np.random.default_rng(0)); adopt_ghosts(again, record)
    >>> again.ghost_seen
    ['x']
    """
    for name, value in list(vars(node).items()):
        if not name.startswith("ghost_"):
            continue
        if name in ghosts:
            setattr(node, name, ghosts[name])
        else:
            ghosts[name] = value

"""Two tiny protocols that show the node interface; used by the tests and the benchmark.

:class:`Flood` — node 0 floods a rumour; every node that hears it for the first time
persists that fact and forwards it once. After a crash a node remembers it has seen the
rumour (persisted) but forgets how many copies arrived (volatile).

:class:`Chatter` — every node sends a numbered message to a random peer every 2 ms (a load
generator whose links carry many messages at once; used to show reordering).

:class:`EchoBroadcast` — node 0 broadcasts round ``r``; every other node answers ``Ack(r)``;
when all acks of round ``r`` are in, node 0 starts round ``r + 1``. A retransmission timer
repeats the round if acks are missing (so it survives loss). The benchmark counts delivered
messages per second of wall time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from consensuslab.node import Node, NodeId

__all__ = ["Rumour", "Flood", "Round", "Ack", "EchoBroadcast", "Chatter"]


@dataclass(frozen=True, slots=True)
class Rumour:
    text: str


class Flood(Node):
    """Forward a rumour once; ``seen`` is durable, ``copies`` is volatile."""

    def on_start(self) -> None:
        self.seen: int = self.stable.get("seen", 0)
        self.copies = 0
        if self.id == 0 and not self.seen:
            self._learn(Rumour("hello"))

    def on_message(self, src: NodeId, msg: Any) -> None:
        match msg:
            case Rumour():
                self.copies += 1
                if not self.seen:
                    self._learn(msg)
            case _:
                raise TypeError(f"unexpected message {msg!r}")

    def _learn(self, rumour: Rumour) -> None:
        self.seen = 1
        self.persist(seen=1)  # durable before anyone hears it from us
        self.note("learned", text=rumour.text)
        self.broadcast(rumour)


class Round(tuple):
    """Round number ``r`` broadcast by node 0 (a bare tuple subclass: cheap to build)."""

    __slots__ = ()


class Ack(tuple):
    """Acknowledgement of a round."""

    __slots__ = ()


class EchoBroadcast(Node):
    """Round-based broadcast with acks; node 0 drives rounds, retransmitting after 50 ms."""

    RETRY = 50.0

    def on_start(self) -> None:
        self.round = 0
        self.acks: set[NodeId] = set()
        if self.id == 0:
            self._next_round()

    def _next_round(self) -> None:
        self.round += 1
        self.acks = set()
        self.broadcast(Round((self.round,)))
        self.set_timer("retry", self.RETRY)

    def on_message(self, src: NodeId, msg: Any) -> None:
        t = type(msg)
        if t is Round:
            self.send(src, Ack(msg))
        elif t is Ack:
            if msg[0] != self.round:
                return  # a stale ack of an earlier round: ignore
            self.acks.add(src)
            if len(self.acks) == len(self.peers) - 1:
                self._next_round()

    def on_timer(self, name: str) -> None:
        self.broadcast(Round((self.round,)))
        self.set_timer("retry", self.RETRY)


class Chatter(Node):
    """Every ``period`` ms send a numbered message to a random peer (drawn from the node's own
    stream). Many messages share a link at once, so random latency reorders them."""

    period = 2.0

    def on_start(self) -> None:
        self.sent = 0
        self.set_timer("tick", self.period)

    def on_timer(self, name: str) -> None:
        others = self.others
        self.sent += 1
        self.send(others[int(self.rng.integers(len(others)))], Round((self.sent,)))
        self.set_timer("tick", self.period)

    def on_message(self, src: NodeId, msg: Any) -> None:
        pass  # a sink: the experiment measures the network, not the protocol

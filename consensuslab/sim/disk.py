"""Durable-write latency for a simulated node: a reply waits for the write it acknowledges.

The simulator performs ``Persist`` instantly. :class:`DiskLatency` wraps any sans-I/O node (it is
itself a :class:`~consensuslab.node.Node`) and delays the acknowledgements that follow a write by
a fixed fsync time, through a private timer, so experiments that depend on disk speed (the Raft
paper's election benchmark) can model it without touching the protocol.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from consensuslab._validate import check_float
from consensuslab.node import Node, NodeId, Persist, Send, SetTimer

__all__ = ["DiskLatency"]


class DiskLatency(Node):
    """Wrap a sans-I/O node so that a reply waits ``disk`` ms for the write it depends on.

    The simulator performs ``Persist`` instantly. This wrapper forwards every input to the
    ``inner`` node and rewrites its effects: a ``Send`` of a message whose type is in ``bound``
    (the acknowledgements of persisted state) emitted after a ``Persist`` in the same handler is
    held back and released by a private timer
    ``"disk:<k>"`` after ``disk`` ms (an fsync before the acknowledgement). Every other effect
    passes through unchanged and in order. Held replies are lost if the node crashes first, as
    an un-synced reply would be.

    Parameters
    ----------
    inner : Node
        The protocol node (its own ``on_*`` handlers do the work).
    disk : float
        Write latency in ms, >= 0.
    bound : tuple of type
        Message types that acknowledge persisted state (for Raft: the vote, append and
        snapshot replies); other messages are sent at once, overlapping the write.
    """

    def __init__(self, inner: Node, disk: float, bound: tuple[type, ...]) -> None:
        super().__init__(inner.id, inner.peers, inner.rng, inner.stable)
        self.inner = inner
        self.disk = float(disk)
        self.bound = tuple(bound)
        self._held: dict[str, Send] = {}
        self._next = 0

    @staticmethod
    def factory(make_node: Callable[..., Node], disk: float, bound: tuple[type, ...]) -> Callable[..., Node]:
        """A simulator factory building ``DiskLatency(make_node(...), disk, bound)``."""
        disk = check_float("disk", disk, 0.0)
        return _DiskFactory(make_node, disk, tuple(bound))

    def _run(self, handler: Callable[..., None], *args: Any) -> None:
        inner = self.inner
        inner.now = self.now
        handler(*args)
        out = inner.out
        if not out:
            return
        inner.out = []
        dirty = False
        for e in out:
            t = type(e)
            if t is Persist:
                dirty = True
            elif dirty and type(e) is Send and type(e.msg) in self.bound:
                name = f"disk:{self._next}"
                self._next += 1
                self._held[name] = e
                self.out.append(SetTimer(name, self.disk))
                continue
            self.out.append(e)

    def on_start(self) -> None:
        self._run(self.inner.on_start)

    def on_message(self, src: NodeId, msg: Any) -> None:
        self._run(self.inner.on_message, src, msg)

    def on_timer(self, name: str) -> None:
        held = self._held.pop(name, None)
        if held is not None:
            self.out.append(held)
        else:
            self._run(self.inner.on_timer, name)

    def on_client(self, request: Any) -> None:
        self._run(self.inner.on_client, request)


class _DiskFactory:
    """Picklable factory for :class:`DiskLatency` nodes."""

    def __init__(self, make_node: Callable[..., Node], disk: float, bound: tuple[type, ...]) -> None:
        self.make_node = make_node
        self.disk = disk
        self.bound = bound

    def __call__(self, node_id: NodeId, peers: tuple[NodeId, ...], rng: np.random.Generator, stable: dict) -> Node:
        return DiskLatency(self.make_node(node_id, peers, rng, stable), self.disk, self.bound)

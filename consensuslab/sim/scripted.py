"""A scripted simulator: events happen only when a script performs them, in the script's order.

Theory of operation
-------------------
:class:`ScriptedSimulator` is the :class:`~consensuslab.sim.simulator.Simulator` with its clock
taken away from the nodes and its queue taken away from time. Everything a node emits is
performed as usual — messages go into the queue (with the sequence number and trace record of
a send), timers are armed, ``Persist`` writes storage, replies are queued for clients — but
nothing is *released* by time: :meth:`~ScriptedSimulator.step` and the ``run_*`` methods are
refused, and the script releases events one at a time:

``deliver(src, dst, msg)``
    delivers the oldest queued copy of ``msg`` from ``src`` to ``dst`` (a client request when
    ``src`` is a client, a reply when ``dst`` is one), whatever its due time — exactly as
    :meth:`Simulator.step` would deliver it (lost if ``dst`` is down);
``fire(node, name)``
    fires node ``node``'s armed timer ``name`` now;
``drop(src, dst, msg)``
    loses a queued message (traced as a drop);
``crash(i)`` / ``restart(i)``
    as in the simulator;
``perform(fn, *args)``
    any other scripted event (a client's timer, say).

Each scripted event advances virtual time by ``tick`` ms (so a trace's records are ordered
and a message-sequence chart can be drawn from it) and then runs the step hooks (the safety
monitor), as :meth:`Simulator.step` does. The nodes, however, read a fixed clock
(``node_clock``, 0 by default) before every handler: a script replays a run of a clockless
model (:mod:`consensuslab.explore`), in which a node's ``now`` is always 0, and a node that
compares times must see what it saw there.

This is how the explorer's counterexamples are replayed in the simulator
(:func:`consensuslab.explore.replay.replay`). It is a driver like the simulator: it never
imports a protocol.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from typing import Any

from consensuslab._validate import check_float
from consensuslab.node import Node
from consensuslab.sim.network import Latency
from consensuslab.sim.simulator import (
    _DELIVER,
    _REPLY,
    _REQUEST,
    NodeFactory,
    SimulationError,
    Simulator,
)

__all__ = ["ScriptedSimulator"]


class ScriptedSimulator(Simulator):
    """A :class:`Simulator` driven event by event by a script (module docstring).

    Parameters
    ----------
    factory, n, seed, trace
        As for :class:`~consensuslab.sim.simulator.Simulator`.
    tick : float
        Virtual ms each scripted event advances time by (> 0).
    node_clock : float
        What every node reads as ``now`` (the explorer's nodes read 0).

    Examples
    --------
    >>> from consensuslab.sim.example import Flood
    >>> sim = ScriptedSimulator(Flood, n=2)
    >>> sim.start()
    >>> [(m.src, m.dst) for m in sim.in_flight()]          # node 0's rumour, held
    [(0, 1)]
    >>> sim.deliver(0, 1, sim.in_flight()[0].msg)
    >>> sim.now, sim.nodes[1].seen, [(m.src, m.dst) for m in sim.in_flight()]
    (1.0, 1, [(1, 0)])
    """

    def __init__(
        self,
        factory: NodeFactory,
        n: int,
        seed: int = 0,
        latency: Latency | float | Sequence[float] = 1.0,
        trace: bool = True,
        tick: float = 1.0,
        node_clock: float = 0.0,
    ) -> None:
        super().__init__(factory, n, seed, latency=latency, trace=trace)
        self.tick = check_float("tick", tick, 0.0, low_open=True)
        self.node_clock = check_float("node_clock", node_clock)

    # -- the nodes read the script's clock ----------------------------------------------------
    def _call(self, node: Node, handler: Callable[..., None], *args: Any) -> None:
        node.now = self.node_clock
        handler(*args)
        out = node.out
        if out:
            node.out = []
            self._apply(node.id, out)

    # -- time does not release events --------------------------------------------------------------
    def step(self) -> bool:
        raise SimulationError("a scripted simulator performs only the events its script releases "
                              "(deliver, fire, drop, crash, restart, perform); it has no step()")

    def run_until_time(self, time: float) -> None:
        raise SimulationError("a scripted simulator does not run by time; release events with deliver/fire")

    def run_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        raise SimulationError("a scripted simulator does not run by time; release events with deliver/fire")

    def _event(self) -> None:
        if not self._started:
            self.start()
        self.now += self.tick
        self.events_processed += 1

    def _hooks(self) -> None:
        for hook in self.step_hooks:
            hook(self)

    def _take(self, src: int, dst: int, msg: Any) -> tuple:
        """Remove and return the oldest queued copy of ``msg`` from ``src`` to ``dst``."""
        if not self._started:
            self.start()
        clients = len(self._clients)
        best = None
        for k, entry in enumerate(self._queue):
            _time, seq, kind, a, b, c = entry
            if kind == _DELIVER or kind == _REQUEST:
                match = a == dst and b == src
            elif kind == _REPLY:  # a = client, b = node
                match = a == dst and b == src and a < clients
            else:
                continue
            if match and (best is None or seq < self._queue[best][1]) and seq not in self._cancelled and c == msg:
                best = k
        if best is None:
            raise SimulationError(f"no message {msg!r} from {src} to {dst} is in flight")
        entry = self._queue[best]
        last = self._queue.pop()
        if best < len(self._queue):
            self._queue[best] = last
            heapq.heapify(self._queue)
        return entry

    # -- the script's events ------------------------------------------------------------------------
    def deliver(self, src: int, dst: int, msg: Any) -> None:
        """Deliver the oldest queued copy of ``msg`` from ``src`` to ``dst`` now.

        Raises
        ------
        SimulationError
            No such message is in flight.
        """
        _time, seq, kind, a, b, c = self._take(src, dst, msg)
        # Release it through the simulator's own step, on a queue holding only it: delivery,
        # loss to a down node, tracing and the step hooks are the simulator's, not a copy.
        pending, self._queue = self._queue, [(self.now + self.tick, seq, kind, a, b, c)]
        try:
            Simulator.step(self)
        finally:
            for entry in self._queue:  # what the handler sent
                heapq.heappush(pending, entry)
            self._queue = pending

    def fire(self, node: int, name: str) -> None:
        """Fire node ``node``'s armed timer ``name`` now.

        Raises
        ------
        SimulationError
            The node is down or the timer is not armed.
        """
        i = self._check_node(node)
        if not self._started:
            self.start()
        target = self.nodes[i]
        if target is None or name not in self._timers[i]:
            raise SimulationError(f"node {i} has no armed timer {name!r}")
        del self._timers[i][name]
        self._event()
        if self.trace.enabled:
            self.trace.records.append((self.now, "timer", i, None, name, None, None))
        self._call(target, target.on_timer, name)
        self._hooks()

    def drop(self, src: int, dst: int, msg: Any) -> None:
        """Lose the oldest queued copy of ``msg`` from ``src`` to ``dst`` (traced as a drop)."""
        _time, seq, kind, a, b, c = self._take(src, dst, msg)
        self._event()
        if kind == _DELIVER:
            self._drop(b, a, c, "dropped", seq)
        else:
            self.trace.record(self.now, "drop", b, a, type(c).__name__, ("dropped", c))
        self._hooks()

    def crash(self, i: int) -> None:
        """Crash node ``i`` as one scripted event (see :meth:`Simulator.crash`)."""
        self._event()
        super().crash(i)
        self._hooks()

    def restart(self, i: int) -> None:
        """Restart node ``i`` as one scripted event (see :meth:`Simulator.restart`)."""
        self._event()
        super().restart(i)
        self._hooks()

    def perform(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` as one scripted event (time advances, then the hooks run)."""
        self._event()
        out = fn(*args)
        self._hooks()
        return out

    def armed(self, i: int) -> list[str]:
        """The names of node ``i``'s armed timers, sorted."""
        return sorted(self._timers[self._check_node(i)])

"""Replay an explorer's counterexample in the simulator, watched by the protocol's own monitor.

Theory of operation
-------------------
A counterexample of an :class:`~consensuslab.explore.ActorModel` is a path of events —
:class:`~consensuslab.explore.Deliver`, :class:`~consensuslab.explore.Timeout`,
:class:`~consensuslab.explore.Crash`, :class:`~consensuslab.explore.Restart`,
:class:`~consensuslab.explore.Drop`. :func:`replay` performs them, in order, in a
:class:`~consensuslab.sim.scripted.ScriptedSimulator` built from the same node factory
(``model.make_node``) and the same number of servers, with a fresh ``model.config.monitor()``
as its step hook: the simulator's incremental monitor watches every step, where the explorer ran
a fresh monitor on each state. The monitors are written to give the same verdict either way
(their history lives in the nodes' ghost state), so the replay must stop with a
:class:`~consensuslab.check.SafetyViolation` of the same invariant, at the same event —
evidence that the counterexample is a real run of the simulator's nodes and not an artefact of
the explorer.

Clients. The explorer's clients are nodes (actor ids ``n, n + 1, ...``); the simulator's are
callbacks. The replay runs each client node itself: its ``Send`` becomes
``sim.request(actor, dst, msg)``, its timers are armed in a table, a reply the script delivers
reaches its ``on_message``, and a client's :class:`~consensuslab.explore.Timeout` is performed
as a scripted event. The simulator's client ids are the actor ids (lower ids get a placeholder
that must never be called), because a server replies to ``request.client``.

The model must keep its protocol configuration as ``model.config`` (the builders of
:mod:`consensuslab.explore.models.protocols` do).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from consensuslab.check.safety import SafetyViolation
from consensuslab.explore.actors import (
    ActorModel,
    Crash,
    Deliver,
    Drop,
    Restart,
    Timeout,
)
from consensuslab.explore.model import Path
from consensuslab.node import (
    Broadcast,
    CancelTimer,
    Node,
    Note,
    Persist,
    Send,
    SetTimer,
)
from consensuslab.sim.scripted import ScriptedSimulator

__all__ = ["Replay", "replay"]


class Replay(NamedTuple):
    """A replayed path: ``violation``, the :class:`~consensuslab.check.SafetyViolation` the
    simulator's monitor raised (``None`` if none); ``sim``, the simulator in the state it stopped
    in (its trace draws the run); ``steps``, the events performed (the violation came at the
    last one); ``events``, those events. ``violation, sim = replay(...)[:2]`` also works."""

    violation: SafetyViolation | None
    sim: ScriptedSimulator
    steps: int
    events: list[Any]

    @property
    def invariant(self) -> str | None:
        return None if self.violation is None else self.violation.invariant


class _Client:
    """A client node of the model, driven by the replay (module docstring)."""

    def __init__(self, sim: ScriptedSimulator, actor: int, node: Node, servers: int) -> None:
        self.sim, self.actor, self.node, self.servers = sim, actor, node, servers
        self.timers: set[str] = set()

    def perform(self) -> None:
        effects, self.node.out = self.node.out, []
        for e in effects:
            if isinstance(e, Send):
                if not (isinstance(e.dst, int) and 0 <= e.dst < self.servers):
                    raise ValueError(f"client {self.actor} sent {e.msg!r} to {e.dst!r}, which is not a server")
                self.sim.request(self.actor, e.dst, e.msg)
            elif isinstance(e, Broadcast):
                for dst in range(self.servers):
                    self.sim.request(self.actor, dst, e.msg)
            elif isinstance(e, SetTimer):
                self.timers.add(e.name)
            elif isinstance(e, CancelTimer):
                self.timers.discard(e.name)
            elif not isinstance(e, (Persist, Note)):
                raise TypeError(f"client {self.actor} emitted an effect a replay cannot perform: {e!r}")

    def on_reply(self, src: int, response: Any) -> None:
        self.node.now = self.sim.node_clock
        self.node.on_message(src, response)
        self.perform()

    def fire(self, name: str) -> None:
        if name not in self.timers:
            raise ValueError(f"client {self.actor} has no armed timer {name!r}")
        self.timers.discard(name)
        self.node.now = self.sim.node_clock
        self.node.on_timer(name)
        self.perform()


def _unused_client(node: int, response: Any) -> None:  # pragma: no cover - a server bug
    raise RuntimeError(f"node {node} replied {response!r} to a client id that is a server's")


def replay(model: ActorModel, path: Path | list[Any], *, trace: bool = True, seed: int = 0) -> Replay:
    """Perform ``path``'s events in a scripted simulator watched by ``model.config.monitor()``.

    Parameters
    ----------
    model : ActorModel
        The model the path came from; it must carry its protocol configuration as ``config``.
    path : Path or list of events
        A counterexample (``result.counterexamples[name]``) or its events.
    trace : bool
        Keep the simulator's full trace (for a message-sequence chart).
    seed : int
        The simulator's root seed (it influences only timer delays, which a script ignores).

    Returns
    -------
    Replay
        ``violation`` is the :class:`~consensuslab.check.SafetyViolation` the monitor raised
        (the replay stops there) or ``None``; ``sim`` is the simulator in that state.

    Raises
    ------
    ValueError
        The model has no ``config``, or an event cannot be performed (the path is not a run of
        this model: a message not in flight, a timer not armed).
    """
    config = getattr(model, "config", None)
    if config is None or not hasattr(config, "monitor"):
        raise ValueError("`model` must carry its protocol configuration as `model.config` "
                         "(build it with consensuslab.explore.models.protocols).")
    events = path.events if isinstance(path, Path) else list(path)
    n = model.n
    sim = ScriptedSimulator(model.make_node, n, seed=seed, trace=trace)
    monitor = config.monitor()
    sim.monitor = monitor  # type: ignore[attr-defined]
    clients: dict[int, _Client] = {}
    for k, factory in enumerate(model.clients):
        actor = n + k
        while len(sim._clients) < actor:
            sim.add_client(_unused_client)
        node = factory(actor, model.servers, np.random.default_rng([seed, actor]), {})
        client = clients[actor] = _Client(sim, actor, node, n)
        sim.add_client(client.on_reply)
    done: list[Any] = []
    try:
        sim.start()
        for client in clients.values():
            client.node.now = sim.node_clock
            client.node.on_start()
            client.perform()
        monitor.observe(sim)  # the initial state, as the explorer checks it
        sim.step_hooks.append(monitor.observe)
        for event in events:
            done.append(event)
            try:
                _perform(sim, clients, event)
            except SafetyViolation:
                raise
            except Exception as exc:
                raise ValueError(f"cannot replay event {len(done)} ({event}): {exc}") from exc
    except SafetyViolation as exc:
        return Replay(exc, sim, len(done), done)
    return Replay(None, sim, len(done), done)


def _perform(sim: ScriptedSimulator, clients: dict[int, _Client], event: Any) -> None:
    if isinstance(event, Deliver):
        sim.deliver(event.src, event.dst, event.msg)
    elif isinstance(event, Timeout):
        if event.node in clients:
            sim.perform(clients[event.node].fire, event.name)
        else:
            sim.fire(event.node, event.name)
    elif isinstance(event, Crash):
        sim.crash(event.node)
    elif isinstance(event, Restart):
        sim.restart(event.node)
    elif isinstance(event, Drop):
        sim.drop(event.src, event.dst, event.msg)
    else:
        raise TypeError(f"unknown event {event!r}")

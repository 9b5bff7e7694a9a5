"""Actor models: the project's sans-I/O nodes, a network and clients, with every interleaving.

Theory of operation
-------------------
An :class:`ActorModel` runs the very node objects the simulator runs (any
:class:`consensuslab.node.Node`), built by the same factory (``make_node(id, peers, rng,
stable)``, e.g. a protocol config's ``make_node``), but with no clock: every event that the
simulator would order by time is a nondeterministic choice here. An :class:`ActorState` holds

* ``nodes``: one object per actor — servers ``0..n-1``, then clients — or ``None`` while a
  server is down. A node object in a state is never mutated: an event copies the one node it
  touches (``copy.deepcopy``; the node's random stream is shared, see below), calls one handler
  on the copy and performs its effects;
* ``storage``: what each node persisted (``Persist``), which survives a crash, and the ghost
  state of down nodes (``consensuslab.node.adopt_ghosts``), so monitors see it while they are
  down, exactly as under the simulator;
* ``timers``: the names of each node's armed timers (their delays are ignored);
* ``network``: the messages in flight, whose discipline ``network`` chooses —
  ``"unordered"`` (a multiset; a delivery removes one copy: the default), ``"duplicating"``
  (a set; a delivered message stays and may be delivered again), ``"lossy"`` (unordered, and any
  message may be dropped), ``"fifo"`` (one queue per ordered pair of actors; only the head of
  a queue can be delivered) or ``"latest"`` (unordered, but a link holds only the latest message
  sent on it: a send loses the message still in flight on the same link, as a one-slot
  buffer would — a lossy network whose losses are the superseded messages, so its runs are
  runs of the lossy network; it keeps at most one message per ordered pair in flight, which
  bounds the states where stale messages would otherwise pile up);
* the crash and drop budgets spent, and an optional client ``history``.

The events enabled in a state (each a named tuple, so a path reads as a story):

:class:`Deliver` ``(src, dst, msg)``
    for each distinct message in flight (heads only under ``"fifo"``). A client's message to a
    server is handed to ``on_client``, everything else to ``on_message``. A message for a
    server that is down is lost when delivered, as in the simulator.
:class:`Timeout` ``(node, name)``
    for each armed timer of each live actor, in any order: no clock.
:class:`Crash` ``(node)``
    for each live server while fewer than ``crashes`` crashes have happened; volatile state
    and timers are lost.
:class:`Restart` ``(node)``
    for each down server: a new node object from the same factory, given its persisted values
    and its ghost records, then ``on_start``.
:class:`Drop` ``(src, dst, msg)``
    for each distinct message in flight, while fewer than ``drops`` drops have happened
    (unlimited under ``"lossy"`` unless ``drops`` is given).

Effects are performed as the simulator performs them: ``Send`` and ``Broadcast`` (to the
sender's ``peers``) put messages in flight, ``Reply(request, response)`` sends ``response`` to
the client actor ``request.client``, ``SetTimer`` / ``CancelTimer`` arm and disarm, ``Persist``
writes storage, ``Note`` is ignored.

Clients are nodes too: each entry of ``clients`` is a factory called as
``factory(actor_id, servers, rng, {})``; a client talks to servers with ``send`` and hears
replies in ``on_message``. ``record_out(history, src, dst, msg)`` and ``record_in(history, src,
dst, msg)``, when given, fold every sent and every delivered message into ``history``
(stateright's ``record_msg_out`` / ``record_msg_in``); the history is part of the state.

No-op deliveries (``skip_noop_deliveries=True``, off by default). stateright skips a delivery
after which the receiver's state is unchanged and it emitted nothing (``is_no_op`` in its
``ActorModel::next_state``): that delivery yields no successor and **the message stays in
flight**, so it may be delivered later, when it is no longer a no-op (a ``Get`` to a Paxos server
that has not decided yet). With the option on, this model does the same: a delivery to a live
node that emits no effect and leaves ``node_state`` (and storage) unchanged is not an event.
stateright's test is "the handler never asked for a mutable state", ours is "the state is
equal": they differ only for a handler that rewrites a field with the value it already holds and
emits nothing. Needed to reproduce stateright's published state counts; off by default, since
under it a message a node ignores is never consumed (the default consumes it, as the simulator does).

Random streams. Each actor gets ``numpy.random.default_rng([seed, actor])`` once; copies share
it. The explorer ignores timer delays, so a node whose stream influences only delays (Raft's
randomized timeouts, Paxos's back-off) behaves as a function of its state; a node whose stream
decides anything else must say so in ``explore_state()`` or be made deterministic.

Fingerprints follow :mod:`consensuslab.explore.fingerprint`: a node's fields minus the driver's
(``id``, ``peers``, ``rng``, ``now``, ``out``, ``stable``), computed once per node object and
cached in the state.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np

from consensuslab.check.safety import SafetyViolation
from consensuslab.explore.fingerprint import canonical, is_value_type, node_state
from consensuslab.explore.model import Property
from consensuslab.node import (
    Broadcast,
    CancelTimer,
    Node,
    Note,
    Persist,
    Reply,
    Send,
    SetTimer,
    adopt_ghosts,
)

__all__ = [
    "NETWORKS",
    "ActorModel",
    "ActorState",
    "Crash",
    "Deliver",
    "Drop",
    "Restart",
    "Timeout",
    "clone_node",
    "copy_value",
    "monitor_invariant",
]

NETWORKS = ("unordered", "duplicating", "lossy", "fifo", "latest")


def _name(msg: Any) -> str:
    return type(msg).__name__


class Deliver(NamedTuple):
    src: int
    dst: int
    msg: Any

    def __str__(self) -> str:
        return f"deliver {_name(self.msg)} {self.src}→{self.dst}: {self.msg}"


class Timeout(NamedTuple):
    node: int
    name: str

    def __str__(self) -> str:
        return f"timer {self.name!r} fires at {self.node}"


class Crash(NamedTuple):
    node: int

    def __str__(self) -> str:
        return f"crash {self.node}"


class Restart(NamedTuple):
    node: int

    def __str__(self) -> str:
        return f"restart {self.node}"


class Drop(NamedTuple):
    src: int
    dst: int
    msg: Any

    def __str__(self) -> str:
        return f"drop {_name(self.msg)} {self.src}→{self.dst}: {self.msg}"


class Envelope(NamedTuple):
    key: str  # repr((src, dst, canonical(msg))): the message's identity in the network
    src: int
    dst: int
    msg: Any


def _key(env: Envelope) -> str:
    return env.key


def _digest(value: Any) -> bytes:
    return hashlib.blake2b(repr(value).encode(), digest_size=16).digest()


class ActorState:
    """One state of an :class:`ActorModel`; it is a :class:`consensuslab.node.ClusterView`."""

    __slots__ = ("_fps", "_sfps", "crashes", "down_ghosts", "drops", "history", "network", "nodes", "storage", "timers")
    now = 0.0  # no clock (ClusterView)

    def __init__(self, nodes: tuple, storage: tuple, down_ghosts: tuple, timers: tuple, network: tuple,
                 crashes: int, drops: int, history: Any, fps: tuple, sfps: tuple) -> None:
        self.nodes = nodes
        self.storage = storage
        self.down_ghosts = down_ghosts
        self.timers = timers
        self.network = network
        self.crashes = crashes
        self.drops = drops
        self.history = history
        self._fps = fps  # per actor: digest of its node state (or of its ghosts while down) and storage
        self._sfps = sfps  # per actor: digest of its storage alone

    @property
    def ghosts(self) -> list[dict[str, Any]]:
        """Each actor's ghost records, whether it is up or down (ClusterView)."""
        out = []
        for node, dead in zip(self.nodes, self.down_ghosts):
            if node is None:
                out.append(dead or {})
            else:
                out.append({k: v for k, v in vars(node).items() if k.startswith("ghost_")})
        return out

    def in_flight(self) -> list[tuple[int, int, Any]]:
        """The messages in flight as ``(src, dst, msg)``, in canonical order."""
        return [(e.src, e.dst, e.msg) for e in _envelopes(self.network)]

    def __repr__(self) -> str:
        up = ["down" if n is None else type(n).__name__ for n in self.nodes]
        return f"ActorState(nodes={up}, in_flight={len(self.in_flight())}, crashes={self.crashes}, drops={self.drops})"


def _envelopes(network: tuple) -> list[Envelope]:
    if network and isinstance(network[0][0], tuple):  # fifo: ((src, dst), queue) pairs
        return [e for _, queue in network for e in queue]
    return list(network)


_ATOMIC = frozenset({int, float, str, bytes, bool, type(None), complex, range})


_PLAIN: dict[type, bool] = {}


def _plain(t: type) -> bool:
    """``copy.deepcopy`` would copy a ``t`` as a new instance with deep copies of its
    ``__dict__``: an ordinary class (no slots, no ``__new__``, no copy or pickle hooks)."""
    verdict = _PLAIN.get(t)
    if verdict is None:
        inherited = all(getattr(t, h, None) is getattr(object, h, None)
                        for h in ("__deepcopy__", "__getstate__", "__setstate__", "__reduce__", "__reduce_ex__"))
        verdict = _PLAIN[t] = (inherited and t is not object
                               and not any("__slots__" in vars(k) or "__new__" in vars(k) for k in t.__mro__[:-1]))
    return verdict


def copy_value(value: Any, memo: dict[int, Any]) -> Any:
    """A deep copy of ``value`` that shares what nothing mutates (atoms, frozen dataclasses,
    enums, tuples and frozensets of those) and keeps shared references shared (``memo``, as
    ``copy.deepcopy``'s). Lists, dicts, sets and plain objects (a mutable dataclass such as a
    state machine) are copied here; anything else by ``copy.deepcopy``."""
    t = type(value)
    if t in _ATOMIC or is_value_type(t):
        return value
    done = memo.get(id(value))
    if done is not None:
        return done
    # items that are atoms are taken inline: most are, and this runs for every event explored
    if t is list:
        out: Any = []
        memo[id(value)] = out
        out.extend([v if type(v) in _ATOMIC else copy_value(v, memo) for v in value])
    elif t is dict:
        out = {}
        memo[id(value)] = out
        for k, v in value.items():
            out[k] = v if type(v) in _ATOMIC else copy_value(v, memo)
    elif t is tuple:
        items = [copy_value(v, memo) for v in value]
        out = value if all(a is b for a, b in zip(items, value)) else tuple(items)
    elif t is frozenset:
        out = value  # hashable members: values
    elif t is set:
        out = set(value)
    elif _plain(t):
        out = object.__new__(t)
        memo[id(value)] = out
        out.__dict__.update({k: v if type(v) in _ATOMIC else copy_value(v, memo) for k, v in vars(value).items()})
    else:
        out = copy.deepcopy(value, memo)
    memo[id(value)] = out
    return out


def clone_node(node: Node) -> Node:
    """An independent copy of ``node`` for the next state, sharing what cannot change.

    Like ``copy.deepcopy`` (shared references inside the node stay shared in the copy), except
    that it shares the node's random stream (see the module docstring) and never copies values
    nothing mutates — atoms, frozen dataclasses (the protocols' messages, log entries and
    configurations), enums and tuples of those — which is most of a protocol node's state. A
    node class may define ``__deepcopy__`` to copy itself faster still.
    """
    memo: dict[int, Any] = {id(node.rng): node.rng}
    if hasattr(type(node), "__deepcopy__"):
        return copy.deepcopy(node, memo)
    clone = copy.copy(node)
    memo[id(node)] = clone
    attrs = vars(clone)
    for k, v in vars(node).items():
        attrs[k] = copy_value(v, memo)
    clone.out = []
    return clone


def monitor_invariant(make_monitor: Callable[[], Any], name: str = "safety") -> Property:
    """An invariant that runs a fresh protocol monitor (``make_monitor().observe(state)``).

    The protocols' monitors read a cluster through :class:`~consensuslab.node.ClusterView`,
    which :class:`ActorState` is, and give the same verdict whether they watch every step or are
    asked once (their history lives in the nodes' ghost state, which is part of the explored
    state): so a fresh monitor per state checks the paper's properties of that state's history.
    A :class:`~consensuslab.check.SafetyViolation` it raises is the counterexample's detail,
    without the time the monitor read off the state: the explorer has no clock.
    """

    def condition(state: ActorState) -> bool:
        try:
            make_monitor().observe(state)
        except SafetyViolation as exc:
            if exc.time is None:
                raise
            raise SafetyViolation(exc.invariant, exc.detail) from None
        return True

    return Property(name, "always", condition)


class ActorModel:
    """Sans-I/O nodes, a network and clients, explored without a clock (module docstring).

    Parameters
    ----------
    make_node : callable
        ``make_node(node_id, peers, rng, stable)`` builds server ``node_id`` (e.g. a protocol
        config's ``make_node``).
    n : int
        Number of servers (ids ``0..n-1``; ``peers`` is that tuple).
    clients : sequence of callables
        Client factories, called as ``factory(actor_id, servers, rng, {})``; client ids follow
        the servers'.
    network : {"unordered", "duplicating", "lossy", "fifo", "latest"}
    crashes : int
        At most this many crashes in a run (restarts are free).
    drops : int, optional
        At most this many message drops (default: none, or unlimited under ``"lossy"``).
    properties : sequence of Property
        Invariants and reachability properties; conditions take an :class:`ActorState`.
    within : callable, optional
        The boundary (e.g. every term ≤ T); successors outside it are discarded.
    symmetry : callable, optional
        Maps a state to a canonical value shared by its symmetric states; fingerprinted instead.
    history, record_out, record_in : optional
        The initial client history and the functions that fold messages into it.
    seed : int
        Root of the actors' random streams.
    skip_noop_deliveries : bool
        stateright's no-op rule (module docstring): a delivery that changes nothing and emits
        nothing is no event, and the message stays in flight. Off by default.
    """

    def __init__(
        self,
        make_node: Callable[..., Node],
        n: int,
        *,
        clients: Sequence[Callable[..., Node]] = (),
        network: str = "unordered",
        crashes: int = 0,
        drops: int | None = None,
        properties: Sequence[Property] = (),
        within: Callable[[ActorState], bool] | None = None,
        symmetry: Callable[[ActorState], Any] | None = None,
        history: Any = None,
        record_out: Callable[[Any, int, int, Any], Any] | None = None,
        record_in: Callable[[Any, int, int, Any], Any] | None = None,
        seed: int = 0,
        skip_noop_deliveries: bool = False,
    ) -> None:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"`n` must be an integer >= 1 (the number of servers); got {n!r}.")
        if network not in NETWORKS:
            raise ValueError(f"`network` must be one of {NETWORKS}; got {network!r}.")
        if isinstance(crashes, bool) or not isinstance(crashes, int) or crashes < 0:
            raise ValueError(f"`crashes` must be an integer >= 0 (a budget); got {crashes!r}.")
        if drops is not None and (isinstance(drops, bool) or not isinstance(drops, int) or drops < 0):
            raise ValueError(f"`drops` must be None or an integer >= 0 (a budget); got {drops!r}.")
        if not callable(make_node):
            raise TypeError(f"`make_node` must be callable; got {make_node!r}.")
        for p in properties:
            if not isinstance(p, Property):
                raise TypeError(f"`properties` must hold Property values (always/sometimes); got {p!r}.")
        self.make_node = make_node
        self.n = n
        self.clients = tuple(clients)
        self.network = network
        self.crashes = crashes
        self.drops = (None if network == "lossy" else 0) if drops is None else drops
        self.properties = tuple(properties)
        self._within = within
        self._symmetry = symmetry
        self._history = history
        self._record_out = record_out
        self._record_in = record_in
        self.skip_noop_deliveries = bool(skip_noop_deliveries)
        self.servers = tuple(range(n))
        self.actors = n + len(self.clients)
        self._rngs = [np.random.default_rng([seed, i]) for i in range(self.actors)]
        self._initial: ActorState | None = None

    # -- the Model protocol ---------------------------------------------------------------
    def initial_states(self) -> list[ActorState]:
        if self._initial is None:
            self._initial = self._build_initial()
        return [self._initial]

    def within(self, state: ActorState) -> bool:
        return True if self._within is None else bool(self._within(state))

    def fingerprint(self, state: ActorState) -> bytes:
        if self._symmetry is not None:
            return _digest(canonical(self._symmetry(state)))
        net = state.network
        if net and isinstance(net[0][0], tuple):
            keys: Any = tuple((link, tuple(e.key for e in queue)) for link, queue in net)
        else:
            keys = tuple(e.key for e in net)
        history = None if self._record_out is None and self._record_in is None else canonical(state.history, "history")
        return _digest((state._fps, tuple(tuple(sorted(t)) for t in state.timers), keys, state.crashes, state.drops, history))

    def successors(self, state: ActorState) -> Iterator[tuple[Any, ActorState]]:
        nodes = state.nodes
        deliverable = self._deliverable(state.network)
        for index, env in deliverable:
            event = Deliver(env.src, env.dst, env.msg)
            if nodes[env.dst] is None:
                if self.network != "duplicating":
                    yield event, self._replace(state, network=self._take(state.network, index))
                continue
            nxt = self._deliver(state, index, env)
            if nxt is not None:
                yield event, nxt
        for i, node in enumerate(nodes):
            if node is None:
                continue
            for name in sorted(state.timers[i]):  # not set order: that varies by process
                yield Timeout(i, name), self._fire(state, i, name)
        if state.crashes < self.crashes:
            for i in self.servers:
                if nodes[i] is not None:
                    yield Crash(i), self._crash(state, i)
        for i in self.servers:
            if nodes[i] is None:
                yield Restart(i), self._restart(state, i)
        if self.drops is None or state.drops < self.drops:
            for index, env in deliverable:
                yield Drop(env.src, env.dst, env.msg), self._replace(
                    state, network=self._take(state.network, index), drops=state.drops + 1)

    # -- building states --------------------------------------------------------------------
    def _factory(self, i: int) -> Callable[..., Node]:
        return self.make_node if i < self.n else self.clients[i - self.n]

    def _build_initial(self) -> ActorState:
        count = self.actors
        state = ActorState(
            nodes=(None,) * count, storage=({},) * count, down_ghosts=(None,) * count,
            timers=(frozenset(),) * count, network=(), crashes=0, drops=0, history=self._history,
            fps=(b"",) * count, sfps=(_digest(canonical({})),) * count,
        )
        for i in range(count):
            state = self._start(state, i, {})
        return state

    def _start(self, state: ActorState, i: int, ghosts: dict[str, Any]) -> ActorState:
        node = self._factory(i)(i, self.servers, self._rngs[i], dict(state.storage[i]))
        adopt_ghosts(node, ghosts)
        node.now = 0.0
        node.on_start()
        return self._after(state, i, node, state.network)

    def _clone(self, node: Node) -> Node:
        return clone_node(node)

    def _deliver(self, state: ActorState, index: int, env: Envelope) -> ActorState | None:
        """The state after delivering ``env``; ``None`` for a skipped no-op delivery."""
        node = self._clone(state.nodes[env.dst])
        if env.src >= self.n and env.dst < self.n:
            node.on_client(env.msg)
        else:
            node.on_message(env.src, env.msg)
        if (self.skip_noop_deliveries and not node.out
                and _digest((node_state(node), state._sfps[env.dst])) == state._fps[env.dst]):
            return None
        network = state.network if self.network == "duplicating" else self._take(state.network, index)
        history = state.history
        if self._record_in is not None:
            history = self._record_in(history, env.src, env.dst, env.msg)
        return self._after(state, env.dst, node, network, history)

    def _fire(self, state: ActorState, i: int, name: str) -> ActorState:
        node = self._clone(state.nodes[i])
        timers = list(state.timers)
        timers[i] = timers[i] - {name}
        state = self._replace(state, timers=tuple(timers))
        node.on_timer(name)
        return self._after(state, i, node, state.network)

    def _crash(self, state: ActorState, i: int) -> ActorState:
        node = state.nodes[i]
        ghosts = {k: v for k, v in vars(node).items() if k.startswith("ghost_")}
        nodes, timers, dead, fps = list(state.nodes), list(state.timers), list(state.down_ghosts), list(state._fps)
        nodes[i], timers[i], dead[i] = None, frozenset(), ghosts
        fps[i] = _digest(("down", canonical(ghosts, f"node {i}'s ghost state"), state._sfps[i]))
        return self._replace(state, nodes=tuple(nodes), timers=tuple(timers), down_ghosts=tuple(dead),
                             fps=tuple(fps), crashes=state.crashes + 1)

    def _restart(self, state: ActorState, i: int) -> ActorState:
        ghosts = copy.deepcopy(state.down_ghosts[i] or {})
        dead = list(state.down_ghosts)
        dead[i] = None
        return self._start(self._replace(state, down_ghosts=tuple(dead)), i, ghosts)

    def _after(self, state: ActorState, i: int, node: Node, network: tuple, history: Any = None) -> ActorState:
        """``state`` with actor ``i`` replaced by ``node`` and ``node``'s effects performed."""
        history = state.history if history is None else history
        storage_i = state.storage[i]
        timers_i = state.timers[i]
        sent: list[tuple[int, Any]] = []
        effects: list[Any] = node.out
        node.out = []
        for e in effects:
            t = type(e)
            if t is Send:
                sent.append((e.dst, e.msg))
            elif t is Broadcast:
                sent.extend((dst, e.msg) for dst in node.peers if dst != i)
            elif t is SetTimer:
                if not e.delay >= 0:
                    raise ValueError(f"node {i} set timer {e.name!r} with negative delay {e.delay}")
                timers_i = timers_i | {e.name}
            elif t is CancelTimer:
                timers_i = timers_i - {e.name}
            elif t is Persist:
                storage_i = {**storage_i, **e.values}
            elif t is Reply:
                client = getattr(e.request, "client", None)
                if not (isinstance(client, int) and self.n <= client < self.actors):
                    raise ValueError(f"node {i} replied to client {client!r}, which is not a client actor "
                                     f"(ids {self.n}..{self.actors - 1})")
                sent.append((client, e.response))
            elif t is Note:
                pass
            else:
                raise TypeError(f"node {i} emitted an unknown effect {e!r}")
        if sent:
            network = self._send(network, i, sent)
            if self._record_out is not None:
                for dst, msg in sent:
                    history = self._record_out(history, i, dst, msg)
        nodes, storage, timers, fps = list(state.nodes), list(state.storage), list(state.timers), list(state._fps)
        sfps = state._sfps
        if storage_i is not state.storage[i]:
            sfps = sfps[:i] + (_digest(canonical(storage_i, f"node {i}'s storage")),) + sfps[i + 1:]
        nodes[i], storage[i], timers[i] = node, storage_i, frozenset(timers_i)
        fps[i] = _digest((node_state(node), sfps[i]))
        return self._replace(state, nodes=tuple(nodes), storage=tuple(storage), timers=tuple(timers),
                             network=network, history=history, fps=tuple(fps), sfps=sfps)

    @staticmethod
    def _replace(state: ActorState, **changes: Any) -> ActorState:
        values = {name: getattr(state, name) for name in ("nodes", "storage", "down_ghosts", "timers", "network",
                                                           "crashes", "drops", "history")}
        values["fps"] = changes.pop("fps", state._fps)
        values["sfps"] = changes.pop("sfps", state._sfps)
        values.update(changes)
        return ActorState(**values)

    # -- the network disciplines ----------------------------------------------------------------
    def _send(self, network: tuple, src: int, sent: list[tuple[int, Any]]) -> tuple:
        new = []
        for dst, msg in sent:
            if not (isinstance(dst, int) and 0 <= dst < self.actors):
                raise ValueError(f"node {src} sent {msg!r} to {dst!r}, which is not an actor (0..{self.actors - 1})")
            new.append(Envelope(repr((src, dst, canonical(msg, f"a message from {src} to {dst}"))), src, dst, msg))
        if self.network == "fifo":
            queues = dict(network)
            for env in new:
                link = (env.src, env.dst)
                queues[link] = queues.get(link, ()) + (env,)
            return tuple(sorted(queues.items()))
        if self.network == "duplicating":
            present = {e.key for e in network}
            merged = list(network)
            for env in new:
                if env.key not in present:
                    present.add(env.key)
                    merged.append(env)
            return tuple(sorted(merged, key=_key))
        if self.network == "latest":
            newest = {(env.src, env.dst): env for env in new}  # the last send on each link wins
            network = tuple(e for e in network if (e.src, e.dst) not in newest)
            new = list(newest.values())
        return tuple(sorted([*network, *new], key=_key))

    def _deliverable(self, network: tuple) -> list[tuple[int, Envelope]]:
        if self.network == "fifo":
            return [(k, queue[0]) for k, (_, queue) in enumerate(network)]
        out = []
        last = None
        for k, env in enumerate(network):
            if env.key != last:  # copies of one message lead to the same successor
                out.append((k, env))
                last = env.key
        return out

    def _take(self, network: tuple, index: int) -> tuple:
        if self.network == "fifo":
            link, queue = network[index]
            rest = queue[1:]
            return network[:index] + (((link, rest),) if rest else ()) + network[index + 1:]
        return network[:index] + network[index + 1:]

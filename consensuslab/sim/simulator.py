"""The deterministic discrete-event simulator.

Theory of operation
-------------------
Virtual time is a float in milliseconds. Pending events sit in a binary heap ordered by
``(time, sequence)``; the sequence number is a global counter, so events at equal times run in
the order they were scheduled (FIFO) and every run is a pure function of ``(configuration,
seed)``. One event is processed per :meth:`Simulator.step`: a message delivery, a timer, a
client request or reply, or a scheduled callback (faults, client logic).

Randomness flows from one root seed. Each consumer gets its own ``numpy.random.Generator`` from
``SeedSequence(seed, spawn_key=(domain, index))`` — exactly the children ``SeedSequence.spawn``
would produce, but addressed by name, so adding a node or a client never perturbs the network's
stream or any other node's stream. Domains: :data:`NETWORK` (one stream), :data:`NODES` (one
per node id), :data:`CLIENTS` (one per client id), :data:`AUX` (one per named user stream such
as the nemesis or a workload).

Faults. ``crash(i)``: node ``i`` loses its object (volatile state) and every armed timer;
messages addressed to it while it is down are dropped; what it persisted survives in
``storage[i]``. ``restart(i)``: a fresh node is built by the factory from ``storage[i]`` and
its ``on_start`` runs; its random stream continues where it stopped. Partitions cut directed
links (see :mod:`consensuslab.sim.network`).

Clocks (time as a fault). Virtual time ``now`` is real time; each node also has its own
clock, which is what the node reads as ``node.now`` (the driver sets it before each handler)
and what its timers count in. A clock is piecewise linear in real time: ``set_drift(i, d)`` makes
it run at rate ``1 + d`` from now on (``d = 1e-4`` is 100 ppm fast, ``d = 1.0`` twice as fast,
``d = -0.5`` half speed; ``d > -1``), ``jump_clock(i, delta)`` steps it by ``delta`` ms (an NTP
step, forwards or backwards). A timer set with delay ``x`` at clock reading ``c`` fires when the
node's clock reads ``c + x``: a fast clock fires early in real time, a forward jump fires every
timer it jumps over at once, and a drift or jump re-plans the node's armed timers. ``pause(i,
d)`` freezes node ``i`` for ``d`` ms of real time, as a stop-the-world GC pause does: nothing
reaches its handlers (messages, timers and client requests wait) and at the end it runs them
all, late; its clock keeps running (``clock_stops=True`` models a suspended VM, whose clock
stands still and so ends ``d`` ms behind). By default every clock is perfect (it reads ``now``)
and none of this code runs, so a run without clock faults is bit-identical to one on a
simulator without clocks.

Growing. :meth:`Simulator.add_node` appends node ``n`` (the next id) with its own stream
``(NODES, n)``, so adding a node perturbs neither the network's nor any other node's stream.
Its ``peers`` are all ids at the time it boots; nodes booted earlier keep their ``peers``, and
a ``Broadcast`` goes to the *sender's* peers (membership beyond that is the protocol's business).

Nodes are built by ``factory(node_id, peers, rng, stable) -> Node``. Clients are callables
``on_reply(node_id, response)`` registered with :meth:`add_client`; requests reach nodes through
the network's latency model but are never lost or partitioned (a client is outside the cluster;
model a lost request with a timeout in the client).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from consensuslab._validate import check_bool, check_float, check_int, check_probability, describe
from consensuslab.sim.network import Latency, Link, _Sampler, as_latency
from consensuslab.node import (
    Broadcast,
    CancelTimer,
    Node,
    NodeId,
    Note,
    Persist,
    Reply,
    Send,
    SetTimer,
    adopt_ghosts,
)
from consensuslab.sim.trace import Trace

__all__ = ["Simulator", "simulate", "NETWORK", "NODES", "CLIENTS", "AUX", "stream", "SimulationError", "InFlight"]

NETWORK, NODES, CLIENTS, AUX = 0, 1, 2, 3

# event kinds (ints compare fast)
_DELIVER, _TIMER, _REQUEST, _REPLY, _CALL = 0, 1, 2, 3, 4

NodeFactory = Callable[[NodeId, tuple[NodeId, ...], np.random.Generator, dict], Node]


class SimulationError(RuntimeError):
    """Misuse of the simulator (time in the past, unknown node, ...)."""


def stream(seed: int, domain: int, index: int = 0) -> np.random.Generator:
    """The independent random stream ``(domain, index)`` of root ``seed``."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(domain, index)))


class _Clock:
    """A node's clock: reads ``c0 + rate * (t - t0)`` at real time ``t`` (piecewise linear)."""

    __slots__ = ("t0", "c0", "rate")

    def __init__(self, t0: float, c0: float, rate: float) -> None:
        self.t0, self.c0, self.rate = t0, c0, rate

    def read(self, t: float) -> float:
        return self.c0 + self.rate * (t - self.t0)

    def real(self, c: float) -> float:
        """The real time at which the clock reads ``c`` (rate > 0)."""
        return self.t0 + (c - self.c0) / self.rate


class InFlight(NamedTuple):
    """A message on the wire: sent at ``sent`` (real ms, ``nan`` if unknown), due at ``due``."""

    seq: int
    src: NodeId
    dst: NodeId
    msg: Any
    sent: float
    due: float


def check_drift(drift: Any) -> float:
    """A clock rate offset: a finite number > -1 (``1 + drift`` is the clock's rate)."""
    if isinstance(drift, bool) or not isinstance(drift, (int, float, np.integer, np.floating)):
        raise TypeError(f"`drift` must be a number > -1 (a rate); got {describe(drift)}.")
    d = float(drift)
    if not (d > -1.0 and d < float("inf")):
        raise ValueError(f"`drift` must be a number > -1 (a rate); got {d}.")
    return d


class Simulator:
    """Runs sans-I/O nodes over a simulated network.

    Parameters
    ----------
    factory : callable
        ``factory(node_id, peers, rng, stable) -> Node``.
    n : int
        Number of nodes (ids ``0 .. n-1``), >= 1.
    seed : int
        Root seed, >= 0.
    latency : Latency, number or (low, high)
        Default one-way delay distribution in ms.
    loss, duplicate : float
        Default drop and duplication probabilities, in [0, 1].
    trace : bool
        Keep full trace records (message counters are always kept).
    kind_latency : mapping, optional
        Per message class delay distributions (see :meth:`set_kind_latency`).

    Examples
    --------
    >>> from consensuslab.sim.example import Flood
    >>> sim = Simulator(Flood, n=3, seed=1, latency=(1, 2))
    >>> sim.run_for(10.0)
    >>> sorted(node.seen for node in sim.nodes)
    [1, 1, 1]
    """

    def __init__(
        self,
        factory: NodeFactory,
        n: int,
        seed: int = 0,
        latency: Latency | float | Sequence[float] = (1.0, 10.0),
        loss: float = 0.0,
        duplicate: float = 0.0,
        trace: bool = True,
        kind_latency: Mapping[type, Latency | float | Sequence[float]] | None = None,
    ) -> None:
        if not callable(factory):
            raise TypeError(f"`factory` must be callable; got {describe(factory)}.")
        self.n = check_int("n", n, 1)
        self.seed = check_int("seed", seed, 0)
        self.factory = factory
        self.now = 0.0
        self.trace = Trace(enabled=check_bool("trace", trace))
        self._queue: list[tuple] = []
        self._seq = 0
        self.net_rng = stream(self.seed, NETWORK)
        self._uniform = _Sampler(_UnitUniform(), self.net_rng)
        self._latency = _Sampler(as_latency(latency), self.net_rng)
        self.loss = check_probability("loss", loss)
        self.duplicate = check_probability("duplicate", duplicate)
        self._links: dict[tuple[int, int], tuple[_Sampler, float | None, float | None]] = {}
        self._link_specs: dict[tuple[int, int], Link] = {}
        self._kind: dict[type, _Sampler] = {}
        for kind, dist in (kind_latency or {}).items():
            self.set_kind_latency(kind, dist)
        self.cut: set[tuple[int, int]] = set()
        self.ids: tuple[NodeId, ...] = tuple(range(self.n))
        self.rngs = [stream(self.seed, NODES, i) for i in self.ids]
        self.storage: list[dict[str, Any]] = [{} for _ in self.ids]
        self.nodes: list[Node | None] = [None] * self.n
        #: each node's ghost state over all its incarnations (see consensuslab.node.adopt_ghosts)
        self.ghosts: list[dict[str, Any]] = [{} for _ in self.ids]
        self._incarnation = [0] * self.n
        self._timers: list[dict[str, int]] = [{} for _ in self.ids]
        self._clients: list[Callable[[NodeId, Any], None]] = []
        self.step_hooks: list[Callable[[Simulator], None]] = []
        self.events_processed = 0
        self._started = False
        # time as a fault (all inert until a clock fault is injected; see the module notes)
        self._clocks: list[_Clock | None] = [None] * self.n  # None: a perfect clock (reads now)
        self._due: list[dict[str, float]] = [{} for _ in self.ids]  # timer -> deadline, node clock
        self._paused_until: list[float] = [0.0] * self.n
        self._paused: set[NodeId] = set()  # nodes whose pause may still be running
        self._cancelled: set[int] = set()  # in-flight messages dropped by hand (drop_message)
        self._sent_at: dict[int, float] = {}  # message seq -> send time (in_flight, from the trace)
        self._sent_scan = 0

    # -- construction --------------------------------------------------------------
    def start(self) -> None:
        """Build and start every node (done automatically by the first run call)."""
        if self._started:
            return
        self._started = True
        for i in self.ids:
            self._boot(i)

    def _boot(self, i: NodeId) -> None:
        node = self.factory(i, self.ids, self.rngs[i], dict(self.storage[i]))
        if not isinstance(node, Node):
            raise TypeError(f"`factory` must return a Node; got {describe(node)}.")
        adopt_ghosts(node, self.ghosts[i])
        self.nodes[i] = node
        self._call(node, node.on_start)

    def add_node(self) -> NodeId:
        """Add node ``n`` (the next id) and boot it if the simulation has started; return its id.

        The new node has its own random stream ``(NODES, id)``, so no other stream is perturbed;
        its ``peers`` are all ids, itself included. Nodes already running keep their ``peers``
        (a protocol with membership changes tells them). Partitions in force do not cut it off.
        """
        i = self.n
        self.n += 1
        self.ids = self.ids + (i,)
        self.rngs.append(stream(self.seed, NODES, i))
        self.storage.append({})
        self.nodes.append(None)
        self.ghosts.append({})
        self._incarnation.append(0)
        self._timers.append({})
        self._due.append({})
        self._clocks.append(None)
        self._paused_until.append(0.0)
        self.trace.record(self.now, "fault", i, None, "add_node")
        if self._started:
            self._boot(i)
        return i

    def add_client(self, on_reply: Callable[[NodeId, Any], None]) -> int:
        """Register a client callback; returns the client id (its own random stream index)."""
        self._clients.append(on_reply)
        return len(self._clients) - 1

    def client_rng(self, client: int) -> np.random.Generator:
        return stream(self.seed, CLIENTS, client)

    # -- scheduling ----------------------------------------------------------------
    def _push(self, time: float, kind: int, a: Any, b: Any, c: Any) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (time, self._seq, kind, a, b, c))

    def schedule(self, delay: float, fn: Callable[..., Any], *args: Any) -> None:
        """Call ``fn(*args)`` after ``delay`` ms of virtual time (delay >= 0)."""
        if not delay >= 0:
            raise SimulationError(f"cannot schedule in the past: delay={delay} ms")
        self._push(self.now + delay, _CALL, fn, args, None)

    def schedule_at(self, time: float, fn: Callable[..., Any], *args: Any) -> None:
        """Call ``fn(*args)`` at absolute virtual ``time`` (>= now)."""
        if not time >= self.now:
            raise SimulationError(f"cannot schedule in the past: time={time} < now={self.now}")
        self._push(time, _CALL, fn, args, None)

    def request(self, client: int, node: NodeId, request: Any) -> None:
        """Client ``client`` sends ``request`` to ``node`` (delivered after a network delay)."""
        self._check_node(node)
        self._push(self.now + self._latency(), _REQUEST, node, client, request)

    # -- effects -------------------------------------------------------------------
    def _call(self, node: Node, handler: Callable[..., None], *args: Any) -> None:
        clock = self._clocks[node.id]
        node.now = self.now if clock is None else clock.read(self.now)
        handler(*args)
        out = node.out
        if out:
            node.out = []
            self._apply(node.id, out)

    def _apply(self, src: NodeId, effects: list) -> None:
        for e in effects:
            t = type(e)
            if t is Send:
                self._send(src, e.dst, e.msg)
            elif t is Broadcast:  # to the sender's peers (every id, unless it joined later)
                msg = e.msg
                sender = self.nodes[src]
                for dst in (self.ids if sender is None else sender.peers):
                    if dst != src:
                        self._send(src, dst, msg)
            elif t is SetTimer:
                gen = self._seq + 1
                self._timers[src][e.name] = gen
                if not e.delay >= 0:
                    raise SimulationError(f"node {src} set timer {e.name!r} with negative delay {e.delay}")
                clock = self._clocks[src]
                if clock is None:
                    self._push(self.now + e.delay, _TIMER, src, e.name, gen)
                else:  # the delay counts on the node's clock
                    due = clock.read(self.now) + e.delay
                    self._due[src][e.name] = due
                    self._push(max(self.now, clock.real(due)), _TIMER, src, e.name, gen)
            elif t is CancelTimer:
                self._timers[src].pop(e.name, None)
            elif t is Persist:
                self.storage[src].update(e.values)
            elif t is Reply:
                client = e.request.client
                self._push(self.now + self._latency(), _REPLY, client, src, e.response)
                self.trace.record(self.now, "reply", src, None, type(e.response).__name__, e.response)
            elif t is Note:
                self.trace.record(self.now, "note", src, None, e.event, e.data)
            else:
                raise SimulationError(f"node {src} emitted an unknown effect {e!r}")

    def _send(self, src: NodeId, dst: NodeId, msg: Any) -> None:
        trace = self.trace
        trace._sent[type(msg)] += 1
        if self.cut and (src, dst) in self.cut:
            self._drop(src, dst, msg, "partition")
            return
        link = self._links.get((src, dst)) if self._links else None
        loss: float | None  # a link's None means "the default"; resolved to a float below
        dup: float | None
        if link is None:
            sampler, loss, dup = self._latency, self.loss, self.duplicate
            if self._kind:
                sampler = self._kind.get(type(msg), sampler)
        else:
            sampler, loss, dup = link
            if loss is None:
                loss = self.loss
            if dup is None:
                dup = self.duplicate
        if loss and self._uniform() < loss:
            self._drop(src, dst, msg, "loss")
            return
        self._seq += 1
        heapq.heappush(self._queue, (self.now + sampler(), self._seq, _DELIVER, dst, src, msg))
        if trace.enabled:
            trace.records.append((self.now, "send", src, dst, type(msg).__name__, msg, self._seq))
        if dup and self._uniform() < dup:
            self._seq += 1
            heapq.heappush(self._queue, (self.now + sampler(), self._seq, _DELIVER, dst, src, msg))
            if trace.enabled:
                trace.records.append((self.now, "duplicate", src, dst, type(msg).__name__, msg, self._seq))

    def _drop(self, src: NodeId, dst: NodeId, msg: Any, reason: str, msg_id: int | None = None) -> None:
        """Record a dropped message; ``msg_id`` is set for drops at delivery (else a send-time drop)."""
        self.trace._dropped[type(msg)] += 1
        if self.trace.enabled:
            self.trace.records.append((self.now, "drop", src, dst, type(msg).__name__, (reason, msg), msg_id))

    def call(self, i: NodeId, method: str, *args: Any) -> Any:
        """Run node ``i``'s ``method(*args)`` as an input handler and perform its effects.

        For scenarios that make a chosen node act at a chosen moment (campaign, hand over
        leadership). Returns what the method returned.
        """
        node = self.nodes[self._check_node(i)]
        if node is None:
            raise SimulationError(f"node {i} is down")
        box: list[Any] = []
        self._call(node, lambda: box.append(getattr(node, method)(*args)))
        return box[0]

    # -- running -------------------------------------------------------------------
    def step(self) -> bool:
        """Process one event; return False if the queue is empty."""
        if not self._started:
            self.start()
        if not self._queue:
            return False
        time, seq, kind, a, b, c = heapq.heappop(self._queue)
        self.now = time
        if self._paused and kind != _CALL and kind != _REPLY and a in self._paused:
            if self._defer(time, kind, a, b, c):
                return True
        self.events_processed += 1
        trace = self.trace
        if kind == _DELIVER:  # a = dst, b = src, c = msg
            node = self.nodes[a]
            if self._cancelled and seq in self._cancelled:
                self._cancelled.discard(seq)
                self._drop(b, a, c, "dropped", seq)
            elif node is None:
                self._drop(b, a, c, "down", seq)
            elif self.cut and (b, a) in self.cut:
                self._drop(b, a, c, "partition", seq)
            else:
                trace._delivered[type(c)] += 1
                if trace.enabled:
                    trace.records.append((time, "deliver", a, b, type(c).__name__, c, seq))
                self._call(node, node.on_message, b, c)
        elif kind == _TIMER:  # a = node, b = name, c = generation
            if self._timers[a].get(b) == c:
                del self._timers[a][b]
                node = self.nodes[a]
                if trace.enabled:
                    trace.records.append((time, "timer", a, None, b, None, None))
                self._call(node, node.on_timer, b)
        elif kind == _REQUEST:  # a = node, b = client, c = request
            node = self.nodes[a]
            if node is None:
                trace.record(time, "drop", None, a, type(c).__name__, ("down", c))
            else:
                trace.record(time, "client", a, None, type(c).__name__, c)
                self._call(node, node.on_client, c)
        elif kind == _REPLY:  # a = client, b = node, c = response
            self._clients[a](b, c)
        else:  # _CALL: a = fn, b = args
            a(*b)
        for hook in self.step_hooks:
            hook(self)
        return True

    def run_for(self, duration: float) -> None:
        """Advance virtual time by ``duration`` ms, processing every event due by then."""
        duration = check_float("duration", duration, 0.0)
        self.run_until_time(self.now + duration)

    def run_until_time(self, time: float) -> None:
        """Process every event with time <= ``time``; then ``now = time``."""
        if time < self.now:
            raise SimulationError(f"cannot run until {time} ms: it is in the past (now={self.now})")
        if not self._started:
            self.start()
        queue = self._queue
        step = self.step
        while queue and queue[0][0] <= time:
            step()
        self.now = time

    def run_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Run until ``predicate()`` holds (checked after every event) or ``timeout`` ms pass.

        Returns True if the predicate held; time stops at the event that satisfied it.
        """
        timeout = check_float("timeout", timeout, 0.0)
        if not self._started:
            self.start()
        if predicate():
            return True
        deadline = self.now + timeout
        queue = self._queue
        while queue and queue[0][0] <= deadline:
            self.step()
            if predicate():
                return True
        self.now = deadline
        return False

    # -- faults --------------------------------------------------------------------
    def _check_node(self, i: Any) -> NodeId:
        return check_int("node", i, 0, self.n - 1)

    def is_up(self, i: NodeId) -> bool:
        return self.nodes[self._check_node(i)] is not None

    def crash(self, i: NodeId) -> None:
        """Crash node ``i``: volatile state and armed timers are lost; storage survives."""
        i = self._check_node(i)
        if not self._started:
            self.start()
        if self.nodes[i] is None:
            return
        self.nodes[i] = None
        self._timers[i] = {}
        self._incarnation[i] += 1
        self._paused_until[i] = 0.0  # a crash ends a pause (what waited for it is now late)
        self.trace.record(self.now, "crash", i, None, "crash")

    def restart(self, i: NodeId) -> None:
        """Restart crashed node ``i`` from what it persisted (no-op if it is up)."""
        i = self._check_node(i)
        if not self._started:
            self.start()
        if self.nodes[i] is not None:
            return
        self.trace.record(self.now, "restart", i, None, "restart")
        self._boot(i)

    def partition(self, *groups: Iterable[NodeId]) -> None:
        """Split the nodes into ``groups``; nodes in different groups cannot talk.

        Nodes not named in any group form one more group together. Replaces any earlier
        partition. ``partition([0, 1], [2, 3, 4])`` isolates {0, 1} from {2, 3, 4}.
        """
        where: dict[int, int] = {}
        for g, members in enumerate(groups):
            if isinstance(members, (str, bytes)) or not isinstance(members, Iterable):
                raise TypeError(
                    "`groups` must be groups of node ids, one iterable per group, e.g. "
                    f"partition([0, 1], [2, 3, 4]); group {g} is {describe(members)}."
                )
            for i in members:
                i = self._check_node(i)
                if i in where:
                    raise ValueError(f"`groups` must be disjoint; node {i} appears twice.")
                where[i] = g
        rest = len(groups)
        self.cut = {
            (a, b)
            for a in self.ids
            for b in self.ids
            if a != b and where.get(a, rest) != where.get(b, rest)
        }
        self.trace.record(self.now, "fault", None, None, "partition", [sorted(g) for g in groups])

    def cut_link(self, src: NodeId, dst: NodeId, both: bool = False) -> None:
        """Cut the directed link ``src -> dst`` (a one-way partition); ``both`` cuts both ways."""
        src, dst = self._check_node(src), self._check_node(dst)
        self.cut.add((src, dst))
        if both:
            self.cut.add((dst, src))
        self.trace.record(self.now, "fault", src, dst, "cut", both)

    def isolate(self, i: NodeId) -> None:
        """Cut every link to and from node ``i`` (keeps other cuts)."""
        i = self._check_node(i)
        for j in self.ids:
            if j != i:
                self.cut.add((i, j))
                self.cut.add((j, i))
        self.trace.record(self.now, "fault", i, None, "isolate")

    def heal(self) -> None:
        """Remove every partition and cut link."""
        self.cut = set()
        self.trace.record(self.now, "fault", None, None, "heal")

    def set_loss(self, p: float) -> None:
        """Set the default message-loss probability."""
        self.loss = check_probability("p", p)
        self.trace.record(self.now, "fault", None, None, "loss", self.loss)

    def set_duplicate(self, p: float) -> None:
        self.duplicate = check_probability("p", p)

    def set_latency(self, latency: Latency | float | Sequence[float]) -> None:
        """Replace the default latency distribution."""
        self._latency = _Sampler(as_latency(latency), self.net_rng)

    def set_kind_latency(self, kind: type, latency: Latency | float | Sequence[float] | None) -> None:
        """Delay messages of class ``kind`` by ``latency`` (``None`` removes the override).

        Precedence: a per-link override, then the message kind's, then the default. The PBS
        WARS model, for instance, gives write requests, acks, reads and read responses four
        different distributions.
        """
        if not isinstance(kind, type):
            raise TypeError(f"`kind` must be a message class; got {describe(kind)}.")
        if latency is None:
            self._kind.pop(kind, None)
        else:
            self._kind[kind] = _Sampler(as_latency(latency, "latency"), self.net_rng)

    def set_link(self, src: NodeId, dst: NodeId, link: Link | None) -> None:
        """Override the settings of the directed link ``src -> dst`` (``None`` removes it)."""
        key = (self._check_node(src), self._check_node(dst))
        if link is None:
            self._links.pop(key, None)
            self._link_specs.pop(key, None)
            return
        if not isinstance(link, Link):
            raise TypeError(f"`link` must be a Link or None; got {describe(link)}.")
        sampler = _Sampler(link.latency, self.net_rng) if link.latency is not None else self._latency
        self._links[key] = (sampler, link.loss, link.duplicate)  # None: the current default
        self._link_specs[key] = link

    # -- time as a fault -----------------------------------------------------------
    def clock(self, i: NodeId) -> float:
        """Node ``i``'s clock reading now, ms (what it sees as ``now``)."""
        clock = self._clocks[self._check_node(i)]
        return self.now if clock is None else clock.read(self.now)

    def drift(self, i: NodeId) -> float:
        """Node ``i``'s clock rate minus one (0 for a perfect clock)."""
        clock = self._clocks[self._check_node(i)]
        return 0.0 if clock is None else clock.rate - 1.0

    def _install_clock(self, i: NodeId) -> _Clock:
        """Give node ``i`` an explicit clock (reading real time so far) and the deadlines of
        its armed timers, read off the queue (until now they were due at real times)."""
        clock = self._clocks[i]
        if clock is None:
            clock = self._clocks[i] = _Clock(self.now, self.now, 1.0)
            armed = self._timers[i]
            due = self._due[i]
            for time, _seq, kind, a, b, c in self._queue:
                if kind == _TIMER and a == i and armed.get(b) == c:
                    due[b] = time
        return clock

    def _replan_timers(self, i: NodeId) -> None:
        """Re-plan node ``i``'s armed timers after its clock changed (new generations)."""
        clock = self._clocks[i]
        assert clock is not None
        due = self._due[i]
        armed = self._timers[i]
        for name in list(armed):
            gen = self._seq + 1
            armed[name] = gen
            self._push(max(self.now, clock.real(due[name])), _TIMER, i, name, gen)

    def set_drift(self, i: NodeId, drift: float) -> None:
        """From now on node ``i``'s clock runs at rate ``1 + drift`` (a rate: 1e-4 is 100 ppm).

        Raises
        ------
        ValueError, TypeError
            ``drift`` must be a finite number > -1 (a clock that stops or runs backwards is
            not a clock).
        """
        i = self._check_node(i)
        rate = 1.0 + check_drift(drift)
        clock = self._install_clock(i)
        c = clock.read(self.now)
        clock.t0, clock.c0, clock.rate = self.now, c, rate
        self._replan_timers(i)
        self.trace.record(self.now, "fault", i, None, "drift", rate - 1.0)

    def jump_clock(self, i: NodeId, delta: float) -> None:
        """Step node ``i``'s clock by ``delta`` ms (negative: backwards), as an NTP step does.

        Timers count on the clock: a forward jump fires at once every timer it passes.
        """
        i = self._check_node(i)
        delta = check_float("delta", delta)
        clock = self._install_clock(i)
        clock.c0 = clock.read(self.now) + delta
        clock.t0 = self.now
        self._replan_timers(i)
        self.trace.record(self.now, "fault", i, None, "jump", delta)

    def pause(self, i: NodeId, duration: float, clock_stops: bool = False) -> None:
        """Freeze node ``i`` for ``duration`` ms of real time (a stop-the-world GC pause).

        While paused the node runs no handler: messages, timers and client requests addressed
        to it wait and are handled, in order, when it resumes -- its timers fire late. Its
        clock keeps running, unless ``clock_stops`` (a suspended VM): then it stands still and
        the node resumes ``duration`` ms (times its rate) behind. A pause on a paused node
        extends it; a crash ends it.

        Raises
        ------
        ValueError, TypeError
            ``duration`` must be a finite number >= 0 (ms).
        """
        i = self._check_node(i)
        if isinstance(duration, bool) or not isinstance(duration, (int, float, np.integer, np.floating)):
            raise TypeError(f"`duration` must be a number >= 0 (ms); got {describe(duration)}.")
        duration = float(duration)
        if not (duration >= 0.0 and duration < float("inf")):
            raise ValueError(f"`duration` must be a number >= 0 (ms); got {duration}.")
        check_bool("clock_stops", clock_stops)
        if not self._started:
            self.start()
        until = self.now + duration
        if until > self._paused_until[i]:
            self._paused_until[i] = until
        self._paused.add(i)
        if clock_stops and duration > 0:
            self._push(until, _CALL, self._stopped_clock, (i, duration), None)
        self.trace.record(self.now, "fault", i, None, "pause", (duration, clock_stops))

    def _stopped_clock(self, i: NodeId, duration: float) -> None:
        # runs before the events deferred to the end of the pause (it was queued first)
        clock = self._install_clock(i)
        clock.c0 = clock.read(self.now) - clock.rate * duration
        clock.t0 = self.now
        self._replan_timers(i)

    def paused(self, i: NodeId) -> bool:
        """Whether node ``i`` is frozen by :meth:`pause` now."""
        return self._paused_until[self._check_node(i)] > self.now

    def _defer(self, time: float, kind: int, a: NodeId, b: Any, c: Any) -> bool:
        """Hold an event for paused node ``a`` until it resumes; False if it is not paused."""
        until = self._paused_until[a]
        if until <= time:
            self._paused.discard(a)
            return False
        if kind == _TIMER and self._timers[a].get(b) != c:
            return True  # a stale timer: nothing to hold
        self._push(until, kind, a, b, c)
        return True

    def drop_message(self, seq: int) -> bool:
        """Drop the in-flight message ``seq`` (see :meth:`in_flight`); False if none is pending."""
        seq = check_int("seq", seq, 0)
        if not any(e[1] == seq and e[2] == _DELIVER for e in self._queue):
            return False
        self._cancelled.add(seq)
        return True

    def in_flight(self) -> list[InFlight]:
        """Messages on the wire, by due time (``sent`` comes from the trace when it is on)."""
        sent = self._sent_at
        if self.trace.enabled:  # read the records added since the last call
            records = self.trace.records
            for k in range(self._sent_scan, len(records)):
                rec = records[k]
                mid = rec[6]
                if (rec[1] == "send" or rec[1] == "duplicate") and mid is not None:
                    sent[mid] = rec[0]
            self._sent_scan = len(records)
        out = [InFlight(seq, b, a, c, sent.get(seq, float("nan")), time)
               for time, seq, kind, a, b, c in self._queue
               if kind == _DELIVER and seq not in self._cancelled]
        out.sort(key=lambda m: (m.due, m.seq))
        return out

    # -- observation ---------------------------------------------------------------
    @property
    def messages_sent(self) -> int:
        return self.trace.messages_sent

    @property
    def pending(self) -> int:
        """Events still queued."""
        return len(self._queue)


class _UnitUniform(Latency):
    def sample(self, rng: np.random.Generator, size: int | tuple[int, ...]) -> np.ndarray:
        return rng.random(size)

    @property
    def mean(self) -> float:
        return 0.5


def simulate(
    config: Any,
    seed: int = 0,
    latency: Latency | float | Sequence[float] = (5.0, 15.0),
    loss: float = 0.0,
    duplicate: float = 0.0,
    trace: bool = True,
    check: bool = True,
) -> Simulator:
    """A bare :class:`Simulator` running a protocol configuration, without clients.

    ``config`` is any protocol configuration (:mod:`consensuslab.protocols`): the simulator reads
    only ``config.n``, ``config.make_node`` and ``config.monitor()``, so it never imports a
    protocol. With ``check=True`` the monitor runs after every step; either way it is kept in
    ``sim.monitor``. :class:`~consensuslab.cluster.Cluster` is the facade with clients, a
    nemesis and histories; this is the lower level the Paxos walkthroughs and tests use.

    Examples
    --------
    >>> from consensuslab.protocols.paxos import PaxosConfig
    >>> sim = simulate(PaxosConfig(n=3), seed=1, latency=10.0)
    >>> sim.run_for(100.0)
    >>> [node.decided for node in sim.nodes]
    [1, 1, 1]
    """
    check_bool("check", check)
    sim = Simulator(config.make_node, config.n, seed, latency=latency, loss=loss, duplicate=duplicate, trace=trace)
    monitor = config.monitor()
    sim.monitor = monitor  # type: ignore[attr-defined]  # an extra attribute, documented above
    if check:
        sim.step_hooks.append(monitor.observe)
    return sim

"""Single-decree Paxos (Lamport, "Paxos Made Simple", 2001, §2) with flexible quorums.

Theory of operation
-------------------
Every node plays the three roles of the paper at once: it is an **acceptor** (it promises and
accepts ballots, durably), a **learner** (it detects that a value has been *chosen*) and —
if it is listed in ``PaxosConfig.proposers`` or asked by a client — a **proposer**.

A ballot is the ordered pair :class:`Ballot` ``(round, proposer)``: tuples compare
lexicographically, so ballots are totally ordered and two proposers never share one. A
proposer persists the highest round it used before sending anything with it (§2.3: "a proposer
... must remember the highest-numbered proposal it has ever tried to issue").

==============  =====================================================================  =====
message         rule                                                                   paper
==============  =====================================================================  =====
``Prepare``     phase 1a: the proposer asks every acceptor for a promise on ``ballot``  §2.2
``Promise``     phase 1b: the acceptor promises to ignore lower ballots and reports     §2.2
                the highest-ballot proposal it has accepted (if any)
``Accept``      phase 2a: once a phase-1 quorum promised, the proposer asks to accept   §2.2
                the value of the highest accepted proposal reported, else its own
``Accepted``    phase 2b: the acceptor accepted; sent to the distinguished learner     §2.3
                (the proposer, ``learn="proposer"``) or to every learner (``"all"``)
``Nack``        rejection: the ballot is lower than the acceptor's promise; carries    §2.3
                the promise so the proposer can jump past it (the paper's suggested
                optimisation)
``Decide``      learn notification: the value was chosen (sent by the learner that     §2.3
                saw a phase-2 quorum)
``Query``       an undecided learner asks every node what was chosen (after            §2.3
                ``learn_timeout`` ms without a decision: notifications can be lost)
==============  =====================================================================  =====

An acceptor persists ``promised`` and ``accepted`` *before* it answers (effects run in
emission order, see :mod:`consensuslab.node`), so a restarted acceptor keeps its promise.
A node's messages to itself are handled locally (no network hop, no message counted): in the
founding example A is both the proposer and one of the three acceptors.

Uncontended message counts (``learn="proposer"``, ``n`` acceptors, proposer among them):
``n - 1`` each of Prepare, Promise, Accept, Accepted and Decide — 5(n - 1) messages, i.e. two
round trips (four message delays) until the proposer knows the value is chosen, plus one
one-way Decide. With ``n = 3`` that is 10 messages.

**Flexible quorums** (Howard, Malkhi & Spiegelman 2016): the phase-1 quorums ``q1`` and the
phase-2 quorums ``q2`` are configured independently — as sizes (``k`` of ``n``) or as any quorum
system exposing ``is_quorum(alive_bool_vector)`` and ``n`` (``consensuslab.quorum``). Paxos is
safe iff every phase-1 quorum intersects every phase-2 quorum; :class:`PaxosConfig` rejects a
configuration that breaks this unless ``unsafe=True`` (used to *find* a violation).

**Retry policies** (§2.4, progress): a proposer whose ballot is rejected (``Nack``) or times out
tries again with a higher ballot — at once (:attr:`RetryPolicy.IMMEDIATE`, can livelock with
duelling proposers), after a randomized exponential backoff (:attr:`RetryPolicy.BACKOFF`), or
only if it is the distinguished proposer (:attr:`RetryPolicy.LEADER`: a proposer beaten by a
lower-id proposer steps aside for ``leader_timeout`` ms, the paper's "distinguished proposer").

:class:`PaxosMonitor` checks after every simulator step: **agreement** (at most one value is
chosen: a phase-2 quorum accepted the same ballot), **validity** (only proposed values are
accepted or learned), that every learned value was chosen, that an acceptor's promise never
decreases (across restarts too) and that it never accepts below its promise.

References
----------
Lamport, L. (2001). Paxos Made Simple. ACM SIGACT News 32(4), §2.
Howard, H., Malkhi, D. and Spiegelman, A. (2016). Flexible Paxos: Quorum intersection
revisited. OPODIS 2016.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, Protocol, runtime_checkable

import numpy as np

from consensuslab._validate import check_choice, check_float, check_int, check_range_pair, describe
from consensuslab.check.safety import SafetyViolation
from consensuslab.protocols.base import Monitor, ProtocolConfig
from consensuslab.node import ClusterView, Node, NodeId

__all__ = [
    "phase_quorums",
    "Ballot",
    "Loopback",
    "ZERO",
    "Prepare",
    "Promise",
    "Accept",
    "Accepted",
    "Nack",
    "Decide",
    "Query",
    "ProposeRequest",
    "DecidedResponse",
    "RetryPolicy",
    "Phase",
    "QuorumSystemLike",
    "Quorum",
    "as_quorum",
    "quorums_intersect",
    "PaxosConfig",
    "PaxosNode",
    "PaxosMonitor",
]


class Ballot(NamedTuple):
    """A ballot number ``(round, proposer)``; ordered lexicographically, unique per proposer."""

    round: int
    proposer: int

    def __str__(self) -> str:
        return f"({self.round},{self.proposer})"


#: Lower than every real ballot (real rounds start at 1).
ZERO = Ballot(0, -1)


# -- messages (§2.2) -----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Prepare:
    """Phase 1a: promise not to accept ballots below ``ballot``."""

    ballot: Ballot


@dataclass(frozen=True, slots=True)
class Promise:
    """Phase 1b: promise for ``ballot``; ``accepted`` is the highest accepted ``(ballot, value)``."""

    ballot: Ballot
    accepted: tuple[Ballot, Any] | None


@dataclass(frozen=True, slots=True)
class Accept:
    """Phase 2a: accept ``value`` in ``ballot``."""

    ballot: Ballot
    value: Any


@dataclass(frozen=True, slots=True)
class Accepted:
    """Phase 2b: the sender accepted ``value`` in ``ballot``."""

    ballot: Ballot
    value: Any


@dataclass(frozen=True, slots=True)
class Nack:
    """Rejection of ``ballot``: the sender has promised the higher ``promised``."""

    ballot: Ballot
    promised: Ballot


@dataclass(frozen=True, slots=True)
class Decide:
    """Learn notification: ``value`` was chosen (in ``ballot``)."""

    ballot: Ballot
    value: Any


@dataclass(frozen=True, slots=True)
class Query:
    """An undecided learner asks "what was chosen?"; a decided node answers with Decide."""


@dataclass(frozen=True, slots=True)
class ProposeRequest:
    """A client asks a node to propose ``value`` (it becomes a proposer)."""

    client: int
    value: Any


@dataclass(frozen=True, slots=True)
class DecidedResponse:
    """Answer to :class:`ProposeRequest`: the value that was chosen (maybe another one)."""

    client: int
    value: Any


class RetryPolicy(str, enum.Enum):
    """What a proposer does when its ballot is rejected or times out (§2.4, progress)."""

    IMMEDIATE = "immediate"  #: retry at once with a higher ballot (may livelock)
    BACKOFF = "backoff"  #: wait a random time in [0, min(cap, base * 2**attempt)) first
    LEADER = "leader"  #: distinguished proposer: the lowest-id proposer wins, others defer


class Phase(enum.Enum):
    """Proposer state."""

    IDLE = "idle"
    PREPARING = "phase 1"
    ACCEPTING = "phase 2"
    WAITING = "waiting"  # backing off / deferring before a new ballot
    DONE = "done"


# -- quorums ---------------------------------------------------------------------------------
@runtime_checkable
class QuorumSystemLike(Protocol):
    """What Paxos needs from a quorum system: its size and a quorum test on an alive vector."""

    n: int

    def is_quorum(self, alive: Any) -> Any: ...


class Quorum:
    """A phase-1 or phase-2 quorum rule over nodes ``0 .. n-1``: a size or a quorum system.

    Parameters
    ----------
    n : int
        Number of acceptors.
    size : int, optional
        Any ``size`` acceptors form a quorum.
    system : QuorumSystemLike, optional
        A quorum system (``is_quorum(alive_bool_vector)``); exactly one of ``size``/``system``.
    """

    __slots__ = ("n", "size", "system")

    def __init__(self, n: int, size: int | None = None, system: QuorumSystemLike | None = None) -> None:
        if (size is None) == (system is None):
            raise ValueError("exactly one of `size` and `system` must be given")
        self.n = n
        self.size = size
        self.system = system

    def is_quorum(self, members: Collection[int]) -> bool:
        """True if the acceptors in ``members`` form a quorum."""
        size = self.size
        if size is not None:
            return len(members) >= size
        system = self.system
        assert system is not None  # exactly one of size/system is set (checked in __init__)
        alive = np.zeros(self.n, dtype=bool)
        alive[list(members)] = True
        return bool(np.asarray(system.is_quorum(alive)).all())

    def is_quorum_states(self, states: np.ndarray) -> np.ndarray:
        """Vectorized quorum test over a ``(m, n)`` bool matrix of alive patterns."""
        if self.size is not None:
            return states.sum(axis=1) >= self.size
        system = self.system
        assert system is not None  # exactly one of size/system is set (checked in __init__)
        try:
            out = np.asarray(system.is_quorum(states), dtype=np.bool_)
            if out.shape == (len(states),):
                return out
        except Exception:  # a system that only takes one vector: fall back to a loop
            pass
        return np.fromiter((bool(np.asarray(system.is_quorum(s)).all()) for s in states), bool, len(states))

    def __repr__(self) -> str:
        return f"{self.size} of {self.n}" if self.size is not None else repr(self.system)


def as_quorum(name: str, spec: int | QuorumSystemLike | None, n: int) -> Quorum:
    """Validate a quorum specification: ``None`` (majority), a size ``1..n`` or a system of ``n`` nodes."""
    if spec is None:
        return Quorum(n, size=n // 2 + 1)
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
        return Quorum(n, size=check_int(name, spec, 1, n))
    if hasattr(spec, "is_quorum") and hasattr(spec, "n"):
        if spec.n != n:
            raise ValueError(f"`{name}` must be a quorum system over n={n} nodes; got one over {spec.n}.")
        return Quorum(n, system=spec)
    raise TypeError(f"`{name}` must be None, an int or a quorum system with is_quorum(); got {describe(spec)}.")


def quorums_intersect(q1: Quorum, q2: Quorum) -> bool:
    """True if every phase-1 quorum meets every phase-2 quorum (Flexible Paxos condition).

    For sizes this is ``q1 + q2 > n``. For quorum systems, :func:`consensuslab.quorum.intersecting`
    decides; for other objects with ``is_quorum`` all ``2**n`` alive patterns are enumerated: by
    monotonicity some ``A in Q1`` and ``B in Q2`` are disjoint iff some pattern ``S`` is a
    phase-1 quorum while its complement is a phase-2 quorum.
    """
    if q1.size is not None and q2.size is not None:
        return q1.size + q2.size > q1.n
    try:  # the quorum package's check (minimal quorums of one side vs the other)
        from consensuslab.quorum import QuorumSystem, Threshold, intersecting  # noqa: PLC0415
    except ImportError:  # pragma: no cover - the package is part of consensuslab
        pass
    else:
        # exactly one of size/system is set: a size becomes the equivalent threshold system
        a = q1.system if q1.size is None else Threshold(q1.n, q1.size)
        b = q2.system if q2.size is None else Threshold(q2.n, q2.size)
        if isinstance(a, QuorumSystem) and isinstance(b, QuorumSystem):
            return bool(intersecting(a, b))
    n = q1.n
    if n > 20:
        raise ValueError(f"cannot check quorum intersection by enumeration for n={n} > 20 nodes")
    idx = np.arange(2**n, dtype=np.int64)
    states = ((idx[:, None] >> np.arange(n)) & 1).astype(bool)
    return not bool((q1.is_quorum_states(states) & q2.is_quorum_states(~states)).any())

def phase_quorums(n: int, q1: Any, q2: Any, quorums: Any, unsafe: Any) -> tuple[Any, Any, "Quorum", "Quorum"]:
    """Resolve a configuration's phase-1/phase-2 quorums (Flexible Paxos, Howard et al. 2016).

    ``q1``/``q2`` are sizes or quorum systems; ``quorums`` is a read/write pair (phase 1 =
    read, phase 2 = write) given instead of them. Unless ``unsafe`` is True, every phase-1
    quorum must meet every phase-2 quorum. Returns ``(q1, q2, phase1, phase2)``.
    """
    if not isinstance(unsafe, bool):
        raise TypeError(f"`unsafe` must be a bool; got {describe(unsafe)}.")
    if quorums is not None:  # a read/write pair, e.g. consensuslab.quorum.FlexiblePaxos
        if q1 is not None or q2 is not None:
            raise ValueError("give either `quorums` or `q1`/`q2`, not both.")
        if not (hasattr(quorums, "read") and hasattr(quorums, "write")):
            raise TypeError(f"`quorums` must be a read/write quorum system (phase 1 = read, phase 2 = write); "
                            f"got {describe(quorums)}.")
        q1, q2 = quorums.read, quorums.write
    phase1, phase2 = as_quorum("q1", q1, n), as_quorum("q2", q2, n)
    if not unsafe and not quorums_intersect(phase1, phase2):
        raise ValueError(
            f"`q1` and `q2` must intersect (every phase-1 quorum must meet every phase-2 quorum, "
            f"Howard et al. 2016; for sizes q1 + q2 > n); got q1={phase1!r}, q2={phase2!r} "
            f"with n={n}. Pass unsafe=True to run it anyway and watch agreement break."
        )
    return q1, q2, phase1, phase2



# -- configuration ----------------------------------------------------------------------------
@dataclass(frozen=True)
class PaxosConfig(ProtocolConfig):
    """Single-decree Paxos configuration (registered as ``"paxos"``).

    Parameters
    ----------
    n : int
        Number of nodes; every node is an acceptor and a learner.
    proposers : tuple of int
        Nodes that start proposing on their own (others propose on a :class:`ProposeRequest`).
    values : tuple, optional
        The value each proposer proposes (aligned with ``proposers``); default ``p + 1`` for
        proposer ``p`` (so node 0 = "A" proposes 1). ``None`` is not a valid value.
    q1, q2 : int, quorum system or None
        Phase-1 and phase-2 quorums: a size, any ``consensuslab.quorum`` system, or ``None``
        for a majority.
    quorums : ReadWriteSystem, optional
        Instead of ``q1``/``q2``: a read/write pair such as ``consensuslab.quorum.FlexiblePaxos``
        (phase 1 = its read side, phase 2 = its write side).
    unsafe : bool
        Allow ``q1``/``q2`` that do not intersect (to demonstrate the violation).
    retry : RetryPolicy or {"immediate", "backoff", "leader"}
        What a rejected or timed-out proposer does.
    start : float or tuple of float
        Delay (ms) before each proposer's first ballot (one value for all, or one per proposer).
    phase_timeout : float
        A phase that has not completed after this many ms counts as failed.
    backoff : (float, float)
        ``(base, cap)`` of the randomized exponential backoff, ms.
    leader_timeout : float
        How long a deferring (non-distinguished) proposer waits for a decision, ms.
    learn_timeout : float
        An undecided node sends ``Query`` every ``learn_timeout`` ms (lost notifications).
    learn : {"proposer", "all"}
        Where acceptors send ``Accepted``: to the proposer (who then broadcasts ``Decide``) or
        to every learner.

    Examples
    --------
    >>> from consensuslab.sim import simulate
    >>> cfg = PaxosConfig(n=3)                       # A (node 0) proposes 1
    >>> sim = simulate(cfg, seed=1, latency=10.0)
    >>> sim.run_for(100.0)
    >>> [node.decided for node in sim.nodes]
    [1, 1, 1]
    >>> sim.trace.sent_by_kind
    {'Accept': 2, 'Accepted': 2, 'Decide': 2, 'Prepare': 2, 'Promise': 2}
    """

    n: int = 3
    proposers: tuple[int, ...] = (0,)
    values: tuple[Any, ...] | None = None
    q1: int | QuorumSystemLike | None = None
    q2: int | QuorumSystemLike | None = None
    quorums: Any = None
    unsafe: bool = False
    retry: RetryPolicy | str = RetryPolicy.BACKOFF
    start: float | tuple[float, ...] = 0.0
    phase_timeout: float = 100.0
    backoff: tuple[float, float] = (10.0, 640.0)
    leader_timeout: float = 300.0
    learn_timeout: float = 400.0
    learn: Literal["proposer", "all"] = "proposer"
    phase1: Quorum = field(init=False, repr=False, compare=False)
    phase2: Quorum = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        n = check_int("n", self.n, 1)
        if not isinstance(self.proposers, (tuple, list)):
            raise TypeError(f"`proposers` must be a tuple of node ids; got {describe(self.proposers)}.")
        props = tuple(check_int("proposers[]", p, 0, n - 1) for p in self.proposers)
        if len(set(props)) != len(props):
            raise ValueError(f"`proposers` must be distinct node ids; got {props}.")
        set_(self, "proposers", props)
        if self.values is None:
            set_(self, "values", tuple(p + 1 for p in props))
        else:
            if not isinstance(self.values, (tuple, list)) or len(self.values) != len(props):
                raise ValueError(f"`values` must hold one value per proposer ({len(props)}); got {describe(self.values)}.")
            if any(v is None for v in self.values):
                raise ValueError("`values` must not contain None (None means 'no value').")
            set_(self, "values", tuple(self.values))
        try:
            set_(self, "retry", RetryPolicy(self.retry))
        except ValueError:
            raise ValueError(
                f"`retry` must be one of {[p.value for p in RetryPolicy]}; got {describe(self.retry)}."
            ) from None
        if isinstance(self.start, (tuple, list)):
            if len(self.start) != len(props):
                raise ValueError(f"`start` must be one delay or one per proposer ({len(props)}); got {self.start!r}.")
            set_(self, "start", tuple(check_float("start[]", s, 0.0) for s in self.start))
        else:
            set_(self, "start", check_float("start", self.start, 0.0))
        check_float("phase_timeout", self.phase_timeout, 0.0, low_open=True)
        set_(self, "backoff", check_range_pair("backoff", self.backoff, 0.0))
        check_float("leader_timeout", self.leader_timeout, 0.0, low_open=True)
        check_float("learn_timeout", self.learn_timeout, 0.0, low_open=True)
        check_choice("learn", self.learn, ["proposer", "all"])
        q1, q2, phase1, phase2 = phase_quorums(n, self.q1, self.q2, self.quorums, self.unsafe)
        set_(self, "q1", q1)
        set_(self, "q2", q2)
        set_(self, "phase1", phase1)
        set_(self, "phase2", phase2)

    # -- plug-in contract -------------------------------------------------------------------
    def value_of(self, node: NodeId) -> Any:
        """The value proposer ``node`` proposes on its own (None if it is not a proposer)."""
        if node in self.proposers:
            values = self.values
            assert values is not None  # __post_init__ fills in the default values
            return values[self.proposers.index(node)]
        return None

    def start_of(self, node: NodeId) -> float:
        if isinstance(self.start, tuple):
            return self.start[self.proposers.index(node)]
        return float(self.start)

    def make_node(self, node_id: NodeId, peers: tuple[NodeId, ...], rng: np.random.Generator, stable: dict) -> "PaxosNode":
        return PaxosNode(node_id, peers, rng, stable, self)

    def monitor(self) -> "PaxosMonitor":
        return PaxosMonitor(self)

    def applied(self, sim: Any, i: NodeId) -> list:
        node = sim.nodes[i]
        value = node.decided if node is not None else sim.storage[i].get("decided")
        return [] if value is None else [value]


# -- the node -------------------------------------------------------------------------------------
class Loopback:
    """For a node that plays several roles (proposer, acceptor, learner): a message it addresses
    to itself is handled locally, in FIFO order after the current handler step, without a
    network hop (and without being counted as a message). Subclasses define ``_dispatch`` and
    create ``self._local = deque()`` in ``on_start``."""

    id: NodeId
    _local: deque[tuple[NodeId, Any]]
    # provided by Node, the class this mixin is combined with
    send: Callable[[NodeId, Any], None]
    broadcast: Callable[[Any], None]

    def _dispatch(self, src: NodeId, msg: Any) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def _to(self, dst: NodeId, msg: Any) -> None:
        if dst == self.id:
            self._local.append((self.id, msg))  # own acceptor/learner: no network hop
        else:
            self.send(dst, msg)

    def _to_all(self, msg: Any) -> None:
        self.broadcast(msg)
        self._local.append((self.id, msg))

    def _drain(self) -> None:
        while self._local:
            src, msg = self._local.popleft()
            self._dispatch(src, msg)


class PaxosNode(Loopback, Node):
    """Proposer, acceptor and learner of single-decree Paxos (see the module docstring)."""

    def __init__(
        self,
        node_id: NodeId,
        peers: tuple[NodeId, ...],
        rng: np.random.Generator,
        stable: dict | None,
        config: PaxosConfig,
    ) -> None:
        super().__init__(node_id, peers, rng, stable)
        self.config = config
        self._local: deque[tuple[NodeId, Any]] = deque()
        # ghost state for the monitor: never read by the protocol; the driver keeps it across
        # restarts (consensuslab.node.adopt_ghosts)
        self.ghost_accepts: list[tuple[Ballot, Any]] = []
        self.ghost_proposed: list[Any] = []

    # -- recovery ------------------------------------------------------------------------------
    def on_start(self) -> None:
        st = self.stable
        cfg = self.config
        # acceptor (durable)
        self.promised: Ballot = st.get("promised", ZERO)
        self.accepted: tuple[Ballot, Any] | None = st.get("accepted")
        # learner
        self.decided: Any = st.get("decided")
        self.votes: dict[Ballot, set[NodeId]] = {}
        # proposer
        self.round: int = st.get("round", 0)  # durable: never reuse a ballot (§2.3)
        self.seen_round = self.round
        self.phase = Phase.DONE if self.decided is not None else Phase.IDLE
        self.ballot: Ballot | None = None
        self.value: Any = cfg.value_of(self.id)
        self.proposal: Any = None
        self.promises: dict[NodeId, tuple[Ballot, Any] | None] = {}
        self.attempt = 0
        self.ballots_started = 0
        self.requests: list[ProposeRequest] = []
        if self.value is not None and self.decided is None:
            self.set_timer("start", cfg.start_of(self.id))
        if self.decided is None:
            self.set_timer("learn", cfg.learn_timeout)

    # -- inputs ----------------------------------------------------------------------------------
    def on_message(self, src: NodeId, msg: Any) -> None:
        self._dispatch(src, msg)
        self._drain()

    def on_timer(self, name: str) -> None:
        match name:
            case "start":
                if self.phase is Phase.IDLE:
                    self._new_ballot()
            case "retry":
                if self.phase in (Phase.PREPARING, Phase.ACCEPTING):
                    self._retry(None)  # the phase timed out (lost messages, crashed acceptors)
                elif self.phase is Phase.WAITING:
                    self._new_ballot()
                # else: decided meanwhile — nothing to do
            case "learn":  # still undecided: notifications may have been lost (§2.3)
                if self.decided is None:
                    self.broadcast(Query())
                    self.set_timer("learn", self.config.learn_timeout)
            case _:
                raise ValueError(f"unknown timer {name!r}")
        self._drain()

    def on_client(self, request: Any) -> None:
        if not isinstance(request, ProposeRequest):
            raise TypeError(f"Paxos nodes answer ProposeRequest; got {describe(request)}.")
        if self.decided is not None:
            self.reply(request, DecidedResponse(request.client, self.decided))
            return
        self.requests.append(request)
        self.propose(request.value)
        self._drain()

    def propose(self, value: Any = None) -> None:
        """Start proposing (``value`` replaces this node's own value if given).

        A proposal already in progress continues (with its ballot) unless ``value`` changes it;
        in that case a new, higher ballot starts.
        """
        if value is not None and value != self.value:
            self.value = value
            if self.phase not in (Phase.DONE,):
                self._new_ballot()
            return
        if self.value is None:
            raise ValueError(f"node {self.id} has no value to propose; pass `value`.")
        if self.phase in (Phase.IDLE, Phase.WAITING):
            self._new_ballot()

    # -- plumbing ----------------------------------------------------------------------------------
    def _dispatch(self, src: NodeId, msg: Any) -> None:
        match msg:
            case Prepare():
                self._on_prepare(src, msg)
            case Promise():
                self._on_promise(src, msg)
            case Accept():
                self._on_accept(src, msg)
            case Accepted():
                self._on_accepted(src, msg)
            case Nack():
                self._on_nack(src, msg)
            case Decide():
                self._on_decide(src, msg)
            case Query():
                if self.decided is not None:
                    self._to(src, Decide(self.promised, self.decided))
                # else: we do not know either — stay silent
            case _:
                raise TypeError(f"node {self.id}: unexpected message {msg!r}")

    # -- acceptor (§2.2 phases 1b and 2b) ------------------------------------------------------------
    def _on_prepare(self, src: NodeId, m: Prepare) -> None:
        self._saw(m.ballot)
        if self.decided is not None and src != self.id:
            # a late proposer: tell it the outcome rather than start another round (§2.3 learning)
            self._to(src, Decide(self.promised, self.decided))
            return
        if m.ballot >= self.promised:  # §2.2 1b (>=: a duplicate Prepare gets the same Promise)
            if m.ballot > self.promised:
                self.promised = m.ballot
                self.persist(promised=m.ballot)  # durable before the Promise leaves
            self._to(src, Promise(m.ballot, self.accepted))
        else:
            self._to(src, Nack(m.ballot, self.promised))

    def _on_accept(self, src: NodeId, m: Accept) -> None:
        self._saw(m.ballot)
        if m.ballot >= self.promised:  # §2.2 2b: accept unless promised a higher ballot
            self.promised = m.ballot
            self.accepted = (m.ballot, m.value)
            self.persist(promised=m.ballot, accepted=self.accepted)  # durable before Accepted
            self.ghost_accepts.append(self.accepted)
            if self.config.learn == "proposer":
                self._to(src, Accepted(m.ballot, m.value))
            else:
                self._to_all(Accepted(m.ballot, m.value))
        else:
            self._to(src, Nack(m.ballot, self.promised))

    # -- learner (§2.3) -------------------------------------------------------------------------------
    def _on_accepted(self, src: NodeId, m: Accepted) -> None:
        if self.decided is not None:
            return  # already learned; later acknowledgements add nothing
        voters = self.votes.setdefault(m.ballot, set())
        voters.add(src)
        if self.config.phase2.is_quorum(voters):  # a phase-2 quorum accepted m.ballot: chosen
            self._learn(m.ballot, m.value)
            if self.config.learn == "proposer" and m.ballot.proposer == self.id:
                self.broadcast(Decide(m.ballot, m.value))  # the proposer tells every learner

    def _on_decide(self, src: NodeId, m: Decide) -> None:
        if self.decided is None:
            self._learn(m.ballot, m.value)
        # else: already decided (a different value here would be an agreement violation,
        # which the monitor reports; the node keeps what it learned)

    def _learn(self, ballot: Ballot, value: Any) -> None:
        self.decided = value
        self.persist(decided=value)
        self.note("decided", value=value, ballot=ballot)
        self.cancel_timer("learn")
        if self.phase is not Phase.DONE:
            self.phase = Phase.DONE
            self.cancel_timer("retry")
            self.cancel_timer("start")
        for req in self.requests:
            self.reply(req, DecidedResponse(req.client, value))
        self.requests = []

    # -- proposer (§2.2 phases 1a and 2a, §2.4 progress) ------------------------------------------------
    def _saw(self, ballot: Ballot) -> None:
        if ballot.round > self.seen_round:
            self.seen_round = ballot.round

    def _new_ballot(self) -> None:
        if self.decided is not None:
            self.phase = Phase.DONE
            return
        self.round = max(self.round, self.seen_round) + 1
        self.seen_round = self.round
        self.ballot = Ballot(self.round, self.id)
        self.persist(round=self.round)  # §2.3: remember the highest ballot tried, before using it
        self.phase = Phase.PREPARING
        self.promises = {}
        self.ballots_started += 1
        self.ghost_proposed.append(self.value)
        self.note("prepare", ballot=self.ballot)
        self._to_all(Prepare(self.ballot))
        self.set_timer("retry", self.config.phase_timeout)

    def _on_promise(self, src: NodeId, m: Promise) -> None:
        if self.phase is not Phase.PREPARING or m.ballot != self.ballot:
            return  # a promise for an older ballot or a phase already completed: ignore
        self.promises[src] = m.accepted
        if not self.config.phase1.is_quorum(self.promises):
            return
        # §2.2 2a: the value of the highest-numbered proposal among the promises, else our own
        reported = [acc for acc in self.promises.values() if acc is not None]
        self.proposal = max(reported, key=lambda acc: acc[0])[1] if reported else self.value
        self.phase = Phase.ACCEPTING
        self.note("accept", ballot=self.ballot, value=self.proposal)
        self._to_all(Accept(self.ballot, self.proposal))
        self.set_timer("retry", self.config.phase_timeout)

    def _on_nack(self, src: NodeId, m: Nack) -> None:
        self._saw(m.promised)
        if m.ballot != self.ballot or self.phase not in (Phase.PREPARING, Phase.ACCEPTING):
            return  # rejection of an abandoned ballot: already handled
        self._retry(m.promised)

    def _retry(self, rival: Ballot | None) -> None:
        """Abandon the current ballot and act according to the retry policy."""
        self.attempt += 1
        self.cancel_timer("retry")
        policy = self.config.retry
        if policy is RetryPolicy.IMMEDIATE:
            self._new_ballot()
        elif policy is RetryPolicy.BACKOFF:
            base, cap = self.config.backoff
            delay = float(self.rng.uniform(0.0, min(cap, base * 2.0 ** (self.attempt - 1))))
            self.phase = Phase.WAITING
            self.set_timer("retry", delay)
        else:  # LEADER: step aside for a lower-id (more distinguished) proposer
            if rival is not None and rival.proposer != self.id and rival.proposer < self.id:
                self.phase = Phase.WAITING
                self.set_timer("retry", self.config.leader_timeout)
            else:
                self._new_ballot()


# -- safety monitor -------------------------------------------------------------------------------
class PaxosMonitor(Monitor):
    """Agreement, validity and acceptor invariants of single-decree Paxos, checked incrementally.

    The monitor reads each node's ghost lists (accepts performed, values proposed; kept by the
    driver across crashes, so a down node's history counts too) and its durable state. It first
    collects every node's new records, then checks, so its verdict depends neither on node order
    nor on how often it is called. Acceptances accumulate across crashes, so "chosen" is the
    global fact "a phase-2 quorum accepted the same ballot at some time".
    """

    def __init__(self, config: PaxosConfig) -> None:
        self.config = config
        self.votes: dict[Ballot, set[NodeId]] = {}
        self.ballot_value: dict[Ballot, Any] = {}
        self.chosen: dict[Ballot, Any] = {}
        self.proposed: list[Any] = list(config.values or ())
        self._cursor: list[tuple[int, int]] = [(0, 0)] * config.n
        self._promised: list[Ballot] = [ZERO] * config.n

    @property
    def chosen_values(self) -> list[Any]:
        """Distinct values chosen so far (more than one = agreement violated)."""
        out: list[Any] = []
        for v in self.chosen.values():
            if v not in out:
                out.append(v)
        return out

    def observe(self, sim: ClusterView) -> None:
        now = sim.now
        q2 = self.config.phase2
        # 1. collect what every node did since the last call, up or down (ghosts survive crashes)
        accepts: list[tuple[NodeId, Ballot, Any]] = []
        for i, ghost in enumerate(sim.ghosts):
            ca, cp = self._cursor[i]
            proposed = ghost.get("ghost_proposed", ())
            accepted = ghost.get("ghost_accepts", ())
            for v in proposed[cp:]:
                if v not in self.proposed:
                    self.proposed.append(v)
            accepts.extend((i, ballot, value) for ballot, value in accepted[ca:])
            self._cursor[i] = (len(accepted), len(proposed))
        # 2. check: the verdict depends on what happened, not on node order or call frequency
        for i, ballot, value in accepts:
            if value not in self.proposed:
                raise SafetyViolation("Validity", f"node {i} accepted {value!r}, never proposed", now)
            known = self.ballot_value.setdefault(ballot, value)
            if known != value:
                raise SafetyViolation("One value per ballot", f"ballot {ballot} carries {known!r} and {value!r}", now)
            voters = self.votes.setdefault(ballot, set())
            voters.add(i)
            if ballot not in self.chosen and q2.is_quorum(voters):
                for b, v in self.chosen.items():
                    if v != value:
                        raise SafetyViolation(
                            "Agreement",
                            f"{v!r} chosen in ballot {b} and {value!r} chosen in ballot {ballot} "
                            f"(accepted by {sorted(self.votes[b])} and {sorted(voters)})",
                            now,
                        )
                self.chosen[ballot] = value
        for i, node in enumerate(sim.nodes):
            if node is None:
                continue
            # acceptor invariants: the promise never decreases, even across restarts
            if node.promised < self._promised[i]:
                raise SafetyViolation(
                    "Promise durability", f"node {i} promised {node.promised} after {self._promised[i]}", now
                )
            self._promised[i] = node.promised
            if node.accepted is not None and node.accepted[0] > node.promised:
                raise SafetyViolation("Accept below promise", f"node {i}: {node.accepted} > {node.promised}", now)
            # learners learn only chosen values
            if node.decided is not None and node.decided not in self.chosen.values():
                raise SafetyViolation("Agreement", f"node {i} learned {node.decided!r}, which is not chosen", now)

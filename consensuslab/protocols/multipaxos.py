"""Multi-Paxos: a stable leader, a log of slots and a replicated key-value store.

Theory of operation
-------------------
Lamport ("Paxos Made Simple", §3) runs one Paxos instance per log *slot* and observes that a
leader can execute phase 1 **once for all future slots**: a ``Prepare(ballot, first)`` is a
promise request for every slot ``>= first`` at once. Each acceptor answers with what it has
accepted (and already knows decided) in those slots. With a phase-1 quorum of promises the
candidate becomes leader and, for every slot up to the highest one reported, re-proposes the
value accepted with the highest ballot, or a **no-op** (:data:`consensuslab.protocols.kv.NOOP`)
where nothing was accepted — the gaps a failed leader left (§3; van Renesse & Altinbuken,
"Paxos Made Moderately Complex", the leader's ``adopted`` step). From then on each client
command costs phase 2 only: ``Accept(ballot, slot, cmd)`` to every acceptor, ``Accepted`` back
to the leader, and once a phase-2 quorum accepted, ``Decide(slot, cmd)`` to every replica
(commit/learn notification). Steady-state messages per command with ``n`` nodes:
``3 (n - 1)`` (Accept, Accepted, Decide), plus the heartbeats.

Leader failure detection: the leader broadcasts ``Heartbeat(ballot, decided_upto)`` every
``heartbeat`` ms; a node that hears nothing from a leader at least as high as its promise for
a random ``leader_timeout`` becomes a candidate with a higher ballot. A node whose ballot is
rejected (``Nack``) or that hears from a higher leader steps down. A replica that sees in a
heartbeat that it lags asks for the missing decisions (``CatchUp``).

Replicas apply decided slots in order to a :class:`~consensuslab.protocols.kv.KVStore`; the
leader answers a client once its command is applied, so reads, which go through the log, are
linearizable. A node that is not the leader answers ``ClientResponse(ok=False,
leader_hint=...)``. Retries of a command are deduplicated by the store's session table.

Durable state (persisted before the message that depends on it): ``promised``, each accepted
``(ballot, command)`` under key ``a{slot}``, each decided command under ``d{slot}`` and the
highest ``round`` used. The phase-1 and phase-2 quorums are configurable as in
:mod:`consensuslab.protocols.paxos` (flexible quorums, Howard et al. 2016).

:class:`MultiPaxosMonitor` checks after every step: **agreement per slot** (at most one command
chosen at each slot), that replicas only learn chosen commands, **State Machine Safety** (no
two replicas apply different commands at a slot), validity (only client commands or no-ops are
chosen) and promise durability.

References
----------
Lamport, L. (2001). Paxos Made Simple, §3.
van Renesse, R. and Altinbuken, D. (2015). Paxos Made Moderately Complex. ACM Computing
Surveys 47(3).
Howard, H., Malkhi, D. and Spiegelman, A. (2016). Flexible Paxos. OPODIS.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from consensuslab._validate import check_float, check_int, check_range_pair, describe
from consensuslab.check.safety import SafetyViolation
from consensuslab.protocols.base import Monitor, ProtocolConfig
from consensuslab.protocols.kv import NOOP, ClientRequest, ClientResponse, Command, KVStore
from consensuslab.protocols.paxos import ZERO, Ballot, Loopback, Quorum, phase_quorums, QuorumSystemLike
from consensuslab.node import ClusterView, Node, NodeId

__all__ = [
    "Prepare",
    "Promise",
    "Accept",
    "Accepted",
    "Nack",
    "Decide",
    "Heartbeat",
    "CatchUp",
    "Role",
    "MultiPaxosConfig",
    "MultiPaxosNode",
    "MultiPaxosMonitor",
]

Slot = int


# -- messages ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Prepare:
    """Phase 1a for every slot ``>= first``."""

    ballot: Ballot
    first: Slot


@dataclass(frozen=True, slots=True)
class Promise:
    """Phase 1b: ``accepted`` = ``(slot, ballot, command)`` and ``decided`` = ``(slot, command)``
    for slots ``>= first``."""

    ballot: Ballot
    accepted: tuple[tuple[Slot, Ballot, Command], ...]
    decided: tuple[tuple[Slot, Command], ...]


@dataclass(frozen=True, slots=True)
class Accept:
    """Phase 2a: accept ``command`` at ``slot`` in ``ballot``."""

    ballot: Ballot
    slot: Slot
    command: Command


@dataclass(frozen=True, slots=True)
class Accepted:
    """Phase 2b: the sender accepted ``slot`` in ``ballot``."""

    ballot: Ballot
    slot: Slot


@dataclass(frozen=True, slots=True)
class Nack:
    """Rejection of ``ballot``: the sender promised ``promised``."""

    ballot: Ballot
    promised: Ballot


@dataclass(frozen=True, slots=True)
class Decide:
    """Commit notification: ``command`` is chosen at ``slot``."""

    slot: Slot
    command: Command


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """The leader of ``ballot`` is alive; it has decided every slot ``< decided_upto``."""

    ballot: Ballot
    decided_upto: Slot


@dataclass(frozen=True, slots=True)
class CatchUp:
    """A lagging replica asks for the decisions of slots ``[first, upto)``."""

    first: Slot
    upto: Slot


class Role(enum.Enum):
    FOLLOWER = "follower"
    CANDIDATE = "candidate"
    LEADER = "leader"


# -- configuration ------------------------------------------------------------------------------
@dataclass(frozen=True)
class MultiPaxosConfig(ProtocolConfig):
    """Multi-Paxos configuration (registered as ``"multipaxos"``).

    Parameters
    ----------
    n : int
        Number of nodes (each is acceptor, replica and potential leader).
    q1, q2 : int, quorum system or None
        Phase-1 / phase-2 quorums (sizes, ``consensuslab.quorum`` systems, or majority).
    quorums : ReadWriteSystem, optional
        Instead of ``q1``/``q2``: a read/write pair such as ``consensuslab.quorum.FlexiblePaxos``
        (phase 1 = its read side, phase 2 = its write side).
    unsafe : bool
        Allow non-intersecting quorums.
    heartbeat : float
        Leader heartbeat period, ms.
    leader_timeout : (float, float)
        Range of the randomized failure-detection timeout, ms; low > heartbeat.
    catchup_batch : int
        Most decisions sent in answer to one ``CatchUp``.

    Examples
    --------
    >>> from consensuslab.cluster import Cluster
    >>> c = Cluster("multipaxos", n=3, seed=1)
    >>> c.put("x", "1").ok, c.get("x").value
    (True, '1')
    """

    n: int = 5
    q1: int | QuorumSystemLike | None = None
    q2: int | QuorumSystemLike | None = None
    quorums: Any = None
    unsafe: bool = False
    heartbeat: float = 50.0
    leader_timeout: tuple[float, float] = (150.0, 300.0)
    catchup_batch: int = 64
    phase1: Quorum = field(init=False, repr=False, compare=False)
    phase2: Quorum = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        n = check_int("n", self.n, 1)
        check_float("heartbeat", self.heartbeat, 0.0, low_open=True)
        lo, hi = check_range_pair("leader_timeout", self.leader_timeout, 0.0)
        if lo <= self.heartbeat:
            raise ValueError(
                f"`leader_timeout` must start above `heartbeat` ({self.heartbeat}); got {(lo, hi)}."
            )
        set_(self, "leader_timeout", (lo, hi))
        check_int("catchup_batch", self.catchup_batch, 1)
        q1, q2, phase1, phase2 = phase_quorums(n, self.q1, self.q2, self.quorums, self.unsafe)
        set_(self, "q1", q1)
        set_(self, "q2", q2)
        set_(self, "phase1", phase1)
        set_(self, "phase2", phase2)

    def make_node(self, node_id: NodeId, peers: tuple[NodeId, ...], rng: np.random.Generator, stable: dict) -> "MultiPaxosNode":
        return MultiPaxosNode(node_id, peers, rng, stable, self)

    def monitor(self) -> "MultiPaxosMonitor":
        return MultiPaxosMonitor(self)

    def leader(self, sim: Any) -> NodeId | None:
        """The live leader with the highest ballot (None if no node believes it leads)."""
        best: tuple[Ballot, NodeId] | None = None
        for node in sim.nodes:
            if node is not None and node.role is Role.LEADER:
                if best is None or node.ballot > best[0]:
                    best = (node.ballot, node.id)
        return None if best is None else best[1]

    def applied(self, sim: Any, i: NodeId) -> list:
        """Client commands node ``i`` has applied, in slot order (no-ops left out)."""
        node = sim.nodes[i]
        return [c for c in node.log if c != NOOP] if node is not None else []


# -- the node -----------------------------------------------------------------------------------
class MultiPaxosNode(Loopback, Node):
    """Acceptor, replica (learner + state machine) and potential leader of Multi-Paxos."""

    def __init__(
        self,
        node_id: NodeId,
        peers: tuple[NodeId, ...],
        rng: np.random.Generator,
        stable: dict | None,
        config: MultiPaxosConfig,
    ) -> None:
        super().__init__(node_id, peers, rng, stable)
        self.config = config
        self._local: deque[tuple[NodeId, Any]] = deque()
        # ghost state for the monitor: never read by the protocol; the driver keeps it across
        # restarts (consensuslab.node.adopt_ghosts)
        self.ghost_accepts: list[tuple[Slot, Ballot, Command]] = []
        self.ghost_learned: list[tuple[Slot, Command]] = []
        self.ghost_requests: list[Command] = []

    # -- recovery ------------------------------------------------------------------------------
    def on_start(self) -> None:
        st = self.stable
        self.promised: Ballot = st.get("promised", ZERO)
        self.round: int = st.get("round", 0)
        self.seen_round = max(self.round, self.promised.round)
        self.accepted: dict[Slot, tuple[Ballot, Command]] = {}
        self.decided: dict[Slot, Command] = {}
        for key, value in st.items():
            if key[0] == "a" and key[1:].isdigit():
                self.accepted[int(key[1:])] = value
            elif key[0] == "d" and key[1:].isdigit():
                self.decided[int(key[1:])] = value
        # replica: replay the decided prefix into a fresh store
        self.kv = KVStore()
        self.log: list[Command] = []  # applied commands, index = slot (no-ops included)
        # leadership
        self.role = Role.FOLLOWER
        self.ballot: Ballot = ZERO
        self.leader_hint: NodeId | None = None
        self.announced: Slot = 0  # decided_upto of the last heartbeat heard
        self.promises: dict[NodeId, Promise] = {}
        self.proposals: dict[Slot, Command] = {}
        self.acks: dict[Slot, set[NodeId]] = {}
        self.sent_at: dict[Slot, float] = {}
        self.next_slot: Slot = 0
        self.pending: dict[tuple[int, int], ClientRequest] = {}
        self.in_flight: dict[tuple[int, int], Slot] = {}
        self._apply_ready()
        self._arm_election()

    # -- plumbing ----------------------------------------------------------------------------------
    def on_message(self, src: NodeId, msg: Any) -> None:
        self._dispatch(src, msg)
        self._drain()

    def on_timer(self, name: str) -> None:
        match name:
            case "election":  # failure detector fired: no leader heard from
                if self.role is not Role.LEADER:
                    self.become_candidate()
            case "heartbeat":
                if self.role is Role.LEADER:
                    self._heartbeat()
                # else: a timer left over from an earlier leadership
            case _:
                raise ValueError(f"unknown timer {name!r}")
        self._drain()

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
                self._learn(msg.slot, msg.command)
            case Heartbeat():
                self._on_heartbeat(src, msg)
            case CatchUp():
                self._on_catchup(src, msg)
            case _:
                raise TypeError(f"node {self.id}: unexpected message {msg!r}")

    def _arm_election(self) -> None:
        lo, hi = self.config.leader_timeout
        self.set_timer("election", float(self.rng.uniform(lo, hi)))

    def _saw(self, ballot: Ballot) -> None:
        if ballot.round > self.seen_round:
            self.seen_round = ballot.round

    @property
    def decided_upto(self) -> Slot:
        """Every slot below this one is decided here (= the next slot to apply)."""
        return len(self.log)

    # -- roles ----------------------------------------------------------------------------------------
    def become_follower(self, leader: NodeId | None) -> None:
        if self.role is Role.LEADER:
            self.cancel_timer("heartbeat")
            for req in self.pending.values():  # tell waiting clients where to go
                self.reply(req, ClientResponse(req.client, req.seq, ok=False, leader_hint=leader,
                                               error="leadership lost"))
            self.pending = {}
            self.in_flight = {}
            self.proposals = {}
            self.acks = {}
            self.sent_at = {}
        if self.role is not Role.FOLLOWER:
            self.note("role", role="follower")
        self.role = Role.FOLLOWER
        self.leader_hint = leader
        self._arm_election()

    def become_candidate(self) -> None:
        """Phase 1 for every slot from our decided prefix on, with a fresh higher ballot (§3)."""
        if self.role is Role.LEADER:
            raise RuntimeError("a leader cannot become a candidate without stepping down")
        self.role = Role.CANDIDATE
        self.round = max(self.round, self.seen_round) + 1
        self.seen_round = self.round
        self.ballot = Ballot(self.round, self.id)
        self.persist(round=self.round)  # never reuse a ballot, even after a crash
        self.promises = {}
        self.leader_hint = None
        self.note("role", role="candidate", ballot=self.ballot)
        self._to_all(Prepare(self.ballot, self.decided_upto))
        self._arm_election()  # retry with a higher ballot if phase 1 does not complete

    def become_leader(self) -> None:
        """Adopt the promises: re-propose accepted values, fill gaps with no-ops (§3)."""
        if self.role is not Role.CANDIDATE:
            raise RuntimeError(f"only a candidate can become leader; node {self.id} is {self.role.value}")
        self.role = Role.LEADER
        self.leader_hint = self.id
        self.cancel_timer("election")
        self.note("role", role="leader", ballot=self.ballot)
        first = self.decided_upto
        best: dict[Slot, tuple[Ballot, Command]] = {}
        top = first - 1
        for p in self.promises.values():
            for slot, cmd in p.decided:
                self._learn(slot, cmd)
                top = max(top, slot)
            for slot, b, cmd in p.accepted:
                if slot not in best or b > best[slot][0]:
                    best[slot] = (b, cmd)
                top = max(top, slot)
        self.proposals, self.acks, self.sent_at, self.pending, self.in_flight = {}, {}, {}, {}, {}
        self.next_slot = max(top + 1, first)
        for slot in range(first, self.next_slot):
            if slot in self.decided:
                continue
            cmd = best[slot][1] if slot in best else NOOP  # gap: nothing can have been chosen there
            self._propose(slot, cmd)
        self._heartbeat(resend=False)

    # -- acceptor (phase 1b / 2b per slot) ---------------------------------------------------------------
    def _on_prepare(self, src: NodeId, m: Prepare) -> None:
        self._saw(m.ballot)
        if m.ballot < self.promised:
            self._to(src, Nack(m.ballot, self.promised))
            return
        if m.ballot > self.promised:
            self.promised = m.ballot
            self.persist(promised=m.ballot)  # durable before the Promise leaves
        if src != self.id:
            if self.role is not Role.FOLLOWER and m.ballot > self.ballot:
                self.become_follower(m.ballot.proposer)
            else:
                self._arm_election()  # let the candidate finish
        acc = tuple((s, b, c) for s, (b, c) in sorted(self.accepted.items()) if s >= m.first)
        dec = tuple((s, c) for s, c in sorted(self.decided.items()) if s >= m.first)
        self._to(src, Promise(m.ballot, acc, dec))

    def _on_accept(self, src: NodeId, m: Accept) -> None:
        self._saw(m.ballot)
        if m.ballot < self.promised:
            self._to(src, Nack(m.ballot, self.promised))
            return
        if src != self.id:
            if self.role is not Role.FOLLOWER:
                self.become_follower(m.ballot.proposer)
            else:
                self.leader_hint = m.ballot.proposer
                self._arm_election()
        self.promised = m.ballot
        self.accepted[m.slot] = (m.ballot, m.command)
        self.persist(promised=m.ballot, **{f"a{m.slot}": (m.ballot, m.command)})  # before Accepted
        self.ghost_accepts.append((m.slot, m.ballot, m.command))
        self._to(src, Accepted(m.ballot, m.slot))

    # -- leader ---------------------------------------------------------------------------------------
    def _on_promise(self, src: NodeId, m: Promise) -> None:
        if self.role is not Role.CANDIDATE or m.ballot != self.ballot:
            return  # a promise for an abandoned ballot
        self.promises[src] = m
        if self.config.phase1.is_quorum(self.promises):
            self.become_leader()

    def _propose(self, slot: Slot, cmd: Command) -> None:
        self.proposals[slot] = cmd
        self.acks[slot] = set()
        self.sent_at[slot] = self.now
        if cmd.client >= 0:
            self.in_flight[(cmd.client, cmd.seq)] = slot
        self._to_all(Accept(self.ballot, slot, cmd))

    def _on_accepted(self, src: NodeId, m: Accepted) -> None:
        if self.role is not Role.LEADER or m.ballot != self.ballot or m.slot not in self.proposals:
            return  # late acknowledgement of a decided slot or of an old ballot
        acks = self.acks[m.slot]
        acks.add(src)
        if self.config.phase2.is_quorum(acks):  # chosen: tell every replica
            cmd = self.proposals.pop(m.slot)
            del self.acks[m.slot]
            del self.sent_at[m.slot]
            self.broadcast(Decide(m.slot, cmd))
            self._learn(m.slot, cmd)

    def _on_nack(self, src: NodeId, m: Nack) -> None:
        self._saw(m.promised)
        if self.role is not Role.FOLLOWER and m.ballot == self.ballot:
            self.become_follower(m.promised.proposer)  # a higher ballot exists: step down

    def _heartbeat(self, resend: bool = True) -> None:
        # resend Accept for slots undecided for a whole period (lost messages), to silent acceptors
        if resend:
            for slot, cmd in self.proposals.items():
                if self.now - self.sent_at[slot] < self.config.heartbeat:
                    continue
                self.sent_at[slot] = self.now
                for dst in self.peers:
                    if dst not in self.acks[slot] and dst != self.id:
                        self.send(dst, Accept(self.ballot, slot, cmd))
        self.broadcast(Heartbeat(self.ballot, self.decided_upto))
        self.set_timer("heartbeat", self.config.heartbeat)

    def _on_catchup(self, src: NodeId, m: CatchUp) -> None:
        stop = min(m.upto, m.first + self.config.catchup_batch)
        for slot in range(m.first, stop):
            if slot in self.decided:
                self.send(src, Decide(slot, self.decided[slot]))

    # -- follower / replica --------------------------------------------------------------------------
    def _on_heartbeat(self, src: NodeId, m: Heartbeat) -> None:
        self._saw(m.ballot)
        if m.ballot < self.promised:
            self._to(src, Nack(m.ballot, self.promised))  # a deposed leader: make it step down
            return
        if self.role is not Role.FOLLOWER:
            if m.ballot > self.ballot:
                self.become_follower(src)
            else:
                return  # our own ballot is higher: ignore (the sender will be nacked)
        else:
            self.leader_hint = src
            self._arm_election()
        # ask for decisions we still miss one heartbeat after the leader announced them (a
        # Decide merely in flight is not a reason to ask)
        if self.decided_upto < min(m.decided_upto, self.announced):
            self.send(src, CatchUp(self.decided_upto, m.decided_upto))
        self.announced = m.decided_upto

    def _learn(self, slot: Slot, cmd: Command) -> None:
        if slot in self.decided:
            return  # already known (a duplicate Decide or catch-up)
        self.decided[slot] = cmd
        self.persist(**{f"d{slot}": cmd})
        self.ghost_learned.append((slot, cmd))
        self._apply_ready()

    def _apply_ready(self) -> None:
        while len(self.log) in self.decided:
            slot = len(self.log)
            cmd = self.decided[slot]
            result = self.kv.apply(cmd)
            self.log.append(cmd)
            if cmd.client >= 0:
                key = (cmd.client, cmd.seq)
                self.in_flight.pop(key, None)
                req = self.pending.pop(key, None)
                if req is not None:
                    self.reply(req, ClientResponse(cmd.client, cmd.seq, ok=True, value=result, leader_hint=self.id))

    # -- clients -----------------------------------------------------------------------------------------
    def on_client(self, request: Any) -> None:
        if not isinstance(request, ClientRequest):
            raise TypeError(f"Multi-Paxos nodes answer ClientRequest; got {describe(request)}.")
        if self.role is not Role.LEADER:
            hint = self.leader_hint if self.leader_hint != self.id else None
            self.reply(request, ClientResponse(request.client, request.seq, ok=False, leader_hint=hint,
                                               error="not the leader"))
            return
        key = (request.client, request.seq)
        last = self.kv.sessions.get(request.client)
        if last is not None and request.seq <= last[0]:
            if request.seq == last[0]:  # a retry of an applied command: the cached answer
                self.reply(request, ClientResponse(request.client, request.seq, ok=True, value=last[1],
                                                   leader_hint=self.id))
            return  # else: older than the last applied command — the client moved on
        self.pending[key] = request
        if key in self.in_flight:
            return  # already in the log, waiting to be chosen
        self.ghost_requests.append(request.command)
        slot = self.next_slot
        self.next_slot += 1
        self._propose(slot, request.command)
        self._drain()


# -- safety monitor ------------------------------------------------------------------------------------
class MultiPaxosMonitor(Monitor):
    """Agreement per slot, learned-implies-chosen, State Machine Safety, validity, promise durability."""

    def __init__(self, config: MultiPaxosConfig) -> None:
        self.config = config
        self.votes: dict[tuple[Slot, Ballot], set[NodeId]] = {}
        self.value: dict[tuple[Slot, Ballot], Command] = {}
        self.chosen: dict[Slot, Command] = {}
        self.applied_at: dict[Slot, Command] = {}
        self.requested: set[Command] = {NOOP}
        self._nodes: list[Any] = [None] * config.n
        self._cursor: list[tuple[int, int, int]] = [(0, 0, 0)] * config.n  # into each node's ghost lists
        self._applied: list[int] = [0] * config.n  # slots of the current node object's log checked
        self._promised: list[Ballot] = [ZERO] * config.n

    def observe(self, sim: ClusterView) -> None:
        now = sim.now
        q2 = self.config.phase2
        # 1. collect every node's new records, up or down (ghosts survive crashes), before checking
        accepts: list[tuple[NodeId, Slot, Ballot, Command]] = []
        learned: list[tuple[NodeId, Slot, Command]] = []
        for i, ghost in enumerate(sim.ghosts):
            cr, ca, cl = self._cursor[i]
            requests = ghost.get("ghost_requests", ())
            accepted = ghost.get("ghost_accepts", ())
            learns = ghost.get("ghost_learned", ())
            self.requested.update(requests[cr:])
            accepts.extend((i, slot, ballot, cmd) for slot, ballot, cmd in accepted[ca:])
            learned.extend((i, slot, cmd) for slot, cmd in learns[cl:])
            self._cursor[i] = (len(requests), len(accepted), len(learns))
        # 2. check: the verdict depends on what happened, not on node order or call frequency
        for i, slot, ballot, cmd in accepts:
            if cmd not in self.requested:
                raise SafetyViolation("Validity", f"node {i} accepted {cmd!r} at slot {slot}: no client sent it", now)
            key = (slot, ballot)
            known = self.value.setdefault(key, cmd)
            if known != cmd:
                raise SafetyViolation("One value per ballot", f"slot {slot} ballot {ballot}: {known!r} and {cmd!r}", now)
            voters = self.votes.setdefault(key, set())
            voters.add(i)
            if q2.is_quorum(voters):
                prior = self.chosen.setdefault(slot, cmd)
                if prior != cmd:
                    raise SafetyViolation("Agreement", f"slot {slot}: {prior!r} and {cmd!r} both chosen", now)
        for i, slot, cmd in learned:
            if self.chosen.get(slot) != cmd:
                raise SafetyViolation(
                    "Agreement", f"node {i} learned {cmd!r} at slot {slot}; chosen: {self.chosen.get(slot)!r}", now
                )
        for i, node in enumerate(sim.nodes):
            if node is None:
                continue
            if node is not self._nodes[i]:
                self._nodes[i] = node
                self._applied[i] = 0
            log = node.log
            for slot in range(self._applied[i], len(log)):
                prior = self.applied_at.setdefault(slot, log[slot])
                if prior != log[slot]:
                    raise SafetyViolation(
                        "State Machine Safety", f"node {i} applied {log[slot]!r} at slot {slot}; another applied {prior!r}", now
                    )
            self._applied[i] = len(log)
            if node.promised < self._promised[i]:
                raise SafetyViolation("Promise durability", f"node {i} promised {node.promised} after {self._promised[i]}", now)
            self._promised[i] = node.promised

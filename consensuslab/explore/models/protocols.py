"""Actor models of the project's own protocols: the very nodes the simulator runs, with stated bounds.

Theory of operation
-------------------
Each builder turns a protocol configuration into an :class:`~consensuslab.explore.ActorModel`
whose servers are built by the configuration's own node class, so the explorer searches the
code the simulator and the notebooks run. The model keeps that configuration (``model.config``)
and its bounds (``model.bounds``), and ``model.make_node`` is the factory it used, so that
:func:`consensuslab.explore.replay.replay` can re-run a counterexample in the simulator with the
same nodes and the same monitor (``model.config.monitor()``).

The explorer has no clock: every armed timer may fire in every state (see
:mod:`consensuslab.explore.actors`). Three small adaptations make a node explorable; they are
made by a subclass of the protocol's node class (``Explored<Node>``), never by editing the
protocol, and each is stated here and in the builder that uses it:

* **Muted timers.** A timer that only re-broadcasts (a leader's heartbeat, Paxos's learn
  query) adds a copy of a message to the network every time it fires, so with it the state
  space is infinite. A muted timer is never armed (``set_timer`` ignores it). Each builder says
  which timers it mutes and why the behaviours under test survive.
* **Fingerprints and copies.** The node's ``config`` is the same immutable object in every
  state: it is shared by copies (``__deepcopy__``) and left out of the fingerprint
  (``explore_state``), which is otherwise every protocol field, as
  :func:`consensuslab.explore.fingerprint.node_state` defines it.
* **Raft's election timer** (Raft only). :class:`~consensuslab.protocols.raft.RaftNode` re-arms
  its election timer when a contact moved the deadline later (``_deadline`` read against
  ``now``); without a clock (``now`` is always 0) the deadline never passes. The explored node
  treats a firing as "the timeout elapsed" (``_deadline = now`` before the handler), which is the
  asynchronous model of the paper: a follower may time out whenever it has not heard from a
  leader *for long enough*, and message delays are unbounded. The election timeout range is
  fixed (``lo == hi``) so that the deadline the node stores is not a random number.

Bounds make the spaces finite: ballots ``round <= max_round`` (Paxos, Multi-Paxos) and terms
``term <= max_term`` (Raft) are boundaries (``within``: a successor beyond them is discarded,
stateright's ``within_boundary``), crash budgets are the model's, and clients issue a fixed
number of commands with a fixed retry budget.

Properties
----------
Invariants are the protocols' own monitors, run afresh on every state
(:func:`~consensuslab.explore.monitor_invariant`; their history lives in ghost state, which is
part of the state): Paxos's Agreement and Validity (Lamport 2001, §2.1–§2.2) and acceptor
invariants; Raft's five properties of Figure 3 (Ongaro & Ousterhout 2014); Multi-Paxos's
agreement per slot and State Machine Safety. Reachability properties ("a value is chosen", "a
leader is elected", "a command is committed") show that a safe verdict is not vacuous.

References
----------
Lamport, L. (2001). Paxos Made Simple, §2 (single decree) and §3 (Multi-Paxos).
Howard, H., Malkhi, D. and Spiegelman, A. (2016). Flexible Paxos: Quorum intersection revisited.
Ongaro, D. and Ousterhout, J. (2014). In search of an understandable consensus algorithm, §5.2,
§5.4 and Figure 8.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from consensuslab._validate import check_bool, check_int
from consensuslab.check import KVInput, Operation, SafetyViolation, check_linearizable
from consensuslab.explore.actors import (
    ActorModel,
    ActorState,
    Deliver,
    Timeout,
    copy_value,
    monitor_invariant,
)
from consensuslab.explore.fingerprint import DRIVER_FIELDS
from consensuslab.explore.model import Path, Property, sometimes
from consensuslab.node import Node, NodeId
from consensuslab.protocols.kv import ClientRequest, ClientResponse, Command
from consensuslab.protocols.multipaxos import MultiPaxosConfig, MultiPaxosNode
from consensuslab.protocols.multipaxos import Role as MPRole
from consensuslab.protocols.paxos import PaxosConfig, PaxosNode
from consensuslab.protocols.raft import RaftConfig, RaftNode
from consensuslab.protocols.raft_messages import Role as RaftRole

__all__ = [
    "EMPTY_HISTORY",
    "FIGURE8",
    "FIGURE8_BOUNDS",
    "FIGURE8_TERM3",
    "ExploredMultiPaxosNode",
    "ExploredPaxosNode",
    "ExploredRaftNode",
    "KVClient",
    "ServerView",
    "in_flight",
    "linearizable_history",
    "multipaxos_model",
    "paxos_model",
    "raft_model",
    "record_invocation",
    "record_return",
    "violation",
]

_SHARED = frozenset({"config", "rng", "peers"})  # immutable or driver-owned: shared by copies
_NOT_STATE = DRIVER_FIELDS | {"config", "muted"}


class _Explored:
    """Mixin of the explored node classes (module docstring): muted timers, cheap copies."""

    muted: frozenset[str] = frozenset()

    def set_timer(self, name: str, delay: float) -> None:
        if name in self.muted:
            return
        super().set_timer(name, delay)  # type: ignore[misc]

    def explore_state(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if k not in _NOT_STATE}

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        cls = type(self)
        new = cls.__new__(cls)
        memo[id(self)] = new
        d = new.__dict__
        for k, v in vars(self).items():
            d[k] = v if k in _SHARED else copy_value(v, memo)
        return new


class ExploredPaxosNode(_Explored, PaxosNode):
    """:class:`~consensuslab.protocols.paxos.PaxosNode` as explored (module docstring)."""


class ExploredMultiPaxosNode(_Explored, MultiPaxosNode):
    """:class:`~consensuslab.protocols.multipaxos.MultiPaxosNode` as explored (module docstring),
    with one more ghost record, ``ghost_led`` (the ballots it led), for the model's reachability
    property "a leader takes over from a crashed one" (never read by the protocol)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ghost_led: list[Any] = []

    def become_leader(self) -> None:
        self.ghost_led.append(self.ballot)
        super().become_leader()


class ExploredRaftNode(_Explored, RaftNode):
    """:class:`~consensuslab.protocols.raft.RaftNode` as explored: a firing election timer means
    the timeout elapsed (module docstring, "Raft's election timer")."""

    def on_timer(self, name: str) -> None:
        if name == "election":
            self._deadline = self.now
        super().on_timer(name)


def _factory(cls: type, config: Any, muted: frozenset[str], **extra: Any) -> Callable[..., Node]:
    """``make_node(node_id, peers, rng, stable)`` building ``cls`` with ``muted`` timers."""

    def make_node(node_id: NodeId, peers: tuple[NodeId, ...], rng: np.random.Generator, stable: dict) -> Node:
        node: Any = object.__new__(cls)
        node.muted = muted  # before __init__: a constructor may already arm a timer
        node.__init__(node_id, peers, rng, stable, config, **extra)
        return node

    make_node.__qualname__ = f"{cls.__name__} factory"
    return make_node


# -- clients --------------------------------------------------------------------------------------
class KVClient(Node):
    """A client actor: ``commands`` puts, then ``reads`` gets, one at a time, to the servers of
    a replicated log.

    Its id is its actor id, and so is every request's ``client`` field, because the explorer and
    the replay route ``Reply(request, ...)`` to actor ``request.client``. It sends each command
    to ``target`` (server 0 at first); a refusal with a ``leader_hint`` moves ``target`` there
    and resends at once, a ``"retry"`` timer resends to the next server round-robin — at most
    ``retries`` resends per command in all, so the network stays finite. Command ``k`` (from 1)
    is ``put("x", k)`` for ``k <= commands``, then ``get("x")``.
    """

    def __init__(self, node_id: NodeId, peers: tuple[NodeId, ...], rng: np.random.Generator,
                 stable: dict | None = None, commands: int = 1, retries: int = 1, reads: int = 0) -> None:
        super().__init__(node_id, peers, rng, stable)
        self.commands = commands
        self.reads = reads
        self.retries = retries
        self.seq = 0
        self.target: NodeId = 0
        self.left = 0  # resends left for the current command
        self.results: tuple[tuple[int, Any], ...] = ()

    def on_start(self) -> None:
        self._next()

    def _request(self) -> ClientRequest:
        if self.seq > self.commands:
            return ClientRequest(self.id, self.seq, Command(self.id, self.seq, "get", "x"))
        return ClientRequest(self.id, self.seq, Command(self.id, self.seq, "put", "x", self.seq))

    def _next(self) -> None:
        if self.seq >= self.commands + self.reads:
            return
        self.seq += 1
        self.left = self.retries
        self.send(self.target, self._request())
        if self.left:
            self.set_timer("retry", 1.0)

    def _resend(self, dst: NodeId) -> None:
        self.left -= 1
        self.target = dst
        self.send(dst, self._request())
        if not self.left:
            self.cancel_timer("retry")

    def on_message(self, src: NodeId, msg: Any) -> None:
        if not isinstance(msg, ClientResponse) or msg.seq != self.seq:
            return  # an answer to an earlier command, or a duplicate
        if msg.ok:
            if self.seq > len(self.results):
                self.results = (*self.results, (self.seq, msg.value))
                self.cancel_timer("retry")
                self._next()
        elif self.left and msg.leader_hint is not None and msg.leader_hint != src:
            self._resend(msg.leader_hint)

    def on_timer(self, name: str) -> None:
        if name == "retry" and self.left and self.seq > len(self.results):
            self._resend((self.target + 1) % len(self.peers))


def _client_factory(commands: int, retries: int, reads: int = 0) -> Callable[..., Node]:
    def make_client(actor: NodeId, servers: tuple[NodeId, ...], rng: np.random.Generator, stable: dict) -> Node:
        return KVClient(actor, servers, rng, stable, commands=commands, retries=retries, reads=reads)

    make_client.__qualname__ = "KVClient factory"
    return make_client


# -- the clients' history, checked for linearizability ---------------------------------------------------
#: An empty client history: ``(tick, operations)``. ``tick`` counts the invocations and returns
#: recorded so far (the history's clock: real-time order is the order of these events in the
#: run); each operation is ``(client, seq, call, ret, op, key, value, output)`` with ``ret`` None
#: while it is pending.
EMPTY_HISTORY: tuple[int, tuple] = (0, ())


def record_invocation(history: tuple[int, tuple], src: int, dst: int, msg: Any) -> tuple[int, tuple]:
    """``record_out`` of :class:`~consensuslab.explore.ActorModel`: a client's first send of a
    request is the operation's invocation (a resend is the same operation)."""
    if not isinstance(msg, ClientRequest):
        return history
    tick, ops = history
    if any(op[0] == src and op[1] == msg.seq for op in ops):
        return history
    cmd = msg.command
    return tick + 1, (*ops, (src, msg.seq, tick, None, cmd.op, cmd.key, cmd.value, None))


def record_return(history: tuple[int, tuple], src: int, dst: int, msg: Any) -> tuple[int, tuple]:
    """``record_in``: a successful answer delivered to its client returns the pending operation
    (a duplicate answer, or one for an operation already returned, changes nothing)."""
    if not (isinstance(msg, ClientResponse) and msg.ok):
        return history
    tick, ops = history
    for k, op in enumerate(ops):
        if op[0] == dst and op[1] == msg.seq and op[3] is None:
            done = (*op[:3], tick, *op[4:7], msg.value if op[4] == "get" else None)
            return tick + 1, (*ops[:k], done, *ops[k + 1:])
    return history


def linearizable_history(name: str = "linearizable") -> Property:
    """An invariant: the clients' history (:func:`record_invocation`, :func:`record_return`) is
    linearizable for a key-value store, decided by :func:`consensuslab.check.check_linearizable`
    (pending operations may or may not have taken effect). A history that is not raises a
    :class:`~consensuslab.check.SafetyViolation` naming it. Verdicts are remembered per history:
    few distinct histories occur in a search."""
    verdicts: dict[tuple, Any] = {}

    def condition(state: ActorState) -> bool:
        ops = state.history[1]
        if not any(op[3] is not None for op in ops):
            return True  # nothing returned yet: trivially linearizable
        verdict = verdicts.get(ops)
        if verdict is None:
            history = [Operation(op[0], op[2], op[3], KVInput(op[4], op[5], None if op[4] == "get" else op[6]),
                                 op[7]) for op in ops]
            verdict = verdicts[ops] = check_linearizable(history, "kv")
        if verdict.ok is False:
            shown = "; ".join(f"client {op[0]} {op[4]}({op[5]!r}" + ("" if op[4] == "get" else f", {op[6]!r}")
                              + f") [{op[2]}, {'...' if op[3] is None else op[3]}]"
                              + (f" -> {op[7]!r}" if op[4] == "get" and op[3] is not None else "") for op in ops)
            raise SafetyViolation("Linearizability", f"the clients' history has no linearization: {shown}")
        return True

    return Property(name, "always", condition)


def _client_properties(commands: int, reads: int) -> list[Property]:
    if not commands + reads:
        return []
    read = [sometimes("a read returns", lambda s: any(op[4] == "get" and op[3] is not None for op in s.history[1]))]
    return [linearizable_history(), *(read if reads else [])]


def _client(commands: int, reads: int, retries: int) -> dict[str, Any]:
    """The client of a replicated-log model: its factory, history hooks and linearizability."""
    if not commands + reads:
        return {"clients": [], "history": None}
    return {"clients": [_client_factory(commands, retries, reads)], "history": EMPTY_HISTORY,
            "record_out": record_invocation, "record_in": record_return}


# -- properties over the servers only ---------------------------------------------------------------
class ServerView:
    """The :class:`~consensuslab.node.ClusterView` of the first ``n`` actors (the servers) of a
    state: the protocols' monitors expect server nodes only, and clients are actors too."""

    __slots__ = ("ghosts", "nodes", "now", "storage")

    def __init__(self, state: Any, n: int) -> None:
        self.nodes = list(state.nodes[:n])
        self.storage = list(state.storage[:n])
        self.ghosts = list(state.ghosts[:n])
        self.now = state.now


def _monitor(make_monitor: Callable[[], Any], n: int, actors: int) -> Property:
    if n == actors:
        return monitor_invariant(make_monitor)
    inner = monitor_invariant(make_monitor).condition
    return Property("safety", "always", lambda state: inner(ServerView(state, n)))


def violation(model: ActorModel, state: ActorState) -> Any:
    """The :class:`~consensuslab.check.SafetyViolation` a fresh monitor raises on ``state``
    (``None`` if it raises none): the explorer's verdict with its invariant's name (and, as
    the explorer has no clock, no time)."""
    from consensuslab.check.safety import SafetyViolation

    try:
        monitor_invariant(model.config.monitor).condition(ServerView(state, model.n))  # type: ignore[attr-defined]
    except SafetyViolation as exc:
        return exc
    return None


def _campaigners(candidates: Sequence[int] | None, n: int) -> frozenset[int]:
    if candidates is None:
        return frozenset(range(n))
    if isinstance(candidates, (str, bytes)) or not isinstance(candidates, Sequence):
        raise TypeError(f"`candidates` must be a sequence of server ids in 0..{n - 1}; got {candidates!r}.")
    return frozenset(check_int("candidates[]", c, 0, n - 1) for c in candidates)


def _by_id(campaigners: frozenset[int], make: Callable[..., Node], quiet: Callable[..., Node]) -> Callable[..., Node]:
    """A factory building ``make``'s node for the campaigners, ``quiet``'s for the others."""

    def make_node(node_id: NodeId, peers: tuple[NodeId, ...], rng: np.random.Generator, stable: dict) -> Node:
        return (make if node_id in campaigners else quiet)(node_id, peers, rng, stable)

    return make_node


def in_flight(state: ActorState) -> int:
    """How many messages are in flight in ``state`` (copies counted; any network discipline)."""
    net = state.network
    if net and isinstance(net[0][0], tuple):  # fifo: ((src, dst), queue) pairs
        return sum(len(queue) for _, queue in net)
    return len(net)


def _check_bound(name: str, value: Any, low: int, what: str) -> int:
    try:
        return check_int(name, value, low)
    except ValueError:
        raise ValueError(f"`{name}` must be an int >= {low} ({what}); got {value!r}.") from None


def _finish(model: ActorModel, config: Any, bounds: dict[str, Any]) -> ActorModel:
    model.config = config  # type: ignore[attr-defined]
    model.bounds = bounds  # type: ignore[attr-defined]
    return model


def _rounds_within(n: int, max_round: int) -> Callable[[ActorState], bool]:
    """The boundary "no server has used or seen a ballot round above ``max_round``" (a down
    server by the round it persisted), shared by the Paxos and Multi-Paxos models."""

    def within(state: ActorState) -> bool:
        for i in range(n):
            node = state.nodes[i]
            if node is None:
                if state.storage[i].get("round", 0) > max_round:
                    return False
            elif node.round > max_round or node.seen_round > max_round:
                return False
        return True

    return within


# -- single-decree Paxos -------------------------------------------------------------------------
def _chosen(state: Any, n: int, q2: Any) -> bool:
    votes: dict[Any, set[int]] = {}
    for i, ghost in enumerate(state.ghosts[:n]):
        for ballot, _value in ghost.get("ghost_accepts", ()):
            voters = votes.setdefault(ballot, set())
            voters.add(i)
            if q2.is_quorum(voters):
                return True
    return False


def paxos_model(
    n: int = 3,
    proposers: Sequence[int] = (0, 1),
    values: Sequence[Any] = (1, 2),
    q1: Any = None,
    q2: Any = None,
    max_round: int = 2,
    crashes: int = 0,
    network: str = "unordered",
    learn_queries: bool = False,
    **config_options: Any,
) -> ActorModel:
    """Single-decree Paxos (:class:`~consensuslab.protocols.paxos.PaxosNode`, Lamport 2001 §2).

    Parameters
    ----------
    n : int
        Acceptors (every node is also a learner).
    proposers, values : sequences
        Who proposes on its own, and what (distinct values make Agreement testable).
    q1, q2 : int or quorum system, optional
        Phase-1 / phase-2 quorums (default majorities). Sizes with ``q1 + q2 <= n`` break the
        Flexible Paxos intersection condition (Howard et al. 2016); the configuration is then
        built with ``unsafe=True`` so that the explorer can find the Agreement violation.
    max_round : int
        Bound: no node uses or sees a ballot round above this (>= 1). Each proposer may thus
        start up to ``max_round`` ballots.
    crashes : int
        Crash budget (restarts are free; acceptors keep what they persisted).
    network : str
        ``"unordered"`` (default), ``"duplicating"``, ``"lossy"``, ``"fifo"`` or ``"latest"``.
    learn_queries : bool
        Explore the learners' ``"learn"`` timer (a ``Query`` broadcast). Off by default: each
        firing adds messages without bound, and a ``Query`` is answered only with a value the
        answering node already *learned* — it copies a decision and cannot create a chosen or
        learned value that the other rules could not, so Agreement and Validity are checked the
        same without it (learning by notification, §2.3, is still explored).
    **config_options
        Passed to :class:`~consensuslab.protocols.paxos.PaxosConfig` (``learn``, ...). The
        default here is ``retry="immediate"``: without a clock a backoff only adds a ``WAITING``
        interval in which the proposer ignores replies to its abandoned ballot; a proposer that
        retries at once, with its next messages delayed, sends the same ballots with the same
        values (a later ballot may get a lower round number, which orders the rivals the same
        way), so no agreement or validity behaviour is lost — and the space is 5x smaller
        (25,723 states instead of 134,822 with ``max_round=1``).

    The proposers' ``"start"`` and ``"retry"`` timers (phase timeout, backoff, deferral: §2.4)
    are explored: that is how duelling proposers interleave.
    """
    n = _check_bound("n", n, 1, "the number of acceptors")
    max_round = _check_bound("max_round", max_round, 1, "the highest ballot round explored")
    crashes = _check_bound("crashes", crashes, 0, "a crash budget")
    check_bool("learn_queries", learn_queries)
    options = {"retry": "immediate", **config_options}
    sizes = isinstance(q1, int) and isinstance(q2, int) and not isinstance(q1, bool) and not isinstance(q2, bool)
    if sizes and q1 + q2 <= n:
        options.setdefault("unsafe", True)
    cfg = PaxosConfig(n=n, proposers=tuple(proposers), values=tuple(values), q1=q1, q2=q2, **options)
    muted = frozenset() if learn_queries else frozenset({"learn"})

    within = _rounds_within(n, max_round)

    q2_rule = cfg.phase2
    model = ActorModel(
        _factory(ExploredPaxosNode, cfg, muted), n, network=network, crashes=crashes, within=within,
        properties=[monitor_invariant(cfg.monitor),
                    sometimes("a value is chosen", lambda s: _chosen(s, n, q2_rule))],
    )
    return _finish(model, cfg, {"n": n, "max_round": max_round, "crashes": crashes, "network": network,
                                "muted timers": sorted(muted)})


# -- Raft -------------------------------------------------------------------------------------------
def _leader_elected(state: Any, n: int) -> bool:
    return any(node is not None and node.role is RaftRole.LEADER for node in state.nodes[:n])


def _raft_committed(state: Any, n: int) -> bool:
    for node in state.nodes[:n]:
        if node is not None and any(c.op != "noop" for c in node.applied):
            return True
    return False


def raft_model(
    n: int = 3,
    commands: int = 2,
    crashes: int = 3,
    max_term: int = 5,
    reads: int = 0,
    figure8_rule: bool = True,
    retries: int = 0,
    heartbeats: bool = False,
    candidates: Sequence[int] | None = None,
    max_in_flight: int | None = None,
    network: str = "unordered",
    **config_options: Any,
) -> ActorModel:
    """Raft (:class:`~consensuslab.protocols.raft.RaftNode`, Ongaro & Ousterhout 2014) with one client.

    Parameters
    ----------
    n : int
        Servers.
    commands : int
        Puts the client issues, one at a time (:class:`KVClient`, actor ``n``), >= 0.
    reads : int
        Gets of the same key the client issues after its puts, >= 0. With a client, the
        clients' history is an invariant too: it must be linearizable
        (:func:`linearizable_history`, by :func:`consensuslab.check.check_linearizable`).
    crashes : int
        Crash budget (restarts are free; term, vote and log survive: §5.1 persistence).
    max_term : int
        Bound: no server reaches a term above this (>= 1).
    figure8_rule : bool
        The current-term commit rule (§5.4.2). ``False`` lets a leader commit an earlier term's
        entry by counting replicas, which Figure 8 shows can lose a committed entry.
    retries : int
        Resends the client may make per command (leader hints, a ``"retry"`` timer), >= 0.
        Default 0: the client's first request must reach the leader. Redirects only move a
        command between servers; they add states without adding a way to break a property.
    heartbeats : bool
        Explore the leader's ``"heartbeat"`` timer. Off by default: each firing re-sends
        AppendEntries without bound; replication does not need it (a leader streams entries as
        acknowledgements arrive, and replicates a new entry at once), and with no message loss
        a heartbeat only repeats what is in flight (with ``heartbeats=False``, an AppendEntries
        lost at a crashed follower is not retransmitted: liveness, not safety).
    candidates : sequence of int, optional
        The servers whose election timer is explored (default: all). A server left out never
        times out, so it never campaigns — it still votes, replicates and may crash: a bound on
        the scenario, as Paxos's ``proposers`` are (Figure 8 needs two candidates, S1 and S5).
    max_in_flight : int, optional
        Bound: states with more messages in flight are discarded (a network of that capacity;
        >= 1). Stale messages that are never delivered multiply the states; this bound keeps
        the runs where they are delivered (or, to a crashed server, lost) in time.
    network : str
        As for :class:`~consensuslab.explore.ActorModel`. ``"latest"`` (a link keeps only its
        latest message) is what makes a search from the initial state reach Figure 8
        (:data:`FIGURE8_BOUNDS`): every term change leaves the previous term's RequestVotes
        and AppendEntries in flight, and on a multiset network every subset of those stale
        messages is another state. Raft's RPCs on one link supersede each other (a later one
        carries the same or a higher term and the leader's newer view), so the newest is
        the one that matters; its runs are runs of a lossy network, so a violation found there
        is real, and a safe verdict covers every run in which superseded messages are lost.
    **config_options
        Passed to :class:`~consensuslab.protocols.raft.RaftConfig`. Defaults here:
        ``max_entries=1`` — one entry per AppendEntries, so that an earlier term's entry can
        reach a majority *before* the new leader's no-op (§8) does, as in Figure 8 (c); with
        larger batches the no-op travels with it and the commit rule is never exercised — and
        ``election_timeout=(150, 150)`` (fixed: module docstring).
    """
    n = _check_bound("n", n, 1, "the number of servers")
    commands = _check_bound("commands", commands, 0, "client commands")
    reads = _check_bound("reads", reads, 0, "client gets after the puts")
    crashes = _check_bound("crashes", crashes, 0, "a crash budget")
    max_term = _check_bound("max_term", max_term, 1, "the highest term explored")
    retries = _check_bound("retries", retries, 0, "client resends per command")
    if max_in_flight is not None:
        max_in_flight = _check_bound("max_in_flight", max_in_flight, 1, "messages in flight, or None")
    check_bool("heartbeats", heartbeats)
    options = {"max_entries": 1, "election_timeout": (150.0, 150.0), **config_options}
    lo, hi = options["election_timeout"]
    if lo != hi:
        raise ValueError(f"`election_timeout` must be a fixed (lo, lo) pair in a model (no clock); got {(lo, hi)}.")
    cfg = RaftConfig(n=n, figure8_rule=figure8_rule, **options)
    muted = frozenset() if heartbeats else frozenset({"heartbeat"})
    bootstrap = cfg.members if cfg.members is not None else tuple(range(n))
    campaigners = _campaigners(candidates, n)
    make_node = _by_id(campaigners, _factory(ExploredRaftNode, cfg, muted, bootstrap=bootstrap),
                       _factory(ExploredRaftNode, cfg, muted | {"election"}, bootstrap=bootstrap))

    def within(state: ActorState) -> bool:
        if max_in_flight is not None and in_flight(state) > max_in_flight:
            return False
        for i in range(n):
            node = state.nodes[i]
            term = state.storage[i].get("term", 0) if node is None else node.term
            if term > max_term:
                return False
        return True

    client = _client(commands, reads, retries)
    model = ActorModel(
        make_node, n, network=network, crashes=crashes, within=within, **client,
        properties=[_monitor(cfg.monitor, n, n + len(client["clients"])),
                    *_client_properties(commands, reads),
                    sometimes("a leader is elected", lambda s: _leader_elected(s, n)),
                    *([sometimes("a command is committed", lambda s: _raft_committed(s, n))] if commands else [])],
    )
    return _finish(model, cfg, {"n": n, "commands": commands, "reads": reads, "crashes": crashes, "max_term": max_term,
                                "retries": retries, "network": network, "muted timers": sorted(muted),
                                "candidates": sorted(campaigners), "max_in_flight": max_in_flight,
                                "max_entries": cfg.max_entries})


# -- Multi-Paxos ------------------------------------------------------------------------------------
def _mp_committed(state: Any, n: int) -> bool:
    for node in state.nodes[:n]:
        if node is not None and any(c.client >= 0 for c in node.log):
            return True
    return False


def _mp_takeover(state: Any, n: int) -> bool:
    """A node that led is down and another leads with a higher ballot: a leader took over."""
    ghosts = state.ghosts
    fallen = [max(ghosts[i]["ghost_led"]) for i in range(n) if state.nodes[i] is None and ghosts[i].get("ghost_led")]
    return bool(fallen) and any(x is not None and x.role is MPRole.LEADER and x.ballot > max(fallen)
                                for x in state.nodes[:n])


def multipaxos_model(
    n: int = 3,
    commands: int = 2,
    crashes: int = 1,
    max_round: int = 2,
    reads: int = 0,
    retries: int = 0,
    heartbeats: bool = False,
    candidates: Sequence[int] | None = None,
    network: str = "unordered",
    **config_options: Any,
) -> ActorModel:
    """Multi-Paxos (:class:`~consensuslab.protocols.multipaxos.MultiPaxosNode`, Lamport 2001 §3).

    Parameters
    ----------
    n : int
        Nodes (acceptor, replica and potential leader each).
    commands, reads, retries : int
        The client's puts, then gets, and resends per command (:class:`KVClient`, actor ``n``);
        with a client, its history must be linearizable (:func:`linearizable_history`).
    crashes : int
        Crash budget: with ``crashes >= 1`` the leader may crash at any point and a new leader
        must re-propose what a quorum accepted (the leader's ``adopted`` step).
    max_round : int
        Bound: no ballot round above this (>= 1); every node's ``"election"`` timer is explored,
        so any node may start phase 1 at any time within it.
    heartbeats : bool
        Explore the leader's ``"heartbeat"`` timer (off by default: every firing broadcasts a
        ``Heartbeat`` without bound; it only suppresses elections, which the explorer makes
        possible anyway, and triggers ``CatchUp``, which copies decided commands).
    candidates : sequence of int, optional
        The nodes whose ``"election"`` timer (failure detector) is explored (default: all);
        the others never start phase 1 but accept, learn and may crash.
    **config_options
        Passed to :class:`~consensuslab.protocols.multipaxos.MultiPaxosConfig`.
    """
    n = _check_bound("n", n, 1, "the number of nodes")
    commands = _check_bound("commands", commands, 0, "client commands")
    reads = _check_bound("reads", reads, 0, "client gets after the puts")
    crashes = _check_bound("crashes", crashes, 0, "a crash budget")
    max_round = _check_bound("max_round", max_round, 1, "the highest ballot round explored")
    retries = _check_bound("retries", retries, 0, "client resends per command")
    check_bool("heartbeats", heartbeats)
    cfg = MultiPaxosConfig(n=n, **config_options)
    muted = frozenset() if heartbeats else frozenset({"heartbeat"})
    campaigners = _campaigners(candidates, n)
    make_node = _by_id(campaigners, _factory(ExploredMultiPaxosNode, cfg, muted),
                       _factory(ExploredMultiPaxosNode, cfg, muted | {"election"}))

    within = _rounds_within(n, max_round)

    client = _client(commands, reads, retries)
    model = ActorModel(
        make_node, n, network=network, crashes=crashes, within=within, **client,
        properties=[_monitor(cfg.monitor, n, n + len(client["clients"])),
                    *_client_properties(commands, reads),
                    sometimes("a leader is elected",
                              lambda s: any(x is not None and x.role is MPRole.LEADER for x in s.nodes[:n])),
                    *([sometimes("a command is committed", lambda s: _mp_committed(s, n))] if commands else []),
                    *([sometimes("a leader takes over from a crashed one", lambda s: _mp_takeover(s, n))]
                      if crashes else [])],
    )
    return _finish(model, cfg, {"n": n, "commands": commands, "reads": reads, "crashes": crashes, "max_round": max_round,
                                "retries": retries, "network": network, "muted timers": sorted(muted),
                                "candidates": sorted(campaigners)})


# -- scenarios: following a schedule, searching from a state -------------------------------------------
def follow(model: ActorModel, wanted: Sequence[Any]) -> Path:
    """The path whose ``k``-th event is the first enabled event of ``model`` (within its bounds)
    that satisfies ``wanted[k]``: a scenario written as event predicates, checked to be a run.
    An item that is not callable is an event itself (``path.events`` of another model's path).

    Raises
    ------
    ValueError
        No enabled event satisfies a predicate (the message names the step).
    """
    state = initial = model.initial_states()[0]
    steps: list[tuple[Any, Any]] = []
    for k, want in enumerate(wanted):
        for event, nxt in model.successors(state):
            if (want(event) if callable(want) else event == want) and model.within(nxt):
                steps.append((event, nxt))
                state = nxt
                break
        else:
            raise ValueError(f"step {k + 1} of the schedule is not enabled after {[str(e) for e, _ in steps]}")
    return Path(initial, tuple(steps))


class StartingAt:
    """``model`` searched from one of its states instead of its initial state (same successors,
    fingerprints, bounds and properties): a bounded search of the end of a scenario."""

    def __init__(self, model: Any, state: Any) -> None:
        self.model, self.state, self.properties = model, state, tuple(model.properties)

    def initial_states(self) -> list[Any]:
        return [self.state]

    def successors(self, state: Any) -> Any:
        return self.model.successors(state)

    def fingerprint(self, state: Any) -> bytes:
        return bytes(self.model.fingerprint(state))

    def within(self, state: Any) -> bool:
        return bool(self.model.within(state))


def _timeout(i: int) -> Callable[[Any], bool]:
    return lambda e: isinstance(e, Timeout) and e.node == i and e.name == "election"


def _deliver(src: int, dst: int, kind: str, term: int) -> Callable[[Any], bool]:
    return lambda e: (isinstance(e, Deliver) and (e.src, e.dst) == (src, dst) and type(e.msg).__name__ == kind
                      and e.msg.term == term)


#: Figure 8 (Ongaro & Ousterhout 2014, §5.4.2) on three servers — A = 0 and B = 1 campaign, C = 2
#: votes — as the 18 events of :func:`raft_model` with :data:`FIGURE8_BOUNDS` that breadth-first
#: search from the initial state finds as the shortest violation (tests/explore/test_protocols.py):
#: A leads term 1 with its no-op at index 1, replicated nowhere; B leads term 2 with C's vote (A,
#: whose log is longer, refuses) and its own no-op at index 1; A leads term 3 with C's vote (B,
#: whose last entry is of term 2, refuses) and replicates its term-1 entry to C — the no-op of term
#: 3 is refused for the gap, the term-1 entry accepted — so without the rule A commits index 1 by
#: counting replicas (Figure 8 (c)); B, in term 3 since A's RequestVote, times out and wins term 4
#: with C's vote (its last entry, of term 2, beats C's, of term 1) although it lacks the committed
#: entry: Leader Completeness fails (Figure 8 (d)). Use with :func:`follow`.
FIGURE8: tuple[Callable[[Any], bool], ...] = (
    _timeout(0), _deliver(0, 1, "RequestVote", 1), _deliver(1, 0, "RequestVoteReply", 1),
    _timeout(1), _deliver(1, 0, "RequestVote", 2), _deliver(1, 2, "RequestVote", 2),
    _deliver(2, 1, "RequestVoteReply", 2),
    _timeout(0), _deliver(0, 1, "RequestVote", 3), _deliver(0, 2, "RequestVote", 3),
    _deliver(2, 0, "RequestVoteReply", 3),
    _deliver(0, 2, "AppendEntries", 3), _deliver(2, 0, "AppendEntriesReply", 3),
    _deliver(0, 2, "AppendEntries", 3), _deliver(2, 0, "AppendEntriesReply", 3),
    _timeout(1), _deliver(1, 2, "RequestVote", 4), _deliver(2, 1, "RequestVoteReply", 4),
)
#: The bounds of the Figure 8 model: 3 servers, candidates A and B, no client, no crash, terms
#: <= 4, and the ``"latest"`` network (a link keeps its latest message: :func:`raft_model`).
FIGURE8_BOUNDS: dict[str, Any] = {"n": 3, "commands": 0, "crashes": 0, "max_term": 4, "candidates": (0, 1),
                                  "network": "latest"}
#: Events of :data:`FIGURE8` up to A's victory in term 3 (a prefix for quick searches).
FIGURE8_TERM3 = 11

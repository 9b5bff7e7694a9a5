"""stateright's register examples as actor models: single-copy register, ABD, single-decree Paxos.

Theory of operation
-------------------
Ports of three examples of the stateright model checker (``examples/single-copy-register.rs``,
``examples/linearizable-register.rs`` — ABD — and ``examples/paxos.rs``, with the harness of
``src/actor/register.rs`` and the history tester of ``src/semantics/linearizability.rs``), written
as :class:`consensuslab.node.Node` subclasses and explored by
:class:`~consensuslab.explore.ActorModel`, so that the published state counts check the
explorer itself. The semantics that decide those counts, and how each is reproduced:

* **Actors.** Servers are ids ``0..S-1``, clients ``S..S+C-1`` (stateright's ``RegisterActor``).
  Client ``i`` sends ``Put(i, value)`` at start to server ``i mod S`` with value
  ``chr(ord('A') + i - S)``; on the matching ``PutOk`` it sends ``Get(2i)`` to server
  ``(i + 1) mod S``; on the matching ``GetOk`` it is done. Anything else is ignored.
* **Network.** Unordered and non-duplicating (a multiset): ``network="unordered"``.
* **No-op deliveries are skipped** (``skip_noop_deliveries=True``): a delivery that changes
  nothing and sends nothing is no event and the message stays in flight — e.g. a ``Get`` to a
  Paxos server that has not decided, a second ``Put`` to a busy ABD server, a stale ack.
* **History.** The clients' history is stateright's ``LinearizabilityTester`` state, and it is
  part of the state (:class:`RegisterHistory`): per client, the completed operations, each with
  the index of the last operation every other client had completed when it was invoked, and the
  operation in flight. ``record_out`` records an invocation when a client sends ``Put``/``Get``;
  ``record_in`` a return when a ``PutOk``/``GetOk`` is delivered (stateright's
  ``record_invocations`` / ``record_returns``).
* **Properties.** ``always("linearizable")``: the history has a linearization
  (:meth:`RegisterHistory.is_linearizable`, a port of stateright's ``serialized_history``: a
  depth-first search over the interleavings of the completed operations, where an in-flight one
  may take effect or not, and real-time order is the recorded "last completed" indices).
  ``sometimes("value chosen")``: a ``GetOk`` with a non-default value is in flight.
  The verdict is computed here rather than by :func:`consensuslab.check.check_linearizable`
  because the history records real-time order as per-client indices, not as timestamps, and
  the tester's state (not a timestamped history) is what must be fingerprinted to reproduce
  the counts.

Messages a client sends a server carry the client's id (``Put(client, req, value)``), because
:class:`~consensuslab.explore.ActorModel` hands client requests to ``on_client(request)``, which
has no ``src``; the id equals the sender, so the state space is the same.

Published counts (stateright 0.31's tests), reproduced in tests/explore/test_published_counts.py:

* single-copy, 2 clients / 1 server: **93** (stateright: 93), exhaustive, linearizable;
* ABD, 2 clients / 2 servers: **544** (544), BFS and DFS, linearizable;
* Paxos, 2 clients / 3 servers: **16,668** (16,668), BFS and DFS, linearizable;
* single-copy, 2 clients / 2 servers: the linearizability violation is found by BFS in 4 steps
  (stateright's counterexample, mirrored: the shortest one found here writes through client 2
  and server 0; stateright's own replays to a violation too). The count at which the search
  stops early is not a property of the model: the whole reachable space is 62 states; with
  properties checked when a state is kept (this explorer's default) BFS stops at 14; with
  stateright's timing (``check(..., check_on="expand")``: checked when expanded, stop before
  expanding the completing state) it stops at 22 in this model's successor order and at 20 to
  26 over all orders — stateright's test asserts **20**, the count in its hash-map order of
  messages. The issue's **54** is not a figure of stateright's (no stored version of the
  example asserts it) and no stopping rule gives it; it equals the number of states within 7
  steps of the start (1+2+3+4+8+10+14+12; the remaining 8 are at depth 8).

The no-op rule is load-bearing beyond the counts: without it ABD has 626 states, and Paxos
shows a spurious linearizability violation — a new leader that re-proposes the decided value
re-sends ``PutOk`` for the old request; a client already waiting for its ``Get`` would consume
it and ``record_returns`` would log it as the ``Get``'s return. Under the rule the client ignores
it, so it is never delivered.

Semantic differences: stateright's no-op test is "the handler never called ``to_mut()`` and
sent nothing"; ours is "the node's state is equal and it emitted nothing". They differ only for
a handler that takes a mutable state without changing it and sends nothing; no handler of these
three examples can do that on a reachable state (each mutable branch inserts a new member into a
map or set, or flips a flag, or sends).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, NamedTuple

from consensuslab.explore.actors import ActorModel, ActorState
from consensuslab.explore.model import Property, always, sometimes
from consensuslab.node import Node

__all__ = [
    "AbdServer",
    "Get",
    "GetOk",
    "PaxosServer",
    "Put",
    "PutOk",
    "RegisterClient",
    "RegisterHistory",
    "SingleCopyServer",
    "abd_register",
    "paxos_register",
    "register_properties",
    "single_copy_register",
]

DEFAULT = "\0"  # Rust's char::default(), the registers' initial value


# -- messages (stateright's RegisterMsg) ------------------------------------------------------
class Put(NamedTuple):
    client: int
    req: int
    value: str


class Get(NamedTuple):
    client: int
    req: int


class PutOk(NamedTuple):
    req: int


class GetOk(NamedTuple):
    req: int
    value: str


# -- the history: stateright's LinearizabilityTester over a register --------------------------
Op = tuple  # ("write", v) | ("read",)
Ret = tuple  # ("write_ok",) | ("read_ok", v)


class RegisterHistory(NamedTuple):
    """stateright's ``LinearizabilityTester<Id, Register<char>>`` as an immutable value.

    ``completed``: sorted ``(client, ops)`` pairs, ``ops`` a tuple of ``(last_completed, op,
    ret)``; ``in_flight``: sorted ``(client, (last_completed, op))`` pairs; ``last_completed``
    is a sorted tuple of ``(other client, index of its last completed op)`` taken at invocation.
    ``valid`` turns false on a malformed history (two ops in flight for one client, a return
    with none in flight), which is then not linearizable.
    """

    completed: tuple = ()
    in_flight: tuple = ()
    valid: bool = True

    def invoke(self, client: int, op: Op) -> RegisterHistory:
        if not self.valid:
            return self
        in_flight = dict(self.in_flight)
        if client in in_flight:
            return self._replace(valid=False)
        completed = dict(self.completed)
        last = tuple(sorted((c, len(ops) - 1) for c, ops in completed.items() if c != client and ops))
        in_flight[client] = (last, op)
        completed.setdefault(client, ())
        return RegisterHistory(tuple(sorted(completed.items())), tuple(sorted(in_flight.items())), True)

    def returns(self, client: int, ret: Ret) -> RegisterHistory:
        if not self.valid:
            return self
        in_flight = dict(self.in_flight)
        if client not in in_flight:
            return self._replace(valid=False)
        last, op = in_flight.pop(client)
        completed = dict(self.completed)
        completed[client] = completed.get(client, ()) + ((last, op, ret),)
        return RegisterHistory(tuple(sorted(completed.items())), tuple(sorted(in_flight.items())), True)

    def is_linearizable(self) -> bool:
        """Whether some total order of the ops respects real time and the register's semantics."""
        if not self.valid:
            return False
        clients = [c for c, _ in self.completed]
        ops = dict(self.completed)
        flying = dict(self.in_flight)
        memo: set[tuple[Any, ...]] = set()

        def ready(last: tuple, pos: dict[int, int]) -> bool:
            # every op a client had completed before this one was invoked is already placed
            return all(pos.get(peer, 0) > idx for peer, idx in last)

        def search(pos: dict[int, int], used: frozenset[int], value: str) -> bool:
            if all(pos[c] == len(ops[c]) for c in clients):
                return True
            key = (tuple(pos[c] for c in clients), used, value)
            if key in memo:
                return False
            memo.add(key)
            for c in clients:
                if pos[c] < len(ops[c]):
                    last, op, ret = ops[c][pos[c]]
                    if not ready(last, pos):
                        continue
                    if op[0] == "write":
                        nxt = op[1]
                    elif ret == ("read_ok", value):
                        nxt = value
                    else:
                        continue
                    pos[c] += 1
                    ok = search(pos, used, nxt)
                    pos[c] -= 1
                    if ok:
                        return True
                elif c in flying and c not in used:
                    last, op = flying[c]
                    if not ready(last, pos):
                        continue
                    if search(pos, used | {c}, op[1] if op[0] == "write" else value):
                        return True
            return False

        return search({c: 0 for c in clients}, frozenset(), DEFAULT)


def record_invocations(history: RegisterHistory, src: int, dst: int, msg: Any) -> RegisterHistory:
    """stateright's ``RegisterMsg::record_invocations``: a client's ``Put``/``Get`` is invoked."""
    if type(msg) is Put:
        return history.invoke(src, ("write", msg.value))
    if type(msg) is Get:
        return history.invoke(src, ("read",))
    return history


def record_returns(history: RegisterHistory, src: int, dst: int, msg: Any) -> RegisterHistory:
    """stateright's ``RegisterMsg::record_returns``: a ``PutOk``/``GetOk`` reaches its client."""
    if type(msg) is PutOk:
        return history.returns(dst, ("write_ok",))
    if type(msg) is GetOk:
        return history.returns(dst, ("read_ok", msg.value))
    return history


def _value_chosen(state: ActorState) -> bool:
    return any(type(msg) is GetOk and msg.value != DEFAULT for _, _, msg in state.in_flight())


def register_properties() -> tuple[Property, ...]:
    """``always("linearizable")`` and ``sometimes("value chosen")``, as in the examples."""
    return (
        always("linearizable", lambda state: state.history.is_linearizable()),
        sometimes("value chosen", _value_chosen),
    )


class _ValueNode(Node):
    """A node whose handlers never mutate a field's value in place (they rebind fields to new
    tuples, frozensets or dicts), so a shallow copy is an independent copy.

    The explorer copies a node before each handler call with ``copy.deepcopy``; for these nodes
    that deep copy is the largest cost of the search (over half of Paxos's time, most of it on
    the no-op deliveries it then discards), and a shallow copy with a fresh ``out`` is enough.
    """

    def __deepcopy__(self, memo: dict[int, Any]) -> _ValueNode:
        clone = copy.copy(self)
        clone.out = []
        return clone


# -- the client (stateright's RegisterActor::Client with put_count = 1) -----------------------
class RegisterClient(_ValueNode):
    """Puts one value, then reads once (``RegisterActor::Client { put_count: 1 }``)."""

    def on_start(self) -> None:
        servers = len(self.peers)
        self.awaiting: int | None = self.id
        self.op_count = 1
        self.send(self.id % servers, Put(self.id, self.id, chr(ord("A") + self.id - servers)))

    def on_message(self, src: int, msg: Any) -> None:
        if self.awaiting is None:
            return
        if type(msg) is PutOk and msg.req == self.awaiting:
            req = (self.op_count + 1) * self.id
            self.send((self.id + self.op_count) % len(self.peers), Get(self.id, req))
            self.awaiting, self.op_count = req, self.op_count + 1
        elif type(msg) is GetOk and msg.req == self.awaiting:
            self.awaiting, self.op_count = None, self.op_count + 1


# -- single-copy register ----------------------------------------------------------------------
class SingleCopyServer(_ValueNode):
    """A server holding one register, no replication (examples/single-copy-register.rs)."""

    def on_start(self) -> None:
        self.value = DEFAULT

    def on_client(self, request: Any) -> None:
        if type(request) is Put:
            self.value = request.value
            self.send(request.client, PutOk(request.req))
        elif type(request) is Get:
            self.send(request.client, GetOk(request.req, self.value))


# -- ABD ------------------------------------------------------------------------------------------
class Query(NamedTuple):
    req: int


class AckQuery(NamedTuple):
    req: int
    seq: tuple[int, int]
    value: str


class Record(NamedTuple):
    req: int
    seq: tuple[int, int]
    value: str


class AckRecord(NamedTuple):
    req: int


class AbdServer(_ValueNode):
    """Attiya, Bar-Noy and Dolev's replicated register (examples/linearizable-register.rs).

    ``phase`` is ``None``, ``("1", req, requester, write, responses)`` or ``("2", req,
    requester, read, acks)``; ``responses`` maps a server to its ``(seq, value)``.
    """

    def on_start(self) -> None:
        self.seq = (0, self.id)
        self.value = DEFAULT
        self.phase: tuple | None = None

    def _majority(self) -> int:
        return len(self.peers) // 2 + 1

    def on_client(self, request: Any) -> None:
        if self.phase is not None:
            return  # busy: a no-op, the request stays in flight
        write = request.value if type(request) is Put else None
        self.broadcast(Query(request.req))
        self.phase = ("1", request.req, request.client, write, {self.id: (self.seq, self.value)})

    def on_message(self, src: int, msg: Any) -> None:
        t = type(msg)
        phase = self.phase
        if t is Query:
            self.send(src, AckQuery(msg.req, self.seq, self.value))
        elif t is AckQuery and phase is not None and phase[0] == "1" and phase[1] == msg.req:
            _, req, requester, write, responses = phase
            responses = {**responses, src: (msg.seq, msg.value)}
            self.phase = ("1", req, requester, write, responses)
            if len(responses) == self._majority():
                seq, value = max(responses.values(), key=lambda r: r[0])
                read = None
                if write is not None:
                    seq, value = (seq[0] + 1, self.id), write
                else:
                    read = value
                self.broadcast(Record(req, seq, value))
                if seq > self.seq:
                    self.seq, self.value = seq, value
                self.phase = ("2", req, requester, read, frozenset({self.id}))
        elif t is Record:
            self.send(src, AckRecord(msg.req))
            if msg.seq > self.seq:
                self.seq, self.value = msg.seq, msg.value
        elif (t is AckRecord and phase is not None and phase[0] == "2" and phase[1] == msg.req
              and src not in phase[4]):
            _, req, requester, read, acks = phase
            acks = acks | {src}
            self.phase = ("2", req, requester, read, acks)
            if len(acks) == self._majority():
                self.send(requester, PutOk(req) if read is None else GetOk(req, read))
                self.phase = None


# -- single-decree Paxos ---------------------------------------------------------------------------
class Prepare(NamedTuple):
    ballot: tuple[int, int]


class Prepared(NamedTuple):
    ballot: tuple[int, int]
    last_accepted: tuple | None


class Accept(NamedTuple):
    ballot: tuple[int, int]
    proposal: tuple[int, int, str]


class Accepted(NamedTuple):
    ballot: tuple[int, int]


class Decided(NamedTuple):
    ballot: tuple[int, int]
    proposal: tuple[int, int, str]


def _accepted_key(accepted: tuple | None) -> tuple:
    # Rust's Option ordering: None < Some(x), then (ballot, proposal) lexicographically
    return (0,) if accepted is None else (1, accepted)


class PaxosServer(_ValueNode):
    """Single-decree Paxos, one round per client request (examples/paxos.rs).

    A proposal is ``(request id, client, value)``; a ballot ``(round, leader id)``.
    """

    def on_start(self) -> None:
        self.ballot = (0, 0)
        self.proposal: tuple | None = None
        self.prepares: dict[int, tuple | None] = {}
        self.accepts: frozenset[int] = frozenset()
        self.accepted: tuple | None = None
        self.is_decided = False

    def _majority(self) -> int:
        return len(self.peers) // 2 + 1

    def on_client(self, request: Any) -> None:
        if self.is_decided:
            if type(request) is Get:
                assert self.accepted is not None
                self.send(request.client, GetOk(request.req, self.accepted[1][2]))
            return
        if type(request) is Put and self.proposal is None:
            self.proposal = (request.req, request.client, request.value)
            self.ballot = (self.ballot[0] + 1, self.id)
            self.prepares = {self.id: self.accepted}
            self.accepts = frozenset()
            self.broadcast(Prepare(self.ballot))
        # a Get before the decision, or a Put while proposing: no-op (stays in flight)

    def on_message(self, src: int, msg: Any) -> None:
        if self.is_decided:
            return
        t = type(msg)
        if t is Prepare and self.ballot < msg.ballot:
            self.ballot = msg.ballot
            self.send(src, Prepared(msg.ballot, self.accepted))
        elif t is Prepared and msg.ballot == self.ballot:
            self.prepares = {**self.prepares, src: msg.last_accepted}
            if len(self.prepares) == self._majority():
                best = max(self.prepares.values(), key=_accepted_key)
                if best is not None:
                    self.proposal = best[1]
                assert self.proposal is not None
                self.accepted = (msg.ballot, self.proposal)
                self.accepts = self.accepts | {self.id}
                self.broadcast(Accept(msg.ballot, self.proposal))
        elif t is Accept and self.ballot <= msg.ballot:
            self.ballot = msg.ballot
            self.accepted = (msg.ballot, msg.proposal)
            self.send(src, Accepted(msg.ballot))
        elif t is Accepted and msg.ballot == self.ballot:
            self.accepts = self.accepts | {src}
            if len(self.accepts) == self._majority():
                self.is_decided = True
                assert self.proposal is not None
                self.broadcast(Decided(msg.ballot, self.proposal))
                req, requester, _ = self.proposal
                self.send(requester, PutOk(req))
        elif t is Decided:
            self.ballot = msg.ballot
            self.accepted = (msg.ballot, msg.proposal)
            self.is_decided = True


# -- the models -----------------------------------------------------------------------------------
def _register_model(server: Callable[..., Node], servers: int, clients: int, **options: Any) -> ActorModel:
    if isinstance(servers, bool) or not isinstance(servers, int) or servers < 1:
        raise ValueError(f"`servers` must be an integer >= 1; got {servers!r}.")
    if isinstance(clients, bool) or not isinstance(clients, int) or clients < 0:
        raise ValueError(f"`clients` must be an integer >= 0; got {clients!r}.")
    return ActorModel(
        server, servers, clients=[RegisterClient] * clients, network="unordered",
        properties=register_properties(), history=RegisterHistory(),
        record_out=record_invocations, record_in=record_returns,
        skip_noop_deliveries=True, **options)


def single_copy_register(clients: int = 2, servers: int = 1, **options: Any) -> ActorModel:
    """stateright's single-copy register: linearizable with one server, not with two.

    2 clients / 1 server: 93 states, exhaustive. 2 clients / 2 servers: breadth-first search
    finds the linearizability violation in 4 steps (``Put`` B to server 1, ``PutOk``, ``Get``
    to server 0, ``GetOk`` of the initial value); the number of states it has generated when it
    stops depends on when the search may stop (see tests/explore/test_published_counts.py).
    """
    return _register_model(SingleCopyServer, servers, clients, **options)


def abd_register(clients: int = 2, servers: int = 2, **options: Any) -> ActorModel:
    """stateright's ABD register (2 clients / 2 servers: 544 states, linearizable)."""
    return _register_model(AbdServer, servers, clients, **options)


def paxos_register(clients: int = 2, servers: int = 3, **options: Any) -> ActorModel:
    """stateright's single-decree Paxos register (2 clients / 3 servers: 16,668 states, linearizable)."""
    return _register_model(PaxosServer, servers, clients, **options)

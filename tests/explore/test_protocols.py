"""The explorer on the project's own protocols (issue 16, "The project's own protocols").

Every model here is built from a protocol configuration by
:mod:`consensuslab.explore.models.protocols` over the very node classes the simulator runs;
every counterexample is replayed in the simulator (:func:`consensuslab.explore.replay.replay`)
and must raise the same invariant, from the same monitor, at the same event.

Paper rules checked: Agreement and Validity of single-decree Paxos (Lamport 2001, §2.1–§2.2);
the quorum-intersection condition of Flexible Paxos (Howard, Malkhi & Spiegelman 2016: every
phase-1 quorum must meet every phase-2 quorum); Raft's current-term commit rule (Ongaro &
Ousterhout 2014, §5.4.2 and Figure 8) and the five properties of Figure 3; Multi-Paxos's
agreement per slot and State Machine Safety (Lamport 2001, §3).
"""

from __future__ import annotations

import pytest

from consensuslab.explore import Deliver, Timeout, check
from consensuslab.explore.models.protocols import (
    FIGURE8,
    FIGURE8_BOUNDS,
    FIGURE8_TERM3,
    StartingAt,
    follow,
    multipaxos_model,
    paxos_model,
    raft_model,
    violation,
)
from consensuslab.explore.replay import replay


def _replays(model, path) -> str:
    """Replay ``path`` in the simulator; it must stop with the explorer's violation, at its last event."""
    expected = violation(model, path.last)
    assert expected is not None, "the path's last state violates no invariant"
    run = replay(model, path)
    assert run.violation is not None, "the simulator's monitor saw no violation"
    assert run.violation.invariant == expected.invariant
    assert run.steps == len(path)
    return expected.invariant


# -- single-decree Paxos (Lamport 2001, §2) ------------------------------------------------------------
def test_paxos_three_acceptors_two_proposers_is_safe_and_exhausted() -> None:
    """3 acceptors, proposers 0 and 1 with values 1 and 2, default (unordered) network, one
    ballot each (``max_round=1``): the search is exhaustive; no Agreement or Validity violation
    (§2.1: only a proposed value is chosen, and only one); a value can be chosen (not vacuous).
    25,723 states, ~20–30 s on the shared 2-core machine (1,000–1,300 states/s)."""
    model = paxos_model(n=3, proposers=(0, 1), values=(1, 2), max_round=1)
    result = check(model)
    print(f"\nPaxos n=3, 2 proposers, max_round=1: {result}")
    assert result.complete and result.stopped_by == "exhausted"
    assert result.safe
    assert result.unreached == []
    assert result.unique_states == 25_723  # deterministic: a change here is a change of the model


def test_flexible_paxos_without_intersection_breaks_agreement() -> None:
    """n=4 with |Q1| = |Q2| = 2, so q1 + q2 <= n: a phase-1 quorum can miss a phase-2 quorum
    (Howard et al. 2016) and BFS finds the shortest run where two values are chosen: each
    proposer gets a promise from one other acceptor and an acceptance from a third."""
    model = paxos_model(n=4, q1=2, q2=2, max_round=1)
    assert model.config.unsafe
    result = check(model, stop_when="violation")
    path = result.counterexamples["safety"]
    print(f"\nFlexible Paxos n=4, q1=q2=2: {result}\n{path}")
    assert len(path) == 8  # BFS: shortest
    assert "Agreement" in result.details["safety"]
    assert _replays(model, path) == "Agreement"


def test_flexible_paxos_with_intersecting_quorums_is_safe() -> None:
    """The control: n=4 with q1=3, q2=2 (3 + 2 > 4) gives no violation within one ballot each."""
    result = check(paxos_model(n=4, q1=3, q2=2, max_round=1), stop_when="violation", max_states=20_000)
    assert result.safe


# -- replay ----------------------------------------------------------------------------------------------
def test_replay_rejects_a_path_that_is_not_a_run() -> None:
    model = paxos_model(n=3, max_round=1)
    with pytest.raises(ValueError, match="cannot replay event 1"):
        replay(model, [Deliver(0, 1, "no such message")])
    with pytest.raises(ValueError, match="no armed timer"):
        replay(model, [Timeout(2, "start")])  # node 2 is not a proposer


def test_replay_of_a_safe_path_reports_no_violation() -> None:
    model = paxos_model(n=3, max_round=1)
    result = check(model, stop_when="any")
    run = replay(model, result.examples["a value is chosen"])
    assert run.violation is None and run.steps == len(result.examples["a value is chosen"])
    frame = run.sim.trace.to_frame()
    assert list(frame["time"]) == sorted(frame["time"])  # one tick per event: a chart can be drawn


def test_replay_needs_a_model_with_a_config() -> None:
    from consensuslab.explore import ActorModel
    from consensuslab.sim.example import Flood

    with pytest.raises(ValueError, match="model.config"):
        replay(ActorModel(Flood, 2), [])


# -- bad input ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("build", "kwargs", "message"),
    [
        (paxos_model, {"max_round": 0}, r"`max_round` must be an int >= 1"),
        (paxos_model, {"crashes": -1}, r"`crashes` must be an int >= 0"),
        (paxos_model, {"n": 0}, r"`n` must be an int >= 1"),
        (paxos_model, {"network": "carrier pigeon"}, r"`network` must be one of"),
        (raft_model, {"max_term": 0}, r"`max_term` must be an int >= 1"),
        (raft_model, {"commands": -1}, r"`commands` must be an int >= 0"),
        (raft_model, {"crashes": -2}, r"`crashes` must be an int >= 0"),
        (raft_model, {"retries": -1}, r"`retries` must be an int >= 0"),
        (raft_model, {"candidates": (0, 7)}, r"`candidates\[\]` must be an int >= 0 and <= 2"),
        (raft_model, {"election_timeout": (150, 300)}, r"`election_timeout` must be a fixed"),
        (multipaxos_model, {"max_round": -1}, r"`max_round` must be an int >= 1"),
        (multipaxos_model, {"commands": -1}, r"`commands` must be an int >= 0"),
        (raft_model, {"reads": -1}, r"`reads` must be an int >= 0"),
        (multipaxos_model, {"reads": -2}, r"`reads` must be an int >= 0"),
        (raft_model, {"network": "latest-ish"}, r"`network` must be one of .*'latest'"),
    ],
)
def test_bad_bounds_name_the_parameter_and_range(build, kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        build(**kwargs)


def test_bad_types_are_type_errors() -> None:
    with pytest.raises(TypeError, match="`max_round` must be an int"):
        paxos_model(max_round=1.5)
    with pytest.raises(TypeError, match="`heartbeats` must be a bool"):
        raft_model(heartbeats="yes")


# -- Raft: Figure 8 (Ongaro & Ousterhout 2014, §5.4.2) ---------------------------------------------------
# Bounds (FIGURE8_BOUNDS): 3 servers, candidates A = 0 and B = 1, terms <= 4, no crash, no client
# (the entries are the no-ops each new leader appends, §8), the "latest" network (a link keeps
# its latest message), one entry per AppendEntries.
def test_raft_figure8_schedule_is_a_run_violates_leader_completeness_and_replays() -> None:
    """Without the current-term commit rule (§5.4.2) the 18-event Figure 8 schedule is a run of
    the explored nodes, the monitor reports Leader Completeness at its last event (B wins term 4
    without the entry A committed in term 3 by counting replicas) and not before, and the
    simulator, replaying it event by event, raises the same invariant at the same event. Every
    run of the "latest" network is a run of the default one: the schedule is one there too."""
    model = raft_model(figure8_rule=False, **FIGURE8_BOUNDS)
    path = follow(model, FIGURE8)
    assert len(path) == 18
    assert all(violation(model, s) is None for s in path.states[:-1])  # it comes with B's victory
    assert _replays(model, path) == "Leader Completeness"
    assert "t=" not in str(violation(model, path.last))  # the explorer has no clock
    unordered = raft_model(figure8_rule=False, **{**FIGURE8_BOUNDS, "network": "unordered"})
    assert violation(unordered, follow(unordered, FIGURE8).last).invariant == "Leader Completeness"


def test_raft_figure8_schedule_is_harmless_with_the_rule() -> None:
    """With the rule the same 18 events are all enabled, but A never commits its term-1 entry
    by counting replicas in term 3, so B's victory in term 4 breaks nothing."""
    model = raft_model(figure8_rule=True, **FIGURE8_BOUNDS)
    path = follow(model, FIGURE8)
    assert all(violation(model, s) is None for s in path.states)
    assert all(node.commit_index == 0 for node in path.last.nodes)
    assert replay(model, path).violation is None


def test_raft_figure8_from_the_term3_leader_found_and_exhausted_with_the_rule() -> None:
    """From the state after the schedule's first 11 events (A has just won term 3; B led term 2;
    C holds nothing), within the same bounds: BFS finds the shortest violation itself, 7 more
    events (498 states, under a second), and it replays; with the rule the search from the same
    state is exhaustive — every continuation within the bounds — and meets no violation
    (9,552 states, ~10 s)."""
    from consensuslab.explore import Path

    model = raft_model(figure8_rule=False, **FIGURE8_BOUNDS)
    prefix = follow(model, FIGURE8[:FIGURE8_TERM3])
    result = check(StartingAt(model, prefix.last), stop_when="violation")
    print(f"\nRaft Figure 8 from the term-3 leader: {result}")
    tail = result.counterexamples["safety"]
    assert len(tail) == 7 and result.unique_states == 498
    assert _replays(model, Path(prefix.initial, prefix.steps + tail.steps)) == "Leader Completeness"

    ruled = raft_model(figure8_rule=True, **FIGURE8_BOUNDS)
    safe = check(StartingAt(ruled, follow(ruled, FIGURE8[:FIGURE8_TERM3]).last))
    print(f"Raft with the rule, from the term-3 leader: {safe}")
    assert safe.complete and safe.safe and safe.unique_states == 9_552


@pytest.mark.slow
def test_raft_figure8_found_by_bfs_from_the_initial_state() -> None:
    """The explorer finds Figure 8 by itself from the initial state: breadth-first search within
    FIGURE8_BOUNDS reaches a Leader Completeness violation in 18 events — the shortest — and
    that path is FIGURE8 (the schedule above was read off it). 334,611 states (1,163,803
    transitions), about 5 minutes on this 2-core machine. The path replays in the simulator."""
    model = raft_model(figure8_rule=False, **FIGURE8_BOUNDS)
    result = check(model, stop_when="violation", progress=True, progress_every=30)
    print(f"\nRaft Figure 8 from the initial state: {result}")
    path = result.counterexamples["safety"]
    assert len(path) == 18 and result.unique_states == 334_611
    assert "Leader Completeness" in result.details["safety"]
    assert path.events == follow(model, FIGURE8).events
    assert _replays(model, path) == "Leader Completeness"


@pytest.mark.slow
def test_raft_with_the_rule_no_violation_within_the_figure8_bounds() -> None:
    """With the rule on, the same bounds searched exhaustively from the initial state: no
    violation of any of the five properties of Figure 3, and a leader is elected. 1,030,641
    states (4,049,788 transitions, depth 33), about 18 minutes on this 2-core machine."""
    model = raft_model(figure8_rule=True, **FIGURE8_BOUNDS)
    result = check(model, progress=True, progress_every=60)
    print(f"\nRaft with the Figure 8 rule, FIGURE8_BOUNDS, from the initial state: {result}")
    assert result.complete and result.safe and result.unreached == []
    assert result.unique_states == 1_030_641


def test_raft_model_elects_and_commits() -> None:
    """The Raft model is not vacuous: a leader is elected and a client command committed (one
    candidate, term 1 only: a small space, exhausted)."""
    model = raft_model(n=3, commands=1, crashes=0, max_term=1, candidates=(0,))
    result = check(model)
    print(f"\nRaft n=3, 1 command, candidate 0, term 1: {result}")
    assert result.complete and result.safe and result.unreached == []
    assert len(result.examples["a leader is elected"]) == 3  # timeout, RequestVote, reply
    # deliver the request; AppendEntries (no-op), reply; AppendEntries (the put), reply -> commit
    path = result.examples["a command is committed"]
    assert len(path) == 8
    # the replay drives the client actor too: its request reaches the leader in the simulator
    run = replay(model, path)
    assert run.violation is None
    assert [c.op for c in run.sim.nodes[0].applied] == ["noop", "put"]
    assert [c.op for c in path.last.nodes[0].applied] == ["noop", "put"]


# -- the clients' history: linearizability (Herlihy & Wing 1990) by consensuslab.check -------------------
def test_raft_client_history_is_linearizable_and_a_read_returns() -> None:
    """A put then a get through one candidate's term (Raft §8: reads go through the log): every
    state's client history is linearizable — checked by ``check_linearizable`` — and the read
    does return (the invariant is not vacuous); exhaustive, 1,569 states."""
    model = raft_model(n=3, commands=1, reads=1, crashes=0, max_term=1, candidates=(0,))
    result = check(model)
    print(f"\nRaft n=3, put + get, candidate 0, term 1: {result}")
    assert result.complete and result.safe and result.unreached == []
    assert result.unique_states == 1_569
    last = result.examples["a read returns"].last.history[1]
    assert [(op[4], op[7]) for op in last] == [("put", None), ("get", 1)]  # the get read the put


def test_a_stale_read_is_caught_as_a_linearizability_violation() -> None:
    """The invariant can fail: a one-server store that forgets its puts answers the get after
    ``put(x, 1)`` returned with ``None`` — no linearization exists. A store that remembers passes."""
    from consensuslab.explore import ActorModel
    from consensuslab.explore.models.protocols import (
        EMPTY_HISTORY,
        KVClient,
        linearizable_history,
        record_invocation,
        record_return,
    )
    from consensuslab.node import Node
    from consensuslab.protocols.kv import ClientResponse

    class Store(Node):
        forgetful = False

        def on_start(self) -> None:
            self.data: dict = {}

        def on_client(self, request) -> None:
            cmd = request.command
            if cmd.op == "put" and not self.forgetful:
                self.data[cmd.key] = cmd.value
            self.reply(request, ClientResponse(request.client, request.seq, True, value=self.data.get(cmd.key)))

    class Forgetful(Store):
        forgetful = True

    def client(actor, servers, rng, stable):
        return KVClient(actor, servers, rng, stable, commands=1, reads=1, retries=0)

    def model(server):
        return ActorModel(server, 1, clients=[client], history=EMPTY_HISTORY, record_out=record_invocation,
                          record_in=record_return, properties=[linearizable_history()])

    bad = check(model(Forgetful))
    path = bad.counterexamples["linearizable"]
    assert "Linearizability violated" in bad.details["linearizable"]
    assert "get('x') [2, 3] -> None" in bad.details["linearizable"]
    assert len(path) == 4  # put, its answer, get, its answer
    assert check(model(Store)).safe


def test_client_history_records_first_sends_and_successful_answers_only() -> None:
    from consensuslab.explore.models.protocols import (
        EMPTY_HISTORY,
        record_invocation,
        record_return,
    )
    from consensuslab.protocols.kv import ClientRequest, ClientResponse, Command

    put = ClientRequest(3, 1, Command(3, 1, "put", "x", 1))
    h = record_invocation(EMPTY_HISTORY, 3, 0, put)
    assert record_invocation(h, 3, 1, put) == h  # a resend is the same operation
    assert record_invocation(h, 0, 1, "AppendEntries") == h
    assert record_return(h, 0, 3, ClientResponse(3, 1, False, leader_hint=1)) == h  # a redirect
    done = record_return(h, 0, 3, ClientResponse(3, 1, True))
    assert done == (2, ((3, 1, 0, 1, "put", "x", 1, None),))
    assert record_return(done, 1, 3, ClientResponse(3, 1, True)) == done  # a duplicate answer


# -- Multi-Paxos (Lamport 2001, §3) ------------------------------------------------------------------------
@pytest.mark.slow
def test_multipaxos_leader_crash_is_safe_within_bounds() -> None:
    """3 nodes, 2 client commands, 1 crash (any node, the leader included), ballots of round
    <= 2, candidates 0 and 1, every run of at most 9 events (BFS, depth bound): no violation
    of agreement per slot or State Machine Safety, and a leader takes over from a crashed one
    (in 7 events). 104,514 states, ~60–120 s on the shared 2-core machine."""
    model = multipaxos_model(n=3, commands=2, crashes=1, max_round=2, candidates=(0, 1))
    result = check(model, max_depth=9)
    print(f"\nMulti-Paxos n=3, 2 commands, 1 crash, depth <= 9: {result}")
    assert result.safe and result.stopped_by == "depth bound"
    assert result.unreached == []

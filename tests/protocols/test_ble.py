"""Ballot Leader Election (Omni-Paxos §4): one test per rule, then whole-cluster stories.

Rules R1-R5 are numbered as in :mod:`consensuslab.protocols.ble` (Ng, Haridi & Carbone,
EuroSys 2023, §4; the paper's code ``ble.rs`` in haraldng/omnipaxos-artifacts). The stories use
the partial-connectivity patterns of :mod:`consensuslab.scenarios.connectivity`; the monitor
(:class:`~consensuslab.protocols.ble.BLEMonitor`) runs after every step and is shown to catch a
server that lies about its connectivity and an election of a server that is not
quorum-connected.
"""

from __future__ import annotations

import numpy as np
import pytest

from consensuslab.check import SafetyViolation
from consensuslab.node import Broadcast, Persist, Send, SetTimer
from consensuslab.protocols.ble import (
    BallotLeaderElection,
    BLEConfig,
    BLEMonitor,
    BLENode,
    HeartbeatReply,
    HeartbeatRequest,
)
from consensuslab.protocols.paxos import Ballot
from consensuslab.scenarios.connectivity import PATTERNS
from consensuslab.sim.nemesis import Nemesis
from consensuslab.sim.simulator import simulate

ET = 100.0


def node(i: int = 0, n: int = 5, stable: dict | None = None) -> BLENode:
    x = BLENode(i, tuple(range(n)), np.random.default_rng(0), stable or {}, BLEConfig(n=n, election_timeout=ET))
    x.on_start()
    return x


def end_round(x: BLENode, replies: dict[int, tuple[Ballot, bool]]) -> Ballot | None:
    """Deliver ``replies`` for the current round, then fire the round timer (R4)."""
    for src, (b, qc) in replies.items():
        x.on_message(src, HeartbeatReply(x.ble.round, b, qc))
    x.out.clear()
    return x.ble.on_timeout()


def b(n: int, pid: int) -> Ballot:
    return Ballot(n, pid)


# -- R1-R5, one rule per test (§4) ---------------------------------------------------------------
def test_r1_each_round_sends_a_request_to_every_peer_and_arms_the_round_timer():
    """§4: 'every hb_delay a server starts a new heartbeat round'."""
    x = node()
    assert Broadcast(HeartbeatRequest((1, 1))) in x.out
    assert SetTimer("ble", ET) in x.out
    x.out.clear()
    x.on_timer("ble")
    assert Broadcast(HeartbeatRequest((1, 2))) in x.out


def test_r2_a_reply_carries_the_servers_own_ballot_and_flag_never_its_leaders():
    """§4 and the blog's chained scenario: heartbeats carry the sender's ballot, not its leader's."""
    x = node(0)
    end_round(x, {1: (b(1, 1), False), 2: (b(1, 2), False)})  # first round: QC, elects nothing
    end_round(x, {1: (b(1, 1), True), 4: (b(3, 4), True)})  # elects (3, 4)
    assert x.ble.leader == b(3, 4)
    x.out.clear()
    x.on_message(2, HeartbeatRequest((9, 9)))
    assert x.out == [Send(2, HeartbeatReply((9, 9), b(1, 0), True))]


def test_r3_a_late_reply_is_ignored_and_duplicates_count_once():
    """§4: replies are counted only in the round they answer; ours also keeps one per sender."""
    x = node()
    x.on_message(1, HeartbeatReply((1, 0), b(5, 1), True))  # an earlier round
    x.on_message(2, HeartbeatReply((0, 1), b(5, 2), True))  # a previous life's round
    assert x.ble.heard == {}
    x.on_message(3, HeartbeatReply((1, 1), b(1, 3), True))
    x.on_message(3, HeartbeatReply((1, 1), b(1, 3), True))  # a duplicated message
    x.ble.on_timeout()
    assert x.ble.quorum_connected is False  # 3 and itself: 2 of 5


def test_r4_quorum_connected_iff_a_majority_including_itself_replied():
    x = node()
    assert x.ble.quorum_connected is False  # no evidence before the first round ends
    end_round(x, {1: (b(1, 1), True)})
    assert x.ble.quorum_connected is False and x.ble.candidates == frozenset()
    end_round(x, {1: (b(1, 1), True), 2: (b(1, 2), False)})
    assert x.ble.quorum_connected is True and x.ble.candidates == frozenset({0, 1})


def test_r4_no_election_in_the_first_round_nor_when_not_quorum_connected():
    x = node()
    assert end_round(x, {k: (b(1, k), True) for k in (1, 2, 3, 4)}) is None  # first round: flags unproven
    assert end_round(x, {4: (b(9, 4), True)}) is None  # not quorum-connected: no election
    assert x.ble.leader is None


def test_r5b_the_highest_quorum_connected_ballot_is_elected_others_are_ignored():
    """§4 checkLeader: max over candidates whose flag is set; a higher non-QC ballot loses."""
    x = node(0)
    end_round(x, {1: (b(1, 1), False), 2: (b(1, 2), False)})
    top = end_round(x, {1: (b(2, 1), True), 2: (b(1, 2), True), 4: (b(7, 4), False)})
    assert top == b(2, 1) and x.ble.leader == b(2, 1)
    assert end_round(x, {1: (b(2, 1), True), 2: (b(1, 2), True)}) is None  # unchanged: no new event


def test_r5a_losing_the_leader_raises_our_ballot_above_it_then_we_are_elected():
    """§4: 'if the leader is not among the candidates, increment the ballot above the leader's'."""
    x = node(0)
    end_round(x, {1: (b(1, 1), False), 2: (b(1, 2), False)})
    assert end_round(x, {1: (b(1, 1), True), 4: (b(3, 4), True)}) == b(3, 4)
    x.out.clear()
    assert end_round(x, {1: (b(1, 1), True), 4: (b(3, 4), False)}) is None  # 4 no longer QC
    assert x.ble.leader is None and x.ble.ballot == b(4, 0)
    assert end_round(x, {1: (b(1, 1), True), 2: (b(1, 2), True)}) == b(4, 0)


def test_the_raised_ballot_is_persisted_before_it_can_leave_in_a_reply():
    x = node(0)
    end_round(x, {1: (b(1, 1), False), 2: (b(1, 2), False)})
    end_round(x, {1: (b(1, 1), True), 4: (b(3, 4), True)})
    end_round(x, {1: (b(1, 1), True), 2: (b(1, 2), True)})  # leader 4 missing: raise to 4
    x.on_message(3, HeartbeatRequest((5, 5)))
    persist = x.out.index(Persist({"ble_round": 4}))
    assert x.out.index(Send(3, HeartbeatReply((5, 5), b(4, 0), True))) > persist
    again = node(0, stable=x.stable)  # a restart keeps the ballot and starts a new incarnation
    assert again.ble.ballot == b(4, 0) and again.ble.round == (2, 1)


def test_ble_component_rejects_a_ballot_of_another_server():
    host = BLENode(0, (0, 1, 2), np.random.default_rng(0), {}, BLEConfig(n=3))
    with pytest.raises(ValueError, match="must belong to node 0"):
        BallotLeaderElection(host, b(1, 2), period=ET)


def test_ble_config_bad_input():
    with pytest.raises(ValueError, match="election_timeout"):
        BLEConfig(n=3, election_timeout=0)
    with pytest.raises(TypeError, match="`n`"):
        BLEConfig(n=2.5)  # type: ignore[arg-type]


# -- stories on the simulator --------------------------------------------------------------------
def cluster(n: int, seed: int = 1):
    sim = simulate(BLEConfig(n=n, election_timeout=ET), seed=seed, latency=(1.0, 10.0), trace=False)
    sim.run_for(3 * ET)
    return sim


def apply(sim, name: str, leader_role_id: int):
    p = PATTERNS[name]
    mapping = p.assign(leader_role_id, range(p.n))
    for k in range(len(p.steps)):
        p.apply(sim, mapping, k)
    return mapping


def test_all_servers_elect_the_highest_ballot_after_two_rounds():
    sim = cluster(5)
    assert {x.ble.leader for x in sim.nodes} == {b(1, 4)}


def test_quorum_loss_only_the_quorum_connected_server_takes_over():
    """Paper §2 Fig. 1a / blog: A, still connected to leader C, sees C lose its quorum and wins."""
    sim = cluster(5)
    m = apply(sim, "quorum-loss", 4)
    sim.run_for(5 * ET)
    a = sim.nodes[m["A"]]
    assert a.ble.quorum_connected and a.ble.leader is not None and a.ble.leader.proposer == m["A"]
    assert a.ble.leader > b(1, 4)
    for r in "BCDE":
        assert not sim.nodes[m[r]].ble.quorum_connected
        assert sim.nodes[m[r]].ble.ballot.round == 1  # nobody else ever raised its ballot


def test_chained_the_old_leader_never_hears_of_the_new_one():
    """Blog, chained scenario: C takes over with A; B, which cannot reach C, keeps its own view
    and never raises its ballot — no leader gossip, so no flip-flop."""
    sim = cluster(3)
    m = apply(sim, "chained", 2)
    sim.run_for(10 * ET)
    a, bb, c = (sim.nodes[m[r]] for r in "ABC")
    assert c.ble.leader.proposer == m["C"] and a.ble.leader == c.ble.leader
    assert bb.ble.leader == b(1, m["B"]) and bb.ble.ballot == b(1, m["B"])
    assert len(sim.nodes[m["A"]].ghost_ble_elections) == 2  # the initial leader, then C: no flip-flop


def test_monitor_holds_under_a_random_nemesis():
    """Crashes, restarts, partitions and loss: BLE's properties hold after every step."""
    for seed in range(40):
        n = (3, 5, 4, 7)[seed % 4]
        sim = simulate(BLEConfig(n=n, election_timeout=ET), seed=seed, latency=(1.0, 30.0), trace=False)
        Nemesis(n, seed, duration=3000.0, interval=(20.0, 200.0), max_loss=0.4).apply(sim, sim)
        sim.run_for(4000.0)
        sim.monitor.observe(sim)
        assert len({x.ble.leader for x in sim.nodes}) == 1, f"seed {seed}: no agreement after healing"


def _run_quorum_loss(seed: int):
    sim = cluster(5, seed)
    apply(sim, "quorum-loss", 4)
    sim.run_for(6 * ET)


def test_monitor_catches_a_server_that_always_claims_quorum_connectivity(monkeypatch):
    """Mutation: R2 with the flag forced to True. The isolated old leader lies; caught."""
    original = BallotLeaderElection.on_request

    def liar(self, src, m):
        self.quorum_connected = True
        original(self, src, m)

    monkeypatch.setattr(BallotLeaderElection, "on_request", liar)
    with pytest.raises(SafetyViolation, match="quorum-connected flag"):
        _run_quorum_loss(1)


def test_monitor_catches_an_election_of_a_server_that_is_not_quorum_connected(monkeypatch):
    """Mutation: R5 that ignores the flags (every heard ballot is a candidate)."""
    original = BallotLeaderElection.on_reply

    def blind(self, src, m):
        original(self, src, HeartbeatReply(m.round, m.ballot, True))

    monkeypatch.setattr(BallotLeaderElection, "on_reply", blind)
    # server 1 holds the highest ballot but reaches only server 0: it is never quorum-connected
    sim = simulate(BLEConfig(n=5, election_timeout=ET), seed=1, latency=(1.0, 10.0), trace=False)
    sim.storage[1]["ble_round"] = 5
    for j in (2, 3, 4):
        sim.cut_link(1, j, both=True)
    with pytest.raises(SafetyViolation, match="elects only quorum-connected"):
        sim.run_for(5 * ET)


def test_without_the_mutation_the_isolated_high_ballot_is_never_elected():
    sim = simulate(BLEConfig(n=5, election_timeout=ET), seed=1, latency=(1.0, 10.0), trace=False)
    sim.storage[1]["ble_round"] = 5
    for j in (2, 3, 4):
        sim.cut_link(1, j, both=True)
    sim.run_for(5 * ET)
    assert {x.ble.leader for k, x in enumerate(sim.nodes) if k != 1} == {b(1, 4)}


def test_monitor_rejects_a_decreasing_ballot():
    sim = cluster(3)
    sim.nodes[0].ghost_ble_rounds.append(sim.nodes[0].ghost_ble_rounds[-1]._replace(ballot=b(0, 0)))
    with pytest.raises(SafetyViolation, match="ballot monotonicity"):
        BLEMonitor(3).observe(sim)

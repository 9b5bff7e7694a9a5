"""Reads outside the log: ReadIndex (dissertation §6.4) and leases (§6.4.1), paper-rule style,
with the message counts per read of each mode and the stale-read experiment.

References: Ongaro (2014), "Consensus: Bridging Theory and Practice" — "diss. §6.4";
hashicorp/raft issue #108 and Jepsen (2014) on stale reads from leader leases.
"""

from __future__ import annotations

import numpy as np
import pytest

from consensuslab.cluster import Cluster
from consensuslab.experiments.raft_reads import (
    count_stale_reads,
    lease_bound,
    read_cost_trial,
    stale_read_table,
    stale_read_trial,
)
from consensuslab.node import Broadcast, Reply, Send
from consensuslab.protocols.kv import ClientRequest, Command
from consensuslab.protocols.raft import (
    AppendEntries,
    AppendEntriesReply,
    RaftConfig,
    RaftNode,
    RequestVoteReply,
    Role,
)


def make(n: int = 3, **opts) -> RaftNode:
    cfg = RaftConfig(n=n, **opts)
    node = cfg.make_node(0, tuple(range(n)), np.random.default_rng(3), {})
    node.on_start()
    node.out.clear()
    return node


def lead(node: RaftNode) -> None:
    node.now = node._deadline
    node.on_timer("election")
    for p in node._vote_targets:
        if node.role is Role.LEADER:
            break
        node.on_message(p, RequestVoteReply(node.term, True))
    node.out.clear()


def get(seq: int = 1) -> ClientRequest:
    return ClientRequest(7, seq, Command(7, seq, "get", "x"))


def replies(node: RaftNode) -> list:
    out = [e.response for e in node.out if isinstance(e, Reply)]
    return out


def appends(node: RaftNode) -> list[tuple[int, AppendEntries]]:
    return [(e.dst, e.msg) for e in node.out if isinstance(e, Send) and isinstance(e.msg, AppendEntries)]


def ack(node: RaftNode, peer: int, round_: int) -> None:
    node.on_message(peer, AppendEntriesReply(node.term, True, match_index=node.last_log_index, read_round=round_))


# -- diss. §6.4 ReadIndex ----------------------------------------------------------------------


def test_read_index_waits_for_an_entry_of_the_leaders_term() -> None:
    """diss. §6.4 step 1: "If the leader has not yet marked an entry from its current term
    committed, it waits until it has done so." The read index is then at least the no-op."""
    node = make(read_mode="read_index")
    lead(node)
    node.on_client(get())
    (round_, index, _), = node._reads
    assert index == node._term_start == 1 and node.commit_index == 0
    ack(node, 1, round_)  # the round is confirmed (leader + 1 of 3) and the no-op commits
    assert [r.ok for r in replies(node)] == [True]


def test_read_index_confirms_leadership_with_a_heartbeat_round_then_answers() -> None:
    """diss. §6.4 steps 2-5: record the commit index, send a new round of heartbeats, answer
    once a majority acknowledged that round and the state machine reached the read index."""
    node = make(n=5, read_mode="read_index")
    lead(node)
    for p in (1, 2, 3, 4):
        ack(node, p, node._round)  # commit the no-op
    node.out.clear()
    node.on_client(get())
    sent = appends(node)
    assert sorted(d for d, _ in sent) == [1, 2, 3, 4]  # a fresh round to everyone
    r = sent[0][1].read_round
    assert all(m.read_round == r for _, m in sent) and r == node._round
    ack(node, 1, r - 1)  # an older round proves nothing about this read
    ack(node, 2, r)
    assert replies(node) == []  # leader + 1 of 5
    ack(node, 3, r)
    (resp,) = replies(node)
    assert resp.ok and resp.value is None and node.reads_served["read_index"] == 1
    assert node.last_log_index == 1  # no log entry for the read


def test_read_index_leader_without_a_majority_never_answers() -> None:
    """diss. §6.4: a deposed leader cannot confirm its leadership, so it cannot serve a stale
    read; when it learns the new term it fails the read (the client retries elsewhere)."""
    node = make(read_mode="read_index")
    lead(node)
    ack(node, 1, node._round)
    node.out.clear()
    node.on_client(get())
    assert replies(node) == []
    node.on_message(2, AppendEntries(node.term + 1, 2, 0, 0, (), 0))
    (resp,) = replies(node)
    assert not resp.ok and resp.error == "not leader"


# -- diss. §6.4.1 leases ----------------------------------------------------------------------


def test_lease_reads_need_check_quorum() -> None:
    """diss. §6.4.1: the lease relies on followers not electing a new leader within an
    election timeout of hearing from the leader -- CheckQuorum's rule (etcd demands it too)."""
    with pytest.raises(ValueError, match="`read_mode` 'lease' needs `check_quorum=True`"):
        RaftConfig(n=3, read_mode="lease")
    with pytest.raises(ValueError, match="`read_mode` must be one of"):
        RaftConfig(n=3, read_mode="fast")
    with pytest.raises(ValueError, match="`lease` must be a number > 0"):
        RaftConfig(n=3, read_mode="lease", check_quorum=True, lease=0)
    assert RaftConfig(n=3).lease_duration == pytest.approx(150.0 / 1.05)


def test_lease_starts_at_the_send_time_of_the_acknowledged_round() -> None:
    """diss. §6.4.1: "once the leader's heartbeats were acknowledged by a majority, it would
    extend its lease to start + election timeout / clock drift bound", start being when the
    round was sent; within the lease it answers alone, with no message."""
    node = make(read_mode="lease", check_quorum=True, lease=100.0)
    lead(node)
    t0 = node.now
    r = node._round
    node.now = t0 + 30.0
    ack(node, 1, r)
    assert node._lease_until == pytest.approx(t0 + 100.0)  # from the send time, not the ack
    node.out.clear()
    node.now = t0 + 99.0
    node.on_client(get())
    (resp,) = replies(node)
    assert resp.ok and not appends(node) and node.reads_served["lease"] == 1
    node.out.clear()
    node.now = t0 + 100.5  # expired: fall back to ReadIndex
    node.on_client(get(2))
    assert replies(node) == [] and appends(node)


def test_a_restarted_follower_honours_leases_it_may_have_granted() -> None:
    """diss. §6.4.1: the lease relies on every follower that acknowledged a round refusing votes
    for an election timeout; a restarted follower has forgotten when it last heard from the
    leader, so in lease mode it waits one election timeout after restarting before voting."""
    from consensuslab.protocols.raft import RequestVote

    for mode, refuses in (("lease", True), ("read_index", False)):
        cfg = RaftConfig(n=3, read_mode=mode, check_quorum=True)
        node = cfg.make_node(1, (0, 1, 2), np.random.default_rng(3), {"term": 4})
        node.now = 1000.0
        node.on_start()
        node.out.clear()
        node.now = 1100.0  # 100 ms < election_timeout[0] after the restart
        node.on_message(2, RequestVote(5, 2, 0, 0))
        got = [e.msg for e in node.out if isinstance(e, Send)]
        assert (got == []) is refuses and node.term == (4 if refuses else 5), mode
        node.out.clear()
        node.now = 1000.0 + 151.0
        node.on_message(2, RequestVote(6, 2, 0, 0))
        assert node.voted_for == 2 and node.term == 6


def test_no_lease_reads_during_a_leadership_transfer() -> None:
    """diss. §3.10 + §6.4.1: the transferee's election bypasses the followers' lease, so the
    leader gives up its lease when it starts a transfer."""
    node = make(read_mode="lease", check_quorum=True)
    lead(node)
    ack(node, 1, node._round)
    ack(node, 2, node._round)
    assert node._lease_until > node.now
    assert node.transfer_leadership(1)
    assert node._lease_until == -float("inf")


# -- message counts per read --------------------------------------------------------------------


@pytest.mark.parametrize("n", [3, 5])
@pytest.mark.parametrize("mode, expected", [("log", "2(n-1)"), ("read_index", "2(n-1)"), ("lease", "0")])
def test_messages_per_read_by_mode(n: int, mode: str, expected: str) -> None:
    """One read on a quiet cluster (no heartbeat in the window): through the log it costs one
    AppendEntries and its reply per follower, 2(n-1); ReadIndex the same in heartbeats, 2(n-1),
    but no log entry; a lease read costs no message at all."""
    c = Cluster("raft", n=n, seed=1, latency=10.0, read_mode=mode, check_quorum=True, heartbeat=1000.0,
                election_timeout=(5000.0, 6000.0), check_every_step=True)
    assert c.run_until(lambda: c.leader() is not None, timeout=20_000)
    assert c.put("x", 1).ok
    c.run_for(1500.0)  # one heartbeat round: the lease is fresh
    before, length = c.messages_sent, c.node(c.leader()).last_log_index
    op = c.get("x")
    assert op.ok and op.value == 1
    want = {"2(n-1)": 2 * (n - 1), "0": 0}[expected]
    assert c.messages_sent - before == want
    assert op.ret - op.call == (40.0 if want else 20.0)  # client hops are 10 ms each way
    assert c.node(c.leader()).last_log_index == length + (mode == "log")


def test_read_cost_on_a_calm_network() -> None:
    """Latency and messages per read with three concurrent readers on 5 servers (5-15 ms
    links): ReadIndex costs exactly one heartbeat round per read (8 messages), a lease none,
    the log more (entries and commit notices); lease reads are the fastest."""
    rows = {m: read_cost_trial(0, m, reads=30) for m in ("log", "read_index", "lease")}
    assert rows["read_index"]["messages_per_read"] == pytest.approx(8.0)
    assert abs(rows["lease"]["messages_per_read"]) < 0.5
    assert rows["log"]["messages_per_read"] > 8.0
    assert rows["lease"]["latency_mean"] < rows["read_index"]["latency_mean"] <= rows["log"]["latency_mean"] + 1e-9
    assert all(r["answered"] == r["reads"] for r in rows.values())


# -- the stale-read experiment ------------------------------------------------------------------


def test_stale_reads_from_a_lease_under_a_suspended_vm_not_with_read_index() -> None:
    """A leader cut off and suspended (its clock stops) resumes trusting its lease: clients
    pinned to it read stale values and the linearizability checker flags every history.
    A GC pause (clock running) does not; ReadIndex never does, over the same seeds."""
    for seed in range(4):
        vm = stale_read_trial(seed, "lease", fault="vm_pause", lease_factor=0.9)
        assert vm["stale_reads"] > 0 and vm["linearizable"] is False, vm
        gc = stale_read_trial(seed, "lease", fault="gc_pause", lease_factor=0.9)
        assert gc["stale_reads"] == 0 and gc["linearizable"] is True, gc
        ri = stale_read_trial(seed, "read_index", fault="vm_pause", lease_factor=0.9)
        assert ri["stale_reads"] == 0 and ri["linearizable"] is True and ri["old_leader_reads"] == 0, ri


def test_stale_reads_from_a_lease_under_drift_beyond_the_bound_only() -> None:
    """Leases are safe while lease * (1 + drift) < election timeout; far beyond the bound a
    slow-clocked old leader serves stale reads; ReadIndex never does over the same seeds."""
    seeds = range(5)
    within = [stale_read_trial(s, "lease", drift=0.0, lease_factor=0.95) for s in seeds]
    beyond = [stale_read_trial(s, "lease", drift=3.0, lease_factor=0.95) for s in seeds]
    index = [stale_read_trial(s, "read_index", drift=3.0, lease_factor=0.95) for s in seeds]
    assert lease_bound(0.95 * 150.0) < 0.06
    assert all(r["stale_reads"] == 0 and r["linearizable"] for r in within)
    assert sum(r["linearizable"] is False for r in beyond) >= 3
    assert all(r["stale_reads"] == 0 and r["linearizable"] for r in index)
    import pandas as pd

    table = stale_read_table(pd.DataFrame(within + beyond + index))
    row = table[(table.read_mode == "lease") & (table.drift == 3.0)].iloc[0]
    assert row.rate == row.flagged / row.trials and row.rate_lo <= row.rate <= row.rate_hi


def test_count_stale_reads_oracle() -> None:
    class Op:
        def __init__(self, op: str, value, call: float, ret: float | None, ok: bool = True) -> None:
            self.command = Command(0, 0, op, "x", value if op == "put" else None)
            self.value, self.call, self.ret, self.ok = value, call, ret, ok

    ops = [Op("put", 1, 0, 5), Op("get", 1, 6, 8), Op("put", 2, 9, 12), Op("get", 1, 10, 11),
           Op("get", 1, 13, 14), Op("get", None, 1, 2), Op("get", 2, 15, 16)]
    assert count_stale_reads(ops) == 1  # only the read invoked at 13, after put 2 returned at 12

"""Multi-Paxos: stable leader, slot log, takeover with gap filling, KV clients, fault runs.

References: Lamport, "Paxos Made Simple" (2001) §3; van Renesse & Altinbuken, "Paxos Made
Moderately Complex" (2015).
"""

from __future__ import annotations

import numpy as np
import pytest

from consensuslab.check import SafetyViolation, check_linearizable
from consensuslab.cluster import Cluster
from consensuslab.protocols.kv import NOOP, ClientRequest, ClientResponse, Command
from consensuslab.protocols.multipaxos import MultiPaxosConfig, Role
from consensuslab.quorum import FlexiblePaxos
from consensuslab.sim.network import Link


def elect(c: Cluster) -> int:
    assert c.run_until(lambda: c.leader() is not None, timeout=3000)
    return c.leader()


def test_put_get_and_identical_logs() -> None:
    c = Cluster("multipaxos", n=5, seed=1, check_every_step=True)
    elect(c)
    for i in range(10):
        assert c.append("k", str(i)).ok
    assert c.get("k").value == "0123456789"
    c.run_for(300)
    logs = [c.committed(i) for i in range(5)]
    assert all(log == logs[0] for log in logs) and len(logs[0]) == 11
    assert check_linearizable(c.history, "kv").ok


def test_steady_state_costs_phase2_only() -> None:
    """§3: with phase 1 done, a command costs Accept + Accepted + Decide to/from n-1 peers."""
    c = Cluster("multipaxos", n=5, seed=2)
    elect(c)
    c.put("warm", "up")
    c.run_for(100)
    before = c.trace.sent_by_kind
    op = c.put("x", "1")
    assert op.ok
    after = c.trace.sent_by_kind
    diff = {k: after[k] - before.get(k, 0) for k in ("Accept", "Accepted", "Decide", "Prepare")}
    assert diff == {"Accept": 4, "Accepted": 4, "Decide": 4, "Prepare": 0}


def test_non_leader_redirects_with_hint() -> None:
    c = Cluster("multipaxos", n=3, seed=3)
    leader = elect(c)
    c.run_for(100)  # let the followers hear a heartbeat
    follower = (leader + 1) % 3
    got = []
    cid = c.sim.add_client(lambda node, resp: got.append(resp))
    c.sim.request(cid, follower, ClientRequest(cid, 1, Command(cid, 1, "get", "k")))
    c.run_for(50)
    assert got == [ClientResponse(cid, 1, ok=False, leader_hint=leader, error="not the leader")]


def test_leader_crash_new_leader_continues() -> None:
    c = Cluster("multipaxos", n=5, seed=4, check_every_step=True)
    old = elect(c)
    assert c.put("a", "1").ok
    c.crash(old)
    assert c.put("b", "2").ok
    assert c.leader() not in (None, old)
    c.restart(old)
    c.run_for(500)
    assert c.committed(old) == c.committed(c.leader())
    assert c.get("a").value == "1"
    assert check_linearizable(c.history, "kv").ok


def test_leader_change_fills_gap_with_noop() -> None:
    """A leader's slot s is accepted by nobody, slot s+1 by a majority; it crashes. The new
    leader re-proposes slot s+1's value and fills slot s with a no-op (§3)."""
    c = Cluster("multipaxos", n=5, seed=5, clients=2, check_every_step=True)
    leader = elect(c)
    c.put("warm", "up", client=0)
    c.put("warm", "up", client=1)
    node = c.node(leader)
    s = node.next_slot
    for j in range(5):  # every Accept the leader sends for slot s is lost
        if j != leader:
            c.sim.set_link(leader, j, Link(loss=1.0))
    op1 = c.put("x", "lost", client=0, wait=False)
    assert c.run_until(lambda: node.next_slot > s, timeout=500)
    for j in range(5):
        if j != leader:
            c.sim.set_link(leader, j, None)
    op2 = c.put("y", "kept", client=1, wait=False)
    majority = lambda: sum(1 for i in range(5) if c.node(i) is not None and s + 1 in c.node(i).accepted) >= 3  # noqa: E731
    assert c.run_until(majority, timeout=500)
    assert all(s not in c.node(i).accepted for i in range(5) if i != leader)
    c.crash(leader)
    assert c.run_until(lambda: op1.done and op2.done, timeout=5000)
    new = c.node(c.leader())
    assert new.log[s] == NOOP  # the gap, filled
    assert new.log[s + 1] == Command(1, 2, "put", "y", "kept")  # the accepted value, re-proposed
    assert op1.ok and op2.ok and c.get("x").value == "lost"
    assert check_linearizable(c.history, "kv").ok


def test_follower_restart_catches_up() -> None:
    c = Cluster("multipaxos", n=3, seed=6, check_every_step=True)
    leader = elect(c)
    f = (leader + 1) % 3
    c.crash(f)
    for i in range(5):
        assert c.put(f"k{i}", str(i)).ok
    c.restart(f)
    c.run_for(500)
    assert c.committed(f) == c.committed(leader) and len(c.committed(f)) == 5


def test_minority_leader_cannot_commit() -> None:
    c = Cluster("multipaxos", n=5, seed=7, client_timeout=10_000, op_timeout=1_000, check_every_step=True)
    leader = elect(c)
    others = [i for i in range(5) if i != leader]
    c.partition([leader, others[0]], others[1:])
    c._clients[0].target = leader
    op = c.put("x", "1")
    assert not op.ok  # abandoned: the old leader cannot reach a phase-2 quorum
    assert all(cmd.key != "x" for cmd in c.committed(others[1]))
    c.heal()
    c.run_for(1000)
    assert check_linearizable(c.history, "kv").ok


def test_flexible_quorums_multipaxos() -> None:
    with pytest.raises(ValueError, match="must intersect"):
        MultiPaxosConfig(n=5, q1=2, q2=3)
    c = Cluster("multipaxos", n=5, seed=8, quorums=FlexiblePaxos(5, 4, 2), check_every_step=True)
    elect(c)
    assert c.put("a", "1").ok and c.get("a").value == "1"


def test_unsafe_multipaxos_can_violate_agreement() -> None:
    """With |Q1| + |Q2| <= n two leaders can both commit at a slot: the monitor says so."""
    hit = None
    for seed in range(60):
        c = Cluster("multipaxos", n=4, seed=seed, q1=2, q2=2, unsafe=True, clients=2, check_every_step=True)
        try:
            elect(c)
            c.partition([0, 1], [2, 3])
            for k in range(4):
                c.submit("put", "x", f"{seed}-{k}", client=k % 2)
            c.run_for(1500)
        except SafetyViolation as exc:
            hit = (seed, exc)
            break
    assert hit is not None and hit[1].invariant in ("Agreement", "State Machine Safety")


@pytest.mark.parametrize(
    "kwargs,msg",
    [({"n": 0}, "`n` must be"), ({"heartbeat": 0}, "`heartbeat`"), ({"leader_timeout": (40, 80)}, "above `heartbeat`"),
     ({"q1": 9}, "`q1` must be an int"), ({"catchup_batch": 0}, "`catchup_batch`")],
)
def test_validation(kwargs, msg) -> None:
    with pytest.raises(ValueError, match=msg):
        MultiPaxosConfig(**kwargs)


def test_role_transitions_guarded() -> None:
    node = MultiPaxosConfig(n=3).make_node(0, (0, 1, 2), np.random.default_rng(0), {})
    node.on_start()
    with pytest.raises(RuntimeError, match="only a candidate"):
        node.become_leader()
    assert node.role is Role.FOLLOWER


# -- randomized nemesis runs with linearizability (>= 500 seeds) ---------------------------------------
def _nemesis_run(seed: int) -> None:
    rng = np.random.default_rng([seed, 0x3A7])
    n = int(rng.choice([3, 5]))
    loss = float(rng.choice([0.0, 0.05]))
    dup = float(rng.choice([0.0, 0.05]))
    kw = dict(n=n, seed=seed, latency=(1.0, 20.0), loss=loss, duplicate=dup, clients=3, check_every_step=True)
    try:
        c = Cluster("multipaxos", **kw)
        c.nemesis(seed, duration=1200.0, interval=(40.0, 250.0))
        for k in range(9):
            c.submit(["put", "append", "get"][k % 3], f"k{k % 2}", str(k), client=k % 3)
        c.run_for(2500.0)
        c.check_safety()
        result = check_linearizable(c.history, "kv")
        assert result.ok, "history not linearizable"
    except (SafetyViolation, AssertionError) as exc:
        pytest.fail(f"{exc}\nreplay: Cluster('multipaxos', **{kw!r}); nemesis(seed={seed}, duration=1200, interval=(40, 250))")


@pytest.mark.parametrize("block", range(10))
def test_randomized_nemesis_linearizable(block: int) -> None:
    """Agreement per slot + State Machine Safety after every step, linearizable histories,
    under crashes, partitions, loss, duplication, reordering; 10 x 52 = 520 seeds."""
    for seed in range(block * 52, (block + 1) * 52):
        _nemesis_run(seed)

"""Every monitor gives the same verdict whether it watches every step or is asked once at the end.

Issue 15, defect 2: ``MultiPaxosMonitor.observe`` walked the nodes in index order and met node 0's
accept before the leader's record of the client request (a false Validity violation), and a
one-shot call after a crash missed the accepts of the crashed incarnation (false Agreement
violations). Monitors now collect every node's new records first (ghost state kept by the driver
across crashes, ``consensuslab.node.adopt_ghosts``) and check after, and VeSTA's monitor reads a
crashed node's durable holdings from its storage.

Each scenario runs twice with the same seed: once with the monitor on every step, once with a
single ``check_safety()`` at the end. Safe configurations: no violation either way. Unsafe ones
(non-intersecting quorums, Raft without the Figure 8 rule, VeSTA without durability): the
one-shot call catches the violation too.
"""

from __future__ import annotations

import pytest

from consensuslab.check import SafetyViolation
from consensuslab.cluster import Cluster

N = 5
KV = ("raft", "multipaxos", "vesta")
OPTIONS = {"vesta": {"replicas": 3, "r": 2, "w": 2}, "raft": {}, "multipaxos": {}, "paxos": {}}


def _puts(c: Cluster, tag: str, k: int = 3) -> None:
    if c.protocol != "paxos":
        for j in range(k):
            c.submit("put", f"{tag}{j}", f"{tag}-{j}", client=0)


def basic(c: Cluster, seed: int) -> None:
    _puts(c, "a")
    c.run_for(3000)


def crash_all(c: Cluster, seed: int) -> None:
    _puts(c, "a")
    c.run_for(800)
    for i in range(N):
        c.crash(i)
    c.run_for(100)
    for i in range(N):
        c.restart(i)
    _puts(c, "b")
    c.run_for(4000)


def leader_crashes(c: Cluster, seed: int) -> None:
    """Figure-8 style: the leader crashes right after taking commands, three times over."""
    for round_ in range(3):
        c.run_until(lambda: c.leader() is not None or c.protocol in ("vesta", "paxos"), timeout=3000)
        _puts(c, f"r{round_}", 2)
        c.run_for(15)
        victim = c.leader() if c.leader() is not None else round_ % N
        c.crash(victim)
        c.run_for(400)
        c.restart(victim)
    c.run_for(3000)


def churn(c: Cluster, seed: int) -> None:
    _puts(c, "a")
    c.nemesis(seed, duration=3000, interval=(50, 300))
    _puts(c, "b")
    c.run_for(6000)


SCENARIOS = [basic, crash_all, leader_crashes, churn]


def _verdict(protocol: str, seed: int, scenario, every_step: bool, **options) -> str | None:
    c = Cluster(protocol, seed=seed, check_every_step=every_step, **{"n": N, **OPTIONS[protocol], **options})
    try:
        scenario(c, seed)
        c.check_safety()
    except SafetyViolation as exc:
        return exc.invariant
    return None


def test_the_issue_case_multipaxos_one_shot_after_a_put() -> None:
    c = Cluster("multipaxos", n=5, seed=3)
    c.put("k0", "0")
    c.run_for(3000)
    c.check_safety()  # raised "Validity violated ... no client sent it" before


@pytest.mark.parametrize("protocol", ["paxos", *KV])
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda f: f.__name__)
def test_one_shot_and_every_step_agree_on_safe_runs(protocol: str, scenario) -> None:
    for seed in range(4):
        one_shot = _verdict(protocol, seed, scenario, every_step=False)
        assert one_shot is None, f"false {one_shot} violation, one-shot: (protocol={protocol}, {scenario.__name__}, seed={seed})"
    assert _verdict(protocol, 0, scenario, every_step=True) is None


def _first_violating_seed(protocol: str, scenario, seeds, **options) -> int:
    for seed in seeds:
        if _verdict(protocol, seed, scenario, every_step=True, **options) is not None:
            return seed
    raise AssertionError(f"no seed broke {protocol} {options}")


def split_brain(c: Cluster, seed: int) -> None:
    c.run_until(lambda: c.leader() is not None, timeout=3000)
    c.partition([0, 1], [2, 3])
    for k in range(4):
        c.submit("put", "x", f"{seed}-{k}", client=k % 2)
    c.run_for(1500)


def lose_every_holder(c: Cluster, seed: int) -> None:
    c.put("k", "v", timeout=2000)
    c.run_for(5)
    for i in range(c.n):
        node = c.node(i)
        if node is not None and "k" in node.store:
            c.crash(i)


def test_a_real_multipaxos_violation_is_still_caught_one_shot() -> None:
    # |Q1| + |Q2| <= n: two leaders commit different commands at one slot
    opts = {"n": 4, "q1": 2, "q2": 2, "unsafe": True, "clients": 2}
    seed = _first_violating_seed("multipaxos", split_brain, range(60), **opts)
    assert _verdict("multipaxos", seed, split_brain, every_step=False, **opts) in ("Agreement", "State Machine Safety")


def test_a_real_vesta_violation_is_caught_and_durable_storage_is_not_one() -> None:
    # an acknowledged write whose every holder crashed: lost without durability, kept with it
    assert _verdict("vesta", 1, lose_every_holder, every_step=False, r=1, w=1, durable=False) == \
        "Acknowledged-Write Durability"
    assert _verdict("vesta", 1, lose_every_holder, every_step=False, r=1, w=1, durable=True) is None


def test_a_real_raft_violation_is_still_caught_one_shot() -> None:
    # a follower whose committed entry at index 2 silently changed (a corrupted disk): Log
    # Matching / State Machine Safety, seen by a single call as by a monitor on every step
    from dataclasses import replace

    c = Cluster("raft", n=3, seed=2)
    for k in range(3):
        c.put(f"k{k}", str(k))
    c.run_for(300)
    c.check_safety()
    follower = next(i for i in range(3) if i != c.leader())
    node = c.node(follower)
    assert node.commit_index >= 3
    node.log[1] = replace(node.log[1], command=replace(node.log[1].command, value="corrupt"))
    node.log_version += 1
    with pytest.raises(SafetyViolation, match="Log Matching|State Machine Safety"):
        c.check_safety()

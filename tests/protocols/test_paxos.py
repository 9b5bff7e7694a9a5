"""Single-decree Paxos: the founding example, paper rules, scenarios, message counts, fault runs.

References: Lamport, "Paxos Made Simple" (2001) §2; Howard, Malkhi & Spiegelman, "Flexible
Paxos" (2016).
"""

from __future__ import annotations

import numpy as np
import pytest

from consensuslab.check import SafetyViolation
from consensuslab.protocols.paxos import (
    ZERO,
    Accept,
    Ballot,
    Nack,
    PaxosConfig,
    PaxosMonitor,
    Phase,
    Prepare,
    Promise,
    RetryPolicy,
    as_quorum,
    quorums_intersect,
)
from consensuslab.scenarios.paxos import Walkthrough, informal_comparison
from consensuslab.quorum import FlexiblePaxos, Grid, Majority, Threshold
from consensuslab.sim.nemesis import Nemesis
from consensuslab.sim.simulator import simulate


def decided(sim) -> list:
    return [node.decided if node is not None else sim.storage[i].get("decided") for i, node in enumerate(sim.nodes)]


# -- the founding example -------------------------------------------------------------------
def test_founding_example_message_by_message() -> None:
    """Three nodes A, B, C; A proposes 1 (the project's founding notes), on real Paxos."""
    w = Walkthrough()
    w.propose(0, 1)
    assert w.describe_pending() == ["A->B Prepare(1,A)", "A->C Prepare(1,A)"]
    # A is also an acceptor: it promised its own ballot locally, without a message
    assert w.nodes[0].promised == Ballot(1, 0)
    w.deliver()  # Prepare -> B
    w.deliver()  # Prepare -> C
    assert w.describe_pending() == ["B->A Promise(1,A)", "C->A Promise(1,A)"]
    w.deliver()  # B's promise: with A's own, a majority -> phase 2 with A's value (nothing accepted yet)
    assert w.nodes[0].phase is Phase.ACCEPTING
    assert [p.split()[1] for p in w.describe_pending()] == ["Promise(1,A)", "Accept(1,A)", "Accept(1,A)"]
    w.run()
    assert w.state()["decided"].tolist() == [1, 1, 1]
    kinds = w.messages()["kind"].tolist()
    assert kinds == ["Prepare"] * 2 + ["Promise"] * 2 + ["Accept"] * 2 + ["Accepted"] * 2 + ["Decide"] * 2


def test_informal_comparison_covers_every_message() -> None:
    w = Walkthrough()
    w.propose(0, 1)
    w.run()
    table = informal_comparison(w.messages())
    assert len(table) == 10 and (table["lamport"] != "").all()
    assert table.loc[table["message"].str.contains("Prepare"), "agrees"].str.startswith("no").all()


def test_uncontended_decision_is_two_round_trips() -> None:
    """§2.2: phase 1 (Prepare/Promise) + phase 2 (Accept/Accepted) = 2 round trips = 4 delays."""
    cfg = PaxosConfig(n=3)
    sim = simulate(cfg, seed=0, latency=10.0)
    sim.run_until(lambda: sim.nodes[0].decided is not None, timeout=1000)
    assert sim.now == pytest.approx(40.0)  # proposer knows the value is chosen after 4 one-way delays
    sim.run_for(100)
    assert decided(sim) == [1, 1, 1]


@pytest.mark.parametrize("n", [3, 5, 7])
def test_message_counts_uncontended(n: int) -> None:
    """Documented counts: n-1 of each of Prepare, Promise, Accept, Accepted, Decide (5(n-1))."""
    sim = simulate(PaxosConfig(n=n), seed=1)
    sim.run_for(500)
    assert sim.trace.sent_by_kind == {k: n - 1 for k in ("Accept", "Accepted", "Decide", "Prepare", "Promise")}


def test_message_counts_learn_all() -> None:
    """Accepted to every learner: n(n-1) Accepted messages and no Decide (§2.3 first option)."""
    sim = simulate(PaxosConfig(n=3, learn="all"), seed=1)
    sim.run_for(500)
    assert sim.trace.sent_by_kind == {"Accept": 2, "Accepted": 6, "Prepare": 2, "Promise": 2}
    assert decided(sim) == [1, 1, 1]


# -- paper rules ---------------------------------------------------------------------------------
def test_phase2_uses_highest_accepted_value() -> None:
    """§2.2 2a: v is the value of the highest-numbered proposal among the responses."""
    w = Walkthrough(n=5)
    w.propose(0, "a")
    w.run()
    assert w.state()["decided"].tolist() == ["a"] * 5
    w2 = Walkthrough(n=3)
    w2.propose(0, "a")
    for _ in range(3):
        w2.deliver()  # Prepare B, Prepare C, Promise B -> A sends Accept (pending: Promise C, Accept B, Accept C)
    w2.drop(0)  # Promise C lost
    w2.deliver()  # Accept -> B: B accepted (1,0):"a"
    w2.crash(0)
    w2.drop(0)  # Accept -> C lost, Accepted B->A pending
    w2.drop(0)
    w2.propose(2, "c")  # C proposes "c" with a higher ballot
    w2.run()
    assert w2.state()["decided"].tolist()[1:] == ["a", "a"]  # "a" may have been chosen: C must adopt it


def test_acceptor_rejects_lower_ballot_with_nack() -> None:
    """§2.2 1b/2b: after promising b, ignore (here: nack) requests numbered below b."""
    cfg = PaxosConfig(n=3, proposers=())
    node = cfg.make_node(1, (0, 1, 2), np.random.default_rng(0), {})
    node.on_start()
    node.on_message(2, Prepare(Ballot(3, 2)))
    node.on_message(0, Prepare(Ballot(2, 0)))
    node.on_message(0, Accept(Ballot(2, 0), "x"))
    sends = [e.msg for e in node.out if type(e).__name__ == "Send"]
    assert sends == [Promise(Ballot(3, 2), None), Nack(Ballot(2, 0), Ballot(3, 2)), Nack(Ballot(2, 0), Ballot(3, 2))]
    # persisted before the promise was sent
    kinds = [type(e).__name__ for e in node.out]
    assert kinds.index("Persist") < kinds.index("Send")


# -- scenarios --------------------------------------------------------------------------------------
def test_proposer_crash_between_phases_minority_accept_is_adopted() -> None:
    """A crashes after its value reached one acceptor only; C's new ballot must choose A's value."""
    w = Walkthrough()
    w.propose(0, 1)
    w.deliver(); w.deliver(); w.deliver()  # Prepares delivered, B's Promise -> A sends Accepts
    w.crash(0)
    # pending: Promise C->A, Accept A->B, Accept A->C
    w.deliver(1)  # Accept reaches B only
    w.drop(1)  # Accept to C lost
    w.propose(2, 3)
    w.run()
    assert w.state()["decided"].tolist() == [None, 1, 1]
    w.restart(0)
    assert w.state().loc["A", "promised"] == "(1,A)"


def test_proposer_crash_before_any_accept_lets_another_value_win() -> None:
    w = Walkthrough()
    w.propose(0, 1)
    w.deliver(); w.deliver(); w.deliver()
    w.crash(0)
    while w.pending:
        w.drop()
    w.propose(2, 3)
    w.run()
    assert w.state()["decided"].tolist() == [None, 3, 3]


def test_proposer_crash_between_phases_in_simulator() -> None:
    cfg = PaxosConfig(n=5, proposers=(0, 1), values=("a", "b"), start=(0.0, 400.0))
    sim = simulate(cfg, seed=7)
    assert sim.run_until(lambda: sim.nodes[0].phase is Phase.ACCEPTING, timeout=500)
    sim.crash(0)
    sim.run_for(2000)
    values = {v for v in decided(sim)[1:]}
    assert len(values) == 1 and values <= {"a", "b"}
    sim.restart(0)
    sim.run_for(500)
    assert len(set(decided(sim))) == 1


def test_acceptor_restart_keeps_promise() -> None:
    """Promises are persisted before they are sent; a restarted acceptor still honours them."""
    w = Walkthrough()
    w.propose(2, "c")  # C: ballot (1,2)
    w.deliver()  # Prepare(1,2) -> A
    w.deliver()  # Prepare(1,2) -> B: B promised (1,2)
    w.crash(1)
    w.restart(1)
    assert w.nodes[1].promised == Ballot(1, 2)
    w.pending.clear()
    w.nodes[0].round = 0  # force A to use a lower ballot than B's promise (as if it never heard of C)
    w.nodes[0].seen_round = 0
    w.propose(0, "a")
    assert w.nodes[0].ballot == Ballot(1, 0)
    w.deliver()  # Prepare(1,0) -> B
    assert "B->A Nack(1,A) promised=(1,C)" in w.describe_pending()


def test_acceptor_restart_keeps_accepted_value_in_simulator() -> None:
    cfg = PaxosConfig(n=3)
    sim = simulate(cfg, seed=3)
    sim.run_until(lambda: sim.storage[1].get("accepted") is not None, timeout=500)
    before = (sim.nodes[1].promised, sim.nodes[1].accepted)
    sim.crash(1)
    sim.restart(1)
    assert (sim.nodes[1].promised, sim.nodes[1].accepted) == before


def test_partition_221_no_decision_in_a_minority() -> None:
    """5 nodes split 2/2/1: no group holds a majority, so nothing is chosen until healed."""
    cfg = PaxosConfig(n=5, proposers=(0, 2, 4))
    sim = simulate(cfg, seed=11)
    sim.partition([0, 1], [2, 3], [4])
    sim.run_for(3000)
    assert decided(sim) == [None] * 5
    assert not sim.monitor.chosen
    sim.heal()
    assert sim.run_until(lambda: all(v is not None for v in decided(sim)), timeout=3000)
    assert len(set(decided(sim))) == 1


def test_many_serial_instances() -> None:
    """200 independent instances with random proposers/latencies: each decides one proposed value."""
    rng = np.random.default_rng(5)
    for seed in range(200):
        n = int(rng.choice([3, 5]))
        k = int(rng.integers(1, n + 1))
        props = tuple(int(p) for p in rng.choice(n, size=k, replace=False))
        cfg = PaxosConfig(n=n, proposers=props, values=tuple(f"v{p}" for p in props), retry="backoff")
        sim = simulate(cfg, seed=seed)
        ok = sim.run_until(lambda: all(v is not None for v in decided(sim)), timeout=5000)
        assert ok, f"no decision: config={cfg!r} seed={seed}"
        values = set(decided(sim))
        assert len(values) == 1 and values <= set(cfg.values), f"config={cfg!r} seed={seed}"


def test_client_proposal_is_answered_with_the_decision() -> None:
    from consensuslab.protocols.paxos import DecidedResponse, ProposeRequest

    cfg = PaxosConfig(n=3, proposers=())
    sim = simulate(cfg, seed=2)
    answers = []
    cid = sim.add_client(lambda node, resp: answers.append((node, resp)))
    sim.request(cid, 1, ProposeRequest(cid, "hello"))
    sim.run_for(300)
    assert answers == [(1, DecidedResponse(cid, "hello"))]
    sim.request(cid, 2, ProposeRequest(cid, "late"))
    sim.run_for(300)
    assert answers[-1] == (2, DecidedResponse(cid, "hello"))


# -- dueling proposers (§2.4) -----------------------------------------------------------------------
def _rounds_to_decide(policy: str, seeds: range, proposers=(0, 1, 2, 3, 4), cap: float = 2000.0):
    out = []
    for seed in seeds:
        cfg = PaxosConfig(n=5, proposers=proposers, retry=policy)
        sim = simulate(cfg, seed=seed, trace=False, check=False)
        ok = sim.run_until(lambda: any(v is not None for v in decided(sim)), timeout=cap)
        out.append((ok, max(node.round for node in sim.nodes)))
    return out


def test_immediate_retry_livelocks_often_backoff_does_not() -> None:
    immediate = _rounds_to_decide("immediate", range(40))
    backoff = _rounds_to_decide("backoff", range(40))
    leader = _rounds_to_decide("leader", range(40))
    assert sum(not ok for ok, _ in immediate) >= 10  # censored: still duelling after 2 s
    assert all(ok for ok, _ in backoff) and all(ok for ok, _ in leader)
    assert max(r for _, r in leader) < min(r for ok, r in immediate if not ok)


def test_distinguished_proposer_bounds_rounds_with_two_proposers() -> None:
    rounds = _rounds_to_decide("leader", range(50), proposers=(0, 1))
    assert all(ok for ok, _ in rounds) and max(r for _, r in rounds) <= 2


# -- flexible quorums ---------------------------------------------------------------------------------
@pytest.mark.parametrize("q1,q2,n", [(2, 2, 4), (1, 5, 6), (3, 2, 5), (2, 3, 5)])
def test_non_intersecting_sizes_rejected(q1: int, q2: int, n: int) -> None:
    with pytest.raises(ValueError, match=r"`q1` and `q2` must intersect.*unsafe=True"):
        PaxosConfig(n=n, q1=q1, q2=q2)
    PaxosConfig(n=n, q1=q1, q2=q2, unsafe=True)  # explicitly allowed


def test_flexible_quorums_decide() -> None:
    """Howard et al. §3: |Q1| + |Q2| > n suffices; q2 = 2 of 5 with q1 = 4."""
    sim = simulate(PaxosConfig(n=5, q1=4, q2=2, proposers=(0, 3)), seed=4)
    sim.run_for(1000)
    assert len(set(decided(sim))) == 1 and decided(sim)[0] is not None


def test_quorum_systems_accepted_and_checked() -> None:
    PaxosConfig(n=9, q1=Grid(3, 3), q2=Grid(3, 3))
    PaxosConfig(n=6, quorums=FlexiblePaxos(6, 5, 2))
    with pytest.raises(ValueError, match="must intersect"):
        PaxosConfig(n=6, quorums=FlexiblePaxos(6, 3, 2))
    with pytest.raises(ValueError, match="must intersect"):
        PaxosConfig(n=9, q1=3, q2=Grid(3, 3))
    with pytest.raises(ValueError, match="over n=5"):
        PaxosConfig(n=5, q1=Majority(3))
    sim = simulate(PaxosConfig(n=9, q1=Grid(3, 3), q2=Grid(3, 3)), seed=1)
    sim.run_for(500)
    assert set(decided(sim)) == {1}


def test_intersection_check_matches_naive_oracle() -> None:
    """Enumeration fallback vs the quorum package vs a naive all-pairs oracle on thresholds."""
    from itertools import combinations

    for n in range(1, 7):
        for a in range(1, n + 1):
            for b in range(1, n + 1):
                naive = all(set(x) & set(y) for x in combinations(range(n), a) for y in combinations(range(n), b))
                assert quorums_intersect(as_quorum("q1", a, n), as_quorum("q2", b, n)) == naive
                assert quorums_intersect(as_quorum("q1", Threshold(n, a), n), as_quorum("q2", b, n)) == naive


def test_unsafe_search_finds_agreement_violation() -> None:
    from consensuslab.experiments.paxos import find_violation

    found = find_violation(n=4, q1=2, q2=2, seeds=range(200))
    assert found is not None
    assert found.violation.invariant == "Agreement"
    assert len(found.messages) > 0
    with pytest.raises(SafetyViolation, match="Agreement"):  # (config, seed) replays it
        found.replay()
    assert find_violation(n=4, q1=3, q2=2, seeds=range(100)) is None  # intersecting: never


def test_monitor_detects_two_chosen_values() -> None:
    """The monitor can fail: feed it a fabricated history with two chosen values."""

    class Fake:
        def __init__(self):
            self.promised, self.accepted, self.decided = ZERO, None, None

    class FakeSim:
        now = 0.0

    cfg = PaxosConfig(n=3, proposers=(0, 1))
    mon = PaxosMonitor(cfg)
    sim = FakeSim()
    sim.nodes = [Fake(), Fake(), Fake()]
    sim.ghosts = [{"ghost_accepts": [(Ballot(1, 0), 1)], "ghost_proposed": []},
                  {"ghost_accepts": [(Ballot(1, 0), 1)], "ghost_proposed": []},
                  {"ghost_accepts": [], "ghost_proposed": []}]
    mon.observe(sim)
    sim.ghosts[1]["ghost_accepts"].append((Ballot(2, 1), 2))
    sim.ghosts[2]["ghost_accepts"].append((Ballot(2, 1), 2))
    with pytest.raises(SafetyViolation, match="Agreement"):
        mon.observe(sim)


# -- validation -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs,exc,msg",
    [
        ({"n": 0}, ValueError, "`n` must be an int >= 1"),
        ({"proposers": (3,)}, ValueError, r"`proposers\[\]` must be an int"),
        ({"proposers": (0, 0)}, ValueError, "distinct"),
        ({"values": (1, 2)}, ValueError, "one value per proposer"),
        ({"values": (None,)}, ValueError, "None"),
        ({"retry": "sometimes"}, ValueError, "`retry` must be one of"),
        ({"learn": "nobody"}, ValueError, "`learn` must be one of"),
        ({"q1": 0}, ValueError, "`q1` must be an int"),
        ({"q2": "x"}, TypeError, "`q2` must be None, an int or a quorum system"),
        ({"phase_timeout": 0}, ValueError, "`phase_timeout`"),
        ({"unsafe": 1}, TypeError, "`unsafe` must be a bool"),
    ],
)
def test_validation(kwargs, exc, msg) -> None:
    with pytest.raises(exc, match=msg):
        PaxosConfig(**kwargs)


def test_retry_policy_enum_and_string() -> None:
    assert PaxosConfig(retry="leader").retry is RetryPolicy.LEADER
    assert PaxosConfig(retry=RetryPolicy.IMMEDIATE).retry is RetryPolicy.IMMEDIATE


# -- randomized nemesis runs (>= 500 seeds) ---------------------------------------------------------------
def _nemesis_run(seed: int) -> None:
    rng = np.random.default_rng([seed, 0x9A805])
    n = int(rng.choice([3, 4, 5]))
    k = int(rng.integers(1, n + 1))
    props = tuple(sorted(int(p) for p in rng.choice(n, size=k, replace=False)))
    policy = str(rng.choice(["immediate", "backoff", "leader"]))
    loss = float(rng.choice([0.0, 0.05, 0.2]))
    dup = float(rng.choice([0.0, 0.1]))
    cfg = PaxosConfig(n=n, proposers=props, values=tuple(f"v{p}" for p in props), retry=policy,
                      start=tuple(float(s) for s in rng.uniform(0, 200, size=k)), learn=str(rng.choice(["proposer", "all"])))
    try:
        sim = simulate(cfg, seed=seed, latency=(1.0, 30.0), loss=loss, duplicate=dup, trace=False)
        Nemesis(n, seed, duration=800.0, interval=(20.0, 150.0), max_loss=0.5).apply(sim)
        sim.run_for(800.0)
        if policy != "immediate" and (n > 1):
            sim.run_until(lambda: all(v is not None for v in decided(sim)), timeout=4000.0)
            assert all(v is not None for v in decided(sim)), "no decision after the faults healed"
        values = {v for v in decided(sim) if v is not None}
        assert len(values) <= 1 and values <= set(cfg.values)
    except (SafetyViolation, AssertionError) as exc:
        pytest.fail(f"{exc}\nreplay: config={cfg!r} seed={seed} loss={loss} duplicate={dup}")


@pytest.mark.parametrize("block", range(10))
def test_randomized_nemesis(block: int) -> None:
    """Agreement + validity after every step under crashes, partitions, loss, duplication and
    reordering (random latencies 1-30 ms); 10 blocks x 60 seeds = 600 seeds."""
    for seed in range(block * 60, (block + 1) * 60):
        _nemesis_run(seed)

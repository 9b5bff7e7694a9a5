"""Omni-Paxos: BLE driving Multi-Paxos replication (EuroSys 2023 §3-§5), our choices C1-C4, and
the nemesis suite (2,000 seeds, monitors after every step, linearizable histories).

Stories follow the paper's Figure 1 scenarios through
:func:`~consensuslab.scenarios.connectivity.run_pattern`; a failure prints the replay call.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from consensuslab.check import check_linearizable
from consensuslab.cluster import Cluster
from consensuslab.experiments.nemesis import PROTOCOLS, nemesis_run
from consensuslab.protocols.multipaxos import Nack, Role
from consensuslab.protocols.omnipaxos import OmniPaxosConfig, OmniPaxosNode, Rejected
from consensuslab.protocols.paxos import Ballot
from consensuslab.scenarios.connectivity import run_pattern

ET = 150.0


def test_registered_and_serves_linearizable_clients():
    c = Cluster("omnipaxos", n=5, seed=2, clients=3, check_every_step=True)
    ops = [c.submit(("put", "append", "get")[k % 3], "k", str(k), client=k % 3) for k in range(15)]
    assert c.run_until(lambda: all(o.done for o in ops), timeout=5000)
    assert all(o.ok for o in ops)
    assert check_linearizable(c.history, "kv").ok
    c.check_safety()


def test_the_leader_is_the_highest_initial_ballot_and_is_elected_by_ble():
    """§4-§5: BLE elects (1, n-1) after two rounds; Sequence Paxos prepares with that ballot."""
    c = Cluster("omnipaxos", n=5, seed=1)
    assert c.run_until(lambda: c.leader() is not None, timeout=4 * ET)
    lead = c.node(c.leader())
    assert c.leader() == 4 and lead.ballot == Ballot(1, 4) == lead.ble.ballot


def test_config_bad_input():
    with pytest.raises(ValueError, match="election_timeout"):
        OmniPaxosConfig(n=3, election_timeout=-1)
    with pytest.raises(TypeError, match="`catchup_batch`"):
        OmniPaxosConfig(n=3, catchup_batch=1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Cluster("omnipaxos", n=3, q1=2)  # C4: majorities only, no flexible quorums


# -- the paper's scenarios (Figure 1), as stories ------------------------------------------------
def test_quorum_loss_A_takes_over_and_the_old_leader_steps_down():
    """Fig. 1a / blog: A, the only quorum-connected server, is elected though it still hears C."""
    r = run_pattern("quorum-loss", "omnipaxos", seed=3)
    c, m = r.cluster, r.mapping
    assert r.downtime <= 4.5 * ET, f"replay: run_pattern('quorum-loss', 'omnipaxos', seed=3): {r.downtime}"
    assert c.leader() == m["A"] and c.node(m["C"]).role is Role.FOLLOWER
    assert [key[0] for _, key in r.leaders[1:] if key is not None] == [m["A"]]


def test_constrained_election_the_outdated_server_leads_and_catches_up():
    """Fig. 1b: A missed entries, yet BLE elects it (no log condition); phase 1 brings it up to date."""
    r = run_pattern("constrained-election", "omnipaxos", seed=4)
    c, m = r.cluster, r.mapping
    assert r.lag is not None and r.lag > 0, "A must be behind when the pattern completes"
    assert np.isfinite(r.downtime) and c.leader() == m["A"]
    a, bb = c.node(m["A"]), c.node(m["B"])
    n = min(len(a.log), len(bb.log))
    assert n > 0 and a.log[:n] == bb.log[:n]


def test_chained_C_leads_with_A_and_B_never_fights_back():
    """Fig. 1c / blog: after C's election, B never raises its ballot (it never hears of C)."""
    r = run_pattern("chained", "omnipaxos", seed=5, trace=True)
    c, m = r.cluster, r.mapping
    b_node = c.node(m["B"])
    assert c.leader() == m["C"]
    assert [key[0] for _, key in r.leaders[1:] if key is not None] == [m["C"]]
    assert b_node.ble.ballot == Ballot(1, m["B"]) and b_node.ble.leader == Ballot(1, m["B"])
    assert b_node.role is Role.FOLLOWER and b_node.leader_hint == m["C"]  # clients get sent to C


# -- our choices where the paper is silent (module docstring C1-C3) ---------------------------------
def _node(n: int = 3, i: int = 0, stable: dict | None = None) -> OmniPaxosNode:
    x = OmniPaxosNode(i, tuple(range(n)), np.random.default_rng(0), stable or {}, OmniPaxosConfig(n=n))
    x.on_start()
    x.out.clear()
    return x


def test_c1_a_stale_own_ballot_climbs_above_our_promise_instead_of_preparing():
    x = _node(stable={"promised": Ballot(7, 2)})
    x._on_leader(Ballot(1, 0))
    assert x.role is Role.FOLLOWER and x.ble.ballot == Ballot(8, 0)
    x._on_leader(Ballot(8, 0))
    assert x.role is Role.CANDIDATE and x.ballot == Ballot(8, 0)


def test_c2_only_an_orphaned_promise_makes_a_rejected_candidate_climb():
    x = _node()
    x._on_leader(Ballot(1, 0))
    x._on_rejected(1, Rejected(Ballot(1, 0), Ballot(3, 2), orphaned=False))
    assert x.role is Role.FOLLOWER and x.ble.ballot == Ballot(1, 0) and x.leader_hint == 2
    x._on_leader(Ballot(1, 0))
    x._on_rejected(1, Rejected(Ballot(1, 0), Ballot(3, 2), orphaned=True))
    assert x.role is Role.FOLLOWER and x.ble.ballot == Ballot(4, 0)


def test_c2_an_acceptor_says_whether_its_promise_is_orphaned():
    x = _node(n=3, i=1)
    x.ble.candidates = frozenset({1, 2})
    x._to(0, Nack(Ballot(1, 0), Ballot(2, 2)))
    x._to(0, Nack(Ballot(1, 0), Ballot(2, 0)))
    assert [m.msg for m in x.out] == [Rejected(Ballot(1, 0), Ballot(2, 2), False),
                                      Rejected(Ballot(1, 0), Ballot(2, 0), True)]


def test_c3_a_promise_to_a_crashed_candidate_does_not_block_the_cluster_forever():
    """A candidate collects one promise and crashes before anyone's BLE elects it: the acceptor's
    promise is orphaned, the BLE leader's phase 1 is rejected with that bit, it climbs, leads."""
    c = Cluster("omnipaxos", n=3, seed=6, check_every_step=True)
    assert c.run_until(lambda: c.leader() == 2, timeout=4 * ET)
    c.cut_link(1, 2, both=True)
    c.cut_link(0, 1)  # 1 reaches 0, nothing reaches 1
    c.sim.call(1, "_campaign", Ballot(9, 1))  # a candidate nobody's BLE elected: only 0 promises
    c.run_for(30.0)
    assert c.node(0).promised == Ballot(9, 1)
    c.crash(1)
    op = c.put("x", "1", timeout=20 * ET)
    assert op.ok and c.leader() == 2 and c.node(2).ballot > Ballot(9, 1)


# -- the nemesis suite ------------------------------------------------------------------------------
def test_nemesis_registers_omnipaxos():
    assert "omnipaxos" in PROTOCOLS


@pytest.mark.parametrize("seeds", [
    pytest.param(range(500), id="seeds-0-499"),
    pytest.param(range(500, 2000), id="seeds-500-1999", marks=pytest.mark.slow),
])
def test_nemesis_seeds_safe_linearizable_and_live(seeds: range):
    """Crashes, restarts, partitions, loss, duplication; monitors (Multi-Paxos's and BLE's) after
    every step; every history linearizable; every run recovers after healing. The default suite
    runs seeds 0-499; ``-m slow`` runs seeds 500-1999 as well (2,000 in all), and
    ``test_nemesis_breadth.py::test_ten_thousand_seeds[omnipaxos]`` 10,000 more with tighter
    client timeouts and heavier loss."""
    start = time.process_time()
    bad = []
    for seed in seeds:
        row = nemesis_run("omnipaxos", seed)
        if row["outcome"] != "recovered":
            bad.append((seed, row["outcome"], row["violation"], row["config"]))
    cpu = time.process_time() - start
    assert not bad, f"failed runs (replay: nemesis_run('omnipaxos', seed)): {bad[:5]}"
    print(f"omnipaxos nemesis: {len(seeds)} seeds in {cpu:.1f} s of CPU")

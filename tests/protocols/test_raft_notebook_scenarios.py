"""The scripted Raft scenarios of notebook 04 and the fault-injection run's progress report."""

from __future__ import annotations

import math

import pytest

from consensuslab.protocols.raft import Role
from consensuslab.scenarios.raft import (
    fault_injection_run,
    leader_crash_scenario,
    partition_repair_scenario,
)


def test_seed_149_catches_up_in_full_mode() -> None:
    # notebook 04 full mode: N=5, FAULT_DURATION=3000; seed 149 used to stop (fixed 500 ms after
    # healing) before one server had applied every acknowledged value
    run = fault_injection_run(n=5, seed=149, duration=3000.0)
    s = run.summary
    assert run.violation is None and s["safety violations"] == 0 and s["linearizable"]
    assert s["caught up"] is True
    # measured, not a fixed wait (it was > 500 ms before retried requests joined their entries;
    # about 220 ms since)
    assert 0.0 < s["catch-up time (ms)"] < 3000.0
    assert len(set(run.state.logs)) == 1  # and the logs converged


def test_catch_up_is_reported_as_progress_not_safety() -> None:
    # a zero timeout right after a fault storm: not caught up, yet no safety violation
    run = fault_injection_run(n=5, seed=149, duration=3000.0, catchup_timeout=0.0)
    assert run.summary["caught up"] is False and math.isnan(run.summary["catch-up time (ms)"])
    assert run.summary["safety violations"] == 0 and run.violation is None


def test_fault_injection_rejects_negative_catchup_timeout() -> None:
    with pytest.raises(ValueError, match="catchup_timeout"):
        fault_injection_run(catchup_timeout=-1.0)


def test_leader_crash_scenario_elects_a_new_leader_after_each_crash() -> None:
    run = leader_crash_scenario(n=5, seed=1, crashes=2, commands=6)
    assert len(run.crashed) == 2 and len(set(run.crashed)) == 2
    terms = sorted(run.leaders)
    assert len(terms) >= 3  # the first leader plus one per crash
    # each crashed server led some term, and a later term had a different leader
    for victim in run.crashed:
        led = [t for t in terms if run.leaders[t] == victim]
        assert led and any(run.leaders[t] != victim for t in terms if t > max(led))
    # the crashed servers restarted and are followers of the last leader at the end
    for victim in run.crashed:
        node = run.cluster.node(victim)
        assert node is not None and node.role is Role.FOLLOWER
    down = run.roles[run.roles.role == "down"]
    assert sorted(down.node.unique()) == sorted(run.crashed)


def test_leader_crash_scenario_validates_crashes() -> None:
    with pytest.raises(ValueError, match="crashes"):
        leader_crash_scenario(n=5, crashes=3)


def test_partition_repair_scenario_overwrites_the_uncommitted_suffix() -> None:
    run = partition_repair_scenario(n=5, seed=2, commands=6)
    s = run.summary
    old = run.old_leader
    assert run.minority[0] == old and len(run.minority) == 2
    assert 1 <= s["uncommitted suffix"] <= 3  # "lost" puts that reached only the old leader
    assert s["replaced"] == s["uncommitted suffix"]
    assert s["identical logs"]
    assert run.before.roles[old] == "leader"  # still believes it leads while cut off
    assert s["log length after"] > s["log length before"]  # it took the majority's entries
    assert run.after.commit[old] == s["log length after"]  # ... and they are committed
    assert max(run.after.logs[old]) > max(run.before.logs[old])  # of the new leader's term

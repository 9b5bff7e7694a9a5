"""Time as a fault, randomized: Raft's safety must not depend on clocks.

A seeded nemesis adds clock drift (clocks up to twice as fast or half as fast), clock jumps and
GC pauses to crashes, partitions and message loss. Reads through the log and ReadIndex reads
must stay linearizable whatever the clocks do (the monitor checks the five properties after
every step); lease reads are only checked without clock faults here — with them they are
allowed to fail, which ``test_raft_reads.py`` demonstrates. A failure names ``(mode, seed)``.
"""

from __future__ import annotations

import pytest

from consensuslab.check import SafetyViolation, check_linearizable
from consensuslab.cluster import Cluster


def run(seed: int, mode: str, clock: bool) -> Cluster:
    c = Cluster("raft", n=5 if seed % 2 else 3, seed=seed, clients=3, client_timeout=150.0, op_timeout=1200.0,
                check_every_step=True, read_mode=mode, check_quorum=True, pre_vote=seed % 3 == 0)
    c.nemesis(seed, duration=1200.0, interval=(20.0, 200.0), max_loss=0.3, clock=clock, max_drift=1.0,
              max_jump=150.0, max_pause=400.0)
    ops = [c.submit(("get", "put", "get", "append")[(k + cl) % 4], "k", f"{cl}.{k}", client=cl)
           for k in range(6) for cl in range(3)]
    c.run_for(1200.0)
    assert c.run_until(lambda: all(o.done for o in ops), timeout=4000.0), "clients stuck"
    return c


@pytest.mark.parametrize("mode, clock", [("log", True), ("read_index", True), ("read_index", False), ("lease", False)])
def test_reads_stay_linearizable_under_faults(mode: str, clock: bool) -> None:
    for seed in range(120):
        try:
            c = run(seed, mode, clock)
            result = check_linearizable(c.history, "kv")
            assert result.ok, f"history not linearizable: {result!r}"
        except (SafetyViolation, AssertionError) as exc:
            pytest.fail(f"{exc}\nreplay: run(seed={seed}, mode={mode!r}, clock={clock})")


def test_the_clock_nemesis_injects_clock_faults() -> None:
    c = Cluster("raft", n=3, seed=1, trace=True)
    events = c.nemesis(1, duration=2000.0, interval=(20.0, 100.0), clock=True, crash=False, partition=False, loss=False)
    kinds = {e.action for e in events} - {"heal", "set_loss"}  # the settle always heals
    assert kinds == {"set_drift", "jump_clock", "pause"}
    c.run_for(2100.0)
    assert all(c.sim.drift(i) == 0.0 for i in range(3))  # the settle restores the rates
    faults = {r[4] for r in c.trace.records if r[1] == "fault"}
    assert {"drift", "jump", "pause"} <= faults

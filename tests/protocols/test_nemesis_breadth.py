"""The nemesis suite across protocols: safety after every step, histories checked, liveness after healing.

Runs :func:`consensuslab.experiments.nemesis.nemesis_run` (crashes, partitions, loss bursts up to
0.5, duplication, concurrent clients with a tight 100 ms client timeout). Every run checks the
protocol's monitor after every simulator step and the client history for linearizability
(Raft, Multi-Paxos); after the faults heal, every pending operation must finish and a new put
must succeed within 5 s of simulated time (issue 15). A failing seed is printed with its
configuration so that ``nemesis_run(protocol, seed)`` replays it.

The breadth runs (10,000 seeds per protocol, and the 5,000-seed liveness study with heavier load)
are marked ``slow``; run them with ``pytest -m slow tests/protocols/test_nemesis_breadth.py``
(they use every CPU; about 2 minutes per protocol on 2 cores).
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor

import pandas as pd
import pytest

from consensuslab.experiments.nemesis import PROTOCOLS, classify, nemesis_config, nemesis_run, nemesis_study

TIGHT = {"client_timeout": 100.0, "max_loss": 0.5}


def _failures(df: pd.DataFrame) -> str:
    bad = df[df["outcome"] != "recovered"]
    return "\n".join(f"{r.protocol} seed={r.seed} config={r.config} outcome={r.outcome} {r.violation}"
                     for r in bad.itertuples())


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
def test_nemesis_suite_recovers_and_stays_safe(protocol: str) -> None:
    df = nemesis_study(protocol, range(150), **TIGHT)
    assert len(df) == 150
    assert (df["outcome"] == "recovered").all(), _failures(df)
    if protocol != "vesta":
        assert df["linearizable"].all()
    if protocol == "raft":
        assert (df["duplicate_entries"] == 0).all()  # a retry joins its entry (issue 15, defect 1)


def test_a_run_is_replayable_and_worker_count_does_not_matter() -> None:
    one = nemesis_study("raft", range(20, 30), **TIGHT)
    with ProcessPoolExecutor(2) as ex:
        two = nemesis_study("raft", range(20, 30), executor=ex, chunk=3, **TIGHT)
    pd.testing.assert_frame_equal(one, two)
    row = nemesis_run("raft", 25, **TIGHT)
    assert row == one.iloc[5].to_dict() | {"linearizable": row["linearizable"]}


def test_the_liveness_criterion_can_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    """Mutation check: a leader that ignores client requests never recovers: 'stuck with a leader'."""
    from consensuslab.protocols.raft import RaftNode

    monkeypatch.setattr(RaftNode, "_on_client_request", lambda self, req: None)
    row = nemesis_run("raft", 4, recover=1000.0, **TIGHT)
    assert row["outcome"] == "stuck with a leader" and not row["pending_done"]


@pytest.mark.parametrize(
    ("row", "outcome"),
    [
        ({"violation": "Agreement: x", "linearizable": True, "pending_done": True, "new_put_ok": True,
          "has_leader": True, "leader_changes": 1}, "safety"),
        ({"violation": "", "linearizable": False, "pending_done": True, "new_put_ok": True,
          "has_leader": True, "leader_changes": 1}, "not linearizable"),
        ({"violation": "", "linearizable": True, "pending_done": False, "new_put_ok": False,
          "has_leader": False, "leader_changes": 3}, "no leader"),
        ({"violation": "", "linearizable": True, "pending_done": False, "new_put_ok": False,
          "has_leader": True, "leader_changes": 4}, "leader churn"),
        ({"violation": "", "linearizable": None, "pending_done": True, "new_put_ok": True,
          "has_leader": None, "leader_changes": 0}, "recovered"),
    ],
)
def test_classify(row: dict, outcome: str) -> None:
    assert classify(row) == outcome


def test_configurations_rotate_and_bad_input_is_named() -> None:
    assert nemesis_config("raft", 3) != nemesis_config("raft", 4)
    with pytest.raises(ValueError, match="`protocol` must be one of"):
        nemesis_config("zab", 0)
    with pytest.raises(ValueError, match="`seed` must be an int >= 0"):
        nemesis_run("raft", -1)


@pytest.mark.slow
@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
def test_ten_thousand_seeds(protocol: str) -> None:
    t0 = time.perf_counter()
    with ProcessPoolExecutor(os.cpu_count() or 1) as ex:
        df = nemesis_study(protocol, range(100_000, 110_000), executor=ex, **TIGHT)
    took = time.perf_counter() - t0
    print(f"\n{protocol}: 10,000 seeds in {took:.0f} s; outcomes {df['outcome'].value_counts().to_dict()}")
    assert (df["outcome"] == "recovered").all(), _failures(df)


@pytest.mark.slow
def test_raft_liveness_study_heavy_load() -> None:
    """5,000 seeds, 5 clients x 10 operations, 3 s storms: every run recovers within 5 s of healing."""
    with ProcessPoolExecutor(os.cpu_count() or 1) as ex:
        df = nemesis_study("raft", range(5000), executor=ex, clients=5, ops_per_client=10, duration=3000.0, **TIGHT)
    print(f"\nraft liveness: {df['outcome'].value_counts().to_dict()}")
    assert (df["outcome"] == "recovered").all(), _failures(df)
    assert (df["duplicate_entries"] == 0).all()

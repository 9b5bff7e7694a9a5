"""VeSTA on the simulator's per-node clocks: its HLC reads the node's own clock, and LWW loses
acknowledged, non-concurrent updates once clocks disagree by more than a round trip."""

from __future__ import annotations

import numpy as np
import pytest

from consensuslab.cluster import Cluster
from consensuslab.experiments.vesta_clocks import lww_loss_model, lww_skew_study, lww_skew_table, lww_skew_trial


def test_the_hlc_reads_the_nodes_own_clock() -> None:
    c = Cluster("vesta", n=5, seed=1, replicas=3, r=2, w=2)
    c.run_for(10.0)
    c.jump_clock(2, 500.0)
    c.pin_client(0, 2)
    assert c.put("k", 1).ok
    stamps = {nd.store["k"].stamp for nd in c.sim.nodes if nd is not None and "k" in nd.store}
    (stamp,) = stamps
    assert stamp[2] == 2 and stamp[0] > 500.0  # physical part from node 2's clock, 500 ms ahead


def test_no_lost_update_without_skew_and_some_with_a_large_one() -> None:
    rows = lww_skew_study(skews=(0.0, 200.0), trials=12)
    table = lww_skew_table(rows).set_index("skew")
    assert table.loc[0.0, "lost"] == 0 and table.loc[0.0, "rate_hi"] == 0
    assert table.loc[200.0, "lost"] > 0 and table.loc[200.0, "trials_with_loss"] >= 2
    assert table.loc[200.0, "rate_lo"] <= table.loc[200.0, "rate"] <= table.loc[200.0, "rate_hi"]


def test_a_replica_coordinator_is_protected_by_the_hlc() -> None:
    """Only puts through a coordinator outside the key's replicas get lost: a replica sees every
    write of the key and its HLC catches up with the newest stamp."""
    rows = lww_skew_study(skews=(200.0,), trials=12)
    assert rows[rows.replica_coordinators == 2]["lost"].sum() == 0
    assert rows[rows.replica_coordinators < 2]["lost"].sum() > 0


def test_a_lost_update_needs_the_previous_coordinator_ahead_by_more_than_the_gap() -> None:
    for seed in range(8):
        row = lww_skew_trial(seed, 150.0)
        if row["lost"]:
            assert abs(row["offset_gap"]) > row["put_latency"] / 2


def test_the_model_is_zero_below_half_the_gap_and_bounded_by_q_over_2() -> None:
    s = np.array([0.0, 10.0, 20.0, 1e6])
    rate = lww_loss_model(s, gap=40.0)
    assert rate[0] == rate[1] == rate[2] == 0.0
    assert rate[3] == pytest.approx(0.4 / 2, rel=1e-3)


def test_trials_replay() -> None:
    assert lww_skew_trial(3, 100.0) == lww_skew_trial(3, 100.0)

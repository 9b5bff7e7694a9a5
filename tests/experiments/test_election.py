"""Methodology checks of the Raft election-convergence experiment (Raft paper §9.3, Figure 16;
dissertation chapter 9)."""

from __future__ import annotations

import math
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from consensuslab.experiments import election as el
from consensuslab.experiments.election import (
    LONG_LOG,
    SHORT_LOG,
    DISK_BOUND,
    DiskLatency,
    downtime_summary,
    election_downtime,
    election_trial,
    expected_election_time,
    expected_terms,
    split_vote_probability,
    split_vote_rates,
)
from consensuslab.protocols.raft import RaftConfig, RequestVote, RequestVoteReply
from consensuslab.node import Persist, Send, SetTimer


def test_crash_moment_is_uniform_within_the_heartbeat_interval():
    """§9.3: 'the leader was crashed uniformly randomly within its heartbeat interval, which was
    half of the minimum election timeout' -- so no re-election can finish before lo/2."""
    df = election_downtime([(12.0, 24.0)], trials=300, seed=3, executor="inline")
    off = df["crash_offset"].to_numpy()
    assert off.min() >= 0 and off.max() < 6.0
    assert stats.kstest(off / 6.0, "uniform").pvalue > 0.001
    # a survivor times out >= lo after the heartbeat arrived (>= latency after time 0)
    assert (df["downtime"] >= 12.0 + el.PAPER_LATENCY - df["crash_offset"] - 1e-9).all()
    assert df["downtime"].min() >= 6.0


def test_injected_logs_make_two_survivors_ineligible():
    """§9.3: 'the servers in each trial had different log lengths, so two of the four servers were
    not eligible to become leader'; §5.4.1: voters refuse a candidate whose log is behind."""
    assert SHORT_LOG == LONG_LOG[: len(SHORT_LOG)] and len(LONG_LOG) > len(SHORT_LOG)
    df = election_downtime([(150.0, 300.0), (12.0, 24.0)], trials=150, seed=5, executor="inline")
    done = df[~df["censored"]]
    assert set(done["leader"]) == {1, 2}
    assert done["leader_eligible"].all()
    # with equal logs, the other two survivors do win sometimes
    eq = election_downtime([(150.0, 300.0)], trials=100, seed=5, ineligible=0, executor="inline")
    assert {3, 4} & set(eq["leader"])


def test_ineligible_candidate_collects_at_most_minority():
    """A direct rule check on the injected state: a short-log candidate is refused by a long-log voter."""
    cfg = RaftConfig(n=5, election_timeout=(150, 300), heartbeat=75)
    voter = cfg.make_node(1, tuple(range(5)), np.random.default_rng(0), {"term": 2, "voted_for": 0, "log": LONG_LOG})
    voter.on_start()
    voter.out = []
    voter.on_message(3, RequestVote(3, 3, len(SHORT_LOG), SHORT_LOG[-1].term))
    replies = [e.msg for e in voter.out if isinstance(e, Send)]
    assert replies == [RequestVoteReply(3, False)]


def test_disk_latency_holds_replies_after_a_persist_only():
    """The disk model: a vote is acknowledged only after the write; broadcasts are not delayed."""
    cfg = RaftConfig(n=3, election_timeout=(150, 300), heartbeat=50)
    node = DiskLatency(cfg.make_node(1, (0, 1, 2), np.random.default_rng(0), {}), disk=7.0, bound=DISK_BOUND)
    node.on_start()
    node.out = []
    node.on_message(0, RequestVote(1, 0, 0, 0))
    kinds = [type(e) for e in node.out]
    assert Persist in kinds and Send not in kinds
    timer = next(e for e in node.out if isinstance(e, SetTimer) and e.name.startswith("disk:"))
    assert timer.delay == 7.0
    node.out = []
    node.on_timer(timer.name)
    assert [type(e) for e in node.out] == [Send] and node.out[0].msg.vote_granted


def test_results_do_not_depend_on_worker_count():
    configs = dict(ranges=[(25.0, 50.0), (150.0, 155.0)], trials=12, seed=11)
    inline = election_downtime(**configs, executor="inline")
    with ProcessPoolExecutor(max_workers=2) as pool:
        two = election_downtime(**configs, executor=pool)
    pd.testing.assert_frame_equal(inline, two)
    with ProcessPoolExecutor(max_workers=1) as pool:
        one = election_downtime(**configs, executor=pool)
    pd.testing.assert_frame_equal(inline, one)


def test_no_randomness_is_censored_and_reported():
    """§9.3: 'In the absence of randomness, leader election consistently took longer than 10 s'.
    Censored trials stay in the table (downtime = inf), never silently dropped."""
    df = election_downtime([(150.0, 150.0)], trials=3, seed=1, cap=2_000.0, executor="inline")
    assert len(df) == 3 and df["censored"].all() and np.isinf(df["downtime"]).all()
    s = downtime_summary(df).iloc[0]
    assert s["censored_fraction"] == 1.0 and math.isinf(s["median"])


def test_quick_mode_is_in_the_paper_ballpark():
    """Fidelity sanity of a small run: 150-155 ms needs about one split vote at the median (paper
    287 ms), and 12-24 ms elects in tens of ms (paper mean 35 ms)."""
    df = election_downtime([(150.0, 155.0), (12.0, 24.0)], trials=120, seed=2, executor="inline")
    s = downtime_summary(df).set_index("range")
    assert 200 < s.loc["150-155ms", "median"] < 400
    assert 25 < s.loc["12-24ms", "mean"] < 55


def test_split_vote_model_against_hand_computed_values():
    """Dissertation §9.2: Pr(D_{3,4} <= l) is about 0.06%, 5.2%, 18.1% for l = .01, .1, .2."""
    def naive(l, s, n):  # sum_{k=c-1}^{s} C(s,k) l^k (1-l)^(s-k), c = s - n//2 + 1
        c = s - n // 2 + 1
        return sum(math.comb(s, k) * l**k * (1 - l) ** (s - k) for k in range(c - 1, s + 1))

    assert split_vote_probability(0.01, 4, 5) == pytest.approx(0.000592, abs=2e-6)
    assert split_vote_probability(0.1, 4, 5) == pytest.approx(0.0523, abs=1e-4)
    assert split_vote_probability(0.2, 4, 5) == pytest.approx(0.1808, abs=1e-4)
    for n in (3, 5, 7, 9):
        for s in range(n // 2 + 1, n + 1):
            for l in (0.0, 0.05, 0.3, 0.9):
                assert split_vote_probability(l, s, n) == pytest.approx(naive(l, s, n), abs=1e-12)
    # dissertation: a 5-server cluster with two failures and l = 0.2 splits "about half" the time
    assert split_vote_probability(0.2, 3, 5) == pytest.approx(0.488, abs=1e-3)
    assert split_vote_probability(1.5, 4, 5) == 1.0
    assert split_vote_probability(0.1, 2, 5) == 1.0  # no majority left
    assert expected_terms(0.5) == 2.0
    # E[E_s] in the dissertation's units: timeouts in [1, 2], heartbeat 1/2, L = W = 0
    assert expected_election_time((1.0, 2.0), 0.0, 0.0, s=4, n=5, heartbeat=0.5) == pytest.approx(1 + 1 / 5 - 1 / 4)
    with pytest.raises(ValueError, match="`l` must be finite"):
        split_vote_probability(-0.1, 4, 5)


def test_simulated_split_rate_matches_the_model():
    """Full Raft nodes under the model's assumptions (fixed latency, equal logs) split as predicted."""
    df = split_vote_rates(ls=(0.2,), trials=600, seed=4, executor="inline")
    row = df.iloc[0]
    assert row["lo95"] - 0.02 <= row["model"] <= row["hi95"] + 0.02
    assert row["mean_terms"] == pytest.approx(row["expected_terms"], rel=0.1)


def test_bad_parameters_are_rejected_with_clear_messages():
    with pytest.raises(ValueError, match="`election_timeout` must satisfy low <= high"):
        election_downtime([(200.0, 150.0)], trials=1, executor="inline")
    with pytest.raises(ValueError, match="`failed` must leave a majority"):
        el.run_election_trials([{"n": 5, "failed": 3}], 1, executor="inline")
    with pytest.raises(TypeError, match="`ranges` must be a sequence"):
        election_downtime((150.0, 300.0), trials=1, executor="inline")
    with pytest.raises(TypeError, match="`pre_vote` must be a bool"):
        election_downtime([(150.0, 300.0)], trials=1, pre_vote=1, executor="inline")


def test_registered_experiment_quick_mode_matches_reference_ids():
    from pathlib import Path

    from consensuslab.experiments.registry import get

    res = get("raft-election").run(quick=True, seed=0, executor="inline")
    ref = pd.read_csv(Path(__file__).resolve().parents[2] / "data" / "reference" / "raft.csv")
    assert set(res.measured) == set(ref["id"])
    assert res.measured["raft_150_150_censored_fraction"] == 1.0


def test_explorer_slider_changes_summary_and_figure():
    from consensuslab.widgets.election import ElectionExplorer

    ex = ElectionExplorer(trials=40, seed=1)
    before = dict(ex.summary)
    lines_before = [tuple(map(tuple, line.get_xydata())) for line in ex.ax.get_lines()]
    ex.timeout.value = (12, 24)
    assert ex.summary["median"] < before["median"] / 3
    lines_after = [tuple(map(tuple, line.get_xydata())) for line in ex.ax.get_lines()]
    assert lines_after != lines_before
    assert "12-24ms" in [t.get_text() for t in ex.ax.get_legend().get_texts()]
    plain = dict(ex.summary)
    ex.pre_vote.value = True
    assert ex.summary != plain
    assert f"{ex.summary['median']:.0f} ms" in ex.html.value


def test_effect_cdf_log_axis_has_no_overlapping_minor_labels() -> None:
    import matplotlib.pyplot as plt
    import pandas as pd

    from consensuslab.plots.election import effect_cdf

    rows = [{"range": r, "pre_vote": pv, "downtime": d}
            for r, lo in (("12-24ms", 25.0), ("150-300ms", 150.0)) for pv in (False, True)
            for d in np.linspace(lo, 2.0 * lo + 100.0, 30)]
    ax = effect_cdf(pd.DataFrame(rows), by="pre_vote", log=True)
    ax.figure.canvas.draw()
    assert ax.get_xscale() == "log"
    assert all(t.get_text() == "" for t in ax.get_xticklabels(minor=True))  # minor ticks unlabelled
    lo, hi = ax.get_xlim()
    shown = [t for t in ax.get_xticklabels() if lo <= t.get_position()[0] <= hi and t.get_text()]
    assert len(shown) >= 3  # 1-2-5 major labels still give a readable scale
    boxes = sorted((t.get_window_extent() for t in shown), key=lambda b: b.x0)
    assert all(a.x1 < b.x0 for a, b in zip(boxes, boxes[1:]))  # and they do not overlap
    plt.close("all")


def test_explorer_figure_has_a_title_that_follows_the_controls() -> None:
    from consensuslab.widgets.election import ElectionExplorer

    ex = ElectionExplorer(trials=20, seed=1)
    assert "5 servers, timeout 150-300 ms" in ex.ax.get_title()
    ex.timeout.value = (12, 24)
    ex.pre_vote.value = True
    assert "timeout 12-24 ms, Pre-Vote" in ex.ax.get_title()

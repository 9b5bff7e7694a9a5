"""The claims notebooks 04 (Raft replication and faults) and 07 (VeSTA) print, asserted.

Each notebook prints its claims from computed results (issue 14). These tests check the claims
twice: on the library call the notebook makes (with the notebook's quick-mode parameters), and
on the text the executed notebook actually printed, so a claim cannot drift from its number.
They also hold the printed output to the number-formatting rule: no unrounded floats, no
``inf``/``nan`` in a printed table.
"""

from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
from matplotlib.text import Text

from consensuslab.notebook_runner import notebooks_dir
from consensuslab.scenarios.raft import (
    fault_injection_run,
    fault_tally,
    figure8_replay,
    leader_crash_scenario,
    partition_repair_scenario,
)

NB04 = notebooks_dir() / "04-raft-replication-and-faults.ipynb"
NB07 = notebooks_dir() / "07-vesta.ipynb"
UNROUNDED = re.compile(r"\d\.\d{5,}")  # 6000.000000, 0.060627, 13.815491 ...
NOT_A_NUMBER = re.compile(r"(?<![\w.])(inf|nan|NaN)(?![\w])")


def _texts(run) -> list[str]:
    """Every text output of an executed notebook: streams, and plain-text results."""
    out = []
    for cell in run.nb.cells:
        for o in cell.get("outputs", []):
            if o.get("output_type") == "stream":
                out.append(o["text"])
            elif (o.get("output_type") in ("execute_result", "display_data") and "text/plain" in o["data"]
                  and "image/png" not in o["data"]
                  and not o["data"]["text/plain"].startswith(("VBox", "<Figure"))):
                out.append(o["data"]["text/plain"])
    return out


def _fontsizes(fig) -> list[float]:
    sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_text().strip() and t.get_visible()]
    return sizes


# -- notebook 04 -------------------------------------------------------------------------------


def test_04_partitioned_old_leader_accepts_several_commands_that_are_later_discarded() -> None:
    for commands in (6, 12):  # the notebook's quick and full COMMANDS
        run = partition_repair_scenario(n=5, seed=2, commands=commands)
        s = run.summary
        sent = commands // 2
        assert s["sent to the old leader"] == sent >= 3  # several, not one
        assert run.before.roles[run.old_leader] == "leader"  # it still believes it leads
        assert s["acknowledged to the minority client"] == 0  # none could commit
        assert s["uncommitted suffix"] == sent  # it accepted every one
        assert s["replaced"] == sent  # ... and the repair overwrote every one
        assert s["discarded commands applied"] == 0  # applied by no server
        assert s["new term"] > run.before.terms[run.old_leader]
        assert s["identical logs"]
        assert run.discarded_cells == [(run.old_leader, k) for k in range(s["log length before"] - sent,
                                                                           s["log length before"])]


def test_04_each_leader_crash_is_followed_by_one_new_leader() -> None:
    run = leader_crash_scenario(n=5, seed=1, crashes=2, commands=6)
    assert len(run.downtime) == 2
    assert all(150.0 <= d < 1000.0 for d in run.downtime)  # an election timeout, then a vote round
    assert run.max_leaders_per_term == 1  # Election Safety, read off the drawn timeline


def test_04_fault_tally_reports_times_per_run_not_their_sum() -> None:
    runs = [fault_injection_run(n=5, seed=s, duration=1500.0) for s in range(4)]
    tally = fault_tally(runs)
    v = tally["value"]
    assert v["runs"] == 4 and isinstance(v["operations issued"], int)
    assert v["runs with a safety violation"] == 0 and v["runs with a non-linearizable history"] == 0
    times = [r.summary["catch-up time (ms)"] for r in runs if r.summary["caught up"]]
    assert v["catch-up time, slowest run"] == pytest.approx(max(times))  # a maximum, never a sum
    assert v["catch-up time, slowest run"] < sum(times) or len(times) == 1
    for text in tally["shown"]:
        assert not UNROUNDED.search(text) and not NOT_A_NUMBER.search(text), text
    assert tally.loc["runs with a safety violation", "shown"].startswith("0 of 4 (0 %–")  # with its CI
    assert tally.loc["catch-up time, median", "shown"].endswith(" ms")
    with pytest.raises(ValueError, match="runs"):
        fault_tally([])


def test_04_figure8_panels_are_laid_out_readably() -> None:
    from consensuslab.plots.raft import FONT, figure8_panels

    replay = figure8_replay("d", seed=1)
    fig = figure8_panels(replay.states, title="finding")
    drawn = [ax for ax in fig.axes if ax.patches]
    assert len(drawn) == len(replay.states) == 5
    rows = {round(ax.get_position().y0, 2) for ax in drawn}
    assert len(rows) == 2  # two rows of three, not five in one row
    assert fig.get_figwidth() <= 12.5
    assert min(_fontsizes(fig)) >= FONT >= 9
    assert any(ax.get_legend() for ax in fig.axes)  # a legend for the colours and edges
    fig.canvas.draw()
    titles = [ax.title.get_window_extent() for ax in drawn]
    assert not any(a.overlaps(b) for i, a in enumerate(titles) for b in titles[i + 1:])
    plt.close("all")


def test_04_fault_explorer_shows_the_figure_first_and_formats_its_table() -> None:
    from consensuslab.widgets.raft import RaftFaultExplorer, format_summary

    ex = RaftFaultExplorer(seed=1, duration=800.0, ops_per_client=3)
    box = ex.widget()
    kids = list(box.children)
    assert kids.index(ex.output) < kids.index(ex.html)  # the picture stays on top
    shown = format_summary(ex.summary)
    assert shown["linearizable"] in ("yes", "no")
    assert shown["catch-up time"].endswith(" ms") or shown["catch-up time"] == "did not catch up"
    assert not any(NOT_A_NUMBER.search(t) for t in shown.values())
    plt.close("all")


@pytest.fixture(scope="module")
def nb04(notebook_run):
    run = notebook_run(NB04)
    assert run.ok, f"cell {run.failed_cell}: {run.error}"
    return run


def test_04_notebook_prints_its_claims_from_the_results(nb04) -> None:
    text = "\n".join(_texts(nb04))
    s = partition_repair_scenario(n=5, seed=2, commands=6).summary  # the notebook's quick parameters
    assert (f"commands sent to it while cut off: {s['sent to the old leader']}, acknowledged: 0; "
            f"uncommitted entries before healing: {s['uncommitted suffix']}, overwritten after healing: "
            f"{s['replaced']}, applied by any server: 0") in text
    assert "no leader for:" in text and "safety violation: none" in text
    assert re.search(r"Leader Completeness violated at t = \d+ ms", text)
    assert re.search(r"20 runs — safety: 0 with a safety violation, 0 with a non-linearizable history", text)
    for chunk in _texts(nb04):
        assert not UNROUNDED.search(chunk), chunk
        assert not NOT_A_NUMBER.search(chunk), chunk


# -- notebook 07 -------------------------------------------------------------------------------

from consensuslab.experiments import vesta as ev  # noqa: E402  (the 07 half of this file)
from consensuslab.plots import vesta as pv  # noqa: E402


def test_07_availability_differs_between_strict_quorum_and_raft_under_the_held_fault() -> None:
    table = ev.availability_table(("R+W>N", "raft"), ("isolate-one",), trials=3, seed=1).set_index("config")
    strict, raft = table.loc["R+W>N"], table.loc["raft"]
    assert strict["availability"] >= 0.99  # the other two replicas answer at once
    assert raft["availability"] < strict["availability"]  # the group must elect a new leader first
    assert raft["longest_gap_ms"] >= 150.0 > strict["longest_gap_ms"]  # ... an election timeout at least
    assert raft["lo"] <= raft["availability"] <= raft["hi"]


def test_07_two_replicas_down_only_partial_and_sloppy_quorums_write() -> None:
    table = ev.availability_table(tuple(ev.CONFIGURATIONS), ("crash-two",), trials=2, seed=1).set_index("config")
    assert table.loc["R+W>N", "availability"] == 0.0 and table.loc["raft", "availability"] == 0.0
    assert table.loc["R+W<=N", "availability"] > 0.9 and table.loc["sloppy", "availability"] > 0.9
    text = ev.availability_finding(table.reset_index().assign(fault="crash-two"))
    assert "R+W>N 0 %" in text and "raft 0 %" in text


def _curve(profile: str, hits: list[int], p: list[float], reads: int = 2000) -> list[dict]:
    from consensuslab.stats import wilson

    rows = []
    for t, (k, q) in enumerate(zip(hits, p)):
        lo, hi = wilson(k, reads)
        rows.append({"profile": profile, "N": 3, "R": 1, "W": 1, "t": float(t), "reads": reads, "consistent": k,
                     "p_sim": k / reads, "lo": lo, "hi": hi, "p_pbs": q, "pbs_trials": 10**6, "diff": k / reads - q,
                     "within": lo <= q <= hi})
    return rows


def test_07_staleness_agreement_is_reported_per_profile_and_names_the_worst() -> None:
    import pandas as pd

    p = [0.5, 0.7, 0.9, 0.99, 1.0]
    good = _curve("GOOD", [1000, 1400, 1800, 1980, 2000], p)
    biased = _curve("BIASED", [1100, 1500, 1880, 1995, 2000], p)  # ~5 points too high: a real difference
    agree = ev.staleness_agreement(pd.DataFrame(good + biased)).set_index("profile")
    assert agree.loc["GOOD", "informative"] == 4  # the point at 100 % is not informative
    assert agree.loc["GOOD", "inside"] == 4 and agree.loc["GOOD", "consistent"]
    assert agree.loc["BIASED", "inside"] < 4 and not agree.loc["BIASED", "consistent"]
    assert ev.worst_profile(agree.reset_index()) == "BIASED"
    text = ev.agreement_finding(agree.reset_index())
    assert "GOOD 4 of 4 (100%)" in text and "Worst per point: BIASED" in text
    shown = ev.agreement_display(agree.reset_index())
    assert list(shown["verdict (5 %)"]) == ["consistent", "NOT consistent"]


def test_07_staleness_seeds_never_replay_another_root_seeds_sample() -> None:
    a = ev.staleness_table(((3, 1, 1),), ("LNKD-SSD", "LNKD-DISK"), t=(0.0, 2.0, 5.0), trials=150, pbs_trials=10_000, seed=1)
    b = ev.staleness_table(((3, 1, 1),), ("LNKD-DISK",), t=(0.0, 2.0, 5.0), trials=150, pbs_trials=10_000, seed=2)
    assert list(a[a["profile"] == "LNKD-DISK"]["consistent"]) != list(b["consistent"])


def test_07_paper_points_come_from_the_reference_file_with_their_source() -> None:
    paper = ev.pbs_paper_points()
    assert set(paper["profile"]) == {"LNKD-SSD", "LNKD-DISK", "YMMR"}
    assert paper.set_index("id").loc["pbs_lnkd_disk_t0", "p"] == pytest.approx(0.439)
    assert paper["source"].str.contains("Bailis").all()


def test_07_anomaly_rates_and_linearizability_never_share_an_axis() -> None:
    rows = ev.run_workload(("R+W<=N", "raft"), trials=2, seed=2)
    table = ev.anomaly_table(rows).assign(faults="nemesis")
    assert {"lost_update_lo", "lost_update_hi", "linearizable_lo", "latency_lo"} <= set(table.columns)
    fig = pv.anomaly_figure(table)
    lin = [ax for ax in fig.axes if "linearizable" in ax.get_ylabel()]
    rates = [ax for ax in fig.axes if "lower is better" in ax.get_ylabel()]
    assert len(lin) == 1 and rates and lin[0] not in rates
    assert "higher is better" in lin[0].get_ylabel()
    assert min(_fontsizes(fig)) >= pv.FONT
    shown = ev.anomaly_display(table)
    for col in ("lost updates (of acked appends)", "stale reads", "mean latency"):
        assert all(not UNROUNDED.search(v) for v in shown[col])
    plt.close("all")


def test_07_ring_draws_every_token_and_a_legend_without_empty_entries() -> None:
    from consensuslab.protocols.vesta import VestaConfig

    cfg = VestaConfig(n=8, replicas=3, algorithm_options=(("vnodes", 4),))
    keys = [f"user:{i}" for i in range(10)]
    ax = pv.ring_preferences(cfg, keys)
    ticks = [ln for ln in ax.lines if ln.get_linewidth() == 2.5]
    assert len(ticks) == len(cfg.placement(cfg.members).points) == 32
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert all(f"token of n{m}" in labels for m in range(8))
    colours = {ln.get_color() for ln in ticks}
    assert len(colours) == 8  # every node's legend entry has tokens on the ring
    ranks = sorted(t.get_text() for t in ax.texts if t.get_text() in {"1", "2", "3"})
    assert ranks == ["1", "2", "3"]  # the walked key's replicas, numbered
    assert "clockwise" in ax.get_title()
    plt.close("all")


def test_07_explorer_shows_the_figure_first_and_formats_its_table() -> None:
    from consensuslab.widgets.vesta import VestaExplorer, format_summary

    ex = VestaExplorer(replicas=3, r=1, w=1, profile="LNKD-SSD", fault_rate=0.0, trials=40)
    kids = list(ex.widget().children)
    assert kids.index(ex.output) < kids.index(ex.html)
    shown = format_summary(ex.summary).set_index("quantity")["value"]
    assert shown["strict quorum (R+W>N)"] == "no"
    assert shown["P(consistent) at t=0, simulated"].endswith(" %")
    assert shown["mean latency"].endswith(" ms")
    assert not any(UNROUNDED.search(v) for v in shown)
    plt.close("all")


@pytest.fixture(scope="module")
def nb07(notebook_run):
    run = notebook_run(NB07)
    assert run.ok, f"cell {run.failed_cell}: {run.error}"
    return run


def test_07_notebook_prints_its_claims_from_the_results(nb07) -> None:
    text = "\n".join(_texts(nb07))
    # per-profile PBS agreement, every profile named, and the worst one
    m = re.search(r"Worst per point: ([\w-]+)", text)
    assert m and all(f"{p} " in text for p in ("LNKD-SSD", "LNKD-DISK", "YMMR"))
    stale = ev.staleness_table(((3, 1, 1),), ("LNKD-SSD", "LNKD-DISK", "YMMR"), trials=200, pbs_trials=50_000, seed=1)
    assert m.group(1) == ev.worst_profile(ev.staleness_agreement(stale))  # the notebook's quick parameters
    assert "Re-run with 5x the trials and another seed" in text
    # availability: the held fault separates the strict quorum from the Raft variant
    held = re.search(r"\(Raft: its group's leader\): (.*?);", text).group(1)
    pct = {c: float(v) for c, v in re.findall(r"(R\+W<=N|R\+W>N|sloppy|raft) ([\d.]+) %", held)}
    assert pct["R+W>N"] > pct["raft"]
    assert "quorum R=W=1: client 0's acknowledged writes missing from its own later read: b;" in text
    assert "acknowledged appends lost: b;" in text
    for chunk in _texts(nb07):
        assert not UNROUNDED.search(chunk), chunk
        assert not NOT_A_NUMBER.search(chunk), chunk

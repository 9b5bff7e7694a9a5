"""The claims notebooks 03, 06 and 09 print, and the standard their figures are held to (issue 14).

Each test runs the library call a notebook makes (with quick-mode sizes) and asserts what the
notebook prints or draws: Figure 16 has a legend entry for the 150-150 ms range (censored, no
curve) and for the paper's stars of every range, distinct styles per range and DKW bands; the
Pre-Vote legend reads "Pre-Vote on/off"; the quorum notebook's grid/majority loads and the
probabilistic quorums' miss rate are printed from computed values; 09 draws its speed-ups.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from figure_checks import legend_texts

from consensuslab.experiments import election as el
from consensuslab.plots.election import PAPER_SOURCE, effect_cdf, figure16


@pytest.fixture(scope="module")
def fig16() -> pd.DataFrame:
    # notebook 03 in quick mode: 150-150 ms with NO_RANDOMNESS_TRIALS, the rest with FIG16_TRIALS
    ranges = [r for r in el.PAPER_RANGES if r[0] != r[1]]
    return pd.concat([
        el.election_downtime([r for r in el.PAPER_RANGES if r[0] == r[1]], trials=5, seed=0, executor="inline"),
        el.election_downtime(ranges, trials=12, seed=1, executor="inline"),
    ], ignore_index=True)


# -- 03 ---------------------------------------------------------------------------------------------
def test_figure16_legends_the_censored_150_150_range_and_every_paper_star(fig16) -> None:
    fig = figure16(fig16, cap=el.PAPER_CAP)
    top, bottom = fig.axes[:2]
    texts = legend_texts(top)
    no_random = [t for t in texts if t.startswith("150-150ms")]
    assert no_random and "100% > 10 s" in no_random[0]  # censored fraction, not a missing curve
    marker = next(ln for ln in top.lines if ln.get_label().startswith("150-150ms"))
    assert marker.get_xdata()[0] == el.PAPER_CAP and marker.get_marker() == ">"
    assert any("no leader in any trial" in t.get_text() for t in top.texts)  # the arrow's note
    stars = {lab: [t for t in legend_texts(ax) if t.startswith(PAPER_SOURCE)] for lab, ax in
             (("top", top), ("bottom", bottom))}
    assert any("150-155ms" in t for t in stars["top"]) and any("150-200ms" in t for t in stars["top"])
    assert sum("12-24ms" in t for t in stars["bottom"]) == 2
    assert "Ongaro & Ousterhout 2014, Fig. 16" in PAPER_SOURCE
    for ax in (top, bottom):  # a band per curve, one legend entry for them
        assert sum(t == "95% DKW confidence band" for t in legend_texts(ax)) == 1


def test_figure16_ranges_differ_in_colour_and_line_style(fig16) -> None:
    top = figure16(fig16, cap=el.PAPER_CAP).axes[0]
    curves = {ln.get_label().split(" ")[0]: ln for ln in top.lines if "(n = " in ln.get_label()}
    for a, b in [("150-175ms", "150-200ms"), ("150-175ms", "150-300ms"), ("150-200ms", "150-300ms")]:
        assert curves[a].get_color() != curves[b].get_color()
        assert curves[a].get_linestyle() != curves[b].get_linestyle()


def test_dkw_band_contains_its_curve(fig16) -> None:
    from consensuslab.plots.election import _band, _cdf

    x = fig16.loc[fig16["range"] == "150-151ms", "downtime"].to_numpy(dtype=float)
    b = _band(x)
    xs, ys = _cdf(x)
    assert np.allclose(b["cdf"], ys) and (b["lower"] <= b["cdf"]).all() and (b["cdf"] <= b["upper"]).all()
    eps = math.sqrt(math.log(2 / 0.05) / (2 * x.size))
    assert (b["upper"] - b["cdf"]).max() == pytest.approx(eps)


def test_prevote_legend_reads_on_off_and_pairs_share_a_colour() -> None:
    pv = el.prevote_effect(ranges=((150.0, 300.0), (12.0, 24.0)), trials=10, seed=0, executor="inline")
    ax = effect_cdf(pv, by="pre_vote", log=True)
    texts = legend_texts(ax)
    assert all("pre_vote=" not in t for t in texts)
    assert {t.split(" (n")[0] for t in texts} == {f"{r}, Pre-Vote {s}" for r in ("150-300ms", "12-24ms") for s in ("on", "off")}
    lines = {ln.get_label().split(" (n")[0]: ln for ln in ax.lines}
    for r in ("150-300ms", "12-24ms"):
        on, off = lines[f"{r}, Pre-Vote on"], lines[f"{r}, Pre-Vote off"]
        assert on.get_color() == off.get_color() and on.get_linestyle() != off.get_linestyle()
    assert lines["150-300ms, Pre-Vote on"].get_color() != lines["12-24ms, Pre-Vote on"].get_color()


def test_election_summary_is_formatted_for_people(fig16) -> None:
    table = el.format_summary(el.downtime_summary(fig16))
    text = table.to_string()
    assert "inf" not in text and "> 10 s" in text
    row = table.set_index("range").loc["150-150ms"]
    assert row["censored"] == "5 (100%)" and row["median"] == "> 10 s"
    assert table["trials"].dtype.kind == "i"


# -- 06 ---------------------------------------------------------------------------------------------
def test_grid_load_is_not_lower_at_the_sizes_drawn() -> None:
    from consensuslab.quorum import Grid, Majority, tables

    t = tables.grid_vs_majority((2, 3, 4, 5), p=0.1).set_index("side")
    assert Grid(3, 3).load() == pytest.approx(Majority(9).load()) == pytest.approx(5 / 9)  # 0.556
    assert t.loc[3, "grid_load"] == pytest.approx(t.loc[3, "majority_load"])
    assert t.loc[2, "grid_load"] > t.loc[2, "majority_load"]  # 2x2 (0.75) worse than Majority(5) (0.6)
    assert (t.loc[[4, 5], "grid_load"] < t.loc[[4, 5], "majority_load"]).all()  # only larger grids win
    assert (t["grid_unavailability"] >= t["majority_unavailability"]).all()


def test_probabilistic_quorums_miss_each_other_and_the_figure_says_so() -> None:
    from consensuslab.plots.quorum import plot_load_vs_availability
    from consensuslab.quorum import Majority, Probabilistic, tables

    summary = tables.system_summary({"Majority(9)": Majority(9), "Probabilistic(100, l=2)": Probabilistic(100, l=2.0)}, p=0.1)
    miss = summary.set_index("system")["p_nonintersect"]
    assert miss["Majority(9)"] == 0 and miss["Probabilistic(100, l=2)"] > 0
    assert miss["Probabilistic(100, l=2)"] == pytest.approx(0.0066, abs=1e-4)
    ax = plot_load_vs_availability(summary)
    assert any("misses 0.66% of quorum pairs" in t.get_text() for t in ax.texts)
    assert any("may miss each other" in t for t in legend_texts(ax))


def test_unavailability_panel_is_log_log() -> None:
    from consensuslab.plots.quorum import plot_availability
    from consensuslab.quorum import tables

    curve = tables.availability_curve(tables.standard_systems((3, 9), (3,)), np.geomspace(1e-3, 0.5, 21))
    ax = plot_availability(curve, log=True, loglog=True)
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert min(ln.get_xdata().min() for ln in ax.lines) == pytest.approx(1e-3)


# -- 09 ---------------------------------------------------------------------------------------------
def test_speedup_chart_draws_measured_bars_and_the_ideal() -> None:
    from consensuslab.plots.scaleout import speedup_chart, workers_of

    s = pd.Series({"inline": 1.0, "process pool x1": 0.98, "process pool x2": 1.9, "dask LocalCluster x2": 1.7})
    ax = speedup_chart(s, cpus=2, title="t")
    assert [round(b.get_height(), 2) for b in ax.patches] == list(s)
    ideal = next(ln for ln in ax.lines if ln.get_marker() == "_")
    assert list(ideal.get_ydata()) == [1, 1, 2, 2] == [min(workers_of(n), 2) for n in s.index]
    texts = legend_texts(ax)
    assert any(t.startswith("ideal = number of workers") for t in texts) and any("measured" in t for t in texts)
    assert [t.get_text() for t in ax.get_xticklabels()] == list(s.index)
    assert "1.90×" in [t.get_text() for t in ax.texts]

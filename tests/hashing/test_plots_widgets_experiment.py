"""Plots and the explorer widget (no kernel), and the registered experiment in quick mode."""

import matplotlib

matplotlib.use("Agg")

import pandas as pd

from consensuslab.hashing import Ring
from consensuslab.hashing.study import balance_vs_vnodes, compare_algorithms
from consensuslab.plots.hashing import (
    balance_vs_vnodes_plot,
    load_bars,
    movement_bars,
    ring_diagram,
)
from consensuslab.widgets.hashing import HashExplorer


def test_plots_return_axes_with_content():
    r = Ring(["a", "b", "c"], vnodes=10)
    ax = ring_diagram(r.points, r.owners, list(r.nodes))
    assert len(ax.collections) >= 1
    assert len(load_bars([3, 4, 5], ["a", "b", "c"]).patches) == 3
    df = balance_vs_vnodes(20, [10, 100], trials=1)
    assert [ax.get_xscale() for ax in balance_vs_vnodes_plot(df)] == ["log", "log"]
    mv = pd.DataFrame({"algorithm": ["ring", "jump"], "event": ["join", "join"], "moved": [0.1, 0.09], "ideal": [0.09, 0.09]})
    assert len(movement_bars(mv).patches) == 2


def test_explorer_slider_changes_summary_and_figure():
    ex = HashExplorer(n_nodes=4, n_keys=2000, vnodes=5)
    before, fig = ex.summary.copy(), ex.figure
    ex.vnodes.value = 200
    assert ex.figure is not fig
    assert ex.summary["peak_to_mean"] != before["peak_to_mean"]
    ex.algorithm.value = "jump"
    assert ex.summary["memory_bytes"] == 0


def test_compare_algorithms_table():
    df = compare_algorithms(n_nodes=8, n_keys=5000, vnodes=20)
    assert set(df["algorithm"]) == {"ring", "jump", "rendezvous", "maglev", "multiprobe", "bounded", "anchor"}
    assert (df["keys_per_s"] > 0).all()
    assert abs(df.set_index("algorithm").loc["jump", "moved_on_join_over_ideal"] - 1.0) < 0.15
    assert df.set_index("algorithm").loc["jump", "memory_bytes"] == 0
    anchor = df.set_index("algorithm").loc["anchor"]
    assert abs(anchor["moved_on_join_over_ideal"] - 1.0) < 0.15 and abs(anchor["moved_on_leave_over_ideal"] - 1.0) < 0.15


def test_experiment_quick_ids_match_reference_csv():
    from pathlib import Path

    from consensuslab.experiments.registry import get

    res = get("hashing-balance").run(quick=True)
    ref = pd.read_csv(Path(__file__).resolve().parents[2] / "data" / "reference" / "hashing.csv")
    # every row is measured in quick mode too (the report has no "not measured" row)
    assert set(res.measured) == set(ref["id"])
    assert res.measured["bounded_max_over_cap"] <= 1.0
    assert abs(res.measured["ring100_std"] - 0.10) < 0.02
    assert abs(res.measured["multiprobe21_peak_to_mean"] - 21 / 20) < 0.01  # exact shares, 10^5 nodes

"""The timeline plot draws what the checker found."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from consensuslab.check import Operation, RegisterInput, check_linearizable, history_frame
from consensuslab.plots.linearizability import plot_check_times, plot_history

R = RegisterInput


def test_plot_history_linearizable_draws_points():
    h = [Operation(0, 0, 2, R("write", 1)), Operation(1, 1, 3, R("read"), 1),
         Operation(2, 1, None, R("write", 7))]
    res = check_linearizable(h, "register")
    ax = plot_history(h, res)
    assert ax.get_title().startswith("linearizable: all 2 operations")  # the default title states the finding
    points = ax.collections[0].get_offsets()
    assert len(points) == len(res.linearization) == 2
    assert [t.get_text() for t in ax.texts] == ["w(1)", "r→1", "w(7)"]
    plt.close(ax.figure)


def test_plot_history_failing_point_and_frame_input():
    h = [Operation(0, 0, 1, R("write", 1)), Operation(1, 2, 3, R("read"), None)]
    res = check_linearizable(h, "register")
    frame = history_frame(h, result=res)
    _, ax = plt.subplots()
    out = plot_history(frame, res, ax=ax, title="stale read")
    assert out is ax and ax.get_title() == "stale read"
    vlines = [ln for ln in ax.lines if list(ln.get_xdata()) == [3, 3] and ln.get_linestyle() == "--"]
    assert vlines, "the failing instant is marked"
    plt.close(ax.figure)


def test_plot_check_times():
    table = pd.DataFrame({"n_ops": [10, 20, 30], "seconds": [0.001, 0.01, 0.1], "ok": [True, False, None]})
    ax = plot_check_times(table)
    assert len(ax.collections) == 3
    plt.close(ax.figure)


def _unknown_bars(ax):
    return [ln for ln in ax.lines if ln.get_linewidth() == 3 and ln.get_linestyle() != "-"]


def test_unknown_outcome_runs_dashed_to_the_right_edge():
    # the unknown write is called last: it must not be a stub just after its call
    early = [Operation(1, 0, 1, R("read"), 1), Operation(0, 2, None, R("write", 1))]
    late = [Operation(0, 2, None, R("write", 1)), Operation(1, 3, 4, R("read"), None),
            Operation(2, 6, 7, R("read"), 1)]
    for history in (early, late):
        ax = plot_history(history, check_linearizable(history, "register"))
        right = ax.get_xlim()[1]
        (bar,) = _unknown_bars(ax)  # dashed, the only one
        x0, x1 = bar.get_xdata()
        assert x0 == 2 and x1 == right  # to the edge of the window
        assert x1 - x0 >= 0.2 * (right - ax.get_xlim()[0])  # clearly longer than a stub
        label = next(t for t in ax.texts if t.get_text() == "w(1)")
        assert x0 < label.get_position()[0] < x1  # its label sits on the drawn bar
        plt.close(ax.figure)


def test_plot_history_writes_a_rule_refutation_under_the_title():
    h = [Operation(0, 0, 1, R("write", 1)), Operation(1, 2, 3, R("read"), 7)]
    res = check_linearizable(h, "register")
    assert res.ok is False and "[rule R2]" in res.reason
    ax = plot_history(h, res)
    title = ax.get_title()
    assert title.startswith("not linearizable: client") and "\n" in title and "rule R2" in title.replace("\n", " ")
    reds = [ln for ln in ax.lines if ln.get_linewidth() == 6 and ln.get_color() == "#d1495b"]
    assert len(reds) == 1  # the read nobody's write explains
    plt.close(ax.figure)

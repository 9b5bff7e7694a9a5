"""Widgets (slider -> summary and figure change), plots, notebook tables and registered experiments."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

from consensuslab.plots import quorum as qplots
from consensuslab.quorum import tables
from consensuslab.widgets.quorum import AvailabilityExplorer, FlexiblePaxosExplorer, PBSExplorer

REFERENCE = Path(__file__).resolve().parents[2] / "data" / "reference" / "quorum.csv"


def _pixels(fig: matplotlib.figure.Figure) -> np.ndarray:
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba()).copy()


@pytest.mark.parametrize(
    "make,slider,value",
    [
        (lambda: AvailabilityExplorer(n=5, p=0.1, points=11), "p", 0.3),
        (lambda: AvailabilityExplorer(n=5, p=0.1, points=11), "n", 9),
        (lambda: FlexiblePaxosExplorer(n=5, q2=2, p=0.1), "p", 0.3),
        (lambda: FlexiblePaxosExplorer(n=5, q2=2, p=0.1), "q2", 3),
        (lambda: PBSExplorer(n=3, r=1, w=1, trials=5_000), "n", 5),
        (lambda: PBSExplorer(n=3, r=1, w=1, trials=5_000), "w", 2),
    ],
)
def test_slider_changes_summary_and_figure(make, slider, value):
    ex = make()
    before_summary = ex.summary.copy()
    before_pixels = _pixels(ex.figure)
    getattr(ex, slider).value = value
    assert not ex.summary.equals(before_summary)
    assert not np.array_equal(_pixels(ex.figure), before_pixels)
    assert "<table" in ex.html.value
    assert all(getattr(c, "description", "x") for c in ex.controls)


def test_pbs_explorer_summary_numbers_come_from_library():
    ex = PBSExplorer(n=3, r=2, w=2, trials=5_000)
    assert (ex.summary["p_consistent_t0"] == 1.0).all() and ex.summary["strict"].all()


def test_tables_and_plots():
    curve = tables.availability_curve(tables.standard_systems((3, 5), (2,)), [0.1, 0.5])
    assert set(curve["system"]) == {"Majority(3)", "Majority(5)", "Grid(2x2)"}
    assert qplots.plot_availability(curve, log=True, mark_p=0.1).get_yscale() == "log"
    summary = tables.system_summary(tables.standard_systems((5,), (3,)), p=0.1)
    assert summary.set_index("system").loc["Grid(3x3)", "load"] == pytest.approx(5 / 9)
    qplots.plot_load_vs_availability(summary)
    fp = tables.flexible_paxos_table(5, 0.1)
    assert fp["intersects"].all() and len(fp) == 5
    qplots.plot_flexible_paxos(fp)
    prob = tables.probabilistic_table(100, [1.0, 2.0])
    assert (prob["p_nonintersect"] <= prob["bound"]).all()
    qplots.plot_probabilistic(prob)
    surv = tables.survivable_failures([3, 4, 5])
    assert surv["survives"].tolist() == [1, 1, 2]
    curve = tables.pbs_curve(3, 1, 1, [0.0, 10.0], trials=2_000)
    ax = qplots.plot_pbs(curve)
    assert len(ax.lines) == 4
    matplotlib.pyplot.close("all")


def test_experiments_registered_and_keys_match_reference_csv():
    from consensuslab.experiments import get

    ref = pd.read_csv(REFERENCE)
    assert list(ref.columns)[:7] == ["id", "quantity", "reference", "tolerance", "tolerance_kind", "unit", "source"]
    assert set(ref.columns[7:]) <= {"kind"}  # the optional kind column (reproduction | check)
    assert set(ref["tolerance_kind"]) <= {"abs", "rel"}
    measured = {}
    for name in ("quorum-math", "pbs-wars"):
        measured.update(get(name).run(quick=True, seed=0).measured)
    assert set(measured) == set(ref["id"])
    for row in ref.itertuples():
        tol = row.tolerance * (abs(row.reference) if row.tolerance_kind == "rel" else 1.0)
        assert abs(measured[row.id] - row.reference) <= tol, (row.id, measured[row.id], row.reference)

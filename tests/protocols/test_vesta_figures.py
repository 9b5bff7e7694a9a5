"""VeSTA figures and the explorer widget."""

from __future__ import annotations

import io

import matplotlib.pyplot as plt
from matplotlib.text import Annotation, Text

from consensuslab.cluster import Cluster
from consensuslab.experiments import vesta as ev
from consensuslab.plots import vesta as pv
from consensuslab.protocols.vesta import VestaConfig


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def test_plots_draw():
    cfg = VestaConfig(n=6, replicas=3)
    ax = pv.ring_preferences(cfg, [f"user:{i}" for i in range(8)])
    assert len([t for t in ax.texts if isinstance(t, Annotation) and t.get_text()]) == 8  # one label per key
    st = ev.staleness_table(((3, 1, 1),), ("LNKD-SSD",), t=(0.0, 5.0), trials=50, pbs_trials=10_000)
    ax = pv.staleness_vs_pbs(st)
    assert ax.get_ylabel() == "P(consistent read)"
    table = ev.anomaly_table(ev.run_workload(("R+W<=N", "raft"), trials=1)).assign(faults="nemesis")
    assert len(pv.anomaly_bars(table).patches) >= 6
    assert len(pv.cost_bars(table).patches) == 2
    c = Cluster("vesta", n=4, seed=1, trace=True)
    c.put("x", "1")
    c.crash(3)
    c.get("x")
    ax = pv.anomaly_trace(c.trace)
    assert ax.lines or ax.patches or ax.texts
    plt.close("all")


def test_explorer_slider_changes_summary_and_figure():
    from consensuslab.widgets.vesta import VestaExplorer

    ex = VestaExplorer(replicas=3, r=1, w=1, profile="LNKD-DISK", fault_rate=0.0, trials=40)
    before, img = ex.summary.copy(), _png(ex.figure)
    ex.r.value = 2
    ex.w.value = 2
    assert not ex.summary.equals(before)
    assert ex.summary.set_index("quantity").loc["strict quorum (R+W>N)", "value"]
    assert _png(ex.figure) != img
    assert all(c.description for c in ex.controls)


def _overlaps(boxes) -> bool:
    return any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])


def test_ring_preferences_labels_do_not_overlap():
    cfg = VestaConfig(n=8, replicas=3)
    for count in (10, 24):
        ax = pv.ring_preferences(cfg, [f"user:{i}" for i in range(count)])
        ax.figure.canvas.draw()
        boxes = [Text.get_window_extent(t) for t in ax.texts if isinstance(t, Annotation) and t.get_text()]  # labels
        assert len(boxes) == count and not _overlaps(boxes), count
        plt.close(ax.figure)


def test_staleness_legend_is_compact_and_outside_the_data():
    import pandas as pd

    rows = [{"profile": p, "N": 3, "R": r, "W": w, "t": t, "p_pbs": 0.9, "p_sim": 0.9, "lo": 0.85, "hi": 0.95}
            for p in ("A", "B", "C") for r, w in ((1, 1), (1, 2), (2, 2)) for t in (0.0, 1.0, 10.0)]
    ax = pv.staleness_vs_pbs(pd.DataFrame(rows))
    ax.figure.canvas.draw()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(labels) == 2 + 3 + 3  # kinds + configurations + profiles, not 18 curves
    assert {"A", "B", "C", "N=3 R=1 W=2"} <= set(labels)
    assert ax.get_legend().get_window_extent().x0 >= ax.get_window_extent().x1
    plt.close("all")

"""The VeSTA explorer: N, R, W, latency profile and fault rate re-run a small workload.

Theory of operation
-------------------
:class:`VestaExplorer` holds ipywidgets controls; :meth:`~VestaExplorer.update` makes one call
into the library (:func:`consensuslab.experiments.vesta.explore`), which measures staleness in
the simulator next to the PBS prediction and runs a small append/get workload under a nemesis
firing ``fault rate`` faults per second. The numbers shown are in :attr:`summary` (a DataFrame
of raw values; the HTML table below the figure formats them for people with
:func:`format_summary`) and the staleness figure -- first, so it stays on screen while a
slider moves -- is redrawn in an ``ipywidgets.Output``, so a test can set ``slider.value`` and
inspect both without a kernel.
"""

from __future__ import annotations

import math

import ipywidgets as widgets
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from consensuslab.experiments.vesta import explore, pbs_paper_points
from consensuslab.plots.vesta import staleness_vs_pbs
from consensuslab.widgets.base import Explorer

__all__ = ["VestaExplorer", "format_summary"]


def format_summary(summary: pd.DataFrame) -> pd.DataFrame:
    """The explorer's ``quantity, value`` table for people: probabilities and availability in %,
    counts as integers, flags as yes/no, times in ms, messages with one decimal."""
    def fmt(q: str, v: object) -> str:
        if isinstance(v, (bool, np.bool_)):
            return "yes" if v else "no"
        if isinstance(v, (int, np.integer)):
            return f"{int(v):,}"
        x = float(v)  # type: ignore[arg-type]
        if math.isnan(x):
            return "—"
        if q.startswith(("P(", "availability")):
            return f"{100 * x:.1f} %"
        if q.startswith("max |sim"):
            return f"{100 * x:.1f} percentage points"
        if "(ms)" in q:
            return f"{x:.0f} ms"
        return f"{x:.1f}"

    return pd.DataFrame({"quantity": [q.replace(" (ms)", "") for q in summary["quantity"]],
                         "value": [fmt(q, v) for q, v in zip(summary["quantity"], summary["value"])]})


class VestaExplorer(Explorer):
    """Sliders ``N``, ``R``, ``W``, a latency-profile dropdown and a fault-rate slider.

    Parameters
    ----------
    replicas, r, w : int
        Initial ``N``, ``R``, ``W`` (``N <= 5``).
    profile : str
        Initial PBS profile.
    fault_rate : float
        Initial faults per second.
    trials : int
        Staleness trials per update (small keeps the sliders responsive).
    seed : int
        Seed of every run.
    """

    figure: Figure  # built in __init__ and redrawn in place: never None here

    def __init__(self, replicas: int = 3, r: int = 1, w: int = 1, profile: str = "LNKD-DISK",
                 fault_rate: float = 2.0, trials: int = 200, seed: int = 0) -> None:
        super().__init__()
        self.trials = trials
        self.seed = seed
        self.n = widgets.IntSlider(value=replicas, min=1, max=5, description="N", continuous_update=False)
        self.r = widgets.IntSlider(value=r, min=1, max=5, description="R", continuous_update=False)
        self.w = widgets.IntSlider(value=w, min=1, max=5, description="W", continuous_update=False)
        self.profile = widgets.Dropdown(options=["LNKD-SSD", "LNKD-DISK", "YMMR"], value=profile, description="profile")
        self.fault_rate = widgets.FloatSlider(value=fault_rate, min=0.0, max=10.0, step=0.5,
                                              description="faults/s", continuous_update=False)
        self.controls = [self.n, self.r, self.w, self.profile, self.fault_rate]
        self.summary = pd.DataFrame()
        self.staleness = pd.DataFrame()
        self.figure = Figure(figsize=(9.0, 4.2))
        FigureCanvasAgg(self.figure)
        self.ax = self.figure.subplots()
        self.wire(self.controls)
        self.update()

    def update(self) -> None:
        """Re-run the measurement (one library call), refresh the summary, redraw the figure."""
        n = self.n.value
        r, w = min(self.r.value, n), min(self.w.value, n)
        res = explore(n, r, w, self.profile.value, self.fault_rate.value, seed=self.seed, trials=self.trials)
        self.staleness = res["staleness"]
        self.summary = pd.DataFrame({"quantity": list(res["summary"]), "value": list(res["summary"].values())})
        self.html.value = format_summary(self.summary).to_html(index=False)
        self.ax.clear()
        table = self.staleness.assign(profile=self.profile.value, N=n, R=r, W=w)
        table["within"] = (table["p_pbs"] >= table["lo"] - 1e-12) & (table["p_pbs"] <= table["hi"] + 1e-12)
        p0 = float(table["p_sim"].iloc[0])
        staleness_vs_pbs(table, ax=self.ax, paper=pbs_paper_points(), title=(
            f"{'Strict' if r + w > n else 'Partial'} quorum N={n} R={r} W={w}: {100 * p0:.0f}% of reads at t = 0 "
            f"see the write;\nPBS inside the 95% interval at {int(table['within'].sum())} of {len(table)} points"))
        self.figure.tight_layout()
        self.show(self.figure)

    def widget(self) -> widgets.Widget:
        # the figure first, the table below it
        return widgets.VBox([widgets.HBox(self.controls[:3]), widgets.HBox(self.controls[3:]), self.output, self.html])

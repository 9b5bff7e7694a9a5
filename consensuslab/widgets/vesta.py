"""The VeSTA explorer: N, R, W, latency profile and fault rate re-run a small workload.

Theory of operation
-------------------
:class:`VestaExplorer` holds ipywidgets controls; :meth:`~VestaExplorer.update` makes one call
into the library (:func:`consensuslab.experiments.vesta.explore`), which measures staleness in
the simulator next to the PBS prediction and runs a small append/get workload under a nemesis
firing ``fault rate`` faults per second. The numbers shown are in :attr:`summary` (a DataFrame,
also rendered as HTML) and the staleness figure is redrawn in an ``ipywidgets.Output``, so a
test can set ``slider.value`` and inspect both without a kernel.
"""

from __future__ import annotations

import ipywidgets as widgets
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from consensuslab.experiments.vesta import explore
from consensuslab.plots.vesta import staleness_vs_pbs
from consensuslab.widgets.base import Explorer

__all__ = ["VestaExplorer"]


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
        self.figure = Figure(figsize=(6.4, 3.8))
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
        self.html.value = self.summary.to_html(index=False)
        self.ax.clear()
        staleness_vs_pbs(self.staleness.assign(profile=self.profile.value, N=n, R=r, W=w), ax=self.ax)
        self.figure.tight_layout()
        self.show(self.figure)

    def widget(self) -> widgets.Widget:
        return widgets.VBox([widgets.HBox(self.controls[:3]), widgets.HBox(self.controls[3:]), self.html, self.output])

"""Election explorer for notebook 03: change the cluster, the timeouts, the network, Pre-Vote.

Theory of operation
-------------------
:class:`ElectionExplorer` holds ipywidgets controls (cluster size, election timeout range,
one-way latency, disk-write time, Pre-Vote). Every change calls :meth:`update`, which makes one
library call — :func:`consensuslab.experiments.election.explore`, a small in-process run of the
Figure-16 methodology — stores the numbers in :attr:`summary` (also shown as HTML) and redraws
the CDF of the time without a leader in an ``ipywidgets.Output``. A test can set a control's
``value`` and read ``summary`` and ``figure`` without a kernel.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from consensuslab.experiments.election import PAPER_DISK, PAPER_LATENCY, explore
from consensuslab.plots.election import cdf_axes
from consensuslab.widgets.base import Explorer

__all__ = ["ElectionExplorer"]


class ElectionExplorer(Explorer):
    """Sliders for cluster size, timeout range, latency, disk write and Pre-Vote; re-runs live.

    Parameters
    ----------
    trials : int
        Trials per update (small: the run is in-process, ~0.1-0.5 s).
    seed : int
        Root seed (the same settings always give the same curve).
    """

    figure: Figure  # built in __init__ and redrawn in place: never None here

    def __init__(self, trials: int = 150, seed: int = 1) -> None:
        super().__init__()
        self.trials = trials
        self.seed = seed
        style = {"description_width": "initial"}
        self.n = widgets.IntSlider(value=5, min=3, max=9, step=2, description="servers", continuous_update=False)
        self.timeout = widgets.IntRangeSlider(value=(150, 300), min=10, max=500, step=1,
                                              description="election timeout (ms)", continuous_update=False, style=style)
        self.latency = widgets.FloatSlider(value=PAPER_LATENCY, min=0.5, max=40.0, step=0.5,
                                           description="one-way latency (ms)", continuous_update=False, style=style)
        self.disk = widgets.FloatSlider(value=PAPER_DISK, min=0.0, max=20.0, step=0.5,
                                        description="disk write (ms)", continuous_update=False, style=style)
        self.pre_vote = widgets.Checkbox(value=False, description="Pre-Vote")
        self.controls = [self.n, self.timeout, self.latency, self.disk, self.pre_vote]
        self.summary: dict[str, Any] = {}
        self.figure, self.ax = plt.subplots(figsize=(6.5, 3.5))
        plt.close(self.figure)
        self.wire(self.controls)
        self.update()

    def update(self) -> None:
        """Re-run the small experiment with the current settings and redraw."""
        lo, hi = self.timeout.value
        df, self.summary = explore(
            election_timeout=(float(lo), float(hi)), n=self.n.value, latency=self.latency.value,
            disk=self.disk.value, pre_vote=self.pre_vote.value, trials=self.trials, seed=self.seed,
        )
        s = self.summary
        self.html.value = (
            f"{self.trials} crashes of the leader: median <b>{s['median']:.0f} ms</b>, mean "
            f"<b>{s['mean']:.0f} ms</b>, p99 <b>{s['p99']:.0f} ms</b>, worst <b>{s['max']:.0f} ms</b>; "
            f"<b>{s['mean_terms']:.2f}</b> terms per election; {s['censored_fraction']:.0%} censored at 5 s. "
            f"Model (§9.3, all logs equal): mean {s['model_mean']:.0f} ms."
        )
        self.ax.clear()
        cdf_axes(df, list(dict.fromkeys(df["range"])), self.ax)
        self.ax.axvline(s["model_mean"], color="k", ls="--", lw=0.8, label="model mean")
        self.ax.set_xlabel("time without leader (ms)")
        self.ax.legend(fontsize=8, loc="lower right")
        self.ax.set_title(f"Time without a leader after a leader crash: {self.n.value} servers, timeout {lo}-{hi} ms"
                          f"{', Pre-Vote' if self.pre_vote.value else ''} ({self.trials} trials)", fontsize=10)
        self.figure.tight_layout()
        self.show(self.figure)

    def widget(self) -> widgets.Widget:
        """The controls, the summary line and the figure."""
        return widgets.VBox([widgets.HBox(self.controls[:3]), widgets.HBox(self.controls[3:]), self.html, self.output])

"""Partial-connectivity explorer: pick a scenario and a protocol, re-run a small experiment live.

Theory of operation
-------------------
:class:`ConnectivityExplorer` holds two dropdowns (scenario, protocol) and a slider for the
number of runs. Every change makes one library call,
:func:`consensuslab.experiments.partial_connectivity.explore` (the study's trial, in this
process), stores the cell's summary row in :attr:`summary` (shown as HTML) and redraws the
pattern beside the downtime CDF. A test can set a control's ``value`` and read ``summary`` and
``figure`` without a kernel.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from consensuslab.experiments.partial_connectivity import CAP, explore
from consensuslab.plots.connectivity import ecdf_axes, pattern_axes
from consensuslab.scenarios.connectivity import LABELS, PATTERNS, VARIANTS
from consensuslab.widgets.base import Explorer

__all__ = ["ConnectivityExplorer"]


class ConnectivityExplorer(Explorer):
    """Dropdowns for scenario and protocol, a slider for runs; re-runs the cell live.

    Parameters
    ----------
    trials : int
        Runs per update (each takes ~0.1-0.3 s).
    seed : int
        Root seed (the same settings always give the same curve).
    scenario, protocol : str
        The initial selection.
    """

    figure: Figure

    def __init__(self, trials: int = 10, seed: int = 1, scenario: str = "chained",
                 protocol: str = "multipaxos") -> None:
        super().__init__()
        self.seed = seed
        style = {"description_width": "initial"}
        self.scenario = widgets.Dropdown(options=list(PATTERNS), value=scenario, description="scenario", style=style)
        self.protocol = widgets.Dropdown(options=[(LABELS[p], p) for p in VARIANTS], value=protocol,
                                         description="protocol", style=style)
        self.trials = widgets.IntSlider(value=trials, min=2, max=60, step=1, description="runs",
                                        continuous_update=False, style=style)
        self.controls = [self.scenario, self.protocol, self.trials]
        self.summary: dict[str, Any] = {}
        self.figure, (self.ax_graph, self.ax_cdf) = plt.subplots(
            1, 2, figsize=(10, 4.2), gridspec_kw={"width_ratios": [1, 1.5]})
        plt.close(self.figure)
        self.wire(self.controls)
        self.update()

    def update(self) -> None:
        """Re-run the selected cell and redraw."""
        scen, proto = self.scenario.value, self.protocol.value
        df, self.summary = explore(scen, proto, trials=self.trials.value, seed=self.seed)
        s = self.summary
        if s["recovered"] > 0:
            times = f"median <b>{s['median_et']:.1f}</b>, p90 <b>{s['p90_et']:.1f}</b> election timeouts"
        else:
            times = "no new command committed"
        self.html.value = (
            f"{LABELS[proto]} in <i>{scen}</i>, {s['trials']} runs: <b>{s['recovered']:.0%}</b> recover within "
            f"{CAP:g} election timeouts ({times}); median <b>{s['elections']:.0f}</b> new leader(s); "
            f"outcome: <b>{s['outcome']}</b>."
        )
        self.ax_graph.clear()
        self.ax_cdf.clear()
        pattern_axes(PATTERNS[scen], self.ax_graph)
        ecdf_axes(df, scen, self.ax_cdf, labels=LABELS, cap=CAP)
        self.ax_cdf.legend(fontsize=8, loc="lower right")
        self.ax_cdf.set_title(f"{LABELS[proto]}: {s['recovered']:.0%} of {s['trials']} runs recover ({s['outcome']})",
                              fontsize=10)
        self.figure.tight_layout()
        self.show(self.figure)

    def widget(self) -> widgets.Widget:
        """The controls, the summary line and the figure."""
        return widgets.VBox([widgets.HBox(self.controls), self.html, self.output])

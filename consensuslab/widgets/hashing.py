"""Hash-ring balance explorer: sliders for algorithm, nodes, vnodes, weights, keys and c.

The figure comes first (the ring's owned arcs for ring and bounded loads, and keys per node in
the same colours); the numbers follow below it, formatted for people.
"""

from __future__ import annotations

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from consensuslab.hashing.study import study
from consensuslab.plots.hashing import BALANCE_COLUMNS, load_bars, node_colors, people_table, ring_diagram
from consensuslab.widgets.base import Explorer

__all__ = ["HashExplorer"]

#: how the explorer's summary is shown (column -> header, format)
SUMMARY_FORMAT = {
    **BALANCE_COLUMNS,
    "moved_on_join": ("moved on join", "pct"),
    "ideal_on_join": ("least possible on join", "pct"),
    "moved_on_leave": ("moved on leave", "pct"),
    "ideal_on_leave": ("least possible on leave", "pct"),
    "memory_bytes": ("lookup state", "bytes"),
}


class HashExplorer(Explorer):
    """Explore one placement configuration: ring arcs (ring/bounded), load bars, summary.

    ``update()`` recomputes through one call, :func:`consensuslab.hashing.study.study`.
    """

    def __init__(self, algorithm: str = "ring", n_nodes: int = 8, vnodes: int = 50,
                 weight_skew: float = 1.0, n_keys: int = 20_000, c: float = 1.25) -> None:
        super().__init__()
        style = {"description_width": "initial"}
        self.algorithm = widgets.Dropdown(
            options=["ring", "jump", "rendezvous", "maglev", "multiprobe", "bounded", "anchor"], value=algorithm,
            description="algorithm", style=style)
        self.n_nodes = widgets.IntSlider(value=n_nodes, min=2, max=64, description="nodes",
                                         continuous_update=False, style=style)
        self.vnodes = widgets.IntSlider(value=vnodes, min=1, max=500, description="vnodes",
                                        continuous_update=False, style=style)
        self.weight_skew = widgets.FloatSlider(value=weight_skew, min=1.0, max=5.0, step=0.5,
                                               description="max weight (min 1)", continuous_update=False, style=style)
        self.n_keys = widgets.IntSlider(value=n_keys, min=1000, max=200_000, step=1000, description="keys",
                                        continuous_update=False, style=style)
        self.c = widgets.FloatSlider(value=c, min=1.05, max=3.0, step=0.05, description="bounded-load c",
                                     continuous_update=False, style=style)
        self.summary: pd.Series = pd.Series(dtype=float)
        self.wire(self.controls)
        self.update()

    @property
    def controls(self) -> list[widgets.Widget]:
        return [self.algorithm, self.n_nodes, self.vnodes, self.weight_skew, self.n_keys, self.c]

    def update(self) -> None:
        """Recompute the study and redraw."""
        r = study(self.algorithm.value, self.n_nodes.value, self.n_keys.value, vnodes=self.vnodes.value,
                  weight_skew=self.weight_skew.value, c=self.c.value)
        self.summary = r["summary"]
        table = people_table(self.summary, SUMMARY_FORMAT).T
        table.columns = [self.algorithm.value]
        self.html.value = table.to_html()
        algo = r["algo"]
        names = list(algo.nodes)
        colors = node_colors(len(names))
        w = pd.Series(algo.weights, dtype=float)
        fair = (w / w.sum() * r["loads"].sum()).to_numpy()
        ring = getattr(algo, "ring", algo)
        if hasattr(ring, "points") and hasattr(ring, "bits") and hasattr(ring, "shares"):
            fig, axes = plt.subplots(1, 2, figsize=(11, 4.6), gridspec_kw={"width_ratios": [1, 1.25]})
            ring_diagram(ring.points, ring.owners, names, ring.bits, ax=axes[0], colors=colors)
            shares = None if self.algorithm.value == "bounded" else np.asarray(ring.shares())
            load_bars(r["loads"], names, expected=fair, ax=axes[1], colors=colors, shares=shares)
        else:
            fig, ax = plt.subplots(figsize=(7, 4.2))
            load_bars(r["loads"], names, expected=fair, ax=ax, colors=colors)
        fig.tight_layout()
        self.show(fig)

    def widget(self) -> widgets.Widget:
        """The controls, then the figure, then the numbers."""
        controls = widgets.HBox([widgets.VBox(self.controls[:3]), widgets.VBox(self.controls[3:])])
        return widgets.VBox([controls, self.output, self.html])

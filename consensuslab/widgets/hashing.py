"""Hash-ring balance explorer: sliders for algorithm, nodes, vnodes, weights, keys and c."""

from __future__ import annotations

import ipywidgets as widgets
import matplotlib.pyplot as plt
import pandas as pd

from consensuslab.hashing.study import study
from consensuslab.plots.hashing import load_bars, ring_diagram
from consensuslab.widgets.base import Explorer

__all__ = ["HashExplorer"]


class HashExplorer(Explorer):
    """Explore one placement configuration: ring diagram (ring/bounded), load bars, summary.

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
        self.html.value = self.summary.to_frame("value").to_html(float_format=lambda v: f"{v:.4g}")
        algo = r["algo"]
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        ring = getattr(algo, "ring", algo)
        if hasattr(ring, "points") and hasattr(ring, "bits"):
            ring_diagram(ring.points, ring.owners, list(algo.nodes), ring.bits, ax=axes[0])
        else:
            axes[0].text(0.5, 0.5, f"{type(algo).__name__}: no ring points", ha="center")
            axes[0].set_axis_off()
        w = pd.Series(algo.weights, dtype=float)
        load_bars(r["loads"], list(algo.nodes), expected=(w / w.sum() * r["loads"].sum()).to_numpy(), ax=axes[1])
        fig.tight_layout()
        self.show(fig)

    def widget(self) -> widgets.Widget:
        """The controls, the summary and the figure."""
        return widgets.VBox([widgets.HBox([widgets.VBox(self.controls), self.html]), self.output])

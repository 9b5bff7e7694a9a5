"""Simulator explorer for notebook 01: pick a delay distribution and a loss rate, see what the
network does (delay histogram beside the log-log tail, loss with its confidence interval,
reordering). The figure comes first and the table below it."""

from __future__ import annotations

from typing import Any

import ipywidgets as W
import pandas as pd

from consensuslab.experiments.simulator import LATENCY_EXAMPLES, network_profile, profile_table
from consensuslab.plots.sim import latency_figure
from consensuslab.widgets.base import Explorer

__all__ = ["NetworkExplorer"]


class NetworkExplorer(Explorer):
    """Sliders: latency distribution, loss probability, cluster size; re-runs on change."""

    def __init__(self, seed: int = 1, duration: float = 1000.0) -> None:
        super().__init__()
        self.seed = seed
        self.duration = duration
        self.latency = W.Dropdown(options=list(LATENCY_EXAMPLES), description="latency")
        self.loss = W.FloatSlider(value=0.1, min=0.0, max=0.5, step=0.05, description="loss",
                                  continuous_update=False)
        self.n = W.IntSlider(value=5, min=2, max=9, description="nodes", continuous_update=False)
        self.summary: dict[str, Any] = {}
        self.wire([self.latency, self.loss, self.n])
        self.update()

    def update(self) -> None:
        self.summary, msgs = network_profile(
            LATENCY_EXAMPLES[self.latency.value], loss=self.loss.value, n=self.n.value,
            duration=self.duration, seed=self.seed,
        )
        s = self.summary
        table = profile_table(pd.DataFrame([s], index=[self.latency.value]))
        self.html.value = (
            f"{s['delivered']:,} of {s['sent']:,} messages delivered; loss rate {s['loss_rate']:.1%} "
            f"(95% CI {s['loss_rate_lo']:.1%}–{s['loss_rate_hi']:.1%}, configured {self.loss.value:.0%})"
            + table.to_html()
        )
        d = msgs[msgs["fate"] == "delivered"]
        name = self.latency.value
        fig = latency_figure({name: (d["delivered"] - d["sent"]).to_numpy()},
                             exact={name: LATENCY_EXAMPLES[name]})
        fig.set_size_inches(11, 3.8)
        fig.suptitle(f"{name}, loss {self.loss.value:.0%}, {self.n.value} nodes: p99 {s['delay_p99']:.1f} ms is "
                     f"{s['delay_p99'] / s['delay_median']:.1f}× the median ({s['delivered']:,} of {s['sent']:,} "
                     f"messages delivered)", fontsize=10)
        fig.tight_layout()
        self.show(fig)

    def widget(self) -> W.Widget:
        """Controls, then the figure, then the numbers: the picture stays put while a slider moves."""
        return W.VBox([W.HBox([self.latency, self.loss, self.n]), self.output, self.html])

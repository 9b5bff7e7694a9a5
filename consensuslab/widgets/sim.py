"""Simulator explorer for notebook 01: pick a delay distribution and a loss rate, see what the
network does (delay histogram, loss with its confidence interval, reordering)."""

from __future__ import annotations

from typing import Any

import ipywidgets as W
import matplotlib.pyplot as plt

from consensuslab.experiments.simulator import LATENCY_EXAMPLES, network_profile
from consensuslab.plots.sim import latency_hist
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
        self.html.value = (
            f"<b>{s['sent']}</b> messages sent, <b>{s['delivered']}</b> delivered; "
            f"loss rate <b>{s['loss_rate']:.3f}</b> (95% CI {s['loss_rate_lo']:.3f}–{s['loss_rate_hi']:.3f}); "
            f"median delay <b>{s['delay_median']:.2f} ms</b>, p99 <b>{s['delay_p99']:.2f} ms</b>; "
            f"reordered <b>{s['reordered']:.1%}</b>"
        )
        d = msgs[msgs["fate"] == "delivered"]
        fig, ax = plt.subplots(figsize=(7, 3))
        latency_hist({self.latency.value: (d["delivered"] - d["sent"]).to_numpy()}, ax=ax)
        ax.set_title(f"Delivery delay: {self.latency.value} latency, loss {self.loss.value:.0%}, "
                     f"{self.n.value} nodes ({s['delivered']} of {s['sent']} messages delivered)", fontsize=10)
        fig.tight_layout()
        self.show(fig)

    def widget(self) -> W.Widget:
        return W.VBox([W.HBox([self.latency, self.loss, self.n]), self.html, self.output])

"""Fault-injection explorer for notebook 04: crash / partition / loss controls, safety shown.

Each change re-runs :func:`consensuslab.scenarios.raft.fault_injection_run` (one call: a seeded
nemesis with concurrent clients, safety checked after every step) and redraws the roles
timeline and the final logs; the summary lists what was checked and whether it held.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as W
import matplotlib.pyplot as plt

from consensuslab.plots.raft import log_grid, role_timeline
from consensuslab.scenarios.raft import FaultRun, fault_injection_run
from consensuslab.widgets.base import Explorer

__all__ = ["RaftFaultExplorer"]


class RaftFaultExplorer(Explorer):
    """Sliders for cluster size, seed, faults and options; shows the run and its safety checks.

    Parameters
    ----------
    seed : int
        Initial seed.
    duration : float
        Length of the fault period, ms.
    ops_per_client : int
        Operations each of three clients issues.
    """

    def __init__(self, seed: int = 1, duration: float = 3000.0, ops_per_client: int = 8) -> None:
        super().__init__()
        self.duration = duration
        self.ops_per_client = ops_per_client
        style = {"description_width": "initial"}
        self.n = W.IntSlider(value=5, min=3, max=7, description="servers", continuous_update=False)
        self.seed = W.IntSlider(value=seed, min=0, max=200, description="seed", continuous_update=False)
        self.crash = W.Checkbox(value=True, description="crashes")
        self.partition = W.Checkbox(value=True, description="partitions")
        self.loss = W.FloatSlider(value=0.2, min=0.0, max=0.6, step=0.05, description="max loss",
                                  continuous_update=False, style=style)
        self.pre_vote = W.Checkbox(value=False, description="Pre-Vote")
        self.check_quorum = W.Checkbox(value=False, description="CheckQuorum")
        self.summary: dict[str, Any] = {}
        self.result: FaultRun | None = None
        self.wire(self.controls)
        self.update()

    @property
    def controls(self) -> list[W.Widget]:
        return [self.n, self.seed, self.loss, self.crash, self.partition, self.pre_vote, self.check_quorum]

    def update(self) -> None:
        """Re-run with the current settings and redraw."""
        self.result = fault_injection_run(
            n=self.n.value, seed=self.seed.value, duration=self.duration, crash=self.crash.value,
            partition=self.partition.value, max_loss=self.loss.value, ops_per_client=self.ops_per_client,
            pre_vote=self.pre_vote.value, check_quorum=self.check_quorum.value,
        )
        self.summary = dict(self.result.summary)
        rows = "".join(f"<tr><td>{k}</td><td><b>{v}</b></td></tr>" for k, v in self.summary.items())
        verdict = ("<span style='color:green'>safety held at every step</span>"
                   if self.result.violation is None
                   else f"<span style='color:red'>{self.result.violation}</span>")
        self.html.value = f"<p>{verdict}</p><table>{rows}</table>"
        st = self.result.state
        fig, (a, b) = plt.subplots(2, 1, figsize=(9, 2.2 + 0.8 * len(st.logs)),
                                   gridspec_kw={"height_ratios": [1, 1]})
        role_timeline(self.result.roles, ax=a)
        log_grid(st.logs, st.commit, ax=b, roles=st.roles, title="logs after healing (thick edge: committed)")
        b.set_aspect("auto")
        fig.tight_layout()
        self.show(fig)

    def widget(self) -> W.Widget:
        return W.VBox([W.HBox([self.n, self.seed, self.loss]),
                       W.HBox([self.crash, self.partition, self.pre_vote, self.check_quorum]),
                       W.HBox([self.html, self.output])])

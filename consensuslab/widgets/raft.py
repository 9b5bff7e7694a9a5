"""Fault-injection explorer for notebook 04: crash / partition / loss controls, safety shown.

Each change re-runs :func:`consensuslab.scenarios.raft.fault_injection_run` (one call: a seeded
nemesis with concurrent clients, safety checked after every step) and redraws the roles
timeline and the final logs. The figure comes first, its title states the verdict; the table
of what was checked (numbers formatted for people by :func:`format_summary`) sits below it.
"""

from __future__ import annotations

import math
from typing import Any

import ipywidgets as W
import matplotlib.pyplot as plt

from consensuslab.plots.raft import log_grid, role_timeline
from consensuslab.scenarios.raft import FaultRun, fault_injection_run
from consensuslab.widgets.base import Explorer

__all__ = ["RaftFaultExplorer", "format_summary"]


def format_summary(summary: dict[str, Any]) -> dict[str, str]:
    """A :class:`~consensuslab.scenarios.raft.FaultRun` summary as text: integers with thousands
    separators, yes/no for flags, times in ms (``"did not catch up"`` instead of ``nan``)."""
    out: dict[str, str] = {}
    for key, value in summary.items():
        if isinstance(value, bool):
            out[key] = "yes" if value else "no"
        elif key == "catch-up time (ms)":
            out["catch-up time"] = "did not catch up" if math.isnan(value) else f"{value:.0f} ms"
        elif isinstance(value, float):
            out[key] = f"{value:,.1f}"
        elif isinstance(value, int):
            out[key] = f"{value:,}"
        else:
            out[key] = str(value)
    return out


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
        s = self.summary
        rows = "".join(f"<tr><td>{k}</td><td><b>{v}</b></td></tr>" for k, v in format_summary(s).items())
        verdict = ("<span style='color:green'>safety held at every step</span>"
                   if self.result.violation is None
                   else f"<span style='color:red'>{self.result.violation}</span>")
        self.html.value = f"<p>{verdict}</p><table>{rows}</table>"
        st = self.result.state
        fig, (a, b) = plt.subplots(2, 1, figsize=(10, 2.6 + 0.9 * len(st.logs)),
                                   gridspec_kw={"height_ratios": [1, 1]})
        held = ("safety held at every one of "
                f"{s['steps checked']:,} steps" if self.result.violation is None else "SAFETY VIOLATED")
        role_timeline(self.result.roles, ax=a,
                      title=f"{s['elections won']} elections won under the nemesis; {held}")
        same = len(set(st.logs)) == 1
        log_grid(st.logs, st.commit, ax=b, roles=st.roles, legend=True,
                 title=("After healing, every server holds the same log" if same
                        else "After healing, the logs still differ (a server is still being repaired)"))
        b.set_aspect("auto")
        fig.tight_layout()
        self.show(fig)

    def widget(self) -> W.Widget:
        return W.VBox([W.HBox([self.n, self.seed, self.loss]),
                       W.HBox([self.crash, self.partition, self.pre_vote, self.check_quorum]),
                       self.output, self.html])  # the figure first, the table below it

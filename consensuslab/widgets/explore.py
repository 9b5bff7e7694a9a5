"""Model-checking explorer for notebook 10: move a bound, re-run a small exhaustive search live.

Theory of operation
-------------------
:class:`PaxosSearchExplorer` has one slider per bound of single-decree Paxos's model — the number
of acceptors ``n``, the phase-1 and phase-2 quorum sizes, the highest ballot round explored, the
crash budget — and one for the search's ``max_states``. Every change makes one call,
:func:`consensuslab.experiments.model_checking.paxos_search` (breadth-first, stopped by the first
violation, ``max_states`` or a 2 s time limit, so a re-run stays interactive), then draws the
shortest counterexample as a sequence chart when there is one, or else the shortest run that
reaches "a value is chosen" (the proof that the search is not vacuous). The figure comes first,
the numbers below it (:class:`~consensuslab.widgets.base.Explorer`).
"""

from __future__ import annotations

from typing import Any

import ipywidgets as W
import matplotlib.pyplot as plt

from consensuslab.experiments.model_checking import paxos_search
from consensuslab.plots.explore import sequence_chart
from consensuslab.widgets.base import Explorer

__all__ = ["PaxosSearchExplorer"]


class PaxosSearchExplorer(Explorer):
    """Sliders: acceptors, quorum sizes, max round, crashes, max states; re-searches on change."""

    def __init__(self, n: int = 3, q1: int = 2, q2: int = 1, max_round: int = 1, crashes: int = 0,
                 max_states: int = 5000, time_limit: float = 2.0) -> None:
        super().__init__()
        self.time_limit = time_limit
        opts: dict[str, Any] = {"continuous_update": False, "style": {"description_width": "initial"}}
        self.n = W.IntSlider(value=n, min=2, max=5, description="acceptors n", **opts)
        self.q1 = W.IntSlider(value=q1, min=1, max=5, description="phase-1 quorum", **opts)
        self.q2 = W.IntSlider(value=q2, min=1, max=5, description="phase-2 quorum", **opts)
        self.max_round = W.IntSlider(value=max_round, min=1, max=3, description="max ballot round", **opts)
        self.crashes = W.IntSlider(value=crashes, min=0, max=2, description="crash budget", **opts)
        self.max_states = W.IntSlider(value=max_states, min=500, max=20000, step=500, description="max states",
                                      **opts)
        self.summary: dict[str, Any] = {}
        self.wire([self.n, self.q1, self.q2, self.max_round, self.crashes, self.max_states])
        self.update()

    def update(self) -> None:
        n = self.n.value
        q1, q2 = min(self.q1.value, n), min(self.q2.value, n)
        model, r = paxos_search(n=n, q1=q1, q2=q2, max_round=self.max_round.value, crashes=self.crashes.value,
                                max_states=self.max_states.value, time_limit=self.time_limit)
        unsafe = q1 + q2 <= n
        cx = r.counterexamples.get("safety")
        verdict = ("Agreement VIOLATED" if cx is not None else
                   "no violation: every state within the bounds explored" if r.complete else
                   f"no violation in the first {r.unique_states:,} states (stopped by {r.stopped_by})")
        self.summary = {"states": r.unique_states, "transitions": r.transitions, "depth": r.max_depth,
                        "seconds": r.elapsed, "complete": r.complete, "violated": cx is not None,
                        "counterexample events": len(cx) if cx is not None else None,
                        "q1 + q2 <= n": unsafe}
        config = f"Paxos n={n}, |Q1|={q1}, |Q2|={q2}, rounds ≤ {self.max_round.value}, crashes ≤ {self.crashes.value}"
        if cx is not None:
            ax = sequence_chart(cx, model=model, violation=r.details.get("safety", ""))
            ax.set_title(f"{config}: |Q1| + |Q2| = {q1 + q2} ≤ n, so quorums need not intersect —\n"
                         f"BFS finds Agreement violated after {len(cx)} events ({r.unique_states:,} states)",
                         fontsize=10, pad=30)
        else:
            example = r.examples.get("a value is chosen")
            if example is not None:
                ax = sequence_chart(example, model=model)
                ax.set_title(f"{config}: {verdict};\n"
                             f"shown: the shortest run in which a value is chosen ({len(example)} events)",
                             fontsize=10, pad=30)
            else:
                _fig, ax = plt.subplots(figsize=(7, 2))
                ax.axis("off")
                ax.set_title(f"{config}: {verdict}; no value chosen within the bounds", fontsize=10)
        self.html.value = (
            f"<b>{verdict}</b> — {r.unique_states:,} distinct states, {r.transitions:,} transitions, depth "
            f"{r.max_depth}, {r.elapsed:.2f} s ({r.rate:,.0f} states/s); |Q1| + |Q2| = {q1 + q2} "
            f"{'≤' if unsafe else '>'} n = {n}: quorums {'need not' if unsafe else 'always'} intersect."
        )
        self.show(ax.get_figure(root=True))  # type: ignore[arg-type]

    def widget(self) -> W.Widget:
        """Controls, then the figure, then the numbers."""
        controls = W.VBox([W.HBox([self.n, self.q1, self.q2]), W.HBox([self.max_round, self.crashes, self.max_states])])
        return W.VBox([controls, self.output, self.html])

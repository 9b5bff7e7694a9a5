"""Paxos widgets for notebook 02: a message-by-message stepper over the founding example and a
flexible-quorum explorer (sliders for |Q1| and |Q2|).

The stepper drives :class:`consensuslab.scenarios.paxos.Walkthrough` (a tiny deterministic
driver: one action = one tick); every button is one call into it, then :meth:`update` redraws
the message-sequence chart and, below it, the acceptors' state table. The *message* list holds
the messages in flight, oldest first; **deliver** and **drop** act on the one selected there
(the oldest unless the reader picks another), so any interleaving can be played. All logic is
callable without a kernel (``deliver_next()``, ``deliver(description)``, ``crash()``, ...),
which is what the tests do.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as W
import matplotlib.pyplot as plt
import pandas as pd

from consensuslab.experiments.paxos import Violation, unsafe_explore
from consensuslab.plots.paxos import walkthrough_chart
from consensuslab.scenarios.paxos import Walkthrough
from consensuslab.widgets.base import Explorer

__all__ = ["PaxosStepper", "FlexibleQuorumExplorer"]


class PaxosStepper(Explorer):
    """Step the founding example (A, B, C; A proposes 1) message by message.

    Buttons: deliver / drop the message selected in the *message* list (default: the oldest),
    crash / restart the selected node, make the selected node a new proposer of the given value,
    fire its retry timer. ``summary`` is the acceptors' state table (a DataFrame); ``pending``
    lists the messages in flight, oldest first.
    """

    def __init__(self, n: int = 3, proposer: int | None = 0, value: Any = 1, **options: Any) -> None:
        super().__init__()
        self.walk = Walkthrough(n=n, **options)
        names = self.walk.names
        self.node = W.Dropdown(options=[(nm, i) for i, nm in enumerate(names)], value=0, description="node")
        self.value = W.Text(value="2", description="value")
        self.message = W.Dropdown(options=[], description="message", layout=W.Layout(width="22em"))
        self.buttons = {
            "deliver": W.Button(description="deliver"),
            "drop": W.Button(description="drop"),
            "crash": W.Button(description="crash node"),
            "restart": W.Button(description="restart node"),
            "propose": W.Button(description="new proposer"),
            "timeout": W.Button(description="timeout node"),
        }
        actions = {"deliver": lambda: self.deliver(self.message.value), "drop": lambda: self.drop(self.message.value),
                   "crash": lambda: self.crash(self.node.value),
                   "restart": lambda: self.restart(self.node.value),
                   "propose": lambda: self.propose(self.node.value, self.value.value),
                   "timeout": lambda: self.timeout(self.node.value)}
        for name, b in self.buttons.items():
            b.on_click(lambda _b, f=actions[name]: f())
        self.summary: pd.DataFrame = pd.DataFrame()
        if proposer is not None:
            self.walk.propose(proposer, value)
        self.update()

    # -- actions (one library call each, then redraw) --------------------------------------
    def deliver(self, message: str | int | None = None) -> bool:
        """Deliver the pending message described as in :attr:`pending` (or its index; default
        the oldest); False if nothing is in flight."""
        if not self.walk.pending:
            return False
        ok = self.walk.deliver(self._index(message))
        self.update()
        return ok

    def drop(self, message: str | int | None = None) -> bool:
        """Lose the pending message described as in :attr:`pending` (default: the oldest)."""
        if not self.walk.pending:
            return False
        ok = self.walk.drop(self._index(message))
        self.update()
        return ok

    def play(self, steps: Any) -> None:
        """Perform reader steps (:data:`consensuslab.scenarios.paxos.ADOPTION_EXERCISE`)."""
        self.walk.play(steps)
        self.update()

    def _index(self, message: str | int | None) -> int:
        if message is None:
            return 0
        return message if isinstance(message, int) else self.walk.find_pending(message)

    def deliver_next(self) -> bool:
        ok = self.walk.deliver()
        self.update()
        return ok

    def drop_next(self) -> bool:
        ok = self.walk.drop()
        self.update()
        return ok

    def crash(self, node: int) -> None:
        self.walk.crash(node)
        self.update()

    def restart(self, node: int) -> None:
        self.walk.restart(node)
        self.update()

    def propose(self, node: int, value: Any) -> None:
        self.walk.propose(node, value)
        self.update()

    def timeout(self, node: int) -> None:
        self.walk.timeout(node)
        self.update()

    @property
    def pending(self) -> list[str]:
        return self.walk.describe_pending()

    # -- view ---------------------------------------------------------------------------------
    def update(self) -> None:
        self.summary = self.walk.state()
        pending = self.pending
        self.message.options = [(text, i) for i, text in enumerate(pending)]
        self.message.value = 0 if pending else None
        nxt = pending[0] if pending else "none"
        self.html.value = (f"<b>oldest message in flight:</b> {nxt} &nbsp; ({len(pending)} in flight)<br>"
                           + self.summary.to_html())
        fig, ax = plt.subplots(figsize=(6.5, 4.5))
        msgs = self.walk.messages()
        ax.set_title(self._title(len(msgs), len(pending)), pad=24)
        walkthrough_chart(msgs, self.walk.names, ax=ax, events=self.walk.events_frame())
        fig.tight_layout()
        self.show(fig)

    def _title(self, sent: int, in_flight: int) -> str:
        """What the picture shows now: who decided what, else how far the run is."""
        decided = {name: v for name, v in self.summary["decided"].items() if v is not None}
        if decided:
            values = sorted({repr(v) for v in decided.values()})
            return f"Decided {' and '.join(values)} at {', '.join(decided)} ({in_flight} in flight)"
        if sent == 0:
            return "Paxos by hand: no messages yet"
        return f"Paxos by hand: {sent - in_flight} of {sent} messages handled, {in_flight} in flight"

    def widget(self) -> W.Widget:
        b = self.buttons
        controls = W.VBox([W.HBox([self.message, b["deliver"], b["drop"]]), W.HBox([self.node, self.value]),
                           W.HBox([b["crash"], b["restart"], b["propose"], b["timeout"]])])
        return W.VBox([controls, self.output, self.html])


class FlexibleQuorumExplorer(Explorer):
    """Sliders for |Q1| and |Q2| on ``n`` nodes: violation rate over randomized runs and the
    message-sequence chart of the first agreement violation found (if any), nodes named by id
    as in the safety monitor's message."""

    def __init__(self, n: int = 5, q1: int = 2, q2: int = 2, runs: int = 40, seed: int = 0) -> None:
        super().__init__()
        self.n = n
        self.seed = seed
        self.q1 = W.IntSlider(value=q1, min=1, max=n, description="|Q1|", continuous_update=False)
        self.q2 = W.IntSlider(value=q2, min=1, max=n, description="|Q2|", continuous_update=False)
        self.runs = W.IntSlider(value=runs, min=5, max=400, step=5, description="runs", continuous_update=False)
        self.summary: dict[str, Any] = {}
        self.violation: Violation | None = None
        self.wire([self.q1, self.q2, self.runs])
        self.update()

    def update(self) -> None:
        self.summary, self.violation = unsafe_explore(self.n, self.q1.value, self.q2.value, self.runs.value, self.seed)
        s = self.summary
        verdict = "intersect: safe" if s["intersect"] else "do NOT intersect: unsafe"
        self.html.value = (
            f"n = {self.n}, |Q1| = {s['q1']}, |Q2| = {s['q2']}: quorums {verdict}. "
            f"<b>{s['violations']}</b> of {s['runs']} runs broke agreement "
            f"(rate {s['rate']:.1%}, 95% CI {s['rate_lo']:.1%}–{s['rate_hi']:.1%})"
            + (f"; first at seed <b>{s['first_seed']}</b>: {_describe(self.violation)}" if self.violation else "")
        )
        fig, ax = plt.subplots(figsize=(8.5, 7))
        if self.violation is not None:
            v = self.violation
            when = f" by t = {v.violation.time:.0f} ms" if v.violation.time is not None else ""
            walkthrough_chart(v.messages, [str(i) for i in range(self.n)], ax=ax, events=v.events,
                              title=f"|Q1| = {s['q1']}, |Q2| = {s['q2']} of {self.n}: {v.violation.invariant} broken"
                                    f"{when} (seed {v.seed})")
        else:
            ax.text(0.5, 0.5, f"no violation in {s['runs']} runs: quorums {verdict}", ha="center", va="center",
                    transform=ax.transAxes)
            ax.set_axis_off()
        fig.tight_layout()
        self.show(fig)

    def widget(self) -> W.Widget:
        """Sliders, then the figure, then the numbers."""
        return W.VBox([W.HBox([self.q1, self.q2, self.runs]), self.output, self.html])


def _describe(v: Violation) -> str:
    """The monitor's finding with its time rounded to the ms."""
    e = v.violation
    when = f" at t = {e.time:.0f} ms" if e.time is not None else ""
    return f"{e.invariant} violated{when}: {e.detail}"

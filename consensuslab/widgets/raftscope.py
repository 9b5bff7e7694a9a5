"""RaftScope, with membership changes: a step-through view of a Raft cluster (notebook 11).

Every control is a one-line call into :class:`consensuslab.scenarios.raftscope.RaftScope`
(record, step, scrub, act, replay); the picture is :func:`consensuslab.plots.raftscope.scope_svg`
in an HTML widget. Controls: a time slider over the recorded frames (scrub back and forth), step
back / step / run 10 buttons and a Play widget (play and pause); a server menu with crash,
restart, timeout, isolate, remove and add-server buttons, heal and client-request buttons; a menu
of the messages in flight with a drop button; export / load of a replay (JSON). Servers and seed
sliders start a new run. Testable without a kernel: set the controls or ``click()`` the buttons,
then read :attr:`RaftScopeExplorer.scope` and :attr:`RaftScopeExplorer.summary`.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as W

from consensuslab.plots.raftscope import scope_svg
from consensuslab.scenarios.raftscope import RaftScope
from consensuslab.widgets.base import Explorer

__all__ = ["RaftScopeExplorer"]


class RaftScopeExplorer(Explorer):
    """A step-through Raft cluster (see the module notes).

    Parameters
    ----------
    n : int
        Servers at the start.
    seed : int
        Root seed of the run.
    warmup : int
        Frames recorded before the view opens (an election usually happens within ~60).
    **options
        Raft options for :class:`~consensuslab.scenarios.raftscope.RaftScope`.
    """

    def __init__(self, n: int = 5, seed: int = 1, warmup: int = 80, **options: Any) -> None:
        super().__init__()
        self.options = options
        self.warmup = warmup
        self.time = W.IntSlider(value=0, min=0, max=0, description="frame", continuous_update=True,
                                layout=W.Layout(width="520px"))
        self.play = W.Play(value=0, min=0, max=10**9, step=1, interval=300, description="play")
        self.servers = W.IntSlider(value=n, min=3, max=7, description="servers", continuous_update=False)
        self.seed = W.IntSlider(value=seed, min=0, max=100, description="seed", continuous_update=False)
        self.node = W.Dropdown(options=[], description="server")
        self.message = W.Dropdown(options=[], description="message", layout=W.Layout(width="360px"))
        self.replay = W.Textarea(value="", placeholder="exported replay (JSON)", layout=W.Layout(width="760px", height="60px"))
        self.status = W.HTML()
        names = ["back", "step", "run10", "crash", "restart", "timeout", "isolate", "remove", "add", "heal",
                 "request", "drop", "export", "load"]
        labels = {"back": "◀ step back", "step": "step ▶", "run10": "run 10 ▶▶", "crash": "crash",
                  "restart": "restart", "timeout": "timeout", "isolate": "isolate", "remove": "remove server",
                  "add": "add server", "heal": "heal network", "request": "client request", "drop": "drop message",
                  "export": "export replay", "load": "load replay"}
        self.buttons = {k: W.Button(description=labels[k], layout=W.Layout(width="auto")) for k in names}
        actions = {
            "back": lambda: self.scope.back(),
            "step": lambda: self.scope.step(),
            "run10": lambda: self.scope.step(10),
            "crash": lambda: self.scope.crash(self.node.value),
            "restart": lambda: self.scope.restart(self.node.value),
            "timeout": lambda: self.scope.timeout(self.node.value),
            "isolate": lambda: self.scope.isolate(self.node.value),
            "remove": lambda: self.scope.remove_node(self.node.value),
            "add": lambda: self.scope.add_node(),
            "heal": lambda: self.scope.heal(),
            "request": lambda: self.scope.request(),
            "drop": self._drop,
            "export": lambda: setattr(self.replay, "value", self.scope.export()),
            "load": self._load,
        }
        for name, button in self.buttons.items():
            button.on_click(lambda _b, f=actions[name]: self._do(f))
        self.summary: dict[str, Any] = {}
        self._syncing = False
        self.time.observe(lambda ch: self._scrub(ch["new"]), names="value")
        self.play.observe(lambda _ch: self._do(lambda: self.scope.step()), names="value")
        self.wire([self.servers, self.seed])
        self.update()

    # -- callbacks (one call into the library each) ----------------------------------------
    def update(self) -> None:
        """Start a new run with the servers and seed shown."""
        self.scope = RaftScope(n=self.servers.value, seed=self.seed.value, **self.options)
        self.scope.step(self.warmup)
        self.render()

    def _do(self, action: Any) -> None:
        action()
        self.render()

    def _scrub(self, k: int) -> None:
        if not self._syncing:
            self.scope.seek(min(k, self.scope.last))
            self.render()

    def _drop(self) -> None:
        flying = [m.seq for m in self.scope.frame.messages]
        if not flying:
            self.scope.error = "no message in flight"
            return
        self.scope.drop(self.message.value if self.message.value in flying else flying[0])

    def _load(self) -> None:
        self.scope = RaftScope.load(self.replay.value)

    def render(self) -> None:
        """Draw the frame shown and refresh the controls from it."""
        scope = self.scope
        frame = scope.frame
        self._syncing = True
        try:
            self.time.max = scope.last
            self.time.value = scope.position
            ids = [(f"S{v.id + 1} ({v.role})", v.id) for v in frame.nodes]
            keep = self.node.value if self.node.value in [i for _, i in ids] else 0
            self.node.options = ids
            self.node.value = keep
            chosen = self.message.value
            self.message.options = [(f"{m.label}: S{m.src + 1}→S{m.dst + 1}", m.seq) for m in frame.messages]
            seqs = [m.seq for m in frame.messages]
            self.message.value = chosen if chosen in seqs else (seqs[0] if seqs else None)
        finally:
            self._syncing = False
        self.summary = {
            "frame": scope.position, "frames": scope.last + 1, "time": frame.time, "leader": frame.leader,
            "roles": tuple(v.role for v in frame.nodes), "terms": tuple(v.term for v in frame.nodes),
            "messages": len(frame.messages), "event": frame.event, "violation": frame.violation,
            "error": scope.error, "actions": len(scope.script),
        }
        note = f"<span style='color:#b30000'>{scope.error}</span>" if scope.error else ""
        self.status.value = (f"<span class='scope-status'>frame <b>{scope.position}</b> of {scope.last} · "
                             f"{frame.event}</span> {note}")
        self.html.value = scope_svg(frame)

    def widget(self) -> W.Widget:
        b = self.buttons
        return W.VBox([
            W.HBox([self.time, b["back"], b["step"], b["run10"], self.play]),
            self.status,
            self.html,
            W.HBox([self.node, b["crash"], b["restart"], b["timeout"], b["isolate"], b["remove"]]),
            W.HBox([b["add"], b["heal"], b["request"], self.message, b["drop"]]),
            W.HBox([self.servers, self.seed]),
            W.HBox([b["export"], b["load"]]),
            self.replay,
        ])

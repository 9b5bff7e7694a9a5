"""Figures of the model checker: counterexamples as message-sequence charts, state-space growth,
exhaustive search against random walks.

Theory of operation
-------------------
:func:`sequence_chart` draws a counterexample :class:`~consensuslab.explore.model.Path` of an
:class:`~consensuslab.explore.actors.ActorModel`. The explorer has no clock, so time is the
**event index**, running down: row 0 is the initial state (what the nodes sent in ``on_start``),
row *k* the state after the *k*-th event. A path records events and states, not sends, so the
chart recovers each message's send step by comparing ``state.in_flight()`` before and after every
step: the messages that appear were emitted by the handler of that step's event. A
:class:`~consensuslab.explore.actors.Deliver` is then an arrow from its sender's lifeline at the
step that sent the message (the earliest pending copy, when identical copies are in flight) to
its receiver's lifeline at the delivery step. The other marks:

* a timer firing (◆ on the lifeline, the timer's name beside it),
* a crash (✖; the lifeline is dotted while the node is down) and a restart (▲),
* a dropped message (a dashed arrow from its send ending in a red ×, at the drop step),
* a message delivered to a node that is down (a dashed arrow ending in ▼: it is lost),
* the last step — where the invariant fails, for a counterexample — on a red band.

Arrow labels follow the simulator's charts (:func:`consensuslab.plots.sim.message_label`: the
message type, then its ballot or term, slot and value) and are de-collided at draw time: a label
that finds no free position is left out, never drawn over another. The figure's height grows
with the path (about 0.42 inch per event) so long counterexamples stay readable.

:func:`state_space_growth` plots distinct states against a bound on a log axis, one line per
model; a search stopped by its state or time limit is drawn hollow (its count is a lower
bound). :func:`search_vs_random` sets the states a breadth-first search kept beside the random
walks (and their events) needed to hit the same bug, with 95 % intervals.

Every figure follows the project's standard (DESIGN.md, "Notebooks and figures"): a title that
states the finding, axes with units, a legend entry for every mark, no overlapping text.
"""

from __future__ import annotations

import textwrap
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from consensuslab.explore.actors import NETWORKS
from consensuslab.plots.sim import _add_label, message_label

__all__ = ["chart_events", "search_vs_random", "sequence_chart", "state_space_growth"]

_DROP_COLOR = "crimson"
_VIOLATION_COLOR = "red"
_TIMER_COLOR = "tab:purple"
_PLAIN = FuncFormatter(lambda v, _pos: f"{v:,.0f}" if v >= 1 else f"{v:g}")  # log-axis ticks as plain numbers


def _kind(event: Any) -> str:
    return type(event).__name__


def _key(src: int, dst: int, msg: Any) -> tuple[int, int, str]:
    return (int(src), int(dst), repr(msg))


def chart_events(path: Any, network: str = "unordered") -> pd.DataFrame:
    """One row per mark of :func:`sequence_chart`, as data (tests and captions read it).

    Columns: ``step`` (1-based event index), ``kind`` (``"deliver"``, ``"lost"`` — delivered to a
    down node —, ``"drop"``, ``"timer"``, ``"crash"``, ``"restart"``), ``src``, ``dst`` (the node
    for timers, crashes and restarts), ``sent`` (the step whose handler sent the message; 0 for
    the initial state's messages), ``msg`` and ``label``.
    """
    if network not in NETWORKS:
        raise ValueError(f"`network` must be one of {NETWORKS}; got {network!r}.")
    states = path.states
    pending: dict[tuple[int, int, str], deque[int]] = {}
    for src, dst, msg in states[0].in_flight():
        pending.setdefault(_key(src, dst, msg), deque()).append(0)
    rows: list[dict[str, Any]] = []
    for step, (event, after) in enumerate(path.steps, start=1):
        before = states[step - 1]
        kind = _kind(event)
        before_c = Counter(_key(*m) for m in before.in_flight())
        after_c = Counter(_key(*m) for m in after.in_flight())
        row: dict[str, Any] = {"step": step, "src": None, "dst": None, "sent": None, "msg": None, "label": ""}
        if kind in ("Deliver", "Drop"):
            k = _key(event.src, event.dst, event.msg)
            queue = pending.get(k)
            sent = queue[0] if queue else 0
            if network != "duplicating" and queue:
                queue.popleft()
            if network != "duplicating" or kind == "Drop":
                before_c[k] -= 1  # the delivered or dropped copy left the network
            down = after.nodes[event.dst] is None and before.nodes[event.dst] is None
            row.update(kind="drop" if kind == "Drop" else ("lost" if down else "deliver"), src=int(event.src),
                       dst=int(event.dst), sent=sent, msg=event.msg, label=message_label(event.msg))
        elif kind == "Timeout":
            row.update(kind="timer", dst=int(event.node), label=str(event.name))
        elif kind in ("Crash", "Restart"):
            row.update(kind=kind.lower(), dst=int(event.node))
        else:
            row.update(kind=kind.lower(), label=str(event))
        rows.append(row)
        for k, count in (before_c - after_c).items():  # superseded on its link ("latest")
            queue = pending.get(k) or deque()
            for _ in range(min(count, len(queue))):
                queue.popleft()
        for k, count in (after_c - before_c).items():  # what this step's handler sent
            pending.setdefault(k, deque()).extend([step] * count)
    return pd.DataFrame(rows, columns=["step", "kind", "src", "dst", "sent", "msg", "label"])


def _actor_labels(path: Any, servers: int | None, labels: Mapping[int, str] | None) -> dict[int, str]:
    count = len(path.initial.nodes)
    servers = count if servers is None else servers
    out = {i: (f"server {i}" if i < servers else f"client {i}") for i in range(count)}
    out.update(labels or {})
    return out


def _short_violation(text: str, width: int = 95) -> str:
    return "\n".join(textwrap.wrap(text, width)) if text else ""


def sequence_chart(
    path: Any,
    ax: Axes | None = None,
    *,
    model: Any = None,
    servers: int | None = None,
    network: str | None = None,
    violation: str | None = None,
    title: str | None = None,
    labels: Mapping[int, str] | None = None,
    legend: bool = True,
) -> Axes:
    """A counterexample (or any path of an actor model) as a message-sequence chart.

    Parameters
    ----------
    path : Path
        A path of an :class:`~consensuslab.explore.actors.ActorModel` (``result.counterexamples[name]``).
    model : ActorModel, optional
        Gives the number of servers (the rest are clients) and the network discipline.
    servers, network : optional
        The same, without a model (default: every actor a server, ``"unordered"``).
    violation : str, optional
        The violated invariant's text (``result.details[name]``): the last step is highlighted
        and the title states it.
    title : str, optional
        Replaces the default title (the finding: what is violated after how many events).
    labels : mapping, optional
        Display names of the actors (default ``server i`` / ``client i``, the ids the printed
        path uses).
    legend : bool
        Draw the legend (right of the axes): one entry per message type and per mark used.
    """
    if not hasattr(path, "steps") or not hasattr(path, "initial"):
        raise TypeError(f"`path` must be a consensuslab.explore Path; got {type(path).__name__}.")
    if model is not None:
        servers = getattr(model, "n", servers) if servers is None else servers
        network = getattr(model, "network", network) if network is None else network
    network = network or "unordered"
    events = chart_events(path, network)
    names = _actor_labels(path, servers, labels)
    actors = list(names)
    steps = len(path)
    if ax is None:
        width = max(6.5, 1.5 * len(actors) + 4.2)
        _, ax = plt.subplots(figsize=(width, max(3.6, 0.42 * steps + 2.0)))
    kinds = list(dict.fromkeys(type(m).__name__ for m in events["msg"] if m is not None))
    cmap = plt.cm.tab10 if len(kinds) <= 10 else plt.cm.tab20
    colors = {k: cmap(i % cmap.N) for i, k in enumerate(kinds)}
    used: set[str] = set()
    fracs = (0.5, 0.3, 0.7, 0.15, 0.85)
    down_since: dict[int, int] = {}
    downs: list[tuple[int, float, float]] = []
    for row in events.itertuples(index=False):
        y = float(row.step)
        if row.kind in ("deliver", "lost", "drop"):
            c = colors[type(row.msg).__name__]
            x0, x1, y0 = float(row.src), float(row.dst), float(row.sent)
            if row.kind == "deliver":
                ax.annotate("", xy=(x1, y), xytext=(x0, y0), arrowprops={"arrowstyle": "->", "color": c, "lw": 1.3},
                            zorder=2)
                xe, ye = x1, y
            else:
                xe = x0 + 0.75 * (x1 - x0) if row.kind == "drop" else x1
                ye = y
                ax.plot([x0, xe], [y0, ye], color=c, lw=1.1, ls="--", zorder=2)
                marker = "x" if row.kind == "drop" else "v"
                ax.plot([xe], [ye], marker=marker, color=_DROP_COLOR, ms=8, mew=2, ls="none", zorder=3)
                used.add(row.kind)
            cand = [(x0 + f * (xe - x0), y0 + f * (ye - y0)) for f in fracs]
            _add_label(ax, cand, row.label, color=c, fontsize=8, va="center")
        elif row.kind == "timer":
            x = float(row.dst)
            ax.plot([x], [y], marker="D", color=_TIMER_COLOR, ms=7, ls="none", zorder=3)
            used.add("timer")
            _add_label(ax, [(x + 0.08, y), (x - 0.08, y)], f"{row.label} fires", color=_TIMER_COLOR, fontsize=8,
                       ha="left", va="center")
        elif row.kind == "crash":
            ax.plot([float(row.dst)], [y], marker="X", color="black", ms=11, ls="none", zorder=3)
            used.add("crash")
            down_since[int(row.dst)] = int(row.step)
        elif row.kind == "restart":
            ax.plot([float(row.dst)], [y], marker="^", color="green", ms=10, ls="none", zorder=3)
            used.add("restart")
            start = down_since.pop(int(row.dst), None)
            if start is not None:
                downs.append((int(row.dst), float(start), y))
    downs += [(node, float(start), steps + 0.5) for node, start in down_since.items()]
    for x in actors:
        ax.axvline(x, color="0.7", lw=1, zorder=0)
    for node, a, b in downs:
        ax.plot([node, node], [a, b], color="white", lw=3, zorder=0.5)
        ax.plot([node, node], [a, b], color="0.4", lw=1.2, ls=":", zorder=0.6)
        used.add("down")
    if violation is not None and steps:
        ax.axhspan(steps - 0.45, steps + 0.45, color=_VIOLATION_COLOR, alpha=0.12, lw=0, zorder=0)
        used.add("violation")
    ax.set_xticks(actors, [names[i] for i in actors])
    ax.xaxis.tick_top()
    ax.xaxis.set_label_position("top")
    ax.set_xlabel("actor (one lifeline each)")
    ax.set_xlim(-0.6, len(actors) - 0.4)
    ax.set_ylim(steps + 0.7, -0.7)
    tick_every = 1 if steps <= 30 else int(np.ceil(steps / 30))
    ax.set_yticks(range(0, steps + 1, tick_every))
    ax.set_ylabel("event index (0 = initial state)")
    if title is None:
        if violation is not None:
            title = f"Counterexample in {steps} events: " + _short_violation(violation)
        else:
            title = f"A run of {steps} events"
    ax.set_title(title, fontsize=10, pad=30)
    if legend:
        _chart_legend(ax, kinds, colors, used)
    return ax


def _chart_legend(ax: Axes, kinds: Sequence[str], colors: Mapping[str, Any], used: set[str]) -> None:
    handles: list[Artist] = [Line2D([], [], color=colors[k], lw=1.5, marker=">", ms=5, label=f"{k} (delivered)")
                             for k in kinds]
    if "drop" in used:
        handles.append(Line2D([], [], color="0.4", ls="--", marker="x", mec=_DROP_COLOR, mew=2,
                              label="dropped (dashed, ends in ×)"))
    if "lost" in used:
        handles.append(Line2D([], [], color="0.4", ls="--", marker="v", mfc=_DROP_COLOR, mec=_DROP_COLOR,
                              label="to a down node: lost (▼)"))
    if "timer" in used:
        handles.append(Line2D([], [], color=_TIMER_COLOR, marker="D", ls="none", label="timer fires ◆"))
    if "crash" in used:
        handles.append(Line2D([], [], color="black", marker="X", ms=9, ls="none", label="crash ✖"))
    if "down" in used:
        handles.append(Line2D([], [], color="0.4", ls=":", label="node down"))
    if "restart" in used:
        handles.append(Line2D([], [], color="green", marker="^", ms=9, ls="none", label="restart ▲"))
    if "violation" in used:
        handles.append(Patch(color=_VIOLATION_COLOR, alpha=0.25, label="invariant violated here"))
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0,
              frameon=False, title="message type / mark", title_fontsize=8)


# -- state-space growth ---------------------------------------------------------------------------
def state_space_growth(
    table: pd.DataFrame,
    ax: Axes | None = None,
    *,
    x: str = "bound",
    y: str = "states",
    hue: str = "model",
    xlabel: str | None = None,
    title: str | None = None,
) -> Axes:
    """Distinct states against a bound, on a log axis, one line per model.

    Parameters
    ----------
    table : DataFrame
        One row per search: columns ``hue`` (the model's name), ``x`` (the bound's value),
        ``y`` (distinct states) and optionally ``complete`` (False: the search stopped at its
        state or time limit, so the count is a lower bound — drawn hollow).
    xlabel : str, optional
        Default: the column name; give the bound's meaning and unit (e.g. "search depth (events)").
    title : str, optional
        Default: the finding — the growth factor per step of the bound for the fastest-growing model.
    """
    for col in (x, y, hue):
        if col not in table:
            raise ValueError(f"`table` must have a {col!r} column; got columns {list(table.columns)}.")
    if not len(table):
        raise ValueError("`table` must have at least one row.")
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 4.5))
    markers = "osD^vP*X"
    growth: dict[str, float] = {}
    any_partial = False
    for i, (name, group) in enumerate(table.groupby(hue, sort=False)):
        g = group.sort_values(x)
        xs = g[x].to_numpy(dtype=float)
        ys = g[y].to_numpy(dtype=float)
        complete = g["complete"].to_numpy(dtype=bool) if "complete" in g else np.ones(len(g), bool)
        m = markers[i % len(markers)]
        (line,) = ax.plot(xs, ys, marker=m, ms=7, lw=1.6, label=str(name))
        if (~complete).any():
            any_partial = True
            ax.plot(xs[~complete], ys[~complete], marker=m, ms=9, ls="none", mfc="white", mec=line.get_color(),
                    mew=1.6, zorder=3)
        if len(xs) >= 2 and ys[0] > 0 and xs[-1] > xs[0]:
            growth[str(name)] = float((ys[-1] / ys[0]) ** (1.0 / (xs[-1] - xs[0])))
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(_PLAIN)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(xlabel or x)
    ax.set_ylabel("distinct states (log scale)")
    ax.grid(True, which="major", alpha=0.3)
    handles, _ = ax.get_legend_handles_labels()
    if any_partial:
        handles.append(Line2D([], [], marker="o", ms=9, ls="none", mfc="white", mec="0.3",
                              label="search stopped at its limit (a lower bound)"))
    ax.legend(handles=handles, fontsize=8, loc="upper left", frameon=False)
    if title is None:
        if growth:
            name, factor = max(growth.items(), key=lambda kv: kv[1])
            title = textwrap.fill(f"The state space grows exponentially: ×{factor:.1f} per step of the bound "
                                  f"({name})", 60)
        else:
            title = "Distinct states against the bound"
    ax.set_title(title, fontsize=10)
    return ax


# -- exhaustive search against random walks ----------------------------------------------------------
def _finding(row: Any) -> str:
    """One configuration's finding, from its numbers."""
    bfs = f"BFS kept {row.bfs_states:,} states" + (f" (shortest counterexample: {row.bfs_events} events)"
                                                   if row.bfs_found else " and found no violation")
    if not np.isfinite(row.walks_median):
        return f"{row.configuration}: {bfs}; random walks: no hit in most searches of {row.max_walks:,} walks"
    cmp = "fewer" if row.events_median < row.bfs_states else "more"
    return (f"{row.configuration}: {bfs}; random walks hit it after a median {row.walks_median:,.0f} walks "
            f"= {row.events_median:,.0f} events, {cmp} than BFS's states")


def search_vs_random(table: pd.DataFrame, axes: Sequence[Axes] | None = None, title: str | None = None) -> Figure:
    """Left: random walks needed to hit the bug (each repetition a dot, the median with its 95 %
    interval); right: the work of each method — distinct states the breadth-first search kept,
    and events the random walks executed — on a log axis.

    ``table`` is :func:`consensuslab.experiments.model_checking.search_vs_random`'s ``table``:
    one row per configuration with columns ``configuration``, ``bfs_states``, ``walks`` (the
    per-repetition counts, ``inf`` when censored), ``walks_median``, ``walks_low``,
    ``walks_high``, ``events_median``, ``events_low``, ``events_high``, ``max_walks``.
    """
    need = ("configuration", "bfs_states", "walks", "walks_median", "walks_low", "walks_high", "events_median",
            "events_low", "events_high", "max_walks")
    missing = [c for c in need if c not in table]
    if missing:
        raise ValueError(f"`table` lacks the columns {missing}.")
    if axes is None:
        fig, (a, b) = plt.subplots(1, 2, figsize=(12, 1.1 * len(table) + 3.4))
    else:
        a, b = axes
        fig = a.get_figure(root=True)  # type: ignore[assignment]
    ys = np.arange(len(table))
    censored_any = False
    for i, row in enumerate(table.itertuples(index=False)):
        w = np.asarray(row.walks, dtype=float)
        cap = float(row.max_walks)
        shown = np.where(np.isfinite(w), w, cap)
        jitter = np.linspace(-0.25, 0.25, len(w)) if len(w) > 1 else np.zeros(1)
        a.plot(shown[np.isfinite(w)], (i + jitter)[np.isfinite(w)], "o", color="tab:blue", alpha=0.6, ms=5)
        if (~np.isfinite(w)).any():
            censored_any = True
            a.plot(shown[~np.isfinite(w)], (i + jitter)[~np.isfinite(w)], ">", color="tab:red", ms=7)
        med = min(row.walks_median, cap)
        hi = min(row.walks_high, cap)
        a.errorbar([med], [i], xerr=[[med - row.walks_low], [hi - med]], fmt="s", color="black", ms=7,
                   capsize=5, lw=1.5, zorder=4)
        b.barh(i + 0.2, row.bfs_states, height=0.36, color="tab:green")
        ev, lo, hi_e = row.events_median, row.events_low, row.events_high
        b.barh(i - 0.2, ev if np.isfinite(ev) else 0, height=0.36, color="tab:blue", alpha=0.8)
        if np.isfinite(ev):
            b.errorbar([ev], [i - 0.2], xerr=[[ev - lo], [(hi_e if np.isfinite(hi_e) else ev) - ev]], fmt="none",
                       color="black", capsize=3)
    for ax in (a, b):
        ax.set_yticks(ys, list(table["configuration"]))
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(_PLAIN)
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.invert_yaxis()
        ax.grid(True, axis="x", alpha=0.3)
    b.set_yticklabels([])
    n_reps = len(np.asarray(table.iloc[0]["walks"]))
    a.set_xlabel("random walks until the first violation (runs, log scale)")
    b.set_xlabel("work (log scale): states kept by BFS, events run by random walks")
    ha = [Line2D([], [], marker="o", ls="none", color="tab:blue", alpha=0.6, label=f"one repetition ({n_reps} in all)"),
          Line2D([], [], marker="s", color="black", label="median, 95% interval")]
    if censored_any:
        ha.append(Line2D([], [], marker=">", ls="none", color="tab:red", label="no hit within the walk budget"))
    a.legend(handles=ha, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), frameon=False, ncols=len(ha))
    b.legend(handles=[Patch(color="tab:green", label="BFS: distinct states to the shortest counterexample"),
                      Patch(color="tab:blue", alpha=0.8, label="random walks: events until a hit (median, 95% CI)")],
             fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), frameon=False)
    if title is None:
        title = "\n".join(textwrap.fill(_finding(r), 140) for r in table.itertuples(index=False))
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig

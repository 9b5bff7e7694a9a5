"""Figures for the linearizability checker.

Theory of operation
-------------------
:func:`plot_history` draws a history as a timeline: one row per client, one bar per operation
from its call to its return (an operation with an unknown outcome is a dashed bar running to the
right edge, thinner and underneath the bars it may overlap). Given a :class:`~consensuslab.check.LinearizabilityResult` it also draws the
linearization (or, for a failing history, the longest linearizable prefix) as dots at the
earliest valid linearization instants joined in order, paints the operations that cannot be
placed in red and marks the failing instant with a vertical line; when a pruning rule refuted
the history, or a budget left it undecided, the result's ``reason`` is written under the title.
The table it draws is :func:`consensuslab.check.history_frame`, so the same numbers are
available to tests.

The figures follow the notebooks' standard (DESIGN.md, "Notebooks and figures"):

* **Every mark has a legend entry**: the bar colours (in the linearization or its prefix,
  cannot be placed, not placed), the dashed unknown-outcome bar, the linearization points, the
  failing point and each kind of fault drawn (partition, heal, shaded partitioned span, and a
  marker per other nemesis action).
* **Labels never overlap**: operation labels are the de-collided labels of
  :mod:`consensuslab.plots.sim` (each tries a few positions and is left out if none is free);
  the labels of the operations that cannot be placed are placed first, so they are never the
  ones left out.
* **Values are shown so that what matters is visible**: a long kv value is shown by its tail
  (its latest tokens), and given ``missed`` (from
  :func:`consensuslab.experiments.linearizability.missed_writes`) a read that cannot be placed
  says which token it lacks (``lacks 2.12;``), and the write of that token is labelled in red.
* **Time has its unit** (``unit="ms"`` for a simulator run; Jepsen's logs count events).

:func:`plot_history_overview` is for a long history: a thin strip of the whole history on top
with the zoom window highlighted and the faults marked, and the zoomed timeline below it.

:func:`plot_check_times` shows the checking time of many histories against their size.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from consensuslab.check.linearizability import (
    LinearizabilityResult,
    Operation,
    history_frame,
)
from consensuslab.check.models import UNKNOWN, get_model
from consensuslab.plots.sim import _add_label

__all__ = ["headline", "kv_label", "plot_check_times", "plot_history", "plot_history_overview"]

_OK = "#4c9f70"
_BAD = "#d1495b"
_IDLE = "#9aa5b1"
_PARTITION = "#e08a1e"
_HEAL = "#2b6cb0"
_WINDOW = "#f2d16b"
#: marker and colour of the nemesis actions other than partition and heal
_ACTIONS = {
    "crash": ("X", "#7b2d26"), "restart": ("^", "#2f855a"), "set_loss": ("v", "#6b46c1"),
    "set_drift": ("d", "#718096"), "jump_clock": ("d", "#718096"), "pause": ("d", "#718096"),
    "membership_change": ("P", "#975a16"),
}
_ACTION_NAMES = {"set_loss": "loss burst / loss cleared", "crash": "node crash", "restart": "node restart"}



def _short_value(value: Any, width: int) -> str:
    """A value as text; a long one by its tail (the latest appended tokens), cut at a token."""
    if value is None:
        return "nil"
    if value is UNKNOWN:
        return "?"
    text = str(value)
    if len(text) <= width:
        return text
    cut = text[-(width - 1):]
    if ";" in cut[:-1]:
        cut = cut[cut.index(";") + 1:]
    return "…" + cut


def kv_label(op: Operation, width: int = 16) -> str:
    """An operation's label with a long value shown by its tail: ``get(x)→…1.13;2.5;``."""
    kind, key = op.input[0], op.input[1]
    if kind == "get":
        out = UNKNOWN if op.ret is None else op.output
        return f"get({key})→{_short_value(out, width)}"
    return f"{kind}({key},{_short_value(op.input[2], width)})"


def _describe(result: LinearizabilityResult, op: Operation) -> str:
    model = result.model
    if getattr(model, "name", None) == "kv":
        return kv_label(op)
    if model is not None and hasattr(model, "describe"):
        return str(model.describe(op.input, op.output if op.ret is not None else UNKNOWN))
    return repr(op.input)


def headline(result: LinearizabilityResult) -> str:
    """A verdict in one line, naming what cannot be placed: a figure title that states it.

    Examples: ``"linearizable: all 53 operations placed in one order"``, ``"not linearizable:
    client 19's r→2 cannot follow any order of the 43 operations before it"``.
    """
    if result.ok is True:
        return f"linearizable: all {len(result.linearization or [])} operations that took effect placed in one order"
    if result.ok is None:
        return f"undecided: {len(result.prefix)} operations placed before a budget ran out"
    stuck = [op for op in result.unplaceable if op.ret is not None] or list(result.unplaceable)
    who = " and ".join(f"client {op.client}'s {_describe(result, op)}" for op in stuck[:2])
    verb = "cannot" if len(stuck) == 1 else "cannot both"
    return f"not linearizable: {who} {verb} follow the {len(result.prefix)}-operation linearizable prefix"


def _status(rec: Any) -> str:
    if rec.unplaceable:
        return "bad"
    return "placed" if rec.order >= 0 else "idle"


def _draw_faults(ax: Axes, faults: Sequence[Any], lo: float, hi: float) -> list[Any]:
    """Partition and heal lines, the partitioned span shaded, other actions as top markers."""
    handles: list[Any] = []
    seen: set[str] = set()
    events = sorted(faults, key=lambda f: f.time)
    open_at: float | None = None
    spans: list[tuple[float, float]] = []
    for ev in events:
        t = float(ev.time)
        if ev.action == "partition":
            if open_at is None:
                open_at = t
            if lo <= t <= hi:
                ax.axvline(t, color=_PARTITION, lw=1.6, ls="-.", zorder=5, label="partition")
                if "partition" not in seen:
                    seen.add("partition")
                    handles.append(Line2D([], [], color=_PARTITION, lw=1.6, ls="-.", label="partition"))
        elif ev.action == "heal":
            if open_at is not None:
                spans.append((open_at, t))
                open_at = None
            if lo <= t <= hi:
                ax.axvline(t, color=_HEAL, lw=1.6, ls=":", zorder=5, label="heal")
                if "heal" not in seen:
                    seen.add("heal")
                    handles.append(Line2D([], [], color=_HEAL, lw=1.6, ls=":", label="heal"))
        elif lo <= t <= hi:
            marker, color = _ACTIONS.get(ev.action, ("o", "#4a5568"))
            name = _ACTION_NAMES.get(ev.action, ev.action.replace("_", " "))
            ax.plot([t], [1.0], marker=marker, color=color, ms=7, ls="none", clip_on=False, zorder=6,
                    transform=ax.get_xaxis_transform(), label=name)
            if name not in seen:
                seen.add(name)
                handles.append(Line2D([], [], marker=marker, color=color, ls="none", label=f"{name} (marker on top)"))
    if open_at is not None:
        spans.append((open_at, math.inf))
    for a, b in spans:
        a, b = max(a, lo), min(b, hi)
        if a < b:
            ax.axvspan(a, b, color=_PARTITION, alpha=0.08, lw=0, zorder=0, label="partitioned")
            if "partitioned" not in seen:
                seen.add("partitioned")
                handles.append(Patch(color=_PARTITION, alpha=0.2, label="network partitioned"))
    return handles


def plot_history(
    data: pd.DataFrame | Sequence[Operation],
    result: LinearizabilityResult | None = None,
    *,
    model: Any = None,
    ax: Axes | None = None,
    title: str | None = None,
    labels: bool = True,
    unit: str | None = None,
    missed: dict[int, list[tuple[Operation, str]]] | None = None,
    faults: Sequence[Any] = (),
    window: tuple[float, float] | None = None,
    path: bool | None = None,
    width: int = 16,
) -> Axes:
    """Draw a history as a timeline with its linearization or its failing point.

    Parameters
    ----------
    data : pandas.DataFrame or sequence of Operation
        A :func:`~consensuslab.check.history_frame` table, or a history (converted with
        ``history_frame(data, model, result)``).
    result : LinearizabilityResult, optional
        The verdict to draw (linearization points, unplaceable operations, failing time).
    model : str or Model, optional
        For operation labels when ``data`` is a history.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is made otherwise.
    title : str, optional
        Defaults to the verdict; the result's ``reason`` (why not linearizable, or why
        undecided) is added on the lines below it either way.
    labels : bool
        Write each operation's label near its bar (de-collided: a label with no free room is
        left out; those of unplaceable operations are placed first).
    unit : str, optional
        The time unit for the x label (``"ms"``); ``None`` writes ``"time"``.
    missed : dict, optional
        ``id(read) -> [(write, token), ...]`` (:func:`~consensuslab.experiments.linearizability.missed_writes`):
        such a read's label says ``lacks <token>`` and those writes are labelled in red.
    faults : sequence of FaultEvent
        Faults to mark (``time``, ``action``): partition and heal as vertical lines with the
        partitioned span shaded, other actions as markers on the top edge.
    window : (float, float), optional
        Draw only the operations that overlap this time window, on that x range.
    path : bool, optional
        Join the linearization points in order (default: when at most 40 are drawn).
    width : int
        Characters of a kv value shown (a longer one is shown by its tail).

    Returns
    -------
    matplotlib.axes.Axes
    """
    ops: list[Operation] | None = None
    if isinstance(data, pd.DataFrame):
        frame = data
    else:
        ops = list(data)
        frame = history_frame(ops, model, result)
    mdl = get_model(model) if model is not None else (result.model if result is not None else None)
    is_kv = getattr(mdl, "name", None) == "kv"
    missed = missed or {}
    missed_write_ids = {id(w) for pairs in missed.values() for w, _ in pairs}
    frame = frame.copy()
    frame["op_obj"] = ops if ops is not None else [None] * len(frame)
    if ops is not None and is_kv:
        frame["label"] = [kv_label(op, width) for op in ops]
    if window is not None:
        lo_w, hi_w = float(window[0]), float(window[1])
        keep = (frame["call"] <= hi_w) & (frame["unknown"].astype(bool) | (frame["ret"] >= lo_w))
        frame = frame[keep]
    if ax is None:
        height = 0.6 * max(frame["client"].nunique(), 1) + 1.4
        _, ax = plt.subplots(figsize=(11, min(height, 12)), layout="constrained")
    clients = list(dict.fromkeys(frame["client"].tolist()))
    row = {c: k for k, c in enumerate(clients)}
    finite = pd.concat([frame["call"], frame["ret"].dropna()])
    t0 = float(finite.min()) if len(finite) else 0.0
    t1 = float(finite.max()) if len(finite) else 1.0
    span = t1 - t0 if t1 > t0 else 1.0
    right = t1 + 0.08 * span
    unknown_calls = frame.loc[frame["unknown"].astype(bool), "call"]
    if len(unknown_calls):
        # an unknown outcome runs (dashed) to the window's right edge; keep that edge well past
        # the latest such call, so an operation called last is not a stub next to its call
        right = max(right, float(unknown_calls.max()) + 0.3 * span)
    left = t0 - 0.03 * span
    if window is not None:
        left, right = float(window[0]), float(window[1])
    colors = {"bad": _BAD, "placed": _OK, "idle": _IDLE}
    present: set[str] = set()
    any_unknown = False
    for rec in frame.itertuples(index=False):
        y = row[rec.client]
        end = right if rec.unknown else rec.ret
        status = _status(rec)
        present.add(status)
        any_unknown = any_unknown or bool(rec.unknown)
        color = colors[status]
        ax.plot(
            [rec.call, end],
            [y, y],
            color=color,
            lw=3 if rec.unknown else 6,  # thinner and underneath: it may run under later bars
            alpha=0.45 if rec.unknown else 0.85,
            ls=(0, (2, 1)) if rec.unknown else "-",
            solid_capstyle="butt",
            zorder=1 if rec.unknown else 2,
        )
        ax.plot([rec.call, rec.call], [y - 0.15, y + 0.15], color=color, lw=1)
        if not rec.unknown:
            ax.plot([end, end], [y - 0.15, y + 0.15], color=color, lw=1)
    if labels:
        # unplaceable and missed operations first: they take their room before the others
        def priority(rec: Any) -> int:
            op = rec.op_obj
            return 0 if rec.unplaceable or (op is not None and id(op) in missed_write_ids) else 1

        for rec in sorted(frame.itertuples(index=False), key=priority):
            y = row[rec.client]
            lo_x = max(rec.call, left)
            hi_x = min(right if rec.unknown else rec.ret, right)
            if hi_x < lo_x:
                continue
            mid = (lo_x + hi_x) / 2
            text = str(rec.label)
            op = rec.op_obj
            lacks = missed.get(id(op)) if op is not None else None
            if lacks:
                text += "\nlacks " + " ".join(tok for _, tok in lacks)
            red = rec.unplaceable or (op is not None and id(op) in missed_write_ids)
            # the y axis is inverted (first client on top): y - 0.16 is just above the bar,
            # y + 0.46 just below it
            candidates = [(mid, y - 0.16), (lo_x, y - 0.16), (hi_x, y - 0.16), (mid, y + 0.46)]
            _add_label(ax, candidates, text, fontsize=7.5, color=_BAD if red else "black",
                       fontweight="bold" if red else "normal", zorder=4 if red else 4.01)
    lin = frame[frame["order"] >= 0].sort_values("order")
    if len(lin):
        ys = [row[c] for c in lin["client"]]
        if path or (path is None and len(lin) <= 40):
            ax.plot(lin["point"], ys, color="black", lw=0.8, alpha=0.6, zorder=3)
        ax.scatter(lin["point"], ys, color="black", s=18 if len(lin) <= 40 else 8, zorder=4)
    handles: list[Any] = []
    failing = result is not None and result.ok is False
    names = {
        "placed": "in the linearization" if result is not None and result.ok else "in the longest linearizable prefix",
        "bad": "cannot be placed after the prefix",
        "idle": "left out (an unknown outcome need not have happened)" if result is not None and result.ok
        else "not placed (after the failing point)",
    }
    for status in ("placed", "bad", "idle"):
        if status in present:
            handles.append(Line2D([], [], color=colors[status], lw=6, alpha=0.85, label=names[status]))
    if any_unknown:
        handles.append(Line2D([], [], color=_IDLE, lw=3, alpha=0.6, ls=(0, (2, 1)),
                              label="unknown outcome (timed out): dashed to the edge"))
    if len(lin):
        handles.append(Line2D([], [], color="black", marker="o", ms=4, ls="-" if len(lin) <= 40 else "none",
                              lw=0.8, label="linearization point" + (" (joined in order)" if len(lin) <= 40 else "")))
    if failing and result is not None and result.failing_time is not None and math.isfinite(result.failing_time):
        ft = result.failing_time
        if left <= ft <= right:
            ax.axvline(ft, color=_BAD, ls="--", lw=1.2, label="failing point")
            handles.append(Line2D([], [], color=_BAD, ls="--", lw=1.2, label="failing point: one red op had to take effect by here"))
    handles += _draw_faults(ax, faults, left, right)
    ax.set_yticks(range(len(clients)))
    ax.set_yticklabels([f"client {c}" for c in clients])
    ax.set_ylim(-0.8, len(clients) - 0.4)
    ax.set_xlim(left, right)
    ax.invert_yaxis()
    ax.set_xlabel(f"time ({unit})" if unit else "time")
    if title is None and result is not None:
        title = headline(result)
    reason = getattr(result, "reason", None) if result is not None and result.ok is not True else None
    if title:
        title = textwrap.fill(title, 100)
    if reason:
        title = ((title + "\n") if title else "") + textwrap.fill(reason, 110)
    if title:
        ax.set_title(title, fontsize=9 if reason else 10)
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    return ax


def plot_history_overview(
    history: Sequence[Operation],
    result: LinearizabilityResult | None = None,
    *,
    window: tuple[float, float],
    faults: Sequence[Any] = (),
    unit: str | None = "ms",
    title: str | None = None,
    labels: bool = False,
    missed: dict[int, list[tuple[Operation, str]]] | None = None,
) -> Figure:
    """A long history: an overview strip of all of it above a zoom on ``window``.

    The strip draws every operation as a thin line in its client's row (coloured as in
    :func:`plot_history`), highlights ``window`` and marks ``faults``; below it,
    :func:`plot_history` draws the operations that overlap ``window``.

    Parameters
    ----------
    history : sequence of Operation
    result : LinearizabilityResult, optional
    window : (float, float)
        The zoomed time range.
    faults : sequence of FaultEvent
        Marked in both panels.
    unit : str, optional
        Time unit of both x axes.
    title : str, optional
        The figure's title (state the finding).
    labels, missed
        Passed to :func:`plot_history` for the zoom.

    Returns
    -------
    matplotlib.figure.Figure
        ``axes[0]`` the overview strip, ``axes[1]`` the zoom.
    """
    lo, hi = float(window[0]), float(window[1])
    if not lo < hi:
        raise ValueError(f"`window` must be (start, end) with start < end; got {window!r}.")
    ops = list(history)
    frame = history_frame(ops, None, result)
    clients = list(dict.fromkeys(frame["client"].tolist()))
    fig, (top, zoom) = plt.subplots(
        2, 1, figsize=(11, 1.6 + 0.55 * max(len(clients), 1) + 1.4), layout="constrained",
        gridspec_kw={"height_ratios": [1.1, 0.55 * max(len(clients), 1) + 1.0]},
    )
    row = {c: k for k, c in enumerate(clients)}
    colors = {"bad": _BAD, "placed": _OK, "idle": _IDLE}
    finite = pd.concat([frame["call"], frame["ret"].dropna()])
    end_all = float(finite.max())
    start_all = float(finite.min())
    for rec in frame.itertuples(index=False):
        end = end_all if rec.unknown else rec.ret
        top.plot([rec.call, end], [row[rec.client]] * 2, color=colors[_status(rec)], lw=2.5,
                 solid_capstyle="butt", alpha=0.45 if rec.unknown else 0.9)
    top.axvspan(lo, hi, color=_WINDOW, alpha=0.45, lw=0, zorder=0)
    pad = 0.01 * (end_all - start_all)
    handles = [Patch(color=_WINDOW, alpha=0.6, label="zoom window (below)")]
    fault_handles = _draw_faults(top, faults, start_all - pad, end_all + pad)
    top.set_xlim(start_all - pad, end_all + pad)
    top.set_ylim(len(clients) - 0.5, -0.5)
    top.set_yticks([])
    top.set_ylabel(f"{len(clients)} clients", fontsize=8)
    top.set_title(f"the whole history: {len(ops)} operations", fontsize=9, loc="left")
    top.tick_params(labelsize=8)
    top.legend(handles=handles + [h for h in fault_handles if h.get_label() in ("partition", "heal")],
               loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    plot_history(ops, result, ax=zoom, labels=labels, unit=unit, missed=missed, faults=faults,
                 window=(lo, hi), title="")
    zoom.set_title(f"zoom on {lo:.0f}-{hi:.0f}" + (f" {unit}" if unit else ""), fontsize=9, loc="left")
    if unit:
        top.set_xlabel(f"time ({unit})", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def plot_check_times(
    table: pd.DataFrame,
    *,
    x: str = "n_ops",
    y: str = "seconds",
    hue: str = "ok",
    ax: Axes | None = None,
) -> Axes:
    """Scatter the time to check each history against its size, coloured by verdict.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per history with columns ``x``, ``y`` and ``hue`` (a verdict: True/False/None).
    x, y, hue : str
        Column names.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    colors = {True: _OK, False: _BAD, None: _IDLE}
    names = {True: "linearizable", False: "not linearizable", None: "unknown"}
    for verdict in (True, False, None):
        sub = table[table[hue].map(lambda v, verdict=verdict: v is verdict or v == verdict)]
        if len(sub):
            ax.scatter(sub[x], sub[y] * 1e3, color=colors[verdict], s=16, label=f"{names[verdict]} ({len(sub)})")
    ax.set_yscale("log")
    ax.set_xlabel("operations in the history" if x == "n_ops" else x)
    ax.set_ylabel("check time (ms)")
    ax.legend(fontsize=8)
    return ax

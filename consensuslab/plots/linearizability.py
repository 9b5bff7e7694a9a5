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

from consensuslab.check.linearizability import LinearizabilityResult, Operation, history_frame

__all__ = ["plot_history", "plot_check_times"]

_OK = "#4c9f70"
_BAD = "#d1495b"
_IDLE = "#9aa5b1"


def plot_history(
    data: pd.DataFrame | Sequence[Operation],
    result: LinearizabilityResult | None = None,
    *,
    model: Any = None,
    ax: Axes | None = None,
    title: str | None = None,
    labels: bool = True,
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
        Write each operation's label above its bar.

    Returns
    -------
    matplotlib.axes.Axes
    """
    frame = data if isinstance(data, pd.DataFrame) else history_frame(data, model, result)
    if ax is None:
        height = 0.55 * max(frame["client"].nunique(), 1) + 1.2
        _, ax = plt.subplots(figsize=(10, min(height, 12)), layout="constrained")
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
    for rec in frame.itertuples(index=False):
        y = row[rec.client]
        end = right if rec.unknown else rec.ret
        color = _BAD if rec.unplaceable else (_OK if rec.order >= 0 else _IDLE)
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
            mid = (rec.call + end) / 2
            # the y axis is inverted (first client on top): y - 0.16 is just above the bar
            ax.text(mid, y - 0.16, rec.label, ha="center", va="bottom", fontsize=8)
    lin = frame[frame["order"] >= 0].sort_values("order")
    if len(lin):
        ys = [row[c] for c in lin["client"]]
        ax.plot(lin["point"], ys, color="black", lw=0.8, alpha=0.6, zorder=3)
        ax.scatter(lin["point"], ys, color="black", s=18, zorder=4, label="linearization point")
    if result is not None and result.ok is False and result.failing_time is not None:
        ft = result.failing_time
        if math.isfinite(ft):
            ax.axvline(ft, color=_BAD, ls="--", lw=1.2, label="failing point")
    ax.set_yticks(range(len(clients)))
    ax.set_yticklabels([f"client {c}" for c in clients])
    ax.set_ylim(-0.8, len(clients) - 0.4)
    ax.set_xlim(t0 - 0.03 * span, right)
    ax.invert_yaxis()
    ax.set_xlabel("time")
    if title is None and result is not None:
        title = {True: "linearizable", False: "not linearizable", None: "undecided"}[result.ok]
    reason = getattr(result, "reason", None) if result is not None and result.ok is not True else None
    if reason:
        title = ((title + "\n") if title else "") + textwrap.fill(reason, 110)
    if title:
        ax.set_title(title, fontsize=9 if reason else None)
    if len(lin) or (result is not None and result.ok is False):
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    return ax


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

"""Figures of simulator runs: message-sequence charts, event timelines, latency histograms.

All functions take data (a trace's DataFrames, arrays) and an optional matplotlib ``ax`` and
return the Axes they drew on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

__all__ = ["sequence_chart", "timeline", "latency_hist"]

_FATE_MARK = {"loss": "x", "partition": "X", "down": "v"}


def _axes(ax: Axes | None, size: tuple[float, float]) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=size)
    return ax


def sequence_chart(
    messages: pd.DataFrame,
    ax: Axes | None = None,
    nodes: Sequence[int] | None = None,
    labels: Mapping[int, str] | None = None,
    title: str | None = None,
    label_messages: bool = True,
    max_messages: int = 400,
) -> Axes:
    """Message-sequence chart: one vertical lifeline per node, time flowing down.

    Parameters
    ----------
    messages : DataFrame
        ``Simulator.trace.messages()``: columns src, dst, kind, sent, delivered, fate.
    nodes : sequence of int, optional
        Which lifelines to draw (default: every node that appears).
    labels : mapping, optional
        Display names, e.g. ``{0: "A", 1: "B", 2: "C"}``.
    label_messages : bool
        Write the message kind on each arrow.
    max_messages : int
        Draw at most this many (the earliest); a chart with more is unreadable.
    """
    ax = _axes(ax, (7, 5))
    df = messages.head(max_messages)
    if nodes is None:
        nodes = sorted(set(df["src"].dropna().astype(int)) | set(df["dst"].dropna().astype(int)))
    labels = dict(labels or {})
    xpos = {n: i for i, n in enumerate(nodes)}
    times = [df["sent"].max(), df["delivered"].max()] + ([df["dropped"].max()] if "dropped" in df else [])
    t_end = float(np.nanmax(times)) if len(df) else 1.0
    t_start = float(df["sent"].min()) if len(df) else 0.0
    span = t_end - t_start if t_end > t_start else 1.0
    for n, x in xpos.items():
        ax.axvline(x, color="0.75", lw=1, zorder=0)
    kinds = list(dict.fromkeys(df["kind"]))
    colors = {k: plt.cm.tab10(i % 10) for i, k in enumerate(kinds)}
    for row in df.itertuples(index=False):
        if row.src not in xpos or row.dst not in xpos:
            continue
        x0, x1 = xpos[row.src], xpos[row.dst]
        c = colors[row.kind]
        if row.fate == "delivered":
            ax.annotate("", xy=(x1, row.delivered), xytext=(x0, row.sent),
                        arrowprops=dict(arrowstyle="->", color=c, lw=1.2))
            if label_messages:
                ax.text((x0 + x1) / 2, (row.sent + row.delivered) / 2, row.kind, color=c,
                        fontsize=7, ha="center", va="bottom")
        elif row.fate == "in flight":  # sent, not yet delivered: an open dashed arrow half-way
            xm = x0 + 0.5 * (x1 - x0)
            ax.annotate("", xy=(xm, row.sent + 0.05 * span), xytext=(x0, row.sent),
                        arrowprops=dict(arrowstyle="->", color=c, lw=1.0, ls="--"))
            if label_messages:
                ax.text(xm, row.sent + 0.05 * span, row.kind, color=c, fontsize=7, ha="center", va="bottom",
                        style="italic")
        else:
            dropped = getattr(row, "dropped", np.nan)
            in_flight = not pd.isna(dropped) and dropped > row.sent
            end = dropped if in_flight else row.sent + 0.03 * span  # lost at send: a short stub
            xm = x0 + (0.8 if in_flight else 0.25) * (x1 - x0)
            ax.plot([x0, xm], [row.sent, end], color=c, lw=1, ls="--")
            ax.plot([xm], [end], marker=_FATE_MARK.get(row.fate, "o"), color="crimson")
    ax.set_xticks(range(len(nodes)), [labels.get(n, str(n)) for n in nodes])
    ax.xaxis.tick_top()
    ax.set_xlim(-0.5, len(nodes) - 0.5)
    # time runs down from the first send (a small margin above it; 0 if the chart starts near 0)
    pad = 0.05 * span if t_end > t_start else 0.5  # a single instant still gets a visible range
    top = t_start - pad
    if t_start <= 0.0 or top < 0.0:
        top = min(0.0, t_start)
    ax.set_ylim(t_end + pad, top)
    ax.set_ylabel("time (ms)")
    if title:
        ax.set_title(title, pad=20)
    return ax


def timeline(
    events: pd.DataFrame,
    ax: Axes | None = None,
    n: int | None = None,
    events_shown: Sequence[str] = ("crash", "restart", "note", "fault"),
    title: str | None = None,
) -> Axes:
    """Per-node timeline of non-message events (crashes, restarts, notes) from ``to_frame()``."""
    ax = _axes(ax, (8, 3))
    df = events[events["event"].isin(events_shown)]
    nodes = sorted(set(df["node"].dropna().astype(int))) if n is None else list(range(n))
    style = {"crash": ("X", "crimson"), "restart": ("^", "green"), "note": ("o", "tab:blue")}
    for row in df.itertuples(index=False):
        if row.event == "fault":
            ax.axvline(row.time, color="orange", lw=1, alpha=0.6)
            ax.text(row.time, len(nodes) - 0.4, row.kind, rotation=90, fontsize=7, color="orange", va="top")
            continue
        if pd.isna(row.node):
            continue
        marker, color = style.get(row.event, ("o", "0.3"))
        ax.plot(row.time, int(row.node), marker=marker, color=color, ls="none")
        if row.event == "note":
            ax.text(row.time, int(row.node) + 0.15, str(row.kind), fontsize=7)
    ax.set_yticks(nodes, [f"node {i}" for i in nodes])
    ax.set_ylim(-0.6, len(nodes) - 0.4 if nodes else 0.5)
    ax.set_xlabel("time (ms)")
    if title:
        ax.set_title(title)
    return ax


def latency_hist(samples: Mapping[str, np.ndarray], ax: Axes | None = None, bins: int = 60, log: bool = False) -> Axes:
    """Overlaid histograms (densities) of delay samples, one per named distribution."""
    ax = _axes(ax, (7, 3.5))
    hi = max(float(np.quantile(s, 0.99)) for s in samples.values())
    edges = np.linspace(0, hi, bins + 1)
    for name, s in samples.items():
        ax.hist(np.clip(s, 0, hi), bins=edges.tolist(), density=True, histtype="step", lw=1.5, label=name)
    ax.set_xlabel("one-way delay (ms)")
    ax.set_ylabel("density")
    if log:
        ax.set_yscale("log")
    ax.legend(fontsize=8)
    return ax

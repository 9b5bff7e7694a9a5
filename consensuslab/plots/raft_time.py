"""Figures of notebook 11: membership changes, reads outside the log, and time as a fault.

Every function takes data (``ClusterState`` stages or a DataFrame from
:mod:`consensuslab.experiments.raft_reads` / :mod:`consensuslab.experiments.vesta_clocks`) and an
optional ``ax`` (or axes), and returns the Axes or Figure. Titles state the finding, axes carry
units, every mark has a legend entry, estimated rates carry 95 % Wilson intervals.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from consensuslab.plots.raft import log_grid

__all__ = ["membership_panels", "stale_read_plot", "read_cost_bars", "lww_skew_plot"]


def _axes(ax: Axes | None, size: tuple[float, float]) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=size)
    return ax


def membership_panels(states: Sequence[Any], title: str, axes: Sequence[Axes] | None = None) -> Figure:
    """One log grid per stage of a membership replay; configuration entries are marked with a
    black ``C`` above the cell, and each row names the configuration the server uses."""
    k = len(states)
    if axes is None:
        _, grid = plt.subplots(1, k, figsize=(3.4 * k, 3.0), squeeze=False)
        axes = list(grid[0])
    fig = cast("Figure", axes[0].figure)
    width = max((len(log) for st in states for log in st.logs), default=1)
    for ax, st in zip(axes, states):
        labels = [f"S{i + 1} uses {_names(m)}" if m else f"S{i + 1}" for i, m in enumerate(st.members)]
        log_grid(st.logs, st.commit, ax=ax, roles=st.roles, labels=labels,
                 title=f"({st.label}) t={st.time:.0f} ms")
        for row, idx in enumerate(st.config_entries):
            for j in idx:
                ax.text(j - 1 + 0.8, row + 0.2, "C", ha="center", va="center", fontsize=6, fontweight="bold",
                        bbox={"boxstyle": "circle,pad=0.1", "facecolor": "white", "edgecolor": "none"})
        ax.set_xlim(-0.1, width + 0.1)
    handles = [Patch(facecolor="white", edgecolor="black", linewidth=2.0, label="committed entry (thick edge)"),
               Line2D([], [], color="none", marker="$C$", markersize=7, markeredgecolor="black",
                      label="configuration entry"),
               Patch(facecolor=plt.get_cmap("tab10")(0), label="term 1"),
               Patch(facecolor=plt.get_cmap("tab10")(1), label="term 2"),
               Patch(facecolor=plt.get_cmap("tab10")(2), label="term 3")]
    fig.legend(handles=handles, loc="lower center", ncol=5, fontsize=8, frameon=False)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.1, 1, 0.93))
    return fig


def _names(members: str) -> str:
    inner = members.split(" ")[0].strip("{}")
    return "{" + ",".join(f"S{int(x) + 1}" for x in inner.split(",") if x) + "}"


def stale_read_plot(table: pd.DataFrame, election_timeout: float, ax: Axes | None = None) -> Axes:
    """Fraction of trials with stale reads (flagged by the linearizability checker) against the
    clock drift, one line per lease length, with 95 % Wilson intervals; dashed verticals at the
    analytic bound ``drift = election_timeout / lease - 1`` in the line's colour; ReadIndex in
    black."""
    ax = _axes(ax, (8.5, 4.6))
    lease = table[table["read_mode"] == "lease"]
    colors = plt.get_cmap("viridis")(np.linspace(0.1, 0.8, max(lease["lease"].nunique(), 1)))
    handles: list[Any] = []
    xmax = float(table["drift"].max())
    groups = list(lease.groupby("lease", sort=True))
    dodge = 0.02 * max(xmax, 1.0)
    for k, (color, (L, g)) in enumerate(zip(colors, groups)):
        g = g.sort_values("drift")
        err = np.vstack([g["rate"] - g["rate_lo"], g["rate_hi"] - g["rate"]])
        shift = (k - (len(groups) - 1) / 2) * dodge  # side by side, so the intervals do not hide each other
        h = ax.errorbar(g["drift"] + shift, g["rate"], yerr=err, marker="o", ms=4, capsize=3, color=color,
                        label=f"lease {L:.0f} ms ({L / election_timeout:.2f} × election timeout)")
        handles.append(h)
        bound = election_timeout / L - 1.0
        if bound <= xmax:
            ax.axvline(bound, color=color, linestyle="--", linewidth=1)
    ri = table[table["read_mode"] == "read_index"]
    if len(ri):
        r = ri.groupby("drift", sort=True).agg(flagged=("flagged", "sum"), trials=("trials", "sum")).reset_index()
        h2 = ax.plot(r["drift"], r["flagged"] / r["trials"], "s-", color="black", ms=4,
                     label=f"ReadIndex ({int(r['flagged'].sum())} trials flagged of {int(r['trials'].sum())})")
        handles.append(h2[0])
    handles.append(Line2D([], [], color="0.3", linestyle="--", label="safety bound: lease × (1 + drift) = election timeout"))
    ax.set_xlabel("clock drift: rate by which the other servers' clocks outrun the old leader's (1.0 = twice as fast)")
    ax.set_ylabel("trials with a stale read (fraction, 95 % CI)")
    ax.set_ylim(-0.03, 1.12)
    ax.set_xlim(-0.05 * max(xmax, 1), xmax * 1.05 + 0.05)
    ax.legend(handles=handles, fontsize=8, loc="upper left")
    first = lease[lease["flagged"] > 0]
    if len(first):
        worst = first.sort_values("drift").iloc[0]
        msg = (f"Stale lease reads appear only beyond the bound (first at drift {worst['drift']:g} "
               f"with a {worst['lease']:.0f} ms lease); ReadIndex never serves one")
    else:
        msg = "No stale lease read in these trials; ReadIndex never serves one"
    ax.set_title(msg, fontsize=10)
    return ax


def read_cost_bars(rows: pd.DataFrame, axes: Sequence[Axes] | None = None) -> Figure:
    """Mean read latency (with a 95 % bootstrap interval over trials) and extra messages per
    read, per read mode."""
    from consensuslab.stats import summarize

    if axes is None:
        _, (a, b) = plt.subplots(1, 2, figsize=(9.5, 3.4))
    else:
        a, b = axes
    fig = cast("Figure", a.figure)
    modes = ["log", "read_index", "lease"]
    names = {"log": "through the log", "read_index": "ReadIndex", "lease": "lease"}
    colors = dict(zip(modes, ("#9ecae1", "#3182bd", "#31a354")))
    for k, m in enumerate(modes):
        g = rows[rows["read_mode"] == m]
        lat = g["latency_mean"].to_numpy()
        if len(lat) > 1:
            s = summarize(lat)
            lo, hi = float(s["mean_lo"]), float(s["mean_hi"])
        else:
            lo = hi = float(lat.mean())
        mean = float(lat.mean())
        a.bar(k, mean, color=colors[m], label=names[m], yerr=[[mean - lo], [hi - mean]], capsize=4)
        a.text(k, hi + 1.0, f"{mean:.1f}", ha="center", va="bottom", fontsize=8)
        msgs = max(float(g["messages_per_read"].mean()), 0.0)  # the idle baseline may count one round more
        b.bar(k, msgs, color=colors[m], label=names[m])
        b.text(k, msgs + 0.3, f"{msgs:.1f}", ha="center", va="bottom", fontsize=8)
    for ax in (a, b):
        ax.set_xticks(range(3), [names[m] for m in modes], fontsize=8)
    a.set_ylabel("read latency, mean (ms)")
    a.set_ylim(0, float(rows["latency_mean"].max()) * 1.3 + 2)
    b.set_ylim(0, float(rows["messages_per_read"].max()) * 1.3 + 1)
    a.legend(fontsize=8, loc="upper right", title="error bar: 95 % CI", title_fontsize=7)
    b.set_ylabel("messages per read (beyond heartbeats)")
    b.legend(fontsize=8, loc="upper right")
    fast = rows.groupby("read_mode")["latency_mean"].mean()
    fig.suptitle(f"A lease read costs no message and {fast['lease']:.0f} ms; ReadIndex one heartbeat round "
                 f"({fast['read_index']:.0f} ms); the log more messages", fontsize=10)
    fig.tight_layout()
    return fig


def lww_skew_plot(table: pd.DataFrame, model: Any = None, gap: float | None = None, ax: Axes | None = None) -> Axes:
    """Lost-update rate against clock skew with 95 % bootstrap intervals over trials, and the
    first-order model if given (``model(skews) -> rates``)."""
    ax = _axes(ax, (7.5, 4.0))
    t = table.sort_values("skew")
    err = np.vstack([t["rate"] - t["rate_lo"], t["rate_hi"] - t["rate"]])
    ax.errorbar(t["skew"], t["rate"], yerr=err, marker="o", capsize=3, color="#de2d26",
                label=f"measured: lost / acknowledged puts, mean of {int(t['trials'].max())} trials per skew")
    top = float(t["rate_hi"].max())
    if model is not None:
        xs = np.linspace(0.0, float(t["skew"].max()), 200)
        ys = model(xs)
        top = max(top, float(np.max(ys)))
        ax.plot(xs, ys, color="0.3", linestyle="--",
                label=f"first-order model, gap g = {gap:.0f} ms" if gap is not None else "first-order model")
    ax.set_xlabel("clock skew s: offsets uniform in [-s, s] (ms)")
    ax.set_ylabel("lost updates (fraction of acknowledged puts)")
    ax.set_ylim(bottom=-0.01, top=max(top * 1.3, 0.05))
    ax.legend(fontsize=8, loc="upper left")
    lossy = t[t["lost"] > 0]
    if len(lossy):
        first = lossy.iloc[0]
        clean = t[(t["skew"] < first["skew"])]["skew"]
        upto = f"none up to {float(clean.max()):g} ms, " if len(clean) else ""
        title = (f"LWW loses acknowledged, non-concurrent puts under skew ({upto}"
                 f"{first['rate']:.0%} at {first['skew']:g} ms, {t.iloc[-1]['rate']:.0%} at {t.iloc[-1]['skew']:g} ms)")
    else:
        title = f"No lost update in these trials up to {float(t['skew'].max()):g} ms of skew"
    ax.set_title(title, fontsize=10)
    return ax

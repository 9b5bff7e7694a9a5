"""Paxos figures: the walkthrough's message-sequence chart, duelling-proposer distributions,
Multi-Paxos messages per command, the cost of a leader change and the flexible-quorum safety map."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator, NullFormatter, ScalarFormatter

from consensuslab.plots.sim import sequence_chart
from consensuslab.scenarios.paxos import message_label
from consensuslab.stats import ecdf

__all__ = ["walkthrough_chart", "duel_figure", "messages_per_command", "unsafe_map", "leader_change_figure"]


def walkthrough_chart(messages: pd.DataFrame, names: Sequence[str] | None = None, ax: Axes | None = None,
                      title: str | None = None, n: int | None = None, events: pd.DataFrame | None = None) -> Axes:
    """Message-sequence chart of a Paxos run with named lifelines (A, B, C, ...).

    ``messages`` is :meth:`consensuslab.scenarios.paxos.Walkthrough.messages` (time in steps)
    or ``Simulator.trace.messages()`` (time in ms). Arrows are labelled as the walkthrough prints
    messages — ``Accept(1,A) v=1``: kind, ballot ``(round,proposer)``, value — with the same
    names as the lifelines. ``events`` (:meth:`Walkthrough.events_frame` or
    ``Trace.to_frame()``) adds crashes, restarts and partitions. Pass ``names=[str(i) ...]`` to
    name nodes by id, as the safety monitor's messages do.
    """
    if names is None:
        m = n if n is not None else (int(messages[["src", "dst"]].max().max()) + 1 if len(messages) else 1)
        names = [chr(ord("A") + i) for i in range(m)]
    names = list(names)
    nodes = list(range(len(names)))
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4.5))
    if len(messages) == 0:
        ax.text(0.5, 0.5, "no messages yet", ha="center", va="center", transform=ax.transAxes)
        ax.set_xticks(nodes, names)
        if title:
            ax.set_title(title)
        return ax

    def label(row: Any) -> str:
        msg = getattr(row, "msg", None)
        return row.kind if msg is None or isinstance(msg, float) else message_label(msg, names)

    ax = sequence_chart(messages, ax=ax, nodes=nodes, labels=dict(enumerate(names)), title=title,
                        label_messages=label, events=events)
    if messages.attrs.get("time_unit") == "step":  # a hand-stepped run: time = actions
        # whole steps from 0 to one past the last event, so an early frame is not a sliver
        last = float(np.nanmax(messages[["sent", "delivered", "dropped"]].to_numpy(dtype=float)))
        if events is not None and len(events):
            last = max(last, float(events["time"].max()))
        bottom = max(last + 1.0, 3.0)
        ax.set_ylim(bottom + 0.3, -0.3)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    return ax


def duel_figure(table: pd.DataFrame, k: int | None = None, cap: float | None = None) -> Figure:
    """ECDFs (with DKW bands) of the rounds and of the time to decision, one line per policy.

    ``table`` has one row per trial (:func:`consensuslab.experiments.paxos.dueling`); censored
    trials count in the rounds panel at the round they reached and are left out of the time
    panel (its curves therefore end below 1 by the censored fraction; the band is the DKW band
    of the whole sample). The title states the finding: the share of trials still duelling at
    the cap, per policy (``cap`` in ms, for the title).
    """
    df = table if k is None else table[table["k"] == k]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 3.8))
    parts = []
    for i, (policy, g) in enumerate(df.groupby("policy", sort=False)):
        color = f"C{i}"
        e = ecdf(g["rounds"].to_numpy(dtype=float))
        a1.step(e["x"], e["cdf"], where="post", color=color, label=str(policy))
        a1.fill_between(e["x"], e["lower"], e["upper"], step="post", alpha=0.15, color=color, lw=0)
        t = g["time"].to_numpy(dtype=float)
        done = np.sort(t[~np.isnan(t)])
        censored = float(np.isnan(t).mean())
        parts.append(f"{policy} {censored:.0%}")
        if len(done):
            frac = np.arange(1, len(done) + 1) / len(t)
            eps = float(np.sqrt(np.log(2.0 / 0.05) / (2.0 * len(t))))
            a2.step(done, frac, where="post", color=color, label=f"{policy} ({censored:.0%} censored)")
            a2.fill_between(done, np.clip(frac - eps, 0, 1), np.clip(frac + eps, 0, 1), step="post", alpha=0.15,
                            color=color, lw=0)
    for a in (a1, a2):
        a.set_xscale("log")
        a.xaxis.set_major_formatter(ScalarFormatter())
        a.xaxis.set_minor_formatter(NullFormatter())
        a.set_ylim(0, 1.02)
    a1.set_xlabel("highest ballot round reached (log)")
    a1.set_ylabel("fraction of trials")
    a2.set_xlabel("time to decision (ms, log)")
    a2.set_ylabel("fraction of trials decided")
    band = Patch(color="0.5", alpha=0.3, label="95% DKW band")
    handles, _ = a2.get_legend_handles_labels()
    fig.legend(handles=handles + [band], fontsize=8, loc="lower center", ncol=len(handles) + 1, frameon=False,
               bbox_to_anchor=(0.5, -0.06))
    trials = len(df) // max(1, df["policy"].nunique())
    when = f"after {cap:.0f} ms" if cap is not None else "at the cap"
    head = f"k = {k} proposers: " if k is not None else ""
    fig.suptitle(f"{head}still duelling {when}: " + ", ".join(parts) + f" of {trials} trials per policy",
                 fontsize=11)
    fig.tight_layout()
    return fig


def messages_per_command(summary: pd.DataFrame, ax: Axes | None = None, title: str | None = None) -> Axes:
    """Stacked bars of messages per command by kind, steady state vs with a leader change.

    ``summary`` has columns ``n``, ``leader_change`` and ``<Kind>_per_command``. The y axis
    leaves headroom above the tallest bar and the legend sits outside the axes, so neither
    touches the bars. ``title`` is drawn above the axes when given.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 3.5))
    kinds = [c for c in summary.columns if c.endswith("_per_command") and c not in ("per_command_no_heartbeat",)
             and c != "per_command"]
    labels = [f"n={int(r.n)}\n{'leader change' if r.leader_change else 'steady'}" for r in summary.itertuples()]
    bottom = np.zeros(len(summary))
    for kcol in kinds:
        vals = summary[kcol].fillna(0.0).to_numpy()
        ax.bar(labels, vals, bottom=bottom, label=kcol.removesuffix("_per_command"))
        bottom += vals
    tallest = float(bottom.max()) if len(bottom) else 0.0
    ax.set_ylim(0.0, 1.12 * tallest if tallest > 0 else 1.0)
    ax.set_ylabel("messages per command")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, title="kind",
              title_fontsize=7)
    if title:
        ax.set_title(title)
    return ax


def unsafe_map(grid: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Violation rate for every (|Q1|, |Q2|); the line |Q1| + |Q2| = n + 1 bounds the safe region.

    Each cell shows the violations over the runs and the rate's Wilson 95% interval; the title
    states the finding, counted on each side of the line.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 5.2))
    n = int(grid["n"].iloc[0])
    mat = grid.pivot(index="q1", columns="q2", values="rate").sort_index()
    im = ax.imshow(mat.to_numpy(), origin="lower", cmap="Reds", vmin=0, vmax=max(0.01, float(mat.max().max())),
                   extent=(0.5, n + 0.5, 0.5, n + 0.5))
    q = np.arange(1, n + 1)
    # the staircase between the cells with |Q1| + |Q2| <= n (below) and the others, on cell edges
    xs, ys = [0.5], [n - 0.5]
    for j in range(1, n + 1):
        y = max(n - j, 0) + 0.5
        xs += [j - 0.5, j + 0.5]
        ys += [y, y]
    ax.plot(xs[1:], ys[1:], color="k", ls="--", lw=1.5, drawstyle="steps-mid",
            label="|Q1| + |Q2| = n + 1: on or above it every\nphase-1 quorum meets every phase-2 quorum\n"
                  "(Howard, Malkhi & Spiegelman 2016)")
    vmax = max(0.01, float(mat.max().max()))
    for r in grid.itertuples():
        dark = r.rate > 0.6 * vmax
        ax.text(r.q2, r.q1, f"{int(r.violations)}/{int(r.runs)}\n{r.rate_lo:.0%}–{r.rate_hi:.0%}", ha="center",
                va="center", fontsize=7, color="white" if dark else "black")
    ax.set_xticks(q)
    ax.set_yticks(q)
    ax.set_xlabel("|Q2| (phase-2 quorum size)")
    ax.set_ylabel("|Q1| (phase-1 quorum size)")
    safe = grid[grid["intersect"]]
    unsafe = grid[~grid["intersect"]]
    ax.set_title(f"n = {n}: agreement broke in {int(unsafe['violations'].sum())} of {int(unsafe['runs'].sum())} runs "
                 f"below the line,\n{int(safe['violations'].sum())} of {int(safe['runs'].sum())} on or above it",
                 fontsize=10)
    ax.figure.colorbar(im, ax=ax, fraction=0.046, label="violation rate (violations / runs)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.12), frameon=False)
    return ax


_KIND_ORDER = ("Prepare", "Promise", "Nack", "Accept", "Accepted", "Decide", "Heartbeat", "CatchUp")


def _kind_colors(kinds: Sequence[str]) -> dict[str, Any]:
    order = list(_KIND_ORDER) + [k for k in kinds if k not in _KIND_ORDER]
    return {k: plt.cm.tab10(order.index(k) % 10) for k in kinds}


def leader_change_figure(summary: pd.DataFrame, client_timeout: float | None = None,
                         leader_timeout: tuple[float, float] | None = None) -> Figure:
    """The cost of a Multi-Paxos leader change, from :func:`~consensuslab.experiments.paxos.leader_change_summary`.

    Left: the time without progress, from the crash to the first command committed after it,
    split into its phases (mean over the runs; the error bar is the 95% bootstrap interval of
    the total), beside one steady command's latency; the failure-detection timeout range and
    the client's retry timeout are marked when given. Right: the messages sent during that
    time (the recovery), by kind, beside one steady command's messages; the tick marks the
    ``3(n - 1)`` messages of phase 2 plus the Decide notifications (Lamport 2001, §3).
    """
    from consensuslab.experiments.paxos import _PHASE_TEXT, STALL_PHASES  # noqa: PLC0415

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(13, 1.2 + 1.3 * len(summary)), width_ratios=(1.3, 1))
    ticks, names = [], []
    phase_colors = {ph: plt.cm.Set2(i) for i, ph in enumerate(STALL_PHASES)}
    for i, r in enumerate(summary.sort_values("n").itertuples()):
        y = 2.2 * i
        left = 0.0
        for ph in STALL_PHASES:
            v = float(getattr(r, f"{ph}_ms"))
            a1.barh(y, v, left=left, color=phase_colors[ph], label=_PHASE_TEXT[ph] if i == 0 else None)
            left += v
        a1.errorbar([r.stall_ms], [y], xerr=[[r.stall_ms - r.stall_ms_lo], [r.stall_ms_hi - r.stall_ms]],
                    color="black", capsize=4, lw=1, label="95% CI of the stall" if i == 0 else None)
        a1.text(r.stall_ms_hi + 8, y, f"{r.stall_ms:.0f} ms", va="center", fontsize=8)
        a1.barh(y + 0.8, r.steady_latency_ms, color="0.6", label="one steady command" if i == 0 else None)
        a1.text(r.steady_latency_ms + 8, y + 0.8, f"{r.steady_latency_ms:.0f} ms", va="center", fontsize=8)
        ticks += [y, y + 0.8]
        names += [f"n={r.n}: leader change", f"n={r.n}: steady command"]
    a1.set_yticks(ticks, names)
    a1.invert_yaxis()
    top = float(summary["stall_ms_hi"].max())
    if leader_timeout is not None:
        a1.axvspan(*leader_timeout, color=phase_colors["detection"], alpha=0.15, lw=0,
                   label=f"failure-detection timeout range {leader_timeout[0]:.0f}–{leader_timeout[1]:.0f} ms")
    if client_timeout is not None:
        a1.axvline(client_timeout, color="0.2", ls=":", lw=1.2, label=f"client retry timeout {client_timeout:.0f} ms")
        top = max(top, client_timeout)
    a1.set_xlim(0, 1.18 * top)
    a1.set_xlabel("time from the crash (ms)")
    a1.set_title("time without progress", fontsize=10)
    a1.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.3), ncol=2, frameon=False)
    kinds = sorted({c.removeprefix("recovery_") for c in summary.columns if c.startswith("recovery_")
                    and c not in ("recovery_messages", "recovery_messages_lo", "recovery_messages_hi")},
                   key=lambda k: (_KIND_ORDER.index(k) if k in _KIND_ORDER else 99, k))
    colors = _kind_colors(kinds)
    xt, xl = [], []
    for i, r in enumerate(summary.sort_values("n").itertuples()):
        for j, (what, prefix) in enumerate((("steady\ncommand", "steady_"), ("leader\nchange", "recovery_"))):
            x = 2.6 * i + j
            bottom = 0.0
            for k in kinds:
                v = float(summary.loc[summary["n"] == r.n, f"{prefix}{k}"].fillna(0).iloc[0]) \
                    if f"{prefix}{k}" in summary else 0.0
                if v:
                    a2.bar(x, v, bottom=bottom, color=colors[k], width=0.8)
                bottom += v
            hi = r.recovery_messages_hi if prefix == "recovery_" else bottom
            a2.text(x, max(bottom, hi) + 0.02 * float(summary["recovery_messages_hi"].max()), f"{bottom:.1f}",
                    ha="center", va="bottom", fontsize=8)
            if prefix == "recovery_":
                a2.errorbar([x], [bottom], yerr=[[bottom - r.recovery_messages_lo], [r.recovery_messages_hi - bottom]],
                            color="black", capsize=4, lw=1)
            else:
                ref = 3 * (r.n - 1)
                a2.plot([x - 0.45, x + 0.45], [ref, ref], color="black", lw=2)
            xt.append(x)
            xl.append(f"n={r.n}\n{what}")
    a2.set_xticks(xt, xl, fontsize=8)
    a2.set_ylabel("messages")
    a2.set_ylim(0, 1.2 * float(summary["recovery_messages_hi"].max()))
    a2.set_title("messages: one steady command vs the recovery", fontsize=10)
    handles: list[Artist] = [Patch(color=colors[k], label=k) for k in kinds]
    handles += [Line2D([], [], color="black", lw=2, label="3(n−1): phase 2 + Decide\n(Lamport 2001, §3)"),
                Line2D([], [], color="black", marker="|", ms=10, ls="none", label="95% CI")]
    a2.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, title="kind",
              title_fontsize=7)
    big = summary.sort_values("n").iloc[-1]
    fig.suptitle(f"A leader change stops commits for {big.stall_ms:.0f} ms ({big.stall_ms / big.steady_latency_ms:.0f}× a "
                 f"steady command) and sends {big.recovery_messages:.0f} messages to recover (n={int(big.n)}, "
                 f"mean of {int(big.runs)} runs)", fontsize=11)
    fig.tight_layout()
    return fig

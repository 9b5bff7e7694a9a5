"""Paxos figures: the walkthrough's message-sequence chart, duelling-proposer distributions,
Multi-Paxos messages per command and the flexible-quorum safety map."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, NullFormatter, ScalarFormatter

from consensuslab.plots.sim import sequence_chart
from consensuslab.scenarios.paxos import message_label
from consensuslab.stats import ecdf

__all__ = ["walkthrough_chart", "duel_figure", "messages_per_command", "unsafe_map"]


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


def duel_figure(table: pd.DataFrame, k: int | None = None) -> Figure:
    """ECDFs (with DKW bands) of the rounds and of the time to decision, one line per policy.

    ``table`` has one row per trial (:func:`consensuslab.experiments.paxos.dueling`); censored
    trials count in the rounds panel at the round they reached and are left out of the time
    panel (its curves therefore end below 1 by the censored fraction).
    """
    df = table if k is None else table[table["k"] == k]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.6))
    for policy, g in df.groupby("policy", sort=False):
        e = ecdf(g["rounds"].to_numpy(dtype=float))
        a1.step(e["x"], e["cdf"], where="post", label=str(policy))
        a1.fill_between(e["x"], e["lower"], e["upper"], step="post", alpha=0.15)
        t = g["time"].to_numpy(dtype=float)
        done = np.sort(t[~np.isnan(t)])
        if len(done):
            frac = np.arange(1, len(done) + 1) / len(t)
            a2.step(done, frac, where="post", label=f"{policy} ({np.isnan(t).mean():.0%} censored)")
    for a in (a1, a2):
        a.set_xscale("log")
        a.xaxis.set_major_formatter(ScalarFormatter())
        a.xaxis.set_minor_formatter(NullFormatter())
    a1.set_xlabel("highest ballot round reached")
    a1.set_ylabel("fraction of trials")
    a2.set_xlabel("time to decision (ms)")
    a1.legend(fontsize=8)
    a2.legend(fontsize=8)
    fig.suptitle("duelling proposers" + (f" (k = {k})" if k is not None else ""))
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
    """Violation rate for every (|Q1|, |Q2|); the line |Q1| + |Q2| = n + 1 bounds the safe region."""
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4))
    n = int(grid["n"].iloc[0])
    mat = grid.pivot(index="q1", columns="q2", values="rate").sort_index()
    im = ax.imshow(mat.to_numpy(), origin="lower", cmap="Reds", vmin=0, vmax=max(0.01, float(mat.max().max())),
                   extent=(0.5, n + 0.5, 0.5, n + 0.5))
    q = np.arange(1, n + 1)
    ax.plot(q, n + 1 - q, color="k", ls="--", lw=1, label="|Q1| + |Q2| = n + 1")
    for r in grid.itertuples():
        ax.text(r.q2, r.q1, f"{r.rate:.0%}", ha="center", va="center", fontsize=7)
    ax.set_xticks(q)
    ax.set_yticks(q)
    ax.set_xlabel("|Q2| (phase 2)")
    ax.set_ylabel("|Q1| (phase 1)")
    ax.set_title(f"agreement violations, n = {n}")
    ax.figure.colorbar(im, ax=ax, fraction=0.046)
    ax.legend(fontsize=7, loc="upper right")
    return ax

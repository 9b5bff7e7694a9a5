"""Figures of the partial-connectivity study: the patterns, the outcome table, ECDFs, step-throughs.

Theory of operation
-------------------
:func:`pattern_axes` draws a :class:`~consensuslab.scenarios.connectivity.ConnectivityPattern`
as a graph: servers at the pattern's layout, working links solid, cut links dashed (one colour
per step), the leader at the fault ringed, quorum-connected servers filled, crashed servers
crossed; :func:`patterns_figure` puts several side by side. :func:`outcome_figure` renders the
scenario × protocol table of :func:`~consensuslab.experiments.partial_connectivity.summary_table`
as coloured cells (recovered %, median and p90 downtime) with the paper's outcome in each cell
and a frame where ours disagrees. :func:`ecdf_figure` draws, per scenario, each protocol's
empirical CDF of the downtime in election timeouts with a 95% Dvoretzky-Kiefer-Wolfowitz band;
censored runs stay in the denominator, so a curve that stops below 1 shows them.
:func:`timeline_figure` is a step-through of one run: each server's role over time, the
leader, and every answered command.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

__all__ = [
    "OUTCOME_COLORS",
    "STATE_COLORS",
    "pattern_axes",
    "patterns_figure",
    "outcome_figure",
    "censored_ecdf",
    "ecdf_axes",
    "ecdf_figure",
    "timeline_figure",
]

OUTCOME_COLORS = {"recovers": "#8fd19e", "partial": "#ffe08a", "livelock": "#f7b267", "deadlock": "#ef7f7f"}
STATE_COLORS = {"leader": "#2a9d8f", "candidate": "#e9c46a", "pre_candidate": "#f4e3b1", "follower": "#e6e6e6",
                "down": "#555555"}
PROTOCOL_COLORS = {"raft": "tab:blue", "raft-pv": "tab:cyan", "raft-pv-cq": "tab:purple", "multipaxos": "tab:orange",
                   "omnipaxos": "tab:green"}
STEP_COLORS = ("tab:red", "tab:purple", "black")


def _pattern_handles(pattern: Any) -> list[Any]:
    """Legend entries for every mark :func:`pattern_axes` draws for ``pattern``."""
    handles: list[Any] = [Line2D([], [], color="0.35", lw=2, label="link up")]
    for k, step in enumerate(pattern.steps):
        if step.cut:
            when = "at the fault" if step.at == 0 else f"{step.at:g} ET after the first cut"
            handles.append(Line2D([], [], color=STEP_COLORS[min(k, len(STEP_COLORS) - 1)], lw=1.2, ls=(0, (3, 2)),
                                  label=f"link cut {when}"))
    handles += [
        Line2D([], [], marker="o", ls="", ms=12, mfc="white", mec="goldenrod", mew=3, label="leader at the fault"),
        Line2D([], [], marker="o", ls="", ms=12, mfc="#8fd19e", mec="black", label="quorum-connected"),
        Line2D([], [], marker="o", ls="", ms=12, mfc="white", mec="black", label="not quorum-connected"),
    ]
    if pattern.crashed():
        handles.append(Line2D([], [], marker="X", ls="", ms=10, mfc="0.6", mec="black", label="crashed"))
    return handles


def pattern_axes(pattern: Any, ax: Axes, title: str | None = None, legend: bool = True) -> Axes:
    """Draw ``pattern`` (a ConnectivityPattern) on ``ax`` after all its steps."""
    pos = pattern.positions()
    qc = set(pattern.quorum_connected())
    down = pattern.crashed()
    for a, b in pattern.links():
        (x1, y1), (x2, y2) = pos[a], pos[b]
        ax.plot([x1, x2], [y1, y2], color="0.35", lw=2, zorder=1)
    for k, step in enumerate(pattern.steps):
        color = STEP_COLORS[min(k, len(STEP_COLORS) - 1)]
        for a, b in step.cut:
            (x1, y1), (x2, y2) = pos[a], pos[b]
            ax.plot([x1, x2], [y1, y2], color=color, lw=1.2, ls=(0, (3, 2)), alpha=0.8, zorder=0)
    for s, (x, y) in pos.items():
        face = "0.6" if s in down else ("#8fd19e" if s in qc else "white")
        edge = "goldenrod" if s == pattern.leader else "black"
        ax.scatter([x], [y], s=650, c=face, edgecolors=edge, linewidths=3.5 if s == pattern.leader else 1.2, zorder=2)
        ax.text(x, y, s, ha="center", va="center", fontsize=11, fontweight="bold", zorder=3)
        if s in down:
            ax.plot([x - 0.12, x + 0.12], [y - 0.12, y + 0.12], color="k", lw=2, zorder=4)
            ax.plot([x - 0.12, x + 0.12], [y + 0.12, y - 0.12], color="k", lw=2, zorder=4)
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    ax.set_xlim(min(xs) - 0.5, max(xs) + 0.5)
    ax.set_ylim(min(ys) - 0.45, max(ys) + 0.45)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title if title is not None else f"{pattern.name}: {len(qc)} of {pattern.n} quorum-connected",
                 fontsize=9)
    if legend:
        ax.legend(handles=_pattern_handles(pattern), fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.02),
                  ncol=2, frameon=False)
    return ax


def patterns_figure(patterns: Sequence[Any], ncols: int = 3) -> Figure:
    """Several patterns side by side, one legend for all; the title says how many servers stay
    quorum-connected."""
    n = len(patterns)
    ncols = min(ncols, n)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.0 * ncols, 3.6 * nrows + 1.0), squeeze=False)
    handles: dict[str, Any] = {}
    for ax, p in zip(axes.ravel(), patterns):
        pattern_axes(p, ax, legend=False)
        for h in _pattern_handles(p):
            handles.setdefault(h.get_label(), h)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    counts = [len(p.quorum_connected()) for p in patterns]
    if min(counts) > 0:
        head = (f"In every pattern {min(counts)} to {max(counts)} server(s) still reach a majority (green): "
                "a leader that can commit exists")
    else:
        head = "Some patterns leave no server that reaches a majority: no leader could commit"
    fig.suptitle(head, fontsize=11)
    fig.legend(handles=list(handles.values()), loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.09, 1, 0.95))
    return fig


def outcome_figure(summary: pd.DataFrame, comparison: pd.DataFrame | None = None,
                   labels: dict[str, str] | None = None) -> Figure:
    """The scenario × protocol table as coloured cells (see the module docstring)."""
    scen = list(dict.fromkeys(summary["scenario"]))
    prot = list(dict.fromkeys(summary["protocol"]))
    s = summary.set_index(["scenario", "protocol"])
    paper = {} if comparison is None else {(r.scenario, r.protocol): r for r in comparison.itertuples()}
    fig, ax = plt.subplots(figsize=(1.9 * len(prot) + 1.8, 0.95 * len(scen) + 1.6))
    for i, sc in enumerate(scen):
        for j, pr in enumerate(prot):
            if (sc, pr) not in s.index:
                continue
            row = s.loc[(sc, pr)]
            ax.add_patch(plt.Rectangle((j, i), 1, 1, facecolor=OUTCOME_COLORS[row["outcome"]], edgecolor="white", lw=2))
            med = "> cap" if not np.isfinite(row["median_et"]) else f"{row['median_et']:.1f}"
            p90 = "> cap" if not np.isfinite(row["p90_et"]) else f"{row['p90_et']:.1f}"
            if row["recovered"] == 0:
                text = "0% recover\nno new command committed"
            else:
                text = f"{row['recovered']:.0%} recover\nmedian {med} / p90 {p90} ET"
            if row["churn"] > 0:
                text += f"\n{row['churn']:.0%} of runs: 3+ new leaders"
            ax.text(j + 0.5, i + 0.42, text, ha="center", va="center", fontsize=7)
            ref = paper.get((sc, pr))
            if ref is not None:
                ax.text(j + 0.5, i + 0.86, f"paper: {ref.paper}", ha="center", va="center", fontsize=6.5, style="italic")
                if not (ref.agrees and ref.mean_within is not False and ref.throughput_within is not False):
                    ax.add_patch(plt.Rectangle((j + 0.04, i + 0.04), 0.92, 0.92, fill=False, edgecolor="black", lw=1.6,
                                               ls="--"))
    names = labels or {}
    ax.set_xticks(np.arange(len(prot)) + 0.5, [names.get(p, p) for p in prot], fontsize=8)
    ax.set_yticks(np.arange(len(scen)) + 0.5, scen, fontsize=8)
    ax.set_xlim(0, len(prot))
    ax.set_ylim(len(scen), 0)
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    handles = [Patch(facecolor=c, label=k) for k, c in OUTCOME_COLORS.items()]
    if paper:
        handles.append(Patch(facecolor="white", edgecolor="black", ls="--", label="differs from the paper"))
    ax.legend(handles=handles, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=len(handles),
              frameon=False)
    always = [p for p in prot if all(s.loc[(sc, p), "outcome"] == "recovers" for sc in scen if (sc, p) in s.index)]
    who = ", ".join(names.get(p, p) for p in always) or "no protocol"
    ax.set_title(f"Only {who} recovers with a stable leader in every scenario "
                 f"({int(summary['trials'].min())}+ runs per cell; downtime in election timeouts)", fontsize=9)
    fig.tight_layout()
    return fig


def censored_ecdf(x: np.ndarray, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray, float]:
    """Points of the ECDF of a sample whose ``inf`` values are censored, and the DKW half-width.

    The censored values stay in the denominator, so the curve ends at the recovered fraction.
    The band is Massart's DKW bound ``sqrt(ln(2/alpha) / 2n)``, as in
    :func:`consensuslab.stats.ecdf` (which needs finite samples).
    """
    x = np.asarray(x, dtype=float)
    done = np.sort(x[np.isfinite(x)])
    y = np.arange(1, done.size + 1) / max(x.size, 1)
    eps = float(np.sqrt(np.log(2.0 / (1.0 - confidence)) / (2.0 * max(x.size, 1))))
    return done, y, eps


def ecdf_axes(df: pd.DataFrame, scenario: str, ax: Axes, protocols: Sequence[str] | None = None,
              labels: dict[str, str] | None = None, cap: float = 20.0, bound: float | None = 4.0) -> Axes:
    """One scenario's downtime ECDFs (one per protocol) with DKW bands, on a log axis."""
    from consensuslab.plots.election import _log_time_axis

    g = df[df["scenario"] == scenario]
    protocols = list(dict.fromkeys(g["protocol"])) if protocols is None else list(protocols)
    names = labels or {}
    for p in protocols:
        x = g.loc[g["protocol"] == p, "downtime_et"].to_numpy(dtype=float)
        if x.size == 0:
            continue
        xs, ys, eps = censored_ecdf(x)
        color = PROTOCOL_COLORS.get(p)
        censored = int((~np.isfinite(x)).sum())
        text = f"{names.get(p, p)} ({censored}/{x.size} censored)" if censored else names.get(p, p)
        if xs.size:
            xx = np.r_[xs[0], xs, cap]
            yy = np.r_[0.0, ys, ys[-1]]
            ax.step(xx, yy, where="post", color=color, label=text)
            ax.fill_between(xx, np.clip(yy - eps, 0, 1), np.clip(yy + eps, 0, 1), step="post", color=color, alpha=0.15,
                            lw=0)
        else:
            ax.plot([0.1, cap], [0, 0], color=color, ls=":", label=text)
    ax.axvline(cap, color="0.5", lw=0.8, ls=":", label=f"cap {cap:g} ET (later: censored)")
    if bound is not None:
        ax.axvline(bound, color="k", lw=0.8, ls="--", label=f"{bound:g} ET: Omni-Paxos bound (paper)")
    ax.fill_between([], [], [], color="0.6", alpha=0.3, label="95% DKW band")
    _log_time_axis(ax)
    ax.set_xlim(0.1, cap * 1.05)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("downtime after the fault (election timeouts, log scale)")
    ax.set_ylabel("fraction of runs recovered")
    ax.grid(True, which="both", alpha=0.3)
    return ax


def ecdf_figure(df: pd.DataFrame, scenarios: Sequence[str] | None = None, labels: dict[str, str] | None = None,
                cap: float = 20.0, ncols: int = 3) -> Figure:
    """Downtime ECDFs per scenario, one legend for all; each panel's title names its fastest
    protocol and how many runs of each protocol were censored."""
    scenarios = list(dict.fromkeys(df["scenario"])) if scenarios is None else list(scenarios)
    names = labels or {}
    ncols = min(ncols, len(scenarios))
    nrows = int(np.ceil(len(scenarios) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.2 * ncols, 3.9 * nrows + 0.8), squeeze=False)
    handles: dict[str, Any] = {}
    for ax, sc in zip(axes.ravel(), scenarios):
        ecdf_axes(df, sc, ax, labels=labels, cap=cap)
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab.split(" (")[0], h)
        g = df[df["scenario"] == sc].groupby("protocol", sort=False)["downtime_et"]
        med = g.median()
        best = med.idxmin()
        cens = {p: int((~np.isfinite(x)).sum()) for p, x in g}
        size = {p: len(x) for p, x in g}
        title = f"{sc}: fastest {names.get(best, best)}, median {med[best]:.1f} ET"
        late = [f"{names.get(p, p)} {k}/{size[p]}" for p, k in cens.items() if k]
        if late:
            title += "\ncensored at the cap: " + ", ".join(late)
        ax.set_title(title, fontsize=8.5)
    for ax in axes.ravel()[len(scenarios):]:
        ax.axis("off")
    fig.legend(handles=list(handles.values()), labels=list(handles), loc="lower center", ncol=4, fontsize=8,
               frameon=False)
    fig.suptitle("Time from the fault to the first new command committed: CDF over runs", fontsize=11)
    fig.tight_layout(rect=(0, 0.08, 1, 0.97))
    return fig


def timeline_figure(run: Any, roles: pd.DataFrame, label: str | None = None) -> Figure:
    """Step-through of one run: each server's role over time, and every answered command.

    ``run`` is a ConnectivityRun (``run_pattern(..., trace=True)``); ``roles`` is
    :func:`~consensuslab.scenarios.connectivity.role_timeline` of it. Times are in election
    timeouts after the fault (the last step of the pattern).
    """
    et = run.election_timeout
    order = list(run.pattern.servers)
    fig, ax = plt.subplots(figsize=(10, 0.55 * len(order) + 1.9))
    for _, r in roles.iterrows():
        y = order.index(r["role"])
        ax.barh(y, (r["end"] - r["start"]) / et, left=r["start"] / et, height=0.6,
                color=STATE_COLORS.get(r["state"], "white"), edgecolor="none")
    done = run.completions() / et
    ax.plot(done, np.full(done.size, len(order) - 0.1), "|", color="k", ms=9)
    for k, step in enumerate(run.pattern.steps):
        t = (run.t_start + step.at * et - run.t_fault) / et
        ax.axvline(t, color=STEP_COLORS[min(k, len(STEP_COLORS) - 1)], lw=1.2, ls="--")
    down = run.downtime / et
    if np.isfinite(down):
        ax.axvline(down, color="tab:green", lw=1.5)
    ax.set_yticks(list(range(len(order))) + [len(order) - 0.1],
                  [f"{r} (node {run.mapping[r]})" for r in order] + ["commands answered"], fontsize=8)
    ax.set_ylim(len(order) + 0.4, -0.6)
    ax.set_xlim(roles["start"].min() / et, (run.t_end - run.t_fault) / et)
    ax.set_xlabel("time after the fault (election timeouts)")
    handles: list[Any] = [Patch(facecolor=c, label=s) for s, c in STATE_COLORS.items() if s in set(roles["state"])]
    handles += [Line2D([], [], color="k", marker="|", ls="", ms=9, label="command answered")]
    handles += [Line2D([], [], color=STEP_COLORS[min(k, len(STEP_COLORS) - 1)], ls="--",
                       label="fault" if len(run.pattern.steps) == 1 else f"fault step {k + 1}")
                for k in range(len(run.pattern.steps))]
    if np.isfinite(down):
        handles.append(Line2D([], [], color="tab:green", label="first new command committed"))
    ax.legend(handles=handles, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=len(handles),
              frameon=False)
    leaders = [key for _, key in run.leaders[1:] if key is not None]
    who = label or run.protocol
    finding = (f"{who}, {run.pattern.name}: {len(leaders)} new leader(s) in "
               f"{(run.t_end - run.t_fault) / et:.0f} ET, ")
    finding += f"first new command after {down:.1f} ET" if np.isfinite(down) else "no new command ever committed"
    ax.set_title(finding, fontsize=10)
    fig.tight_layout()
    return fig

"""Figures for the quorum notebook: availability curves, load vs availability, Flexible Paxos, PBS.

Theory of operation
-------------------
Every function takes a tidy DataFrame produced by :mod:`consensuslab.quorum.tables` or
:mod:`consensuslab.quorum.pbs` and an optional ``ax``; it draws and returns the Axes. No
computation happens here beyond choosing colours and labels.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.axes import Axes

from consensuslab.plots.sim import _add_label

__all__ = [
    "plot_availability",
    "plot_load_vs_availability",
    "plot_flexible_paxos",
    "plot_pbs",
    "plot_probabilistic",
]


def _pct(x: float) -> str:
    """A probability as a percentage a person reads: 0.66%, 33%, 0.0002%."""
    if x >= 0.1:
        return f"{x:.0%}"
    if x >= 0.001:
        return f"{x:.2%}"
    return f"{x * 100:.2g}%"


def _axes(ax: Axes | None, figsize: tuple[float, float] = (6.4, 4.0)) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_availability(df: pd.DataFrame, ax: Axes | None = None, log: bool = False, mark_p: float | None = None,
                      loglog: bool = False) -> Axes:
    """Availability (or unavailability on a log axis) vs per-node failure probability, one line per system.

    Parameters
    ----------
    df : DataFrame
        Columns ``system``, ``p``, ``availability``, ``unavailability``.
    ax : Axes, optional
    log : bool
        Plot unavailability on a log scale instead of availability.
    mark_p : float, optional
        Draw a vertical line at this failure probability.
    loglog : bool
        With ``log``, put p on a log axis too (unavailability ~ p^k is then a straight line of
        slope k, and small p is not squeezed into the left edge). Rows with p = 0 are dropped.
    """
    ax = _axes(ax)
    col = "unavailability" if log else "availability"
    if log and loglog:
        df = df[(df["p"] > 0) & (df[col] > 0)]
    for name, g in df.groupby("system", sort=False):
        ax.plot(g["p"], g[col], label=str(name), ls="--" if str(name).startswith("Grid") else "-")
    if log:
        ax.set_yscale("log")
        if loglog:
            ax.set_xscale("log")
    if mark_p is not None:
        ax.axvline(mark_p, color="grey", ls=":", lw=1)
    ax.set_xlabel("per-node failure probability p" + (" (log scale)" if log and loglog else ""))
    ax.set_ylabel("P(no live quorum)" + (" (log scale)" if log else "") if log else "P(some quorum alive)")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    return ax


def plot_load_vs_availability(df: pd.DataFrame, ax: Axes | None = None, floor: float = 1e-15) -> Axes:
    """Scatter of load (x) vs unavailability (y, log), one labelled point per system.

    Systems whose unavailability is below ``floor`` (large probabilistic quorums reach 1e-60)
    are drawn on the floor with a downward marker and their value in the label, so they do not
    squash every other point into one line.
    """
    ax = _axes(ax)
    for _, row in df.iterrows():
        u = float(row["unavailability"])
        below = u < floor
        y = floor if below else u
        miss = float(row.get("p_nonintersect", 0.0))
        ax.scatter(row["load"], y, marker="v" if below else ("X" if miss > 0 else "o"),
                   color="tab:red" if miss > 0 else "tab:blue")
        label = f"{row['system']} ({u:.0e})" if below else str(row["system"])
        if miss > 0:
            label += f"\nmisses {_pct(miss)} of quorum pairs"
        x = float(row["load"])
        # de-collided: the first free spot around the point (right, left, above, below), else
        # the label is left out rather than drawn over another (the legend explains the marks)
        spots = [(x + 0.012, y * 1.6), (x + 0.012, y / 5), (x - 0.012, y * 1.6), (x - 0.012, y / 5),
                 (x + 0.012, y * 25), (x + 0.012, y / 60)]
        _add_label(ax, spots, label, fontsize="small", ha="left", va="center")
    if "p_nonintersect" in df and (df["p_nonintersect"] > 0).any():
        from matplotlib.lines import Line2D

        ax.legend(handles=[Line2D([], [], marker="o", ls="none", color="tab:blue", label="strict: every two quorums intersect"),
                           Line2D([], [], marker="X", ls="none", color="tab:red",
                                  label="probabilistic: two quorums may miss each other\n(not safe for consensus as is)")],
                  fontsize="small", loc="center right")
    ax.set_yscale("log")
    ax.set_ylim(bottom=floor / 3)
    ax.set_xlabel("load (busiest node's share of operations)")
    ax.set_ylabel("P(no live quorum)")
    ax.grid(alpha=0.3)
    return ax


def plot_flexible_paxos(df: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Phase-1 and phase-2 availability for each ``(q1, q2)`` with ``q1 + q2 = n + 1``."""
    ax = _axes(ax)
    x = df["q2"].to_numpy()
    ax.plot(x, df["phase1_availability"], "o-", label="phase 1 (leader election)")
    ax.plot(x, df["phase2_availability"], "s-", label="phase 2 (steady state)")
    ax.set_xlabel("|Q2| (|Q1| = N + 1 - |Q2|)")
    ax.set_ylabel("availability")
    ax.set_xticks(x)
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    return ax


def plot_pbs(df: pd.DataFrame, ax: Axes | None = None, log_t: bool = False) -> Axes:
    """P(consistent read) vs time after commit, one line per latency profile.

    Parameters
    ----------
    df : DataFrame
        Columns ``profile``, ``t``, ``p_consistent`` (from :func:`consensuslab.quorum.pbs.wars_curve`).
    """
    ax = _axes(ax)
    for name, g in df.groupby("profile", sort=False):
        ax.plot(g["t"], g["p_consistent"], label=str(name))
    if log_t:
        ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlabel("time after write commit t (ms)")
    ax.set_ylabel("P(consistent read)")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    return ax


def plot_probabilistic(df: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Exact non-intersection probability vs the ``exp(-l**2)`` bound, log scale."""
    ax = _axes(ax)
    ax.plot(df["l_effective"], df["p_nonintersect"], "o-", label="exact C(n-q, q)/C(n, q)")
    ax.plot(df["l_effective"], df["bound"], "--", label="bound exp(-l²)")
    ax.set_yscale("log")
    ax.set_xlabel("l = quorum size / sqrt(n)")
    ax.set_ylabel("P(two quorums miss each other)")
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    return ax

"""Figures of the Raft election-convergence experiment (Figure 16 of the Raft paper).

Theory of operation
-------------------
:func:`figure16` draws the empirical CDFs of the time to elect a new leader after a leader
crash, one curve per election timeout range, in two panels like the paper: the top panel varies
the randomness of the timeout (150-150 ... 150-300 ms) on a logarithmic time axis, the bottom
panel scales the timeout (12-24 ... 100-200 ms). Censored trials (no leader within the cap)
are kept in the denominator, so a curve that never reaches 1 shows them; the paper's stated
numbers are marked. :func:`split_vote_plot` compares the dissertation's fixed-latency
split-vote model with simulated rates; :func:`effect_cdf` overlays CDFs for any grouping
column (Pre-Vote, cluster size).
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = ["cdf_axes", "figure16", "split_vote_plot", "effect_cdf"]

#: Paper numbers drawn on the panels: (range label, statistic, value in ms, text).
PAPER_MARKS: tuple[tuple[str, str, float, str], ...] = (
    ("150-155ms", "median", 287.0, "paper: median 287 ms"),
    ("150-200ms", "max", 513.0, "paper: worst 513 ms"),
    ("12-24ms", "mean", 35.0, "paper: mean 35 ms"),
    ("12-24ms", "max", 152.0, "paper: longest 152 ms"),
)


def _cdf(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Step-CDF points of a sample whose ``inf`` values are censored (kept in the denominator)."""
    x = np.asarray(x, dtype=float)
    done = np.sort(x[np.isfinite(x)])
    y = np.arange(1, done.size + 1) / max(x.size, 1)
    return done, y


def cdf_axes(df: pd.DataFrame, ranges: Sequence[str], ax: Axes, log: bool = False,
             column: str = "downtime", cap: float | None = None) -> Axes:
    """Draw one CDF per label in ``ranges`` (values of ``df["range"]``) on ``ax``."""
    for lab in ranges:
        x = df.loc[df["range"] == lab, column].to_numpy(dtype=float)
        if x.size == 0:
            continue
        xs, ys = _cdf(x)
        censored = int((~np.isfinite(x)).sum())
        text = lab + (f" ({censored}/{x.size} > cap)" if censored else "")
        if xs.size:
            ax.step(np.r_[xs[0], xs], np.r_[0.0, ys], where="post", label=text)
        else:
            ax.plot([], [], label=text)
    if log:
        ax.set_xscale("log")
    if cap is not None:
        ax.axvline(cap, color="0.6", lw=0.8, ls=":")
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("cumulative fraction")
    ax.grid(True, which="both", alpha=0.3)
    return ax


def _mark(ax: Axes, df: pd.DataFrame, lab: str, stat: str, value: float, text: str) -> None:
    x = df.loc[df["range"] == lab, "downtime"].to_numpy(dtype=float)
    if x.size == 0:
        return
    y = {"median": 0.5, "max": 1.0, "mean": float(np.mean(x <= value))}[stat]
    ax.plot([value], [y], marker="*", ms=11, color="k", zorder=5)
    ax.annotate(text, (value, y), textcoords="offset points", xytext=(6, -12 if y > 0.9 else 4), fontsize=8)


def figure16(df: pd.DataFrame, top: Sequence[str] | None = None, bottom: Sequence[str] | None = None,
             cap: float | None = 10_000.0, marks: bool = True, title: str | None = None) -> Figure:
    """The two-panel CDF figure of the Raft paper's §9.3 (Figure 16).

    Parameters
    ----------
    df : DataFrame
        Rows of :func:`consensuslab.experiments.election.election_downtime` (``range``,
        ``downtime`` in ms, ``inf`` for a censored trial).
    top, bottom : sequence of str, optional
        Range labels for each panel (default: the paper's split — ranges starting at 150 ms
        on top, the scaled ranges below, in order of appearance).
    cap : float, optional
        Draw the censoring limit on the top panel.
    marks : bool
        Mark the paper's stated numbers.

    Returns
    -------
    matplotlib.figure.Figure
    """
    labels = list(dict.fromkeys(df["range"]))
    if top is None:
        top = [lab for lab in labels if lab.startswith("150-")]
    if bottom is None:
        bottom = [lab for lab in labels if lab not in top]
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(7.5, 7.5))
    cdf_axes(df, top, ax1, log=True, cap=cap)
    ax1.set_xlabel("time without leader (ms, log scale)")
    ax1.set_title(title or "Time to elect a new leader after a leader crash (cf. Raft paper Figure 16)", fontsize=10)
    cdf_axes(df, bottom, ax2, log=False)
    ax2.set_xlabel("time without leader (ms)")
    finite = df.loc[df["range"].isin(bottom), "downtime"].replace(np.inf, np.nan).dropna()
    if len(finite):
        ax2.set_xlim(0, float(finite.quantile(0.999)) * 1.1)
    if marks:
        for lab, stat, value, text in PAPER_MARKS:
            if lab in top:
                _mark(ax1, df, lab, stat, value, text)
            elif lab in bottom:
                _mark(ax2, df, lab, stat, value, text)
    for ax in (ax1, ax2):
        ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def split_vote_plot(model: pd.DataFrame, simulated: pd.DataFrame | None = None, ax: Axes | None = None) -> Axes:
    """Fixed-latency split-vote probability vs ``l`` (dissertation Figure 9.4), with simulation.

    ``model`` is :func:`~consensuslab.experiments.election.split_vote_model` (one line per
    ``(n, failed)``); ``simulated`` is :func:`~consensuslab.experiments.election.split_vote_rates`
    (points with Wilson 95% error bars, one leader down).
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    colors = {}
    for (n, failed), g in model.groupby(["n", "failed"], sort=True):
        line = ax.plot(g["l"], g["split_rate"], lw=1.2, ls="-" if failed == 1 else "--",
                       label=f"model n={n}, {failed} failed")[0]
        if failed == 1:
            colors[n] = line.get_color()
    if simulated is not None:
        for n, g in simulated.groupby("n"):
            err = np.vstack([g["simulated"] - g["lo95"], g["hi95"] - g["simulated"]])
            ax.errorbar(g["l"], g["simulated"], yerr=err, fmt="o", ms=5, capsize=3,
                        color=colors.get(n, "k"), label=f"simulated n={n}, 1 failed")
    ax.set_xlabel("one-way latency / election timeout range  (l)")
    ax.set_ylabel("split-vote probability")
    ax.set_ylim(0, 1)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    return ax


def _log_time_axis(ax: Axes) -> None:
    """Log x axis labelled at 1-2-5 steps in plain numbers; minor ticks drawn but not labelled
    (matplotlib labels minor ticks of a narrow log range, and those labels overlap)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10.0, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    ax.xaxis.set_minor_locator(LogLocator(base=10.0, subs=(3.0, 4.0, 6.0, 7.0, 8.0, 9.0)))
    ax.xaxis.set_minor_formatter(NullFormatter())


def effect_cdf(df: pd.DataFrame, by: str, ax: Axes | None = None, log: bool = False, title: str | None = None) -> Axes:
    """CDFs of ``downtime`` grouped by column ``by`` (e.g. ``pre_vote`` or ``n``) and range."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    for (rng, key), g in df.groupby(["range", by], sort=False):
        xs, ys = _cdf(g["downtime"].to_numpy(dtype=float))
        if xs.size:
            ax.step(np.r_[xs[0], xs], np.r_[0.0, ys], where="post", label=f"{rng}, {by}={key}")
    if log:
        _log_time_axis(ax)
    ax.set_xlabel("time without leader (ms)")
    ax.set_ylabel("cumulative fraction")
    ax.set_ylim(0, 1.02)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return ax

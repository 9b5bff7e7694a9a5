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

from typing import Any

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = ["cdf_axes", "figure16", "split_vote_plot", "effect_cdf", "range_styles", "PAPER_SOURCE"]

#: Paper numbers drawn on the panels: (range label, statistic, value in ms, text).
PAPER_MARKS: tuple[tuple[str, str, float, str], ...] = (
    ("150-155ms", "median", 287.0, "median 287 ms"),
    ("150-200ms", "max", 513.0, "worst 513 ms"),
    ("12-24ms", "mean", 35.0, "mean 35 ms"),
    ("12-24ms", "max", 152.0, "longest 152 ms"),
)
#: Where the paper's numbers come from (drawn in the legend beside every star).
PAPER_SOURCE = "paper (Ongaro & Ousterhout 2014, Fig. 16)"
#: Line styles cycled with the colours, so neighbouring ranges differ in both.
LINESTYLES = ("-", "--", "-", ":", "-.", (0, (6, 1.5, 1, 1.5, 1, 1.5)), "--", "-.", ":", "-")
#: Shared legend label of the DKW confidence bands.
BAND_LABEL = "95% DKW confidence band"


def _cdf(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Step-CDF points of a sample whose ``inf`` values are censored (kept in the denominator)."""
    x = np.asarray(x, dtype=float)
    done = np.sort(x[np.isfinite(x)])
    y = np.arange(1, done.size + 1) / max(x.size, 1)
    return done, y


def _band(x: np.ndarray, confidence: float = 0.95) -> pd.DataFrame:
    """:func:`consensuslab.stats.ecdf` of a censored sample: its DKW band over the finite values.

    Censored (``inf``) trials are put beyond every finite value before the ECDF is taken, so
    they stay in the denominator; only the rows of finite values are returned.
    """
    from consensuslab.stats import ecdf

    x = np.asarray(x, dtype=float)
    finite = x[np.isfinite(x)]
    if finite.size == 0:
        return pd.DataFrame(columns=["x", "cdf", "lower", "upper"])
    beyond = float(finite.max()) * 2.0 + 1.0
    e = ecdf(np.where(np.isfinite(x), x, beyond), confidence=confidence)
    return e[e["x"] < beyond].reset_index(drop=True)


def range_styles(ranges: Sequence[str]) -> dict[str, dict]:
    """Distinct colour and line style for every range label (same mapping in both panels)."""
    cmap = plt.get_cmap("tab10")
    return {lab: {"color": cmap(i % 10), "ls": LINESTYLES[i % len(LINESTYLES)]} for i, lab in enumerate(ranges)}


def cdf_axes(df: pd.DataFrame, ranges: Sequence[str], ax: Axes, log: bool = False,
             column: str = "downtime", cap: float | None = None, band: bool = False,
             styles: dict[str, dict] | None = None) -> Axes:
    """Draw one CDF per label in ``ranges`` (values of ``df["range"]``) on ``ax``.

    With ``band`` each curve gets its 95% DKW band (:func:`consensuslab.stats.ecdf`). A range
    with censored trials gets a ``>`` marker at the cap (or the right edge) at the height its
    curve reaches, labelled with the censored fraction; a range with no finished trial has no
    curve, only that marker and an arrow saying so.
    """
    styles = styles or range_styles(ranges)
    band_drawn = False
    for lab in ranges:
        x = df.loc[df["range"] == lab, column].to_numpy(dtype=float)
        if x.size == 0:
            continue
        st = styles.get(lab, {})
        xs, ys = _cdf(x)
        censored = int((~np.isfinite(x)).sum())
        if xs.size:
            ax.step(np.r_[xs[0], xs], np.r_[0.0, ys], where="post", lw=1.4, label=f"{lab} (n = {x.size})" if band else lab, **st)
            if band:
                b = _band(x)
                ax.fill_between(np.r_[b["x"].iloc[0], b["x"]], np.r_[0.0, b["lower"]], np.r_[b["upper"].iloc[0], b["upper"]],
                                step="post", color=st.get("color"), alpha=0.15, lw=0, label="_nolegend_")
                band_drawn = True
        if censored:
            edge = cap if cap is not None else (float(xs.max()) if xs.size else 1.0)
            reached = 1.0 - censored / x.size
            cap_text = f"{cap / 1000:g} s" if cap is not None else "the cap"
            text = f"{lab}: {censored / x.size:.0%} > {cap_text} ({censored}/{x.size} censored)"
            ax.plot([edge], [reached], marker=">", ms=9, ls="none", color=st.get("color", "k"),
                    markeredgecolor="k", zorder=6, clip_on=False, label=text)
            if not xs.size:
                ax.annotate(f"{lab}: {censored / x.size:.0%} > {cap_text},\nno leader in any trial",
                            (edge, reached), xytext=(-12, 40), textcoords="offset points", ha="right", fontsize=8,
                            arrowprops={"arrowstyle": "->", "color": st.get("color", "k")})
    if band_drawn:  # one grey legend entry for every band (each is in its curve's colour)
        ax.fill_between([], [], color="0.6", alpha=0.35, lw=0, label=BAND_LABEL)
    if log:
        ax.set_xscale("log")
    if cap is not None:
        ax.axvline(cap, color="0.6", lw=0.8, ls=":")
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("cumulative fraction of trials")
    ax.grid(True, which="both", alpha=0.3)
    return ax


def _mark(ax: Axes, df: pd.DataFrame, lab: str, stat: str, value: float, text: str, color: Any = None) -> None:
    x = df.loc[df["range"] == lab, "downtime"].to_numpy(dtype=float)
    if x.size == 0:
        return
    y = {"median": 0.5, "max": 1.0, "mean": float(np.mean(x <= value))}[stat]
    ax.plot([value], [y], marker="*", ms=13, ls="none", color=color or "k", markeredgecolor="k", zorder=7,
            label=f"{PAPER_SOURCE}: {lab} {text}")


def figure16(df: pd.DataFrame, top: Sequence[str] | None = None, bottom: Sequence[str] | None = None,
             cap: float | None = 10_000.0, marks: bool = True, title: str | None = None,
             band: bool = True) -> Figure:
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
        The censoring limit (ms): drawn on the top panel; censored trials are marked there.
    marks : bool
        Mark the paper's stated numbers (stars in the colour of their range, with the source).
    band : bool
        Draw each curve's 95% DKW confidence band.

    Returns
    -------
    matplotlib.figure.Figure
    """
    labels = list(dict.fromkeys(df["range"]))
    if top is None:
        top = [lab for lab in labels if lab.startswith("150-")]
    if bottom is None:
        bottom = [lab for lab in labels if lab not in top]
    styles = range_styles(list(top) + [lab for lab in bottom if lab not in top])
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(11, 8.5))
    cdf_axes(df, top, ax1, log=True, cap=cap, band=band, styles=styles)
    ax1.set_xlabel("time without leader (ms, log scale)")
    if cap is not None:
        ax1.set_xlim(right=cap * 1.6)
    ax1.set_title(title or "Time to elect a new leader after a leader crash (cf. Raft paper Figure 16)", fontsize=10)
    cdf_axes(df, bottom, ax2, log=False, band=band, styles=styles)
    ax2.set_xlabel("time without leader (ms)")
    finite = df.loc[df["range"].isin(bottom), "downtime"].replace(np.inf, np.nan).dropna()
    if len(finite):
        ax2.set_xlim(0, float(finite.quantile(0.999)) * 1.1)
    if marks:
        for lab, stat, value, text in PAPER_MARKS:
            if lab in top:
                _mark(ax1, df, lab, stat, value, text, styles[lab]["color"])
            elif lab in bottom:
                _mark(ax2, df, lab, stat, value, text, styles[lab]["color"])
    for ax in (ax1, ax2):
        ax.legend(fontsize=7.5, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
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


def _key_text(by: str, key: Any) -> str:
    """Legend text of one value of the grouping column (``pre_vote=True`` -> ``Pre-Vote on``)."""
    if by == "pre_vote":
        return f"Pre-Vote {'on' if bool(key) else 'off'}"
    if by == "n":
        return f"{key} servers"
    return f"{by} = {key}"


def effect_cdf(df: pd.DataFrame, by: str, ax: Axes | None = None, log: bool = False, title: str | None = None) -> Axes:
    """CDFs of ``downtime`` grouped by column ``by`` (e.g. ``pre_vote`` or ``n``) and range.

    With several ranges the hue is the range and the line style the value of ``by`` (so the
    on/off variants of one range are a pair of one colour); with one range the hue is ``by``.
    Legend entries read ``150-300ms, Pre-Vote on``, not ``pre_vote=True``.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    ranges = list(dict.fromkeys(df["range"]))
    keys = list(dict.fromkeys(df[by]))
    if by == "pre_vote":
        keys = sorted(keys, key=bool)
    cmap = plt.get_cmap("tab10")
    dashes = ("--", "-", "-.", ":")
    groups = dict(iter(df.groupby(["range", by], sort=False)))
    for i, rng in enumerate(ranges):  # legend: the on/off pair of one range side by side
        for k, key in enumerate(keys):
            g = groups.get((rng, key))
            if g is None:
                continue
            style: dict[str, Any] = ({"color": cmap(i % 10), "ls": dashes[k % len(dashes)]} if len(ranges) > 1
                                     else {"color": cmap(k % 10), "ls": "-"})
            xs, ys = _cdf(g["downtime"].to_numpy(dtype=float))
            if xs.size:
                ax.step(np.r_[xs[0], xs], np.r_[0.0, ys], where="post", lw=1.4,
                        label=f"{rng}, {_key_text(by, key)} (n = {len(g)})", **style)
    if log:
        _log_time_axis(ax)
    ax.set_xlabel("time without leader (ms" + (", log scale)" if log else ")"))
    ax.set_ylabel("cumulative fraction of trials")
    ax.set_ylim(0, 1.02)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return ax

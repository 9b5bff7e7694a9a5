"""Figures and display tables for consistent hashing (notebook 05 and the hash explorer).

Theory of operation
-------------------
Every function takes the tidy tables of :mod:`consensuslab.hashing.study` (or an algorithm's
``points``/``owners``) and draws one figure; none computes a measurement. Each figure follows
the notebook standard: a title that states the finding (computed from the data it draws,
overridable with ``title=``), axes with units, log scales where values span decades, a legend
entry for every mark, the papers' values marked with their source, and an interval wherever a
value is estimated.

* :func:`node_colors` -- one distinct colour per node, shared by :func:`ring_diagram` (each
  node's arcs) and :func:`load_bars` (its bar).
* :func:`ring_diagram` -- the circle with each node's *owned arcs* (the arc ending at each of
  its points) in its colour, runs of one owner merged, point ticks; readable at 500 points.
* :func:`load_bars` -- keys per node, the fair share, and the load each node's arcs predict
  with a +-2 sigma key-sampling interval.
* :func:`balance_vs_vnodes_plot` -- two panels: the spread (CV) of a ring node's share, and the
  99% interval of share / mean, against points per node, with the Beta theory and Lamping &
  Veach's figures.
* :func:`jump_vs_ring_plot` -- Lamping & Veach's comparison: key-space spread against the
  number of buckets (rings vs jump hash, exact), and key-count spread against keys per node.
* :func:`table_balance_plot` -- the Maglev paper's section 5.3: max and min entries per
  backend / mean for Maglev, Karger and rendezvous, two table sizes, ideal-hash intervals and
  the paper's stated figures.
* :func:`bounded_plot` -- where the bounded-load cap binds, and what it costs in movement.
* :func:`movement_bars` -- moved fraction per algorithm against the least possible.
* :func:`people_table` -- a table's numbers formatted for people (integers, %, x, units).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from consensuslab.hashing.metrics import ring_cv_theory
from consensuslab.hashing.study import mean_ci

__all__ = [
    "BALANCE_COLUMNS",
    "COMPARE_COLUMNS",
    "MOVEMENT_COLUMNS",
    "PAPER_COLUMNS",
    "VNODES_COLUMNS",
    "balance_vs_vnodes_plot",
    "bounded_plot",
    "jump_vs_ring_plot",
    "load_bars",
    "movement_bars",
    "node_colors",
    "people_table",
    "ring_diagram",
    "table_balance_plot",
]

_PAPER = "#c0392b"  # one colour for every published value


def _ax(ax: Axes | None, figsize: tuple[float, float] = (6, 4)) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def _axes(axes: Sequence[Axes] | None, n: int, figsize: tuple[float, float]) -> list[Axes]:
    if axes is None:
        _, created = plt.subplots(1, n, figsize=figsize)
        return list(np.atleast_1d(created))
    if len(axes) != n:
        raise ValueError(f"`axes` must hold {n} Axes; got {len(axes)}.")
    return list(axes)


def _ref(paper: pd.DataFrame | Mapping[str, Any] | None, rid: str) -> tuple[float, float, str] | None:
    """(reference, absolute tolerance, source) of id ``rid`` in a reference table, if present."""
    if paper is None:
        return None
    df = paper if isinstance(paper, pd.DataFrame) else pd.DataFrame(paper)
    if "id" in df.columns:
        df = df.set_index("id")
    if rid not in df.index:
        return None
    row = df.loc[rid]
    ref = float(row["reference"])
    tol = float(row.get("tolerance", 0.0))
    if str(row.get("tolerance_kind", "abs")) == "rel":
        tol *= abs(ref)
    return ref, tol, str(row.get("source", ""))


def _percent_axis(ax: Axes) -> None:
    """Label a (log) y axis in percent, minor ticks included."""
    fmt = plt.FuncFormatter(lambda y, _: f"{y:.0%}" if y >= 0.01 else f"{y:.1%}")
    ax.yaxis.set_major_formatter(fmt)
    ax.yaxis.set_minor_formatter(plt.FuncFormatter(lambda y, _: f"{y:.0%}" if y >= 0.01 and str(round(y * 100))[0] in "235" else ""))


def _short_source(source: str) -> str:
    """``"Lamping & Veach 2014, arXiv..., ..."`` -> ``"Lamping & Veach 2014"``."""
    return source.split(",")[0].strip() if source else "paper"


# --------------------------------------------------------------------------------------------
# colours, ring and loads


def node_colors(n: int) -> list[tuple[float, float, float, float]]:
    """``n`` distinct colours: tab10 up to 10 nodes, then dark/light tab20, then a hue sweep."""
    if n <= 10:
        cmap = plt.get_cmap("tab10")
        return [cmap(i) for i in range(n)]
    if n <= 20:
        cmap = plt.get_cmap("tab20")
        order = list(range(0, 20, 2)) + list(range(1, 20, 2))  # the ten dark hues first
        return [cmap(order[i]) for i in range(n)]
    cmap = plt.get_cmap("turbo")
    return [cmap(x) for x in np.linspace(0.05, 0.95, n)]


def _angle(frac: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Position on the circle (fraction of a turn from 12 o'clock, clockwise) -> math angle."""
    return np.pi / 2 - 2 * np.pi * frac


def ring_diagram(points: npt.ArrayLike, owners: npt.ArrayLike, names: Sequence[str], bits: int = 64,
                 ax: Axes | None = None, colors: Sequence[Any] | None = None, title: str | None = None,
                 ticks: bool | None = None) -> Axes:
    """Each node's owned arcs on the hash circle, in its colour (``Ring.points``/``owners``).

    A key belongs to the first point clockwise of its hash, so the arc that *ends* at a point
    (from the previous point) belongs to that point's node. Consecutive arcs of one node are
    merged, so the drawing stays light at thousands of points. Positions run clockwise from
    12 o'clock. Up to 2000 points, each point is also drawn as a tick across the band.

    Parameters
    ----------
    points, owners : arrays
        Sorted ring positions (integers below ``2**bits``) and the node index of each.
    names : sequence of str
        Node names (legend, with each node's share of the circle, up to 12 nodes).
    colors : sequence of colours, optional
        Per node (default :func:`node_colors`); pass the same to :func:`load_bars`.
    title : str, optional
        Default: the range of the nodes' shares against the fair share.
    ticks : bool, optional
        Draw a tick per point (default: up to 2000 points).
    """
    ax = _ax(ax, (5, 5))
    p = np.asarray(points, dtype=np.float64) / float(2**bits)
    o = np.asarray(owners, dtype=np.intp)
    n = len(names)
    colors = list(node_colors(n) if colors is None else colors)
    if p.size == 0:
        raise ValueError("`points` must hold at least one ring point; got none.")
    # arc k runs from p[k-1] to p[k] (the first wraps around from the last point)
    start = np.roll(p, 1)
    start[0] -= 1.0
    share = np.bincount(o, weights=p - start, minlength=n)
    # merge runs of one owner
    new_run = np.ones(p.size, dtype=bool)
    new_run[1:] = o[1:] != o[:-1]
    run_id = np.cumsum(new_run) - 1
    run_start = start[new_run]
    run_end = np.zeros(run_id[-1] + 1)
    np.maximum.at(run_end, run_id, p)
    run_owner = o[new_run]
    segs = []
    for a, b in zip(run_start, run_end):
        k = max(2, int(math.ceil((b - a) * 720)))
        th = _angle(np.linspace(a, b, k))
        segs.append(np.column_stack([np.cos(th), np.sin(th)]))
    ax.add_collection(LineCollection(segs, colors=[colors[i] for i in run_owner], linewidths=14, capstyle="butt"))
    if ticks is None:
        ticks = p.size <= 2000
    handles: list[Any] = []
    if ticks:
        th = _angle(p)
        tick = np.stack([np.column_stack([1.085 * np.cos(th), 1.085 * np.sin(th)]),
                         np.column_stack([1.16 * np.cos(th), 1.16 * np.sin(th)])], axis=1)
        ax.add_collection(LineCollection(list(tick), colors="0.25", linewidths=0.4))
        handles.append(Line2D([], [], color="0.25", lw=0.8, label="ring point"))
    ax.annotate("0", (0, 1.2), ha="center", va="bottom", fontsize=8, color="0.3")
    ax.annotate("", xy=(0.42, 1.15), xytext=(0.12, 1.24),
                arrowprops={"arrowstyle": "->", "color": "0.4", "connectionstyle": "arc3,rad=-0.2"})
    ax.text(0.48, 1.2, "clockwise", fontsize=7, color="0.4", va="center")
    if n <= 12:
        handles += [Patch(color=colors[i], label=f"{names[i]}: {share[i]:.1%}") for i in range(n)]
        ax.legend(handles=handles, loc="center", fontsize=7, frameon=False, ncol=1 if n <= 6 else 2,
                  title="owner: share of circle", title_fontsize=7, handlelength=1.0, columnspacing=0.8)
    elif handles:
        ax.legend(handles=handles, loc="center", fontsize=7, frameon=False,
                  title="colours as in the load bars", title_fontsize=7)
    ax.set_xlim(-1.3, 1.3)
    ax.set_ylim(-1.3, 1.35)
    ax.set_aspect("equal")
    ax.set_axis_off()
    if title is None:
        title = (f"Arcs set the load: shares {share.min():.1%}–{share.max():.1%} of the circle\n"
                 f"(fair share {1 / n:.1%}; {p.size} points on {n} nodes)")
    ax.set_title(title, fontsize=10)
    return ax


def load_bars(loads: npt.ArrayLike, names: Sequence[str] | None = None, expected: npt.ArrayLike | None = None,
              ax: Axes | None = None, colors: Sequence[Any] | None = None, shares: npt.ArrayLike | None = None,
              title: str | None = None) -> Axes:
    """Keys per node as bars (node colours), the fair share, and the arcs' prediction.

    Parameters
    ----------
    loads : array of int
        Keys per node.
    names : sequence of str, optional
        Node names (tick labels up to 30 nodes).
    expected : array, optional
        Each node's fair load (weights); default the mean.
    colors : sequence of colours, optional
        Per node (default :func:`node_colors`, as :func:`ring_diagram`).
    shares : array of float, optional
        Each node's exact share of the hash space (``Ring.shares()``): drawn as the load it
        predicts, ``shares * keys``, with a +-2 sigma binomial interval for the key sample.
    title : str, optional
        Default: the peak and lowest load over the mean.
    """
    ax = _ax(ax)
    x = np.asarray(loads, dtype=np.float64)
    n = x.shape[0]
    colors = list(node_colors(n) if colors is None else colors)
    idx = np.arange(n)
    ax.bar(idx, x, color=colors)
    bar_handle = Patch(facecolor="0.7", edgecolor="0.4", label="keys on the node (its colour)")
    exp = np.full_like(x, x.mean()) if expected is None else np.asarray(expected, dtype=np.float64)
    ax.step(np.r_[idx - 0.5, n - 0.5], np.r_[exp, exp[-1]], where="post", color="k", ls="--", lw=1,
            label="fair share (keys × weight share)")
    if shares is not None:
        s = np.asarray(shares, dtype=np.float64)
        m = x.sum()
        pred = s * m
        err = 2 * np.sqrt(m * s * (1 - s))
        ax.errorbar(idx, pred, yerr=err, fmt="D", color="k", ms=4, capsize=3, lw=1,
                    label="predicted by its arcs (±2σ key sampling)")
    if names is not None and n <= 30:
        ax.set_xticks(idx, names, rotation=90, fontsize=7)
    ax.set_xlabel("node")
    ax.set_ylabel("keys (count)")
    handles, _ = ax.get_legend_handles_labels()
    ax.legend(handles=[bar_handle, *handles], fontsize=7, loc="upper left", framealpha=0.9)
    ax.set_ylim(0, max(x.max(), exp.max()) * 1.35)
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda y, _: f"{y:,.0f}"))
    if title is None:
        rel = x / exp
        title = f"Keys per node: peak {rel.max():.2f}× fair, lowest {rel.min():.2f}×"
    ax.set_title(title, fontsize=10)
    return ax


# --------------------------------------------------------------------------------------------
# balance vs vnodes, jump vs ring


def balance_vs_vnodes_plot(df: pd.DataFrame, paper: pd.DataFrame | None = None,
                           axes: Sequence[Axes] | None = None) -> list[Axes]:
    """Two panels from :func:`~consensuslab.hashing.study.balance_vs_vnodes`.

    Left: the CV of a node's share (log-log) with its 95% interval and the Beta theory.
    Right: the 99% interval of share / mean (pooled 0.5% and 99.5% quantiles, each with a 95%
    interval) and the theory. ``paper`` (a reference table with ids ``ring100_std``,
    ``ring100_q005``, ... as in ``data/reference/hashing.csv``) adds Lamping & Veach's figures
    with their tolerances.
    """
    ax1, ax2 = _axes(axes, 2, (11, 4.2))
    v = df["vnodes"].to_numpy(dtype=float)
    yerr = np.vstack([df["cv"] - df["cv_lo"], df["cv_hi"] - df["cv"]])
    ax1.errorbar(v, df["cv"], yerr=yerr, fmt="o-", color="C0", capsize=3,
                 label=f"measured (exact shares, {int(df['trials'].iloc[0])} rings × {int(df['nodes'].iloc[0])} nodes; 95% CI)")
    ax1.plot(v, df["cv_theory"], "k--", lw=1, label="Beta theory √((n−1)/(nv+1))")
    ax2.fill_between(v, df["q005"], df["q995"], color="C0", alpha=0.15, label="measured 99% interval")
    for col in ("q005", "q995"):
        lo = (df[col] - df[f"{col}_lo"]).fillna(0).clip(lower=0)
        hi = (df[f"{col}_hi"] - df[col]).fillna(0).clip(lower=0)
        ax2.errorbar(v, df[col], yerr=np.vstack([lo, hi]), fmt="o", color="C0", ms=4, capsize=3,
                     label="quantile with 95% CI" if col == "q005" else None)
        ax2.plot(v, df[f"{col}_theory"], "k:", lw=1, label="Beta theory" if col == "q005" else None)
    ax2.axhline(1.0, color="0.6", lw=0.6)
    src = None
    for pts in (100, 1000):
        std = _ref(paper, f"ring{pts}_std")
        if std is not None:
            src = _short_source(std[2])
            ax1.errorbar([pts * 1.08], [std[0]], yerr=[[std[1]], [std[1]]], fmt="s", color=_PAPER, capsize=3,
                         label=f"{src}: stated std (± tolerance)" if pts == 100 else None)
        q_lo, q_hi = _ref(paper, f"ring{pts}_q005"), _ref(paper, f"ring{pts}_q995")
        if q_lo is not None and q_hi is not None:
            src = _short_source(q_lo[2])
            ax2.vlines(pts * 1.1, q_lo[0], q_hi[0], color=_PAPER, lw=2.5,
                       label=f"{src}: stated 99% interval" if pts == 100 else "_nolegend_")
            ax2.errorbar([pts * 1.1] * 2, [q_lo[0], q_hi[0]], yerr=[[q_lo[1], q_hi[1]], [q_lo[1], q_hi[1]]],
                         fmt="none", color=_PAPER, capsize=4, lw=1, label="± tolerance" if pts == 100 else None)
    for ax in (ax1, ax2):
        ax.set_xscale("log")
        ax.set_xlabel("points (virtual nodes) per node, v")
    ax1.set_yscale("log")
    _percent_axis(ax1)
    ax1.set_ylabel("CV of a node's share of the circle (std / mean)")
    ax2.set_ylabel("node's share / fair share")
    ax1.legend(fontsize=7, loc="lower left")
    ax2.legend(fontsize=7, loc="upper right")
    by_v = df.set_index("vnodes")
    pick = [p for p in (100, 1000) if p in by_v.index]
    if pick:
        ax1.set_title("Spread falls as 1/√v: " + ", ".join(f"{by_v.loc[p, 'cv']:.1%} at v={p}" for p in pick), fontsize=10)
        p = pick[0]
        ax2.set_title(f"99% of nodes hold {by_v.loc[p, 'q005']:.2f}–{by_v.loc[p, 'q995']:.2f}× fair at v={p}"
                      + (f", {by_v.loc[pick[-1], 'q005']:.2f}–{by_v.loc[pick[-1], 'q995']:.2f}× at v={pick[-1]}" if len(pick) > 1 else ""),
                      fontsize=10)
    return [ax1, ax2]


def jump_vs_ring_plot(jr: pd.DataFrame, keys: pd.DataFrame | None = None, paper: pd.DataFrame | None = None,
                      jump_paper: tuple[float, str] | None = None, axes: Sequence[Axes] | None = None) -> list[Axes]:
    """Lamping & Veach's comparison, from :func:`~consensuslab.hashing.study.jump_vs_ring`.

    Left: std of a bucket's share of the key space / mean against the number of buckets
    (log-log): rings with ``v`` points (Beta theory lines, measured points with 95% intervals)
    and jump hash (exact, from its 31-bit arithmetic). ``paper`` adds the stated ring figures
    (``ring100_std``, ``ring1000_std``) and ``jump_paper = (value, source)`` the stated jump
    figure, as horizontal bands: the quoted sentences give no bucket count.
    Right (with ``keys`` from :func:`~consensuslab.hashing.study.keys_per_node_balance`): the CV
    of keys per node against keys per node.
    """
    n_panels = 2 if keys is not None else 1
    axs = _axes(axes, n_panels, (12, 4.6) if n_panels == 2 else (6.5, 4.6))
    ax = axs[0]
    rings = jr[jr["algorithm"] == "ring"]
    jump = jr[jr["algorithm"] == "jump"].sort_values("buckets")
    x_all = np.geomspace(max(2, jr["buckets"].min()), jr["buckets"].max(), 100)
    for k, (v, sub) in enumerate(rings.groupby("vnodes")):
        color = f"C{k}"
        ax.plot(x_all, ring_cv_theory(x_all, int(v)), "--", color=color, lw=1, label=f"ring, {v} points per bucket: Beta theory")
        yerr = np.vstack([sub["std"] - sub["std_lo"], sub["std_hi"] - sub["std"]])
        ax.errorbar(sub["buckets"], sub["std"], yerr=yerr, fmt="o", color=color, capsize=3,
                    label=f"ring, {v} points: measured ({sub['method'].iloc[0]}, 95% CI)")
        ref = _ref(paper, f"ring{v}_std")
        if ref is not None:
            ax.axhspan(ref[0] - ref[1], ref[0] + ref[1], color=color, alpha=0.18,
                       label=f"{_short_source(ref[2])}: {v} points, stated {ref[0]:.3g} (± tolerance)")
    exact_even = jump[jump["std"] == 0]["buckets"].tolist()
    jump = jump[jump["std"] > 0]
    ax.plot(jump["buckets"], jump["std"], "-", color="k", lw=1.8,
            label="jump hash: exact (31-bit arithmetic)"
            + (f"; n = {', '.join(map(str, exact_even))}: exactly even" if exact_even else ""))
    if jump_paper is not None:
        ax.axhline(jump_paper[0], color=_PAPER, lw=1.2, ls="-.",
                   label=f"{jump_paper[1]}: jump, stated {jump_paper[0]:.3g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(1e-10, 1.0)
    ax.set_xlabel("number of buckets (nodes), n")
    ax.set_ylabel("std of a bucket's share of the key space / mean")
    ax.legend(fontsize=6.5, loc="center right", framealpha=0.9)
    top = int(jump["buckets"].max())
    big = rings[rings["buckets"] == rings["buckets"].max()]
    if len(big) and top in set(jump["buckets"]):
        best_ring = big.sort_values("vnodes").iloc[-1]
        j = float(jump.set_index("buckets").loc[top, "std"])
        ratio = best_ring["std"] / j
        ax.set_title(f"Jump divides the key space ~$10^{{{int(math.floor(math.log10(ratio)))}}}$× more evenly than a "
                     f"{best_ring['vnodes']}-point ring\n(std {j:.1e} vs {best_ring['std']:.1%} at n = {top}; "
                     "paper bands: bucket count not stated)", fontsize=10)
    if keys is not None:
        ax = axs[1]
        for k, ((name, v), sub) in enumerate(keys.groupby(["algorithm", "vnodes"], sort=False)):
            color = "k" if name == "jump" else f"C{k - 1}"
            label = "jump hash" if name == "jump" else f"ring, {v} points"
            yerr = np.vstack([(sub["cv"] - sub["cv_lo"]).fillna(0), (sub["cv_hi"] - sub["cv"]).fillna(0)])
            ax.errorbar(sub["keys_per_node"], sub["cv"], yerr=yerr, fmt="o", color=color, capsize=3, ms=5,
                        label=f"{label}: measured (95% CI)")
            ax.plot(sub["keys_per_node"], sub["cv_theory"], "--" if name != "jump" else "-", color=color, lw=1,
                    label=f"{label}: theory" + (" = perfect hash (multinomial)" if name == "jump" else " √(cv_ring² + (n−1)/m)"))
        ax.set_xscale("log")
        ax.set_yscale("log")
        _percent_axis(ax)
        ax.set_xlabel("keys per node, m / n")
        ax.set_ylabel("CV of keys per node (std / mean)")
        ax.legend(fontsize=6.5, loc="lower left")
        jmp = keys[keys["algorithm"] == "jump"]
        ratio = float(jmp["cv_over_multinomial"].mean())
        ax.set_title(f"With real keys, jump spreads like a perfect hash (CV / multinomial = {ratio:.2f});\n"
                     "a ring's arcs set a floor once keys per node exceed its points", fontsize=10)
    return axs


# --------------------------------------------------------------------------------------------
# Maglev's section 5.3


_METHOD_LABEL = {"maglev": "Maglev", "karger": "Karger (ring)", "rendezvous": "rendezvous"}


def table_balance_plot(measured: pd.DataFrame, theory: pd.DataFrame, paper: pd.DataFrame | None = None,
                       ax: Axes | None = None, karger_vnodes: int = 1000) -> Axes:
    """Entries per backend / mean, max and min, per method and table size (Maglev paper, 5.3).

    ``measured`` is :func:`~consensuslab.hashing.study.table_balance` (a dot per layout),
    ``theory`` :func:`~consensuslab.hashing.study.table_balance_theory` (bars: 1%-99% of
    tables under an ideal hash; a tick at the median). ``paper`` adds the stated maxima (ids
    ``maglev_paper_<method>_<small|large>_max``) as stars with their tolerances.
    """
    ax = _ax(ax, (9, 4.8))
    sizes = sorted(theory["table_size"].unique())
    methods = [m for m in ("maglev", "karger", "rendezvous") if m in set(theory["method"])]
    width = 0.8 / len(methods)
    shown: set[str] = set()

    def once(label: str) -> str | None:
        if label in shown:
            return None
        shown.add(label)
        return label

    for g, size in enumerate(sizes):
        for k, method in enumerate(methods):
            x = g + (k - (len(methods) - 1) / 2) * width
            color = f"C{k}"
            th = theory[(theory["method"] == method) & (theory["table_size"] == size)].set_index("stat")
            for stat in ("max", "min"):
                lo, hi, mid = th.loc[stat, "q01"], th.loc[stat, "q99"], th.loc[stat, "q50"]
                what = "exact ⌊M/N⌋, ⌈M/N⌉ (§3.4)" if method == "maglev" else "ideal hash, 1–99% of tables"
                ax.add_patch(plt.Rectangle((x - width * 0.35, lo), width * 0.7, max(hi - lo, 1e-4), color=color,
                                           alpha=0.22, lw=0, label=once(f"{_METHOD_LABEL[method]}: {what}")))
                ax.hlines(mid, x - width * 0.35, x + width * 0.35, color=color, lw=1.5)
            sub = measured[(measured["method"] == method) & (measured["table_size"] == size)]
            if len(sub):
                jitter = np.linspace(-0.12, 0.12, len(sub)) * width if len(sub) > 1 else np.zeros(1)
                for stat in ("max_over_mean", "min_over_mean"):
                    ax.plot(x + jitter, sub[stat], "o", color=color, mec="k", mew=0.6, ms=5,
                            label=once(f"{_METHOD_LABEL[method]}: ours (a dot per layout)"))
            else:
                ax.text(x, th.loc["max", "q99"] + 0.03, "not run\nhere", ha="center", va="bottom", fontsize=6.5,
                        color="0.35")
            if method == "maglev":
                ax.annotate(f"{th.loc['min', 'q50']:.3f}–{th.loc['max', 'q50']:.3f}×", (x, th.loc["min", "q50"]),
                            xytext=(0, -14), textcoords="offset points", ha="center", fontsize=7, color="C0")
            tag = "small" if size < 100_000 else "large"
            ref = _ref(paper, f"maglev_paper_{method}_{tag}_max")
            if ref is not None:
                ax.errorbar([x + width * 0.3], [ref[0]], yerr=[[ref[1]], [ref[1]]], fmt="*", color=_PAPER, ms=11,
                            mec="k", mew=0.5, capsize=3, label=once("Eisenbud et al. 2016 §5.3: stated max (± tolerance)"))
    ax.axhline(1.0, color="0.5", lw=0.7, ls="--", label="mean (fair share)")
    ax.plot([], [], color="0.3", lw=1.5, label="tick in a bar: median of ideal-hash tables")
    ax.set_xticks(range(len(sizes)), [f"{'small' if s < 100_000 else 'large'} table\nM = {s:,}" for s in sizes])
    n = int(theory["backends"].iloc[0])
    ax.set_ylabel(f"entries per backend / mean (N = {n:,} backends)")
    ax.set_xlim(-0.6, len(sizes) - 0.4)
    ax.text(0.01, 0.01, f"Karger: {karger_vnodes} points per backend. Upper group: max; lower: min.",
            transform=ax.transAxes, fontsize=7, color="0.3")
    ax.legend(fontsize=6.5, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    small = measured[measured["table_size"] == sizes[0]].groupby("method")["max_over_mean"].median()
    parts = [f"{'Maglev' if m == 'maglev' else 'Karger' if m == 'karger' else 'rendezvous'}: "
             f"+{small[m] - 1:.{1 if m == 'maglev' else 0}%}" for m in ("maglev", "karger", "rendezvous") if m in small]
    ax.set_title("Busiest backend over the mean — " + ", ".join(parts)
                 + f"\n(M = {sizes[0]:,} entries, N = {n:,} backends; medians over layouts)", fontsize=10)
    return ax


# --------------------------------------------------------------------------------------------
# bounded loads, movement


def bounded_plot(df: pd.DataFrame, axes: Sequence[Axes] | None = None) -> list[Axes]:
    """Where the bounded-load cap binds (left) and its movement cost (right).

    ``df`` is :func:`~consensuslab.hashing.study.bounded_vs_c`; means over trials with 95%
    t intervals.
    """
    ax1, ax2 = _axes(axes, 2, (11, 4.2))
    rows = []
    for c, sub in df.groupby("c"):
        r: dict[str, float] = {"c": float(c)}
        for col in ("ring_peak", "bounded_peak", "cap", "join_over_ideal", "leave_over_ideal"):
            r[col], r[f"{col}_lo"], r[f"{col}_hi"] = mean_ci(sub[col])
        r["binds"] = float(sub["binds"].mean())
        rows.append(r)
    s = pd.DataFrame(rows)
    c = s["c"]

    def band(ax: Axes, col: str, color: str, label: str, fmt: str = "o-") -> None:
        lo = (s[col] - s[f"{col}_lo"]).fillna(0)
        hi = (s[f"{col}_hi"] - s[col]).fillna(0)
        ax.errorbar(c, s[col], yerr=np.vstack([lo, hi]), fmt=fmt, color=color, capsize=3, label=label)

    band(ax1, "ring_peak", "C0", "ring alone: peak (95% CI over layouts)", "s--")
    band(ax1, "bounded_peak", "C1", "bounded loads: peak (95% CI)")
    ax1.plot(c, s["cap"], "k:", lw=1, label="cap ⌈c·m/n⌉ / (m/n)")
    ax1.set_xlabel("load factor c")
    ax1.set_ylabel("busiest node's keys / mean")
    ax1.yaxis.set_major_formatter(plt.FuncFormatter(lambda y, _: f"{y:.1f}×"))
    ax1.legend(fontsize=7, loc="upper left")
    binds = s[s["binds"] > 0.5]["c"]
    ring_peak = float(df["ring_peak"].mean())
    ax1.set_title(f"The cap binds only below the ring's own peak ({ring_peak:.2f}×):\n"
                  + (f"bounded peak = c for c ≤ {binds.max():.2f}" if len(binds) else "not at these c"), fontsize=10)
    band(ax2, "join_over_ideal", "C1", "bounded: node joins (95% CI)")
    band(ax2, "leave_over_ideal", "C2", "bounded: node leaves (95% CI)", "^-")
    ax2.axhline(1.0, color="C0", ls="--", lw=1, label="ring alone (= 1: only that node's keys)")
    ax2.yaxis.set_major_formatter(plt.FuncFormatter(lambda y, _: f"{y:.1f}×"))
    ax2.set_xlabel("load factor c")
    ax2.set_ylabel("keys moved / least possible")
    ax2.legend(fontsize=7, loc="upper right")
    tight = s.iloc[int(np.argmin(c))]
    ax2.set_title(f"The price: at c = {tight['c']:.2f} a join moves {tight['join_over_ideal']:.1f}× the least possible",
                  fontsize=10)
    return [ax1, ax2]


def movement_bars(df: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Moved fraction per algorithm and event against the least possible.

    ``df`` has columns ``algorithm, event, moved, ideal`` (from
    :func:`~consensuslab.hashing.metrics.movement`), optionally ``keys`` (a 95% Wilson interval
    for the key sample) and ``ideal_balanced`` (the fair share, dashed).
    """
    from scipy import stats

    ax = _ax(ax, (8, 4.2))
    events = list(dict.fromkeys(df["event"]))
    algos = list(dict.fromkeys(df["algorithm"]))
    width = 0.8 / max(1, len(events))
    for k, ev in enumerate(events):
        sub = df[df["event"] == ev].set_index("algorithm").reindex(algos)
        xs = np.arange(len(algos)) + (k - (len(events) - 1) / 2) * width
        yerr = None
        if "keys" in sub.columns:
            ci = [stats.binomtest(int(round(m * n)), int(n)).proportion_ci(0.95, method="wilson")
                  for m, n in zip(sub["moved"], sub["keys"])]
            yerr = np.vstack([sub["moved"] - [c.low for c in ci], [c.high for c in ci] - sub["moved"]])
        ax.bar(xs, sub["moved"], width * 0.92, color=f"C{k}", yerr=yerr, capsize=2, ecolor="0.3",
               label=f"moved on {ev}" + (" (95% CI over keys)" if yerr is not None else ""))
        ax.hlines(sub["ideal"], xs - width * 0.46, xs + width * 0.46, color="k", lw=2.2,
                  label="least possible: the joining / leaving node's keys" if k == 0 else "_nolegend_")
        if "ideal_balanced" in sub.columns:
            ax.hlines(sub["ideal_balanced"], xs - width * 0.46, xs + width * 0.46, color="0.45", lw=1, ls=":",
                      label="fair share 1/(n+1), 1/n" if k == 0 else "_nolegend_")
    ax.set_xticks(np.arange(len(algos)), algos)
    ax.set_ylabel("fraction of keys moved")
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda y, _: f"{y:.0%}"))
    ax.set_ylim(0, float(df["moved"].max()) * 1.3)
    ax.legend(fontsize=7, loc="upper left", ncol=2)
    ratio = df["moved"] / df["ideal"]
    extra = df[ratio > 1.005]
    if len(extra):
        worst = extra.loc[(extra["moved"] / extra["ideal"]).idxmax()]
        grouped = extra.groupby("algorithm", sort=False)["event"].apply(lambda e: ", ".join(e))
        names = " and ".join(f"{a} ({e})" for a, e in grouped.items())
        title = (f"Only {names} move more than the changed node's keys\n"
                 f"(worst: {worst['algorithm']} on {worst['event']}, {worst['moved'] / worst['ideal']:.2f}× the least possible)")
    else:
        title = "Every algorithm moves only the changed node's keys"
    ax.set_title(title, fontsize=10)
    return ax


# --------------------------------------------------------------------------------------------
# tables for people


def _fmt(value: Any, kind: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if kind == "str":
        return str(value)
    v = float(value)
    if math.isinf(v):
        return "unbounded" if v > 0 else "−unbounded"
    if kind == "int":
        return f"{v:,.0f}"
    if kind == "pct":
        return f"{v:.1%}" if abs(v) >= 0.001 or v == 0 else f"{v:.1e}"
    if kind == "pct2":
        return f"{v:.2%}"
    if kind == "x":
        return f"{v:.2f}×"
    if kind == "x3":
        return f"{v:.3f}×"
    if kind == "p":
        return "< 0.001" if v < 0.001 else f"{v:.3f}"
    if kind == "sci":
        return f"{v:.2e}"
    if kind == "bytes":
        for unit, size in (("MiB", 2**20), ("KiB", 2**10)):
            if v >= size:
                return f"{v / size:,.1f} {unit}"
        return f"{v:,.0f} B"
    if kind == "rate":
        return f"{v / 1e6:,.2f} M keys/s" if v >= 1e6 else f"{v / 1e3:,.0f} k keys/s"
    if kind == "s":
        return f"{v:.2f} s"
    if kind == "g3":
        return f"{v:.3g}"
    if kind == "g4":
        return f"{v:.4g}"
    raise ValueError(f"`kind` must be one of int, pct, pct2, x, x3, p, sci, g3, g4, bytes, rate, s, str; got {kind!r}.")


def people_table(df: pd.DataFrame | pd.Series, spec: Mapping[Any, tuple[str, str]],
                 index: str | None = None) -> pd.DataFrame:
    """A table's numbers formatted for people: the columns of ``spec``, renamed and formatted.

    Parameters
    ----------
    df : DataFrame or Series
        The numbers (a Series is shown as one row).
    spec : mapping column -> (header, kind)
        A column name, or a pair ``(lo, hi)`` of columns shown as one interval "lo–hi".
        Kinds: ``int`` (thousands separators), ``pct``/``pct2`` (percent), ``x``/``x3``
        (a ratio, "1.31×"), ``p`` (p-value, "< 0.001"), ``sci``, ``g4`` (4 significant
        digits), ``bytes`` (B/KiB/MiB), ``rate`` (keys/s), ``s`` (seconds), ``str``.
        Missing values print as "–".
    index : str, optional
        A column to use as the row labels (named by its header in ``spec`` if it has one,
        and then not repeated as a column).

    Examples
    --------
    >>> people_table(pd.DataFrame({"n": [20000], "cv": [0.2494], "lo": [0.2], "hi": [0.3]}),
    ...              {"n": ("keys", "int"), "cv": ("CV", "pct"), ("lo", "hi"): ("95% CI", "pct")})
         keys     CV       95% CI
    0  20,000  24.9%  20.0%–30.0%
    """
    frame = df.to_frame().T if isinstance(df, pd.Series) else df
    cols = {}
    for col, (header, kind) in spec.items():
        if isinstance(col, tuple):
            lo, hi = col
            cols[header] = ["–" if (_fmt(a, kind) == "–" and _fmt(b, kind) == "–") else f"{_fmt(a, kind)}–{_fmt(b, kind)}"
                            for a, b in zip(frame[lo], frame[hi])]
        else:
            cols[header] = [_fmt(v, kind) for v in frame[col]]
    out = pd.DataFrame(cols, index=frame[index].tolist() if index is not None else frame.index)
    if index is not None and index in spec:
        out = out.set_index(spec[index][0])  # the formatted column becomes the row labels
    elif index is not None:
        out.index.name = index
    return out


#: :func:`people_table` specs for the notebook's tables
BALANCE_COLUMNS: dict[Any, tuple[str, str]] = {
    "keys": ("keys", "int"),
    "nodes": ("nodes", "int"),
    "peak_to_mean": ("busiest / fair", "x"),
    "min_to_mean": ("lightest / fair", "x"),
    "cv": ("CV of load", "pct"),
    "chi2_p": ("χ² p-value (uniform?)", "p"),
}
VNODES_COLUMNS: dict[Any, tuple[str, str]] = {
    "vnodes": ("points per node", "int"),
    "cv": ("CV", "pct"),
    ("cv_lo", "cv_hi"): ("CV 95% CI", "pct"),
    "cv_theory": ("CV theory", "pct"),
    ("q005", "q995"): ("99% of nodes hold (× fair)", "x"),
    ("q005_theory", "q995_theory"): ("theory", "x"),
    "peak_to_mean": ("busiest / fair", "x"),
    ("peak_lo", "peak_hi"): ("busiest 95% CI", "x"),
    "peak_theory": ("busiest theory", "x"),
}
MOVEMENT_COLUMNS: dict[Any, tuple[str, str]] = {
    "algorithm": ("algorithm", "str"),
    "event": ("event", "str"),
    "moved": ("keys moved", "pct"),
    "ideal": ("least possible", "pct"),
    "moved_over_ideal": ("moved / least", "x"),
    "ideal_balanced": ("fair share", "pct"),
    "to_added": ("of moved: to the new node", "pct"),
    "from_removed": ("of moved: from the leaving node", "pct"),
}
COMPARE_COLUMNS: dict[Any, tuple[str, str]] = {
    "peak_to_mean": ("busiest / fair", "x"),
    "cv": ("CV of load", "pct"),
    "moved_on_join_over_ideal": ("join: moved / least", "x"),
    "moved_on_leave_over_ideal": ("leave: moved / least", "x"),
    "join_share_over_fair": ("new node's share / fair", "x"),
    "memory_bytes": ("lookup state", "bytes"),
    "keys_per_s": ("lookups (this machine)", "rate"),
}
PAPER_COLUMNS: dict[Any, tuple[str, str]] = {
    "reference": ("paper", "g4"),
    "ours": ("ours", "g4"),
    "tolerance": ("tolerance", "g4"),
    "status": ("status", "str"),
    "source": ("source", "str"),
}

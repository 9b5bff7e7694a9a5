"""Figures of VeSTA: the ring with its tokens and preference lists, staleness vs PBS, anomalies,
availability under a held fault, cost, traces.

Theory of operation
-------------------
Every function takes data (a config and keys, or a DataFrame from
:mod:`consensuslab.experiments.vesta`) and an optional ``ax`` (or returns a Figure), and holds
the house standard: a title that states the finding (computed from the data when the caller
gives none), axes with units, a legend entry for every mark, estimated values with their 95%
interval, paper values marked with their source, text of at least :data:`FONT` pt.

:func:`ring_preferences`
    The hash circle read clockwise from the top: every node's tokens (virtual nodes) as coloured
    ticks, the keys as diamonds, and for one key the clockwise walk that builds its preference
    list (the first ``N`` *distinct* nodes whose tokens it meets; tokens of a node already
    chosen are skipped). Labels never overlap.
:func:`staleness_panels` / :func:`staleness_vs_pbs`
    Simulated P(consistent read) with Wilson intervals against the PBS prediction, one panel
    per latency profile (or one axes), the points where PBS misses the interval circled, and the
    paper's published points as stars.
:func:`anomaly_bars`, :func:`linearizable_bars`, :func:`cost_bars`, :func:`anomaly_figure`
    Lower-is-better anomaly rates and higher-is-better linearizable fractions never share an
    axis.
:func:`availability_figure`
    Availability per configuration under each held fault, and the probe-by-probe write
    latencies of one run, failures at the deadline.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import PercentFormatter

__all__ = [
    "FONT",
    "ring_preferences",
    "staleness_vs_pbs",
    "staleness_panels",
    "anomaly_bars",
    "linearizable_bars",
    "cost_bars",
    "anomaly_figure",
    "availability_figure",
    "anomaly_trace",
]

#: Smallest text size of these figures, pt.
FONT = 9
_MISS = "crimson"
_RATES = [("lost_update", "lost updates (per acked append)"), ("stale_read", "stale reads (per read)"),
          ("ryw_violation", "read-your-writes violations (per read)")]


def _axes(ax: Axes | None, size: tuple[float, float]) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=size)
    return ax


def _spread(ys: np.ndarray, gap: float, lo: float, hi: float) -> np.ndarray:
    """Move sorted label heights apart so neighbours are at least ``gap`` apart, within
    ``[lo, hi]`` when they fit (a forward pass up, a backward pass down)."""
    out = np.clip(np.asarray(ys, dtype=float), lo, hi)
    for i in range(1, out.size):
        out[i] = max(out[i], out[i - 1] + gap)
    if out.size and out[-1] > hi:
        out[-1] = max(hi, lo + gap * (out.size - 1))
        for i in range(out.size - 2, -1, -1):
            out[i] = min(out[i], out[i + 1] - gap)
    return out


def _pct(x: float) -> str:
    v = 100.0 * float(x)
    return f"{v:.1f} %" if 0 < v < 1 or 99 < v < 100 else f"{v:.0f} %"


# -- the ring --------------------------------------------------------------------------------------


def _ring_walk(points: np.ndarray, owners: np.ndarray, h: int, n: int) -> list[tuple[int, bool]]:
    """Tokens met walking clockwise from hash ``h`` until ``n`` distinct owners were chosen:
    ``(token index, chosen)`` in order (``bisect_right``: the first token strictly after ``h``)."""
    p = points.shape[0]
    start = int(np.searchsorted(points, np.uint64(h), side="right")) % p
    seen: set[int] = set()
    walk = []
    for step in range(p):
        idx = (start + step) % p
        chosen = int(owners[idx]) not in seen
        if chosen:
            seen.add(int(owners[idx]))
        walk.append((idx, chosen))
        if len(seen) == n:
            break
    return walk


def ring_preferences(config: Any, keys: Sequence[str], ax: Axes | None = None, members: Sequence[int] | None = None,
                     walk: str | None = None, title: str | None = None) -> Axes:
    """The hash circle with every node's tokens, the keys, and one key's preference-list walk.

    Angles are positions on the 64-bit ring read **clockwise from the top**, so "clockwise" on
    the page is the direction a key walks. Each node's tokens (virtual nodes) are ticks in the
    node's colour; each key is a diamond in the colour of its first replica. For the key
    ``walk`` a grey arc follows the ring clockwise from the key and the
    tokens it meets are numbered 1..N where a new node is chosen and crossed out where the node
    was already chosen. Labels sit in two columns, right and left of the circle, in the order of
    the points' heights and spaced so that they never overlap; a thin leader line joins each
    label to its point.

    Parameters
    ----------
    config : VestaConfig
        Supplies the placement algorithm and ``N``. Tokens are drawn for a native-mode
        ``"ring"`` (other algorithms have no tokens: only keys and preference lists are drawn).
    keys : sequence of str
        Keys to draw (a dozen or two is readable).
    members : sequence of int, optional
        Ring members (default: the config's).
    walk : str, optional
        The key whose walk is drawn (default: the key with the most readable walk -- one that
        skips a token, spread over the widest arc under half a turn; ``""`` draws none).
    title : str, optional
        Default: the rule, with the walked key's list.
    """
    from consensuslab.hashing.keys import hash_keys

    ax = _axes(ax, (11.0, 7.5))
    members = tuple(config.members if members is None else members)
    keys = list(keys)
    prefs = config.preferences(keys, members)
    algo = config.placement(members)
    full = float(2**64)
    h = hash_keys(keys)
    theta = h.astype(np.float64) / full * 2 * np.pi
    cmap = plt.get_cmap("tab10")

    def xy(t: np.ndarray | float, r: float = 1.0) -> tuple[Any, Any]:
        return r * np.sin(t), r * np.cos(t)

    circle = np.linspace(0, 2 * np.pi, 400)
    ax.plot(*xy(circle), color="0.75", lw=1, zorder=1)
    has_tokens = getattr(algo, "name", "") == "ring" and getattr(algo, "bits", 0) == 64 and getattr(algo, "mode", "") == "native"
    handles: list[Any] = []
    if has_tokens:
        tok = algo.points.astype(np.float64) / full * 2 * np.pi
        for t, o in zip(tok, algo.owners):
            (x0, y0), (x1, y1) = xy(t, 0.93), xy(t, 1.07)
            ax.plot([x0, x1], [y0, y1], color=cmap(members[int(o)] % 10), lw=2.5, solid_capstyle="butt", zorder=2)
        handles += [Line2D([], [], color=cmap(m % 10), lw=2.5, label=f"token of n{m}") for m in members]
    walk_key = walk
    if has_tokens and walk is None and keys:
        tok = algo.points.astype(np.float64) / full * 2 * np.pi

        def readable(j: int) -> tuple[bool, float]:  # a walk that skips a token, spread out, not wrapping far
            steps = _ring_walk(algo.points, algo.owners, int(h[j]), config.replicas)
            arc = (tok[steps[-1][0]] - theta[j]) % (2 * np.pi)
            return (any(not ch for _, ch in steps) and arc < np.pi, min(arc, np.pi))

        walk_key = keys[max(range(len(keys)), key=readable)]
    if has_tokens and walk_key:
        if walk_key not in keys:
            raise ValueError(f"`walk` must be one of the keys drawn; got {walk_key!r}.")
        j = keys.index(walk_key)
        steps = _ring_walk(algo.points, algo.owners, int(h[j]), config.replicas)
        tok = algo.points.astype(np.float64) / full * 2 * np.pi
        end = tok[steps[-1][0]]
        if end < theta[j]:
            end += 2 * np.pi
        arc = np.linspace(theta[j], end, 200)
        ax.plot(*xy(arc, 0.82), color="0.35", lw=1.4, zorder=2)
        ax.annotate("", xy=xy(end, 0.82), xytext=xy(end - 0.02, 0.82),
                    arrowprops={"arrowstyle": "-|>", "color": "0.35", "lw": 1.4})
        rank = 0
        last, radius = -10.0, 0.68
        for idx, chosen in steps:
            owner = members[int(algo.owners[idx])]
            if chosen:
                rank += 1
                t = tok[idx] + (2 * np.pi if tok[idx] < theta[j] else 0.0)
                radius = radius - 0.14 if t - last < 0.16 else 0.68  # badges too close: step inwards
                last = t
                ax.plot(*zip(xy(tok[idx], 0.9), xy(tok[idx], radius + 0.06)), color=cmap(owner % 10), lw=0.8, zorder=3)
                ax.text(*xy(tok[idx], radius), str(rank), ha="center", va="center", fontsize=FONT + 1, fontweight="bold",
                        color="white", zorder=4,
                        bbox={"boxstyle": "circle,pad=0.2", "fc": cmap(owner % 10), "ec": "none"})
            else:
                ax.plot(*xy(tok[idx], 0.82), marker="x", color="black", ms=7, mew=1.8, zorder=4)
        handles += [Line2D([], [], color="0.35", lw=1.4, label=f"clockwise walk of {walk_key}"),
                    Line2D([], [], ls="", marker="o", ms=10, color="0.4", label="k-th replica chosen (number)"),
                    Line2D([], [], ls="", marker="x", ms=7, mew=1.8, color="black", label="token skipped: node already chosen")]
    gap = 0.22  # label spacing, data units
    per_side = max(int(np.sum(np.sin(theta) >= 0)), int(np.sum(np.sin(theta) < 0)), 1)
    half = max(1.25, gap * (per_side - 1) / 2 + 0.1)
    for side in (1.0, -1.0):
        on_side = [j for j in range(len(keys)) if (np.sin(theta[j]) >= 0) == (side > 0)]
        on_side.sort(key=lambda j: np.cos(theta[j]))
        ys = _spread(np.array([1.1 * np.cos(theta[j]) for j in on_side]), gap, -half, half)
        for j, ly in zip(on_side, ys):
            x, y = xy(theta[j])
            row = prefs[j]
            ax.plot([x], [y], "D", color=cmap(int(row[0]) % 10), mec="black", mew=0.8, ms=8, zorder=5)
            ax.annotate(f"{keys[j]}: " + ", ".join(f"n{m}" for m in row), (x, y), xytext=(side * 1.38, ly),
                        ha="left" if side > 0 else "right", va="center", fontsize=FONT,
                        fontweight="bold" if keys[j] == walk_key and has_tokens else "normal",
                        arrowprops={"arrowstyle": "-", "color": "0.6", "lw": 0.6, "shrinkA": 2, "shrinkB": 4})
    handles.insert(0, Line2D([], [], ls="", marker="D", mec="black", color="0.7", ms=8,
                             label="key (colour: its first replica)"))
    ax.text(0, 1.17, "0", ha="center", va="bottom", fontsize=FONT, color="0.4")
    ax.text(0.06, 1.13, "↻ clockwise", ha="left", va="bottom", fontsize=FONT, color="0.4")
    ax.set_xlim(-2.45, 2.45)
    ax.set_ylim(-half - 0.15, half + 0.25)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=FONT, frameon=False)
    if title is None:
        vn = getattr(algo, "vnodes", None)
        how = f"{config.algorithm}" + (f", {vn} tokens per node" if has_tokens and vn else "")
        if has_tokens and walk_key:
            row = prefs[keys.index(walk_key)]
            title = (f"A key's replicas are the first N={config.replicas} distinct nodes clockwise from its hash "
                     f"({how})\n{walk_key} → " + ", ".join(f"n{m}" for m in row))
        else:
            title = f"Each key's preference list: its first N={config.replicas} replicas ({how})"
    ax.set_title(title, fontsize=FONT + 2)
    return ax


# -- staleness -------------------------------------------------------------------------------------

_MARKERS, _STYLES = "osD^v", ["-", "--", ":", "-."]


def _staleness_on(ax: Axes, df: pd.DataFrame, configs: list[tuple], color_of: Any, style: str, marker: str,
                  filled: bool) -> int:
    """Draw one profile's curves on ``ax``; return how many PBS values missed the interval."""
    misses = 0
    for key, g in df.groupby(["N", "R", "W"], sort=False):
        color = color_of(tuple(key))
        x = g["t"].to_numpy()
        ax.plot(x, 100 * g["p_pbs"], style, color=color, lw=1.5)
        ax.errorbar(x, 100 * g["p_sim"], yerr=[100 * (g["p_sim"] - g["lo"]), 100 * (g["hi"] - g["p_sim"])],
                    fmt=marker, color=color, ms=4, capsize=2, mfc=color if filled else "white")
        if "within" in g:  # misses at informative points (at 0 or 100 % a miss is a rounding matter)
            out = g[~g["within"].astype(bool) & (g["p_pbs"] > 0.001) & (g["p_pbs"] < 0.999)]
            misses += len(out)
            ax.plot(out["t"], 100 * out["p_sim"], "o", ms=11, mfc="none", mec=_MISS, mew=1.5)
    return misses


def _paper_marks(ax: Axes, paper: pd.DataFrame | None) -> int:
    if paper is None or not len(paper):
        return 0
    ax.plot(paper["t"], 100 * paper["p"], "*", color="black", ms=12, mfc="gold", zorder=6)
    return len(paper)


def _staleness_legend(configs: list[tuple], color_of: Any, profiles: list[str] | None, misses: bool,
                      paper: pd.DataFrame | None) -> list[Any]:
    handles: list[Any] = [Line2D([], [], color="0.3", ls="-", label="PBS (WARS) prediction"),
                          Line2D([], [], color="0.3", ls="", marker="o", label="simulated, 95% Wilson interval")]
    handles += [Line2D([], [], color=color_of(c), lw=6, label=f"N={c[0]} R={c[1]} W={c[2]}") for c in configs]
    if profiles and len(profiles) > 1:
        handles += [Line2D([], [], color="0.3", ls=_STYLES[i % 4], marker=_MARKERS[i % 5],
                           mfc="white" if i % 2 else "0.3", label=p) for i, p in enumerate(profiles)]
    elif profiles:
        handles.append(Line2D([], [], ls="", label=f"profile {profiles[0]}"))
    if misses:
        handles.append(Line2D([], [], ls="", marker="o", ms=11, mfc="none", mec=_MISS, mew=1.5,
                              label="PBS outside the interval (informative point)"))
    if paper is not None and len(paper):
        src = str(paper["source"].iloc[0]).split(",")[0]  # "Bailis et al. PVLDB 5(8) 2012"
        handles.append(Line2D([], [], ls="", marker="*", ms=12, color="black", mfc="gold",
                              label=f"published: {src}, §5.2, Fig. 6"))
    return handles


def staleness_vs_pbs(table: pd.DataFrame, ax: Axes | None = None, paper: pd.DataFrame | None = None,
                     title: str | None = None) -> Axes:
    """Simulated P(consistent read) (points, 95% Wilson bars) vs the PBS WARS prediction (lines),
    on one axes.

    Colour encodes the configuration ``(N, R, W)`` and marker and line style the latency
    profile, so the legend has one entry per configuration, one per profile and two for
    "PBS" / "simulated" (not one per curve); it sits outside the axes, right of the data. Points
    where PBS lies outside the interval are circled; ``paper`` (:func:`~consensuslab.experiments.vesta.pbs_paper_points`)
    adds the published points. The y axis is in percent, the x axis symlog (t spans decades).
    """
    ax = _axes(ax, (8.5, 4.4))
    if "profile" not in table:
        table = table.assign(profile="")
    profiles = list(dict.fromkeys(table["profile"]))
    configs = list(dict.fromkeys(map(tuple, table[["N", "R", "W"]].to_numpy().tolist()))) if "N" in table else [()]
    color_of = (lambda c: plt.get_cmap("tab10")(configs.index(c) % 10))
    misses = 0
    for i, (prof, g) in enumerate(table.groupby("profile", sort=False)):
        misses += _staleness_on(ax, g, configs, color_of, _STYLES[i % 4], _MARKERS[i % 5], not i % 2)
    shown_paper = None
    if paper is not None and len(paper):
        keep = paper[paper["profile"].isin(profiles)]
        keep = keep[keep.apply(lambda r: (r["N"], r["R"], r["W"]) in configs, axis=1)] if len(keep) else keep
        if _paper_marks(ax, keep):
            shown_paper = keep
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlabel("time after the write commits, t (ms)")
    ax.set_ylabel("P(consistent read)")
    ax.yaxis.set_major_formatter(PercentFormatter(decimals=0))
    ax.set_ylim(None, 101)
    ax.legend(handles=_staleness_legend(configs, color_of, [p for p in profiles if p], misses > 0, shown_paper),
              fontsize=FONT, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, frameon=False)
    if title is None:
        n = int(table["within"].sum()) if "within" in table else None
        title = ("Staleness: VeSTA simulator vs PBS (WARS)" if n is None else
                 f"PBS lies inside the simulator's 95% interval at {n} of {len(table)} points")
    ax.set_title(title, fontsize=FONT + 2)
    return ax


def staleness_panels(table: pd.DataFrame, paper: pd.DataFrame | None = None, title: str | None = None) -> Figure:
    """:func:`staleness_vs_pbs` as small multiples: one panel per latency profile, shared axes.

    Each panel's title gives its agreement (PBS inside the interval at k of m informative
    points); ``title`` is the figure's (default: the same, over all profiles).
    """
    from consensuslab.experiments.vesta import staleness_agreement

    profiles = list(dict.fromkeys(table["profile"]))
    configs = list(dict.fromkeys(map(tuple, table[["N", "R", "W"]].to_numpy().tolist())))
    color_of = (lambda c: plt.get_cmap("tab10")(configs.index(c) % 10))
    k = len(profiles)
    fig, axes = plt.subplots(1, k, figsize=(4.2 * k + 2.6, 4.3), sharey=True, squeeze=False)
    agree = staleness_agreement(table).set_index("profile")
    misses = 0
    shown_paper = []
    for ax, prof in zip(axes[0], profiles):
        g = table[table["profile"] == prof]
        misses += _staleness_on(ax, g, configs, color_of, "-", "o", True)
        if paper is not None and len(paper):
            pp = paper[(paper["profile"] == prof)]
            pp = pp[pp.apply(lambda r: (r["N"], r["R"], r["W"]) in configs, axis=1)] if len(pp) else pp
            if _paper_marks(ax, pp):
                shown_paper.append(pp)
        a = agree.loc[prof]
        ax.set_title(f"{prof}: inside at {int(a['inside'])} of {int(a['informative'])} informative points",
                     fontsize=FONT + 1)
        ax.set_xscale("symlog", linthresh=1.0)
        ax.set_xlabel("t after commit (ms)")
        ax.yaxis.set_major_formatter(PercentFormatter(decimals=0))
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("P(consistent read)")
    axes[0][0].set_ylim(None, 101)
    legend_paper = pd.concat(shown_paper) if shown_paper else None
    axes[0][-1].legend(handles=_staleness_legend(configs, color_of, None, misses > 0, legend_paper),
                       fontsize=FONT, loc="upper left", bbox_to_anchor=(1.03, 1.0), borderaxespad=0.0,
                       frameon=False)
    if title is None:
        inside, info = int(agree["inside"].sum()), int(agree["informative"].sum())
        bad = [str(p) for p, ok in agree["consistent"].items() if not ok]
        head = ("The simulator agrees with PBS for every profile (family-wise test at 5%)" if not bad
                else f"The simulator departs from PBS for {', '.join(bad)} (family-wise test at 5%)")
        title = f"{head}; the prediction is inside the 95% interval at {inside} of {info} informative points"
    fig.suptitle(title, fontsize=FONT + 3)
    fig.tight_layout()
    return fig


# -- anomalies and cost ----------------------------------------------------------------------------


def _select(table: pd.DataFrame, faults: str | None) -> pd.DataFrame:
    return table if faults is None or "faults" not in table else table[table["faults"] == faults]


def anomaly_bars(table: pd.DataFrame, ax: Axes | None = None, faults: str | None = "nemesis",
                 title: str | None = None) -> Axes:
    """Grouped bars of the anomaly rates per configuration (lower is better), in %, with their
    95% intervals when the table has them (:func:`~consensuslab.experiments.vesta.anomaly_table`)."""
    ax = _axes(ax, (7, 4))
    df = _select(table, faults)
    x = np.arange(len(df))
    width = 0.8 / len(_RATES)
    for j, (name, label) in enumerate(_RATES):
        y = 100 * df[f"{name}_rate"].to_numpy(dtype=float)
        err = None
        if f"{name}_lo" in df:
            err = [np.maximum(y - 100 * df[f"{name}_lo"].to_numpy(dtype=float), 0),
                   np.maximum(100 * df[f"{name}_hi"].to_numpy(dtype=float) - y, 0)]
        ax.bar(x + j * width, y, width, yerr=err, capsize=2, label=label, color=plt.get_cmap("Set1")(j),
               error_kw={"lw": 0.8})
    ax.set_xticks(x + width * (len(_RATES) - 1) / 2, df["config"], fontsize=FONT + 1)
    ax.set_ylabel("rate (lower is better)")
    ax.yaxis.set_major_formatter(PercentFormatter(decimals=0))
    ax.set_ylim(0, None)
    handles, _ = ax.get_legend_handles_labels()
    if f"{_RATES[0][0]}_lo" in df:
        handles.append(Line2D([], [], color="black", lw=0.8, marker="_", ms=6, label="95% Wilson interval"))
    ax.legend(handles=handles, fontsize=FONT, loc="upper center", ncol=2)
    if f"{_RATES[0][0]}_hi" in df and len(df):
        ax.set_ylim(0, max(5.0, 100 * float(df[[f"{n}_hi" for n, _ in _RATES]].to_numpy().max())) * 1.45)
    if title is None:
        clean = [c for c, r in zip(df["config"], df[[f"{n}_rate" for n, _ in _RATES]].to_numpy()) if not r.any()]
        worst = df.loc[df["lost_update_rate"].idxmax()] if len(df) else None
        head = {"none": "No faults", "nemesis": "Under the nemesis"}.get(str(faults), f"Faults: {faults}") if faults else ""
        title = (f"{head + ': ' if head else ''}no anomaly seen with {', '.join(clean) or 'none'}"
                 + (f"; most lost updates: {worst['config']} ({_pct(worst['lost_update_rate'])})"
                    if worst is not None and worst["lost_update_rate"] > 0 else ""))
    ax.set_title(title, fontsize=FONT + 1)
    return ax


def linearizable_bars(table: pd.DataFrame, ax: Axes | None = None, title: str | None = None) -> Axes:
    """Fraction of linearizable histories per configuration and fault setting (higher is better),
    with 95% Wilson intervals over the trials."""
    ax = _axes(ax, (7, 4))
    modes = list(dict.fromkeys(table["faults"])) if "faults" in table else [None]
    configs = list(dict.fromkeys(table["config"]))
    x = np.arange(len(configs))
    width = 0.8 / len(modes)
    for j, mode in enumerate(modes):
        df = (table if mode is None else table[table["faults"] == mode]).set_index("config").reindex(configs)
        y = 100 * df["linearizable_fraction"].to_numpy(dtype=float)
        err = None
        if "linearizable_lo" in df:
            err = [np.maximum(y - 100 * df["linearizable_lo"].to_numpy(dtype=float), 0),
                   np.maximum(100 * df["linearizable_hi"].to_numpy(dtype=float) - y, 0)]
        ax.bar(x + j * width, y, width, yerr=err, capsize=2, color=plt.get_cmap("Greens")(0.45 + 0.35 * j),
               label=f"faults: {mode}" if mode else "histories", error_kw={"lw": 0.8})
    ax.set_xticks(x + width * (len(modes) - 1) / 2, configs, fontsize=FONT + 1)
    ax.set_ylabel("linearizable histories (higher is better)")
    ax.yaxis.set_major_formatter(PercentFormatter(decimals=0))
    ax.set_ylim(0, 105)
    handles, _ = ax.get_legend_handles_labels()
    handles.append(Line2D([], [], color="black", lw=0.8, marker="_", ms=6, label="95% Wilson interval"))
    ax.legend(handles=handles, fontsize=FONT, loc="upper left")
    if title is None:
        g = table.groupby("config", sort=False)["linearizable_fraction"].min()
        always = [c for c, v in g.items() if v == 1.0]
        title = f"Linearizable in every trial: {', '.join(always) or 'none'}"
    ax.set_title(title, fontsize=FONT + 1)
    return ax


def cost_bars(table: pd.DataFrame, ax: Axes | None = None, title: str | None = None) -> Axes:
    """Mean latency per operation (bars, ms, 95% interval over trials) per configuration and
    fault mode; messages per operation as labels."""
    ax = _axes(ax, (7, 4))
    modes = list(dict.fromkeys(table["faults"])) if "faults" in table else [None]
    configs = list(dict.fromkeys(table["config"]))
    x = np.arange(len(configs))
    width = 0.8 / len(modes)
    for j, mode in enumerate(modes):
        df = (table if mode is None else table[table["faults"] == mode]).set_index("config").reindex(configs)
        y = df["latency_mean_ms"].to_numpy(dtype=float)
        err = None
        if "latency_lo" in df:
            err = [np.maximum(y - df["latency_lo"].to_numpy(dtype=float), 0),
                   np.maximum(df["latency_hi"].to_numpy(dtype=float) - y, 0)]
        bars = ax.bar(x + j * width, y, width, yerr=err, capsize=2, label=f"faults: {mode}" if mode else "latency",
                      color=plt.get_cmap("Blues")(0.45 + 0.35 * j), error_kw={"lw": 0.8})
        for b, m in zip(bars, df["messages_per_op"]):
            ax.annotate(f"{m:.1f}", (b.get_x() + b.get_width() / 2, 0), xytext=(0, 3), textcoords="offset points",
                        ha="center", va="bottom", fontsize=FONT, color="white" if j else "black")
    ax.set_xticks(x + width * (len(modes) - 1) / 2, configs, fontsize=FONT + 1)
    ax.set_ylabel("mean latency per operation (ms)")
    handles, _ = ax.get_legend_handles_labels()
    handles += [Line2D([], [], color="black", lw=0.8, marker="_", ms=6, label="95% bootstrap interval"),
                Line2D([], [], ls="", marker="$9.5$", ms=14, color="black", label="messages per operation")]
    ax.legend(handles=handles, fontsize=FONT, loc="upper left")
    if title is None:
        base = table if "faults" not in table else table[table["faults"] == modes[0]]
        lat = base.set_index("config")["latency_mean_ms"]
        fastest = lat.idxmin()
        slowest = lat.idxmax()
        when = {"none": " without faults", "nemesis": " under the nemesis"}.get(str(modes[0]), "") if modes[0] else ""
        title = f"Mean latency{when}: {slowest} {lat[slowest]:.0f} ms, {fastest} {lat[fastest]:.0f} ms"
    ax.set_title(title, fontsize=FONT + 1)
    return ax


def anomaly_figure(table: pd.DataFrame) -> Figure:
    """The anomaly experiment on four panels: anomaly rates without and with faults (lower is
    better, shared axis), linearizable histories (higher is better, its own axis), cost."""
    fig, axes = plt.subplots(2, 2, figsize=(13.5, 8.6))
    modes = list(dict.fromkeys(table["faults"])) if "faults" in table else [None]
    top = [anomaly_bars(table, ax=axes[0][j], faults=mode) for j, mode in enumerate(modes[:2])]
    if len(top) == 2:  # one scale for both fault settings
        hi = max(a.get_ylim()[1] for a in top)
        for a in top:
            a.set_ylim(0, hi)
    else:
        axes[0][1].axis("off")
    linearizable_bars(table, ax=axes[1][0])
    cost_bars(table, ax=axes[1][1])
    fig.tight_layout()
    return fig


# -- availability ----------------------------------------------------------------------------------


def availability_figure(table: pd.DataFrame, probes: Mapping[str, pd.DataFrame] | None = None,
                        deadline: float = 200.0, fault_labels: Mapping[str, str] | None = None,
                        title: str | None = None) -> Figure:
    """Left: availability per configuration under each held fault (bars, 95% interval over
    trials). Right (if ``probes``, config -> :func:`~consensuslab.experiments.vesta.availability_run`
    frame): one strip per configuration with every probe's write latency against the time it
    was issued after the fault, failed probes as crosses above the deadline line. The default
    title states, per fault, which configurations kept writing."""
    from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator

    fig = plt.figure(figsize=(14.5 if probes else 7.5, 5.4))
    outer = fig.add_gridspec(1, 2 if probes else 1, width_ratios=[1.0, 1.05] if probes else None, wspace=0.22)
    ax = fig.add_subplot(outer[0])
    faults = list(dict.fromkeys(table["fault"]))
    configs = list(dict.fromkeys(table["config"]))
    labels = dict(fault_labels or {})
    x = np.arange(len(configs))
    width = 0.8 / len(faults)
    for j, fault in enumerate(faults):
        df = table[table["fault"] == fault].set_index("config").reindex(configs)
        y = 100 * df["availability"].to_numpy(dtype=float)
        err = [np.maximum(y - 100 * df["lo"].to_numpy(dtype=float), 0), np.maximum(100 * df["hi"].to_numpy(dtype=float) - y, 0)]
        bars = ax.bar(x + j * width, y, width, yerr=err, capsize=2, color=plt.get_cmap("Set2")(j),
                      label=labels.get(fault, fault), error_kw={"lw": 0.8})
        for b, v in zip(bars, y):
            ax.annotate(_pct(v / 100).replace(" ", ""), (b.get_x() + b.get_width() / 2, b.get_height()), xytext=(0, 3),
                        textcoords="offset points", ha="center", va="bottom", fontsize=FONT)
    ax.set_xticks(x + width * (len(faults) - 1) / 2, configs, fontsize=FONT + 1)
    ax.set_ylabel(f"writes acknowledged within {deadline:.0f} ms")
    ax.yaxis.set_major_formatter(PercentFormatter(decimals=0))
    ax.set_ylim(0, 112)
    handles, _ = ax.get_legend_handles_labels()
    trials = int(table["trials"].max())
    handles.append(Line2D([], [], color="black", lw=0.8, marker="_", ms=6, label=f"95% interval over {trials} trials"))
    ax.legend(handles=handles, fontsize=FONT, loc="upper center", bbox_to_anchor=(0.5, -0.09), ncol=1, frameon=False)
    ax.set_title("Availability while the fault is held", fontsize=FONT + 1)
    if probes:
        names = list(probes)
        inner = outer[1].subgridspec(len(names), 1, hspace=0.12)
        axes: list[Axes] = []
        for i, config in enumerate(names):
            fr = probes[config]
            a = fig.add_subplot(inner[i], sharex=axes[0] if axes else None)
            axes.append(a)
            color = plt.get_cmap("tab10")(configs.index(config) % 10 if config in configs else i)
            okf = fr[fr["ok"]]
            a.plot(okf["t"], okf["latency"], ".", ms=4, color=color)
            bad = fr[~fr["ok"]]
            a.plot(bad["t"], np.full(len(bad), deadline * 1.6), "x", color="crimson", ms=5)
            a.axhline(deadline, color="0.5", lw=0.8, ls="--")
            a.set_yscale("log")
            a.set_ylim(15, deadline * 2.4)
            a.yaxis.set_major_locator(FixedLocator([20, 50, 100, 200]))
            a.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0f}"))
            a.yaxis.set_minor_locator(NullLocator())
            a.yaxis.set_minor_formatter(NullFormatter())
            a.tick_params(labelsize=FONT)
            a.text(0.995, 0.93, f"{config}: {int(fr['ok'].sum())} of {len(fr)} in time", transform=a.transAxes,
                   ha="right", va="top", fontsize=FONT, bbox={"fc": "white", "ec": "none", "alpha": 0.8})
            if i < len(names) - 1:
                plt.setp(a.get_xticklabels(), visible=False)
        axes[-1].set_xlabel("time the write was issued, after the fault (ms)")
        fig.text(outer[1].get_position(fig).x0 - 0.035, 0.5, "write latency (ms, log scale)", rotation=90,
                 va="center", ha="center", fontsize=FONT + 1)
        axes[0].set_title(f"One run, write by write: {labels.get(faults[0], faults[0])}", fontsize=FONT + 1)
        axes[-1].legend(handles=[Line2D([], [], ls="", marker=".", color="0.3", label="acknowledged write"),
                                 Line2D([], [], ls="", marker="x", color="crimson", label="not acknowledged in time"),
                                 Line2D([], [], ls="--", color="0.5", lw=0.8, label=f"deadline {deadline:.0f} ms")],
                        fontsize=FONT, loc="upper center", bbox_to_anchor=(0.5, -0.55), ncol=3, frameon=False)
    if title is None:
        parts = []
        for fault in faults:
            df = table[table["fault"] == fault]
            kept = [r.config for r in df.itertuples(index=False) if r.availability >= 0.99]
            lost = [f"{r.config} {_pct(r.availability)}" for r in df.itertuples(index=False) if r.availability < 0.99]
            short = {"isolate-one": "One replica cut off", "crash-two": "Two replicas crashed"}.get(fault, fault)
            parts.append(f"{short}: {', '.join(kept) or 'none'} kept ≥ 99% of writes"
                         + (f"; {', '.join(lost)}" if lost else ""))
        title = "\n".join(parts)
    fig.suptitle(title, fontsize=FONT + 2)
    fig.subplots_adjust(left=0.06, right=0.99, top=0.86, bottom=0.26)
    return fig


# -- traces ----------------------------------------------------------------------------------------


def anomaly_trace(trace: Any, ax: Axes | None = None, nodes: Sequence[int] | None = None, title: str | None = None,
                  start: float = 0.0, end: float = float("inf"), labels: Mapping[int, str] | None = None) -> Axes:
    """Message-sequence chart of a VeSTA run between ``start`` and ``end`` ms.

    ``labels`` names the lifelines (e.g. ``{3: "n3 replica"}``); the faults of the window are
    drawn when :func:`consensuslab.plots.sim.sequence_chart` accepts ``events``.
    """
    from consensuslab.plots.sim import sequence_chart

    msgs = trace.messages()
    msgs = msgs[(msgs["sent"] >= start) & (msgs["sent"] <= end)]
    kw: dict[str, Any] = {"ax": ax, "nodes": nodes, "title": title}
    if labels is not None:
        kw["labels"] = dict(labels)
    if "events" in inspect.signature(sequence_chart).parameters:
        frame = trace.to_frame()
        kw["events"] = frame[(frame["time"] <= end)]
    return sequence_chart(msgs, **kw)

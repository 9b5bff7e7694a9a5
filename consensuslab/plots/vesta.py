"""Figures of VeSTA: the ring with preference lists, staleness vs PBS, anomalies, cost, traces.

Every function takes data (a config and keys, or a DataFrame from
:mod:`consensuslab.experiments.vesta`) and an optional ``ax``, and returns the Axes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

__all__ = ["ring_preferences", "staleness_vs_pbs", "anomaly_bars", "cost_bars", "anomaly_trace"]


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


def ring_preferences(config: Any, keys: Sequence[str], ax: Axes | None = None, members: Sequence[int] | None = None) -> Axes:
    """Keys on the hash circle (angle = 64-bit key hash), each labelled with its preference list.

    Labels sit in two columns, right and left of the circle (a key goes to the side its point
    is on), in the order of the points' heights and spaced so that they never overlap; a thin
    leader line joins each label to its point.

    Parameters
    ----------
    config : VestaConfig
        Supplies the placement algorithm and ``N``.
    keys : sequence of str
        Keys to draw (a dozen or two is readable).
    members : sequence of int, optional
        Ring members (default: the config's).
    """
    from consensuslab.hashing.keys import hash_keys

    ax = _axes(ax, (7.5, 6.5))
    members = tuple(config.members if members is None else members)
    prefs = config.preferences(list(keys), members)
    angle = hash_keys(list(keys)).astype(np.float64) / 2.0**64 * 2 * np.pi
    cmap = plt.get_cmap("tab10")
    theta = np.linspace(0, 2 * np.pi, 400)
    ax.plot(np.cos(theta), np.sin(theta), color="0.7", lw=1)
    gap = 0.2  # label spacing, data units (fontsize 8 on a 6.5-inch-high figure)
    per_side = max(int(np.sum(np.cos(angle) >= 0)), int(np.sum(np.cos(angle) < 0)), 1)
    half = max(1.25, gap * (per_side - 1) / 2 + 0.1)
    for side in (1.0, -1.0):
        idx = [j for j in range(len(keys)) if (np.cos(angle[j]) >= 0) == (side > 0)]
        idx.sort(key=lambda j: np.sin(angle[j]))
        ys = _spread(np.array([1.1 * np.sin(angle[j]) for j in idx]), gap, -half, half)
        for j, ly in zip(idx, ys):
            x, y = np.cos(angle[j]), np.sin(angle[j])
            row = prefs[j]
            ax.plot([x], [y], "o", color=cmap(int(row[0]) % 10), ms=8)
            ax.annotate(f"{keys[j]}: " + ",".join(f"n{m}" for m in row), (x, y), xytext=(side * 1.35, ly),
                        ha="left" if side > 0 else "right", va="center", fontsize=8,
                        arrowprops={"arrowstyle": "-", "color": "0.6", "lw": 0.6, "shrinkA": 2, "shrinkB": 3})
    for m in members:
        ax.plot([], [], "o", color=cmap(m % 10), label=f"primary n{m}")
    ax.set_xlim(-2.5, 2.5)
    ax.set_ylim(-half - 0.15, half + 0.15)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
    ax.set_title(f"Preference lists (N={config.replicas}, {config.algorithm})")
    return ax


def staleness_vs_pbs(table: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Simulated P(consistent read) (points, 95% Wilson bars) vs the PBS WARS prediction (lines).

    Colour encodes the configuration ``(N, R, W)`` and marker and line style the latency
    profile, so the legend has one entry per configuration, one per profile and two for
    "PBS" / "simulated" (not one per curve); it sits outside the axes, right of the data.
    """
    from matplotlib.lines import Line2D

    ax = _axes(ax, (8.5, 4.2))
    if "profile" in table:
        groups = list(table.groupby(["profile", "N", "R", "W"], sort=False))
    else:
        groups = [(("", "", "", ""), table)]
    profiles = list(dict.fromkeys(k[0] for k, _ in groups))
    configs = list(dict.fromkeys(tuple(k[1:]) for k, _ in groups))
    markers, styles = "osD^v", ["-", "--", ":", "-."]
    for key, df in groups:
        color = plt.get_cmap("tab10")(configs.index(tuple(key[1:])) % 10)
        pi = profiles.index(key[0])
        x = df["t"].to_numpy()
        ax.plot(x, df["p_pbs"], styles[pi % len(styles)], color=color, lw=1.5)
        ax.errorbar(x, df["p_sim"], yerr=[df["p_sim"] - df["lo"], df["hi"] - df["p_sim"]],
                    fmt=markers[pi % len(markers)], color=color, ms=4, capsize=2, mfc="white" if pi % 2 else color)
    handles: list[Any] = [Line2D([], [], color="0.3", ls="-", label="PBS (WARS) prediction"),
                          Line2D([], [], color="0.3", ls="", marker="o", label="simulated, 95% CI")]
    if key[0]:
        handles += [Line2D([], [], color=plt.get_cmap("tab10")(i % 10), lw=6, label=f"N={c[0]} R={c[1]} W={c[2]}")
                    for i, c in enumerate(configs)]
        if len(profiles) > 1:
            handles += [Line2D([], [], color="0.3", ls=styles[i % len(styles)], marker=markers[i % len(markers)],
                               mfc="white" if i % 2 else "0.3", label=p) for i, p in enumerate(profiles)]
        else:
            handles.append(Line2D([], [], ls="", label=f"profile {profiles[0]}"))
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlabel("time after commit t (ms)")
    ax.set_ylabel("P(consistent read)")
    ax.set_ylim(None, 1.01)
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0,
              frameon=False)
    ax.set_title("Staleness: VeSTA simulator vs PBS (WARS)")
    return ax


_RATES = ["lost_update_rate", "stale_read_rate", "ryw_violation_rate"]


def anomaly_bars(table: pd.DataFrame, ax: Axes | None = None, faults: str | None = "nemesis") -> Axes:
    """Grouped bars: anomaly rates per configuration, and the linearizable fraction."""
    ax = _axes(ax, (7, 4))
    df = table if faults is None or "faults" not in table else table[table["faults"] == faults]
    cols = _RATES + (["linearizable_fraction"] if "linearizable_fraction" in df else [])
    x = np.arange(len(df))
    width = 0.8 / len(cols)
    for j, col in enumerate(cols):
        ax.bar(x + j * width, df[col], width, label=col.replace("_", " "))
    ax.set_xticks(x + width * (len(cols) - 1) / 2, df["config"])
    ax.set_ylabel("rate")
    ax.legend(fontsize=7)
    ax.set_title(f"Anomalies per configuration{f' ({faults})' if faults else ''}")
    return ax


def cost_bars(table: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Mean latency (bars) and messages per operation (labels) per configuration and fault mode."""
    ax = _axes(ax, (7, 4))
    modes = list(table["faults"].unique()) if "faults" in table else [None]
    configs = list(dict.fromkeys(table["config"]))
    x = np.arange(len(configs))
    width = 0.8 / len(modes)
    for j, mode in enumerate(modes):
        df = table if mode is None else table[table["faults"] == mode]
        df = df.set_index("config").reindex(configs)
        bars = ax.bar(x + j * width, df["latency_mean_ms"], width, label=f"faults: {mode}")
        for b, m in zip(bars, df["messages_per_op"]):
            ax.annotate(f"{m:.1f} msg", (b.get_x() + b.get_width() / 2, b.get_height()), ha="center", va="bottom", fontsize=7)
    ax.set_xticks(x + width * (len(modes) - 1) / 2, configs)
    ax.set_ylabel("mean latency (ms)")
    ax.legend(fontsize=7)
    ax.set_title("Cost per operation")
    return ax


def anomaly_trace(trace: Any, ax: Axes | None = None, nodes: Sequence[int] | None = None, title: str | None = None,
                  start: float = 0.0, end: float = float("inf")) -> Axes:
    """Message-sequence chart of a VeSTA run between ``start`` and ``end`` ms."""
    from consensuslab.plots.sim import sequence_chart

    msgs = trace.messages()
    msgs = msgs[(msgs["sent"] >= start) & (msgs["sent"] <= end)]
    return sequence_chart(msgs, ax=ax, nodes=nodes, title=title)

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


def ring_preferences(config: Any, keys: Sequence[str], ax: Axes | None = None, members: Sequence[int] | None = None) -> Axes:
    """Keys on the hash circle (angle = 64-bit key hash), each labelled with its preference list.

    Parameters
    ----------
    config : VestaConfig
        Supplies the placement algorithm and ``N``.
    keys : sequence of str
        Keys to draw (a dozen is readable).
    members : sequence of int, optional
        Ring members (default: the config's).
    """
    from consensuslab.hashing.keys import hash_keys

    ax = _axes(ax, (6.5, 6.5))
    members = tuple(config.members if members is None else members)
    prefs = config.preferences(list(keys), members)
    angle = hash_keys(list(keys)).astype(np.float64) / 2.0**64 * 2 * np.pi
    cmap = plt.get_cmap("tab10")
    theta = np.linspace(0, 2 * np.pi, 400)
    ax.plot(np.cos(theta), np.sin(theta), color="0.7", lw=1)
    for k, a, row in zip(keys, angle, prefs):
        x, y = np.cos(a), np.sin(a)
        ax.plot([x], [y], "o", color=cmap(int(row[0]) % 10), ms=8)
        ax.annotate(f"{k}: " + ",".join(f"n{j}" for j in row), (x, y), xytext=(1.28 * x, 1.18 * y),
                    ha="center", va="center", fontsize=8, arrowprops={"arrowstyle": "-", "color": "0.6", "lw": 0.6})
    for m in members:
        ax.plot([], [], "o", color=cmap(m % 10), label=f"primary n{m}")
    ax.set_xlim(-1.7, 1.7)
    ax.set_ylim(-1.5, 1.5)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.legend(loc="lower right", fontsize=7, frameon=False)
    ax.set_title(f"Preference lists (N={config.replicas}, {config.algorithm})")
    return ax


def staleness_vs_pbs(table: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Simulated P(consistent read) (points, 95% Wilson bars) vs the PBS WARS prediction (lines)."""
    ax = _axes(ax, (7, 4.2))
    groups = table.groupby(["profile", "N", "R", "W"], sort=False) if "profile" in table else [(("", "", "", ""), table)]
    for i, (key, df) in enumerate(groups):
        color = plt.get_cmap("tab10")(i % 10)
        label = f"{key[0]} N={key[1]} R={key[2]} W={key[3]}" if key[0] else "simulated"
        x = df["t"].to_numpy()
        ax.plot(x, df["p_pbs"], "-", color=color, lw=1.5, label=f"PBS {label}")
        ax.errorbar(x, df["p_sim"], yerr=[df["p_sim"] - df["lo"], df["hi"] - df["p_sim"]], fmt="o", color=color,
                    ms=4, capsize=2, label=f"sim {label}")
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlabel("time after commit t (ms)")
    ax.set_ylabel("P(consistent read)")
    ax.set_ylim(None, 1.01)
    ax.legend(fontsize=7)
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

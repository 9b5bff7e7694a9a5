"""Figures for consistent hashing: ring diagram, load bars, balance vs vnodes, movement."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.axes import Axes

__all__ = ["balance_vs_vnodes_plot", "load_bars", "movement_bars", "ring_diagram"]


def _ax(ax: Axes | None, figsize: tuple[float, float] = (6, 4)) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def ring_diagram(points: npt.ArrayLike, owners: npt.ArrayLike, names: Sequence[str], bits: int = 64,
                 ax: Axes | None = None, max_points: int = 2000) -> Axes:
    """Nodes' virtual points on a circle, one colour per node (``Ring.points``/``owners``)."""
    ax = _ax(ax, (5, 5))
    p = np.asarray(points, dtype=np.float64)[:max_points]
    o = np.asarray(owners)[:max_points]
    theta = 2 * np.pi * p / float(2**bits)
    ax.plot(np.cos(np.linspace(0, 2 * np.pi, 361)), np.sin(np.linspace(0, 2 * np.pi, 361)), color="0.8", lw=1)
    cmap = plt.get_cmap("tab20")
    ax.scatter(np.cos(theta), np.sin(theta), c=[cmap(i % 20) for i in o], s=12, zorder=3)
    for i, name in enumerate(names[:20]):
        ax.scatter([], [], color=cmap(i % 20), label=name)
    if len(names) <= 20:
        ax.legend(loc="center", fontsize=7, frameon=False, ncol=2)
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.set_title(f"{len(p)} ring points, {len(names)} nodes")
    return ax


def load_bars(loads: npt.ArrayLike, names: Sequence[str] | None = None, expected: npt.ArrayLike | None = None,
              ax: Axes | None = None) -> Axes:
    """Keys per node as bars, with the expected (weighted) load as a line."""
    ax = _ax(ax)
    x = np.asarray(loads, dtype=np.float64)
    ax.bar(np.arange(x.shape[0]), x, color="C0")
    exp = np.full_like(x, x.mean()) if expected is None else np.asarray(expected, dtype=np.float64)
    ax.step(np.arange(x.shape[0]), exp, where="mid", color="C3", label="expected")
    if names is not None and len(names) <= 30:
        ax.set_xticks(np.arange(x.shape[0]), names, rotation=90, fontsize=7)
    ax.set_xlabel("node")
    ax.set_ylabel("keys")
    ax.legend()
    return ax


def balance_vs_vnodes_plot(df: pd.DataFrame, ax: Axes | None = None,
                           paper: pd.DataFrame | None = None) -> Axes:
    """CV and 99% interval of share/mean vs vnodes (from ``study.balance_vs_vnodes``), with theory.

    ``paper`` (optional) has columns ``vnodes, std, q005, q995``: the jump paper's figures.
    """
    ax = _ax(ax)
    ax.plot(df["vnodes"], df["cv"], "o-", label="measured CV")
    ax.plot(df["vnodes"], df["cv_theory"], "k--", label="Beta theory CV")
    ax.fill_between(df["vnodes"], df["q005"] - 1, df["q995"] - 1, alpha=0.2, label="measured 99% interval - 1")
    ax.plot(df["vnodes"], df["q995_theory"] - 1, "k:", lw=1, label="theory 99% interval - 1")
    ax.plot(df["vnodes"], df["q005_theory"] - 1, "k:", lw=1)
    if paper is not None:
        ax.errorbar(paper["vnodes"], paper["std"], fmt="s", color="C3", label="jump paper std")
        ax.vlines(paper["vnodes"], paper["q005"] - 1, paper["q995"] - 1, color="C3", lw=3, alpha=0.6,
                  label="jump paper 99% interval - 1")
    ax.set_xscale("log")
    ax.axhline(0, color="0.7", lw=0.5)
    ax.set_xlabel("virtual nodes per node")
    ax.set_ylabel("share / mean - 1, and CV")
    ax.legend(fontsize=7)
    return ax


def movement_bars(df: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Moved fraction vs ideal per algorithm (columns ``algorithm, event, moved, ideal``)."""
    ax = _ax(ax)
    events = list(dict.fromkeys(df["event"]))
    algos = list(dict.fromkeys(df["algorithm"]))
    width = 0.8 / max(1, len(events))
    for k, ev in enumerate(events):
        sub = df[df["event"] == ev].set_index("algorithm").reindex(algos)
        xs = np.arange(len(algos)) + k * width
        ax.bar(xs, sub["moved"], width, label=f"moved on {ev}")
        ax.scatter(xs, sub["ideal"], color="k", marker="_", s=200, zorder=3)
    ax.set_xticks(np.arange(len(algos)) + width * (len(events) - 1) / 2, algos)
    ax.set_ylabel("fraction of keys moved (black: ideal)")
    ax.legend()
    return ax

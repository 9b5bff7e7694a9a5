"""Figures of Raft runs: the terms-and-roles timeline and the log grid coloured by term.

Theory of operation
-------------------
:func:`role_timeline` draws one horizontal lane per server from
:func:`consensuslab.scenarios.raft.roles_frame` (built from the ``"role"`` trace notes): a bar
per interval, coloured by role, labelled with its term when there is room; crashed intervals
are grey and hatched. :func:`log_grid` draws the logs of all servers as a grid (rows: servers,
columns: log index) whose cells are coloured by the entry's term and carry the term number;
committed entries get a thick black edge. :func:`figure8_panels` puts one grid per stage of the
Figure 8 replay side by side. All functions take data and an optional ``ax``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

__all__ = ["ROLE_COLORS", "role_timeline", "log_grid", "figure8_panels", "term_color"]

ROLE_COLORS = {
    "follower": "#9ecae1",
    "pre_candidate": "#fdd0a2",
    "candidate": "#fd8d3c",
    "leader": "#31a354",
    "down": "#d9d9d9",
}


def term_color(term: int) -> tuple[float, float, float, float]:
    """A stable colour per term (tab10 cycled; term 0 = compacted = light grey)."""
    if term <= 0:
        return (0.9, 0.9, 0.9, 1.0)
    return plt.get_cmap("tab10")((term - 1) % 10)


def _axes(ax: Axes | None, size: tuple[float, float]) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=size)
    return ax


def role_timeline(roles: pd.DataFrame, ax: Axes | None = None, title: str | None = None,
                  labels: dict[int, str] | None = None) -> Axes:
    """Terms and roles per server over time.

    Parameters
    ----------
    roles : DataFrame
        Columns ``node, start, end, role, term`` (:func:`~consensuslab.scenarios.raft.roles_frame`).
    ax : Axes, optional
    title : str, optional
    labels : dict, optional
        Display names per node id (default ``S1..Sn``).

    Returns
    -------
    Axes
    """
    nodes = sorted(int(x) for x in roles["node"].unique()) if len(roles) else []
    ax = _axes(ax, (9, 0.5 + 0.55 * max(len(nodes), 1)))
    labels = labels or {i: f"S{i + 1}" for i in nodes}
    span = float(roles["end"].max() - roles["start"].min()) if len(roles) else 1.0
    for row in roles.itertuples(index=False):
        y = nodes.index(int(row.node))
        width = float(row.end - row.start)
        down = row.role == "down"
        ax.barh(y, width, left=row.start, height=0.7, color=ROLE_COLORS.get(row.role, "0.5"),
                edgecolor="white", linewidth=0.5, hatch="//" if down else None)
        if not down and width > span / 40:
            ax.text(row.start + width / 2, y, str(row.term), ha="center", va="center", fontsize=7)
    ax.set_yticks(range(len(nodes)), [labels.get(i, str(i)) for i in nodes])
    ax.invert_yaxis()
    ax.set_xlabel("time (ms)")
    handles = [Patch(color=c, label=r.replace("_", "-")) for r, c in ROLE_COLORS.items()
               if r in set(roles["role"])]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=len(handles),
              frameon=False, fontsize=8)
    ax.set_title(title or "roles over time (numbers: terms)")
    return ax


def log_grid(logs: Sequence[Sequence[int]] | pd.DataFrame, commit: Sequence[int] | None = None,
             ax: Axes | None = None, title: str | None = None, roles: Sequence[str] | None = None,
             labels: Sequence[str] | None = None) -> Axes:
    """Every server's log as a grid coloured by term.

    Parameters
    ----------
    logs : sequence of sequences of int, or DataFrame
        Entry terms per server from index 1 (``ClusterState.logs``), or a tidy frame with
        ``node, index, term, committed`` (one stage of :func:`~consensuslab.scenarios.raft.log_frame`).
    commit : sequence of int, optional
        Commit index per server (committed cells get a thick edge).
    roles : sequence of str, optional
        Role per server, shown next to its name (``"down"`` greys the row label).

    Returns
    -------
    Axes
    """
    if isinstance(logs, pd.DataFrame):
        df = logs
        n = int(df["node"].max()) + 1 if len(df) else 0
        rows = [[0] * 0 for _ in range(n)]
        commit = [0] * n
        for r in df.sort_values(["node", "index"]).itertuples(index=False):
            rows[int(r.node)].append(int(r.term))
            if r.committed:
                commit[int(r.node)] = int(r.index)
        logs = rows
    n = len(logs)
    width = max((len(x) for x in logs), default=0)
    ax = _axes(ax, (0.5 + 0.45 * max(width, 4), 0.5 + 0.45 * max(n, 1)))
    commit = list(commit) if commit is not None else [0] * n
    for i, log in enumerate(logs):
        for k, t in enumerate(log):
            committed = k + 1 <= commit[i]
            ax.add_patch(Rectangle((k, i), 0.92, 0.86, facecolor=term_color(int(t)),
                                   edgecolor="black" if committed else "white",
                                   linewidth=2.0 if committed else 0.5))
            if t > 0:
                ax.text(k + 0.46, i + 0.43, str(t), ha="center", va="center", fontsize=8,
                        color="white" if np.mean(term_color(int(t))[:3]) < 0.55 else "black")
    names = list(labels) if labels is not None else [f"S{i + 1}" for i in range(n)]
    if roles is not None:
        names = [f"{nm} ({r.replace('_', '-')})" for nm, r in zip(names, roles)]
    ax.set_xlim(-0.1, max(width, 1) + 0.1)
    ax.set_ylim(n, -0.1)
    ax.set_yticks([i + 0.43 for i in range(n)], names, fontsize=8)
    ax.set_xticks([k + 0.46 for k in range(width)], [str(k + 1) for k in range(width)], fontsize=8)
    ax.set_xlabel("log index")
    ax.set_aspect("equal")
    for side in ("top", "right", "left", "bottom"):
        ax.spines[side].set_visible(False)
    ax.tick_params(length=0)
    if roles is not None:
        for lbl, r in zip(ax.get_yticklabels(), roles):
            if r == "down":
                lbl.set_color("0.6")
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def figure8_panels(states: Sequence, axes: Sequence[Axes] | None = None) -> Figure:
    """One :func:`log_grid` per stage of a Figure 8 replay (``ClusterState`` objects)."""
    k = len(states)
    if axes is None:
        _, grid = plt.subplots(1, k, figsize=(2.9 * k, 2.9), squeeze=False)
        axes = list(grid[0])
    fig = cast("Figure", axes[0].figure)  # a SubFigure has no tight_layout: the axes must be a Figure's
    width = max((len(log) for st in states for log in st.logs), default=1)
    for ax, st in zip(axes, states):
        log_grid(st.logs, st.commit, ax=ax, roles=st.roles, title=f"({st.label}) t={st.time:.0f} ms")
        ax.set_xlim(-0.1, width + 0.1)
    fig.tight_layout()
    return fig

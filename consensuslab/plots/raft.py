"""Figures of Raft runs: the terms-and-roles timeline and the log grid coloured by term.

Theory of operation
-------------------
:func:`role_timeline` draws one horizontal lane per server from
:func:`consensuslab.scenarios.raft.roles_frame` (built from the ``"role"`` trace notes): a bar
per interval, coloured by role, labelled with its term when there is room; crashed intervals
are grey and hatched. :func:`log_grid` draws the logs of all servers as a grid (rows: servers,
columns: log index) whose cells are coloured by the entry's term and carry the term number;
committed entries get a thick black edge, and chosen cells (the entries a repair discarded) are
hatched; its legend (:func:`log_legend_handles`) names every mark. :func:`figure8_panels`
lays the stages of the Figure 8 replay out in rows of three, at a readable size, with the legend
in a panel of its own. All functions take data and an optional ``ax``.

Text is at least 9 pt (:data:`FONT`) at the default figure sizes.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Sequence
from typing import Any, cast

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

__all__ = ["ROLE_COLORS", "FONT", "role_timeline", "log_grid", "log_legend_handles", "figure8_panels",
           "term_color"]

#: Smallest text size of these figures, pt.
FONT = 9
_DISCARDED = "0.1"  # hatching: distinct from every term colour

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
        if not down and width > span / 30:
            ax.text(row.start + width / 2, y, str(row.term), ha="center", va="center", fontsize=FONT)
    ax.set_yticks(range(len(nodes)), [labels.get(i, str(i)) for i in nodes], fontsize=FONT + 1)
    ax.invert_yaxis()
    ax.set_xlabel("time (ms)")
    present = set(roles["role"])
    handles: list[Any] = [Patch(facecolor=c, edgecolor="white", hatch="//" if r == "down" else None,
                                label="crashed" if r == "down" else r.replace("_", "-"))
                          for r, c in ROLE_COLORS.items() if r in present]
    handles.append(Line2D([], [], ls="", marker="$3$", color="black", label="term of the interval"))
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=len(handles),
              frameon=False, fontsize=FONT, handlelength=1.5, columnspacing=1.2)
    ax.set_title(title or "Roles over time (numbers: terms)", fontsize=FONT + 2)
    return ax


def log_grid(logs: Sequence[Sequence[int]] | pd.DataFrame, commit: Sequence[int] | None = None,
             ax: Axes | None = None, title: str | None = None, roles: Sequence[str] | None = None,
             labels: Sequence[str] | None = None, highlight: Iterable[tuple[int, int]] = (),
             highlight_label: str = "discarded by the repair", legend: bool = False) -> Axes:
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
    highlight : iterable of (int, int)
        ``(server, 0-based log position)`` cells to hatch (e.g. the entries a repair discarded).
    highlight_label : str
        Legend text of the hatching.
    legend : bool
        Draw the legend (:func:`log_legend_handles`) to the right of the grid.

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
    marked = {(int(i), int(k)) for i, k in highlight}
    for i, log in enumerate(logs):
        for k, t in enumerate(log):
            committed = k + 1 <= commit[i]
            ax.add_patch(Rectangle((k, i), 0.92, 0.86, facecolor=term_color(int(t)),
                                   edgecolor="black" if committed else "white",
                                   linewidth=2.0 if committed else 0.5))
            if t > 0:
                ax.text(k + 0.46, i + 0.43, str(t), ha="center", va="center", fontsize=FONT, zorder=4,
                        fontweight="bold", color="white" if np.mean(term_color(int(t))[:3]) < 0.55 else "black",
                        bbox={"boxstyle": "round,pad=0.3", "fc": term_color(int(t)), "ec": "none"}
                        if (i, k) in marked else None)
    for i, k in sorted(marked):
        if 0 <= i < n and 0 <= k < len(logs[i]):
            dark = np.mean(term_color(int(logs[i][k]))[:3]) < 0.55
            ax.add_patch(Rectangle((k, i), 0.92, 0.86, fill=False, edgecolor="0.85" if dark else _DISCARDED,
                                   hatch="//", linewidth=0.0, zorder=2))
    names = list(labels) if labels is not None else [f"S{i + 1}" for i in range(n)]
    if roles is not None:
        names = [f"{nm} ({r.replace('_', '-')})" for nm, r in zip(names, roles)]
    ax.set_xlim(-0.1, max(width, 1) + 0.1)
    ax.set_ylim(n, -0.1)
    ax.set_yticks([i + 0.43 for i in range(n)], names, fontsize=FONT)
    ax.set_xticks([k + 0.46 for k in range(width)], [str(k + 1) for k in range(width)], fontsize=FONT)
    ax.set_xlabel("log index", fontsize=FONT)
    ax.set_aspect("equal")
    for side in ("top", "right", "left", "bottom"):
        ax.spines[side].set_visible(False)
    ax.tick_params(length=0)
    if roles is not None:
        for lbl, r in zip(ax.get_yticklabels(), roles):
            if r == "down":
                lbl.set_color("0.6")
    if title:
        ax.set_title(title, fontsize=FONT + 1)
    if legend:
        terms = sorted({int(t) for log in logs for t in log})
        ax.legend(handles=log_legend_handles(terms, discarded=highlight_label if marked else None),
                  loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, fontsize=FONT)
    return ax


def log_legend_handles(terms: Iterable[int], discarded: str | None = None, down: bool = False) -> list[Any]:
    """Legend entries of :func:`log_grid`: one per term shown, committed/uncommitted edges, and
    (optionally) the hatching and the greyed name of a crashed server."""
    handles: list[Any] = [Patch(facecolor=term_color(t), label=f"term {t}" if t > 0 else "compacted")
                          for t in sorted(set(terms))]
    handles.append(Patch(facecolor="white", edgecolor="black", linewidth=2.0, label="committed (thick edge)"))
    handles.append(Patch(facecolor="0.85", edgecolor="white", linewidth=0.5, label="not committed (thin edge)"))
    if discarded:
        handles.append(Patch(facecolor="white", edgecolor=_DISCARDED, hatch="//", linewidth=0.0, label=discarded))
    if down:
        handles.append(Line2D([], [], ls="", marker="$S1$", markersize=14, color="0.6", label="crashed server (grey name)"))
    return handles


def figure8_panels(states: Sequence, axes: Sequence[Axes] | None = None, title: str | None = None,
                   ncols: int = 3) -> Figure:
    """The stages of a Figure 8 replay (``ClusterState`` objects), ``ncols`` per row.

    Each panel is a :func:`log_grid` titled with its stage, time and caption (wrapped); the
    last free panel holds the legend (or it goes right of the last row). Text is at least
    :data:`FONT` pt. ``title`` is the figure's title (state the finding).
    """
    k = len(states)
    if axes is None:
        rows = -(-(k + 1) // ncols)  # one more slot for the legend
        fig, grid = plt.subplots(rows, ncols, figsize=(3.9 * ncols, 3.5 * rows), squeeze=False)
        axes = list(grid.ravel())
    fig = cast("Figure", axes[0].figure)  # a SubFigure has no tight_layout: the axes must be a Figure's
    width = max((len(log) for st in states for log in st.logs), default=1)
    terms: set[int] = set()
    down = False
    for ax, st in zip(axes, states):
        caption = textwrap.fill(st.caption, 40) if st.caption else ""
        head = f"({st.label}) t = {st.time:.0f} ms"
        log_grid(st.logs, st.commit, ax=ax, roles=st.roles, title=f"{head}\n{caption}" if caption else head)
        ax.title.set_fontsize(FONT)
        ax.set_xlim(-0.1, width + 0.1)
        terms |= {int(t) for log in st.logs for t in log}
        down |= "down" in st.roles
    spare = list(axes[k:])
    for ax in spare:
        ax.axis("off")
    handles = log_legend_handles(terms, down=down)
    if spare:
        spare[0].legend(handles=handles, loc="center", frameon=False, fontsize=FONT + 1, title="legend",
                        title_fontsize=FONT + 1)
    else:
        axes[k - 1].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False,
                           fontsize=FONT)
    if title:
        fig.suptitle(title, fontsize=FONT + 3)
    fig.tight_layout()
    return fig

"""The speed-up chart of the scale-out notebook (09).

Theory of operation
-------------------
:func:`speedup_chart` draws one bar per executor (its measured speed-up over the in-process
run) beside a marker at the ideal, the number of workers capped at the CPU count. The workers
of an executor are read from its name's ``x<k>`` suffix (``"inline"`` is one). No computation
beyond that happens here.
"""

from __future__ import annotations

import re

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.axes import Axes

__all__ = ["workers_of", "speedup_chart"]


def workers_of(executor: str) -> int:
    """Workers of an executor named like ``"process pool x2"`` (``"inline"``: 1).

    >>> workers_of("dask LocalCluster x2"), workers_of("inline")
    (2, 1)
    """
    m = re.search(r"x(\d+)$", executor)
    return int(m.group(1)) if m else 1


def speedup_chart(speedup: pd.Series, cpus: int | None = None, ax: Axes | None = None, title: str | None = None) -> Axes:
    """Bars of measured speed-up per executor and the ideal (workers, at most ``cpus``) as markers."""
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    names = list(speedup.index)
    x = range(len(names))
    ideal = [min(workers_of(n), cpus or workers_of(n)) for n in names]
    bars = ax.bar(x, speedup.to_numpy(dtype=float), color="tab:blue", alpha=0.8, label="measured speed-up vs inline")
    from matplotlib.lines import Line2D

    ax.plot(x, ideal, ls="none", marker="_", ms=40, mew=2.5, color="tab:red", label="_nolegend_")
    ideal_handle = Line2D([], [], color="tab:red", lw=2.5,
                          label="ideal = number of workers" + (f" (at most {cpus} CPUs)" if cpus else ""))
    for b, v in zip(bars, speedup):
        ax.annotate(f"{v:.2f}×", (b.get_x() + b.get_width() / 2, v), xytext=(0, -14), textcoords="offset points",
                    ha="center", fontsize=9, color="white", fontweight="bold")
    ax.set_xticks(list(x), names, rotation=0, fontsize=8)
    ax.set_xlabel("executor")
    ax.set_ylabel("speed-up over in-process run (×)")
    ax.set_ylim(0, max(max(ideal), float(speedup.max())) * 1.25)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(handles=[bars, ideal_handle], fontsize=8, loc="upper left")
    if title:
        ax.set_title(title, fontsize=9)
    return ax

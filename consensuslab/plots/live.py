"""Figures of live clusters: live vs simulated election downtime."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from consensuslab.stats import ecdf

__all__ = ["live_vs_simulated"]


def live_vs_simulated(live: pd.DataFrame, sim: pd.DataFrame, stats: Sequence[dict[str, float]],
                      ranges: Sequence[str]) -> Figure:
    """One panel per election-timeout range: ECDFs (95 % DKW bands) of live and simulated downtime.

    ``stats[i]`` is :func:`~consensuslab.live.measure.compare_live_and_simulated` for ``ranges[i]``.
    """
    fig, axes = plt.subplots(1, len(ranges), figsize=(5.2 * len(ranges), 4.0), squeeze=False, sharey=True)
    for ax, rng, st in zip(axes[0], ranges, stats):
        for df, label, colour in ((sim, "simulated", "tab:blue"), (live, "live (kill -9)", "tab:red")):
            x = df.loc[(df["range"] == rng) & np.isfinite(df["downtime"]), "downtime"].to_numpy()
            if len(x) == 0:
                continue
            e = ecdf(x)
            ax.step(e["x"], e["cdf"], where="post", color=colour, label=f"{label}, n={len(x)}")
            ax.fill_between(e["x"], e["lower"], e["upper"], step="post", color=colour, alpha=0.15,
                            label=f"{label}: 95% band")
        ax.set_title(f"{rng}: live median {st['live_median']:.0f} ms vs simulated {st['sim_median']:.0f} ms\n"
                     f"KS D = {st['ks']:.2f}, p = {st['p']:.2g}", fontsize=10)
        ax.set_xlabel("election downtime after kill -9 of the leader (ms)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    axes[0][0].set_ylabel("fraction of trials")
    fig.tight_layout()
    return fig

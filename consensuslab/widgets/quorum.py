"""Explorers for the quorum notebook: availability, Flexible Paxos, and PBS staleness.

Theory of operation
-------------------
Each explorer is a plain object holding ipywidgets controls. :meth:`update` makes one call
into the library (:mod:`consensuslab.quorum.tables` or :mod:`consensuslab.quorum.pbs`),
stores the numbers shown in :attr:`summary` (a DataFrame, also rendered as HTML) and redraws
the matplotlib :attr:`figure` inside an ``ipywidgets.Output``. Slider changes call
:meth:`update` through ``observe``, so a test can set ``slider.value`` and inspect
``summary``/``figure`` without a kernel.
"""

from __future__ import annotations

import ipywidgets as widgets
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
import numpy as np
import pandas as pd

from consensuslab.plots.quorum import plot_availability, plot_flexible_paxos, plot_pbs
from consensuslab.quorum import pbs
from consensuslab.quorum.tables import availability_curve, flexible_paxos_table, standard_systems
from consensuslab.widgets.base import Explorer

__all__ = ["AvailabilityExplorer", "FlexiblePaxosExplorer", "PBSExplorer"]


class _Explorer(Explorer):
    """A quorum explorer: one figure (outside pyplot) redrawn in place, a summary table."""

    controls: list[widgets.Widget]
    figure: Figure  # built in __init__ and redrawn in place: never None here

    def __init__(self) -> None:
        super().__init__()
        self.summary: pd.DataFrame = pd.DataFrame()
        # A figure outside pyplot's registry: shown only through self.output, never auto-shown.
        self.figure = Figure(figsize=(6.4, 4.0))
        FigureCanvasAgg(self.figure)
        self.ax = self.figure.subplots()

    def _wire(self) -> None:
        self.wire(self.controls)
        self.update()

    def _compute(self) -> None:
        raise NotImplementedError

    def _draw(self) -> None:
        raise NotImplementedError

    def update(self) -> None:
        """Recompute (one library call), refresh the summary and redraw the figure."""
        self._compute()
        self.html.value = self.summary.to_html(index=False, float_format=lambda v: f"{v:.6g}")
        self.ax.clear()
        self._draw()
        self.figure.tight_layout()
        self.show(self.figure)

    def widget(self) -> widgets.Widget:
        """The whole explorer as one ipywidgets box."""
        return widgets.VBox([widgets.HBox(self.controls), self.html, self.output])


class AvailabilityExplorer(_Explorer):
    """Availability vs node failure probability for majorities of 3..``n`` and small grids.

    Sliders: ``n`` (largest majority shown, odd), ``p`` (failure probability marked and
    tabulated), and a log-scale toggle. The summary lists each system's availability at ``p``.
    """

    def __init__(self, n: int = 9, p: float = 0.1, points: int = 51) -> None:
        super().__init__()
        self.points = points
        self.n = widgets.IntSlider(value=n, min=3, max=15, step=2, description="max n", continuous_update=False)
        self.p = widgets.FloatSlider(value=p, min=0.0, max=1.0, step=0.01, description="p (fail)", continuous_update=False)
        self.log = widgets.Checkbox(value=False, description="log unavailability")
        self.controls = [self.n, self.p, self.log]
        self.curve = pd.DataFrame()
        self._wire()

    def _compute(self) -> None:
        systems = standard_systems(sizes=range(3, self.n.value + 1, 2), grids=(2, 3))
        grid = np.union1d(np.linspace(0.0, 1.0, self.points), [self.p.value])
        self.curve = availability_curve(systems, grid)
        at_p = self.curve[np.isclose(self.curve["p"], self.p.value)]
        self.summary = at_p[["system", "n", "availability", "unavailability"]].reset_index(drop=True)

    def _draw(self) -> None:
        plot_availability(self.curve, ax=self.ax, log=self.log.value, mark_p=self.p.value)


class FlexiblePaxosExplorer(_Explorer):
    """Phase-1 vs phase-2 availability for every ``|Q1| + |Q2| = N + 1`` (Flexible Paxos)."""

    def __init__(self, n: int = 7, q2: int = 3, p: float = 0.1) -> None:
        super().__init__()
        self.n = widgets.IntSlider(value=n, min=2, max=15, step=1, description="N", continuous_update=False)
        self.q2 = widgets.IntSlider(value=q2, min=1, max=15, step=1, description="|Q2|", continuous_update=False)
        self.p = widgets.FloatSlider(value=p, min=0.0, max=0.5, step=0.01, description="p (fail)", continuous_update=False)
        self.controls = [self.n, self.q2, self.p]
        self.table = pd.DataFrame()
        self._wire()

    def _compute(self) -> None:
        self.q2.max = self.n.value
        self.table = flexible_paxos_table(self.n.value, self.p.value)
        self.summary = self.table[self.table["q2"] == min(self.q2.value, self.n.value)].reset_index(drop=True)

    def _draw(self) -> None:
        plot_flexible_paxos(self.table, ax=self.ax)
        self.ax.axvline(min(self.q2.value, self.n.value), color="grey", ls=":", lw=1)


class PBSExplorer(_Explorer):
    """P(consistent read) vs time after commit for each PBS latency profile; sliders N, R, W."""

    def __init__(self, n: int = 3, r: int = 1, w: int = 1, t_max: float = 50.0, trials: int = 50_000, seed: int = 0) -> None:
        super().__init__()
        self.trials = trials
        self.seed = seed
        self.n = widgets.IntSlider(value=n, min=1, max=10, description="N", continuous_update=False)
        self.r = widgets.IntSlider(value=r, min=1, max=10, description="R", continuous_update=False)
        self.w = widgets.IntSlider(value=w, min=1, max=10, description="W", continuous_update=False)
        self.t_max = widgets.FloatSlider(value=t_max, min=1.0, max=200.0, step=1.0, description="t max (ms)", continuous_update=False)
        self.controls = [self.n, self.r, self.w, self.t_max]
        self.curve = pd.DataFrame()
        self._wire()

    def _params(self) -> tuple[int, int, int]:
        n = self.n.value
        return n, min(self.r.value, n), min(self.w.value, n)

    def _compute(self) -> None:
        n, r, w = self._params()
        times = np.linspace(0.0, self.t_max.value, 101)
        self.curve = pbs.wars_curve(n, r, w, None, times, trials=self.trials, seed=self.seed)
        at0 = self.curve[self.curve["t"] == 0.0][["profile", "p_consistent"]].rename(columns={"p_consistent": "p_consistent_t0"})
        at0.insert(1, "p_nonintersect", pbs.p_nonintersect(n, r, w))
        at0.insert(1, "strict", r + w > n)
        self.summary = at0.reset_index(drop=True)

    def _draw(self) -> None:
        n, r, w = self._params()
        plot_pbs(self.curve, ax=self.ax)
        self.ax.set_title(f"N={n}, R={r}, W={w}")


"""The common shape of every notebook explorer.

Theory of operation
-------------------
An explorer is a plain object holding ipywidgets controls, an ``html`` line with the numbers
shown, an ``output`` area with a matplotlib ``figure``, and a ``summary`` (the numbers as
data). Its ``update()`` makes one call into the library and then :meth:`Explorer.show` puts the
new figure in the output area. Controls are wired to ``update`` with :meth:`Explorer.wire`, so a
plain test can set ``slider.value`` and read ``summary``/``figure`` without a kernel; in a
notebook, ``display(explorer)`` (or leaving it as a cell's last expression) shows
:meth:`Explorer.widget`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import ipywidgets as W
import matplotlib.pyplot as plt
from IPython.core.interactiveshell import InteractiveShell
from IPython.display import display
from matplotlib.figure import Figure

__all__ = ["Explorer"]


class Explorer:
    """Base class of the explorers in :mod:`consensuslab.widgets`."""

    def __init__(self) -> None:
        self.html = W.HTML()
        self.output = W.Output()
        self.figure: Figure | None = None
        self.summary: Any = None

    def wire(self, controls: Iterable[W.Widget]) -> None:
        """Re-run :meth:`update` whenever a control's value changes."""
        for control in controls:
            control.observe(lambda _change: self.update(), names="value")

    def update(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def show(self, fig: Figure) -> None:
        """Make ``fig`` the explorer's figure and draw it in the output area.

        A previous, different figure is closed; pyplot never keeps ours open (no duplicate
        rendering at the end of a notebook cell, no leak across updates).
        """
        if self.figure is not None and self.figure is not fig:
            plt.close(self.figure)
        self.figure = fig
        # The figure is formatted here (as display() would) and the output area's contents are
        # replaced in one assignment, never captured with ``with self.output`` and
        # ``clear_output(wait=True)``: when Voilà executes a notebook server-side, an Output
        # widget that captures while its cell runs stalls the page at "Executing n of N" in most
        # first renders on a loaded machine (voila-dashboards/voila#1428); one state update
        # has no such race, and it also never flickers through an empty area.
        formatter = InteractiveShell.instance().display_formatter
        assert formatter is not None  # an InteractiveShell always has one
        data, metadata = formatter.format(fig)
        self.output.outputs = ({"output_type": "display_data", "data": data, "metadata": metadata},)
        plt.close(fig)

    def widget(self) -> W.Widget:  # pragma: no cover - interface
        """The whole explorer as one ipywidgets box."""
        raise NotImplementedError

    def display(self) -> None:
        """Show the explorer in a notebook."""
        display(self.widget())

    def _ipython_display_(self) -> None:
        self.display()

"""Helpers the notebook claims tests share (imported as ``figure_checks``: pytest puts this
folder on ``sys.path``, as it does ``tests/browser`` for ``pages``)."""

from __future__ import annotations

from typing import Any


def legend_texts(ax: Any) -> list[str]:
    """The texts of ``ax``'s legend (empty if it has none)."""
    legend = ax.get_legend()
    return [t.get_text() for t in legend.get_texts()] if legend is not None else []

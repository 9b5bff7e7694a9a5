"""The model-checking explorer re-runs its search when a slider moves, without a kernel."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from consensuslab.widgets.explore import PaxosSearchExplorer


def test_explorer_finds_the_unsafe_default_and_re_searches_on_a_slider_change() -> None:
    e = PaxosSearchExplorer(max_states=2000, time_limit=2.0)
    assert e.summary["violated"] and e.summary["q1 + q2 <= n"]
    assert "Agreement" in e.figure.axes[0].get_title() and "VIOLATED" in e.html.value
    fig, states = e.figure, e.summary["states"]
    e.q2.value = 2  # 2 + 2 > 3: quorums intersect, no violation
    assert not e.summary["violated"] and e.figure is not fig and e.summary["states"] != states
    assert "no violation" in e.html.value and "always intersect" in e.html.value
    assert e.summary["states"] <= 2000 and e.summary["seconds"] < 3.0  # a re-run stays interactive


def test_explorer_puts_the_figure_before_the_numbers() -> None:
    e = PaxosSearchExplorer(max_states=500)
    box = e.widget()
    assert box.children.index(e.output) < box.children.index(e.html)

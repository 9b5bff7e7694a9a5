"""The Paxos stepper and flexible-quorum explorer work without a kernel; plots return axes."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from consensuslab.experiments.paxos import dueling, multipaxos_cost, unsafe_grid
from consensuslab.plots.paxos import duel_figure, messages_per_command, unsafe_map, walkthrough_chart
from consensuslab.scenarios.paxos import Walkthrough
from consensuslab.widgets.paxos import FlexibleQuorumExplorer, PaxosStepper


def test_stepper_buttons_change_summary_and_figure() -> None:
    s = PaxosStepper()
    assert s.pending == ["A->B Prepare(1,A)", "A->C Prepare(1,A)"]
    fig0, state0 = s.figure, s.summary.copy()
    s.buttons["deliver"].click()
    assert s.figure is not fig0
    assert s.summary.loc["B", "promised"] == "(1,A)" and state0.loc["B", "promised"] == "-"
    s.buttons["drop"].click()  # Prepare to C lost
    assert "C" not in "".join(p.split()[0] for p in s.pending)
    s.node.value = 2
    s.buttons["crash"].click()
    assert not s.summary.loc["C", "up"]
    s.buttons["restart"].click()
    assert s.summary.loc["C", "up"]
    while s.deliver_next():
        pass
    assert list(s.summary["decided"]) == [1, 1, 1]
    s.value.value = "9"
    s.node.value = 1
    s.buttons["propose"].click()  # a late proposer learns the decided value, not 9
    while s.deliver_next():
        pass
    assert list(s.summary["decided"]) == [1, 1, 1]
    assert "Decide" in s.walk.messages()["kind"].tolist()
    plt.close("all")


def test_flexible_quorum_explorer_slider() -> None:
    e = FlexibleQuorumExplorer(n=4, q1=3, q2=2, runs=20)
    assert e.summary["intersect"] and e.summary["violations"] == 0 and e.violation is None
    fig0 = e.figure
    e.q1.value = 2
    assert not e.summary["intersect"]
    assert e.figure is not fig0
    assert e.summary["violations"] > 0 and e.violation is not None
    assert "broke agreement" in e.html.value
    plt.close("all")


def test_plots_return_axes() -> None:
    w = Walkthrough()
    w.propose(0, 1)
    w.run()
    assert walkthrough_chart(w.messages()).get_title() == ""
    table = dueling(trials=5, ks=(2,), executor="inline")
    assert len(duel_figure(table, k=2).axes) == 2
    mp = pd.DataFrame([multipaxos_cost(3, 6, 0, lc) for lc in (False, True)])
    assert messages_per_command(mp).get_ylabel() == "messages per command"
    assert unsafe_map(unsafe_grid(n=3, runs=3)).get_xlabel().startswith("|Q2|")
    plt.close("all")


def test_messages_per_command_has_headroom_and_title() -> None:
    mp = pd.DataFrame([multipaxos_cost(n, 6, 0, lc) for n in (3, 5) for lc in (False, True)])
    ax = messages_per_command(mp, title="cost")
    assert ax.get_title() == "cost"
    tallest = max(p.get_y() + p.get_height() for p in ax.patches)
    assert ax.get_ylim()[1] > 1.05 * tallest  # the tallest bar does not touch the frame
    fig = ax.figure
    fig.canvas.draw()
    legend = ax.get_legend().get_window_extent()
    frame = ax.get_window_extent()
    assert legend.x0 >= frame.x1  # the legend is outside the bars' area
    assert messages_per_command(mp).get_title() == ""
    plt.close("all")


def test_stepper_first_frame_shows_the_two_prepares_in_flight_on_a_step_axis() -> None:
    s = PaxosStepper()
    ax = s.figure.axes[0]
    bottom, top = ax.get_ylim()
    assert top <= 0.0 and bottom >= 3.0  # whole steps, not a 0-1 sliver
    assert all(float(t).is_integer() for t in ax.get_yticks())
    assert "2 in flight" in ax.get_title()
    assert not any(ln.get_marker() not in ("None", None, "") for ln in ax.lines)  # no loss marks
    inflight = [t.get_text() for t in ax.texts]
    assert inflight.count("Prepare(1,A)") == 2  # both Prepares drawn as on their way, with their ballot
    s.deliver_next()
    assert "1 of 3 messages handled" in s.figure.axes[0].get_title()  # B's Promise now in flight
    plt.close("all")

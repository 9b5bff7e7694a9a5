"""The model checker's figures: sequence charts of paths, state-space growth, search vs random."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.text import Annotation

from consensuslab.explore import ActorModel, Path, check, monitor_invariant
from consensuslab.plots.explore import (
    chart_events,
    search_vs_random,
    sequence_chart,
    state_space_growth,
)
from consensuslab.plots.sim import labels_drawn
from consensuslab.protocols.paxos import PaxosConfig


def _unsafe_paxos() -> tuple[ActorModel, object]:
    cfg = PaxosConfig(n=3, proposers=(0, 1), values=(1, 2), q1=1, q2=2, unsafe=True)
    model = ActorModel(cfg.make_node, 3, properties=[monitor_invariant(cfg.monitor)])
    return model, check(model, stop_when="violation", max_states=5000)


def _follow(model: ActorModel, choices: list) -> Path:
    """The path taking, at each step, the first successor whose event satisfies the choice."""
    state = model.initial_states()[0]
    steps = []
    for want in choices:
        event, state = next((e, s) for e, s in model.successors(state) if want(e))
        steps.append((event, state))
    return Path(model.initial_states()[0], tuple(steps))


def _is(kind: str, **fields):
    return lambda e: type(e).__name__ == kind and all(getattr(e, k) == v for k, v in fields.items())


def _legend_texts(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def _arrows(ax) -> list[Annotation]:
    return [t for t in ax.texts if isinstance(t, Annotation) and t.arrow_patch is not None]


def _lifelines(ax) -> list[float]:
    return sorted(line.get_xdata()[0] for line in ax.get_lines()
                  if line.get_color() == "0.7" and len(set(line.get_xdata())) == 1)


def test_counterexample_chart_has_a_lifeline_per_actor_an_arrow_per_delivery_and_names_the_invariant() -> None:
    model, result = _unsafe_paxos()
    path = result.counterexamples["safety"]
    ax = sequence_chart(path, model=model, violation=result.details["safety"])
    delivered = [e for e in path.events if type(e).__name__ == "Deliver"]
    assert _lifelines(ax) == [0.0, 1.0, 2.0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["server 0", "server 1", "server 2"]
    assert len(_arrows(ax)) == len(delivered) >= 2
    assert "Agreement" in ax.get_title() and f"in {len(path)} events" in ax.get_title()
    legend = _legend_texts(ax)
    kinds = {type(e.msg).__name__ for e in delivered}
    assert {f"{k} (delivered)" for k in kinds} <= set(legend)
    assert "timer fires ◆" in legend and "invariant violated here" in legend
    # every arrow starts where its message was sent: the Accept that violates was sent after a Promise arrived
    ev = chart_events(path)
    assert (ev.loc[ev["kind"] == "deliver", "sent"] < ev.loc[ev["kind"] == "deliver", "step"]).all()
    plt.close(ax.figure)


def test_send_steps_are_found_from_the_network_before_and_after_each_step() -> None:
    cfg = PaxosConfig(n=3, proposers=(0,), values=(1,))
    model = ActorModel(cfg.make_node, 3)
    path = _follow(model, [_is("Timeout", node=0, name="start"), _is("Deliver", src=0, dst=2),
                           _is("Deliver", src=0, dst=1), _is("Deliver", src=2, dst=0)])
    ev = chart_events(path)
    assert list(ev["kind"]) == ["timer", "deliver", "deliver", "deliver"]
    assert list(ev["sent"].iloc[1:]) == [1, 1, 2]  # both Prepares sent by the timer; the Promise by step 2


def test_a_path_with_a_drop_a_crash_and_a_restart_draws_them_all() -> None:
    cfg = PaxosConfig(n=3, proposers=(0,), values=(1,))
    model = ActorModel(cfg.make_node, 3, crashes=1, drops=1)
    path = _follow(model, [_is("Timeout", node=0, name="start"), _is("Crash", node=1), _is("Deliver", src=0, dst=1),
                           _is("Drop", src=0, dst=2), _is("Restart", node=1)])
    ax = sequence_chart(path, model=model)
    ev = chart_events(path)
    assert list(ev["kind"]) == ["timer", "crash", "lost", "drop", "restart"]
    assert _arrows(ax) == []  # nothing was delivered to a live node
    legend = _legend_texts(ax)
    for entry in ("dropped (dashed, ends in ×)", "to a down node: lost (▼)", "crash ✖", "restart ▲", "node down",
                  "timer fires ◆"):
        assert entry in legend
    markers = {line.get_marker() for line in ax.get_lines()}
    assert {"x", "v", "X", "^", "D"} <= markers
    assert "invariant violated here" not in legend and "A run of 5 events" in ax.get_title()
    plt.close(ax.figure)


def test_labels_never_overlap_and_long_paths_get_taller_figures() -> None:
    cfg = PaxosConfig(n=3, proposers=(0, 1), values=(1, 2))
    model = ActorModel(cfg.make_node, 3)
    rng = np.random.default_rng(3)
    state, steps = model.initial_states()[0], []
    for _ in range(30):
        succ = sorted(model.successors(state), key=lambda es: repr(es[0]))
        if not succ:
            break
        event, state = succ[int(rng.integers(len(succ)))]
        steps.append((event, state))
    long_path = Path(model.initial_states()[0], tuple(steps))
    ax = sequence_chart(long_path, model=model)
    ax.figure.canvas.draw()
    boxes = [t.get_window_extent() for t in labels_drawn(ax)]
    assert boxes
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    assert len(long_path) >= 15 and ax.figure.get_size_inches()[1] >= 0.42 * len(long_path)
    plt.close(ax.figure)


def test_sequence_chart_rejects_bad_input() -> None:
    with pytest.raises(TypeError, match="`path`"):
        sequence_chart([1, 2, 3])
    _model, result = _unsafe_paxos()
    with pytest.raises(ValueError, match="`network` must be one of"):
        sequence_chart(result.counterexamples["safety"], network="carrier pigeon")


def test_state_space_growth_is_on_a_log_axis_with_a_legend_and_marks_partial_searches() -> None:
    table = pd.DataFrame({"model": ["A"] * 3 + ["B"] * 3, "bound": [1, 2, 3] * 2,
                          "states": [10, 100, 1000, 5, 20, 80], "complete": [True, True, False] + [True] * 3})
    ax = state_space_growth(table, xlabel="resource managers")
    assert ax.get_yscale() == "log"
    assert ax.get_ylabel() == "distinct states (log scale)" and ax.get_xlabel() == "resource managers"
    legend = _legend_texts(ax)
    assert legend[:2] == ["A", "B"] and "search stopped at its limit (a lower bound)" in legend
    assert "×10.0 per step" in ax.get_title() and "(A)" in ax.get_title()
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="'states'"):
        state_space_growth(table.drop(columns="states"))


def test_search_vs_random_figure_states_each_configurations_finding() -> None:
    table = pd.DataFrame([{
        "configuration": "toy", "bfs_states": 1000, "bfs_events": 6, "bfs_found": True,
        "walks": np.array([3.0, 10.0, np.inf]), "walks_median": 10.0, "walks_low": 3.0, "walks_high": np.inf,
        "events_median": 200.0, "events_low": 50.0, "events_high": np.inf, "max_walks": 50}])
    fig = search_vs_random(table)
    title = fig._suptitle.get_text()
    assert "toy: BFS kept 1,000 states" in title and "median 10 walks = 200 events, fewer than" in title
    legend = [t.get_text() for ax in fig.axes for t in ax.get_legend().get_texts()]
    assert "no hit within the walk budget" in legend and "one repetition (3 in all)" in legend
    assert all(ax.get_xscale() == "log" for ax in fig.axes)
    plt.close(fig)

"""The claims notebooks 01 and 02 print, and the standard their figures are held to (issue 14).

Each test runs the library call a notebook makes, with the notebook's parameters, and asserts
what the notebook prints or draws: the latency tail plot keeps every sample (its CCDF reaches
the largest one) and the histogram folds nothing into its last bin; the 02 exercise decides 1;
a leader change costs time without progress and recovery messages; sequence charts label every
arrow with ballot and value, have a legend entry for every mark, never overlap their labels,
shade partitions and name nodes one way. The last tests read the printed output of both notebooks' quick-mode run (executed once per
process, shared with test_notebooks.py).
"""

from __future__ import annotations

import itertools
import json
import re

import numpy as np
import pandas as pd
import pytest
from figure_checks import legend_texts
from matplotlib.patches import Polygon, Rectangle

from consensuslab.experiments.paxos import (
    duel_summary,
    duel_table,
    dueling,
    find_violation,
    leader_change_cost,
    leader_change_summary,
    leader_change_table,
    unsafe_grid,
    unsafe_table,
)
from consensuslab.experiments.simulator import (
    LATENCY_EXAMPLES,
    delay_ccdf,
    delay_table,
    network_profile,
    profile_table,
    quantile_ci,
    schedule_table,
    trace_table,
)
from consensuslab.notebook_runner import notebooks_dir
from consensuslab.plots.paxos import leader_change_figure, walkthrough_chart
from consensuslab.plots.sim import (
    labels_drawn,
    latency_figure,
    latency_hist,
    sequence_chart,
    timeline,
)
from consensuslab.scenarios.paxos import ADOPTION_EXERCISE, Walkthrough
from consensuslab.sim import Nemesis, Simulator
from consensuslab.sim.example import EchoBroadcast, Flood
from consensuslab.widgets.paxos import FlexibleQuorumExplorer, PaxosStepper
from consensuslab.widgets.sim import NetworkExplorer

NB01 = notebooks_dir() / "01-simulator.ipynb"
NB02 = notebooks_dir() / "02-paxos.ipynb"
LONG_FLOAT = re.compile(r"\d\.\d{5,}")  # an unrounded repr such as 7.965575 or 0.274628


def _samples(n: int = 20_000, seed: int = 3) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)  # notebook 01: SEED = 3, LATENCY_SAMPLES = 20_000
    return {name: d.sample(rng, n) for name, d in LATENCY_EXAMPLES.items()}


def _overlaps(ax) -> list[tuple[str, str]]:
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in labels_drawn(ax)]
    return [(a, b) for (a, ba), (b, bb) in itertools.combinations(boxes, 2) if ba.overlaps(bb)]


# -- 01: tails shown honestly ----------------------------------------------------------------------
def test_latency_ccdf_reaches_the_largest_sample_of_every_distribution() -> None:
    samples = _samples()
    fig = latency_figure(samples, exact=LATENCY_EXAMPLES)
    ccdf_ax = fig.axes[1]
    assert ccdf_ax.get_xscale() == "log" and ccdf_ax.get_yscale() == "log"
    steps = {ln.get_label(): ln for ln in ccdf_ax.lines if ln.get_label() in samples}
    assert set(steps) == set(samples)
    for name, s in samples.items():
        x, y = steps[name].get_xdata(), steps[name].get_ydata()
        assert x.max() == s.max(), name  # beyond p99, out to the maximum
        assert y.min() == pytest.approx(1 / len(s)), name
    pareto = samples["pareto (xm=7, alpha=2)"]
    assert pareto.max() > 5 * np.quantile(pareto, 0.99)  # the tail the histogram cannot show


def test_histogram_leaves_the_tail_out_instead_of_folding_it_into_the_last_bin() -> None:
    samples = _samples()
    ax = latency_hist(samples)
    for name, s in samples.items():
        stairs = next(p for p in ax.patches if p.get_label().startswith(name))
        heights, edges = stairs.get_data().values, stairs.get_data().edges
        area = float(np.sum(heights * np.diff(edges)))
        inside = float(np.mean(s <= edges[-1]))
        assert area == pytest.approx(inside)  # exactly the share in range: nothing piled up
        if inside < 1:
            assert f"beyond {edges[-1]:.0f} ms" in stairs.get_label()
            assert heights[-1] < heights.max() / 5  # no fake mode at the right edge


def test_uniform_histogram_is_flat_to_its_right_edge() -> None:
    e = NetworkExplorer(seed=3, duration=500.0)  # notebook 01's explorer, uniform 5-15 ms
    hist = e.figure.axes[0]
    stairs = hist.patches[0]
    heights, edges = stairs.get_data().values, stairs.get_data().edges
    assert "beyond" not in stairs.get_label()  # a light tail: the whole range is drawn
    body = heights[edges[:-1] >= 5.0]
    assert heights[-1] <= 1.6 * np.median(body)  # no spike at 15 ms
    ccdf = e.figure.axes[1].lines[0]
    d = e.summary
    assert ccdf.get_xdata().max() <= 15.0 and d["delay_p99"] < 15.0


def test_quantile_interval_covers_the_true_quantile_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(0)
    hits = [lo <= 1.0 <= hi for lo, hi in (quantile_ci(rng.exponential(1.0, 400), 1 - np.exp(-1.0))
                                            for _ in range(300))]
    assert 0.9 <= np.mean(hits) <= 0.99


def test_delay_ccdf_interval_covers_the_estimate_and_ends_at_one_over_n() -> None:
    t = delay_ccdf(np.arange(1.0, 101.0))
    assert (t["lower"] <= t["ccdf"]).all() and (t["ccdf"] <= t["upper"]).all()
    assert t["x"].iloc[-1] == 100.0 and t["ccdf"].iloc[-1] == pytest.approx(0.01)


def test_delay_table_prints_exact_and_sampled_quantiles_in_ms() -> None:
    table = delay_table(_samples())
    assert table.loc["exponential (mean 5) + 5", "median (exact)"] == f"{5 + 5 * np.log(2):.1f} ms"
    assert table.loc["pareto (xm=7, alpha=2)", "median (exact)"] == f"{7 * np.sqrt(2):.1f} ms"
    assert table.loc["uniform 5-15", "median (exact)"] == "10.0 ms"


def test_01_tables_are_formatted_for_people() -> None:
    summary, _ = network_profile(LATENCY_EXAMPLES["uniform 5-15"], loss=0.1, n=5, duration=500.0, seed=3)
    tables = [profile_table(pd.DataFrame([summary], index=["uniform"])),
              schedule_table(Nemesis(n=5, seed=3, duration=2000.0).schedule())]
    sim = Simulator(EchoBroadcast, n=5, seed=3, latency=(5, 15), loss=0.1)
    sim.run_for(200.0)
    tables.append(trace_table(sim.trace.to_frame()))
    for table in tables:
        text = table.to_string()
        assert "inf" not in text and "nan" not in text.lower() and "<NA>" not in text
        assert not LONG_FLOAT.search(text), text
    table = profile_table(pd.DataFrame([summary], index=["u"]))
    assert table["loss rate (95% CI)"].iloc[0].endswith("%)") and table["reordered (95% CI)"].iloc[0].endswith("%)")
    assert summary["delay_p99_lo"] <= summary["delay_p99"] <= summary["delay_p99_hi"]


def test_timeline_has_a_legend_entry_for_every_mark() -> None:
    sim = Simulator(Flood, n=5, seed=3, latency=(5, 15))
    sim.run_for(100)
    sim.crash(1)
    sim.run_for(10)
    sim.restart(1)
    ax = timeline(sim.trace.to_frame(), n=5)
    texts = " ".join(legend_texts(ax))
    assert "crash" in texts and "restart" in texts and "note" in texts and "node down" in texts
    assert not _overlaps(ax)


# -- 02: the exercise -------------------------------------------------------------------------
def test_the_02_exercise_decides_1_when_played_as_written() -> None:
    w = Walkthrough()
    w.propose(0, 1)
    w.play(ADOPTION_EXERCISE)
    assert w.state()["decided"].tolist() == [None, 1, 1]
    accept_from_c = w.messages().query("kind == 'Accept' and src == 2")["msg"]
    assert {m.value for m in accept_from_c} == {1}  # C proposed 2 but adopted A's value


def test_the_02_exercise_works_in_the_stepper_by_clicking() -> None:
    """The notebook's instructions: pick the message in the list, then press deliver / drop."""
    s = PaxosStepper()
    for action, arg in ADOPTION_EXERCISE:
        if action in ("deliver", "drop"):
            s.message.value = s.pending.index(arg)
            s.buttons[action].click()
        elif action == "crash":
            s.node.value = s.walk.node_id(arg)
            s.buttons["crash"].click()
        elif action == "propose":
            s.node.value, s.value.value = s.walk.node_id(arg[0]), str(arg[1])
            s.buttons["propose"].click()
        else:  # run: deliver until nothing is in flight
            while s.pending:
                s.buttons["deliver"].click()
    assert s.summary["decided"].tolist() == [None, 1, 1]
    assert s.figure.axes[0].get_title().startswith("Decided 1 at B, C")


def test_the_old_instructions_followed_literally_decide_2() -> None:
    """Why the exercise changed: 'deliver next' takes the oldest message, C->A Promise."""
    w = Walkthrough()
    w.propose(0, 1)
    w.deliver(); w.deliver(); w.deliver()
    w.crash(0)
    w.deliver()  # "deliver one Accept": the oldest is C's Promise to the crashed A
    w.drop()  # "drop the other": A->B Accept
    w.propose(2, 2)
    w.run()
    assert w.state()["decided"].tolist() == [None, 2, 2]


# -- 02: the cost of a leader change ---------------------------------------------------------------
@pytest.fixture(scope="module")
def leader_change() -> pd.DataFrame:
    return pd.DataFrame([leader_change_cost(n=n, seed=1 + s, warm=10, after=10, client_timeout=300.0)
                         for n in (3, 5) for s in range(2)])


def test_leader_change_costs_time_without_progress_and_recovery_messages(leader_change: pd.DataFrame) -> None:
    for r in leader_change.itertuples():
        assert r.stall_ms > 0 and r.recovery_messages > 0
        phases = r.detection_ms + r.election_ms + r.client_ms + r.commit_ms
        assert phases == pytest.approx(r.stall_ms)
        assert min(r.detection_ms, r.election_ms, r.client_ms, r.commit_ms) >= 0
        assert r.stall_ms > 3 * r.steady_latency_ms  # the stall dwarfs a steady command
        # a follower's timer restarts at each heartbeat (every 50 ms), so it can fire no sooner than
        # the timeout's low end (150 ms) after the last heartbeat before the crash
        assert r.detection_ms >= 150.0 - 50.0
        assert r.recovery_Prepare > 0 and r.recovery_Promise > 0  # phase 1 ran again
        # the per-command artefact the old figure showed: with a node down, fewer replies
        assert r.down_per_command_no_heartbeat == r.steady_per_command_no_heartbeat - 1


def test_leader_change_figure_and_table(leader_change: pd.DataFrame) -> None:
    summary = leader_change_summary(leader_change)
    assert (summary["stall_ms_lo"] <= summary["stall_ms"]).all() and (summary["stall_ms"] <= summary["stall_ms_hi"]).all()
    fig = leader_change_figure(summary, client_timeout=300.0, leader_timeout=(150.0, 300.0))
    big = summary.iloc[-1]
    assert f"stops commits for {big.stall_ms:.0f} ms" in fig.get_suptitle()
    assert fig.axes[0].get_xlabel() == "time from the crash (ms)"
    assert any("Lamport 2001" in t for t in legend_texts(fig.axes[1]))
    text = leader_change_table(summary).to_string()
    assert not LONG_FLOAT.search(text) and "nan" not in text.lower()


# -- sequence charts -----------------------------------------------------------------------------
def test_walkthrough_chart_labels_arrows_with_ballot_and_value_and_legends_every_mark() -> None:
    w = Walkthrough()
    w.propose(0, 1)
    w.play(ADOPTION_EXERCISE)
    ax = walkthrough_chart(w.messages(), w.names, events=w.events_frame())
    assert not _overlaps(ax)
    texts = [t.get_text() for t in labels_drawn(ax)]
    assert "Accept(1,A) v=1" in texts and any(t.startswith("Promise(2,C) acc=(1,A):1") for t in texts)
    legend = " ".join(legend_texts(ax))
    for mark in ("lost", "receiver crashed", "crash", "node down", "Prepare", "Decide"):
        assert mark in legend, mark
    assert ax.get_ylabel().startswith("step")
    # the names on the chart are the names the walkthrough prints
    assert [t.get_text() for t in ax.get_xticklabels()] == ["A", "B", "C"]
    assert all(p.split("->")[0] in "ABC" for p in w.describe_pending() + ["A->B"])


def test_restart_has_a_legend_entry() -> None:
    w = Walkthrough()
    w.propose(0, 1)
    w.crash(1)
    w.restart(1)
    w.run()
    ax = walkthrough_chart(w.messages(), w.names, events=w.events_frame())
    assert "restart ▲" in legend_texts(ax)


def test_violation_chart_shades_the_partition_and_names_nodes_by_id() -> None:
    found = find_violation(n=4, q1=2, q2=2, seeds=range(1, 501))  # notebook 02 quick mode
    assert found is not None and found.events is not None
    ax = walkthrough_chart(found.messages, [str(i) for i in range(4)], events=found.events)
    assert "partitioned" in legend_texts(ax)
    assert any(isinstance(p, (Polygon, Rectangle)) and p.get_facecolor()[3] < 0.5 for p in ax.patches)
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks == ["0", "1", "2", "3"]
    assert "accepted by [" in found.violation.detail  # the monitor names nodes by id, as the chart does
    assert ax.get_ylabel() == "time (ms)"  # a simulator run: milliseconds, not steps
    assert not _overlaps(ax)
    texts = [t.get_text() for t in labels_drawn(ax)]
    assert any(re.fullmatch(r"Accept\(\d,\d\) v='v\d'", t) for t in texts)


def test_sequence_chart_draws_crashes_and_restarts_from_a_trace() -> None:
    sim = Simulator(Flood, n=4, seed=3, latency=(5, 15), loss=0.15)
    sim.run_for(5)
    sim.crash(2)
    sim.run_for(20)
    sim.restart(2)
    sim.run_for(100)
    ax = sequence_chart(sim.trace.messages(), events=sim.trace.to_frame())
    legend = legend_texts(ax)
    assert "crash ✖" in legend and "restart ▲" in legend
    assert not _overlaps(ax)


def test_explorers_put_the_figure_before_the_numbers() -> None:
    for explorer in (NetworkExplorer(seed=1, duration=300.0), PaxosStepper(),
                     FlexibleQuorumExplorer(n=3, q1=2, q2=2, runs=5)):
        children = list(explorer.widget().children)
        assert children.index(explorer.output) < children.index(explorer.html), type(explorer).__name__


def test_02_tables_are_formatted_for_people() -> None:
    table = duel_table(duel_summary(dueling(trials=4, ks=(2,), executor="inline")), cap=2000.0)
    grid = unsafe_table(unsafe_grid(n=3, runs=3))
    for t in (table, grid):
        text = t.to_string()
        assert "inf" not in text and "nan" not in text.lower() and not LONG_FLOAT.search(text)
    assert table.columns[3] == "still duelling at 2000 ms (95% CI)"


# -- the notebooks themselves ---------------------------------------------------------------------
@pytest.mark.parametrize("path", [NB01, NB02], ids=["01", "02"])
def test_title_comes_before_the_imports(path) -> None:
    cells = json.loads(path.read_text())["cells"]
    assert cells[0]["cell_type"] == "markdown" and "".join(cells[0]["source"]).startswith("# ")
    assert cells[1]["cell_type"] == "code" and "import" in "".join(cells[1]["source"])


def _printed(run) -> str:
    assert run.ok, f"{run.path.name}: cell {run.failed_cell} failed: {run.error}"
    out = []
    for cell in run.nb.cells:
        for o in cell.get("outputs", []):
            if o.get("output_type") == "stream":
                out.append(o["text"])
            elif "text/plain" in o.get("data", {}) and "VBox" not in o["data"]["text/plain"]:
                out.append(o["data"]["text/plain"])
    return "\n".join(out)


@pytest.fixture(scope="module")
def printed_02(notebook_run) -> str:
    return _printed(notebook_run(NB02))


def test_notebook_02_prints_the_exercise_and_the_leader_change_from_results(printed_02: str) -> None:
    assert "decided: A — (crashed), B 1, C 1" in printed_02
    assert "C proposed 2, but its Accept carries 1" in printed_02
    stalls = [float(x) for x in re.findall(r"no command commits for (\d+) ms", printed_02)]
    assert len(stalls) == 2 and all(s > 0 for s in stalls)
    recovery = [float(x) for x in re.findall(r"recovery: ([\d.]+) messages", printed_02)]
    assert len(recovery) == 2 and all(m > 0 for m in recovery)
    assert "violations with |Q1| + |Q2| > n: 0 in" in printed_02
    assert "(reference 1: Lamport" in printed_02


def test_notebook_02_prints_no_inf_nan_or_unrounded_number(printed_02: str) -> None:
    assert not re.search(r"\binf\b|\bnan\b|NaN", printed_02)
    assert not LONG_FLOAT.search(printed_02), LONG_FLOAT.search(printed_02)


def test_notebook_01_prints_its_claims_without_inf_or_unrounded_numbers(notebook_run) -> None:
    printed = _printed(notebook_run(NB01))
    assert "every node learned the rumour: yes" in printed
    assert re.search(r"inside the 95% interval in \d of 4 runs", printed)
    assert re.search(r"pareto \(xm=7, alpha=2\)\s+median\s+[\d.]+ ms\s+p99\s+[\d.]+ ms", printed)
    assert not re.search(r"\binf\b|\bnan\b|NaN", printed)
    assert not LONG_FLOAT.search(printed), LONG_FLOAT.search(printed)

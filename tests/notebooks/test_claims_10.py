"""The claims notebook 10 (model checking) prints, asserted against the library and the executed notebook.

As for the other notebooks (issue 14): each claim is checked on the library call the notebook
makes with its quick-mode parameters, and on the text the executed notebook printed.
"""

from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")

import pytest

from consensuslab.experiments.model_checking import (
    paxos_model,
    search_vs_random,
    state_space_table,
)
from consensuslab.explore import check
from consensuslab.explore.models.protocols import (
    FIGURE8,
    FIGURE8_BOUNDS,
    FIGURE8_TERM3,
    StartingAt,
    follow,
    raft_model,
)
from consensuslab.explore.models.twophase import two_phase_commit
from consensuslab.explore.walk import walks_until_violation
from consensuslab.notebook_runner import notebooks_dir
from consensuslab.stats import wilson

FLEXIBLE = {"n": 4, "q1": 2, "q2": 2, "max_round": 1}  # the notebook's parameters (quick mode)
UNROUNDED = re.compile(r"\d\.\d{5,}")


@pytest.fixture(scope="module")
def nb10(notebook_run):
    run = notebook_run(notebooks_dir() / "10-model-checking.ipynb")  # shared with test_notebooks.py
    assert run.ok, f"cell {run.failed_cell}: {run.error}"
    out = []
    for cell in run.nb.cells:
        for o in cell.get("outputs", []):
            if o.get("output_type") == "stream" and o.get("name") == "stdout":
                out.append(o["text"])
    return "\n".join(out), run


def test_10_two_phase_commit_counts_are_the_published_ones(nb10) -> None:
    text, _ = nb10
    table = state_space_table({"2PC": two_phase_commit}, [1, 2, 3, 4], bound="rms")
    assert list(table["states"]) == [12, 56, 288, 1568]
    assert "3 RMs: 288 distinct states (published: 288), exhaustive" in text
    assert "4 RMs: 1,568" in text


def test_10_flexible_paxos_counterexample_is_the_printed_shortest_one(nb10) -> None:
    text, _ = nb10
    model = paxos_model(**FLEXIBLE)
    result = check(model, stop_when="violation")
    path = result.counterexamples["safety"]
    assert "Agreement violated" in result.details["safety"]
    assert f"BFS: {result.unique_states:,} distinct states" in text
    assert f"shortest counterexample: {len(path)} events" in text
    # the path itself may differ between processes (BFS keeps the first of equally short ones, and
    # successor order follows set iteration), its length and its verdict may not
    assert f"  {len(path)}. deliver Accept" in text and "violated: Agreement violated" in text
    # a depth-first search may find a longer one, never a shorter one
    assert all(len(p) >= len(path) for p in check(model, strategy="dfs", stop_when="violation",
                                                   max_states=3000).counterexamples.values())


def test_10_search_vs_random_numbers_are_the_librarys(nb10) -> None:
    text, _ = nb10
    versus = search_vs_random({"f": paxos_model(**FLEXIBLE)}, repetitions=3, seed=1, max_walks=300, max_steps=60)
    r = versus.table.iloc[0]
    assert r["hits"] == 3
    assert (f"{r['hits']} of {r['repetitions']} searches hit within {r['max_walks']:,} walks, median "
            f"{r['walks_median']:,.0f} walks (95% CI {r['walks_low']:,.0f}–{r['walks_high']:,.0f}) = "
            f"{r['events_median']:,.0f} events") in text
    assert f"per-walk hit rate {r['hit_rate']:.1%}" in text


def test_10_prints_formatted_numbers_and_every_section_ran(nb10) -> None:
    text, run = nb10
    assert not UNROUNDED.search(text), UNROUNDED.search(text)
    assert "Raft" in text and "replay" in text.lower()
    pngs = sum(1 for c in run.nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {}))
    assert pngs >= 3  # growth, counterexample chart, search vs random (the explorer draws in a widget)


def test_10_raft_figure8_is_drawn_replayed_and_harmless_with_the_rule(nb10) -> None:
    """Raft §5.4.2 / Figure 8 on the explored nodes: the monitor flags Leader Completeness, the
    simulator's replay raises the same invariant, and with the rule on the same run is safe and
    every run from the same state within the bounds was searched (quick mode: from A's term-3
    victory, so the printed counts are those of that search)."""
    text, _ = nb10
    model = raft_model(figure8_rule=False, **FIGURE8_BOUNDS)
    start = StartingAt(model, follow(model, FIGURE8[:FIGURE8_TERM3]).last)
    found = check(start, stop_when="violation")
    assert (f"from A's term-3 victory (event {FIGURE8_TERM3}), BFS over {found.unique_states:,} states found the "
            f"shortest violation {len(found.counterexamples['safety'])} events later") in text
    assert "the monitor: Leader Completeness violated: leader 1 of term 4 lacks" in text
    assert "replayed in the simulator: Leader Completeness" in text
    assert "no state on it violates anything: True" in text
    ruled = raft_model(figure8_rule=True, **FIGURE8_BOUNDS)
    safe = check(StartingAt(ruled, follow(ruled, FIGURE8[:15]).last))  # RAFT_RULE_FROM in quick mode
    assert safe.complete and safe.safe
    assert (f"every run from event 15 of the schedule within the same bounds: {safe.unique_states:,} states, "
            f"exhaustive, no violation") in text


def test_10_raft_random_walks_from_the_initial_state_are_the_librarys(nb10) -> None:
    """The deep bug against random testing: the notebook's walks from Raft's initial state."""
    text, _ = nb10
    deep = walks_until_violation(raft_model(figure8_rule=False, **FIGURE8_BOUNDS), seed=1, max_walks=30, max_steps=60)
    low, high = wilson(int(deep.hit), deep.walks)
    outcome = (f"walk {deep.walks:,} was the first" if deep.hit else
               f"none of {deep.walks:,} random walks ({deep.events:,} events) broke Leader Completeness")
    assert f"Raft Figure 8 from the initial state: {outcome}" in text
    assert f"per-walk hit rate 95% CI {low:.2%}–{high:.2%}" in text


def test_10_random_simulator_runs_are_the_experiments(nb10) -> None:
    """The simulator's random runs of the same unsafe quorums (notebook 02's experiment)."""
    from consensuslab.experiments.paxos import unsafe_trial

    text, _ = nb10
    r = unsafe_trial(4, 2, 2, seeds=range(50))
    assert r["violations"] > 0
    assert (f"{r['violations']} of {r['runs']} seeds broke Agreement, a per-run hit rate of {r['rate']:.1%} "
            f"(95% CI {r['rate_lo']:.1%}–{r['rate_hi']:.1%}), about {1 / r['rate']:.0f} runs per hit; "
            f"the first at seed {r['first_seed']}") in text

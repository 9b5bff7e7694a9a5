"""The claims notebooks 04 (Raft replication and faults) and 07 (VeSTA) print, asserted.

Each notebook prints its claims from computed results (issue 14). These tests check the claims
twice: on the library call the notebook makes (with the notebook's quick-mode parameters), and
on the text the executed notebook actually printed, so a claim cannot drift from its number.
They also hold the printed output to the number-formatting rule: no unrounded floats, no
``inf``/``nan`` in a printed table.
"""

from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from consensuslab.notebook_runner import execute_notebook, notebooks_dir  # noqa: E402
from consensuslab.scenarios.raft import (  # noqa: E402
    fault_injection_run,
    fault_tally,
    figure8_replay,
    leader_crash_scenario,
    partition_repair_scenario,
)

UNROUNDED = re.compile(r"\d\.\d{5,}")  # 6000.000000, 0.060627, 13.815491 ...
NOT_A_NUMBER = re.compile(r"(?<![\w.])(inf|nan|NaN)(?![\w])")


def _texts(run) -> list[str]:
    """Every text output of an executed notebook: streams, and plain-text results."""
    out = []
    for cell in run.nb.cells:
        for o in cell.get("outputs", []):
            if o.get("output_type") == "stream":
                out.append(o["text"])
            elif o.get("output_type") in ("execute_result", "display_data") and "text/plain" in o["data"]:
                if "image/png" not in o["data"] and not o["data"]["text/plain"].startswith(("VBox", "<Figure")):
                    out.append(o["data"]["text/plain"])
    return out


def _fontsizes(fig) -> list[float]:
    sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_text().strip() and t.get_visible()]
    return sizes


# -- notebook 04 -------------------------------------------------------------------------------


def test_04_partitioned_old_leader_accepts_several_commands_that_are_later_discarded() -> None:
    for commands in (6, 12):  # the notebook's quick and full COMMANDS
        run = partition_repair_scenario(n=5, seed=2, commands=commands)
        s = run.summary
        sent = commands // 2
        assert s["sent to the old leader"] == sent >= 3  # several, not one
        assert run.before.roles[run.old_leader] == "leader"  # it still believes it leads
        assert s["acknowledged to the minority client"] == 0  # none could commit
        assert s["uncommitted suffix"] == sent  # it accepted every one
        assert s["replaced"] == sent  # ... and the repair overwrote every one
        assert s["discarded commands applied"] == 0  # applied by no server
        assert s["new term"] > run.before.terms[run.old_leader]
        assert s["identical logs"]
        assert run.discarded_cells == [(run.old_leader, k) for k in range(s["log length before"] - sent,
                                                                           s["log length before"])]


def test_04_each_leader_crash_is_followed_by_one_new_leader() -> None:
    run = leader_crash_scenario(n=5, seed=1, crashes=2, commands=6)
    assert len(run.downtime) == 2
    assert all(150.0 <= d < 1000.0 for d in run.downtime)  # an election timeout, then a vote round
    assert run.max_leaders_per_term == 1  # Election Safety, read off the drawn timeline


def test_04_fault_tally_reports_times_per_run_not_their_sum() -> None:
    runs = [fault_injection_run(n=5, seed=s, duration=1500.0) for s in range(4)]
    tally = fault_tally(runs)
    v = tally["value"]
    assert v["runs"] == 4 and isinstance(v["operations issued"], int)
    assert v["runs with a safety violation"] == 0 and v["runs with a non-linearizable history"] == 0
    times = [r.summary["catch-up time (ms)"] for r in runs if r.summary["caught up"]]
    assert v["catch-up time, slowest run"] == pytest.approx(max(times))  # a maximum, never a sum
    assert v["catch-up time, slowest run"] < sum(times) or len(times) == 1
    for text in tally["shown"]:
        assert not UNROUNDED.search(text) and not NOT_A_NUMBER.search(text), text
    assert tally.loc["runs with a safety violation", "shown"].startswith("0 of 4 (0 %–")  # with its CI
    assert tally.loc["catch-up time, median", "shown"].endswith(" ms")
    with pytest.raises(ValueError, match="runs"):
        fault_tally([])


def test_04_figure8_panels_are_laid_out_readably() -> None:
    from consensuslab.plots.raft import FONT, figure8_panels

    replay = figure8_replay("d", seed=1)
    fig = figure8_panels(replay.states, title="finding")
    drawn = [ax for ax in fig.axes if ax.patches]
    assert len(drawn) == len(replay.states) == 5
    rows = {round(ax.get_position().y0, 2) for ax in drawn}
    assert len(rows) == 2  # two rows of three, not five in one row
    assert fig.get_figwidth() <= 12.5
    assert min(_fontsizes(fig)) >= FONT >= 9
    assert any(ax.get_legend() for ax in fig.axes)  # a legend for the colours and edges
    fig.canvas.draw()
    titles = [ax.title.get_window_extent() for ax in drawn]
    assert not any(a.overlaps(b) for i, a in enumerate(titles) for b in titles[i + 1:])
    plt.close("all")


def test_04_fault_explorer_shows_the_figure_first_and_formats_its_table() -> None:
    from consensuslab.widgets.raft import RaftFaultExplorer, format_summary

    ex = RaftFaultExplorer(seed=1, duration=800.0, ops_per_client=3)
    box = ex.widget()
    kids = list(box.children)
    assert kids.index(ex.output) < kids.index(ex.html)  # the picture stays on top
    shown = format_summary(ex.summary)
    assert shown["linearizable"] in ("yes", "no")
    assert shown["catch-up time"].endswith(" ms") or shown["catch-up time"] == "did not catch up"
    assert not any(NOT_A_NUMBER.search(t) for t in shown.values())
    plt.close("all")


@pytest.fixture(scope="module")
def nb04():
    run = execute_notebook(notebooks_dir() / "04-raft-replication-and-faults.ipynb", quick=True, cell_timeout=120)
    assert run.ok, f"cell {run.failed_cell}: {run.error}"
    return run


def test_04_notebook_prints_its_claims_from_the_results(nb04) -> None:
    text = "\n".join(_texts(nb04))
    s = partition_repair_scenario(n=5, seed=2, commands=6).summary  # the notebook's quick parameters
    assert (f"commands sent to it while cut off: {s['sent to the old leader']}, acknowledged: 0; "
            f"uncommitted entries before healing: {s['uncommitted suffix']}, overwritten after healing: "
            f"{s['replaced']}, applied by any server: 0") in text
    assert "no leader for:" in text and "safety violation: none" in text
    assert re.search(r"Leader Completeness violated at t = \d+ ms", text)
    assert re.search(r"20 runs — safety: 0 with a safety violation, 0 with a non-linearizable history", text)
    for chunk in _texts(nb04):
        assert not UNROUNDED.search(chunk), chunk
        assert not NOT_A_NUMBER.search(chunk), chunk

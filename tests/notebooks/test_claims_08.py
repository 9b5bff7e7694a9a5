"""The claims notebook 08 prints, and the standard its figures are held to (issue 14).

Each test runs the library call the notebook makes, with the notebook's quick parameters, and
asserts what it prints or draws: the Raft history is shown as an overview strip above a zoom
whose window holds the partition and the heal; the stale read's label shows the token it missed
(computed from the checker's result); every figure has a legend entry for every mark, a time
axis with its unit and no overlapping labels; the Jepsen section's verdict counts are printed
and all right. The last test executes the notebook once (quick mode) and reads its output.
"""

from __future__ import annotations

import itertools
import re

import pytest
from figure_checks import legend_texts

from consensuslab.check import KVInput, Operation, check_linearizable
from consensuslab.check.jepsen import porcupine_dir
from consensuslab.cluster import Cluster
from consensuslab.experiments.linearizability import (
    fault_run,
    kv_workload,
    longest_stall,
    missed_writes,
    partition_then_heal,
    reference_verdicts,
    verdict_summary,
)
from consensuslab.notebook_runner import notebooks_dir
from consensuslab.plots.linearizability import (
    headline,
    plot_history,
    plot_history_overview,
)
from consensuslab.plots.sim import labels_drawn

NB08 = notebooks_dir() / "08-linearizability.ipynb"
SEED, KEYS = 1, ("x", "y")  # notebook 08's parameters (quick mode)
LONG_FLOAT = re.compile(r"\d\.\d{5,}")


def _overlaps(ax) -> list[tuple[str, str]]:
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in labels_drawn(ax)]
    return [(a, b) for (a, ba), (b, bb) in itertools.combinations(boxes, 2) if ba.overlaps(bb)]


def _fault_lines(ax, name: str) -> list[float]:
    return [float(ln.get_xdata()[0]) for ln in ax.lines if ln.get_label() == name]


# -- Raft under a partition: overview strip and zoom ----------------------------------------------
@pytest.fixture(scope="module")
def raft_run():
    n, duration = 5, 1500.0  # RAFT_N, RAFT_DURATION (quick); RAFT_PARTITION = (0.3, 0.5)
    raft = Cluster("raft", n=n, seed=SEED, clients=3)
    raft.run_until(lambda: raft.leader() is not None, timeout=3000)
    old = raft.leader()
    minority = [old, (old + 1) % n]
    majority = [i for i in range(n) if i not in minority]
    faults, log = partition_then_heal([minority, majority], 0.3 * duration, 0.5 * duration)
    history = kv_workload(raft, duration, keys=KEYS, faults=faults, seed=SEED)
    return history, check_linearizable(history, "kv"), log


def test_raft_zoom_window_holds_the_partition_and_the_heal(raft_run) -> None:
    history, result, log = raft_run
    assert result.ok is True
    assert [f.action for f in log] == ["partition", "heal"]
    cut, healed = log[0].time, log[1].time
    margin = 0.15 * (healed - cut)  # ZOOM_MARGIN
    fig = plot_history_overview(history, result, window=(cut - margin, healed + margin), faults=log,
                                title=f"Raft stays linearizable: {headline(result)}")
    top, zoom = fig.axes[0], fig.axes[1]
    lo, hi = zoom.get_xlim()
    assert (lo, hi) == pytest.approx((cut - margin, healed + margin))
    assert _fault_lines(zoom, "partition") == [pytest.approx(cut)] and lo < cut < hi
    assert _fault_lines(zoom, "heal") == [pytest.approx(healed)] and lo < healed < hi
    # the overview strip shows the whole history, the zoom window highlighted on it
    t_lo, t_hi = top.get_xlim()
    assert t_lo <= min(op.call for op in history) and t_hi >= max(op.ret for op in history if op.ret)
    assert "zoom window (below)" in legend_texts(top)
    assert f"{len(history)} operations" in top.get_title(loc="left")
    legend = " ".join(legend_texts(zoom))
    for mark in ("in the linearization", "linearization point", "partition", "heal", "network partitioned"):
        assert mark in legend, mark
    assert zoom.get_xlabel() == "time (ms)" and top.get_xlabel() == "time (ms)"
    assert "stays linearizable" in fig.get_suptitle()
    # the zoom holds fewer operations than the whole history: it is not the hairball again
    shown = [op for op in history if op.call <= hi and (op.ret is None or op.ret >= lo)]
    assert len(shown) < len(history)


def test_raft_stall_is_inside_the_partition(raft_run) -> None:
    history, _, log = raft_run
    a, b = longest_stall(history, log[0].time, log[1].time)
    assert log[0].time <= a < b <= log[1].time
    assert not any(op.ret is not None and a < op.ret < b for op in history)


# -- VeSTA: the stale read's missed token is shown --------------------------------------------------
@pytest.fixture(scope="module")
def vesta_run():
    n, duration = 8, 1500.0  # VESTA_N, VESTA_DURATION (quick); VESTA_PARTITION = (0.3, 0.7)
    vesta = Cluster("vesta", n=n, seed=SEED, clients=3, replicas=3, r=1, w=1)
    faults, log = partition_then_heal([range(n // 2), range(n // 2, n)], 0.3 * duration, 0.7 * duration)
    history = kv_workload(vesta, duration, keys=KEYS, faults=faults, seed=SEED)
    return check_linearizable(history, "kv"), log


def test_stale_read_label_shows_the_token_it_missed(vesta_run) -> None:
    result, log = vesta_run
    assert result.ok is False and "stale read" in result.reason
    missed = missed_writes(result)
    (read_id, pairs), = missed.items()
    read = next(op for op in result.unplaceable if id(op) == read_id)
    tokens = [tok for _, tok in pairs]
    assert tokens and all(tok not in read.output for tok in tokens)
    assert all(tok in result.reason for tok in tokens)  # the checker's rule names the same write
    ax = plot_history(result.failure_context(max_ops=14), result, missed=missed, unit="ms", faults=log)
    assert not _overlaps(ax)
    drawn = {t.get_text(): t for t in labels_drawn(ax)}
    read_label = next(text for text in drawn if text.startswith(f"get({read.input.key})→") and "lacks" in text)
    for tok in tokens:
        assert f"lacks {tok}" in read_label
        # the write of that token is labelled, in red, with the token in full
        assert any(text.endswith(f",{tok})") and t.get_color() == drawn[read_label].get_color()
                   for text, t in drawn.items())
    assert ax.get_xlabel() == "time (ms)"
    legend = " ".join(legend_texts(ax))
    for mark in ("longest linearizable prefix", "cannot be placed", "failing point", "linearization point"):
        assert mark in legend, mark


def test_long_values_are_shown_by_their_tail() -> None:
    read = Operation(0, 5, 6, KVInput("get", "x"), "0.1;0.2;0.3;0.4;0.5;1.13;")
    write = Operation(1, 0, 1, KVInput("append", "x", "1.13;"))
    result = check_linearizable([write, read], "kv")
    ax = plot_history([write, read], result)
    assert not _overlaps(ax)
    texts = [t.get_text() for t in labels_drawn(ax)]
    assert any(t.startswith("get(x)→…") and t.endswith("1.13;") for t in texts)


def test_missed_writes_is_sound_on_a_read_that_a_put_explains() -> None:
    """A write overwritten by a later put, which the read starts from, is not missed."""
    h = [Operation(0, 0, 1, KVInput("append", "x", "0.1;")),
         Operation(1, 2, 3, KVInput("put", "x", "1.1;")),
         Operation(2, 4, 5, KVInput("get", "x"), "0.1;")]  # stale: misses the put
    result = check_linearizable(h, "kv")
    assert result.ok is False
    missed = missed_writes(result)
    assert [tok for pairs in missed.values() for _, tok in pairs] == ["1.1;"]
    h2 = h[:2] + [Operation(2, 4, 5, KVInput("get", "x"), "1.1;")]
    assert missed_writes(check_linearizable(h2, "kv")) == {}


def test_nemesis_faults_are_marked_with_a_legend_entry_each() -> None:
    run = fault_run("raft", n=5, seed=0, clients=5, ops=30, loss=0.3, client_timeout=100, op_timeout=400,
                    latency=(1, 40), nemesis_duration=4000, nemesis_interval=(50, 300))
    assert run.faults and all(f.time <= max(op.call for op in run.history) + 3 * 400 for f in run.faults)
    result = check_linearizable(run.history, "kv")
    ax = plot_history(run.history, result, labels=False, unit="ms", faults=run.faults)
    legend = " ".join(legend_texts(ax))
    names = {"partition": "partition", "heal": "heal", "crash": "node crash", "restart": "node restart",
             "set_loss": "loss burst"}
    for f in run.faults:
        assert names.get(f.action, f.action) in legend, f.action
    assert "unknown outcome" in legend


# -- Jepsen: verdict counts, all right ---------------------------------------------------------------
def test_jepsen_verdicts_are_printed_and_all_right() -> None:
    table = reference_verdicts(porcupine_dir())
    assert len(table) == 108  # ships with the repository: no "skipped" on a fresh clone
    summary = verdict_summary(table)
    assert summary.loc["etcd", "verdicts right"] == "102 of 102"
    assert summary.loc["kv", "verdicts right"] == "6 of 6"
    assert summary.loc["etcd", "linearizable (ours)"] == summary.loc["etcd", "linearizable (Porcupine)"] == 23
    text = summary.to_string()
    assert "inf" not in text and "nan" not in text.lower() and not LONG_FLOAT.search(text)
    assert summary["total check time"].str.endswith(" ms").all()


# -- the notebook's printed output ------------------------------------------------------------------
@pytest.fixture(scope="module")
def nb08_output(notebook_run) -> str:
    run = notebook_run(NB08)
    assert run.ok, f"cell {run.failed_cell} failed: {run.error}"
    chunks = []
    for cell in run.nb["cells"]:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                chunks.append(out["text"])
            elif "data" in out and "text/plain" in out["data"]:
                chunks.append(out["data"]["text/plain"])
            elif out.get("output_type") == "error":
                chunks.append(f"ERROR {out['ename']}")
    return "\n".join(chunks)


def test_notebook_prints_its_claims(nb08_output: str) -> None:
    out = nb08_output
    assert "skipped" not in out and "ERROR" not in out
    assert "108 reference histories: our verdict agrees with Porcupine's on 108" in out
    assert "23 of 102 etcd histories are linearizable (Porcupine's tests: 23)" in out
    assert re.search(r"partition \[\d, \d\] \| \[\d, \d, \d\] at \d+ ms, heal at \d+ ms", out)
    assert re.search(r"lacks 2\.12;, which client 2 appended by \d+ ms", out)
    assert "0 undecided" in out
    assert not re.search(r"\binf\b", out)
    tables = [t for t in out.split("\n\n") if "histories" in t]
    assert tables and not any(LONG_FLOAT.search(t) for t in tables)

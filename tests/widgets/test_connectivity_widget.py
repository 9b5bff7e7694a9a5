"""The partial-connectivity explorer re-runs its cell when a dropdown changes, without a kernel."""

from consensuslab.widgets.connectivity import ConnectivityExplorer


def test_dropdowns_rerun_the_selected_cell():
    e = ConnectivityExplorer(trials=2, seed=1, scenario="constrained-election", protocol="raft")
    assert e.summary["outcome"] == "deadlock" and "Raft" in e.html.value
    e.protocol.value = "omnipaxos"
    assert e.summary["protocol"] == "omnipaxos" and e.summary["recovered"] == 1.0
    assert "Omni-Paxos" in e.figure.axes[1].get_title()
    e.scenario.value = "chained"
    assert e.summary["scenario"] == "chained"
    assert "chained" in e.figure.axes[0].get_title()


def test_every_mark_has_a_legend_entry():
    e = ConnectivityExplorer(trials=2, seed=1)
    labels = e.figure.axes[1].get_legend_handles_labels()[1]
    assert any("censored" in s or "cap" in s for s in labels) and any("DKW" in s for s in labels)

"""The simulator explorer reacts to its sliders without a kernel."""

from consensuslab.widgets.sim import NetworkExplorer


def test_explorer_updates_summary_and_figure_when_sliders_move():
    e = NetworkExplorer(seed=1, duration=300.0)
    before, fig = dict(e.summary), e.figure
    assert "loss rate" in e.html.value
    e.loss.value = 0.4
    assert e.summary["loss_rate"] > before["loss_rate"]
    assert e.figure is not fig
    sent = e.summary["sent"]
    e.n.value = 8
    assert e.summary["sent"] != sent
    e.latency.value = e.latency.options[-1]
    assert e.summary["delay_p99"] != before["delay_p99"]


def test_explorer_figure_has_a_title_that_follows_the_controls():
    e = NetworkExplorer(seed=1, duration=300.0)
    title = e.figure.get_suptitle()
    assert "loss 10%" in title and "5 nodes" in title and f"of {e.summary['sent']:,} messages" in title
    e.loss.value = 0.3
    assert "loss 30%" in e.figure.get_suptitle()

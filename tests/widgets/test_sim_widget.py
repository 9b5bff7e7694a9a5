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


def test_the_figure_is_the_output_areas_state_not_a_captured_display():
    """Explorer.show replaces the Output widget's ``outputs`` in one state update (no ``with
    output:`` capture, no ``clear_output(wait=True)``): captured output stalled Voilà's
    server-side execution of notebook 01's explorer cell at "Executing 24 of 25" in about half of
    first renders on the loaded 2-core machine (voila-dashboards/voila#1428). The area holds
    exactly one figure, re-drawn when a slider moves."""
    import matplotlib

    matplotlib.use("Agg")
    from IPython.core.interactiveshell import InteractiveShell

    formatter = InteractiveShell.instance().display_formatter
    png = formatter.formatters["image/png"]
    png.for_type_by_name("matplotlib.figure", "Figure", lambda fig: b"PNG:" + fig.get_suptitle().encode())
    try:
        e = NetworkExplorer(seed=1, duration=300.0)
        assert e.output.msg_id == ""  # never captured
        (out,) = e.output.outputs
        assert out["output_type"] == "display_data" and out["data"]["image/png"] == b"PNG:" + e.figure.get_suptitle().encode()
        e.loss.value = 0.3
        (out,) = e.output.outputs
        assert b"loss 30%" in out["data"]["image/png"]
    finally:
        png.pop("matplotlib.figure.Figure", None)

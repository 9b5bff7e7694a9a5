"""``consensuslab.plots.sim.sequence_chart``: the time axis follows the messages drawn."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from consensuslab.plots.sim import sequence_chart


def _messages(t0: float) -> pd.DataFrame:
    return pd.DataFrame({
        "src": [0, 1, 0], "dst": [1, 2, 2], "kind": ["A", "B", "C"],
        "sent": [t0, t0 + 10.0, t0 + 20.0], "delivered": [t0 + 5.0, t0 + 18.0, np.nan],
        "fate": ["delivered", "delivered", "dropped"], "dropped": [np.nan, np.nan, t0 + 20.0],
    })


def test_axis_starts_just_above_the_first_send() -> None:
    ax = sequence_chart(_messages(1000.0))
    bottom, top = ax.get_ylim()
    assert bottom > top  # time runs down
    assert 990.0 <= top < 1000.0  # a small margin above the first send, not 0
    assert 1020.0 < bottom <= 1022.0  # a small margin below the last event
    plt.close(ax.figure)


def test_axis_keeps_zero_when_the_chart_starts_at_zero() -> None:
    ax = sequence_chart(_messages(0.0))
    bottom, top = ax.get_ylim()
    assert top == 0.0 and bottom > 18.0
    plt.close(ax.figure)


def test_axis_starts_at_zero_when_the_first_send_is_close_to_it() -> None:
    ax = sequence_chart(_messages(0.5))
    assert ax.get_ylim()[1] == 0.0
    plt.close(ax.figure)


def test_in_flight_message_is_an_open_arrow_not_a_loss() -> None:
    msgs = _messages(0.0)
    msgs.loc[2, ["fate", "dropped"]] = ["in flight", np.nan]
    ax = sequence_chart(msgs)
    marks = [ln for ln in ax.lines if ln.get_marker() not in ("None", None, "")]
    assert not marks  # nothing drawn as lost
    assert "C" in [t.get_text() for t in ax.texts]
    plt.close(ax.figure)


def test_single_instant_gets_a_readable_axis() -> None:
    ax = sequence_chart(_messages(5.0).head(1).assign(delivered=np.nan, fate="in flight"))
    bottom, top = ax.get_ylim()
    assert bottom - top > 0.5  # not a 1e-9 sliver
    plt.close(ax.figure)

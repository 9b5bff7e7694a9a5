"""Measuring the simulated network itself: delays, loss, reordering (notebook 01).

`network_profile` runs the :class:`~consensuslab.sim.example.Chatter` load generator on
the simulator and measures, from the trace, what the network did to the messages: the delay
of every delivered message, the fraction lost, and the fraction that arrived out of send order
on its link (reordering is not a separate knob: it falls out of random latency).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from consensuslab._validate import check_float, check_int, check_probability
from consensuslab.experiments.registry import Result, experiment
from consensuslab.sim import Exponential, Latency, LogNormal, Pareto, Simulator, Uniform
from consensuslab.sim.example import Chatter
from consensuslab.stats import wilson

__all__ = ["network_profile", "reordered_fraction", "LATENCY_EXAMPLES"]

#: Example delay distributions with similar medians (~10 ms) and very different tails.
LATENCY_EXAMPLES: dict[str, Latency] = {
    "uniform 5-15": Uniform(5.0, 15.0),
    "exponential (mean 5) + 5": Exponential(5.0).shifted(5.0),
    "lognormal (mu=ln 10, sigma=0.5)": LogNormal(float(np.log(10.0)), 0.5),
    "pareto (xm=7, alpha=2)": Pareto(7.0, 2.0),
}


def reordered_fraction(messages: pd.DataFrame) -> float:
    """Fraction of delivered messages that arrived before an earlier-sent message on their link."""
    d = messages[messages["fate"] == "delivered"].sort_values(["src", "dst", "sent"], kind="stable")
    if d.empty:
        return 0.0
    out = 0
    for _, g in d.groupby(["src", "dst"], sort=False):
        arrivals = g["delivered"].to_numpy()
        # a message is reordered if some later-sent message on the link arrived before it
        later_min = np.minimum.accumulate(arrivals[::-1])[::-1]
        out += int(np.sum(arrivals[:-1] > later_min[1:]))
    return out / len(d)


def network_profile(
    latency: Latency | float | Sequence[float] = (5.0, 15.0),
    loss: float = 0.0,
    duplicate: float = 0.0,
    n: int = 5,
    duration: float = 2000.0,
    seed: int = 0,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Run the Chatter load generator for ``duration`` ms and measure the network.

    Returns
    -------
    summary : dict
        ``sent``, ``delivered``, ``lost``, ``loss_rate`` with its Wilson 95% interval,
        ``delay_median``, ``delay_p99``, ``reordered`` (fraction of delivered messages).
    messages : DataFrame
        ``trace.messages()`` of the run (one row per message copy).
    """
    n = check_int("n", n, 2)
    check_probability("loss", loss)
    check_float("duration", duration, 0.0, low_open=True)
    sim = Simulator(Chatter, n=n, seed=seed, latency=latency, loss=loss, duplicate=duplicate)
    sim.run_for(duration)
    msgs = sim.trace.messages()
    delivered = msgs[msgs["fate"] == "delivered"]
    delays = (delivered["delivered"] - delivered["sent"]).to_numpy()
    lost = int((msgs["fate"] == "loss").sum())
    sent = int(len(msgs))
    lo, hi = wilson(lost, sent) if sent else (0.0, 1.0)
    summary = {
        "sent": sent,
        "delivered": int(len(delivered)),
        "lost": lost,
        "loss_rate": lost / sent if sent else 0.0,
        "loss_rate_lo": lo,
        "loss_rate_hi": hi,
        "delay_median": float(np.median(delays)) if len(delays) else float("nan"),
        "delay_p99": float(np.quantile(delays, 0.99)) if len(delays) else float("nan"),
        "reordered": reordered_fraction(msgs),
    }
    return summary, msgs


@experiment("simulator-network", "What the simulated network does to messages, per latency distribution")
def simulator_network(quick: bool = False, seed: int = 0, executor: Any = None) -> Result:
    duration = 500.0 if quick else 5000.0
    rows = []
    for name, dist in LATENCY_EXAMPLES.items():
        for loss in (0.0, 0.1):
            summary, _ = network_profile(dist, loss=loss, duration=duration, seed=seed)
            rows.append({"latency": name, "loss": loss, **summary})
    return Result(table=pd.DataFrame(rows), params={"duration": duration, "n": 5})

"""Measuring the simulated network itself: delays, loss, reordering (notebook 01).

`network_profile` runs the :class:`~consensuslab.sim.example.Chatter` load generator on
the simulator and measures, from the trace, what the network did to the messages: the delay
of every delivered message, the fraction lost, and the fraction that arrived out of send order
on its link (reordering is not a separate knob: it falls out of random latency).

`delay_table` compares each example distribution's exact median and 99th percentile (from its
quantile function) with a sample's; `delay_ccdf` is the empirical complementary CDF of a sample
with a pointwise Clopper–Pearson interval (``scipy.stats.beta``), what the tail plot draws;
`profile_table`, `schedule_table` and `trace_table` format `network_profile` rows, a nemesis
schedule and trace records for people (counts as integers, rates as %, times in ms, nodes and
partitions spelled out).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as _st

from consensuslab._validate import check_float, check_int, check_probability
from consensuslab.experiments.registry import Result, experiment
from consensuslab.sim import Exponential, Latency, LogNormal, Pareto, Simulator, Uniform
from consensuslab.sim.example import Chatter
from consensuslab.stats import wilson

__all__ = ["network_profile", "reordered_fraction", "LATENCY_EXAMPLES", "delay_ccdf", "delay_table", "profile_table",
           "quantile_ci", "schedule_table", "trace_table"]

#: Example delay distributions with similar medians (~10 ms) and very different tails.
LATENCY_EXAMPLES: dict[str, Latency] = {
    "uniform 5-15": Uniform(5.0, 15.0),
    "exponential (mean 5) + 5": Exponential(5.0).shifted(5.0),
    "lognormal (mu=ln 10, sigma=0.5)": LogNormal(float(np.log(10.0)), 0.5),
    "pareto (xm=7, alpha=2)": Pareto(7.0, 2.0),
}


def delay_ccdf(samples: Sequence[float] | np.ndarray, confidence: float = 0.95) -> pd.DataFrame:
    """Empirical complementary CDF ``P(X >= x)`` at every distinct sample value, with a pointwise
    Clopper–Pearson ``confidence`` interval.

    Returns
    -------
    DataFrame
        Columns ``x`` (ascending, the last row is the largest sample), ``ccdf`` (``k / n`` with
        ``k`` the samples ``>= x``; the last row is ``1/n`` times its multiplicity), ``lower``,
        ``upper``.

    Examples
    --------
    >>> delay_ccdf([1.0, 2.0, 2.0, 4.0])[["x", "ccdf"]].values.tolist()
    [[1.0, 1.0], [2.0, 0.75], [4.0, 0.25]]
    """
    x = np.sort(np.asarray(samples, dtype=float).ravel())
    if x.size == 0:
        raise ValueError("`samples` must hold at least 1 value; got 0.")
    if not np.all(np.isfinite(x)):
        raise ValueError("`samples` must be finite.")
    check_float("confidence", confidence, 0.0, 1.0, low_open=True, high_open=True)
    values, first = np.unique(x, return_index=True)
    n = x.size
    k = n - first
    alpha = 1.0 - confidence
    lower = _st.beta.ppf(alpha / 2, k, n - k + 1)
    with np.errstate(invalid="ignore"):
        upper = np.where(k == n, 1.0, _st.beta.ppf(1 - alpha / 2, k + 1, np.maximum(n - k, 1)))
    return pd.DataFrame({"x": values, "ccdf": k / n, "lower": lower, "upper": upper})


def delay_table(samples: dict[str, np.ndarray], dists: dict[str, Latency] | None = None) -> pd.DataFrame:
    """Per distribution: the exact median and 99th percentile (from ``ppf``) beside the sample's
    median and 99th percentile (with distribution-free 95% intervals, :func:`quantile_ci`),
    mean and maximum, formatted in ms.

    ``dists`` defaults to :data:`LATENCY_EXAMPLES`.
    """
    dists = LATENCY_EXAMPLES if dists is None else dists
    rows = []
    for name, s in samples.items():
        d = dists.get(name)
        q50, q99 = (float(v) for v in d.ppf(np.array([0.5, 0.99]))) if d is not None else (float("nan"),) * 2
        rows.append({"distribution": name, "median (exact)": _ms(q50), "median (sample, 95% CI)": _ci(s, 0.5),
                     "p99 (exact)": _ms(q99), "p99 (sample, 95% CI)": _ci(s, 0.99),
                     "mean (sample)": _ms(np.mean(s)), "max (sample)": _ms(np.max(s)), "samples": f"{len(s):,}"})
    return pd.DataFrame(rows).set_index("distribution")


def _ms(v: float) -> str:
    return "–" if not np.isfinite(v) else f"{v:.1f} ms"


def _ci(s: np.ndarray, q: float) -> str:
    lo, hi = quantile_ci(s, q)
    return f"{np.quantile(s, q):.1f} ms ({lo:.1f}–{hi:.1f})"


def _pct(v: float, digits: int = 1) -> str:
    return f"{100 * v:.{digits}f}%"


def profile_table(profile: pd.DataFrame) -> pd.DataFrame:
    """`network_profile` summaries (one row each, indexed by name) formatted for people."""
    out = pd.DataFrame(index=profile.index)
    out["sent"] = profile["sent"].map(lambda v: f"{int(v):,}")
    out["delivered"] = profile["delivered"].map(lambda v: f"{int(v):,}")
    out["loss rate (95% CI)"] = [f"{_pct(r.loss_rate)} ({_pct(r.loss_rate_lo)}–{_pct(r.loss_rate_hi)})"
                                 for r in profile.itertuples()]
    for key, name in (("delay_median", "median delay"), ("delay_p99", "p99 delay")):
        if f"{key}_lo" in profile:
            out[f"{name} (95% CI)"] = [f"{v:.1f} ms ({lo:.1f}–{hi:.1f})" for v, lo, hi in
                                       zip(profile[key], profile[f"{key}_lo"], profile[f"{key}_hi"])]
        else:
            out[name] = profile[key].map(_ms)
    if "reordered_lo" in profile:
        out["reordered (95% CI)"] = [f"{_pct(r.reordered)} ({_pct(r.reordered_lo)}–{_pct(r.reordered_hi)})"
                                     for r in profile.itertuples()]
    else:
        out["reordered"] = profile["reordered"].map(_pct)
    return out


def _groups(groups: Any) -> str:
    return " | ".join("{" + ", ".join(str(int(i)) for i in g) + "}" for g in groups)


def schedule_table(schedule: Sequence[Any]) -> pd.DataFrame:
    """A nemesis schedule (:class:`~consensuslab.sim.nemesis.FaultEvent` list) for people:
    the time in ms, the action and what it acts on (``node 3``, ``{1, 4} | {0, 2, 3}``, ``27.5%``)."""
    rows = []
    for e in schedule:
        match e.action:
            case "crash" | "restart" | "isolate":
                what = f"node {int(e.args[0])}"
            case "partition":
                what = _groups(e.args)
            case "set_loss" | "set_duplicate":
                what = _pct(float(e.args[0]))
            case "cut_link":
                what = f"{int(e.args[0])} → {int(e.args[1])}"
            case _:
                what = ", ".join(str(a) for a in e.args) or "–"
        rows.append({"time": f"{e.time:.0f} ms", "action": e.action, "on": what})
    return pd.DataFrame(rows, columns=["time", "action", "on"])


def trace_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Trace records (``Trace.to_frame()``) for people: times in ms with two decimals, missing
    nodes as ``–``, a message's content and a drop's reason spelled out."""
    def detail(row: Any) -> str:
        d = row.detail
        if row.event == "drop" and isinstance(d, tuple) and len(d) == 2:
            return f"{d[0]}: {d[1]!r}"
        return "–" if d is None else repr(d) if not isinstance(d, str) else d

    def node(v: Any) -> str:
        return "–" if pd.isna(v) else str(int(v))

    return pd.DataFrame({
        "time": frame["time"].map(lambda t: f"{t:.2f} ms"), "event": frame["event"],
        "node": frame["node"].map(node), "peer": frame["peer"].map(node), "kind": frame["kind"],
        "detail": [detail(r) for r in frame.itertuples(index=False)],
    }, index=frame.index)


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
        ``delay_median``, ``delay_p99``, each with its distribution-free 95% interval
        (``delay_p99_lo``, ``delay_p99_hi``, ... :func:`quantile_ci`), ``reordered`` (fraction of
        delivered messages) with its Wilson 95% interval.
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
    for key, q in (("delay_median", 0.5), ("delay_p99", 0.99)):
        summary[f"{key}_lo"], summary[f"{key}_hi"] = quantile_ci(delays, q) if len(delays) else (np.nan, np.nan)
    k = round(summary["reordered"] * len(delivered))
    summary["reordered_lo"], summary["reordered_hi"] = wilson(k, len(delivered)) if len(delivered) else (0.0, 1.0)
    return summary, msgs


def quantile_ci(samples: Sequence[float] | np.ndarray, q: float, confidence: float = 0.95) -> tuple[float, float]:
    """Distribution-free ``confidence`` interval of the ``q`` quantile: the order statistics
    ``x_(l)`` and ``x_(u)`` whose ranks are the binomial ``(n, q)`` quantiles (``scipy.stats.binom``).

    Examples
    --------
    >>> lo, hi = quantile_ci(np.arange(1.0, 1001.0), 0.5)
    >>> bool(lo < 500.5 < hi)
    True
    """
    x = np.sort(np.asarray(samples, dtype=float).ravel())
    n = x.size
    if n == 0:
        raise ValueError("`samples` must hold at least 1 value; got 0.")
    check_float("q", q, 0.0, 1.0)
    alpha = 1.0 - check_float("confidence", confidence, 0.0, 1.0, low_open=True, high_open=True)
    lo = int(_st.binom.ppf(alpha / 2, n, q))  # rank (1-based) of the lower bound, clipped below
    hi = int(_st.binom.ppf(1 - alpha / 2, n, q)) + 1
    return float(x[max(lo, 1) - 1]), float(x[min(hi, n) - 1])


@experiment("simulator-network", "What the simulated network does to messages, per latency distribution")
def simulator_network(quick: bool = False, seed: int = 0, executor: Any = None) -> Result:
    duration = 500.0 if quick else 5000.0
    rows = []
    for name, dist in LATENCY_EXAMPLES.items():
        for loss in (0.0, 0.1):
            summary, _ = network_profile(dist, loss=loss, duration=duration, seed=seed)
            rows.append({"latency": name, "loss": loss, **summary})
    return Result(table=pd.DataFrame(rows), params={"duration": duration, "n": 5})

"""VeSTA under clock skew: last-writer-wins loses acknowledged updates when clocks disagree.

Theory of operation
-------------------
VeSTA stamps every write with a hybrid logical clock read on the coordinator's *own* clock
(:mod:`consensuslab.protocols.vesta`), and the simulator gives each node its own clock
(:mod:`consensuslab.sim.simulator`). :func:`lww_skew_trial` offsets each node's clock by a
uniform draw in ``[-skew, skew]`` ms (``Simulator.jump_clock`` at time 0, from the trial's own
stream). Two writers, each talking to its own coordinator (two distinct nodes drawn at random),
put ``1, 2, 3, ...`` to one key *in turn*: each put starts only after the previous one was
acknowledged, so they are not concurrent and the last one acknowledged must win. After each
acknowledgement an observer reads the converged value (the newest version any node holds —
what read repair and anti-entropy would spread), without sending a message. If it is not the
put just acknowledged, that put is a **lost update**: its stamp was smaller than the previous
put's, because its coordinator's clock was behind by more than the time between the two puts
and its HLC had not seen the newer stamp. LWW keeps no siblings, so the write is silently gone.

The HLC protects a coordinator that is also a replica of the key: it receives every write of
the key and its clock catches up (HLC receive rule). A coordinator outside the replica set only
ever sends writes and so never learns the other's stamps. The rate is lost puts over
acknowledged puts; it is zero without skew and grows once the skew exceeds the time between
two puts' stamps (about a client round trip), towards the share of puts whose coordinator is
not a replica and lags the other.

First-order model (:func:`lww_loss_model`): a put is lost when its coordinator is not a
replica (probability ``q = (n - N) / n``) and the previous coordinator's clock is ahead of its
own by more than the gap ``g`` between their stamps. With offsets uniform on ``[-s, s]`` the
difference is triangular on ``[-2s, 2s]``, so the rate is ``q (2s - g)^2 / (8 s^2)`` for
``g < 2s`` and 0 otherwise. We take ``g`` = the median put latency (a client round trip through
the coordinator and a write quorum), which ignores its spread.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import Executor
from typing import Any

import numpy as np
import pandas as pd

from consensuslab._validate import check_float, check_int
from consensuslab.cluster import Cluster
from consensuslab.experiments.registry import Result, experiment
from consensuslab.sim.simulator import AUX, stream
from consensuslab.stats import summarize

__all__ = ["lww_skew_trial", "lww_skew_study", "lww_skew_table", "lww_loss_model"]


def lww_skew_trial(seed: int, skew: float, puts: int = 30, n: int = 5, replicas: int = 3, r: int = 2,
                   w: int = 2, latency: tuple[float, float] = (5.0, 15.0)) -> dict[str, Any]:
    """One trial (see the module notes).

    Returns
    -------
    dict
        ``lost`` and ``acked`` puts, ``coordinators`` (the two nodes), ``replica_coordinators``
        (how many of them replicate the key), ``offset_gap`` (the first coordinator's clock
        minus the second's, ms) and ``put_latency`` (median, ms).
    """
    seed = check_int("seed", seed, 0)
    skew = check_float("skew", skew, 0.0)
    puts = check_int("puts", puts, 1)
    c = Cluster("vesta", n=n, seed=seed, latency=latency, clients=2, replicas=replicas, r=r, w=w,
                client_timeout=400.0, op_timeout=2000.0)
    rng = stream(seed, AUX, 0x6C7777)
    offsets = rng.uniform(-skew, skew, size=n) if skew > 0 else np.zeros(n)
    for i, off in enumerate(offsets):
        if off:
            c.jump_clock(i, float(off))
    coords = [int(x) for x in rng.choice(n, size=2, replace=False)]
    for client, node in enumerate(coords):
        c.pin_client(client, node)
    c.run_for(1.0)
    reps = set(c.node(coords[0]).replicas_of("x"))
    lost = acked = 0
    put_times = []
    for k in range(1, puts + 1):
        op = c.put("x", k, client=(k - 1) % 2)
        if not op.ok:
            continue
        acked += 1
        put_times.append(float(op.ret if op.ret is not None else op.call) - op.call)
        nodes: list[Any] = list(c.sim.nodes)  # VestaNodes, None while down
        held = [v for nd in nodes if nd is not None and (v := nd.store.get("x")) is not None]
        newest = max(held, key=lambda v: v.stamp) if held else None
        if newest is None or newest.value != k:
            lost += 1
    return {"seed": seed, "skew": skew, "lost": lost, "acked": acked, "coordinators": tuple(coords),
            "replica_coordinators": sum(x in reps for x in coords),
            "offset_gap": float(offsets[coords[0]] - offsets[coords[1]]),
            "put_latency": float(np.median(put_times)) if put_times else float("nan")}


def lww_loss_model(skew: Any, gap: float, n: int = 5, replicas: int = 3) -> np.ndarray:
    """The first-order lost-update rate ``q (2s - g)^2 / (8 s^2)`` (see the module notes)."""
    s = np.asarray(skew, dtype=float)
    q = (check_int("n", n, 1) - check_int("replicas", replicas, 1, n)) / n
    g = check_float("gap", gap, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = q * np.clip(2 * s - g, 0.0, None) ** 2 / (8 * s**2)
    return np.where(s > 0, rate, 0.0)


def _trial(kw: dict[str, Any]) -> dict[str, Any]:
    return lww_skew_trial(**kw)


def lww_skew_study(skews: Iterable[float] = (0.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0), trials: int = 10,
                   seed: int = 0, executor: Executor | None = None, **kwargs: Any) -> pd.DataFrame:
    """:func:`lww_skew_trial` over ``skews`` x ``trials`` seeds (the same seeds at every skew)."""
    jobs = [dict(seed=seed + k, skew=float(s), **kwargs) for s in skews for k in range(check_int("trials", trials, 1))]
    rows = list(executor.map(_trial, jobs)) if executor is not None else [_trial(j) for j in jobs]
    return pd.DataFrame(rows)


def lww_skew_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Per skew: the lost-update rate (mean over trials of lost / acknowledged puts) with a 95 %
    bootstrap interval over trials — the trials, not the puts, are independent: one trial's
    coordinators and clocks decide all its puts — and the pooled counts."""
    out = []
    for skew, g in rows.groupby("skew", sort=True):
        frac = (g["lost"] / g["acked"].clip(lower=1)).to_numpy(dtype=float)
        if len(frac) > 1 and np.ptp(frac) > 0:
            s = summarize(frac)
            lo, hi = float(s["mean_lo"]), float(s["mean_hi"])
        else:
            lo = hi = float(frac.mean())
        out.append({"skew": float(skew), "trials": len(g), "acked": int(g["acked"].sum()),
                    "lost": int(g["lost"].sum()), "trials_with_loss": int((g["lost"] > 0).sum()),
                    "rate": float(frac.mean()), "rate_lo": lo, "rate_hi": hi,
                    "put_latency": float(g["put_latency"].median())})
    return pd.DataFrame(out)


@experiment("vesta-lww-skew", "VeSTA: LWW lost updates as a function of clock skew (node clocks)")
def vesta_lww_skew(quick: bool = False, seed: int = 0, executor: Executor | None = None) -> Result:
    trials = 4 if quick else 30
    return Result(lww_skew_table(lww_skew_study(trials=trials, seed=seed, executor=executor)),
                  params={"trials": trials})

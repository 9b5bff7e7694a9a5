"""Measurements on live clusters: election downtime after ``kill -9``, loopback latency, fsync time.

Theory of operation
-------------------
:func:`live_election_downtime` repeats, on a live n-node Raft cluster
(:class:`~consensuslab.live.cluster.LocalCluster`), the trial that
:mod:`consensuslab.experiments.election` simulates: wait for a stable leader of term ``T``, wait a
random fraction of a heartbeat interval, ``kill -9`` the leader at ``t_kill`` (``time.monotonic``),
and measure the time until **every survivor has heard a new leader of a term > T** (the Raft
dissertation's §9.4 measure: "until the other servers received the new leader's first
heartbeat"). Each runtime timestamps the moment its node's ``leader_id`` changes with the same
``CLOCK_MONOTONIC`` (:meth:`~consensuslab.live.runtime.NodeRuntime.status` returns those events), so
the measure does not depend on how often the survivors are polled. The killed node is then
restarted and allowed to rejoin before the next kill. A trial that has not converged after
``cap`` ms is censored (``downtime = inf``), as in the simulation.

:func:`loopback_latency` and :func:`fsync_time` measure the two constants the simulation needs to
model this machine (one-way UDP latency through the runtime's encoding, and the durable-write
time of :class:`~consensuslab.live.storage.Storage`), so :func:`simulated_twin` can run the same
configuration in the simulator for a like-for-like comparison (two-sample KS test in
:func:`compare_live_and_simulated`).
"""

from __future__ import annotations

import math
import socket
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from consensuslab._validate import check_float, check_int, check_range_pair
from consensuslab.live.cluster import LocalCluster
from consensuslab.live.storage import Storage
from consensuslab.live.wire import envelope, open_envelope
from consensuslab.protocols.kv import Command

__all__ = ["live_election_downtime", "loopback_latency", "fsync_time", "simulated_twin", "compare_live_and_simulated"]


def loopback_latency(samples: int = 200) -> float:
    """Median one-way latency (ms) of an encoded message over UDP on 127.0.0.1 (half a round trip)."""
    samples = check_int("samples", samples, 1)
    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    a.bind(("127.0.0.1", 0))
    b.bind(("127.0.0.1", 0))
    a.settimeout(1.0)
    b.settimeout(1.0)
    msg = Command(1, 1, "put", "k", "v")
    out = []
    try:
        for _ in range(samples):
            t0 = time.perf_counter()
            a.sendto(envelope("msg", src=0, m=msg), b.getsockname())
            data, addr = b.recvfrom(1 << 16)
            open_envelope(data)
            b.sendto(data, addr)
            open_envelope(a.recvfrom(1 << 16)[0])
            out.append((time.perf_counter() - t0) * 1000 / 2)
    finally:
        a.close()
        b.close()
    return float(np.median(out))


def fsync_time(samples: int = 50, folder: str | None = None) -> float:
    """Median time (ms) of one durable :meth:`Storage.persist` of a small record."""
    samples = check_int("samples", samples, 1)
    with tempfile.TemporaryDirectory(dir=folder) as d:
        st = Storage(Path(d) / "probe.log", fsync=True)
        st.load()
        out = []
        for k in range(samples):
            t0 = time.perf_counter()
            st.persist({"term": k, "voted_for": None})
            out.append((time.perf_counter() - t0) * 1000)
        st.close()
    return float(np.median(out))


def _first_new_leader(events: Sequence[Any], old: int, term: int, since: float) -> float | None:
    for t, name, data in events:
        if name == "leader" and t >= since and data.get("leader") not in (None, old) and (data.get("term") or 0) > term:
            return float(t)
    return None


def live_election_downtime(
    election_timeout: tuple[float, float] = (150.0, 300.0),
    kills: int = 20,
    *,
    n: int = 5,
    heartbeat: float | None = None,
    cap: float = 10_000.0,
    fsync: bool = True,
    seed: int = 0,
    root: str | None = None,
) -> pd.DataFrame:
    """Kill the leader of a live n-node Raft cluster ``kills`` times; one row per kill.

    Columns: ``range`` ("lo-hi ms"), ``kill``, ``downtime`` (ms, ``inf`` if censored), ``censored``,
    ``old_term``, ``new_term``, ``new_leader``.
    """
    lo, hi = check_range_pair("election_timeout", election_timeout, 0.0, strict_order=False)
    kills = check_int("kills", kills, 1)
    n = check_int("n", n, 3, 15)
    cap = check_float("cap", cap, 0.0, low_open=True)
    hb = lo / 2 if heartbeat is None else check_float("heartbeat", heartbeat, 0.0, low_open=True)
    rng = np.random.default_rng(seed)
    rows = []
    with tempfile.TemporaryDirectory(dir=root) as d:
        opts = {"election_timeout": [lo, hi], "heartbeat": hb}
        with LocalCluster(n, "raft", d, options=opts, fsync=fsync) as c:
            for k in range(kills):
                lead = _stable_leader(c, timeout=10 + cap / 1000)
                st = c.status(lead) or {}
                term = int(st.get("term") or 0)
                time.sleep(float(rng.uniform(0, hb)) / 1000)
                t_kill = time.monotonic()
                c.crash(lead)
                survivors = [i for i in range(n) if i != lead]
                heard: dict[int, float] = {}
                deadline = t_kill + cap / 1000
                while len(heard) < len(survivors) and time.monotonic() < deadline:
                    for i in survivors:
                        if i in heard:
                            continue
                        s = c.status(i)
                        t = _first_new_leader(s["events"], lead, term, t_kill) if s else None
                        if t is not None:
                            heard[i] = t
                    time.sleep(0.01)
                censored = len(heard) < len(survivors)
                downtime = math.inf if censored else (max(heard.values()) - t_kill) * 1000
                new = c.leader()
                rows.append({"range": f"{lo:g}-{hi:g}ms", "lo": lo, "hi": hi, "kill": k, "downtime": downtime,
                             "censored": censored, "old_term": term,
                             "new_term": (c.status(new) or {}).get("term") if new is not None else None,
                             "new_leader": new})
                c.restart(lead)
    return pd.DataFrame(rows)


def _stable_leader(c: LocalCluster, timeout: float) -> int:
    """A leader every live node agrees on (waits up to ``timeout`` s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lead = c.leader()
        if lead is not None:
            views = [c.status(i) for i in range(c.n)]
            if all(v is not None and v.get("leader") == lead for v in views):
                return lead
        time.sleep(0.02)
    raise TimeoutError(f"no stable leader within {timeout:.0f} s")


def simulated_twin(election_timeout: tuple[float, float], trials: int, latency: float, disk: float,
                   n: int = 5, seed: int = 0) -> pd.DataFrame:
    """The simulator's election trials for the same configuration (identical logs: ``ineligible=0``)."""
    from consensuslab.experiments.election import election_downtime

    lo, hi = check_range_pair("election_timeout", election_timeout, 0.0, strict_order=False)
    return election_downtime([(lo, hi)], trials, n=n, latency=latency, disk=disk,
                             ineligible=0, seed=seed, executor="inline")


def compare_live_and_simulated(live: pd.DataFrame, sim: pd.DataFrame) -> dict[str, float]:
    """KS statistic and p-value of live vs simulated downtimes (finite values), and their medians."""
    from consensuslab.stats import compare

    a = live.loc[np.isfinite(live["downtime"]), "downtime"].to_numpy()
    b = sim.loc[np.isfinite(sim["downtime"]), "downtime"].to_numpy()
    res = compare(a, b)
    return {"ks": float(res.statistic), "p": float(res.pvalue), "live_median": float(np.median(a)),
            "sim_median": float(np.median(b)), "live_n": int(len(a)), "sim_n": int(len(b))}

"""Raft reads outside the log: what ReadIndex costs, and when leases serve stale values.

Theory of operation
-------------------
*Stale reads* (:func:`stale_read_trial`). Five servers with CheckQuorum and Pre-Vote; one
client writes ``1, 2, 3, ...`` to ``x`` back to back, first at the leader ``L``, and three
clients pinned to ``L`` (co-located with it, or behind a sticky load balancer:
:meth:`~consensuslab.cluster.Cluster.pin_client`) read ``x`` back to back. At a random moment
``L`` is cut off from every other server — clients still reach it, as in Jepsen's partitions
of the cluster's own links — under one of three clock faults:

``"drift"``
    ``L``'s clock has run slow from the start: the others' clocks outrun it by the rate
    ``drift`` (``L``'s rate is ``1 / (1 + drift)``);
``"gc_pause"``
    ``L`` is also frozen for ``pause`` ms with its clock running (a stop-the-world GC pause);
``"vm_pause"``
    ``L`` is also frozen for ``pause`` ms with its clock stopped (a suspended VM).

The others elect a new leader, the writer moves there and commits new values; the readers keep
asking ``L``. With ``read_mode="lease"`` ``L`` answers from its lease — measured on its own
clock — and the answer is stale if a newer write was acknowledged before the read was invoked
(counted by :func:`count_stale_reads`); the linearizability checker flags such a history. With
``read_mode="read_index"`` ``L`` must first hear from a majority, which it cannot: no stale read.

The analytic bound (:func:`lease_bound`): a follower that heard a round sent at ``s`` refuses
votes until ``election_timeout[0]`` has passed on its clock, after ``s``; the leader trusts its
lease until ``s + lease`` on its clock. If the followers' clocks outrun the leader's by the rate
``drift``, the lease is safe when ``lease * (1 + drift) < election_timeout[0]``, i.e. for
``drift < election_timeout[0] / lease - 1``. It is sufficient, not necessary: a stale read also
needs an election, a committed write and a read inside the overhang, so stale reads appear a
little beyond it.

*Cost* (:func:`read_cost_trial`): on a calm network, latency per read and messages per read for
each mode (the messages the cluster sends while reading, minus those of an idle run of the same
length and seed, per read).

References
----------
D. Ongaro, "Consensus: Bridging Theory and Practice", 2014, §6.4 (ReadIndex) and §6.4.1
(leases). K. Kingsbury, "Jepsen: etcd and Consul", 2014, and hashicorp/raft issue #108 (stale
reads from leader leases).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import Executor
from typing import Any

import numpy as np
import pandas as pd

from consensuslab._validate import check_choice, check_float, check_int
from consensuslab.check import check_linearizable
from consensuslab.cluster import Cluster
from consensuslab.experiments.registry import Result, experiment
from consensuslab.sim.simulator import AUX, stream
from consensuslab.stats import wilson

__all__ = [
    "ELECTION_TIMEOUT",
    "lease_bound",
    "count_stale_reads",
    "stale_read_trial",
    "stale_read_study",
    "pause_study",
    "stale_read_table",
    "read_cost_trial",
    "read_cost_table",
]

#: The election timeout of the read experiments, ms (the Raft paper's 150-300 ms).
ELECTION_TIMEOUT = (150.0, 300.0)
_FAULTS = ("drift", "gc_pause", "vm_pause")


def lease_bound(lease: float, election_timeout: float = ELECTION_TIMEOUT[0]) -> float:
    """The largest drift rate for which a lease of ``lease`` ms is safe: ``election_timeout /
    lease - 1`` (``lease * (1 + drift) < election_timeout``)."""
    lease = check_float("lease", lease, 0.0, low_open=True)
    return check_float("election_timeout", election_timeout, 0.0, low_open=True) / lease - 1.0


def count_stale_reads(operations: Sequence[Any], key: str = "x") -> int:
    """Reads of ``key`` that returned a value older than one whose write was acknowledged
    before the read was invoked (the writer writes increasing integers)."""
    writes = sorted((op.ret, op.command.value) for op in operations
                    if op.command.op == "put" and op.command.key == key and op.ok and op.ret is not None)
    stale = 0
    for op in operations:
        if op.command.op != "get" or op.command.key != key or not op.ok:
            continue
        newest = max((v for t, v in writes if t < op.call), default=None)
        if newest is not None and (op.value is None or op.value < newest):
            stale += 1
    return stale


def stale_read_trial(
    seed: int,
    read_mode: str = "lease",
    drift: float = 0.0,
    lease_factor: float = 0.9,
    fault: str = "drift",
    pause: float = 600.0,
    n: int = 5,
    duration: float = 1500.0,
    readers: int = 3,
) -> dict[str, Any]:
    """One stale-read trial (see the module notes).

    Parameters
    ----------
    seed : int
        Root seed (cluster, fault moment).
    read_mode : {"lease", "read_index", "log"}
    drift : float
        For ``fault="drift"``: the rate by which the other clocks outrun the leader's, >= 0.
    lease_factor : float
        Lease length as a fraction of ``election_timeout[0]`` (> 0; above ``1`` is unsafe
        even without drift).
    fault : {"drift", "gc_pause", "vm_pause"}
    pause : float
        Pause length for the pause faults, ms.
    n, duration, readers
        Cluster size, run length after the fault (ms), reading clients.

    Returns
    -------
    dict
        ``stale_reads``, ``reads`` (answered), ``linearizable``, ``old_leader_reads`` (reads
        the old leader answered after the fault), and the parameters.
    """
    seed = check_int("seed", seed, 0)
    check_choice("read_mode", read_mode, ["lease", "read_index", "log"])
    check_choice("fault", fault, list(_FAULTS))
    drift = check_float("drift", drift, 0.0)
    lease_factor = check_float("lease_factor", lease_factor, 0.0, low_open=True)
    pause = check_float("pause", pause, 0.0)
    lo = ELECTION_TIMEOUT[0]
    c = Cluster("raft", n=n, seed=seed, latency=(5.0, 15.0), clients=1 + readers, client_timeout=100.0,
                op_timeout=1000.0, election_timeout=ELECTION_TIMEOUT, heartbeat=50.0, check_quorum=True,
                pre_vote=True, read_mode=read_mode, lease=lease_factor * lo, check_every_step=True)
    if not c.run_until(lambda: c.leader() is not None, timeout=3000.0):
        raise RuntimeError(f"stale_read_trial: no leader (seed={seed})")
    old = c.leader()
    assert old is not None
    if fault == "drift" and drift > 0:
        c.set_drift(old, 1.0 / (1.0 + drift) - 1.0)
    c.pin_client(0, old)  # the writer starts at the leader, then follows redirects
    c.pin_client(0, None)
    for r in range(readers):  # the readers stay with it
        c.pin_client(1 + r, old)
    rng = stream(seed, AUX, 0x726561)
    stop = [False]
    value = [0]

    def write() -> None:
        if not stop[0]:
            value[0] += 1
            op = c.submit("put", "x", value[0], client=0)
            watch(op, write)

    def read(client: int) -> None:
        if not stop[0]:
            watch(c.submit("get", "x", client=client), lambda: read(client))

    def watch(op: Any, then: Any) -> None:
        def check() -> None:
            if op.done:
                then()
            else:
                c.sim.schedule(1.0, check)
        c.sim.schedule(1.0, check)

    write()
    for r in range(readers):
        read(1 + r)
    c.run_for(300.0 + float(rng.uniform(0.0, 50.0)))  # steady state, a random phase
    t_fault = c.now
    served_before = sum(c.node(old).reads_served.values()) if c.node(old) is not None else 0
    c.sim.isolate(old)
    if fault != "drift":
        c.pause(old, pause, clock_stops=(fault == "vm_pause"))
    c.run_for(duration)
    stop[0] = True
    c.run_until(lambda: all(op.done for op in c.operations), timeout=3000.0)
    node = c.node(old)
    after = (sum(node.reads_served.values()) - served_before) if node is not None else 0
    ops = c.operations
    lin = check_linearizable(c.history, "kv", timeout=30.0).ok
    return {
        "seed": seed, "read_mode": read_mode, "fault": fault, "drift": drift, "lease_factor": lease_factor,
        "lease": lease_factor * lo, "pause": pause if fault != "drift" else 0.0,
        "stale_reads": count_stale_reads(ops), "reads": sum(1 for o in ops if o.command.op == "get" and o.ok),
        "old_leader_reads": after, "linearizable": lin, "fault_time": t_fault,
    }


def _trial(kw: dict[str, Any]) -> dict[str, Any]:
    return stale_read_trial(**kw)


def stale_read_study(
    drifts: Iterable[float] = (0.0, 0.1, 0.2, 0.4, 0.8, 1.6),
    lease_factors: Iterable[float] = (0.5, 0.75, 0.95),
    trials: int = 20,
    modes: Iterable[str] = ("lease", "read_index"),
    seed: int = 0,
    executor: Executor | None = None,
) -> pd.DataFrame:
    """:func:`stale_read_trial` with ``fault="drift"`` over a grid; the same seeds at every
    grid point (common random numbers), one row per trial. ReadIndex ignores the lease, so it
    runs at the first lease setting only."""
    trials = check_int("trials", trials, 1)
    factors = [float(f) for f in lease_factors]
    jobs = [dict(seed=seed + k, read_mode=m, drift=float(d), lease_factor=f)
            for m in modes for f in (factors if m == "lease" else factors[:1])
            for d in drifts for k in range(trials)]
    rows = list(executor.map(_trial, jobs)) if executor is not None else [_trial(j) for j in jobs]
    return pd.DataFrame(rows)


def pause_study(trials: int = 10, pause: float = 600.0, lease_factor: float = 0.9, seed: int = 0,
                executor: Executor | None = None) -> pd.DataFrame:
    """:func:`stale_read_trial` for a GC pause and a suspended VM, lease and ReadIndex reads,
    over the same seeds; one row per trial."""
    jobs = [dict(seed=seed + k, read_mode=m, fault=f, pause=pause, lease_factor=lease_factor)
            for f in ("gc_pause", "vm_pause") for m in ("lease", "read_index")
            for k in range(check_int("trials", trials, 1))]
    rows = list(executor.map(_trial, jobs)) if executor is not None else [_trial(j) for j in jobs]
    return pd.DataFrame(rows)


def stale_read_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Per (mode, fault, lease, drift, pause): trials, trials flagged by the linearizability
    checker (``rate`` with a 95 % Wilson interval), stale reads per trial, and the bound."""
    out = []
    keys = ["read_mode", "fault", "lease_factor", "lease", "drift", "pause"]
    for key, g in rows.groupby(keys, sort=True):
        flagged = int((g["linearizable"] == False).sum())  # noqa: E712 (False, not None)
        lo, hi = wilson(flagged, len(g))
        out.append({**dict(zip(keys, key)), "trials": len(g), "flagged": flagged, "rate": flagged / len(g),
                    "rate_lo": lo, "rate_hi": hi, "stale_per_trial": float(g["stale_reads"].mean()),
                    "stale_fraction": float(g["stale_reads"].sum() / max(g["reads"].sum(), 1)),
                    "bound_drift": lease_bound(float(key[3]))})
    return pd.DataFrame(out)


def read_cost_trial(seed: int, read_mode: str, n: int = 5, reads: int = 60, clients: int = 3,
                    latency: tuple[float, float] = (5.0, 15.0)) -> dict[str, Any]:
    """Latency and messages per read on a calm network (see the module notes).

    ``clients`` clients read back to back until ``reads`` reads are answered. Messages per read
    are the cluster's messages during the reads minus an idle run of the same seed and length,
    divided by the reads (at least 0: the idle run may count one heartbeat message more, at
    the boundary)."""
    check_choice("read_mode", read_mode, ["log", "read_index", "lease"])
    reads = check_int("reads", reads, 1)

    def cluster() -> Cluster:
        c = Cluster("raft", n=n, seed=seed, latency=latency, clients=clients, election_timeout=ELECTION_TIMEOUT,
                    heartbeat=50.0, check_quorum=True, read_mode=read_mode)
        if not c.run_until(lambda: c.leader() is not None, timeout=3000.0):
            raise RuntimeError(f"read_cost_trial: no leader (seed={seed})")
        c.put("x", 1)
        c.run_for(200.0)
        for cl in range(clients):  # clients know the leader: measure reads, not redirects
            c.pin_client(cl, c.leader())
        return c

    c = cluster()
    t0, m0 = c.now, c.messages_sent
    ops: list[Any] = []
    per = -(-reads // clients)
    for k in range(per):
        for cl in range(clients):
            ops.append(c.submit("get", "x", client=cl))
    c.run_until(lambda: all(o.done for o in ops), timeout=60_000.0)
    span = c.now - t0
    used = c.messages_sent - m0
    idle = cluster()
    i0 = idle.messages_sent
    idle.run_for(span)
    baseline = idle.messages_sent - i0
    lat = np.array([o.ret - o.call for o in ops if o.ok])
    return {"read_mode": read_mode, "seed": seed, "n": n, "reads": len(ops), "answered": int(lat.size),
            "latency_mean": float(lat.mean()), "latency_p50": float(np.median(lat)),
            "latency_p99": float(np.quantile(lat, 0.99)), "messages_per_read": max(used - baseline, 0) / len(ops),
            "messages_total_per_read": used / len(ops)}


def read_cost_table(trials: int = 5, n: int = 5, seed: int = 0, reads: int = 60) -> pd.DataFrame:
    """:func:`read_cost_trial` for each mode over ``trials`` seeds, one row per trial."""
    rows = [read_cost_trial(seed + k, mode, n=n, reads=reads)
            for mode in ("log", "read_index", "lease") for k in range(check_int("trials", trials, 1))]
    return pd.DataFrame(rows)


@experiment("raft-reads", "Raft reads: stale reads from leases under clock drift and pauses; ReadIndex and log reads",
            study=True)
def raft_reads(quick: bool = False, seed: int = 0, executor: Executor | None = None) -> Result:
    trials = 6 if quick else 40
    table = stale_read_table(stale_read_study(trials=trials, seed=seed, executor=executor))
    return Result(table, params={"trials": trials})

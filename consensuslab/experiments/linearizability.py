"""Checking Porcupine's reference histories (notebook 08).

Theory of operation
-------------------
Porcupine's test data holds 102 histories recorded by Jepsen against etcd (a single register
with read / write / compare-and-set, with many timed-out ``:info`` operations) and six key-value
histories; its own tests assert a verdict for each (23 of the 102 non-empty etcd histories are
linearizable). :func:`reference_verdicts` checks every one with
:func:`~consensuslab.check.check_linearizable` and tabulates the verdict, the expected verdict,
the size and the check time; the ``linearizability-porcupine`` experiment reports the counts,
which ``data/reference/linearizability.csv`` holds as published by Porcupine's test suite.

The files ship with the repository in ``data/jepsen/`` (gzip-compressed, with Porcupine's MIT
licence and provenance in its ``README.md``) and are read from there only
(:func:`~consensuslab.check.jepsen.porcupine_dir`); given a ``root`` without them (e.g. a wheel
install, which carries no ``data/``) the table is empty.

:func:`kv_workload` drives a :class:`~consensuslab.cluster.Cluster` with concurrent clients
(random ``get``/``put``/``append`` on a few keys, unique values) while applying a fault
schedule, and returns the recorded history for the checker (notebook 08 runs it on Raft under
partitions and on a weak-quorum VeSTA configuration).

:func:`fault_history` is the workload of issue 19: a fixed number of operations (appends with
unique tokens and gets, optionally puts) on one key, from concurrent clients with tight
timeouts, on a lossy cluster under a random nemesis (crashes, partitions, loss bursts), so that
many operations end with an unknown outcome. :func:`fault_suite` is the grid the issue asks the
checker to decide (Raft and Multi-Paxos; 3, 5 and 10 clients; loss 0-0.3; 10-200 operations)
and :func:`check_fault_suite` checks every history of it and tabulates verdict, time and
search size. :func:`synthetic_cases` are the issue's two hand-made cases that used to time out.

For the figures: :func:`fault_run` is :func:`fault_history` that also returns the nemesis'
fault events; :func:`partition_then_heal` builds a ``kv_workload`` fault schedule that logs the
instant each fault was applied; :func:`missed_writes` names, for each read a failing verdict
could not place, the completed writes whose token the read lacks although it had to contain it
(what a plot highlights); :func:`verdict_summary` is the per-kind table of
:func:`reference_verdicts` formatted for people.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from consensuslab._validate import check_float, check_int, check_range_pair
from consensuslab.check import (
    KVInput,
    Operation,
    RegisterInput,
    check_linearizable,
    load_jepsen_etcd,
    load_porcupine_kv,
)
from consensuslab.check.jepsen import porcupine_dir, reference_file
from consensuslab.experiments.registry import Result, experiment
from consensuslab.sim.nemesis import FaultEvent

__all__ = [
    "FAULT_COLUMNS",
    "REFERENCE_COLUMNS",
    "FaultRun",
    "check_fault_suite",
    "fault_history",
    "fault_run",
    "fault_suite",
    "kv_workload",
    "longest_stall",
    "missed_writes",
    "partition_then_heal",
    "reference_verdicts",
    "synthetic_cases",
    "verdict_summary",
]

REFERENCE_COLUMNS = [
    "name", "kind", "n_ops", "n_unknown", "expected", "ok", "correct", "seconds", "states",
]


def _check_one(args: tuple[str, str]) -> dict[str, Any]:
    root, name = args
    path = reference_file(name, root)
    kind = "etcd" if name.startswith("jepsen/") else "kv"
    history = load_jepsen_etcd(path) if kind == "etcd" else load_porcupine_kv(path)
    t0 = time.perf_counter()
    res = check_linearizable(history, "cas-register" if kind == "etcd" else "kv")
    seconds = time.perf_counter() - t0
    return {
        "name": name,
        "kind": kind,
        "n_ops": len(history),
        "n_unknown": sum(op.ret is None for op in history),
        "ok": res.ok,
        "seconds": seconds,
        "states": sum(p.states for p in res.partitions),
    }


def reference_verdicts(
    root: str | os.PathLike[str] | None = None,
    executor: Executor | None = None,
) -> pd.DataFrame:
    """Check every Porcupine reference history and tabulate the verdicts.

    Parameters
    ----------
    root : path-like, optional
        The folder of the reference histories (default: the repository's ``data/jepsen``).
    executor : concurrent.futures.Executor, optional
        Check the histories in parallel (the times then include scheduling noise).

    Returns
    -------
    pandas.DataFrame
        One row per history with columns ``name, kind, n_ops, n_unknown, expected, ok,
        correct, seconds, states``; empty (same columns) when ``root`` holds no
        ``expected.json``.
    """
    folder = porcupine_dir(root)
    expected_file = folder / "expected.json"
    if not expected_file.is_file():
        return pd.DataFrame(columns=REFERENCE_COLUMNS)
    expected: dict[str, bool] = json.loads(expected_file.read_text())
    names = sorted(expected)
    jobs = [(str(folder), n) for n in names]
    rows = list(executor.map(_check_one, jobs)) if executor is not None else [_check_one(j) for j in jobs]
    table = pd.DataFrame(rows)
    table["expected"] = [expected[n] for n in table["name"]]
    table["correct"] = [ok is exp for ok, exp in zip(table["ok"], table["expected"], strict=True)]
    return table[REFERENCE_COLUMNS]


def kv_workload(
    cluster: Any,
    duration: float,
    *,
    keys: Sequence[str] = ("x", "y"),
    think: tuple[float, float] = (0.0, 40.0),
    mix: tuple[float, float, float] = (0.5, 0.25, 0.25),
    faults: Sequence[tuple[float, Callable[[Any], None]]] = (),
    settle: float = 2000.0,
    tick: float = 1.0,
    seed: int = 0,
) -> list:
    """Run concurrent clients against a cluster under a fault schedule; return its history.

    Every client of ``cluster`` (``Cluster(..., clients=k)``) loops: think for a uniform time
    in ``think`` ms, then issue one operation on a random key (``get``, ``put`` or ``append``
    with probabilities ``mix``; written values are unique, ``"<client>.<k>;"``), wait for it to
    complete or be abandoned, repeat, until ``duration`` ms have passed. ``faults`` are
    ``(time_ms, fn)`` pairs run at their time (relative to the start), e.g.
    ``(500, lambda c: c.partition([0, 1], [2, 3, 4]))``. Then no new operation starts and the
    cluster runs ``settle`` ms more so pending ones can finish (those still pending have an
    unknown outcome).

    Parameters
    ----------
    cluster : Cluster
        A cluster with at least one client.
    duration : float
        Workload length in ms (> 0).
    keys : sequence of str
        Keys to operate on.
    think : (float, float)
        Uniform think-time range in ms.
    mix : (float, float, float)
        Probabilities of get, put, append.
    faults : sequence of (float, callable)
        Fault schedule.
    settle : float
        Extra ms after the workload.
    tick : float
        Granularity (ms) at which clients are polled.
    seed : int
        Seed of the workload's own random stream.

    Returns
    -------
    list of Operation
        ``cluster.history``.
    """
    duration = check_float("duration", duration, 0.0, low_open=True)
    settle = check_float("settle", settle, 0.0)
    tick = check_float("tick", tick, 0.0, low_open=True)
    lo, hi = check_range_pair("think", think)
    seed = check_int("seed", seed, 0)
    if not keys:
        raise ValueError("`keys` must be a non-empty sequence of str; got [].")
    probs = np.asarray(mix, dtype=float)
    if probs.shape != (3,) or np.any(probs < 0) or not np.isclose(probs.sum(), 1.0):
        raise ValueError(f"`mix` must be three probabilities summing to 1; got {tuple(mix)}.")
    n_clients = cluster.clients
    if n_clients < 1:
        raise ValueError("`cluster` must have at least one client (Cluster(..., clients=k)).")
    rng = np.random.default_rng(seed)
    start = cluster.now
    end = start + duration
    schedule = sorted(((start + float(t), fn) for t, fn in faults), key=lambda x: x[0])
    pending: list[Any] = [None] * n_clients
    next_at = [start + float(rng.uniform(lo, hi)) for _ in range(n_clients)]
    counter = [0] * n_clients
    kinds = ("get", "put", "append")
    while cluster.now < end:
        while schedule and schedule[0][0] <= cluster.now:
            schedule.pop(0)[1](cluster)
        for c in range(n_clients):
            op = pending[c]
            if op is not None and op.done:
                pending[c] = None
                next_at[c] = cluster.now + float(rng.uniform(lo, hi))
            if pending[c] is None and next_at[c] <= cluster.now:
                kind = kinds[int(rng.choice(3, p=probs))]
                key = keys[int(rng.integers(len(keys)))]
                counter[c] += 1
                if kind == "get":
                    pending[c] = cluster.get(key, client=c, wait=False)
                else:
                    value = f"{c}.{counter[c]};"
                    pending[c] = getattr(cluster, kind)(key, value, client=c, wait=False)
        cluster.run_for(min(tick, max(end - cluster.now, 1e-9)))
    for _, fn in schedule:
        fn(cluster)
    if settle:
        cluster.run_until(lambda: all(op is None or op.done for op in pending), timeout=settle)
    return cluster.history


def fault_history(*args: Any, **kwargs: Any) -> list[Operation]:
    """A history of ``ops`` operations on one key from a cluster under a nemesis (issue 19).

    ``fault_run(...).history``: see :func:`fault_run` for the parameters.

    Examples
    --------
    >>> h = fault_history("raft", clients=3, ops=30, seed=0)
    >>> len(h), sum(op.ret is None for op in h) > 0
    (30, True)
    """
    return fault_run(*args, **kwargs).history


@dataclass(frozen=True)
class FaultRun:
    """What :func:`fault_run` returns: the history and the fault events the nemesis applied."""

    history: list[Operation]
    faults: list[FaultEvent]


def fault_run(
    protocol: str = "raft",
    *,
    n: int = 5,
    clients: int = 3,
    ops: int = 30,
    seed: int = 0,
    loss: float = 0.3,
    client_timeout: float = 100.0,
    op_timeout: float = 400.0,
    latency: tuple[float, float] = (1.0, 40.0),
    nemesis_duration: float = 4000.0,
    nemesis_interval: tuple[float, float] = (50.0, 300.0),
    mix: tuple[float, float, float] = (0.5, 0.0, 0.5),
    key: str = "k",
    warmup: float = 0.0,
    **options: Any,
) -> FaultRun:
    """A history of ``ops`` operations on one key from a cluster under a nemesis, and its faults.

    ``Cluster(protocol, n=n, seed=seed, clients=clients, loss=loss,
    client_timeout=client_timeout, op_timeout=op_timeout, latency=latency)`` runs
    ``nemesis(seed, duration=nemesis_duration, interval=nemesis_interval)`` from time 0 while
    every client, as soon as its previous operation is answered or abandoned, submits the next:
    a ``get``, a ``put`` or an ``append`` with probabilities ``mix`` (values are unique tokens
    ``"<client>.<k>;"``), until ``ops`` operations have been submitted. The cluster then runs
    until all are answered or abandoned (abandoned ones have an unknown outcome).

    Parameters
    ----------
    protocol : {"raft", "multipaxos"} or another registered protocol
    n, clients, ops, seed : int
        Nodes, clients, operations (>= 1) and the root seed of the run.
    loss : float
        Message loss probability of the network.
    client_timeout, op_timeout : float
        Client resend and give-up timeouts (ms); tight values make unknown outcomes.
    latency : (float, float)
        Uniform one-way delay range (ms).
    nemesis_duration : float
        Length of the fault period (ms).
    nemesis_interval : (float, float)
        Range of the gap between two faults (ms).
    mix : (float, float, float)
        Probabilities of get, put, append.
    key : str
        The key every operation uses.
    warmup : float
        Quiet ms before the workload and the nemesis start (0: operations begin while the
        cluster has no leader yet, so the first ones time out).
    **options
        Protocol options for the cluster (e.g. ``q1=2, q2=2, unsafe=True`` for a Multi-Paxos
        whose quorums need not intersect).

    Returns
    -------
    FaultRun
        ``history`` (``cluster.history``) and ``faults`` (the nemesis' :class:`FaultEvent`
        list, times in ms of the cluster's clock); deterministic for the same arguments.
    """
    from consensuslab.cluster import Cluster

    ops = check_int("ops", ops, 1)
    clients = check_int("clients", clients, 1)
    seed = check_int("seed", seed, 0)
    probs = np.asarray(mix, dtype=float)
    if probs.shape != (3,) or np.any(probs < 0) or not np.isclose(probs.sum(), 1.0):
        raise ValueError(f"`mix` must be three probabilities summing to 1; got {tuple(mix)}.")
    cluster = Cluster(
        protocol, n=n, seed=seed, clients=clients, loss=loss, client_timeout=client_timeout,
        op_timeout=op_timeout, latency=latency, **options,
    )
    warmup = check_float("warmup", warmup, 0.0)
    if warmup:
        cluster.run_for(warmup)
    faults = cluster.nemesis(seed, duration=nemesis_duration, interval=nemesis_interval)
    rng = np.random.default_rng(seed)
    pending: list[Any] = [None] * clients
    counter = [0] * clients
    submitted = 0
    kinds = ("get", "put", "append")
    while submitted < ops:
        for c in range(clients):
            if submitted >= ops:
                break
            if pending[c] is None or pending[c].done:
                counter[c] += 1
                kind = kinds[int(rng.choice(3, p=probs))]
                value = None if kind == "get" else f"{c}.{counter[c]};"
                pending[c] = cluster.submit(kind, key, value, client=c)
                submitted += 1
        cluster.run_for(1.0)
    cluster.run_until(lambda: all(p is None or p.done for p in pending), timeout=3 * op_timeout)
    end = cluster.now
    return FaultRun(cluster.history, [f for f in faults if f.time <= end])


#: Columns of :func:`check_fault_suite`.
FAULT_COLUMNS = [
    "protocol", "clients", "loss", "ops", "puts", "seed", "n_ops", "n_unknown", "ok", "seconds",
    "states", "rules",
]


def fault_suite(
    *,
    protocols: Sequence[str] = ("raft", "multipaxos"),
    clients: Sequence[int] = (3, 5, 10),
    losses: Sequence[float] = (0.0, 0.1, 0.3),
    sizes: Sequence[int] = (10, 30, 100, 200),
    puts: Sequence[float] = (0.0, 0.2),
    seeds: Sequence[int] = (0, 1),
) -> list[dict[str, Any]]:
    """The grid of :func:`fault_history` configurations of issue 19 (tight client timeouts).

    Every combination of the arguments, with ``client_timeout=60``, ``op_timeout=250``,
    ``latency=(1, 40)`` ms and ``warmup=600`` ms on odd seeds (the workload then starts with a
    leader in place; on even seeds it starts at once, so the first operations time out);
    ``puts`` is the probability of a put (the rest are half gets, half appends).

    Returns
    -------
    list of dict
        Keyword arguments for :func:`fault_history`, plus ``puts``.
    """
    grid = []
    for protocol in protocols:
        for k in clients:
            for loss in losses:
                for size in sizes:
                    for p in puts:
                        for seed in seeds:
                            rest = (1.0 - p) / 2
                            grid.append(dict(
                                protocol=protocol, clients=k, loss=loss, ops=size, seed=seed,
                                client_timeout=60.0, op_timeout=250.0, latency=(1.0, 40.0),
                                mix=(rest, p, rest), puts=p, warmup=600.0 if seed % 2 else 0.0,
                            ))
    return grid


def check_fault_suite(
    configs: Sequence[dict[str, Any]],
    *,
    timeout: float | None = 10.0,
    rules: bool = True,
    oracle: Callable[[list[Operation]], bool | None] | None = None,
) -> pd.DataFrame:
    """Generate and check every history of a :func:`fault_suite`.

    Parameters
    ----------
    configs : sequence of dict
        From :func:`fault_suite`.
    timeout : float, optional
        Per-history timeout of the checker (undecided beyond it).
    rules : bool
        Passed to :func:`~consensuslab.check.check_linearizable`.
    oracle : callable, optional
        ``oracle(history) -> bool or None``; its verdict fills an ``oracle`` column (``None``
        where it cannot run).

    Returns
    -------
    pandas.DataFrame
        One row per configuration, columns :data:`FAULT_COLUMNS` (plus ``oracle``).
    """
    rows = []
    for cfg in configs:
        args = {k: v for k, v in cfg.items() if k != "puts"}
        history = fault_history(**args)
        res = check_linearizable(history, "kv", timeout=timeout, rules=rules)
        row = {
            "protocol": cfg["protocol"], "clients": cfg["clients"], "loss": cfg["loss"],
            "ops": cfg["ops"], "puts": cfg.get("puts", 0.0), "seed": cfg["seed"],
            "n_ops": len(history), "n_unknown": sum(op.ret is None for op in history),
            "ok": res.ok, "seconds": res.seconds, "states": res.states,
            "rules": dict(res.partitions[0].rules) if res.partitions else {},
        }
        if oracle is not None:
            row["oracle"] = oracle(history)
        rows.append(row)
    return pd.DataFrame(rows, columns=FAULT_COLUMNS + (["oracle"] if oracle is not None else []))


def synthetic_cases() -> dict[str, tuple[list[Operation], str, bool]]:
    """The hand-made histories of issue 19 that used to time out: ``name -> (history, model,
    expected verdict)``.

    * ``"20-writes-then-unwritten-read"``: 20 concurrent writes, then a read of a value none of
      them wrote (not linearizable);
    * ``"12-unknown-appends-then-unwritten-read"``: 12 appends with unknown outcomes, then a
      read of a value none of them can produce (not linearizable);
    * ``"12-unknown-appends-then-read"``: the same appends and a read of two of them in some
      order (linearizable: the other ten never took effect).
    """
    writes = [Operation(k, 0, 1, RegisterInput("write", k)) for k in range(20)]
    unwritten = writes + [Operation(20, 2, 3, RegisterInput("read"), 99)]
    appends = [Operation(k, 0, None, KVInput("append", "x", f"{k};")) for k in range(12)]
    bad = appends + [Operation(12, 1, 2, KVInput("get", "x"), "99;")]
    good = appends + [Operation(12, 1, 2, KVInput("get", "x"), "7;3;")]
    return {
        "20-writes-then-unwritten-read": (unwritten, "register", False),
        "12-unknown-appends-then-unwritten-read": (bad, "kv", False),
        "12-unknown-appends-then-read": (good, "kv", True),
    }


@experiment(
    "linearizability-porcupine",
    "Verdicts on Porcupine's 102 Jepsen etcd and 6 kv histories vs its expected verdicts",
)
def linearizability_porcupine(quick: bool = False, seed: int = 0, executor: Executor | None = None) -> Result:
    """Check the reference histories; ``measured`` holds the verdict counts.

    ``quick`` changes nothing (the whole set takes about a second); ``seed`` is unused (the
    check is deterministic).
    """
    table = reference_verdicts(executor=executor)
    if table.empty:
        return Result(table=table, params={"skipped": f"no reference histories at {porcupine_dir()}"})
    etcd = table[table["kind"] == "etcd"]
    kv = table[table["kind"] == "kv"]
    measured = {
        "porcupine_etcd_linearizable": float((etcd["ok"] == True).sum()),
        "porcupine_etcd_not_linearizable": float((etcd["ok"] == False).sum()),
        "porcupine_kv_linearizable": float((kv["ok"] == True).sum()),
        "porcupine_verdicts_wrong": float((~table["correct"]).sum()),
    }
    params = {
        "histories": len(table),
        "etcd_total_seconds": float(etcd["seconds"].sum()),
        "kv_max_seconds": float(kv["seconds"].max()),
        "quick": quick,
        "seed": seed,
    }
    return Result(table=table, measured=measured, params=params)


def partition_then_heal(
    groups: Sequence[Sequence[int]], at: float, heal_at: float,
) -> tuple[list[tuple[float, Callable[[Any], None]]], list[FaultEvent]]:
    """A :func:`kv_workload` fault schedule that partitions, then heals, and logs when it did.

    Parameters
    ----------
    groups : sequence of sequence of int
        The sides of the partition (``cluster.partition(*groups)``).
    at, heal_at : float
        When to partition and to heal, in ms from the workload's start (``at < heal_at``).

    Returns
    -------
    (faults, log)
        ``faults`` for :func:`kv_workload`; ``log`` fills, as the workload runs, with one
        :class:`FaultEvent` per fault applied, at the cluster's time (ms) when it was applied.
    """
    at = check_float("at", at, 0.0)
    heal_at = check_float("heal_at", heal_at, 0.0)
    if heal_at <= at:
        raise ValueError(f"`heal_at` must be > `at` ({at}); got {heal_at}.")
    sides = tuple(tuple(int(i) for i in g) for g in groups)
    log: list[FaultEvent] = []

    def partition(c: Any) -> None:
        c.partition(*sides)
        log.append(FaultEvent(float(c.now), "partition", sides))

    def heal(c: Any) -> None:
        c.heal()
        log.append(FaultEvent(float(c.now), "heal"))

    return [(at, partition), (heal_at, heal)], log


def _tokens(value: Any) -> list[str]:
    return [t + ";" for t in str(value).split(";") if t] if isinstance(value, str) else []


def missed_writes(result: Any) -> dict[int, list[tuple[Operation, str]]]:
    """The writes each unplaceable read had to see but lacks (kv histories of unique tokens).

    A read ``R`` of value ``v`` (tokens ``"a;b;..."``, as :func:`kv_workload` and
    :func:`fault_history` write them) starts from the put whose value is ``v``'s first token
    (its *base*; none if that token was appended to an empty key). A write ``W`` on the same key
    that returned before ``R`` was invoked, and was invoked after the base put returned, comes
    after the base and before ``R`` in every linearization, so ``R`` must contain its token. Those
    it lacks are *missed*: the token a stale read did not see.

    Parameters
    ----------
    result : LinearizabilityResult
        A kv verdict (``ok is False``; anything else gives ``{}``).

    Returns
    -------
    dict
        ``id(read) -> [(write, token), ...]`` for each read in ``result.unplaceable`` that misses
        at least one token, writes in invocation order.
    """
    if getattr(result, "ok", None) is not False:
        return {}
    history = list(result.history)
    out: dict[int, list[tuple[Operation, str]]] = {}
    for r in result.unplaceable:
        if r.ret is None or not isinstance(r.input, tuple) or r.input[0] != "get":
            continue
        seen = _tokens(r.output)
        key = r.input[1]
        writes = [w for w in history if w.input[0] in ("put", "append") and w.input[1] == key]
        base = next((w for w in writes if w.input[0] == "put" and seen and w.input[2] == seen[0]), None)
        if base is not None and base.ret is None:
            continue  # an unknown put: no instant after which the others must follow it
        missed = [
            (w, str(w.input[2])) for w in sorted(writes, key=lambda o: o.call)
            if w.ret is not None and w.ret < r.call and (base is None or w.call > base.ret)
            and w is not base and not set(_tokens(w.input[2])) <= set(seen)
        ]
        if missed:
            out[id(r)] = missed
    return out


def verdict_summary(table: pd.DataFrame) -> pd.DataFrame:
    """The :func:`reference_verdicts` table per kind, formatted for people.

    Columns: histories, linearizable (ours), linearizable (Porcupine's expected), verdicts
    right, operations with unknown outcome, total and slowest check time (ms).
    """
    rows = {}
    for kind, t in table.groupby("kind"):
        rows[kind] = {
            "histories": len(t),
            "linearizable (ours)": int((t["ok"] == True).sum()),
            "linearizable (Porcupine)": int(t["expected"].sum()),
            "verdicts right": f"{int(t['correct'].sum())} of {len(t)}",
            "unknown-outcome ops": int(t["n_unknown"].sum()),
            "total check time": f"{1e3 * t['seconds'].sum():.0f} ms",
            "slowest check": f"{1e3 * t['seconds'].max():.1f} ms",
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("kind")


def longest_stall(history: Sequence[Operation], start: float, end: float) -> tuple[float, float]:
    """The longest span within ``[start, end]`` (ms) in which no operation completed.

    Returns
    -------
    (float, float)
        Its first and last instant: the last completion before it (or ``start``) and the first
        completion after it (or ``end``).
    """
    rets = sorted(op.ret for op in history if op.ret is not None and start <= op.ret <= end)
    marks = [float(start), *rets, float(end)]
    k = max(range(len(marks) - 1), key=lambda i: marks[i + 1] - marks[i])
    return marks[k], marks[k + 1]

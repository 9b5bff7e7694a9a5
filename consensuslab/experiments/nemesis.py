"""Randomized fault runs (Jepsen's nemesis) for every replicated KV protocol, and a liveness study.

Theory of operation
-------------------
:func:`nemesis_run` is one replayable run: ``(protocol, seed)`` fixes the configuration
(:func:`nemesis_config` rotates the cluster size, latency, duplication and protocol options with
the seed), a seeded :class:`~consensuslab.sim.Nemesis` crashes and restarts nodes, partitions the
network and drops messages while concurrent clients run, and at the end the nemesis heals
everything. Safety monitors run after **every** simulator step; the client history goes through
:func:`~consensuslab.check.check_linearizable`. The row it returns says what happened, and a
failure names the ``(config, seed)`` that replays it.

Liveness is judged after the faults heal (the criterion of issue 15): every operation still
pending must finish, and a new put must succeed, within ``recover`` ms of simulated time.
:func:`classify` names what went wrong in a run that did not recover:

``"safety"``              a monitor raised (never expected);
``"not linearizable"``    the history failed the checker (never expected for Raft/Multi-Paxos/Omni-Paxos);
``"no leader"``           no leader at the end of the recovery window;
``"leader churn"``        leaders kept changing during the window (elections never settled);
``"stuck with a leader"`` one stable leader, yet operations did not finish;
``"recovered"``           everything finished in time.

:func:`nemesis_study` runs many seeds on any :class:`concurrent.futures.Executor` (results depend
only on the seeds, not on the number of workers).
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import Executor
from typing import Any

import pandas as pd

from consensuslab._validate import check_choice, check_float, check_int
from consensuslab.check import SafetyViolation, check_linearizable
from consensuslab.cluster import Cluster

__all__ = ["PROTOCOLS", "nemesis_config", "nemesis_run", "classify", "nemesis_study"]

#: Protocols the nemesis suite runs, and the options it rotates through with the seed.
PROTOCOLS: dict[str, tuple[dict[str, Any], ...]] = {
    "raft": (
        {},
        {"pre_vote": True},
        {"check_quorum": True},
        {"pre_vote": True, "check_quorum": True, "snapshot_threshold": 4},
        {"snapshot_threshold": 3, "max_entries": 2},
        {"read_mode": "read_index", "check_quorum": True},
        {"read_mode": "lease", "check_quorum": True, "pre_vote": True},
    ),
    "multipaxos": ({},),
    # Ballot Leader Election driving Multi-Paxos; the monitor adds BLE's properties
    "omnipaxos": ({},),
    # strict quorums (R + W > N) with durable replicas: what VeSTA promises is checked by its
    # monitor (log monotonicity, state machine = log, no acknowledged write lost)
    "vesta": (
        {"replicas": 3, "r": 2, "w": 2},
        {"replicas": 3, "r": 2, "w": 2, "sloppy": True, "anti_entropy": True},
    ),
}
_SIZES = (3, 5, 4, 3, 5, 7)


def nemesis_config(protocol: str, seed: int) -> dict[str, Any]:
    """The (replayable) cluster options of ``seed``: size, latency, duplication, protocol options."""
    check_choice("protocol", protocol, list(PROTOCOLS))
    seed = check_int("seed", seed, 0)
    options = PROTOCOLS[protocol]
    n = _SIZES[seed % len(_SIZES)]
    if protocol == "vesta":
        n = max(n, 4)
    return {
        "n": n,
        "latency": (1.0, 25.0) if seed % 2 else (5.0, 15.0),
        "duplicate": 0.05 if seed % 3 == 0 else 0.0,
        **options[seed % len(options)],
    }


def nemesis_run(
    protocol: str,
    seed: int,
    *,
    duration: float = 1200.0,
    clients: int = 3,
    ops_per_client: int = 5,
    client_timeout: float = 150.0,
    max_loss: float = 0.3,
    recover: float = 5000.0,
    check_history: bool = True,
) -> dict[str, Any]:
    """One randomized run; returns a row (see :func:`classify` for its ``outcome``).

    Parameters
    ----------
    protocol : {"raft", "multipaxos", "omnipaxos", "vesta"}
    seed : int
        Seeds the configuration (:func:`nemesis_config`), the cluster and the fault schedule.
    duration : float
        Length of the fault period, ms.
    clients, ops_per_client : int
        Concurrent clients and the operations each submits (appends, gets and puts on 2 keys).
    client_timeout : float
        A client resends to another node after this many ms without an answer.
    max_loss : float
        Largest message-loss burst of the nemesis, in [0, 1].
    recover : float
        After healing: time allowed for every pending operation, then for a new put, ms.
    check_history : bool
        Check the client history for linearizability (every protocol but VeSTA).
    """
    cfg = nemesis_config(protocol, seed)
    check_float("duration", duration, 0.0)
    check_float("recover", recover, 0.0)
    row: dict[str, Any] = {"protocol": protocol, "seed": seed, "config": repr(cfg), "violation": "",
                           "linearizable": None, "pending_done": False, "new_put_ok": False,
                           "leader_changes": 0, "has_leader": None, "duplicate_entries": 0}
    c = Cluster(protocol, seed=seed, clients=clients, client_timeout=client_timeout,
                op_timeout=duration + recover, check_every_step=True, **cfg)
    try:
        c.nemesis(seed, duration=duration, interval=(20.0, 200.0), max_loss=max_loss)
        ops = []
        for k in range(ops_per_client):
            for cl in range(clients):
                kind = ("append", "get", "put")[(k + cl) % 3]
                ops.append(c.submit(kind, f"k{(k + cl) % 2}", f"{cl}.{k}", client=cl))
        c.run_for(duration)
        # healed: every pending operation must finish, then a new put must succeed
        leaders: set[Any] = set()
        if protocol != "vesta":
            c.sim.step_hooks.append(lambda sim: leaders.add(c.leader()))
        row["pending_done"] = bool(c.run_until(lambda: all(o.done for o in ops), timeout=recover))
        if row["pending_done"]:
            put = c.put("after-heal", "x", timeout=recover)
            row["new_put_ok"] = bool(put.ok)
        row["leader_changes"] = len(leaders - {None})
        if protocol != "vesta":
            row["has_leader"] = c.leader() is not None
        if protocol == "raft":
            lead = c.leader()
            if lead is not None:
                node = c.node(lead)
                keys = [(e.command.client, e.command.seq) for e in node.log if e.command.op != "noop"]
                row["duplicate_entries"] = len(keys) - len(set(keys))
        c.check_safety()
        if check_history and protocol != "vesta":
            row["linearizable"] = check_linearizable(c.history, "kv", timeout=30.0).ok
    except SafetyViolation as exc:
        row["violation"] = f"{exc.invariant}: {exc}"
    row["outcome"] = classify(row)
    return row


def classify(row: dict[str, Any]) -> str:
    """Name the outcome of a :func:`nemesis_run` row (see the module docstring)."""
    if row["violation"]:
        return "safety"
    if row["linearizable"] is False:
        return "not linearizable"
    if row["pending_done"] and row["new_put_ok"]:
        return "recovered"
    if row["has_leader"] is False:
        return "no leader"
    if row["leader_changes"] > 1:
        return "leader churn"
    return "stuck with a leader"


def _chunk(args: tuple[str, list[int], dict[str, Any]]) -> list[dict[str, Any]]:
    protocol, seeds, kwargs = args
    return [nemesis_run(protocol, s, **kwargs) for s in seeds]


def nemesis_study(
    protocol: str,
    seeds: Iterable[int],
    executor: Executor | None = None,
    chunk: int = 50,
    **kwargs: Any,
) -> pd.DataFrame:
    """:func:`nemesis_run` over ``seeds``; one row per seed, in seed order.

    ``executor`` (e.g. a ``ProcessPoolExecutor``) spreads chunks of ``chunk`` seeds; None runs
    them here. Keyword arguments go to :func:`nemesis_run`.
    """
    check_choice("protocol", protocol, list(PROTOCOLS))
    seeds = [check_int("seeds[]", s, 0) for s in seeds]
    chunk = check_int("chunk", chunk, 1)
    jobs = [(protocol, seeds[i:i + chunk], kwargs) for i in range(0, len(seeds), chunk)]
    parts = map(_chunk, jobs) if executor is None else executor.map(_chunk, jobs)
    return pd.DataFrame([row for part in parts for row in part])

"""Raft membership changes under a nemesis: is the 2015 fix enough?

Theory of operation
-------------------
:func:`membership_run` is one replayable run. A Raft cluster of ``n`` servers starts with the
voters ``0 .. members-1`` (the rest are spares outside the configuration), concurrent clients
append, put and get, and a seeded :class:`~consensuslab.sim.Nemesis` crashes and restarts
servers, partitions the network and proposes random single-server changes (add a spare as
voter or learner, promote a learner, remove a member) to whoever leads. On top of the schedule a
second schedule proposes nothing but membership changes, and a third adversary strikes at the
dangerous moments of the 2015 bug: each time a new leader appears it proposes a change *at
once*, before the leader's no-op can commit (with ``membership_rule=True`` the leader refuses),
and again as soon as that no-op commits (the earliest moment the fix allows) — each time two
changes back to back, of which a correct leader accepts at most the first (one change at a
time, dissertation §4.1).
The safety monitor runs after every simulator step; the client history goes through the
linearizability checker. Options rotate with the seed (:func:`membership_config`), and a
failure names the ``(config, seed)`` that replays it.

:func:`membership_study` runs many seeds on any :class:`concurrent.futures.Executor`.

What it shows and what it does not: with the fix, no violation over thousands of seeds. With
the fix off, random faults rarely line up the bug's preconditions (an uncommitted change on a
minority, a leader change, an immediate second change that commits, and voters that saw the new
term but not its entries): over seeds 0-1999 they did once, seed 323 — S4 leads term 1 and at
once removes S1 (``{S2,S3,S4}``), S3 leads term 3 and at once adds S5 (``{S1..S5}``), S4 commits
in term 5 with S2, and S3 wins term 6 with S1 and S5 without those entries: the monitor raises
Leader Completeness (``tests/protocols/test_raft_membership_nemesis.py``). The scripted replay
(:func:`consensuslab.scenarios.raft.membership_bug_replay`) shows the bug step by step; an
exhaustive model checker is how it would be found for sure.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import Executor
from typing import Any

import pandas as pd

from consensuslab._validate import check_bool, check_float, check_int
from consensuslab.check import SafetyViolation, check_linearizable
from consensuslab.cluster import Cluster
from consensuslab.experiments.registry import Result, experiment
from consensuslab.sim.simulator import AUX, stream

__all__ = ["membership_config", "membership_run", "membership_study"]

_OPTIONS: tuple[dict[str, Any], ...] = (
    {},
    {"pre_vote": True},
    {"check_quorum": True},
    {"pre_vote": True, "check_quorum": True, "snapshot_threshold": 4},
)
_SHAPES = ((5, 4), (5, 3), (4, 2), (6, 4))  # (servers, initial voters)


def membership_config(seed: int) -> dict[str, Any]:
    """The (replayable) options of ``seed``: servers, initial voters, latency, Raft options."""
    seed = check_int("seed", seed, 0)
    n, voters = _SHAPES[seed % len(_SHAPES)]
    return {
        "n": n,
        "members": tuple(range(voters)),
        "latency": (1.0, 25.0) if seed % 2 else (5.0, 15.0),
        **_OPTIONS[(seed // len(_SHAPES)) % len(_OPTIONS)],
    }


def membership_run(
    seed: int,
    membership_rule: bool = True,
    duration: float = 700.0,
    interval: tuple[float, float] = (20.0, 150.0),
    clients: int = 2,
    ops_per_client: int = 3,
    eager: bool = True,
) -> dict[str, Any]:
    """One run (see the module notes); returns a row.

    Parameters
    ----------
    seed : int
        Seed of the cluster, the nemesis and the eager adversary; also picks the options.
    membership_rule : bool
        The 2015 fix on (the default) or off.
    duration : float
        Length of the fault period, ms.
    interval : (float, float)
        Range of the gap between two nemesis actions, ms.
    clients, ops_per_client : int
        Workload.
    eager : bool
        Propose a change at once whenever a new leader appears.

    Returns
    -------
    dict
        ``seed``, ``membership_rule``, ``violation`` (the broken property, or ``""``),
        ``detail``, ``linearizable``, ``ops``, ``acknowledged``, ``changes`` (configuration
        entries appended by leaders), ``final_voters``, ``events``.
    """
    seed = check_int("seed", seed, 0)
    check_bool("membership_rule", membership_rule)
    check_bool("eager", eager)
    duration = check_float("duration", duration, 0.0)
    cfg = membership_config(seed)
    c = Cluster("raft", seed=seed, clients=check_int("clients", clients, 1), client_timeout=150.0,
                op_timeout=1000.0, check_every_step=True, membership_rule=membership_rule, **cfg)
    c.nemesis(seed, duration=duration, interval=interval, membership=True, max_loss=0.2)
    # a second schedule of nothing but membership changes, so that a run holds several
    c.nemesis(seed + 1_000_003, duration=duration, interval=interval, crash=False, partition=False,
              loss=False, membership=True)
    rng = stream(seed, AUX, 0x6D656D)
    last: list[Any] = [None]

    def eager_change(sim: Any) -> None:
        # strike when a leader appears, and again when its first entry commits
        if sim.now > duration:
            return
        leader = c.leader()
        if leader is None:
            return
        node = sim.nodes[leader]
        key = (leader, node.term, node.term_at(node.commit_index) == node.term)
        if key != last[0]:
            last[0] = key
            for _ in range(2):  # two at once: the second must wait for the first (§4.1)
                c.membership_change(float(rng.random()), float(rng.random()))

    if eager:
        c.sim.step_hooks.append(eager_change)
    ops = []
    for k in range(check_int("ops_per_client", ops_per_client, 1)):
        for cl in range(clients):
            kind = ("append", "get", "put")[(k + cl) % 3]
            ops.append(c.submit(kind, f"k{(k + cl) % 2}", f"{cl}.{k}", client=cl))
    violation: SafetyViolation | None = None
    try:
        c.run_for(duration)
        c.run_until(lambda: all(o.done for o in ops), timeout=3000.0)
    except SafetyViolation as exc:
        violation = exc
    lin = check_linearizable(c.history, "kv").ok if violation is None else None
    nodes: list[Any] = list(c.sim.nodes)  # RaftNodes, None while down
    changes = len({(e.term, i) for node in nodes if node is not None
                   for i, e in enumerate(node.full_log(), start=1) if e is not None and e.config is not None})
    members = c.membership()
    return {
        "seed": seed,
        "membership_rule": membership_rule,
        "violation": "" if violation is None else violation.invariant,
        "detail": "" if violation is None else str(violation),
        "linearizable": lin,
        "ops": len(ops),
        "acknowledged": sum(o.ok for o in ops),
        "changes": changes,
        "final_voters": len(members.voters),
        "events": c.sim.events_processed,
        "config": repr(cfg),
    }


def _run_row(args: tuple[int, bool, dict[str, Any]]) -> dict[str, Any]:
    seed, rule, kw = args
    return membership_run(seed, rule, **kw)


def membership_study(seeds: Iterable[int], membership_rule: bool = True, executor: Executor | None = None,
                     **kwargs: Any) -> pd.DataFrame:
    """:func:`membership_run` over ``seeds`` (rows in seed order; any executor gives the same table)."""
    jobs = [(int(s), membership_rule, kwargs) for s in seeds]
    rows = list(executor.map(_run_row, jobs)) if executor is not None else [_run_row(j) for j in jobs]
    return pd.DataFrame(rows)


@experiment("raft-membership", "Raft membership changes under a nemesis, with and without the 2015 fix", study=True)
def raft_membership(quick: bool = False, seed: int = 0, executor: Executor | None = None) -> Result:
    count = 200 if quick else 2000
    seeds = range(seed, seed + count)
    table = pd.concat([membership_study(seeds, rule, executor) for rule in (True, False)], ignore_index=True)
    return Result(table, params={"seeds": count, "first_seed": seed})

"""Paxos experiments: duelling proposers, message costs, the unsafe flexible-quorum search.

Theory of operation
-------------------
``paxos-dueling``
    ``k`` proposers start together on ``n`` acceptors; each trial runs until some learner knows
    the decision or a cap of virtual time passes (then it is *censored*: still duelling). We
    record the highest round reached, the ballots started and the time to decision, per retry
    policy (:class:`~consensuslab.protocols.paxos.RetryPolicy`). Immediate retry livelocks:
    the censored fraction (with a Wilson interval) is the evidence.
``paxos-messages``
    The uncontended single decision (two round trips: 4 one-way delays with a constant
    latency) and the Multi-Paxos steady state (phase 2 only: one round trip per command at the
    leader) — the two numbers in ``data/reference/paxos.csv`` — and messages per command in
    Multi-Paxos, steady state vs a window containing a leader crash.
``leader_change_cost``
    What a leader change really costs, which messages per command hide (a window with a crash
    looks *cheaper* per command only because the dead node sends and answers nothing): the time
    without progress — from the crash to the first command committed after it, split into
    failure detection, election (phase 1), the client finding the new leader, and phase 2 —
    and the messages sent during that time (the recovery), beside one steady command's cost.
``paxos-unsafe``
    For every ``(|Q1|, |Q2|)`` on ``n`` nodes, randomized runs (two proposers, random
    latencies, a nemesis) with ``unsafe=True``; the monitor reports an agreement violation
    exactly when ``|Q1| + |Q2| <= n`` (Howard, Malkhi & Spiegelman 2016). Returns the first
    violating seed per cell so the trace can be replayed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from consensuslab._validate import check_int
from consensuslab.check.safety import SafetyViolation
from consensuslab.experiments.registry import Result, experiment
from consensuslab.experiments.runner import run_trials
from consensuslab.protocols.paxos import PaxosConfig, PaxosNode
from consensuslab.sim.nemesis import Nemesis
from consensuslab.sim.simulator import simulate
from consensuslab.stats import wilson

if TYPE_CHECKING:
    from consensuslab.cluster import Cluster
    from consensuslab.node import NodeId

__all__ = [
    "duel_trial",
    "duel_summary",
    "dueling",
    "uncontended_round_trips",
    "multipaxos_steady_round_trips",
    "multipaxos_cost",
    "leader_change_cost",
    "leader_change_summary",
    "STALL_PHASES",
    "Violation",
    "find_violation",
    "unsafe_trial",
    "unsafe_grid",
    "unsafe_explore",
    "duel_table",
    "uncontended_table",
    "leader_change_table",
    "unsafe_table",
]

POLICIES = ("immediate", "backoff", "leader")


# -- duelling proposers -----------------------------------------------------------------------
def duel_trial(rng: np.random.Generator, policy: str, n: int = 5, k: int = 2, cap: float = 2000.0,
               latency: tuple[float, float] = (5.0, 15.0)) -> dict[str, Any]:
    """One duel: ``k`` proposers (ids ``0..k-1``) on ``n`` nodes, all starting at time 0.

    Returns
    -------
    dict
        ``decided`` (bool), ``censored`` (not decided within ``cap`` ms), ``rounds`` (highest
        ballot round reached), ``ballots`` (ballots started by all proposers), ``time`` (ms to
        the first learner knowing the value; NaN if censored), ``messages``.
    """
    seed = int(rng.integers(2**31))
    cfg = PaxosConfig(n=n, proposers=tuple(range(k)), retry=policy)
    sim = simulate(cfg, seed=seed, latency=latency, trace=False, check=False)
    nodes = cast("list[PaxosNode]", sim.nodes)  # no crashes in a duel: every node is up
    ok = sim.run_until(lambda: any(node.decided is not None for node in nodes), timeout=cap)
    return {
        "decided": bool(ok),
        "censored": not ok,
        "rounds": max(node.round for node in nodes),
        "ballots": sum(node.ballots_started for node in nodes),
        "time": float(sim.now) if ok else math.nan,
        "messages": sim.messages_sent,
    }


def duel_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per ``(policy, k)``: trials, censored fraction with its 95% Wilson interval, and the
    median / 95th percentile of rounds and of time to decision (decided trials only)."""
    rows = []
    for (policy, k), g in table.groupby(["policy", "k"], sort=False):
        cens = int(g["censored"].sum())
        lo, hi = wilson(cens, len(g))
        d = g[~g["censored"]]
        rows.append({
            "policy": policy, "k": int(k), "trials": len(g), "censored": cens / len(g),
            "censored_lo": lo, "censored_hi": hi,
            "rounds_median": float(g["rounds"].median()), "rounds_p95": float(g["rounds"].quantile(0.95)),
            "time_median": float(d["time"].median()) if len(d) else math.nan,
            "time_p95": float(d["time"].quantile(0.95)) if len(d) else math.nan,
            "messages_median": float(g["messages"].median()),
        })
    return pd.DataFrame(rows)


def dueling(trials: int = 200, ks: Iterable[int] = (2, 3, 5), n: int = 5, cap: float = 2000.0, seed: int = 0,
            executor: Any = None, progress: bool = False) -> pd.DataFrame:
    """Run :func:`duel_trial` for every policy and proposer count; one row per trial."""
    params = [{"policy": p, "n": n, "k": int(k), "cap": cap} for k in ks for p in POLICIES]
    return run_trials(duel_trial, params, trials, seed=seed, executor=executor, progress=progress)


@experiment("paxos-dueling", "Duelling proposers: rounds and time to decision per retry policy (livelock without backoff)")
def paxos_dueling(quick: bool = False, seed: int = 0, executor: Any = None) -> Result:
    trials = 30 if quick else 300
    table = dueling(trials=trials, seed=seed, executor="inline" if quick else executor)
    return Result(table=duel_summary(table), measured={},
                  params={"trials": trials, "n": 5, "ks": [2, 3, 5], "cap_ms": 2000.0, "latency_ms": [5, 15]})


# -- message costs ----------------------------------------------------------------------------------
def uncontended_round_trips(n: int = 3, latency: float = 10.0, seed: int = 0) -> dict[str, Any]:
    """Single decision without contention, constant one-way ``latency``: round trips until the
    proposer knows the value is chosen, and the messages sent by kind."""
    cfg = PaxosConfig(n=n)
    sim = simulate(cfg, seed=seed, latency=latency)
    nodes = cast("list[PaxosNode]", sim.nodes)  # filled in place when the simulation starts
    sim.run_until(lambda: nodes[0].decided is not None, timeout=100 * latency)
    t = sim.now
    sim.run_for(10 * latency)
    return {"n": n, "round_trips": t / (2 * latency), "messages": sim.messages_sent, **sim.trace.sent_by_kind}


def multipaxos_cost(n: int = 5, commands: int = 40, seed: int = 0, leader_change: bool = False,
                    latency: tuple[float, float] = (5.0, 15.0)) -> dict[str, Any]:
    """Messages per client command in Multi-Paxos.

    After a leader is elected and a warm-up command, ``commands`` puts are issued one after
    another; with ``leader_change`` the leader crashes after half of them. Returns messages
    per command, total and by kind (heartbeats included: they are part of the cost).
    """
    from consensuslab.cluster import Cluster  # noqa: PLC0415

    c = Cluster("multipaxos", n=n, seed=seed, latency=latency, client_timeout=300.0)
    c.run_until(lambda: c.leader() is not None, timeout=5000)
    c.put("warm", "up")
    before = dict(c.trace.sent_by_kind)
    t0 = c.now
    done = 0
    for i in range(commands):
        if leader_change and i == commands // 2:
            c.crash(_current_leader(c))
        done += bool(c.put(f"k{i % 4}", str(i)).ok)
    after = c.trace.sent_by_kind
    diff = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    total = sum(diff.values())
    row: dict[str, Any] = {"n": n, "leader_change": leader_change, "commands": commands, "ok": done,
                           "duration_ms": c.now - t0, "per_command": total / commands,
                           "per_command_no_heartbeat": (total - diff.get("Heartbeat", 0)) / commands}
    row.update({f"{k}_per_command": v / commands for k, v in sorted(diff.items())})
    return row


#: The phases of a leader change's stall, in order (columns ``<phase>_ms`` of
#: :func:`leader_change_cost`).
STALL_PHASES = ("detection", "election", "client", "commit")
_PHASE_TEXT = {"detection": "failure detection (followers time out)", "election": "election (phase 1)",
               "client": "client finds the new leader", "commit": "commit (phase 2) and reply"}


def leader_change_cost(n: int = 5, seed: int = 0, warm: int = 10, after: int = 10,
                       latency: tuple[float, float] = (5.0, 15.0), client_timeout: float = 300.0) -> dict[str, Any]:
    """The real cost of a Multi-Paxos leader change: time without progress and recovery messages.

    One client issues ``warm`` puts one after another with every node up (the steady state);
    then the leader crashes and the client issues the next put, which goes to the dead leader
    first (the client's last known leader) and is retried after ``client_timeout`` ms; then
    ``after`` more puts run with one node down.

    Returns
    -------
    dict
        ``stall_ms``: crash to the first command committed after it (no command commits in
        between: time without progress), split into ``detection_ms`` (crash to the first
        follower becoming a candidate), ``election_ms`` (to the new leader), ``client_ms`` (to
        the retried request reaching the new leader) and ``commit_ms`` (to the reply);
        ``steady_latency_ms`` (median command latency before the crash);
        ``recovery_messages`` (sent from the crash to that first commit) and
        ``recovery_<Kind>`` per kind; ``steady_per_command`` / ``down_per_command`` (messages
        per command with every node up / after the change with one node down, heartbeats
        included) and their ``*_no_heartbeat`` variants.
    """
    from consensuslab.cluster import Cluster  # noqa: PLC0415

    n = check_int("n", n, 3)
    warm, after = check_int("warm", warm, 1), check_int("after", after, 1)
    c = Cluster("multipaxos", n=n, seed=seed, latency=latency, client_timeout=client_timeout, trace=True)
    c.run_until(lambda: c.leader() is not None, timeout=5000)
    c.put("warm", "up")

    def window(k: int, tag: str) -> tuple[dict[str, int], list[float]]:
        before = dict(c.trace.sent_by_kind)
        lat = []
        for i in range(k):
            op = c.put(f"k{i % 4}", f"{tag}{i}")
            if op.ok and op.ret is not None:
                lat.append(op.ret - op.call)
        return _diff(before, c.trace.sent_by_kind), lat

    steady, steady_lat = window(warm, "s")
    old = _current_leader(c)
    t_crash = c.now
    c.crash(old)
    before = dict(c.trace.sent_by_kind)
    op = c.put("after", "crash")
    if not op.ok or op.ret is None:
        raise RuntimeError(f"the first command after the crash did not commit (n={n}, seed={seed})")
    t_done = float(op.ret)
    recovery = _diff(before, c.trace.sent_by_kind)
    new = _current_leader(c)
    frame = c.trace.to_frame()
    late = frame[frame["time"] >= t_crash]
    roles = late[(late["event"] == "note") & (late["kind"] == "role")]
    role = roles["detail"].map(lambda d: d.get("role") if isinstance(d, dict) else None)
    t_cand = float(roles.loc[role == "candidate", "time"].min())
    t_lead = float(roles.loc[(role == "leader") & (roles["node"] == new), "time"].max())
    arrivals = late[(late["event"] == "client") & (late["node"] == new) & (late["time"] <= t_done)]
    t_arrive = max(t_lead, float(arrivals["time"].max()) if len(arrivals) else t_lead)
    down, _ = window(after, "d")
    hb = "Heartbeat"
    row: dict[str, Any] = {
        "n": n, "seed": seed, "crashed": old, "new_leader": new,
        "stall_ms": t_done - t_crash,
        "detection_ms": t_cand - t_crash, "election_ms": t_lead - t_cand,
        "client_ms": t_arrive - t_lead, "commit_ms": t_done - t_arrive,
        "steady_latency_ms": float(np.median(steady_lat)) if steady_lat else math.nan,
        "recovery_messages": sum(recovery.values()),
        "steady_per_command": sum(steady.values()) / warm,
        "steady_per_command_no_heartbeat": (sum(steady.values()) - steady.get(hb, 0)) / warm,
        "down_per_command": sum(down.values()) / after,
        "down_per_command_no_heartbeat": (sum(down.values()) - down.get(hb, 0)) / after,
    }
    row.update({f"recovery_{k}": v for k, v in sorted(recovery.items())})
    row.update({f"steady_{k}": v / warm for k, v in sorted(steady.items())})
    return row


def _diff(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) - before.get(k, 0)}


def leader_change_summary(runs: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Per ``n``: mean of every :func:`leader_change_cost` column over the runs, with bootstrap
    95% intervals (``<col>_lo``, ``<col>_hi``) for the stall and the recovery messages."""
    from consensuslab.stats import summarize  # noqa: PLC0415

    rows = []
    for n, g in runs.groupby("n", sort=True):
        row: dict[str, Any] = {"n": int(n), "runs": len(g)}
        for col in g.columns:
            if col in ("n", "seed", "crashed", "new_leader"):
                continue
            row[col] = float(g[col].fillna(0.0).mean()) if col.startswith("recovery_") else float(g[col].mean())
        for col in ("stall_ms", "recovery_messages", "steady_latency_ms"):
            sm = summarize(g[col].to_numpy(dtype=float), seed=seed)
            row[f"{col}_lo"], row[f"{col}_hi"] = float(sm["mean_lo"]), float(sm["mean_hi"])
        rows.append(row)
    return pd.DataFrame(rows)


def _current_leader(c: Cluster) -> NodeId:
    """The id of the cluster's leader; the caller has waited for one to be elected."""
    leader = c.leader()
    if leader is None:
        raise RuntimeError("no Multi-Paxos leader was elected within the wait")
    return leader


def _mp_cost_trial(rng: np.random.Generator, n: int, commands: int, leader_change: bool) -> dict[str, Any]:
    return multipaxos_cost(n=n, commands=commands, seed=int(rng.integers(2**31)), leader_change=leader_change)


@experiment("paxos-messages", "Paxos message delays and Multi-Paxos messages per command (steady state vs leader change)")
def paxos_messages(quick: bool = False, seed: int = 0, executor: Any = None) -> Result:
    trials = 3 if quick else 20
    rows = [uncontended_round_trips(n) for n in (3, 5, 7)]
    single = pd.DataFrame(rows)
    params = [{"n": n, "commands": 20 if quick else 60, "leader_change": lc} for n in (3, 5) for lc in (False, True)]
    mp = run_trials(_mp_cost_trial, params, trials, seed=seed, executor="inline" if quick else executor, progress=False)
    summary = mp.groupby(["n", "leader_change"], as_index=False).mean(numeric_only=True)
    table = pd.concat([single.assign(experiment="single-decree"), summary.assign(experiment="multipaxos")],
                      ignore_index=True)
    measured = {
        "paxos_uncontended_round_trips": round(float(single.loc[single["n"] == 3, "round_trips"].iloc[0]), 9),
        "multipaxos_steady_round_trips": round(float(multipaxos_steady_round_trips()), 9),
    }
    return Result(table=table, measured=measured, params={"trials": trials, "commands": params[0]["commands"]})


def multipaxos_steady_round_trips(n: int = 3, latency: float = 10.0, seed: int = 0) -> float:
    """Round trips a stable Multi-Paxos leader needs to get a command chosen (phase 2 only).

    With a constant one-way ``latency`` a client request reaches the leader at ``t`` and the
    leader learns the command is chosen at ``t + 2 latency``: one round trip (Lamport 2001 §3).
    """
    from consensuslab.cluster import Cluster  # noqa: PLC0415

    c = Cluster("multipaxos", n=n, seed=seed, latency=latency)
    c.run_until(lambda: c.leader() is not None, timeout=5000)
    c.put("warm", "up")
    leader = c.node(_current_leader(c))
    slot = leader.next_slot
    c.submit("put", "x", "1")
    c.run_until(lambda: leader.next_slot > slot, timeout=1000)
    t0 = c.now
    c.run_until(lambda: slot in leader.decided, timeout=1000)
    return (c.now - t0) / (2 * latency)


# -- the unsafe flexible-quorum search ----------------------------------------------------------------
@dataclass(frozen=True)
class Violation:
    """A replayable agreement violation: ``config`` + ``seed`` reproduce it.

    ``messages`` and ``events`` (``Trace.to_frame()``: the nemesis's partitions, notes) are
    the trace up to the violation.
    """

    seed: int
    config: PaxosConfig
    violation: SafetyViolation
    messages: pd.DataFrame
    nemesis: bool
    events: pd.DataFrame | None = None

    def replay(self) -> Any:
        """Run the same configuration and seed again (raises the same SafetyViolation)."""
        return _unsafe_run(self.config, self.seed, self.nemesis, trace=True)


def _unsafe_config(n: int, q1: int, q2: int, seed: int) -> PaxosConfig:
    rng = np.random.default_rng([seed, 0xF1E8])
    props = tuple(sorted(int(p) for p in rng.choice(n, size=2, replace=False)))
    starts = tuple(float(s) for s in rng.uniform(0.0, 30.0, size=2))
    return PaxosConfig(n=n, proposers=props, values=tuple(f"v{p}" for p in props), q1=q1, q2=q2, unsafe=True,
                       start=starts, retry="backoff")


def _unsafe_run(cfg: PaxosConfig, seed: int, nemesis: bool, trace: bool) -> Any:
    sim = simulate(cfg, seed=seed, latency=(1.0, 40.0), trace=trace)
    if nemesis:
        Nemesis(cfg.n, seed, duration=400.0, interval=(10.0, 80.0), crash=False, loss=False).apply(sim)
    sim.run_for(1500.0)
    return sim


def find_violation(n: int = 5, q1: int = 2, q2: int = 2, seeds: Iterable[int] = range(500),
                   nemesis: bool = True) -> Violation | None:
    """Search seeds for an agreement violation with quorum sizes ``q1``, ``q2`` (``unsafe=True``).

    Returns the first :class:`Violation` (seed, configuration, the monitor's error and the
    message trace up to the violation), or ``None`` if no seed broke agreement.
    """
    n = check_int("n", n, 1)
    for seed in seeds:
        cfg = _unsafe_config(n, check_int("q1", q1, 1, n), check_int("q2", q2, 1, n), seed)
        try:
            _unsafe_run(cfg, seed, nemesis, trace=False)
        except SafetyViolation:
            sim = simulate(cfg, seed=seed, latency=(1.0, 40.0), trace=True)
            if nemesis:
                Nemesis(n, seed, duration=400.0, interval=(10.0, 80.0), crash=False, loss=False).apply(sim)
            try:
                sim.run_for(1500.0)
            except SafetyViolation as exc:
                return Violation(seed, cfg, exc, sim.trace.messages(), nemesis, sim.trace.to_frame())
            raise RuntimeError(f"seed {seed} did not replay deterministically")  # pragma: no cover
    return None


def unsafe_trial(n: int, q1: int, q2: int, seeds: Iterable[int], nemesis: bool = True) -> dict[str, Any]:
    """Fraction of seeds whose run violated agreement with quorum sizes ``q1``/``q2`` on ``n``."""
    seeds = list(seeds)
    hits = []
    for seed in seeds:
        try:
            _unsafe_run(_unsafe_config(n, q1, q2, seed), seed, nemesis, trace=False)
        except SafetyViolation:
            hits.append(seed)
    lo, hi = wilson(len(hits), len(seeds))
    return {"n": n, "q1": q1, "q2": q2, "intersect": q1 + q2 > n, "runs": len(seeds), "violations": len(hits),
            "rate": len(hits) / len(seeds), "rate_lo": lo, "rate_hi": hi,
            "first_seed": hits[0] if hits else None}


def unsafe_grid(n: int = 5, runs: int = 100, seed: int = 0) -> pd.DataFrame:
    """:func:`unsafe_trial` for every ``1 <= q1, q2 <= n`` (seeds ``seed .. seed+runs-1``)."""
    check_int("runs", runs, 1)
    seeds = range(seed, seed + runs)
    return pd.DataFrame([unsafe_trial(n, a, b, seeds) for a in range(1, n + 1) for b in range(1, n + 1)])


@experiment("paxos-unsafe", "Flexible quorums: randomized search for agreement violations when |Q1|+|Q2| <= n")
def paxos_unsafe(quick: bool = False, seed: int = 0, executor: Any = None) -> Result:
    runs = 20 if quick else 200
    table = unsafe_grid(n=5 if not quick else 4, runs=runs, seed=seed)
    return Result(table=table, measured={}, params={"runs": runs})


def unsafe_explore(n: int, q1: int, q2: int, runs: int = 50, seed: int = 0) -> tuple[dict[str, Any], Violation | None]:
    """One call for the flexible-quorum slider: the violation rate over ``runs`` seeds and the
    first violation found (its replayable trace), or ``None``."""
    n = check_int("n", n, 1)
    q1, q2 = check_int("q1", q1, 1, n), check_int("q2", q2, 1, n)
    row = unsafe_trial(n, q1, q2, range(seed, seed + check_int("runs", runs, 1)))
    found = None if row["first_seed"] is None else find_violation(n, q1, q2, [row["first_seed"]])
    return row, found


# -- tables for people ----------------------------------------------------------------------------------
def _ms(v: float) -> str:
    return "–" if not np.isfinite(v) else f"{v:,.0f} ms"


def _pct(v: float) -> str:
    return f"{100 * v:.0f}%"


def _num(v: float) -> str:
    """A count or a quantile of counts: an integer if it is one (to 0.1), else one decimal."""
    if not np.isfinite(v):
        return "–"
    v = round(float(v), 1)
    return f"{v:,.0f}" if v.is_integer() else f"{v:,.1f}"


def duel_table(summary: pd.DataFrame, cap: float | None = None) -> pd.DataFrame:
    """:func:`duel_summary` for people: the censored share as % with its Wilson interval, rounds
    and messages as counts, times in ms (``–`` where every trial was censored)."""
    col = f"still duelling at {cap:.0f} ms (95% CI)" if cap is not None else "censored (95% CI)"
    return pd.DataFrame({
        "policy": summary["policy"], "proposers": summary["k"].astype(int), "trials": summary["trials"].astype(int),
        col: [f"{_pct(r.censored)} ({_pct(r.censored_lo)}–{_pct(r.censored_hi)})" for r in summary.itertuples()],
        "rounds, median": summary["rounds_median"].map(_num), "rounds, p95": summary["rounds_p95"].map(_num),
        "time to decide, median": summary["time_median"].map(_ms), "time to decide, p95": summary["time_p95"].map(_ms),
        "messages, median": summary["messages_median"].map(_num),
    })


def uncontended_table(rows: Iterable[dict[str, Any]], reference: float | None = None,
                      source: str | None = None) -> pd.DataFrame:
    """:func:`uncontended_round_trips` rows for people: round trips beside the paper's value and
    the messages by kind as integers."""
    df = pd.DataFrame(list(rows))
    kinds = [k for k in ("Prepare", "Promise", "Accept", "Accepted", "Decide", "Nack") if k in df]
    out = pd.DataFrame({"n": df["n"].astype(int), "round trips (measured)": df["round_trips"].map(lambda v: f"{v:g}")})
    if reference is not None:
        out[f"round trips ({source or 'reference'})"] = f"{reference:g}"
    out["messages"] = df["messages"].astype(int)
    for k in kinds:
        out[k] = df[k].fillna(0).astype(int)
    return out


def leader_change_table(summary: pd.DataFrame) -> pd.DataFrame:
    """:func:`leader_change_summary` for people, one row per cluster size."""
    rows = []
    for r in summary.itertuples():
        rows.append({
            "n": int(r.n), "runs": int(r.runs),
            "time without progress (95% CI)": f"{r.stall_ms:.0f} ms ({r.stall_ms_lo:.0f}–{r.stall_ms_hi:.0f})",
            "detection": f"{r.detection_ms:.0f} ms", "election": f"{r.election_ms:.0f} ms",
            "client finds leader": f"{r.client_ms:.0f} ms", "commit": f"{r.commit_ms:.0f} ms",
            "steady command": f"{r.steady_latency_ms:.0f} ms",
            "recovery messages (95% CI)": f"{r.recovery_messages:.1f} ({r.recovery_messages_lo:.1f}–"
                                          f"{r.recovery_messages_hi:.1f})",
            "msgs/command, all up": f"{r.steady_per_command_no_heartbeat:.1f}",
            "msgs/command, one down": f"{r.down_per_command_no_heartbeat:.1f}",
        })
    return pd.DataFrame(rows)


def unsafe_table(grid: pd.DataFrame) -> pd.DataFrame:
    """:func:`unsafe_grid` rows for people: violations over runs, the rate as % with its Wilson
    interval, the first violating seed (``–`` if none)."""
    return pd.DataFrame({
        "|Q1|": grid["q1"].astype(int), "|Q2|": grid["q2"].astype(int),
        "quorums intersect": grid["intersect"].map({True: "yes", False: "no"}),
        "violations": [f"{int(r.violations)} of {int(r.runs)}" for r in grid.itertuples()],
        "rate (95% CI)": [f"{_pct(r.rate)} ({_pct(r.rate_lo)}–{_pct(r.rate_hi)})" for r in grid.itertuples()],
        "first seed": grid["first_seed"].map(lambda v: "–" if v is None or pd.isna(v) else str(int(v))),
    }).reset_index(drop=True)

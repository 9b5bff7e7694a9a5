"""VeSTA measured: staleness against PBS, anomalies under faults, and the cost of consensus.

Theory of operation
-------------------
*Staleness* (:func:`simulate_staleness`). The PBS WARS model (Bailis et al., VLDB 2012, §4)
predicts the probability that a read issued ``t`` ms after a write commits returns it, from the
one-way delay distributions of the four message kinds (W: write request, A: write ack, R: read
request, S: read response). We measure the same quantity on the running protocol: the
simulator delays every Write/WriteAck/Read/ReadReply by a draw from the profile's W/A/R/S
distribution (per message kind latency, :func:`consensuslab.protocols.vesta.wars_latency`) and
every other message by nothing. Each trial writes a
fresh key through a coordinator that is not one of its replicas (so all ``N`` replicas are
remote, as in WARS), and when the write is acknowledged schedules reads at ``commit + t`` for
every ``t`` through another non-replica coordinator, with read repair off so reads do not
disturb each other. The fraction of reads that return the write, with a Wilson interval, is
compared with :func:`consensuslab.quorum.pbs.wars`.

*Anomalies* (:func:`workload_trial`). Several clients append unique tokens to a few keys and read
them while a nemesis crashes, partitions and drops messages; after the storm heals we take the
*converged* value of each key (the newest version anywhere; for Raft, the most advanced
member's state machine) and classify: a **lost update** is an acknowledged append whose token is
missing from the converged value; a **stale read** misses a token acknowledged before the read
was invoked; a **read-your-writes violation** misses a token of the reading client's own earlier
acknowledged append; **divergent keys** are keys whose replicas disagree 300 ms after the
workload ends (in-flight replication has landed, but no anti-entropy ran — LWW keeps no siblings, so this is where Dynamo would show siblings); the
history is checked for **linearizability**. Latency and messages per operation are reported per
configuration.

References
----------
P. Bailis et al., "Probabilistically Bounded Staleness for Practical Partial Quorums", PVLDB
5(8), 2012, §4-§5. G. DeCandia et al., "Dynamo", SOSP 2007.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from typing import Any

import numpy as np
import pandas as pd

from consensuslab._validate import check_choice, check_float, check_int, describe
from consensuslab.experiments.registry import Result, experiment
from consensuslab.protocols.kv import ClientRequest, ClientResponse, Command, Op
from consensuslab.protocols.vesta import VestaConfig, VestaNode, wars_latency
from consensuslab.sim.network import Constant
from consensuslab.sim.simulator import Simulator

__all__ = [
    "CONFIGURATIONS",
    "simulate_staleness",
    "staleness_table",
    "workload_trial",
    "run_workload",
    "converged_values",
    "classify",
    "anomaly_table",
    "explore",
]

#: The configurations compared by the anomaly experiment (all with N = 3 on 5 nodes).
CONFIGURATIONS: dict[str, dict[str, Any]] = {
    "R+W<=N": {"replicas": 3, "r": 1, "w": 1},
    "R+W>N": {"replicas": 3, "r": 2, "w": 2},
    "sloppy": {"replicas": 3, "r": 2, "w": 2, "sloppy": True},
    "raft": {"replicas": 3, "consistency": "raft"},
}


# -- staleness: simulator vs PBS ---------------------------------------------------------


def _members(config: VestaConfig) -> tuple[int, ...]:
    """The initial ring members of a validated config (``__post_init__`` fills in the default)."""
    assert config.members is not None
    return config.members


class _StalenessClient:
    """Drives the write/read trials on a bare simulator (one callback for all requests)."""

    def __init__(self, sim: Simulator, config: VestaConfig, times: np.ndarray, rng: np.random.Generator) -> None:
        self.sim = sim
        self.config = config
        self.members = _members(config)
        self.times = times
        self.rng = rng
        self.seq = 0
        self.pending: dict[int, tuple[str, int, str, int]] = {}  # seq -> (kind, trial, key, t index)
        self.consistent = np.zeros((0, len(times)), dtype=bool)
        self.done = np.zeros((0, len(times)), dtype=bool)

    def _coordinator(self, key: str) -> int:
        reps = set(self.config.preference(key, self.members)[: self.config.replicas])
        others = [i for i in range(self.sim.n) if i not in reps]
        return others[int(self.rng.integers(len(others)))]

    def _request(self, node: int, op: Op, key: str, value: Any, info: tuple) -> None:
        self.seq += 1
        self.pending[self.seq] = info
        self.sim.request(0, node, ClientRequest(0, self.seq, Command(0, self.seq, op, key, value)))

    def start(self, trial: int) -> None:
        key = f"pbs-{trial}"
        self._request(self._coordinator(key), "put", key, trial, ("w", trial, key, -1))

    def on_reply(self, node: int, resp: Any) -> None:
        if not isinstance(resp, ClientResponse):
            return
        kind, trial, key, ti = self.pending.pop(resp.seq)
        if not resp.ok:  # cannot happen with the huge request timeout used here
            raise RuntimeError(f"staleness trial {trial}: {kind} failed ({resp.error})")
        if kind == "w":
            for j, t in enumerate(self.times):
                self.sim.schedule(float(t), self._request, self._coordinator(key), "get", key, None, ("r", trial, key, j))
        else:
            self.consistent[trial, ti] = resp.value == trial
            self.done[trial, ti] = True


def simulate_staleness(
    replicas: int = 3,
    r: int = 1,
    w: int = 1,
    profile: Any = "LNKD-DISK",
    t: Sequence[float] | np.ndarray = (0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0),
    trials: int = 1000,
    seed: int = 0,
    spacing: float = 2.0,
) -> pd.DataFrame:
    """Measure P(consistent read ``t`` ms after a write commits) on the VeSTA simulator.

    Parameters
    ----------
    replicas, r, w : int
        ``N``, ``R``, ``W``.
    profile : str or LatencyProfile
        A PBS latency profile (name in :data:`consensuslab.quorum.pbs.PROFILES` or an object);
        profiles with a WAN ``remote_delay`` are not supported (the simulator has no datacenters).
    t : sequence of float
        Times after commit, ms (>= 0).
    trials : int
        Writes (each followed by one read per ``t``).
    seed : int
        Root seed of the simulation.
    spacing : float
        Gap between the starts of consecutive trials, ms (trials use distinct keys).

    Returns
    -------
    pandas.DataFrame
        One row per ``t``: ``t``, ``reads``, ``consistent``, ``p_sim``, ``lo``, ``hi`` (95%
        Wilson interval).

    Raises
    ------
    ValueError
        Bad ``N``/``R``/``W``, times, or a WAN profile.
    """
    from consensuslab.quorum import pbs
    from consensuslab.stats import wilson

    replicas = check_int("replicas", replicas, 1)
    check_int("r", r, 1, replicas)
    check_int("w", w, 1, replicas)
    trials = check_int("trials", trials, 1)
    seed = check_int("seed", seed, 0)
    spacing = check_float("spacing", spacing, 0.0)
    prof = pbs.PROFILES[check_choice("profile", profile, pbs.PROFILES)] if isinstance(profile, str) else profile
    if not callable(getattr(prof, "sample", None)):
        raise TypeError(f"`profile` must be a profile name or a LatencyProfile; got {describe(profile)}.")
    if getattr(prof, "remote_delay", 0.0):
        raise ValueError(f"`profile` must be a single-datacenter profile (remote_delay = 0); got {prof.name!r}.")
    times = np.asarray(t, dtype=float)
    if times.ndim != 1 or times.size == 0 or not np.all(np.isfinite(times)) or np.any(times < 0):
        raise ValueError(f"`t` must be a 1-D sequence of times >= 0 ms; got {describe(t)}.")
    n = replicas + 2  # two non-replica coordinators per key at least
    cfg = VestaConfig(n=n, replicas=replicas, r=r, w=w, read_repair=False, request_timeout=1e9,
                      sloppy_timeout=1e8)
    sim = Simulator(cfg.make_node, n, seed, latency=Constant(0.0), trace=False, kind_latency=wars_latency(prof))
    client = _StalenessClient(sim, cfg, times, np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(7,))))
    client.consistent = np.zeros((trials, len(times)), dtype=bool)
    client.done = np.zeros((trials, len(times)), dtype=bool)
    sim.add_client(client.on_reply)
    for k in range(trials):
        sim.schedule(k * spacing, client.start, k)
    while sim.step():
        pass
    if not client.done.all():  # pragma: no cover - an internal error
        raise RuntimeError("staleness simulation ended with unanswered reads")
    rows = []
    for j, tj in enumerate(times):
        ok = int(client.consistent[:, j].sum())
        lo, hi = wilson(ok, trials)
        rows.append({"t": float(tj), "reads": trials, "consistent": ok, "p_sim": ok / trials, "lo": lo, "hi": hi})
    return pd.DataFrame(rows)


def staleness_table(
    configs: Sequence[tuple[int, int, int]] = ((3, 1, 1), (3, 1, 2), (3, 2, 2)),
    profiles: Sequence[str] = ("LNKD-SSD", "LNKD-DISK", "YMMR"),
    t: Sequence[float] = (0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0),
    trials: int = 1000,
    pbs_trials: int = 200_000,
    seed: int = 0,
) -> pd.DataFrame:
    """Simulated vs PBS-predicted consistency for each ``(N, R, W)`` and profile.

    Returns
    -------
    pandas.DataFrame
        ``profile, N, R, W, t, p_sim, lo, hi, p_pbs, diff, within`` (``within``: the PBS value
        lies in the simulation's 95% interval).
    """
    from consensuslab.quorum import pbs

    frames = []
    for ci, (nn, rr, ww) in enumerate(configs):
        for pi, prof in enumerate(profiles):
            sim = simulate_staleness(nn, rr, ww, prof, t, trials, seed + 100 * ci + pi)
            p = np.atleast_1d(pbs.wars(nn, rr, ww, prof, np.asarray(t, dtype=float), trials=pbs_trials, seed=seed + 1))
            sim.insert(0, "W", ww)
            sim.insert(0, "R", rr)
            sim.insert(0, "N", nn)
            sim.insert(0, "profile", prof)
            sim["p_pbs"] = p
            sim["diff"] = sim["p_sim"] - sim["p_pbs"]
            sim["within"] = (sim["p_pbs"] >= sim["lo"] - 1e-12) & (sim["p_pbs"] <= sim["hi"] + 1e-12)
            frames.append(sim)
    return pd.concat(frames, ignore_index=True)


# -- anomalies under faults -------------------------------------------------------------


def converged_values(cluster: Any) -> dict[str, Any]:
    """The value each key converges to: the newest version on any node (quorum modes,
    including hinted copies), or the state machine of the most advanced Raft member."""
    sim = cluster.sim
    cfg = cluster.config
    out: dict[str, Any] = {}
    if cfg.consistency == "raft":
        best: dict[tuple, Any] = {}
        for node in sim.nodes:
            if node is None:
                continue
            for g, raft in node.groups.items():
                if g not in best or raft.last_applied > best[g].last_applied:
                    best[g] = raft
        for raft in best.values():
            out.update(raft.kv.data)
        return out
    stamps: dict[str, Any] = {}
    for node in sim.nodes:
        if node is None:
            continue
        versions = list(node.store.items()) + [(k, v) for (k, v, _) in node.hints.values()]
        for key, v in versions:
            if key not in stamps or v.stamp > stamps[key]:
                stamps[key] = v.stamp
                out[key] = v.value
    return out


def _divergent_keys(cluster: Any, keys: Sequence[str]) -> int:
    """Keys whose live replicas do not all hold the same value right now."""
    sim = cluster.sim
    cfg = cluster.config
    count = 0
    for key in keys:
        if cfg.consistency == "raft":
            members = tuple(sorted(cfg.preference(key, cfg.members)[: cfg.replicas]))
            vals = {repr(node.groups[members].kv.data.get(key)) if members in node.groups else repr(None)
                    for i in members if (node := sim.nodes[i]) is not None}
        else:
            reps = cfg.preference(key, cfg.members)[: cfg.replicas]
            vals = {repr(node.store[key].value if key in node.store else None)
                    for i in reps if (node := sim.nodes[i]) is not None}
        count += len(vals) > 1
    return count


def classify(operations: Sequence[Any], final: Mapping[str, Any]) -> dict[str, int]:
    """Count anomalies of an append/get history against the converged values.

    Parameters
    ----------
    operations : sequence of ClientOp
        The cluster's operations (appends carry unique tokens ending in ``";"``).
    final : mapping
        Converged value per key (see :func:`converged_values`).

    Returns
    -------
    dict
        ``acked_appends``, ``lost_updates``, ``duplicated``, ``reads``, ``stale_reads``,
        ``ryw_violations``.
    """
    appends = [op for op in operations if op.command.op == "append"]
    reads = [op for op in operations if op.command.op == "get" and op.ok]
    acked = [op for op in appends if op.ok]
    lost = dup = 0
    kept = []
    for op in acked:
        have = str(final.get(op.command.key) or "").split(";").count(str(op.command.value).rstrip(";"))
        lost += have == 0
        dup += have > 1
        if have:
            kept.append(op)
    stale = ryw = 0
    for rd in reads:  # a lost token is counted once, as a lost update, not in every later read
        tokens = set(str(rd.value or "").split(";"))
        missing = [op for op in kept if op.command.key == rd.command.key and op.ret is not None
                   and op.ret < rd.call and str(op.command.value).rstrip(";") not in tokens]
        stale += bool(missing)
        ryw += any(op.client == rd.client for op in missing)
    return {"acked_appends": len(acked), "lost_updates": lost, "duplicated": dup, "reads": len(reads),
            "stale_reads": stale, "ryw_violations": ryw}


def workload_trial(
    rng: np.random.Generator,
    config: str = "R+W>N",
    nodes: int = 5,
    clients: int = 3,
    ops_per_client: int = 12,
    keys: int = 2,
    read_fraction: float = 0.4,
    faults: str = "nemesis",
    duration: float = 1500.0,
    fault_interval: tuple[float, float] = (50.0, 250.0),
    clock_skew: float = 0.0,
    check_linearizability: bool = True,
    options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One anomaly trial (``run_trials`` signature: ``rng`` first); see the module notes.

    Parameters
    ----------
    config : str
        A key of :data:`CONFIGURATIONS` (or ``"custom"`` with ``options``).
    faults : {"nemesis", "none"}
        Crashes + partitions + message loss during ``duration`` ms, or a calm run.
    options : mapping, optional
        Extra :class:`VestaConfig` options (override the configuration's).

    Returns
    -------
    dict
        Counts from :func:`classify`, ``divergent_keys``, ``linearizable``, ``ops``, ``ok_ops``,
        ``latency_mean``, ``latency_p99`` (ms, answered operations), ``messages_per_op``.
    """
    from consensuslab.check import check_linearizable
    from consensuslab.cluster import Cluster

    base = dict(CONFIGURATIONS[check_choice("config", config, [*CONFIGURATIONS, "custom"])]) if config != "custom" else {}
    base.update(options or {})
    check_choice("faults", faults, ("nemesis", "none"))
    read_fraction = check_float("read_fraction", read_fraction, 0.0, 1.0)
    seed = int(rng.integers(2**31))
    if clock_skew:
        base["clock_skew"] = clock_skew
    c = Cluster("vesta", n=check_int("nodes", nodes, 1), seed=seed, clients=check_int("clients", clients, 1),
                client_timeout=400.0, op_timeout=2000.0, **base)
    if faults == "nemesis":
        c.nemesis(seed, duration=duration, interval=fault_interval, max_crashed=1)
    key_names = [f"k{j}" for j in range(check_int("keys", keys, 1))]
    ops = []
    for i in range(check_int("ops_per_client", ops_per_client, 1)):
        for cl in range(clients):
            key = key_names[int(rng.integers(len(key_names)))]
            if rng.random() < read_fraction:
                ops.append(c.submit("get", key, client=cl))
            else:
                ops.append(c.submit("append", key, f"{cl}.{i};", client=cl))
    c.run_until(lambda: all(op.done for op in ops), duration + 30_000)
    if faults == "nemesis" and c.now < duration:
        c.run_for(duration - c.now)
    sent_during_ops = c.messages_sent
    c.run_for(300.0)  # in-flight replication lands (Raft followers learn the commit index)
    divergent = _divergent_keys(c, key_names)
    c.run_for(2000.0)  # the storm has healed: hints, repairs and elections settle
    final = converged_values(c)
    row: dict[str, Any] = classify(c.operations, final)
    row["divergent_keys"] = divergent
    if check_linearizability:
        res = check_linearizable(c.history, "kv", timeout=20.0)
        row["linearizable"] = res.ok
    lat = np.array([op.ret - op.call for op in c.operations if op.ok and op.ret is not None])  # ok: ret is set
    row.update({
        "ops": len(ops),
        "ok_ops": int(sum(op.ok for op in ops)),
        "latency_mean": float(lat.mean()) if lat.size else float("nan"),
        "latency_p99": float(np.quantile(lat, 0.99)) if lat.size else float("nan"),
        "messages_per_op": sent_during_ops / len(ops),
        "seed": seed,
    })
    return row


def run_workload(
    configs: Sequence[str] = tuple(CONFIGURATIONS),
    trials: int = 10,
    seed: int = 0,
    executor: Executor | str | None = "inline",
    **params: Any,
) -> pd.DataFrame:
    """Run :func:`workload_trial` ``trials`` times per configuration (rows per trial)."""
    from consensuslab.experiments.runner import run_trials

    grid = [{"config": name, **params} for name in configs]
    return run_trials(workload_trial, grid, trials, seed, executor=executor, progress=False)


def anomaly_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Per-configuration rates: anomalies per trial / per operation, linearizable fraction,
    latency and messages per operation."""
    g = rows.groupby("config", sort=False)
    out = pd.DataFrame({
        "trials": g.size(),
        "lost_update_rate": g["lost_updates"].sum() / g["acked_appends"].sum().clip(lower=1),
        "stale_read_rate": g["stale_reads"].sum() / g["reads"].sum().clip(lower=1),
        "ryw_violation_rate": g["ryw_violations"].sum() / g["reads"].sum().clip(lower=1),
        "divergent_keys_per_trial": g["divergent_keys"].mean(),
        "availability": g["ok_ops"].sum() / g["ops"].sum(),
        "latency_mean_ms": g["latency_mean"].mean(),
        "latency_p99_ms": g["latency_p99"].mean(),
        "messages_per_op": g["messages_per_op"].mean(),
    })
    if "linearizable" in rows:
        out["linearizable_fraction"] = g["linearizable"].apply(lambda s: float(np.mean([bool(x) for x in s])))
    return out.reset_index()


# -- the explorer's one call ------------------------------------------------------------


def explore(
    replicas: int = 3,
    r: int = 1,
    w: int = 1,
    profile: str = "LNKD-DISK",
    fault_rate: float = 2.0,
    seed: int = 0,
    trials: int = 300,
    t: Sequence[float] = (0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0),
) -> dict[str, Any]:
    """Everything the VeSTA explorer shows for one setting (one library call).

    Parameters
    ----------
    replicas, r, w : int
        ``N``, ``R``, ``W`` (``R, W <= N <= 5``).
    profile : str
        PBS latency profile for the staleness measurement.
    fault_rate : float
        Faults (crash/partition/loss changes) per second during the small workload; 0 = none.
    seed, trials, t
        Seed, staleness trials and times after commit.

    Returns
    -------
    dict
        ``staleness`` (DataFrame: t, p_sim, lo, hi, p_pbs) and ``summary`` (dict of numbers).
    """
    from consensuslab.quorum import pbs

    replicas = check_int("replicas", replicas, 1, 5)
    r = check_int("r", r, 1, replicas)
    w = check_int("w", w, 1, replicas)
    fault_rate = check_float("fault_rate", fault_rate, 0.0, 50.0)
    st = simulate_staleness(replicas, r, w, profile, t, trials, seed)
    st["p_pbs"] = np.atleast_1d(pbs.wars(replicas, r, w, profile, np.asarray(t, dtype=float), trials=100_000, seed=seed))
    gap = 1000.0 / fault_rate if fault_rate > 0 else 1000.0
    row = workload_trial(
        np.random.default_rng(seed), config="custom", faults="nemesis" if fault_rate > 0 else "none",
        fault_interval=(0.5 * gap, 1.5 * gap), options={"replicas": replicas, "r": r, "w": w},
        ops_per_client=8, duration=1000.0,
    )
    summary = {
        "P(consistent) at t=0, simulated": float(st["p_sim"].iloc[0]),
        "P(consistent) at t=0, PBS": float(st["p_pbs"].iloc[0]),
        "max |sim - PBS|": float((st["p_sim"] - st["p_pbs"]).abs().max()),
        "strict quorum (R+W>N)": r + w > replicas,
        "lost updates": row["lost_updates"],
        "stale reads": row["stale_reads"],
        "read-your-writes violations": row["ryw_violations"],
        "linearizable": bool(row["linearizable"]),
        "availability": row["ok_ops"] / row["ops"],
        "mean latency (ms)": row["latency_mean"],
        "messages per op": row["messages_per_op"],
    }
    return {"staleness": st, "summary": summary, "workload": row}


# -- registered experiments --------------------------------------------------------------


@experiment("vesta-staleness", "VeSTA: simulated P(consistent read) t ms after commit vs the PBS WARS prediction")
def vesta_staleness(quick: bool = False, seed: int = 0, executor: Executor | None = None) -> Result:
    trials = 300 if quick else 2000
    configs = ((3, 1, 1),) if quick else ((3, 1, 1), (3, 1, 2), (3, 2, 2))
    profiles = ("LNKD-DISK",) if quick else ("LNKD-SSD", "LNKD-DISK", "YMMR")
    table = staleness_table(configs, profiles, trials=trials, pbs_trials=100_000 if quick else 500_000, seed=seed)
    return Result(table=table, params={"trials": trials, "configs": configs, "profiles": profiles, "seed": seed})


@experiment("vesta-anomalies", "VeSTA: lost updates, stale reads, RYW violations, linearizability, latency per configuration")
def vesta_anomalies(quick: bool = False, seed: int = 0, executor: Executor | None = None) -> Result:
    trials = 3 if quick else 40
    frames = []
    for faults in ("none", "nemesis"):
        rows = run_workload(tuple(CONFIGURATIONS), trials=trials, seed=seed, executor=executor or "inline", faults=faults)
        table = anomaly_table(rows)
        table.insert(1, "faults", faults)
        frames.append(table)
    return Result(table=pd.concat(frames, ignore_index=True),
                  params={"trials": trials, "seed": seed, "configs": CONFIGURATIONS})


# -- concrete anomaly scenarios (notebook) ------------------------------------------------


class _ScriptClient:
    """Runs one operation at a time at a chosen node, following redirects, retrying on timeout."""

    def __init__(self, sim: Simulator, members: Sequence[int]) -> None:
        self.sim = sim
        self.members = tuple(members)
        self.seq = 0
        self.cur: dict[str, Any] | None = None
        self.rows: list[dict[str, Any]] = []
        for _ in range(3):  # script clients 0, 1, 2 share one reply handler
            sim.add_client(self.on_reply)

    def run(self, client: int, node: int, op: str, key: str, value: Any = None, deadline: float = 3000.0) -> dict[str, Any]:
        self.seq += 1
        row = {"client": client, "op": op, "key": key, "value": value, "node": node, "call": self.sim.now,
               "ret": None, "ok": False, "result": None, "attempts": 0}
        self.cur = row
        self._send(node)
        self.sim.run_until(lambda: row["ret"] is not None, deadline)
        self.cur = None
        self.rows.append(row)
        return row

    def _send(self, node: int) -> None:
        row = self.cur
        assert row is not None
        row["attempts"] += 1
        row["node"] = node
        attempt = row["attempts"]
        cmd = Command(row["client"], self.seq, row["op"], row["key"], row["value"])
        self.sim.request(0, node, ClientRequest(row["client"], self.seq, cmd))
        self.sim.schedule(400.0, self._timeout, row, attempt)

    def _timeout(self, row: dict[str, Any], attempt: int) -> None:
        if self.cur is row and row["ret"] is None and row["attempts"] == attempt:
            self._send(self.members[(self.members.index(row["node"]) + 1) % len(self.members)] if row["node"] in self.members else self.members[0])

    def on_reply(self, node: int, resp: Any) -> None:
        row = self.cur
        if row is None or not isinstance(resp, ClientResponse) or resp.seq != self.seq or row["ret"] is not None:
            return
        if resp.ok:
            row.update(ret=self.sim.now, ok=True, result=resp.value)
        else:
            hint = resp.leader_hint if resp.leader_hint is not None and resp.leader_hint != node else None
            target = hint if hint is not None else self.members[(self.members.index(node) + 1) % len(self.members)] if node in self.members else self.members[0]
            self.sim.schedule(20.0, self._retry, row, row["attempts"], target)

    def _retry(self, row: dict[str, Any], attempt: int, target: int) -> None:
        if self.cur is row and row["ret"] is None and row["attempts"] == attempt:
            self._send(target)


def anomaly_scenario(name: str = "sloppy-lost-update", consistency: str = "quorum", seed: int = 1) -> dict[str, Any]:
    """Replay a concrete anomaly on 5 nodes (N = 3) and return its operations and trace.

    ``"stale-read"`` (R = W = 1): a client's write is acknowledged by one replica; that replica
    is then cut off and the client reads the old value from another replica — a stale read
    that is also a read-your-writes violation.

    ``"sloppy-lost-update"`` (R = W = 2, sloppy): a partition leaves one replica with the
    fallbacks; a client appends ``b;`` there (acknowledged by the replica and a hinted
    fallback), a client on the other side reads (stale, although R + W > N) and appends
    ``c;`` to what it read; after the partition heals, hinted handoff delivers ``a;b;`` but LWW
    keeps the later ``a;c;``: the acknowledged ``b;`` is lost.

    With ``consistency="raft"`` the same script runs on the Raft variant (clients follow
    redirects): nothing is lost; operations wait for a leader instead.

    Returns
    -------
    dict
        ``ops`` (DataFrame: client, op, node, value, ok, result, latency), ``final`` (the value
        read after healing), ``lost`` (acknowledged tokens missing from it), ``trace`` and
        ``replicas`` of the key.
    """
    check_choice("name", name, ("stale-read", "sloppy-lost-update"))
    check_choice("consistency", consistency, ("quorum", "raft"))
    opts: dict[str, Any] = {"replicas": 3}
    if consistency == "raft":
        opts["consistency"] = "raft"
    elif name == "stale-read":
        opts.update(r=1, w=1, read_repair=False)
    else:
        opts.update(r=2, w=2, sloppy=True)
    cfg = VestaConfig(n=5, **opts)
    sim = Simulator(cfg.make_node, 5, check_int("seed", seed, 0), latency=(5.0, 15.0), trace=True)
    key = "x"
    members = _members(cfg)
    pref = cfg.preference(key, members)
    reps, others = pref[:3], pref[3:]
    cl = _ScriptClient(sim, members)
    sim.run_for(400.0)  # Raft: let groups form (quorum: idle)
    cl.run(0, reps[0] if consistency == "raft" else others[0], "put", key, "a;")
    sim.run_for(100.0)
    if name == "stale-read":
        sim.isolate(reps[1])
        sim.isolate(reps[2])
        cl.run(0, others[0], "append", key, "b;")
        sim.heal()
        sim.isolate(reps[0])
        cl.run(0, others[1], "get", key)
    else:
        sim.partition([reps[0], *others], [reps[1], reps[2]])
        cl.run(0, others[0], "append", key, "b;")
        cl.run(1, reps[1], "get", key)
        cl.run(1, reps[1], "append", key, "c;")
    sim.heal()
    sim.run_for(1500.0)
    final = cl.run(2, reps[0], "get", key)
    ops = pd.DataFrame(cl.rows)
    ops["latency"] = ops["ret"] - ops["call"]
    acked = [r["value"] for r in cl.rows if r["op"] == "append" and r["ok"]]
    lost = [v for v in acked if v.rstrip(";") not in str(final["result"] or "").split(";")]
    return {"ops": ops, "final": final["result"], "lost": lost, "trace": sim.trace, "replicas": reps, "sim": sim}

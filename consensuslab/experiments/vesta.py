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
configuration, every rate with a 95% interval.

*Availability under a fault that separates the designs* (:func:`availability_trial`). The
anomaly workload's nemesis heals quickly and its clients retry for seconds, so every
configuration ends up answering every operation; that measures patience, not availability.
Here a fault is held for a whole window while clients probe one key with writes every
``probe_every`` ms, each abandoned after ``deadline`` ms: availability is the fraction of
probes acknowledged within the deadline, and the *longest gap* between two acknowledgements is
the outage a user sees. Two faults: ``"isolate-one"`` cuts one of the key's three replicas off
from every node -- for the Raft variant the one that leads the key's group, so the group must
elect a new leader while leaderless quorums simply use the other two replicas; and
``"crash-two"`` crashes two of the three replicas -- a strict quorum (``W = 2``) and a Raft
group (majority of 3) cannot write at all, while ``W = 1`` and a sloppy quorum (fallback nodes
stand in) can.

*Agreement with PBS, per profile* (:func:`staleness_agreement`). For each profile: how many
points' 95% intervals contain the PBS prediction, counted over the *informative* points (PBS
strictly between 0.1% and 99.9%: elsewhere an interval contains it trivially); the largest
difference with the interval's half-width at that point; and a family-wise test -- exact
binomial tests of the points, Bonferroni-adjusted -- that stays valid although the points of
one curve share their writes and so miss together.

References
----------
P. Bailis et al., "Probabilistically Bounded Staleness for Practical Partial Quorums", PVLDB
5(8), 2012, §4-§5. G. DeCandia et al., "Dynamo", SOSP 2007.
"""

from __future__ import annotations

import math
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
    "AVAILABILITY_FAULTS",
    "simulate_staleness",
    "staleness_table",
    "staleness_agreement",
    "agreement_finding",
    "agreement_display",
    "worst_profile",
    "anomaly_finding",
    "pbs_paper_points",
    "availability_trial",
    "availability_run",
    "availability_table",
    "availability_finding",
    "node_log_table",
    "ops_table",
    "anomaly_display",
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
        ``profile, N, R, W, t, reads, consistent, p_sim, lo, hi, p_pbs, pbs_trials, diff,
        within`` (``within``: the PBS value lies in the simulation's 95% interval).
    """
    from consensuslab.quorum import pbs

    frames = []
    for ci, (nn, rr, ww) in enumerate(configs):
        for pi, prof in enumerate(profiles):
            # one independent stream per (root seed, configuration, profile): another root seed never
            # replays a sample of this one (``seed + 100 * ci + pi`` did: seed 2's first profile was
            # seed 1's second)
            sub = int(np.random.SeedSequence([seed, ci, pi]).generate_state(1)[0] >> 1)
            sim = simulate_staleness(nn, rr, ww, prof, t, trials, sub)
            p = np.atleast_1d(pbs.wars(nn, rr, ww, prof, np.asarray(t, dtype=float), trials=pbs_trials, seed=seed + 1))
            sim.insert(0, "W", ww)
            sim.insert(0, "R", rr)
            sim.insert(0, "N", nn)
            sim.insert(0, "profile", prof)
            sim["p_pbs"] = p
            sim["pbs_trials"] = pbs_trials
            sim["diff"] = sim["p_sim"] - sim["p_pbs"]
            sim["within"] = (sim["p_pbs"] >= sim["lo"] - 1e-12) & (sim["p_pbs"] <= sim["hi"] + 1e-12)
            frames.append(sim)
    return pd.concat(frames, ignore_index=True)


def staleness_agreement(table: pd.DataFrame, informative: tuple[float, float] = (0.001, 0.999),
                        alpha: float = 0.05) -> pd.DataFrame:
    """Per profile: how well the simulator agrees with PBS (one row per profile, table order).

    Two views. *Per point*: how many informative points' 95% intervals hold the PBS value --
    about 1 in 20 misses by chance, and more than that on one curve is not alarming by itself,
    because the points of a curve share their writes (each trial writes once and reads at every
    ``t``), so misses come in runs. *Per profile* (family-wise): an exact binomial test of each
    informative point's count of consistent reads against the PBS probability
    (:func:`scipy.stats.binomtest`), the smallest p-value multiplied by the number ``m`` of
    informative points (Bonferroni) -- a test at level ``alpha`` that holds under any correlation
    between the points. The PBS value is treated as exact, so ``pbs_trials`` should be many
    times the simulated reads.

    Parameters
    ----------
    table : DataFrame
        :func:`staleness_table` output.
    informative : (float, float)
        A point is *informative* when the PBS prediction lies strictly inside this range (at
        0 or 1 an interval contains it trivially).
    alpha : float
        Family-wise level of the per-profile test.

    Returns
    -------
    pandas.DataFrame
        ``profile, points, informative, inside`` (informative points whose 95% interval holds
        the PBS value), ``inside_fraction`` (of the informative points; ``nan`` if none),
        ``p_family`` (Bonferroni-adjusted smallest p-value; 1 without informative points),
        ``consistent`` (``p_family >= alpha``), ``max_abs_diff`` (largest ``|p_sim - p_pbs|``
        over all points), ``worst_config``, ``worst_t`` and ``worst_half_width`` (where it
        happened, and the interval's half-width there).
    """
    from scipy.stats import binomtest

    lo_i, hi_i = informative
    alpha = check_float("alpha", alpha, 0.0, 1.0, low_open=True, high_open=True)
    rows = []
    for profile, df in table.groupby("profile", sort=False):
        info = df[(df["p_pbs"] > lo_i) & (df["p_pbs"] < hi_i)]
        worst = df.loc[df["diff"].abs().idxmax()]
        m = len(info)
        pvals = [binomtest(int(k), int(n), float(p)).pvalue
                 for k, n, p in zip(info["consistent"], info["reads"], info["p_pbs"])]
        p_family = min(1.0, m * min(pvals)) if m else 1.0
        rows.append({
            "profile": profile,
            "points": len(df),
            "informative": m,
            "inside": int(info["within"].sum()),
            "inside_fraction": float(info["within"].mean()) if m else float("nan"),
            "p_family": float(p_family),
            "consistent": bool(p_family >= alpha),
            "max_abs_diff": float(df["diff"].abs().max()),
            "worst_config": f"N={worst['N']} R={worst['R']} W={worst['W']}",
            "worst_t": float(worst["t"]),
            "worst_half_width": float((worst["hi"] - worst["lo"]) / 2),
        })
    return pd.DataFrame(rows)


def _p(p: float) -> str:
    """A p-value for people: 0.004, 0.03, 0.41, 1."""
    return "1" if p >= 0.995 else (f"{p:.2f}" if p >= 0.01 else (f"{p:.3f}" if p >= 0.001 else "< 0.001"))


def _worst(agreement: pd.DataFrame) -> pd.Series:
    """The profile that agrees worst: lowest inside fraction, then largest difference."""
    ranked = agreement.assign(_f=agreement["inside_fraction"].fillna(1.0))
    return ranked.sort_values(["_f", "max_abs_diff"], ascending=[True, False], kind="stable").iloc[0]


def worst_profile(agreement: pd.DataFrame) -> str:
    """The profile of :func:`staleness_agreement` that agrees worst with PBS (lowest share of
    informative points inside the interval; ties: the largest difference)."""
    return str(_worst(agreement)["profile"])


def agreement_display(agreement: pd.DataFrame) -> pd.DataFrame:
    """:func:`staleness_agreement` for people (percentages, percentage points, ms)."""
    return pd.DataFrame({
        "profile": agreement["profile"],
        "points": agreement["points"].astype(int),
        "informative (0.1 % < PBS < 99.9 %)": agreement["informative"].astype(int),
        "PBS inside the 95 % interval": [f"{int(r.inside)} of {int(r.informative)} ({r.inside_fraction:.0%})"
                                         if r.informative else "—" for r in agreement.itertuples(index=False)],
        "family-wise p": [_p(r.p_family) if r.informative else "—" for r in agreement.itertuples(index=False)],
        "verdict (5 %)": ["consistent" if r.consistent else "NOT consistent" for r in agreement.itertuples(index=False)],
        "largest |sim − PBS|": [f"{100 * r.max_abs_diff:.1f} pp (±{100 * r.worst_half_width:.1f})"
                                for r in agreement.itertuples(index=False)],
        "where": [f"{r.worst_config}, t = {r.worst_t:g} ms" for r in agreement.itertuples(index=False)],
    })


def agreement_finding(agreement: pd.DataFrame, recheck: pd.DataFrame | None = None, factor: int | None = None) -> str:
    """A paragraph for people: per-profile agreement (per point and family-wise), the worst
    profile, and (if given) what a re-run of the worst profile with more trials found.

    Parameters
    ----------
    agreement : DataFrame
        :func:`staleness_agreement` of the main run.
    recheck : DataFrame, optional
        :func:`staleness_agreement` of a re-run of the worst profile (more trials, another seed).
    factor : int, optional
        How many times more trials the re-run used (for the text).
    """
    def one(r: Any) -> str:
        if not r.informative:
            return f"{r.profile}: no informative point"
        verdict = "consistent" if r.consistent else "NOT consistent"
        return (f"{r.profile} {r.inside} of {r.informative} ({r.inside_fraction:.0%}), family-wise p = "
                f"{_p(r.p_family)}: {verdict}")

    w = _worst(agreement)
    text = ("PBS inside the simulator's 95% interval, per profile (informative points), and the family-wise "
            "test (exact binomial tests, Bonferroni-adjusted; consistent if p >= 0.05): "
            + "; ".join(one(r) for r in agreement.itertuples(index=False))
            + f". Worst per point: {w['profile']}, largest difference {100 * w['max_abs_diff']:.1f} percentage "
            f"points at {w['worst_config']}, t = {w['worst_t']:g} ms (interval ±{100 * w['worst_half_width']:.1f}).")
    if recheck is not None and len(recheck):
        r2 = recheck.set_index("profile").loc[w["profile"]]
        more = f"{factor}x the trials" if factor else "more trials"
        if r2["informative"]:
            text += (f" Re-run with {more} and another seed: {int(r2['inside'])} of {int(r2['informative'])} "
                     f"({r2['inside_fraction']:.0%}) inside, largest difference {100 * r2['max_abs_diff']:.1f} points, "
                     f"family-wise p = {_p(r2['p_family'])}: "
                     + ("consistent with sampling error: no evidence of a model difference." if r2["consistent"]
                        else "the difference persists (p < 0.05): evidence that the simulator and the model disagree."))
    return text


#: Published P(consistent read) points of Bailis et al. (PVLDB 2012, §5.2, Figure 6) that
#: ``data/reference/quorum.csv`` holds, by id: (profile, t in ms), all for N=3, R=W=1.
_PAPER_POINTS = {
    "pbs_lnkd_ssd_t0": ("LNKD-SSD", 0.0),
    "pbs_lnkd_disk_t0": ("LNKD-DISK", 0.0),
    "pbs_lnkd_disk_t10": ("LNKD-DISK", 10.0),
    "pbs_ymmr_t0": ("YMMR", 0.0),
}


def pbs_paper_points() -> pd.DataFrame:
    """The paper's published staleness points (N=3, R=W=1) from ``data/reference/quorum.csv``.

    Returns
    -------
    pandas.DataFrame
        ``id, profile, N, R, W, t, p, source``; empty when the reference file is not there (an
        installed package without the repository's ``data/``).
    """
    from pathlib import Path

    cols = ["id", "profile", "N", "R", "W", "t", "p", "source"]
    path = Path(__file__).resolve().parents[2] / "data" / "reference" / "quorum.csv"
    if not path.is_file():
        return pd.DataFrame(columns=cols)
    ref = pd.read_csv(path).set_index("id")
    rows = [{"id": i, "profile": prof, "N": 3, "R": 1, "W": 1, "t": t, "p": float(ref.loc[i, "reference"]),
             "source": str(ref.loc[i, "source"])} for i, (prof, t) in _PAPER_POINTS.items() if i in ref.index]
    return pd.DataFrame(rows, columns=cols)


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
    """Per-configuration rates with 95% intervals: anomalies per operation, linearizable
    fraction, availability, latency and messages per operation.

    Rates are pooled over the trials (``sum of events / sum of opportunities``) with a Wilson
    interval over the operations -- a lower bound on the uncertainty, since operations of one
    trial share its faults. The linearizable fraction counts histories the checker decided
    (a timeout is left out) with a Wilson interval over trials; the mean latency gets a bootstrap
    interval over the trials' means.
    """
    from consensuslab.stats import summarize, wilson

    out = []
    for config, g in rows.groupby("config", sort=False):
        row: dict[str, Any] = {"config": config, "trials": len(g)}
        for name, num, den in (("lost_update", "lost_updates", "acked_appends"),
                               ("stale_read", "stale_reads", "reads"),
                               ("ryw_violation", "ryw_violations", "reads")):
            k, m = int(g[num].sum()), int(g[den].sum())
            row[f"{num}"] = k
            row[f"{den}"] = m
            row[f"{name}_rate"] = k / m if m else 0.0
            row[f"{name}_lo"], row[f"{name}_hi"] = wilson(k, m) if m else (0.0, 1.0)
        row["divergent_keys_per_trial"] = float(g["divergent_keys"].mean())
        ok, ops = int(g["ok_ops"].sum()), int(g["ops"].sum())
        row["availability"] = ok / ops if ops else float("nan")
        lat = g["latency_mean"].dropna().to_numpy(dtype=float)
        if lat.size:
            sm = summarize(lat, quantiles=(), seed=0, n_resamples=500)
            row.update(latency_mean_ms=float(sm["mean"]), latency_lo=float(sm["mean_lo"]), latency_hi=float(sm["mean_hi"]))
        else:
            row.update(latency_mean_ms=float("nan"), latency_lo=float("nan"), latency_hi=float("nan"))
        row["latency_p99_ms"] = float(g["latency_p99"].mean())
        row["messages_per_op"] = float(g["messages_per_op"].mean())
        if "linearizable" in g:
            decided = [bool(x) for x in g["linearizable"] if pd.notna(x)]  # None: the checker timed out
            row["histories_checked"] = len(decided)
            row["linearizable"] = int(sum(decided))
            row["linearizable_fraction"] = sum(decided) / len(decided) if decided else float("nan")
            row["linearizable_lo"], row["linearizable_hi"] = (wilson(int(sum(decided)), len(decided))
                                                              if decided else (0.0, 1.0))
        out.append(row)
    return pd.DataFrame(out)


def _pct(x: float) -> str:
    """A proportion for people: 0 %, 0.4 %, 12 %, 99.6 %, 100 %."""
    if math.isnan(x):
        return "—"
    v = 100.0 * float(x)
    return f"{v:.1f} %" if 0 < v < 1 or 99 < v < 100 else f"{v:.0f} %"


def _interval(x: float, lo: float, hi: float) -> str:
    return f"{_pct(x)} ({_pct(lo)}–{_pct(hi)})"


def anomaly_display(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`anomaly_table` for people: rates as % with their 95% interval, times in ms."""
    rows = []
    for r in table.to_dict("records"):
        d = {"faults": r.get("faults", ""), "configuration": r["config"], "trials": int(r["trials"]),
             "lost updates (of acked appends)": _interval(r["lost_update_rate"], r["lost_update_lo"], r["lost_update_hi"]),
             "stale reads": _interval(r["stale_read_rate"], r["stale_read_lo"], r["stale_read_hi"]),
             "RYW violations": _interval(r["ryw_violation_rate"], r["ryw_violation_lo"], r["ryw_violation_hi"])}
        if "linearizable_fraction" in r:
            d["linearizable histories"] = (f"{int(r['linearizable'])} of {int(r['histories_checked'])}"
                                           if r["histories_checked"] else "—")
        d["mean latency"] = (f"{r['latency_mean_ms']:.0f} ms ({r['latency_lo']:.0f}–{r['latency_hi']:.0f})"
                             if not math.isnan(r["latency_mean_ms"]) else "—")
        d["messages per op"] = f"{r['messages_per_op']:.1f}"
        rows.append(d)
    out = pd.DataFrame(rows)
    return out.drop(columns="faults") if (out["faults"] == "").all() else out


def anomaly_finding(table: pd.DataFrame) -> str:
    """The anomaly experiment in two sentences, from :func:`anomaly_table` rows with ``faults``."""
    parts = []
    for faults, g in table.groupby("faults", sort=False) if "faults" in table else [("", table)]:
        lin = ", ".join(f"{r.config} {int(r.linearizable)} of {int(r.histories_checked)}" for r in g.itertuples(index=False))
        lost = ", ".join(f"{r.config} {_pct(r.lost_update_rate)}" for r in g.itertuples(index=False))
        lat = ", ".join(f"{r.config} {r.latency_mean_ms:.0f} ms" for r in g.itertuples(index=False))
        head = f"faults {faults}: " if faults else ""
        parts.append(f"{head}linearizable histories {lin}; lost updates {lost}; mean latency {lat}")
    return ". ".join(parts) + "."


def node_log_table(node: Any) -> pd.DataFrame:
    """A VeSTA node's log for people: index, key, HLC stamp (``ms · counter · coordinator``), value."""
    rows = []
    for e in node.log:
        v = e.version
        stamp = "—" if v is None else f"{v.stamp[0]:.1f} ms · {v.stamp[1]} · n{v.stamp[2]}"
        rows.append({"index": e.index, "key": e.key, "HLC stamp (ms · counter · node)": stamp,
                     "value": "(moved away)" if v is None else v.value})
    return pd.DataFrame(rows, columns=["index", "key", "HLC stamp (ms · counter · node)", "value"])


def ops_table(ops: pd.DataFrame) -> pd.DataFrame:
    """A scripted run's operations (:func:`anomaly_scenario` ``ops``) for people."""
    def text(x: Any) -> str:
        return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else str(x)

    return pd.DataFrame({
        "client": ops["client"].astype(int),
        "op": ops["op"],
        "value": [text(v) for v in ops["value"]],
        "answered by": [f"n{int(n)}" for n in ops["node"]],
        "acknowledged": ["yes" if ok else "no" for ok in ops["ok"]],
        "result": [text(v) for v in ops["result"]],
        "latency": [f"{x:.0f} ms" if not math.isnan(x) else "—" for x in ops["latency"].astype(float)],
        "attempts": ops["attempts"].astype(int),
    })


# -- availability under a held fault ----------------------------------------------------

#: The faults of :func:`availability_trial`, with what they do.
AVAILABILITY_FAULTS: dict[str, str] = {
    "isolate-one": "one of the key's 3 replicas cut off from every node (Raft: its group's leader)",
    "crash-two": "two of the key's 3 replicas crashed",
}


def availability_run(
    rng: np.random.Generator,
    config: str = "R+W>N",
    fault: str = "isolate-one",
    nodes: int = 5,
    window: float = 2000.0,
    probe_every: float = 20.0,
    deadline: float = 200.0,
    client_timeout: float = 60.0,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Hold ``fault`` for ``window`` ms while clients probe one key with writes.

    A write (``put``) is issued every ``probe_every`` ms, each by a client that retries at
    another node after ``client_timeout`` ms without an answer (and follows redirects) and gives
    up after ``deadline`` ms. Before the fault the key is written once and the cluster runs
    500 ms (the Raft variant forms the key's group and elects its leader).

    Returns
    -------
    (dict, DataFrame)
        The row (``config, fault, target, probes, acknowledged, availability, longest_gap_ms,
        latency_median_ms, seed``) and one row per probe (``t`` = issue time after the fault,
        ``ok``, ``latency`` ms or ``nan``).
    """
    from consensuslab.cluster import Cluster
    from consensuslab.protocols.raft import Role

    check_choice("config", config, CONFIGURATIONS)
    check_choice("fault", fault, AVAILABILITY_FAULTS)
    window = check_float("window", window, 0.0, low_open=True)
    probe_every = check_float("probe_every", probe_every, 0.0, low_open=True)
    deadline = check_float("deadline", deadline, 0.0, low_open=True)
    seed = int(rng.integers(2**31))
    clients = int(deadline // probe_every) + 2  # a client is free again before its next probe
    c = Cluster("vesta", n=check_int("nodes", nodes, 4), seed=seed, clients=clients,
                client_timeout=check_float("client_timeout", client_timeout, 0.0, low_open=True),
                op_timeout=deadline, **CONFIGURATIONS[config])
    cfg = c.config
    assert isinstance(cfg, VestaConfig)  # a "vesta" cluster
    key = "x"
    reps = cfg.preference(key, _members(cfg))[: cfg.replicas]
    c.put(key, "before", client=0, timeout=3000.0)
    c.run_for(500.0)
    target = reps[0]
    if cfg.consistency == "raft":
        group = tuple(sorted(reps))
        leaders = [i for i in reps if (nd := c.node(i)) is not None and group in nd.groups
                   and nd.groups[group].role is Role.LEADER]
        target = leaders[0] if leaders else reps[0]
    t0 = c.now
    if fault == "isolate-one":
        c.isolate(target)
    else:
        c.crash(target)
        c.crash(next(i for i in reps if i != target))
    probes = []
    for j in range(int(window // probe_every)):
        if j:
            c.run_for(probe_every)
        probes.append(c.submit("put", key, f"probe{j}", client=j % clients))
    c.run_for(deadline + client_timeout)
    ok = np.array([p.ok for p in probes], dtype=bool)
    acks = np.sort(np.array([float(p.ret) - t0 for p in probes if p.ok and p.ret is not None], dtype=float))
    edges = np.concatenate([[0.0], acks[acks <= window], [window]])
    frame = pd.DataFrame({"t": [p.call - t0 for p in probes], "ok": ok,
                          "latency": [float(p.ret) - p.call if p.ok and p.ret is not None else float("nan")
                                      for p in probes]})
    row = {
        "config": config, "fault": fault, "target": int(target), "probes": len(probes),
        "acknowledged": int(ok.sum()), "availability": float(ok.mean()),
        "longest_gap_ms": float(np.diff(edges).max()),
        "latency_median_ms": float(np.nanmedian(frame["latency"])) if ok.any() else float("nan"),
        "seed": seed,
    }
    return row, frame


def availability_trial(rng: np.random.Generator, **params: Any) -> dict[str, Any]:
    """:func:`availability_run` without the per-probe frame (``run_trials`` signature)."""
    return availability_run(rng, **params)[0]


def availability_table(
    configs: Sequence[str] = tuple(CONFIGURATIONS),
    faults: Sequence[str] = tuple(AVAILABILITY_FAULTS),
    trials: int = 10,
    seed: int = 0,
    executor: Executor | str | None = "inline",
    **params: Any,
) -> pd.DataFrame:
    """Availability per configuration and fault over ``trials`` runs, with 95% intervals.

    Returns
    -------
    pandas.DataFrame
        ``fault, config, trials, probes, availability`` (mean over trials) with ``lo``/``hi``
        (bootstrap interval of that mean over trials), ``longest_gap_ms`` (median over trials)
        and ``longest_gap_max_ms``.
    """
    from consensuslab.experiments.runner import run_trials
    from consensuslab.stats import summarize

    grid = [{"config": c, "fault": f, **params} for f in faults for c in configs]
    rows = run_trials(availability_trial, grid, trials, seed, executor=executor, progress=False)
    out = []
    for (fault, config), g in rows.groupby(["fault", "config"], sort=False):
        a = g["availability"].to_numpy(dtype=float)
        sm = summarize(a, quantiles=(), seed=0, n_resamples=500)
        out.append({"fault": fault, "config": config, "trials": len(g), "probes": int(g["probes"].sum()),
                    "availability": float(sm["mean"]), "lo": float(sm["mean_lo"]), "hi": float(sm["mean_hi"]),
                    "longest_gap_ms": float(g["longest_gap_ms"].median()),
                    "longest_gap_max_ms": float(g["longest_gap_ms"].max())})
    return pd.DataFrame(out)


def availability_finding(table: pd.DataFrame, deadline: float = 200.0) -> str:
    """The availability result in a few sentences, from :func:`availability_table`."""
    parts = []
    for fault, g in table.groupby("fault", sort=False):
        items = [f"{r.config} {_pct(r.availability)} (longest gap {r.longest_gap_ms:.0f} ms)"
                 for r in g.itertuples(index=False)]
        parts.append(f"{AVAILABILITY_FAULTS.get(fault, fault)}: " + ", ".join(items))
    return (f"Writes acknowledged within {deadline:.0f} ms (mean over trials) and the median longest gap "
            "between two acknowledgements — " + "; ".join(parts) + ".")


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

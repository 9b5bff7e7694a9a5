"""Raft election convergence: how long a 5-server cluster is without a leader after a crash.

Theory of operation
-------------------
This module reproduces the methodology of the Raft paper's leader-election benchmark (Ongaro &
Ousterhout 2014, extended version §9.3 and Figure 16; §8.3 / Figure 14 of the conference
version; Ongaro's dissertation §9.4 and Figure 9.8) on :class:`~consensuslab.protocols.raft`
nodes driven by the deterministic :class:`~consensuslab.sim.Simulator`:

* **Five servers**, one of them the old leader (node 0). The trial starts at the moment the old
  leader *finishes a heartbeat broadcast* (time 0). Each survivor resets its election timer when
  that heartbeat arrives (one network delay later); we model the arrival by (re)starting the
  survivor from its stable storage at that instant, which draws a fresh timeout exactly as
  receiving a heartbeat does (``rng.uniform(lo, hi)``). The old leader then **crashes at a
  uniformly random moment** ``u ~ U(0, heartbeat)`` within its heartbeat interval; before ``u``
  it would have sent nothing (its next heartbeat is due at ``heartbeat``), so it is down from
  time 0 and ``u`` only fixes the origin of the measurement. ``heartbeat = lo / 2`` (half the
  minimum election timeout), as in the paper, so the smallest possible downtime is ``lo / 2``.
* **Logs differ so that two of the four survivors cannot win**: the term-2 leader's last entry
  reached only itself and survivors 1 and 2 (a majority, so the entry is committed); survivors
  3 and 4 lack it. Their RequestVotes are refused by 1 and 2 (§5.4.1, up-to-date check), so they
  can collect at most 2 of the 3 votes needed. The state is injected into ``Simulator.storage``
  (keys ``term``, ``voted_for``, ``log``) before the start.
* **Broadcast time ≈ 15 ms** (round trip plus a disk write). The simulator's nodes persist
  instantly, so a :class:`DiskLatency` wrapper delays every *reply* that follows a ``Persist`` in
  the same handler by ``disk`` ms: a vote (or a step to a new term, or appended entries) is
  durable before it is acknowledged. Candidates and leaders overlap their own disk writes with
  their outgoing RPCs (dissertation §9.3 "we do not include the time for the candidate to record
  its own vote on disk" and §10.2.1), so RequestVote and AppendEntries are not delayed. With the
  default one-way latency ``L = PAPER_LATENCY`` and ``W = PAPER_DISK``, a RequestVote round trip
  including the voter's disk write is ``2 L + W = 12 ms``; the paper says "roughly 15 ms", and
  :data:`PAPER_LATENCY` documents why 12 ms is the largest value its own numbers allow.
* **The measured value** is the time from the crash until every survivor has heard the new
  leader's first heartbeat (dissertation §9.4: "until the other servers received the new
  leader's first heartbeat"); the election instant itself is reported too. A trial that has not
  converged after ``cap`` ms (10 s, the right edge of Figure 16) is **censored**: it is kept in
  the table with ``censored=True`` and ``downtime=inf``.

The dissertation's analytic model (§9.1-§9.3) lives in :mod:`consensuslab.experiments.split_vote`
(re-exported here); :func:`split_vote_rates` compares it with simulated first-term split rates.

Trials run through :func:`~consensuslab.experiments.runner.run_trials`: results depend only on
``(seed, configuration, trial)``, never on the number of workers.

References
----------
Ongaro, D. and Ousterhout, J. (2014). In search of an understandable consensus algorithm
(extended version), §9.3, Figure 16.
Ongaro, D. (2014). Consensus: bridging theory and practice. PhD thesis, Stanford, chapter 9.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

from consensuslab._validate import check_float, check_int, check_range_pair, describe
from consensuslab.experiments.registry import Result, experiment
from consensuslab.experiments.runner import run_trials
from consensuslab.experiments.split_vote import (
    earliest_timeout_mean,
    expected_election_time,
    expected_terms,
    split_vote_model,
    split_vote_probability,
)
from consensuslab.node import Node
from consensuslab.protocols.kv import NOOP, Command
from consensuslab.protocols.raft import (
    AppendEntriesReply,
    Entry,
    InstallSnapshotReply,
    RaftConfig,
    RequestVoteReply,
    Role,
)
from consensuslab.sim.disk import DiskLatency
from consensuslab.sim.network import as_latency
from consensuslab.sim.simulator import Simulator

__all__ = [
    "PAPER_RANGES",
    "PAPER_TRIALS",
    "PAPER_LATENCY",
    "PAPER_DISK",
    "PAPER_CAP",
    "PAPER_NUMBERS",
    "DISK_BOUND",
    "DiskLatency",
    "election_trial",
    "run_election_trials",
    "election_downtime",
    "downtime_summary",
    "format_summary",
    "earliest_timeout_mean",
    "split_vote_probability",
    "expected_terms",
    "expected_election_time",
    "split_vote_model",
    "split_vote_rates",
    "prevote_effect",
    "cluster_size_effect",
    "paper_measurements",
    "paper_estimates",
    "REPORT_SIZES",
    "REPORT_SPLIT_LS",
    "explore",
    "raft_election",
]

#: Election timeout ranges of Figure 16 (ms): top panel varies randomness, bottom scales it.
PAPER_RANGES: tuple[tuple[float, float], ...] = (
    (150.0, 150.0),
    (150.0, 151.0),
    (150.0, 155.0),
    (150.0, 175.0),
    (150.0, 200.0),
    (150.0, 300.0),
    (12.0, 24.0),
    (25.0, 50.0),
    (50.0, 100.0),
    (100.0, 200.0),
)
TOP_PANEL = PAPER_RANGES[:6]
BOTTOM_PANEL = PAPER_RANGES[6:]

#: Trials per range in the paper: 1000, except 100 for 150-150 ms.
PAPER_TRIALS = 1000
PAPER_TRIALS_NO_RANDOMNESS = 100

#: One-way network latency (ms) and durable-write time (ms) before a reply.
#:
#: The paper's cluster had a "broadcast time (network round trip plus disk write) of roughly
#: 15 ms" (Figure 16 caption). Two facts pin down how to split it between network and disk:
#:
#: * only the one-way latency opens the window in which another server can time out before a
#:   RequestVote arrives (dissertation §9.2; the candidate's own write overlaps its RPCs). The
#:   paper's 150-155 ms median of 287 ms means roughly every other first term splits, which
#:   needs a window of ~2.5 ms, half the 5 ms range: ``L = 2.5``;
#: * a voter resets its timer when it grants, and hears the winner's first heartbeat
#:   ``W + 2 L`` later (write, reply, AppendEntries). If that reaches the 12 ms minimum timeout
#:   of the 12-24 ms configuration, voters time out before the heartbeat and elections cascade
#:   (in our runs ``W = 8`` gives a 51 ms mean, ``W = 10`` a 93 ms mean), yet the paper measured
#:   35 ms. So ``W + 2 L`` must stay below 12 ms: ``W = 7``.
#:
#: Hence ``2 L + W = 12 ms`` — the largest broadcast time consistent with the paper's own 12-24 ms
#: result, 3 ms short of the stated "roughly 15 ms" (LogCabin presumably overlapped part of its
#: write with the timer). A gigabit LAN is faster than 2.5 ms one way; the excess stands for the
#: RPC and thread overheads of the real implementation that the simulator does not have.
PAPER_LATENCY = 2.5
#: Time of a durable disk write (ms) before a reply that depends on it (see :class:`DiskLatency`).
PAPER_DISK = 7.0
#: Virtual time after the crash at which a trial is censored (ms); Figure 16's axis ends at 10 s.
PAPER_CAP = 10_000.0

#: The paper's stated numbers, keyed like ``data/reference/raft.csv``.
PAPER_NUMBERS: dict[str, float] = {
    "raft_150_150_censored_fraction": 1.0,
    "raft_150_155_median_ms": 287.0,
    "raft_150_200_max_ms": 513.0,
    "raft_12_24_mean_ms": 35.0,
    "raft_12_24_max_ms": 152.0,
    "split_vote_rate_s4_l0.1": 0.052,
    "split_vote_rate_s4_l0.2": 0.181,
}

_OLD_TERM = 2  # the crashed leader's term


def label(election_timeout: Sequence[float]) -> str:
    """The paper's legend text for a range, e.g. ``"150-155ms"``."""
    lo, hi = election_timeout
    return f"{lo:g}-{hi:g}ms"


#: Replies that acknowledge persisted state and therefore wait for the disk write.
DISK_BOUND: tuple[type, ...] = (RequestVoteReply, AppendEntriesReply, InstallSnapshotReply)


# ---------------------------------------------------------------------------------------------
# one trial
# ---------------------------------------------------------------------------------------------

_CMD = Command(client=0, seq=1, op="put", key="x", value=1)
LONG_LOG: tuple[Entry, ...] = (Entry(1, NOOP), Entry(2, NOOP), Entry(2, _CMD))
SHORT_LOG: tuple[Entry, ...] = LONG_LOG[:2]


def _inner(node: Node | None) -> Any:
    return getattr(node, "inner", node)


def election_trial(
    rng: np.random.Generator,
    election_timeout: tuple[float, float] = (150.0, 300.0),
    n: int = 5,
    latency: float | tuple[float, float] = PAPER_LATENCY,
    disk: float = PAPER_DISK,
    ineligible: int | None = None,
    failed: int = 1,
    pre_vote: bool = False,
    cap: float = PAPER_CAP,
) -> dict[str, Any]:
    """One leader crash and re-election (Raft paper §9.3 methodology; see module docstring).

    Parameters
    ----------
    rng : numpy.random.Generator
        The trial's stream (crash moment, heartbeat arrivals, the simulator's seed).
    election_timeout : (float, float)
        Election timeout range ``(lo, hi)`` in ms; the heartbeat interval is ``lo / 2``.
    n : int
        Cluster size, >= 3.
    latency : float or (float, float)
        One-way message delay in ms: a constant, or a uniform ``(low, high)`` range.
    disk : float
        Durable-write latency in ms before a reply (see :class:`DiskLatency`); 0 disables it.
    ineligible : int, optional
        How many survivors hold the shorter log and so cannot win. Default: half the
        survivors, rounded down (2 of 4 for ``n = 5``, as in the paper).
    failed : int
        Servers down during the election, the old leader (node 0) included; 1 <= failed and
        ``n - failed`` must be a majority.
    pre_vote : bool
        Run Raft with Pre-Vote (dissertation §9.6).
    cap : float
        Censor the trial after ``cap`` ms of virtual time past the crash.

    Returns
    -------
    dict
        ``crash_offset`` (ms after the last heartbeat broadcast), ``elected`` (ms from the crash
        to the first leader of the new term), ``downtime`` (ms from the crash until every
        survivor follows the new leader; ``inf`` if censored), ``censored``, ``leader``,
        ``terms`` (terms the winner's term is past the old leader's: 1 = no split vote),
        ``first_term_failed`` (``terms > 1``), ``events``.
    """
    lo, hi = election_timeout
    hb = lo / 2.0
    if ineligible is None:
        ineligible = (n - failed) // 2
    cfg = RaftConfig(n=n, election_timeout=(lo, hi), heartbeat=hb, pre_vote=pre_vote)
    factory = cfg.make_node if disk == 0 else DiskLatency.factory(cfg.make_node, disk, DISK_BOUND)
    sim = Simulator(factory, n, seed=int(rng.integers(2**62)), latency=latency, trace=False)
    survivors = list(range(failed, n))
    short = set(survivors[len(survivors) - ineligible :]) if ineligible else set()
    for i in range(n):
        sim.storage[i].update(term=_OLD_TERM, voted_for=0, log=SHORT_LOG if i in short else LONG_LOG)
    # time 0: the old leader has just broadcast a heartbeat; the survivors reset their timers on
    # its arrival (modelled by a restart at the arrival time); the crash comes u ms later.
    sim.start()
    for i in range(n):
        sim.crash(i)
    arrivals = as_latency(latency).sample(rng, len(survivors))
    for i, at in zip(survivors, arrivals):
        sim.schedule(float(at), sim.restart, i)
    crash = float(rng.uniform(0.0, hb))

    nodes = sim.nodes
    first: dict[str, float] = {}

    def settled() -> bool:
        leader = None
        for i in survivors:
            node = _inner(nodes[i])
            if node is not None and node.role is Role.LEADER and (leader is None or node.term > leader.term):
                leader = node
        if leader is None:
            return False
        if "elected" not in first:
            first["elected"] = sim.now
        lid, term = leader.id, leader.term
        for i in survivors:
            node = _inner(nodes[i])
            if node is None or node.term != term or node.leader_id != lid:
                return False
        first["leader"] = lid
        return True

    ok = sim.run_until(settled, timeout=crash + cap)
    terms_seen = max((_inner(nodes[i]).term for i in survivors if nodes[i] is not None), default=_OLD_TERM)
    if ok:
        leader = int(first["leader"])
        terms = _inner(nodes[leader]).term - _OLD_TERM
        downtime = sim.now - crash
    else:
        leader, terms, downtime = -1, terms_seen - _OLD_TERM, math.inf
    return {
        "crash_offset": crash,
        "elected": first.get("elected", math.inf) - crash,
        "downtime": downtime,
        "censored": not ok,
        "leader": leader,
        "leader_eligible": leader not in short,
        "terms": int(terms),
        "first_term_failed": bool(terms > 1 or not ok),
        "events": sim.events_processed,
    }


# ---------------------------------------------------------------------------------------------
# many trials
# ---------------------------------------------------------------------------------------------


def _validate_config(cfg: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(cfg)
    if "election_timeout" in out:
        lo, hi = check_range_pair("election_timeout", out["election_timeout"], 0.0)
        if lo <= 0:
            raise ValueError(f"`election_timeout` must have a positive lower bound; got {(lo, hi)}.")
        out["election_timeout"] = (lo, hi)
    if "n" in out:
        out["n"] = check_int("n", out["n"], 3)
    failed = check_int("failed", out.get("failed", 1), 1)
    n = out.get("n", 5)
    if n - failed < n // 2 + 1:
        raise ValueError(f"`failed` must leave a majority of the {n} servers up; got {failed}.")
    if "disk" in out:
        out["disk"] = check_float("disk", out["disk"], 0.0)
    if "cap" in out:
        out["cap"] = check_float("cap", out["cap"], 0.0, low_open=True)
    if "latency" in out:
        lat = out["latency"]
        if isinstance(lat, (tuple, list)):
            out["latency"] = check_range_pair("latency", lat, 0.0)
        else:
            out["latency"] = check_float("latency", lat, 0.0)
    if "pre_vote" in out and not isinstance(out["pre_vote"], bool):
        raise TypeError(f"`pre_vote` must be a bool; got {describe(out['pre_vote'])}.")
    if out.get("ineligible") is not None:
        out["ineligible"] = check_int("ineligible", out["ineligible"], 0, n - failed)
    return out


def run_election_trials(
    configs: Sequence[Mapping[str, Any]],
    trials: int | Callable[[Mapping[str, Any]], int],
    seed: int = 0,
    executor: Executor | str | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Run :func:`election_trial` for every configuration; one row per trial.

    Configurations that need different trial counts run as separate groups, each with its own
    child seed (``SeedSequence(seed, spawn_key=(group,))``), so every row depends only on
    ``(seed, group, configuration, trial)`` and not on the executor or its worker count.

    Parameters
    ----------
    configs : sequence of dict
        Keyword arguments of :func:`election_trial` (everything but ``rng``).
    trials : int or callable
        Trials per configuration, or ``trials(config) -> int``.
    seed : int
        Root seed, >= 0.
    executor : Executor, "inline" or None
        As for :func:`~consensuslab.experiments.runner.run_trials`; None shares one process
        pool (one worker per CPU) across the groups.
    progress : bool
        Show progress bars.

    Returns
    -------
    pandas.DataFrame
        Columns ``config`` (index into ``configs``), ``trial``, the parameters (with ``lo`` and
        ``hi`` split out of ``election_timeout`` and a ``range`` label) and the trial's row.
    """
    seed = check_int("seed", seed, 0)
    configs = [_validate_config(c) for c in configs]
    if not configs:
        raise ValueError("`configs` must hold at least one configuration; got an empty list.")
    counts = [trials(c) if callable(trials) else trials for c in configs]
    counts = [check_int("trials", t, 1) for t in counts]
    groups: dict[int, list[int]] = {}
    for k, t in enumerate(counts):
        groups.setdefault(t, []).append(k)
    own: ProcessPoolExecutor | None = None  # a pool this call creates, and so shuts down
    pool: Executor | str
    if executor is None:
        pool = own = ProcessPoolExecutor(max_workers=os.cpu_count() or 1)
    else:
        pool = executor
    frames = []
    try:
        for g, (t, idx) in enumerate(sorted(groups.items())):
            child = int(np.random.SeedSequence(seed, spawn_key=(g,)).generate_state(1)[0])
            df = run_trials(election_trial, [configs[k] for k in idx], trials=t, seed=child,
                            executor=pool, progress=progress)
            df["config"] = [idx[c] for c in df["config"]]
            frames.append(df)
    finally:
        if own is not None:
            own.shutdown()
    out = pd.concat(frames, ignore_index=True).sort_values(["config", "trial"], kind="stable").reset_index(drop=True)
    et = out.pop("election_timeout") if "election_timeout" in out else pd.Series([(150.0, 300.0)] * len(out))
    out.insert(2, "lo", [float(e[0]) for e in et])
    out.insert(3, "hi", [float(e[1]) for e in et])
    out.insert(4, "range", [label(e) for e in et])
    return out


def election_downtime(
    ranges: Sequence[tuple[float, float]] = PAPER_RANGES,
    trials: int | None = None,
    *,
    n: int = 5,
    latency: float | tuple[float, float] = PAPER_LATENCY,
    disk: float = PAPER_DISK,
    ineligible: int | None = None,
    pre_vote: bool = False,
    cap: float = PAPER_CAP,
    seed: int = 0,
    executor: Executor | str | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Time to elect a new leader after a leader crash, per election timeout range (Figure 16).

    Parameters
    ----------
    ranges : sequence of (lo, hi)
        Election timeout ranges in ms (default: the ten of Figure 16).
    trials : int, optional
        Trials per range. Default: the paper's — 1000, and 100 for a range without randomness.
    n, latency, disk, ineligible, pre_vote, cap
        See :func:`election_trial`.
    seed : int
        Root seed.
    executor, progress
        See :func:`run_election_trials`.

    Returns
    -------
    pandas.DataFrame
        One row per trial (see :func:`election_trial`), with ``lo``, ``hi`` and ``range``.

    Raises
    ------
    ValueError, TypeError
        For a bad parameter, e.g. a range with ``lo > hi``.

    References
    ----------
    Raft paper (extended) §9.3, Figure 16; dissertation §9.4, Figure 9.8.

    Examples
    --------
    >>> df = election_downtime([(12, 24)], trials=3, seed=1, executor="inline")
    >>> len(df), bool((df["downtime"] >= 6).all())
    (3, True)
    """
    if isinstance(ranges, tuple) and len(ranges) == 2 and not isinstance(ranges[0], (tuple, list)):
        raise TypeError(f"`ranges` must be a sequence of (lo, hi) pairs; got {describe(ranges)}.")
    base = {"n": n, "latency": latency, "disk": disk, "ineligible": ineligible, "pre_vote": pre_vote, "cap": cap}
    configs = [{"election_timeout": tuple(r), **base} for r in ranges]
    if trials is None:
        count: int | Callable[[Mapping[str, Any]], int] = (
            lambda c: PAPER_TRIALS_NO_RANDOMNESS if c["election_timeout"][0] == c["election_timeout"][1] else PAPER_TRIALS
        )
    else:
        count = check_int("trials", trials, 1)
    return run_election_trials(configs, count, seed=seed, executor=executor, progress=progress)


def downtime_summary(df: pd.DataFrame, by: str | Sequence[str] = "range") -> pd.DataFrame:
    """Per-group summary of election times; censored trials count as longer than everything.

    Returns
    -------
    pandas.DataFrame
        ``trials, censored, censored_fraction, min, median, mean, p99, max`` (ms; ``inf`` when
        censored trials reach that quantile; ``mean`` is over converged trials), ``mean_terms``
        and ``failed_first_term`` (the first new term ended without a leader: a split vote, or an
        ineligible candidate went first), in the order the
        groups first appear.
    """
    keys = [by] if isinstance(by, str) else list(by)
    rows = []
    for key, g in df.groupby(keys, sort=False):
        x = g["downtime"].to_numpy(dtype=float)
        done = x[np.isfinite(x)]
        row = dict(zip(keys, key if isinstance(key, tuple) else (key,)))
        row.update(
            trials=len(x),
            censored=int((~np.isfinite(x)).sum()),
            censored_fraction=float((~np.isfinite(x)).mean()),
            min=float(np.min(x)),
            median=float(np.quantile(x, 0.5, method="inverted_cdf")),
            mean=float(done.mean()) if done.size else math.inf,
            p99=float(np.quantile(x, 0.99, method="inverted_cdf")),
            max=float(np.max(x)),
            mean_terms=float(g["terms"].mean()),
            failed_first_term=float(g["first_term_failed"].mean()),
        )
        rows.append(row)
    return pd.DataFrame(rows)


def _ms(value: float, cap: float | None) -> str:
    if not math.isfinite(value):
        return f"> {cap / 1000:g} s" if cap is not None else "censored"
    return f"{value:,.0f} ms"


def format_summary(summary: pd.DataFrame, cap: float | None = PAPER_CAP) -> pd.DataFrame:
    """:func:`downtime_summary` formatted for people: counts as integers, fractions as %, times in
    ms (``> 10 s`` instead of ``inf`` for a quantile that censored trials reach), terms to 0.1.

    Examples
    --------
    >>> s = pd.DataFrame({"range": ["150-150ms"], "trials": [5], "censored": [5], "censored_fraction": [1.0],
    ...                   "min": [math.inf], "median": [math.inf], "mean": [math.inf], "p99": [math.inf],
    ...                   "max": [math.inf], "mean_terms": [66.4], "failed_first_term": [1.0]})
    >>> format_summary(s).iloc[0][["censored", "median", "failed_first_term"]].tolist()
    ['5 (100%)', '> 10 s', '100%']
    """
    out = summary.copy()
    for col in ("min", "median", "mean", "p99", "max"):
        if col in out:
            out[col] = [_ms(float(v), cap) for v in out[col]]
    if "censored" in out and "censored_fraction" in out:
        out["censored"] = [f"{int(c)} ({f:.0%})" for c, f in zip(out["censored"], out["censored_fraction"])]
        out = out.drop(columns="censored_fraction")
    if "failed_first_term" in out:
        out["failed_first_term"] = [f"{v:.0%}" for v in out["failed_first_term"]]
    if "mean_terms" in out:
        out["mean_terms"] = [f"{v:.1f}" for v in out["mean_terms"]]
    if "pre_vote" in out:
        out["pre_vote"] = ["on" if bool(v) else "off" for v in out["pre_vote"]]
    for col in ("trials", "n"):
        if col in out:
            out[col] = out[col].astype(int)
    return out


def split_vote_rates(
    ls: Sequence[float] = (0.05, 0.1, 0.2, 0.3),
    sizes: Sequence[int] = (5,),
    trials: int = 2000,
    election_timeout: tuple[float, float] = (150.0, 250.0),
    seed: int = 0,
    executor: Executor | str | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Simulated first-term split-vote rates against the fixed-latency model (§9.2).

    Each trial is :func:`election_trial` with all logs equal, no disk delay and a constant
    one-way latency ``l * (hi - lo)``, so the model's assumptions hold exactly: the survivors'
    timers start together and the first candidate's RequestVotes arrive after ``l``. Only the old
    leader is down (``s = n - 1``).

    Returns
    -------
    pandas.DataFrame
        Per ``(n, l)``: ``trials``, ``simulated`` split rate with its Wilson 95% interval
        (``lo95``, ``hi95``), ``model`` (:func:`split_vote_probability`), ``mean_terms`` and the
        model's ``expected_terms``, and ``mean_downtime`` next to :func:`expected_election_time`
        plus one latency (the followers hear the winner).
    """
    from consensuslab.stats import wilson

    lo, hi = check_range_pair("election_timeout", election_timeout, 0.0, strict_order=True)
    R = hi - lo
    grid = [(int(n), float(l) * R) for n in sizes for l in ls]  # (n, latency) per config
    configs = [
        {"election_timeout": (lo, hi), "n": n, "latency": L, "disk": 0.0, "ineligible": 0}
        for n, L in grid
    ]
    df = run_election_trials(configs, trials, seed=seed, executor=executor, progress=progress)
    rows = []
    for k, g in df.groupby("config", sort=True):
        n, L = grid[int(k)]
        splits = int(g["first_term_failed"].sum())
        low, high = wilson(splits, len(g))
        model = float(split_vote_probability(L / R, n - 1, n))
        rows.append(dict(
            n=n, l=L / R, latency=L, trials=len(g), simulated=splits / len(g), lo95=low, hi95=high, model=model,
            mean_terms=float(g["terms"].mean()), expected_terms=float(expected_terms(model)),
            mean_downtime=float(g["downtime"].replace(math.inf, np.nan).mean()),
            model_downtime=expected_election_time((lo, hi), L, 0.0, s=n - 1, n=n) + L,
        ))
    return pd.DataFrame(rows)


def prevote_effect(
    ranges: Sequence[tuple[float, float]] = ((150.0, 300.0), (12.0, 24.0)),
    trials: int = 500,
    seed: int = 0,
    executor: Executor | str | None = None,
    progress: bool = False,
    **options: Any,
) -> pd.DataFrame:
    """Downtime with and without Pre-Vote (dissertation §9.6), per range; one row per trial.

    Pre-Vote adds a round trip (without a disk write) before every real election, and a
    pre-candidate that could not win never bumps the term, so ineligible survivors stop causing
    extra terms. ``options`` go to :func:`election_trial`.
    """
    configs = [{"election_timeout": tuple(r), "pre_vote": pv, **options} for pv in (False, True) for r in ranges]
    return run_election_trials(configs, trials, seed=seed, executor=executor, progress=progress)


def cluster_size_effect(
    sizes: Sequence[int] = (3, 5, 7, 9),
    election_timeout: tuple[float, float] = (150.0, 300.0),
    trials: int = 500,
    seed: int = 0,
    executor: Executor | str | None = None,
    progress: bool = False,
    **options: Any,
) -> pd.DataFrame:
    """Downtime for several cluster sizes (one crashed leader, half the survivors ineligible)."""
    configs = [{"election_timeout": tuple(election_timeout), "n": int(n), **options} for n in sizes]
    return run_election_trials(configs, trials, seed=seed, executor=executor, progress=progress)


def explore(
    election_timeout: tuple[float, float] = (150.0, 300.0),
    n: int = 5,
    latency: float = PAPER_LATENCY,
    disk: float = PAPER_DISK,
    pre_vote: bool = False,
    trials: int = 200,
    seed: int = 0,
    cap: float = 5_000.0,
) -> tuple[pd.DataFrame, dict[str, float]]:
    """A small in-process run for the interactive explorer: trials plus a summary with the model.

    Returns
    -------
    (DataFrame, dict)
        The trials of :func:`election_downtime` for one range (run inline), and a summary:
        ``median``, ``mean``, ``p99``, ``max``, ``censored_fraction``, ``mean_terms`` and the
        analytic ``model_mean`` (:func:`expected_election_time` plus one latency, with every
        survivor eligible — the model ignores differing logs).
    """
    df = election_downtime([election_timeout], trials=trials, n=n, latency=latency, disk=disk,
                           pre_vote=pre_vote, cap=cap, seed=seed, executor="inline")
    row = downtime_summary(df).iloc[0]
    lo, hi = df["lo"].iloc[0], df["hi"].iloc[0]
    summary = {k: float(row[k]) for k in ("median", "mean", "p99", "max", "censored_fraction", "mean_terms")}
    summary["model_mean"] = expected_election_time((lo, hi), latency, disk, s=n - 1, n=n) + latency
    return df, summary


# ---------------------------------------------------------------------------------------------
# the registered experiment
# ---------------------------------------------------------------------------------------------


def paper_measurements(summary: pd.DataFrame) -> dict[str, float]:
    """The Figure-16 numbers the paper states, read from a :func:`downtime_summary` by range."""
    s = summary.set_index("range")
    return {
        "raft_150_150_censored_fraction": float(s.loc["150-150ms", "censored_fraction"]),
        "raft_150_155_median_ms": float(s.loc["150-155ms", "median"]),
        "raft_150_200_max_ms": float(s.loc["150-200ms", "max"]),
        "raft_12_24_mean_ms": float(s.loc["12-24ms", "mean"]),
        "raft_12_24_max_ms": float(s.loc["12-24ms", "max"]),
    }


def paper_estimates(trials: pd.DataFrame) -> dict[str, Any]:
    """Sample size and 95% interval of each :func:`paper_measurements` value (for the report).

    ``trials`` is the per-trial table of :func:`election_downtime` for the Figure-16 ranges.
    The censored fraction gets a Wilson interval, the median the exact order-statistic
    interval, the mean (over converged trials) and the maxima a percentile bootstrap
    (:mod:`consensuslab.stats`). A maximum depends on the number of trials, so it is compared
    with the paper's only at the paper's 1000 trials.
    """
    from consensuslab import stats

    out: dict[str, Any] = {}
    by = {r: g["downtime"].to_numpy(dtype=float) for r, g in trials.groupby("range", sort=False)}
    if "150-150ms" in by:
        x = by["150-150ms"]
        out["raft_150_150_censored_fraction"] = stats.proportion_estimate(int((~np.isfinite(x)).sum()), len(x))
    if "150-155ms" in by:
        out["raft_150_155_median_ms"] = stats.quantile_estimate(by["150-155ms"], 0.5, method="inverted_cdf")
    if "150-200ms" in by and np.isfinite(by["150-200ms"]).all() and len(by["150-200ms"]) > 1:
        out["raft_150_200_max_ms"] = stats.bootstrap_estimate(by["150-200ms"], np.max, "max")
    if "12-24ms" in by:
        x = by["12-24ms"]
        done = x[np.isfinite(x)]
        if done.size:
            out["raft_12_24_mean_ms"] = stats.mean_estimate(done, method="bootstrap")
        if np.isfinite(x).all() and len(x) > 1:
            out["raft_12_24_max_ms"] = stats.bootstrap_estimate(x, np.max, "max")
    return out


#: The report's sample sizes (``consensuslab reproduce``; notebook 03 uses the same, so the
#: numbers it prints are the report's): trials per Figure-16 range, for the range without
#: randomness, and per split-vote configuration; the split-vote latencies (the report's two).
REPORT_SIZES: dict[str, dict[str, int]] = {
    "full": {"fig16_trials": PAPER_TRIALS, "no_randomness_trials": PAPER_TRIALS_NO_RANDOMNESS, "split_trials": 2000},
    "quick": {"fig16_trials": 25, "no_randomness_trials": 5, "split_trials": 150},
}
REPORT_SPLIT_LS: tuple[float, float] = (0.1, 0.2)


@experiment("raft-election", "Raft leader re-election time vs the Raft paper's Figure 16 and the split-vote model")
def raft_election(quick: bool = False, seed: int = 0, executor: Executor | str | None = None) -> Result:
    """Figure 16 (ten ranges) plus the dissertation's fixed-latency split-vote rates.

    Sizes: :data:`REPORT_SIZES` (full: the paper's 1000 trials per range, 100 without
    randomness; quick: 25 and 5). The range without randomness runs with ``seed``, the nine
    others with ``seed + 1``, and the split votes with ``seed``, as notebook 03 does.
    """
    from consensuslab.stats import proportion_estimate

    sizes = REPORT_SIZES["quick" if quick else "full"]
    none = election_downtime(PAPER_RANGES[:1], trials=sizes["no_randomness_trials"], seed=seed, executor=executor)
    rest = election_downtime(PAPER_RANGES[1:], trials=sizes["fig16_trials"], seed=seed + 1, executor=executor)
    fig = pd.concat([none, rest], ignore_index=True)
    summary = downtime_summary(fig)
    measured = paper_measurements(summary)
    estimates = paper_estimates(fig)
    splits = split_vote_rates(ls=REPORT_SPLIT_LS, trials=sizes["split_trials"], seed=seed, executor=executor)
    for _, row in splits.iterrows():
        key = f"split_vote_rate_s4_l{row['l']:g}"
        measured[key] = float(row["simulated"])
        estimates[key] = proportion_estimate(int(round(row["simulated"] * row["trials"])), int(row["trials"]))
    table = summary.assign(kind="figure16")
    table = pd.concat([table, splits.assign(kind="split_votes")], ignore_index=True)
    params = {
        "ranges": [list(r) for r in PAPER_RANGES],
        "trials": f"{sizes['fig16_trials']} ({sizes['no_randomness_trials']} for 150-150)",
        "split_trials": sizes["split_trials"],
        "n": 5,
        "latency_ms": PAPER_LATENCY,
        "disk_ms": PAPER_DISK,
        "cap_ms": PAPER_CAP,
        "ineligible": 2,
        "quick": quick,
        "seed": seed,
    }
    return Result(table=table, measured=measured, params=params, estimates=estimates)

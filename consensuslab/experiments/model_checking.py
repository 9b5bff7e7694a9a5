"""Exhaustive search against random testing, and how state spaces grow: the measurements of notebook 10.

Theory of operation
-------------------
:func:`search_vs_random` takes models that violate an invariant (an unsafe configuration: Flexible
Paxos with non-intersecting quorums, Raft without the current-term commit rule) and measures two
ways of finding the bug:

* **exhaustive breadth-first search** (:func:`consensuslab.explore.check`, stopping at the first
  violation): a fixed amount of work — the distinct states kept before the shortest
  counterexample — with no randomness at all;
* **random testing**: random walks over the same model
  (:func:`consensuslab.explore.walk.walks_until_violation`, a uniformly random enabled event at
  every step, the model's random-simulation mode), repeated until one violates the invariant.
  Each walk is one random run; repetition ``r`` of configuration ``c`` draws from
  ``SeedSequence(seed, spawn_key=(c, r))`` (the project's seeding rule), so results are
  deterministic for a seed.

The number of walks until the first hit is geometric with an unknown per-walk hit probability
``p``; the table reports its median over the repetitions with the exact order-statistic 95 %
interval (:func:`consensuslab.stats.quantile_estimate`; a repetition that exhausts
``max_walks`` walks counts as ``+inf``, a censored value the interval handles), and ``p`` itself
with its Wilson interval (every walk is a Bernoulli trial), whose inverse is the expected number
of walks. Work is compared in the same currency where possible: states kept by the search
against events executed by the walks (each event produces one state).

:func:`state_space_table` runs exhaustive (or bounded) searches over a family of models — one
builder per model, one value per bound — and tabulates distinct states, transitions, depth, time
and whether each search was complete; :func:`consensuslab.plots.explore.state_space_growth`
draws it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from consensuslab._validate import check_int
from consensuslab.explore import Result, check
from consensuslab.explore.model import Model
from consensuslab.explore.models.protocols import paxos_model
from consensuslab.explore.walk import WalkSearch, walks_until_violation
from consensuslab.stats import Estimate, proportion_estimate, quantile_estimate

__all__ = ["SearchVsRandom", "paxos_search", "search_vs_random", "state_space_table"]


@dataclass
class SearchVsRandom:
    """What :func:`search_vs_random` measured.

    ``table`` has one row per configuration (see :func:`search_vs_random`); ``searches`` holds
    each configuration's BFS :class:`~consensuslab.explore.Result` and ``walks`` its
    :class:`~consensuslab.explore.walk.WalkSearch` per repetition; ``estimates`` the
    :class:`~consensuslab.stats.Estimate` of the median walks and of the per-walk hit rate.
    """

    table: pd.DataFrame
    searches: dict[str, Result] = field(default_factory=dict)
    walks: dict[str, list[WalkSearch]] = field(default_factory=dict)
    estimates: dict[str, dict[str, Estimate]] = field(default_factory=dict)


def _positive_float(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"`{name}` must be None or a number > 0; got {value!r}.")
    return float(value)


def search_vs_random(
    configurations: Mapping[str, Model],
    *,
    invariant: str | None = "safety",
    repetitions: int = 10,
    seed: int = 0,
    max_walks: int = 1000,
    max_steps: int = 200,
    max_states: int | None = None,
    time_limit: float | None = None,
) -> SearchVsRandom:
    """For each unsafe configuration: BFS to the shortest counterexample, and random walks to a hit.

    Parameters
    ----------
    configurations : mapping of name -> model
        Models expected to violate ``invariant``.
    invariant : str, optional
        The invariant both methods look for (default ``"safety"``, the name
        :func:`~consensuslab.explore.monitor_invariant` gives a protocol monitor); ``None``: any.
    repetitions : int
        Independent random searches per configuration (>= 1).
    seed : int
        Root seed (>= 0) of every repetition's walks.
    max_walks, max_steps : int
        Budget of one random search (walks), and of one walk (events).
    max_states, time_limit : optional
        Bounds of the breadth-first search.

    Returns
    -------
    SearchVsRandom
        Its ``table`` columns: ``configuration``, ``bfs_states``, ``bfs_transitions``,
        ``bfs_events`` (length of the shortest counterexample), ``bfs_seconds``, ``bfs_found``,
        ``repetitions``, ``hits``, ``walks`` (per repetition, ``inf`` when censored),
        ``walks_median`` / ``walks_low`` / ``walks_high``, ``hit_rate`` / ``hit_rate_low`` /
        ``hit_rate_high`` (per walk), ``events`` (per repetition) and ``events_median`` /
        ``events_low`` / ``events_high``, ``walk_events_median`` (length of the violating random
        walks), ``random_seconds``, ``max_walks``.
    """
    if not isinstance(configurations, Mapping) or not configurations:
        raise ValueError("`configurations` must be a non-empty mapping of name -> model.")
    check_int("repetitions", repetitions, 1)
    check_int("seed", seed, 0)
    check_int("max_walks", max_walks, 1)
    check_int("max_steps", max_steps, 1)
    time_limit = _positive_float("time_limit", time_limit)
    out = SearchVsRandom(pd.DataFrame())
    rows = []
    for c, (name, model) in enumerate(configurations.items()):
        start = time.perf_counter()
        result = check(model, stop_when="violation", max_states=max_states, time_limit=time_limit)
        bfs_seconds = time.perf_counter() - start
        found = (result.counterexamples.get(invariant) if invariant is not None
                 else next(iter(result.counterexamples.values()), None))
        out.searches[name] = result
        start = time.perf_counter()
        runs = [walks_until_violation(model, np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(c, r))),
                                      max_walks=max_walks, max_steps=max_steps, invariant=invariant)
                for r in range(repetitions)]
        random_seconds = time.perf_counter() - start
        out.walks[name] = runs
        walks = np.array([w.walks if w.hit else np.inf for w in runs], dtype=float)
        events = np.array([w.events if w.hit else np.inf for w in runs], dtype=float)
        hits = sum(w.hit for w in runs)
        median = quantile_estimate(walks, 0.5, unit="random searches")
        ev = quantile_estimate(events, 0.5, unit="random searches")
        rate = proportion_estimate(hits, int(sum(w.walks for w in runs)), unit="walks")
        out.estimates[name] = {"walks_median": median, "events_median": ev, "hit_rate": rate}
        lengths = [w.found.steps for w in runs if w.found is not None]
        rows.append({
            "configuration": name,
            "bfs_states": result.unique_states,
            "bfs_transitions": result.transitions,
            "bfs_events": len(found) if found is not None else None,
            "bfs_seconds": bfs_seconds,
            "bfs_found": found is not None,
            "repetitions": repetitions,
            "hits": hits,
            "walks": walks,
            "walks_median": median.value, "walks_low": median.low, "walks_high": median.high,
            "hit_rate": rate.value, "hit_rate_low": rate.low, "hit_rate_high": rate.high,
            "events": events,
            "events_median": ev.value, "events_low": ev.low, "events_high": ev.high,
            "walk_events_median": float(np.median(lengths)) if lengths else float("nan"),
            "random_seconds": random_seconds,
            "max_walks": max_walks,
        })
    out.table = pd.DataFrame(rows)
    return out


def state_space_table(
    builders: Mapping[str, Callable[[int], Model]],
    bounds: Sequence[int] | Mapping[str, Sequence[int]],
    *,
    bound: str = "bound",
    depth: bool = False,
    max_states: int | None = None,
    time_limit: float | None = None,
) -> pd.DataFrame:
    """Distinct states of each model at each value of a bound.

    Parameters
    ----------
    builders : mapping of name -> callable
        ``builders[name](value)`` returns the model for one value of the bound (e.g.
        ``lambda rms: two_phase_commit(rms)``). With ``depth=True`` the bound is the search depth
        instead, and the callable receives it too (it may ignore it).
    bounds : sequence of int, or mapping of name -> sequence
        The bound's values, for every model or per model.
    bound : str
        The bound's column name in the table.
    depth : bool
        Use the value as the search's ``max_depth`` (states at most that many events from the
        start).
    max_states, time_limit : optional
        Per search; a search that hits one is marked ``complete=False`` (its count is a lower bound).

    Returns
    -------
    DataFrame
        Columns ``model``, ``bound`` (renamed to ``bound``), ``states``, ``transitions``,
        ``depth``, ``complete``, ``stopped_by``, ``seconds``, ``states_per_s``.
    """
    if not isinstance(builders, Mapping) or not builders:
        raise ValueError("`builders` must be a non-empty mapping of name -> callable(bound) -> model.")
    time_limit = _positive_float("time_limit", time_limit)
    rows = []
    for name, build in builders.items():
        values = bounds[name] if isinstance(bounds, Mapping) else bounds
        for value in values:
            check_int(bound, value, 0)
            model = build(value)
            result = check(model, stop_when="never", max_states=max_states, time_limit=time_limit,
                           max_depth=value if depth else None)
            limited = result.stopped_by in ("max_states", "time_limit")
            rows.append({"model": name, bound: value, "states": result.unique_states,
                         "transitions": result.transitions, "depth": result.max_depth,
                         "complete": not limited, "stopped_by": result.stopped_by,
                         "seconds": result.elapsed, "states_per_s": result.rate})
    return pd.DataFrame(rows)


def paxos_search(n: int = 3, q1: int | None = None, q2: int | None = None, max_round: int = 1, crashes: int = 0,
                 max_states: int = 5000, time_limit: float | None = 2.0,
                 strategy: str = "bfs") -> tuple[Model, Result]:
    """One bounded search of single-decree Paxos (the slider explorer's call).

    Builds :func:`consensuslab.explore.models.protocols.paxos_model` (two proposers, values 1 and
    2; ``q1``/``q2`` phase quorum sizes, ``None`` for majorities, unsafe when ``q1 + q2 <= n``)
    and searches it until a violation, the state or time limit, or exhaustion
    (``stop_when="violation"``). Returns the model and the :class:`~consensuslab.explore.Result`.
    """
    n = check_int("n", n, 2)
    for name, q in (("q1", q1), ("q2", q2)):
        if q is not None:
            check_int(name, q, 1, n)
    check_int("max_states", max_states, 1)
    model = paxos_model(n=n, q1=q1, q2=q2, max_round=max_round, crashes=crashes)
    return model, check(model, strategy=strategy, stop_when="violation", max_states=max_states,
                        time_limit=_positive_float("time_limit", time_limit))

"""Breadth- and depth-first search over a model's states, with bounds and a visited set.

Theory of operation
-------------------
:func:`check` explores the states reachable from ``model.initial_states()`` through
``model.successors``. Every state is identified by ``model.fingerprint(state)``; a state whose
fingerprint was seen before is not kept again, so each distinct state is checked and expanded
once (with a declared symmetry, once per equivalence class). The visited set maps each
fingerprint to its parent's, which is all it takes to rebuild a path: walk the parents back to
an initial state, then re-run the model forward, at each step taking the successor with the
recorded fingerprint (stateright does the same).

Breadth-first search expands states in order of depth, so the first counterexample it finds is
a shortest one; depth-first search (a stack) reaches deep states sooner and keeps a smaller
frontier. Every kept state is checked against every property not yet settled (see
:mod:`consensuslab.explore.model`).

Bounds, all optional: ``max_depth`` (states at that depth are kept and checked but not
expanded), ``within`` (a state predicate; a successor outside it is discarded — "terms ≤ T",
"at most k crashes" when the model does not budget them itself), ``max_states`` and
``time_limit`` (the search stops cleanly and returns what it found so far, marked incomplete).
``stop_when`` says when the discoveries suffice: ``"all"`` (every property settled: each
invariant violated and each reachability property reached — stateright's default; a safe model
is therefore searched to exhaustion), ``"violation"`` (the first counterexample), ``"any"`` or
``"never"``.

When properties are checked: by default (``check_on="generate"``) a state is checked as soon
as it is kept, so the search stops the moment the last needed discovery is generated.
stateright checks a state when it is *expanded* (popped from the frontier) and stops there,
before expanding it; the successors of the states expanded before it have all been kept, so
its early-stop counts are larger. ``check_on="expand"`` (off by default) does the same; the two
agree on every search that runs to exhaustion, and differ only in the count at which an early
stop happens (stateright's single-copy register with two servers stops at 20 states in its
order, see tests/explore/test_published_counts.py).

The result's counts: ``unique_states`` (distinct states kept: initial ones included, discarded
ones not — stateright's "unique states"), ``transitions`` (successors generated, duplicates
included) and ``max_depth`` (the deepest state kept).
"""

from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from consensuslab.check.safety import SafetyViolation
from consensuslab.explore.model import CheckerError, Model, Path, Property

__all__ = ["CHECK_ON", "STOP_WHEN", "STRATEGIES", "Progress", "Result", "check", "rebuild_path"]

STRATEGIES = ("bfs", "dfs")
STOP_WHEN = ("all", "violation", "any", "never")
CHECK_ON = ("generate", "expand")


class Progress(NamedTuple):
    """A progress report: distinct states so far, states waiting, deepest depth, rate, seconds."""

    states: int
    frontier: int
    depth: int
    rate: float
    elapsed: float

    def __str__(self) -> str:
        return (f"{self.states:,} states, {self.frontier:,} in the frontier, depth {self.depth}, "
                f"{self.rate:,.0f} states/s, {self.elapsed:.1f} s")


@dataclass
class Result:
    """What a search found. ``complete`` means every state within the bounds was explored."""

    strategy: str
    unique_states: int
    transitions: int
    max_depth: int
    elapsed: float
    stopped_by: str
    complete: bool
    properties: tuple[Property, ...]
    counterexamples: dict[str, Path] = field(default_factory=dict)
    examples: dict[str, Path] = field(default_factory=dict)
    details: dict[str, str] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        """Distinct states per second."""
        return self.unique_states / self.elapsed if self.elapsed > 0 else float("inf")

    @property
    def safe(self) -> bool:
        """No invariant was violated (within what was explored: see ``complete``)."""
        return not self.counterexamples

    @property
    def unreached(self) -> list[str]:
        """The reachability properties no explored state satisfied."""
        return [p.name for p in self.properties if p.kind == "sometimes" and p.name not in self.examples]

    def __str__(self) -> str:
        scope = "exhaustive" if self.complete else f"stopped by {self.stopped_by}"
        lines = [(f"{self.strategy.upper()}: {self.unique_states:,} distinct states, {self.transitions:,} "
                 f"transitions, depth {self.max_depth}, {self.elapsed:.2f} s ({self.rate:,.0f} states/s), {scope}")]
        for p in self.properties:
            if p.kind == "always":
                verdict = (f"VIOLATED in {len(self.counterexamples[p.name])} steps: {self.details.get(p.name, '')}"
                           if p.name in self.counterexamples else "holds")
            else:
                verdict = (f"reached in {len(self.examples[p.name])} steps" if p.name in self.examples
                           else "never reached")
            lines.append(f"  {p.kind} {p.name!r}: {verdict}")
        return "\n".join(lines)


def _check_args(strategy: str, max_depth: Any, max_states: Any, time_limit: Any, stop_when: str) -> None:
    if strategy not in STRATEGIES:
        raise ValueError(f"`strategy` must be one of {STRATEGIES}; got {strategy!r}.")
    if stop_when not in STOP_WHEN:
        raise ValueError(f"`stop_when` must be one of {STOP_WHEN}; got {stop_when!r}.")
    for name, value, low in (("max_depth", max_depth, 0), ("max_states", max_states, 1)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < low):
            raise ValueError(f"`{name}` must be None or an integer >= {low}; got {value!r}.")
    if time_limit is not None and (isinstance(time_limit, bool) or not isinstance(time_limit, (int, float))
                                   or not time_limit > 0):
        raise ValueError(f"`time_limit` must be None or a number of seconds > 0; got {time_limit!r}.")


def rebuild_path(model: Model, parents: dict[bytes, bytes | None], target: bytes) -> Path:
    """The path from an initial state to the state with fingerprint ``target``."""
    chain = [target]
    while (parent := parents[chain[-1]]) is not None:
        chain.append(parent)
    chain.reverse()
    initial = state = next(s for s in model.initial_states() if model.fingerprint(s) == chain[0])
    steps = []
    for fp in chain[1:]:
        for event, nxt in model.successors(state):
            if model.fingerprint(nxt) == fp:
                steps.append((event, nxt))
                state = nxt
                break
        else:  # pragma: no cover - a model whose successors are not a function of the state
            raise CheckerError("cannot rebuild the path: the model's successors are not deterministic")
    return Path(initial, tuple(steps))


def check(
    model: Model,
    *,
    strategy: str = "bfs",
    max_depth: int | None = None,
    max_states: int | None = None,
    time_limit: float | None = None,
    within: Callable[[Any], bool] | None = None,
    stop_when: str = "all",
    progress: bool | Callable[[Progress], None] = False,
    progress_every: float = 1.0,
    check_on: str = "generate",
) -> Result:
    """Search ``model``'s reachable states and check its properties (module docstring).

    Parameters
    ----------
    model : Model
        A :class:`~consensuslab.explore.system.TransitionSystem`, an
        :class:`~consensuslab.explore.actors.ActorModel` or anything with the same methods.
    strategy : {"bfs", "dfs"}
        Breadth-first (shortest counterexamples) or depth-first.
    max_depth, max_states : int, optional
        Bounds on the depth expanded and on the distinct states kept.
    time_limit : float, optional
        Seconds; the search stops cleanly with a partial result.
    within : callable, optional
        A state predicate; successors outside it are discarded (in addition to ``model.within``).
    stop_when : {"all", "violation", "any", "never"}
        When the discoveries suffice to stop early.
    progress : bool or callable
        ``True`` prints a :class:`Progress` line to stderr every ``progress_every`` seconds; a
        callable receives the :class:`Progress` instead.
    check_on : {"generate", "expand"}
        Check a state's properties when it is kept (default) or, as stateright does, when it is
        expanded; the latter stops before expanding the state that completes the discoveries.

    Raises
    ------
    CheckerError
        A property's condition raised something other than a safety violation.
    """
    _check_args(strategy, max_depth, max_states, time_limit, stop_when)
    if not progress_every > 0:
        raise ValueError(f"`progress_every` must be > 0 seconds; got {progress_every!r}.")
    if check_on not in CHECK_ON:
        raise ValueError(f"`check_on` must be one of {CHECK_ON}; got {check_on!r}.")
    on_expand = check_on == "expand"
    report: Callable[[Progress], None] | None
    if progress is True:
        report = lambda p: print(p, file=sys.stderr)
    else:
        report = progress or None
    properties = tuple(model.properties)
    names = [p.name for p in properties]
    if len(set(names)) != len(names):
        raise ValueError(f"the model's properties must have distinct names; got {names}.")
    pending = list(properties)
    found: dict[str, bytes] = {}
    details: dict[str, str] = {}
    parents: dict[bytes, bytes | None] = {}
    start = time.monotonic()
    deadline = None if time_limit is None else start + time_limit
    next_report = start + progress_every
    transitions = 0
    deepest = 0
    bounded = False
    stopped_by = ""

    def evaluate(state: Any, fp: bytes) -> bool:
        """Check the unsettled properties on ``state``; True when the search may stop."""
        for prop in list(pending):
            try:
                holds = bool(prop.condition(state))
                detail = ""
            except SafetyViolation as exc:
                if prop.kind != "always":
                    raise CheckerError(f"reachability property {prop.name!r} raised {exc!r}",
                                       rebuild_path(model, parents, fp)) from exc
                holds, detail = False, str(exc)
            except Exception as exc:
                raise CheckerError(f"property {prop.name!r} raised {type(exc).__name__}: {exc} "
                                   f"(a checker error, not a counterexample)", rebuild_path(model, parents, fp)) from exc
            if (prop.kind == "always") != holds:
                found[prop.name] = fp
                details[prop.name] = detail
                pending.remove(prop)
        if not found or stop_when == "never":
            return False
        if stop_when == "any":
            return True
        if stop_when == "violation":
            return any(p.kind == "always" and p.name in found for p in properties)
        return not pending

    inside = model.within if within is None else (lambda s: model.within(s) and within(s))
    frontier: deque[tuple[Any, bytes, int]] = deque()
    for state in model.initial_states():
        if not inside(state):
            continue
        fp = model.fingerprint(state)
        if fp in parents:
            continue
        parents[fp] = None
        frontier.append((state, fp, 0))
        if not on_expand and evaluate(state, fp):
            stopped_by = "discoveries"
            break
    pop = frontier.popleft if strategy == "bfs" else frontier.pop
    expanded = 0
    while frontier and not stopped_by:
        state, fp, depth = pop()
        if on_expand and evaluate(state, fp):
            stopped_by = "discoveries"
            break
        if max_depth is not None and depth >= max_depth:
            bounded = True
            continue
        expanded += 1
        for _event, nxt in model.successors(state):
            transitions += 1
            if not inside(nxt):
                continue
            nfp = model.fingerprint(nxt)
            if nfp in parents:
                continue
            parents[nfp] = fp
            deepest = max(deepest, depth + 1)
            frontier.append((nxt, nfp, depth + 1))
            if not on_expand and evaluate(nxt, nfp):
                stopped_by = "discoveries"
                break
            if max_states is not None and len(parents) >= max_states:
                stopped_by = "max_states"
                break
        if expanded & 63 == 0:
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                stopped_by = stopped_by or "time_limit"
            if report is not None and now >= next_report:
                next_report = now + progress_every
                report(Progress(len(parents), len(frontier), deepest, len(parents) / (now - start), now - start))
    elapsed = time.monotonic() - start
    if report is not None:
        report(Progress(len(parents), len(frontier), deepest, len(parents) / max(elapsed, 1e-9), elapsed))
    complete = not stopped_by and not bounded
    if not stopped_by:
        stopped_by = "depth bound" if bounded else "exhausted"
    result = Result(strategy, len(parents), transitions, deepest, elapsed, stopped_by, complete, properties,
                    details={k: v for k, v in details.items() if v})
    for prop in properties:
        if prop.name in found:
            path = rebuild_path(model, parents, found[prop.name])
            (result.counterexamples if prop.kind == "always" else result.examples)[prop.name] = path
    return result

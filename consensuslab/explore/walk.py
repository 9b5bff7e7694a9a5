"""Random walks over a model: random testing on the very state graph the exhaustive search explores.

Theory of operation
-------------------
Random testing samples interleavings; exhaustive search enumerates them. To compare the two on
equal terms, a *random walk* runs on the same :class:`~consensuslab.explore.model.Model` the
search explores: from the initial state it takes, at every step, one event chosen **uniformly
among the enabled ones** (the successors inside ``model.within``), checks the model's
invariants (its ``always`` properties) on the new state, and stops at the first violation, at a
state with no enabled event (the run is over), or after ``max_steps`` events. This is the
random-simulation mode of TLC (``-simulate``) and stateright's ``spawn_simulation``; each walk
corresponds to one random nemesis run of the simulator, with the scheduler — which message
arrives next, which timer fires, whether a node crashes — drawn at random instead of from
delays.

:func:`walks_until_violation` repeats walks until one violates an invariant and reports how
many it took (the "runs to hit the bug"); :func:`random_walk` is one walk and returns its
:class:`~consensuslab.explore.model.Path`, so a bug found at random is a counterexample like any
other (usually a longer one than breadth-first search's).

Determinism: every choice is drawn from the ``numpy.random.Generator`` passed in (seed it with
``numpy.random.default_rng(seed)``) among the enabled events sorted by their ``repr`` (a model may
generate them in set-iteration order, which Python salts per process), so ``(model, seed)``
fixes the walks in any process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from consensuslab._validate import check_int
from consensuslab.check.safety import SafetyViolation
from consensuslab.explore.model import CheckerError, Model, Path, Property

__all__ = ["Walk", "WalkSearch", "random_walk", "walks_until_violation"]


@dataclass(frozen=True)
class Walk:
    """One random walk: its path, and the invariant it violated (``None`` if none).

    ``ended`` says why it stopped: ``"violation"``, ``"deadlock"`` (no enabled event: the run is
    over) or ``"max_steps"``.
    """

    path: Path
    violated: str | None
    detail: str
    ended: str

    @property
    def steps(self) -> int:
        return len(self.path)


def _violated(props: tuple[Property, ...], state: Any, path: Path) -> tuple[str, str] | None:
    for prop in props:
        try:
            if not prop.condition(state):
                return prop.name, ""
        except SafetyViolation as exc:
            return prop.name, str(exc)
        except Exception as exc:
            raise CheckerError(f"property {prop.name!r} raised {type(exc).__name__}: {exc} "
                               f"(a checker error, not a counterexample)", path) from exc
    return None


def _invariants(model: Model, invariant: str | None) -> tuple[Property, ...]:
    props = tuple(p for p in model.properties if p.kind == "always")
    if invariant is not None:
        props = tuple(p for p in props if p.name == invariant)
        if not props:
            names = [p.name for p in model.properties if p.kind == "always"]
            raise ValueError(f"`invariant` must name one of the model's invariants {names}; got {invariant!r}.")
    return props


def random_walk(model: Model, rng: np.random.Generator, max_steps: int = 200,
                invariant: str | None = None) -> Walk:
    """One walk: a uniformly random enabled event at every step (module docstring).

    Parameters
    ----------
    model : Model
        Any model :func:`~consensuslab.explore.check` searches.
    rng : numpy.random.Generator
        The source of every choice.
    max_steps : int
        At most this many events (>= 1).
    invariant : str, optional
        Check only this invariant (default: every ``always`` property of the model).
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"`rng` must be a numpy.random.Generator; got {type(rng).__name__}.")
    check_int("max_steps", max_steps, 1)
    props = _invariants(model, invariant)
    initial = next(iter(model.initial_states()))
    state = initial
    steps: list[tuple[Any, Any]] = []
    hit = _violated(props, state, Path(initial, ()))
    ended = "violation" if hit else "max_steps"
    while hit is None and len(steps) < max_steps:
        # sorted by the event's repr: a model's successor order may follow set iteration, which
        # Python salts per process (timer names); the walk must not
        enabled = sorted(((e, s) for e, s in model.successors(state) if model.within(s)), key=lambda es: repr(es[0]))
        if not enabled:
            ended = "deadlock"
            break
        event, state = enabled[int(rng.integers(len(enabled)))]
        steps.append((event, state))
        hit = _violated(props, state, Path(initial, tuple(steps)))
        if hit is not None:
            ended = "violation"
    path = Path(initial, tuple(steps))
    return Walk(path, hit[0] if hit else None, hit[1] if hit else "", ended)


@dataclass(frozen=True)
class WalkSearch:
    """The outcome of :func:`walks_until_violation`.

    ``walks`` is the number of walks run (the violating one included), ``found`` the violating
    walk (``None`` if none of ``max_walks`` walks violated an invariant: the count is then
    censored), ``events`` the events executed over all walks (the random search's work, to set
    beside the distinct states an exhaustive search kept).
    """

    walks: int
    events: int
    found: Walk | None

    @property
    def hit(self) -> bool:
        return self.found is not None


def walks_until_violation(model: Model, seed: int | np.random.Generator = 0, max_walks: int = 1000,
                          max_steps: int = 200, invariant: str | None = None) -> WalkSearch:
    """Random walks from the initial state until one violates an invariant (at most ``max_walks``).

    ``seed`` is an int (``numpy.random.default_rng(seed)``) or a Generator; the same seed gives
    the same walks.
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(check_int("seed", seed, 0))
    check_int("max_walks", max_walks, 1)
    events = 0
    for k in range(1, max_walks + 1):
        walk = random_walk(model, rng, max_steps=max_steps, invariant=invariant)
        events += walk.steps
        if walk.violated is not None:
            return WalkSearch(k, events, walk)
    return WalkSearch(max_walks, events, None)

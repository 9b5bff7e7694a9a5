"""What the explorer searches: a model, its properties, and the paths it returns.

Theory of operation
-------------------
A *model* is anything with four methods (the :class:`Model` protocol): ``initial_states()``,
``successors(state)`` — every ``(event, next_state)`` pair enabled in ``state`` —,
``fingerprint(state)`` — a canonical digest, equal for equal states (and for symmetric ones
when the model declares a symmetry) — and ``within(state)``, the boundary: a successor outside
it is discarded, neither counted nor checked, as in stateright's ``within_boundary``. Its
``properties`` are checked on every state the search keeps.

Two kinds of model implement it: :class:`~consensuslab.explore.system.TransitionSystem` (a plain
TLA+-style system: initial states, named guarded actions, invariants) and
:class:`~consensuslab.explore.actors.ActorModel` (sans-I/O nodes, a network and clients).

Properties (stateright's ``Expectation``):

``always(name, condition)``
    an invariant. A state where ``condition(state)`` is false, or where it raises
    :class:`~consensuslab.check.SafetyViolation` (how the protocols' monitors report), is a
    counterexample; the search returns the path that reaches it.
``sometimes(name, condition)``
    a reachability property: "a value can be chosen", "a leader can be elected". A state where
    it holds is an *example*. A complete search that never meets one has shown the property
    unreachable — evidence that a safety result may be vacuous.

A condition that raises anything else is a bug in the model or the property, not a
counterexample: the search stops with :class:`CheckerError`, naming the property and the path
to the state that made it fail.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

__all__ = ["CheckerError", "Model", "Path", "Property", "always", "sometimes"]


class CheckerError(RuntimeError):
    """The model or one of its properties raised something other than a safety violation."""

    def __init__(self, message: str, path: Path | None = None) -> None:
        super().__init__(message)
        self.path = path


@dataclass(frozen=True)
class Property:
    """A named property of states: ``kind`` is ``"always"`` (invariant) or ``"sometimes"``."""

    name: str
    kind: Literal["always", "sometimes"]
    condition: Callable[[Any], bool]

    def __post_init__(self) -> None:
        if self.kind not in ("always", "sometimes"):
            raise ValueError(f"`kind` must be 'always' or 'sometimes'; got {self.kind!r}.")
        if not callable(self.condition):
            raise TypeError(f"`condition` of property {self.name!r} must be callable; got {self.condition!r}.")


def always(name: str, condition: Callable[[Any], bool]) -> Property:
    """An invariant: ``condition(state)`` holds in every reachable state."""
    return Property(name, "always", condition)


def sometimes(name: str, condition: Callable[[Any], bool]) -> Property:
    """A reachability property: some reachable state satisfies ``condition``."""
    return Property(name, "sometimes", condition)


class Model(Protocol):
    """The interface :func:`~consensuslab.explore.search.check` searches (module docstring)."""

    properties: tuple[Property, ...]

    def initial_states(self) -> Iterable[Any]: ...

    def successors(self, state: Any) -> Iterable[tuple[Hashable, Any]]: ...

    def fingerprint(self, state: Any) -> bytes: ...

    def within(self, state: Any) -> bool: ...


@dataclass(frozen=True)
class Path:
    """A run of the model: its first state and the ``(event, state)`` steps that follow.

    ``len(path)`` is the number of events; ``path.events`` and ``path.states`` list them
    (``states`` has one more element than ``events``); ``path.last`` is the final state.
    """

    initial: Any
    steps: tuple[tuple[Any, Any], ...]

    def __len__(self) -> int:
        return len(self.steps)

    @property
    def events(self) -> list[Any]:
        return [e for e, _ in self.steps]

    @property
    def states(self) -> list[Any]:
        return [self.initial, *(s for _, s in self.steps)]

    @property
    def last(self) -> Any:
        return self.steps[-1][1] if self.steps else self.initial

    def __str__(self) -> str:
        lines = [f"{i + 1:>3}. {e}" for i, e in enumerate(self.events)]
        return "\n".join(lines) if lines else "(the initial state)"

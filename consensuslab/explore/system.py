"""Plain transition systems, as in TLA+: initial states, named guarded actions, invariants.

Theory of operation
-------------------
A :class:`TransitionSystem` is the smallest model :func:`~consensuslab.explore.search.check`
can search. Its states are plain immutable values (tuples, frozensets, named tuples, frozen
dataclasses); each *action* is a named function that returns the next state, or ``None`` where
its guard is false — TLA+'s ``Next == A1 \\/ A2 \\/ ...``. An action quantified over a set, like
TLA+'s ``\\E rm \\in RM : RMPrepare(rm)``, is given as ``(function, parameters)``: the function
takes ``(state, p)`` for each ``p``, and the event is labelled ``"RMPrepare(2)"``.

Fingerprints are those of :mod:`consensuslab.explore.fingerprint` unless a ``fingerprint``
function is given. A declared ``symmetry`` maps a state to a representative of its class (for
interchangeable resource managers: sort them); the search then keeps one state per class.

Example
-------
A counter that may go up to 3, with an invariant and a reachability property:

>>> from consensuslab.explore import TransitionSystem, always, sometimes, check
>>> counter = TransitionSystem(
...     initial=[0],
...     actions={"Inc": lambda s: s + 1 if s < 3 else None, "Reset": lambda s: 0 if s else None},
...     properties=[always("below 4", lambda s: s < 4), sometimes("reaches 3", lambda s: s == 3)])
>>> result = check(counter)
>>> result.unique_states, result.safe, result.examples["reaches 3"].events
(4, True, ['Inc', 'Inc', 'Inc'])
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from consensuslab.explore.fingerprint import fingerprint as _fingerprint
from consensuslab.explore.model import Property

__all__ = ["TransitionSystem"]

Action = Callable[[Any], Any] | tuple[Callable[[Any, Any], Any], Iterable[Any]]


class TransitionSystem:
    """A TLA+-style model (module docstring).

    Parameters
    ----------
    initial : iterable of states
        The initial states.
    actions : mapping of name -> function or (function, parameters)
        ``f(state)`` returns the next state or ``None`` when disabled; ``(f, ps)`` stands for
        ``f(state, p)`` for each ``p`` in ``ps``.
    properties : sequence of Property
        Invariants (:func:`~consensuslab.explore.always`) and reachability properties
        (:func:`~consensuslab.explore.sometimes`); conditions take a state.
    symmetry : callable, optional
        Maps a state to its class representative (only the representative is fingerprinted).
    within : callable, optional
        The boundary: successors for which it is false are discarded.
    fingerprint : callable, optional
        Replaces the canonical fingerprint (must return equal bytes for equal states).
    """

    def __init__(
        self,
        initial: Iterable[Any],
        actions: Mapping[str, Action],
        properties: Sequence[Property] = (),
        *,
        symmetry: Callable[[Any], Any] | None = None,
        within: Callable[[Any], bool] | None = None,
        fingerprint: Callable[[Any], bytes] | None = None,
    ) -> None:
        self._initial = list(initial)
        if not self._initial:
            raise ValueError("`initial` must hold at least one state.")
        if not actions:
            raise ValueError("`actions` must name at least one action.")
        self._actions: list[tuple[str, Callable[..., Any], tuple[Any, ...] | None]] = []
        for name, action in actions.items():
            if callable(action):
                self._actions.append((name, action, None))
            elif isinstance(action, tuple) and len(action) == 2 and callable(action[0]):
                self._actions.append((name, action[0], tuple(action[1])))
            else:
                raise TypeError(f"action {name!r} must be a function or a (function, parameters) pair; got {action!r}.")
        for p in properties:
            if not isinstance(p, Property):
                raise TypeError(f"`properties` must hold Property values (always/sometimes); got {p!r}.")
        self.properties = tuple(properties)
        self._symmetry = symmetry
        self._within = within
        self._fp = fingerprint

    def initial_states(self) -> list[Any]:
        return list(self._initial)

    def successors(self, state: Any) -> Iterator[tuple[str, Any]]:
        for name, fn, params in self._actions:
            if params is None:
                nxt = fn(state)
                if nxt is not None:
                    yield name, nxt
            else:
                for p in params:
                    nxt = fn(state, p)
                    if nxt is not None:
                        yield f"{name}({p})", nxt

    def fingerprint(self, state: Any) -> bytes:
        if self._symmetry is not None:
            state = self._symmetry(state)
        return self._fp(state) if self._fp is not None else _fingerprint(state)

    def within(self, state: Any) -> bool:
        return True if self._within is None else bool(self._within(state))

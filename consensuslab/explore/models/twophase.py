"""Two-phase commit as a transition system: TLA+'s ``TwoPhase`` and stateright's ``2pc`` example.

Theory of operation
-------------------
This ports the two-phase commit specification of Gray and Lamport's "Consensus on Transaction
Commit" as TLA+'s Examples repository states it (``specifications/transaction_commit/
TwoPhase.tla``) and as stateright's ``examples/2pc.rs`` transcribes it. A state holds

* ``rm``: each resource manager's state, one of ``WORKING < PREPARED < COMMITTED < ABORTED``
  (the order stateright's ``#[derive(Ord)]`` gives its ``RmState``, which its symmetry sorts by);
* ``tm``: the transaction manager's state, ``"init"``, ``"committed"`` or ``"aborted"``;
* ``prepared``: for each resource manager, whether the TM has received its ``Prepared`` message;
* ``msgs``: the set of messages ever sent (messages are never removed, as in TLA+): ``("Prepared",
  rm)``, ``("Commit",)`` and ``("Abort",)``.

The seven actions and their guards are TLA+'s: ``TMRcvPrepared(rm)`` (TM in init, ``Prepared``
from ``rm`` sent), ``TMCommit`` (TM in init, every RM prepared), ``TMAbort`` (TM in init),
``RMPrepare(rm)`` and ``RMChooseToAbort(rm)`` (``rm`` working), ``RMRcvCommitMsg(rm)`` and
``RMRcvAbortMsg(rm)`` (the decision was sent; no guard on ``rm``'s own state). Properties:
stateright's ``always("consistent")`` (no RM committed while another aborted) and the
reachability properties ``sometimes("abort agreement")`` / ``sometimes("commit agreement")``.

Published counts this model reproduces (tests/explore/test_published_counts.py): 3 RMs, **288**
distinct states (TLC's and stateright's figure); 5 RMs, **8,832**.

Symmetry. The resource managers are interchangeable. Two symmetries are offered:

:func:`stateright_representative`
    stateright's own ``Representative for TwoPhaseState``: a ``RewritePlan`` built by a
    *stable* sort of the RM indices by ``rm_state`` alone, applied to ``rm``, ``prepared`` and
    the RM named in each ``Prepared`` message. RMs whose ``rm_state`` ties keep their index
    order, so two states of one orbit that differ only in how ``prepared``/``Prepared`` are
    spread over equal-state RMs get *different* representatives: it is a sound reduction but not
    a canonical form. With it a depth-first search of 5 RMs keeps **665** states, stateright's
    published figure. Because the search continues from the non-canonical successor (as
    stateright's DFS does), the figure depends on the search and on the order in which
    successors are generated: this model generates them in stateright's order (``TmCommit``,
    ``TmAbort``, then per RM ``TmRcvPrepared``, ``RmPrepare``, ``RmChooseToAbort``,
    ``RmRcvCommitMsg``, ``RmRcvAbortMsg``), and a breadth-first search with the same
    representative keeps 508 states instead. Over all 8,832 reachable states this
    representative takes 1,092 distinct values; the search meets only 665 of them because it
    prunes every successor whose representative it has seen.
:func:`orbit_representative`
    an exact canonical form: each RM is described by its full local view (``rm`` state,
    whether the TM has its ``Prepared``, whether its ``Prepared`` message was sent) and the RMs
    are sorted by that triple. Two states get the same representative iff one is an RM
    permutation of the other, so the count is the number of orbits of reachable states:
    **314** for 5 RMs, whatever the search order (checked against a brute-force minimum over
    all 120 permutations of each of the 8,832 states).

Semantic differences from the sources: none in the state space. Event labels are TLA+'s action
names (``RMPrepare(2)``) instead of stateright's ``Action`` variants.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from consensuslab.explore.fingerprint import fingerprint as _fingerprint
from consensuslab.explore.model import Property, always, sometimes

__all__ = [
    "WORKING",
    "PREPARED",
    "COMMITTED",
    "ABORTED",
    "TwoPhaseState",
    "TwoPhaseCommit",
    "two_phase_commit",
    "stateright_representative",
    "orbit_representative",
]

# RM states, numbered in stateright's `RmState` declaration order (its derived `Ord`).
WORKING, PREPARED, COMMITTED, ABORTED = 0, 1, 2, 3
_RM_NAMES = ("working", "prepared", "committed", "aborted")

COMMIT = ("Commit",)
ABORT = ("Abort",)


class TwoPhaseState(NamedTuple):
    rm: tuple[int, ...]
    tm: str
    prepared: tuple[bool, ...]
    msgs: frozenset[tuple[Any, ...]]

    def __str__(self) -> str:
        rms = ", ".join(_RM_NAMES[s] + ("*" if p else "") for s, p in zip(self.rm, self.prepared))
        return f"TM {self.tm}; RMs [{rms}]; msgs {sorted(self.msgs)}"


def _set(t: tuple, i: int, v: Any) -> tuple:
    return t[:i] + (v,) + t[i + 1:]


# -- the seven actions (TwoPhase.tla) ---------------------------------------------------------
def tm_rcv_prepared(s: TwoPhaseState, rm: int) -> TwoPhaseState | None:
    if s.tm == "init" and ("Prepared", rm) in s.msgs:
        return s._replace(prepared=_set(s.prepared, rm, True))
    return None


def tm_commit(s: TwoPhaseState) -> TwoPhaseState | None:
    if s.tm == "init" and all(s.prepared):
        return s._replace(tm="committed", msgs=s.msgs | {COMMIT})
    return None


def tm_abort(s: TwoPhaseState) -> TwoPhaseState | None:
    if s.tm == "init":
        return s._replace(tm="aborted", msgs=s.msgs | {ABORT})
    return None


def rm_prepare(s: TwoPhaseState, rm: int) -> TwoPhaseState | None:
    if s.rm[rm] == WORKING:
        return s._replace(rm=_set(s.rm, rm, PREPARED), msgs=s.msgs | {("Prepared", rm)})
    return None


def rm_choose_to_abort(s: TwoPhaseState, rm: int) -> TwoPhaseState | None:
    if s.rm[rm] == WORKING:
        return s._replace(rm=_set(s.rm, rm, ABORTED))
    return None


def rm_rcv_commit_msg(s: TwoPhaseState, rm: int) -> TwoPhaseState | None:
    if COMMIT in s.msgs:
        return s._replace(rm=_set(s.rm, rm, COMMITTED))
    return None


def rm_rcv_abort_msg(s: TwoPhaseState, rm: int) -> TwoPhaseState | None:
    if ABORT in s.msgs:
        return s._replace(rm=_set(s.rm, rm, ABORTED))
    return None


_PER_RM: tuple[tuple[str, Callable[[TwoPhaseState, int], TwoPhaseState | None]], ...] = (
    ("TMRcvPrepared", tm_rcv_prepared),
    ("RMPrepare", rm_prepare),
    ("RMChooseToAbort", rm_choose_to_abort),
    ("RMRcvCommitMsg", rm_rcv_commit_msg),
    ("RMRcvAbortMsg", rm_rcv_abort_msg),
)


# -- symmetry ---------------------------------------------------------------------------------
def _permute(s: TwoPhaseState, order: list[int]) -> TwoPhaseState:
    """``s`` with RM ``order[k]`` renamed ``k``."""
    new_index = {old: new for new, old in enumerate(order)}
    msgs = frozenset(("Prepared", new_index[m[1]]) if m[0] == "Prepared" else m for m in s.msgs)
    return TwoPhaseState(tuple(s.rm[i] for i in order), s.tm, tuple(s.prepared[i] for i in order), msgs)


def stateright_representative(s: TwoPhaseState) -> TwoPhaseState:
    """stateright's representative: RMs stably sorted by their state alone (module docstring)."""
    return _permute(s, sorted(range(len(s.rm)), key=s.rm.__getitem__))


def orbit_representative(s: TwoPhaseState) -> TwoPhaseState:
    """An exact canonical form: RMs sorted by their whole local view (module docstring)."""
    view = [(s.rm[i], s.prepared[i], ("Prepared", i) in s.msgs) for i in range(len(s.rm))]
    return _permute(s, sorted(range(len(s.rm)), key=view.__getitem__))


SYMMETRIES: dict[str, Callable[[TwoPhaseState], TwoPhaseState]] = {
    "stateright": stateright_representative,
    "orbit": orbit_representative,
}


class TwoPhaseCommit:
    """Two-phase commit with ``rms`` resource managers, as a model for :func:`~consensuslab.explore.check`.

    It is a transition system in the sense of :class:`~consensuslab.explore.TransitionSystem`
    (plain immutable states, named guarded actions), written out so that successors come in
    stateright's order, which its non-canonical symmetry makes observable (module docstring).

    Parameters
    ----------
    rms : int
        Number of resource managers (>= 1).
    symmetry : {None, "stateright", "orbit"}
        The symmetry reduction, if any (module docstring).
    """

    def __init__(self, rms: int, symmetry: str | None = None) -> None:
        if isinstance(rms, bool) or not isinstance(rms, int) or rms < 1:
            raise ValueError(f"`rms` must be an integer >= 1; got {rms!r}.")
        if symmetry is not None and symmetry not in SYMMETRIES:
            raise ValueError(f"`symmetry` must be None or one of {tuple(SYMMETRIES)}; got {symmetry!r}.")
        self.rms = rms
        self._symmetry = None if symmetry is None else SYMMETRIES[symmetry]
        self.properties: tuple[Property, ...] = (
            sometimes("abort agreement", lambda s: all(r == ABORTED for r in s.rm)),
            sometimes("commit agreement", lambda s: all(r == COMMITTED for r in s.rm)),
            always("consistent", lambda s: not (ABORTED in s.rm and COMMITTED in s.rm)),
        )

    def initial_states(self) -> list[TwoPhaseState]:
        return [TwoPhaseState((WORKING,) * self.rms, "init", (False,) * self.rms, frozenset())]

    def successors(self, state: TwoPhaseState) -> Iterator[tuple[str, TwoPhaseState]]:
        nxt = tm_commit(state)
        if nxt is not None:
            yield "TMCommit", nxt
        nxt = tm_abort(state)
        if nxt is not None:
            yield "TMAbort", nxt
        for rm in range(self.rms):
            for name, action in _PER_RM:
                nxt = action(state, rm)
                if nxt is not None:
                    yield f"{name}({rm})", nxt

    def fingerprint(self, state: TwoPhaseState) -> bytes:
        if self._symmetry is not None:
            state = self._symmetry(state)
        return _fingerprint(state)

    def within(self, state: TwoPhaseState) -> bool:
        return True


def two_phase_commit(rms: int, symmetry: str | None = None) -> TwoPhaseCommit:
    """The two-phase commit model with ``rms`` resource managers (see :class:`TwoPhaseCommit`)."""
    return TwoPhaseCommit(rms, symmetry)

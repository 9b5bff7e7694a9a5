"""Brute-force linearizability oracles shared by the property tests (no memo, no reductions).

``oracle_permutations`` enumerates every subset of the unknown-outcome operations (each may have
taken effect or not) and every order of the chosen operations, and accepts if one order respects
real time (``a.ret < b.call`` keeps ``a`` first; unknown returns are +infinity) and replays
legally on the model: the definition, literally (Herlihy & Wing 1990, §3). It is usable up to
about 7 operations.

``oracle_dfs`` enumerates the same sequences depth first, extending a prefix only while it
respects real time and replays legally (a prefix that fails cannot be extended into a valid
sequence), and accepts when every known operation is placed (the unknown ones not placed never
took effect). No rules, no eager reads, no twins: exhaustive, just not wasteful; with
``memo=True`` it does not re-extend a (placed set, states) pair it has extended before (the
extensions depend on nothing else). It returns ``None`` when it would visit more than ``limit``
prefixes.
"""

from __future__ import annotations

import itertools
import math

from consensuslab.check import UNKNOWN, KVModel


def _part(model, op):
    return op.input.key if isinstance(model, KVModel) else None


def _out(op):
    return UNKNOWN if op.ret is None else op.output


def oracle_permutations(history, model) -> bool:
    known = [o for o in history if o.ret is not None]
    unknown = [o for o in history if o.ret is None]

    def ret(o):
        return math.inf if o.ret is None else o.ret

    for k in range(len(unknown) + 1):
        for chosen in itertools.combinations(unknown, k):
            ops = known + list(chosen)
            for perm in itertools.permutations(ops):
                if any(ret(b) < a.call for i, a in enumerate(perm) for b in perm[i + 1 :]):
                    continue
                states: dict = {}
                good = True
                for o in perm:
                    part = _part(model, o)
                    legal, states[part] = model.step(states.get(part, model.init()), o.input, _out(o))
                    if not legal:
                        good = False
                        break
                if good:
                    return True
    return False


def oracle_dfs(history, model, limit: int | None = 2_000_000, memo: bool = False) -> bool | None:
    """``memo=True`` skips a (placed set, states) pair seen before (its extensions were all
    tried): the same answer, computed once per pair."""
    ops = list(history)
    n = len(ops)
    known = frozenset(i for i in range(n) if ops[i].ret is not None)
    preds = [
        frozenset(a for a in known if ops[a].ret < ops[b].call) for b in range(n)
    ]  # known operations that must precede b
    visited = [0]
    seen: set = set()

    class _Limit(Exception):
        pass

    def rec(placed: frozenset, states: dict) -> bool:
        if known <= placed:
            return True
        if memo:
            key = (placed, tuple(sorted(states.items(), key=repr)))
            if key in seen:
                return False
            seen.add(key)
        visited[0] += 1
        if limit is not None and visited[0] > limit:
            raise _Limit
        for b in range(n):
            if b in placed or not preds[b] <= placed:
                continue
            part = _part(model, ops[b])
            legal, new = model.step(states.get(part, model.init()), ops[b].input, _out(ops[b]))
            if not legal:
                continue
            nxt = dict(states)
            nxt[part] = new
            if rec(placed | {b}, nxt):
                return True
        return False

    try:
        return rec(frozenset(), {})
    except _Limit:
        return None


def replay_ok(result, model) -> bool:
    """A reported linearization is valid: real-time order, all known ops, legal replay."""
    seq = result.linearization
    if {id(o) for o in result.history if o.ret is not None} - {id(o) for o in seq}:
        return False
    return prefix_ok(seq, model)


def prefix_ok(seq, model, history=()) -> bool:
    """A sequence respects real time and replays legally: a linearizable prefix.

    Real time: no member precedes one that returned before it was invoked, and every known
    operation of ``history`` that returned before a member was invoked is in the sequence.
    """
    members = {id(o) for o in seq}
    for i, a in enumerate(seq):
        for b in seq[i + 1 :]:
            if b.ret is not None and b.ret < a.call:
                return False
    for x in history:
        if x.ret is not None and id(x) not in members and any(x.ret < b.call for b in seq):
            return False
    states: dict = {}
    for o in seq:
        part = _part(model, o)
        legal, states[part] = model.step(states.get(part, model.init()), o.input, _out(o))
        if not legal:
            return False
    return True

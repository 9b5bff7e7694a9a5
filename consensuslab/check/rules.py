r"""Sound pruning rules that shrink a linearizability search before it starts.

Theory of operation
-------------------
The search of :mod:`~consensuslab.check.linearizability` tries operations in every order the
real-time order allows. Operations with an **unknown outcome** (``ret=None``) are the expensive
ones: they stay pending for ever, so the search places them at every point, or nowhere, and
every placement of a write gives a new model state that Lowe's memo cannot merge. Fault
histories of a replicated store are full of them. The rules below read the *values* of the
history to cut that search down, without changing any verdict.

Each rule is one of five kinds, and each kind is sound for a stated reason:

*drop*
    Remove an unknown-outcome operation. Sound when we prove: if the history has a valid
    linearization, it has one without that operation. (The converse always holds: an unknown
    operation may never have taken effect.) So the verdict is unchanged.
*deadline*
    Give an unknown-outcome operation ``u`` the return time ``r`` of a known operation ``x``.
    Sound when we prove: every valid linearization places ``u`` before ``x``. Then every valid
    linearization also satisfies ``u``'s new interval (``x`` takes effect by ``r``), and every
    linearization of the tightened history is one of the original (its intervals are
    narrower), so the verdict is unchanged. The search then must place ``u`` by ``r`` instead of
    carrying it along for ever.
*order*
    Add a precedence ``a -> b``: ``b`` may be linearized only after ``a``. Sound when ``a``
    precedes ``b`` in *every* valid linearization: the search then skips only orders that no
    valid linearization has. For the same reason the search's other reductions (eager reads,
    twins), which only ever trade one valid linearization for another, keep working: whatever
    valid linearization they lead to satisfies every edge. (Edges also only point into writes,
    never into a read, so placing a read early cannot even wait on one.)
*refute*
    Return "not linearizable" at once, with the operations that contradict each other (a
    :class:`Refutation`). Sound when we prove no valid linearization exists.
*hide*
    Search a coarser model: replace the inputs of some operations and the model by a wrapper
    such that *every sequence* of the operations is valid for the new part exactly when it is
    valid for the old one. The verdict, and every linearization found, carry over unchanged,
    while states that only differ in what no read can see merge in the memo.

The rules run on one independent part (one key) of a built-in model, and only when their
assumptions hold; otherwise they do nothing and the full search runs (see *Assumptions*). They
are applied in sequence, each on the part the previous ones left: drops first, then deadlines,
refutations and orders, which are proven for every valid linearization of the part after the
drops (a deadline only removes linearizations, so an order that held in all of them still
does), and hiding keeps the valid sequences exactly. So every step keeps the verdict.

Notation: ``c(o)`` and ``r(o)`` are the call and return of ``o`` (``r = inf`` if unknown); ``L`` is
a valid linearization: a sequence of the known operations and some unknown ones, in which ``a``
comes before ``b`` whenever ``r(a) < c(b)``, and which the model replays producing every known
output. Unknown reads are already left out by the checker (they constrain nothing).

Key-value store (``KVModel``, one key; ``put v`` sets the value, ``append t`` concatenates)
^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^

Assumptions: the model is exactly :class:`~consensuslab.check.models.KVModel` with
``absent=None``; every put/append value is a ``str``; every known get returned a ``str`` or
``None``. Rules K2-K5 also need every append value to be non-empty.

**K1 (drop an unobserved write).** An unknown put or append ``w`` whose value occurs in the output
of no known get (as a substring) is dropped. *Proof.* Take a valid ``L`` containing ``w`` and
remove ``w``. Only the operations between ``w`` and the next put (its *window*) see a different
state. In the window every state contains ``w``'s value as a substring (a put's value is the
prefix of each later state until the next put; an appended token stays inside it), so a known
get in the window would have returned a string containing that value: there is none. The rest of
the window are writes, legal in any state, and the next put resets the state, so ``L`` without
``w`` is valid. Duplicate values do not matter here.

**Decompositions.** In any ``L`` the state at a get ``G`` is ``b + t1 + ... + tk``: ``b`` the value
of the last put before ``G`` (or nothing, if there is none and ``k >= 1``) and ``t1..tk`` the
values of the appends after it, in order. For ``G``'s output ``o`` we count the ways to write
``o`` so (a dynamic program over positions of ``o``, capped at two). The decomposition is
*unique* if there is exactly one, and every piece of it is the value of exactly one operation
(no duplicate values among the pieces), all distinct. Then *every* valid ``L`` applies exactly
those operations, in that order, after its last put, before ``G``.

**K2 (refute an impossible read).** If ``o`` has no decomposition at all, no ``L`` exists. If the
unique decomposition needs an operation invoked after ``G`` returned, no ``L`` exists (it must
precede ``G``). If ``G`` returned ``None`` (absent) after a put or append had returned, no ``L``
exists (values only grow from absent). If the unique decomposition uses one operation twice, no
``L`` exists.

**K3 (deadline for an observed unknown write).** Every unknown operation in ``G``'s unique
decomposition gets the deadline ``r(G)``: every valid ``L`` places it before ``G``.

**K4 (order from a read).** For ``G``'s unique decomposition ``b, t1..tk`` the edges
``b -> t1 -> ... -> tk`` hold in every valid ``L``. If it starts from absent (no ``b``), no write
outside ``t1..tk`` precedes ``G``, so every other write ``w`` gets ``G -> w``. Two gets ``G1``, ``G2``
with unique decompositions on different puts ``b1 != b2`` and ``r(G1) < c(G2)`` give ``G1 -> b2``
(``b2`` cannot precede ``G1``, or it would lie between ``b1`` and ``G1``).

**K5 (refute a self-contradicting set of reads).** Among gets with unique decompositions: (a) an
append in the decompositions of two gets on different bases (it takes effect once, so it lies
after one last put only); (b) two gets on the same base whose append sequences are not one a
prefix of the other (after one put the appends form one sequence); (c) ``r(G1) < c(G2)`` on the
same base while ``G1`` saw more appends (within an epoch the value only grows); (d)
``r(G1) < c(G2)`` where ``G1`` read after a put and ``G2`` from absent; (e) *stale read*: a write
``w`` outside ``G``'s decomposition returned before ``G`` was invoked, and ``G`` read from absent,
or ``G`` read after a put ``b`` that returned before ``w`` was invoked (``w`` lies between ``b`` and
``G`` in every ``L``, so ``G`` would have seen it). Each is a contradiction of the proofs above.

**K6 (hide a write nobody observed).** A *known* put or append whose value occurs in no known
get output (as K1, but it must be placed) is searched as a *hidden* write: the search state
becomes the single marker ``DIRTY`` after it, stays ``DIRTY`` through appends, and only a visible
put restores a value; a get is illegal in ``DIRTY``. *Proof* (the same sequence ``L`` is valid in
both): by induction along ``L``, the hidden model is in ``DIRTY`` exactly when, since the last put
(or the start), a hidden write occurred (or the last put was hidden), and otherwise its state
equals the real state. In the ``DIRTY`` case the real value contains a hidden value as a
substring, which no known get output contains, so a get is illegal in both; otherwise the
states are equal. Puts and appends are legal in both. So the orders of hidden writes between
two reads, which give different strings but are invisible, become one search state. Hidden
writes get one shared input, so hidden writes with nested intervals are also *twins* of each
other (the search tries only the earliest pending one); all hidden writes have the same order
edges (K4 gives them only ``G -> w`` edges, from reads that started from absent), so swapping
them keeps the edges.

Register (``RegisterModel`` / ``CASRegisterModel``: read, write, compare-and-set)
^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^

Assumptions: the model is exactly one of the two classes; every value is hashable. A value
``v`` is *observed* when a known read returned ``v``, a compare-and-set that succeeded or has an
unknown outcome expected ``v``, or a *failed* compare-and-set expected any value other than
``v`` (it was legal because the value was not its ``expected``, and ``v`` could be that value).

**R1 (drop an unobserved write).** An unknown write ``v``, or unknown ``cas(e -> v)``, whose ``v`` is
not observed is dropped. *Proof.* In a valid ``L``: if it is a compare-and-set that did not swap,
it changed nothing; remove it. Otherwise it set the value to ``v`` until the next operation that
sets the value (its window). Remove it, and every unknown compare-and-set in the window (their
``expected`` is not ``v``, as ``v`` is unobserved, so they did not swap: no-ops). What remains in the
window would have observed ``v``: a known read returning ``v``, a known swap from ``v`` or a known
failed compare-and-set with ``expected != v``; there are none. The window ends with a write
(state-independent) or a swap from ``v`` (none exists). So the shortened ``L`` is valid.

**R2 (refute a read of a value nobody wrote in time).** A known read returning ``x``, or a known
successful ``cas(x -> ...)``, with ``x`` not the initial value and no write of ``x`` / swap to ``x``
(known-successful or unknown) invoked by its return, cannot be linearized.

**R3 (deadline for the only possible writer).** If ``x`` is not the initial value and exactly one
operation ``u`` can set it, and ``u``'s outcome is unknown, ``u`` gets the deadline ``r(X)`` of the
earliest-returning known operation ``X`` that needs ``x`` (every valid ``L`` places ``u`` before it).

Both families are checked against a brute-force oracle with the rules on and off
(``tests/check/test_rules.py``).

References
----------
Herlihy, M. and Wing, J. (1990). Linearizability. ACM TOPLAS 12(3), §3 (the definition).
Lowe, G. (2017). Testing for linearizability. Concurrency and Computation 29(4) (the memo).
Kingsbury, K. and Alvaro, P. (2020). Elle: inferring isolation anomalies from experimental
observations. VLDB 14(3) (reading the order of appends off unique-token list values).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from consensuslab.check.history import UNKNOWN, Operation
from consensuslab.check.models import CASRegisterModel, KVInput, KVModel, Model, RegisterModel

__all__ = ["Plan", "Refutation", "plan", "HidingKVModel", "HIDDEN", "DIRTY"]

_INF = math.inf


@dataclass(frozen=True)
class Refutation:
    """Proof, without search, that a part is not linearizable.

    Attributes
    ----------
    culprits : list of int
        Indices (into the part) of the operations that contradict each other.
    failing_time : float
        The instant by which one of them had to take effect.
    rule : str
        The rule that fired (``"K2"``, ``"K5c"``, ``"R2"``...).
    reason : str
        A sentence for people.
    """

    culprits: list[int]
    failing_time: float
    rule: str
    reason: str


@dataclass
class Plan:
    """What the rules concluded about one part (indices into the part's operations).

    Attributes
    ----------
    drop : set of int
        Unknown-outcome operations that can be left out.
    deadline : dict of int to float
        Unknown-outcome operations that must take effect by this time.
    before : list of (int, int)
        Edges ``(a, b)``: ``b`` may be linearized only after ``a``.
    refuted : Refutation or None
        Set when the part is proven not linearizable.
    fired : dict of str to int
        How often each rule fired (``"K1"``: operations dropped, ``"K3"``: deadlines...).
    skipped : str or None
        Why the rules did not apply (an assumption failed), if they did not.
    model : Model or None
        A model to search with instead of the part's (rule K6), if any.
    inputs : dict of int to object
        Replacement inputs for that model (rule K6: hidden writes).
    """

    drop: set[int] = field(default_factory=set)
    deadline: dict[int, float] = field(default_factory=dict)
    before: list[tuple[int, int]] = field(default_factory=list)
    refuted: Refutation | None = None
    fired: dict[str, int] = field(default_factory=dict)
    skipped: str | None = None
    model: Any = None
    inputs: dict[int, Any] = field(default_factory=dict)

    def _count(self, rule: str, k: int = 1) -> None:
        if k:
            self.fired[rule] = self.fired.get(rule, 0) + k


class _Marker:
    """A named singleton (pickled by name, so it survives process pools)."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name

    def __reduce__(self) -> str:
        return self._name


#: The value of a hidden write (rule K6).
HIDDEN: Any = _Marker("HIDDEN")
#: The state after a hidden write, until the next visible put (rule K6).
DIRTY: Any = _Marker("DIRTY")


class HidingKVModel(Model):
    """The key-value model of rule K6: writes whose value is :data:`HIDDEN` lead to :data:`DIRTY`.

    Parameters
    ----------
    base : KVModel
        The model it refines; visible operations step exactly as there.

    Examples
    --------
    >>> m = HidingKVModel(KVModel())
    >>> m.step("a;", KVInput("append", "k", HIDDEN), None)
    (True, DIRTY)
    >>> m.step(DIRTY, KVInput("get", "k"), "a;")
    (False, DIRTY)
    >>> m.step(DIRTY, KVInput("put", "k", "b;"), None)
    (True, 'b;')
    """

    name = "kv"

    def __init__(self, base: KVModel) -> None:
        self.base = base

    def init(self) -> Any:
        return self.base.init()

    def step(self, state: Any, input: Any, output: Any) -> tuple[bool, Any]:
        op = input[0]
        if op == "get":
            if state is DIRTY:
                return False, state
            return self.base.step(state, input, output)
        if input[2] is HIDDEN or (state is DIRTY and op == "append"):
            return True, DIRTY
        return self.base.step(state, input, output)

    def is_read_only(self, input: Any, output: Any) -> bool:
        return bool(input[0] == "get")

    def describe(self, input: Any, output: Any) -> str:
        return self.base.describe(input, output)

    def __repr__(self) -> str:
        return f"HidingKVModel({self.base!r})"


class _Timeout(Exception):
    pass


def plan(ops: Sequence[Operation], model: Any, deadline: float = _INF) -> Plan:
    """Apply the rules of the module docstring to one independent part.

    Parameters
    ----------
    ops : sequence of Operation
        One part (e.g. one key), unknown-outcome reads already removed or not (they are
        ignored).
    model : Model
        The model; rules exist for ``KVModel``, ``RegisterModel`` and ``CASRegisterModel``
        (exact classes: a subclass may change the semantics, so it gets no rules).
    deadline : float
        A :func:`time.perf_counter` instant; past it the rules stop and return what they have
        (each rule is sound on its own, so a partial plan is still sound).

    Returns
    -------
    Plan

    Examples
    --------
    An unknown append nobody ever read is dropped (K1); one that a read saw gets that read's
    return as deadline (K3):

    >>> from consensuslab.check.models import KVInput as K
    >>> h = [Operation(0, 0, None, K("append", "k", "a;")), Operation(1, 0, None, K("append", "k", "b;")),
    ...      Operation(2, 5, 6, K("get", "k"), "b;")]
    >>> p = plan(h, KVModel())
    >>> p.drop, p.deadline
    ({0}, {1: 6.0})
    """
    out = Plan()
    kind = type(model)
    try:
        if kind is KVModel:
            _kv_rules(ops, model, out, deadline)
        elif kind is RegisterModel or kind is CASRegisterModel:
            _register_rules(ops, model, out, deadline)
        else:
            out.skipped = f"no rules for the model {type(model).__name__}"
    except _Timeout:
        out.skipped = "the deadline passed while the rules ran (the plan is partial)"
    return out


def _ret(op: Operation) -> float:
    return _INF if op.ret is None else float(op.ret)


def _tick(deadline: float) -> None:
    if deadline < _INF and time.perf_counter() > deadline:
        raise _Timeout


# -- key-value --------------------------------------------------------------------------------


def _kv_rules(ops: Sequence[Operation], model: KVModel, out: Plan, deadline: float) -> None:
    if model.absent is not None:
        out.skipped = "KVModel(absent=...) is not None"
        return
    writes = [i for i, o in enumerate(ops) if o.input[0] in ("put", "append")]
    gets = [i for i, o in enumerate(ops) if o.input[0] == "get" and o.ret is not None]
    for i in writes:
        if not isinstance(ops[i].input[2], str):
            out.skipped = f"a {ops[i].input[0]} of a non-string value {ops[i].input[2]!r}"
            return
    for i in gets:
        if ops[i].output is not None and not isinstance(ops[i].output, str):
            out.skipped = f"a get returned a non-string value {ops[i].output!r}"
            return

    # K1: drop unknown writes whose value no known get output contains.
    outputs = {ops[i].output for i in gets if ops[i].output is not None}
    sep = "\x00"
    if any(sep in v for v in outputs) or any(sep in ops[i].input[2] for i in writes):
        def seen(value: str) -> bool:
            return any(value in o for o in outputs)
    else:
        joined = sep.join(outputs)

        def seen(value: str) -> bool:
            return value in joined

    hidden = []
    for i in writes:
        if not seen(ops[i].input[2]):
            if ops[i].ret is None:
                out.drop.add(i)
            else:
                hidden.append(i)
    out._count("K1", len(out.drop))
    if hidden:  # K6: known writes nobody observed
        out.model = HidingKVModel(model)
        out.inputs = {i: KVInput(ops[i].input[0], ops[i].input[1], HIDDEN) for i in hidden}
        out._count("K6", len(hidden))

    live = [i for i in writes if i not in out.drop]
    if any(ops[i].input[0] == "append" and ops[i].input[2] == "" for i in live):
        out.skipped = "an append of the empty string (decompositions are ambiguous): K2-K5 off"
        return
    puts: dict[str, list[int]] = {}
    tokens: dict[str, list[int]] = {}
    for i in live:
        (puts if ops[i].input[0] == "put" else tokens).setdefault(ops[i].input[2], []).append(i)
    lengths = sorted({len(t) for t in tokens})

    # Decompose each distinct get output once.
    cache: dict[str, tuple[int, Any]] = {}
    unique: dict[int, tuple[int | None, list[int]]] = {}  # get -> (base put or None, appends)
    first_done_write = min((_ret(ops[i]) for i in live), default=_INF)
    for g in gets:
        o = ops[g].output
        rg = _ret(ops[g])
        if o is None:
            # K2: absent after a write returned: values never go back to absent.
            if first_done_write < ops[g].call:
                w = min(live, key=lambda i: _ret(ops[i]))
                _refute(out, [g, w], rg, "K2", f"{_d(model, ops[g])} read absent after "
                        f"{_d(model, ops[w])} had returned (a value never becomes absent again)")
                return
            unique[g] = (None, [])
            continue
        if o not in cache:
            cache[o] = _decompose(o, puts, tokens, lengths)
            _tick(deadline)
        count, found = cache[o]
        if count == 0:
            _refute(out, [g], rg, "K2", f"{_d(model, ops[g])}: no sequence of the writes on this "
                    "key can produce that value")
            return
        if count != 1:
            continue  # ambiguous: no inference from this read
        base_value, pieces = found
        if base_value is not None and len(puts[base_value]) != 1:
            continue
        if any(len(tokens[t]) != 1 for t in pieces):
            continue
        base = None if base_value is None else puts[base_value][0]
        seq = [tokens[t][0] for t in pieces]
        if len(set(seq)) != len(seq):
            dup = next(a for a in seq if seq.count(a) > 1)
            _refute(out, [g, dup], rg, "K2", f"{_d(model, ops[g])} contains the value of "
                    f"{_d(model, ops[dup])} twice, but an operation takes effect once")
            return
        late = [i for i in ([base] if base is not None else []) + seq if ops[i].call > rg]
        if late:
            _refute(out, [g, late[0]], rg, "K2", f"{_d(model, ops[g])} contains the value of "
                    f"{_d(model, ops[late[0]])}, which was invoked only after the read returned")
            return
        unique[g] = (base, seq)

    # K3: observed unknown writes must take effect before the read that saw them.
    for g, (base, seq) in unique.items():
        rg = _ret(ops[g])
        for i in ([base] if base is not None else []) + seq:
            if ops[i].ret is None and rg < out.deadline.get(i, _INF):
                out.deadline[i] = rg
    out._count("K3", len(out.deadline))

    # K5: reads that contradict each other or a completed write.
    if _kv_contradictions(ops, model, out, unique, live, puts):
        return
    _tick(deadline)

    # K4: order edges.
    # An edge ``g -> w`` only matters while ``w`` could be invoked before ``g`` returned (otherwise
    # real time already orders them), so only those are kept: their number is bounded by the
    # concurrency, not by the square of the history.
    edges: set[tuple[int, int]] = set()
    for g, (base, seq) in unique.items():
        chain = ([base] if base is not None else []) + seq
        edges.update(zip(chain, chain[1:], strict=False))
        if base is None:
            members = set(seq)
            rg = _ret(ops[g])
            edges.update((g, w) for w in live if w not in members and ops[w].call <= rg)
    by_call = sorted((g for g in unique if unique[g][0] is not None), key=lambda g: ops[g].call)
    by_ret = sorted((g for g in unique if unique[g][0] is not None), key=lambda g: _ret(ops[g]))
    for g2 in by_call:
        b2 = unique[g2][0]
        assert b2 is not None
        for g1 in by_ret:
            if _ret(ops[g1]) >= ops[g2].call:
                break
            if unique[g1][0] != b2 and ops[b2].call <= _ret(ops[g1]):
                edges.add((g1, b2))
        _tick(deadline)
    out.before = sorted(edges)
    out._count("K4", len(out.before))


def _decompose(
    o: str, puts: dict[str, list[int]], tokens: dict[str, list[int]], lengths: list[int]
) -> tuple[int, Any]:
    """``(count, (base_value or None, [token, ...]))``: the decompositions of ``o``, capped at 2."""
    n = len(o)
    ways = [0] * (n + 1)
    choice: list[str | None] = [None] * (n + 1)
    ways[n] = 1
    for i in range(n - 1, -1, -1):
        w = 0
        pick = None
        for length in lengths:
            j = i + length
            if j > n:
                break
            if ways[j] and o[i:j] in tokens:
                w += ways[j]
                pick = o[i:j]
                if w >= 2:
                    break
        ways[i] = min(w, 2)
        choice[i] = pick
    starts: list[tuple[str | None, int]] = []
    total = 0
    if n > 0 and ways[0]:
        starts.append((None, 0))
        total += ways[0]
    for v in puts:
        if o.startswith(v) and ways[len(v)]:
            starts.append((v, len(v)))
            total += ways[len(v)]
        if total >= 2:
            return 2, None
    if total != 1:
        return total, None
    base, i = starts[0]
    pieces = []
    while i < n:
        t = choice[i]
        assert t is not None
        pieces.append(t)
        i += len(t)
    return 1, (base, pieces)


def _kv_contradictions(
    ops: Sequence[Operation],
    model: Any,
    out: Plan,
    unique: dict[int, tuple[int | None, list[int]]],
    live: list[int],
    puts: dict[str, list[int]],
) -> bool:
    """Rules K5a-e; True if the part was refuted."""
    epoch_of: dict[int, tuple[int | None, int]] = {}  # append -> (base, a get showing it)
    groups: dict[int | None, list[int]] = {}
    for g, (base, seq) in unique.items():
        groups.setdefault(base, []).append(g)
        for a in seq:
            prev = epoch_of.get(a)
            if prev is not None and prev[0] != base:
                h = prev[1]
                _refute(out, [h, g, a], max(_ret(ops[g]), _ret(ops[h])), "K5a",
                        f"{_d(model, ops[h])} and {_d(model, ops[g])} both contain "
                        f"{_d(model, ops[a])} but after different puts (it takes effect once)")
                return True
            epoch_of.setdefault(a, (base, g))
    for base, members in groups.items():
        longest = max(members, key=lambda g: len(unique[g][1]))
        ref = unique[longest][1]
        for g in members:
            seq = unique[g][1]
            if ref[: len(seq)] != seq:
                _refute(out, [longest, g], max(_ret(ops[g]), _ret(ops[longest])), "K5b",
                        f"{_d(model, ops[g])} and {_d(model, ops[longest])} saw the appends in "
                        "orders that are not one a prefix of the other")
                return True
        # K5c: a later read on the same base saw fewer appends
        members.sort(key=lambda g: _ret(ops[g]))
        best: int | None = None
        j = 0
        for g2 in sorted(members, key=lambda g: ops[g].call):
            while j < len(members) and _ret(ops[members[j]]) < ops[g2].call:
                cand = members[j]
                if best is None or len(unique[cand][1]) > len(unique[best][1]):
                    best = cand
                j += 1
            if best is not None and len(unique[best][1]) > len(unique[g2][1]):
                _refute(out, [best, g2], _ret(ops[g2]), "K5c",
                        f"{_d(model, ops[g2])} returned less than {_d(model, ops[best])}, "
                        "which had returned before it was invoked (a value only grows between puts)")
                return True
    # K5d: a read from absent after a read that followed a put.
    after_put = [g for g in unique if unique[g][0] is not None]
    from_absent = [g for g in unique if unique[g][0] is None]
    if after_put and from_absent:
        g1 = min(after_put, key=lambda g: _ret(ops[g]))
        g2 = max(from_absent, key=lambda g: ops[g].call)
        if _ret(ops[g1]) < ops[g2].call:
            _refute(out, [g1, g2], _ret(ops[g2]), "K5d",
                    f"{_d(model, ops[g2])} read from the absent value although "
                    f"{_d(model, ops[g1])} had read a put's value before it was invoked")
            return True
    # K5e: stale reads.
    done = sorted((w for w in live if ops[w].ret is not None), key=lambda w: _ret(ops[w]))
    for g, (base, seq) in unique.items():
        visible = set(seq)
        if base is not None:
            visible.add(base)
        floor = -_INF if base is None else _ret(ops[base])
        for w in done:
            if _ret(ops[w]) >= ops[g].call:
                break
            if w not in visible and ops[w].call > floor:
                why = ("read from the absent value" if base is None else
                       f"read after {_d(model, ops[base])}, which returned before it was invoked,")
                _refute(out, [g, w], _ret(ops[g]), "K5e",
                        f"stale read: {_d(model, ops[g])} {why} but misses "
                        f"{_d(model, ops[w])}, which had returned before the read was invoked")
                return True
    return False


# -- registers -------------------------------------------------------------------------------


def _register_rules(ops: Sequence[Operation], model: RegisterModel, out: Plan, deadline: float) -> None:
    reads: list[int] = []
    writers: list[int] = []  # writes and compare-and-sets that may set the value
    succeeded_from: dict[Any, list[int]] = {}  # expected value -> known successful cas
    failed_expected: set[Any] = set()
    observed: set[Any] = set()
    try:
        for i, o in enumerate(ops):
            op = o.input[0]
            if op == "read":
                if o.ret is not None:
                    reads.append(i)
                    observed.add(o.output)
            elif op == "write":
                hash(o.input[1])
                writers.append(i)
            elif op == "cas":
                hash(o.input[1])
                e = o.input[2]
                if o.ret is None:
                    observed.add(e)
                    writers.append(i)
                elif o.output:
                    observed.add(e)
                    succeeded_from.setdefault(e, []).append(i)
                    writers.append(i)
                else:
                    failed_expected.add(e)
            hash(model.initial)
    except TypeError:
        out.skipped = "an unhashable value"
        return

    # R1: drop unknown writes whose value is not observed.
    def is_observed(v: Any) -> bool:
        return v in observed or any(e != v for e in failed_expected)

    for i in writers:
        if ops[i].ret is None and not is_observed(ops[i].input[1]):
            out.drop.add(i)
    out._count("R1", len(out.drop))

    producers: dict[Any, list[int]] = {}
    for i in writers:
        if i not in out.drop:
            producers.setdefault(ops[i].input[1], []).append(i)
    needs: list[tuple[int, Any]] = [(i, ops[i].output) for i in reads]
    needs += [(i, e) for e, ids in succeeded_from.items() for i in ids]
    for x_op, x in needs:
        if x == model.initial:
            continue
        rx = _ret(ops[x_op])
        cands = [i for i in producers.get(x, []) if i != x_op]
        # R2: nobody could have written x in time.
        if not any(ops[i].call <= rx for i in cands):
            _refute(out, [x_op], rx, "R2", f"{_d(model, ops[x_op])} needs the value {x!r}, which "
                    f"no operation invoked by t={rx:g} writes")
            return
        # R3: the only possible writer has an unknown outcome: it must precede this operation.
        if len(cands) == 1 and ops[cands[0]].ret is None and rx < out.deadline.get(cands[0], _INF):
            out.deadline[cands[0]] = rx
    out._count("R3", len(out.deadline))


# -- helpers ---------------------------------------------------------------------------------


def _d(model: Any, op: Operation) -> str:
    text = model.describe(op.input, UNKNOWN if op.ret is None else op.output)
    return f"client {op.client}'s {text}"


def _refute(out: Plan, culprits: list[int], failing_time: float, rule: str, reason: str) -> None:
    out.refuted = Refutation(list(dict.fromkeys(culprits)), failing_time, rule, reason)
    out._count(rule)

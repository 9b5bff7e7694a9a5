"""Linearizability checking: Wing & Gong's search with Lowe's memo, pruning rules and budgets.

Theory of operation
-------------------
A history is a set of :class:`Operation` s, each with an invocation time ``call``, a response
time ``ret`` and the ``input``/``output`` the client saw. It is *linearizable* (Herlihy & Wing
1990) if every operation can be given a single instant between its call and its return such that
executing the operations one by one in the order of those instants, on one sequential copy of
the object (a :mod:`~consensuslab.check.models` model), produces exactly the recorded outputs.
Two operations with ``a.ret < b.call`` must therefore keep their order; overlapping ones
(including ``a.ret == b.call``) may go either way.

An operation with ``ret=None`` has an **unknown outcome** (the client timed out or crashed): it
may have taken effect at any instant after its call, or never. The model sees the
:data:`~consensuslab.check.history.UNKNOWN` output and accepts any outcome.

The check, part by part:

1. Split the history with ``model.partition`` (P-compositionality, Horn & Kroening 2015: a
   history is linearizable iff each independent part is). Parts are checked smallest first,
   stopping at the first that is not linearizable, or all at once on an ``executor``.
2. Apply the **pruning rules** of :mod:`~consensuslab.check.rules` (built-in models only): drop
   unknown-outcome writes nobody observed, give observed ones the deadline of the read that saw
   them, add the orders that reads with unique-token values impose, or refute the part outright
   (a read of a value nobody could have written, reads that contradict each other, a stale
   read). Each rule is proven sound in that module's docstring and property-tested against a
   brute-force oracle with the rules on and off.
3. Search (Wing & Gong 1993, with Lowe's 2017 memo, as in Porcupine): a search node is
   ``(linearized set, model state)``. The operations that may be linearized next are the pending
   ones whose call is not after the earliest pending return and whose required predecessors
   (the rules' orders) are placed; the search tries each that the model accepts, depth first,
   and backtracks on dead ends. A node reached before is not explored again (Lowe's memo;
   states must therefore be hashable). Sound reductions that do not change any verdict:

   * *unknown outcomes are optional*: the search succeeds as soon as every operation with a
     known outcome (or a deadline) is linearized; an unknown read-only operation is dropped;
   * *eager reads*: a pending read-only operation (``model.is_read_only``) that is legal in the
     current state is linearized at once, without branching: moving it to the front of any
     valid completion keeps that completion valid (no order edge points into a read);
   * *twins*: among operations with the same input and output whose intervals are nested in the
     same order (``a.call <= b.call`` and ``a.ret <= b.ret``; always true for two unknown
     outcomes), only the earliest pending one is tried: swapping twins in a linearization
     keeps it valid.

4. **Bounded resources.** The search stops with ``ok=None`` (undecided) when the ``timeout``
   passes, or when the memo holds ``max_states`` nodes or an estimated ``max_memory`` bytes
   (512 MiB by default, so no call can exhaust the machine: the estimate counts each memo
   entry's mask, state and set slot). The budgets are checked every 256 model steps, no loop
   between two readings is longer than the number of operations, and the search stops early
   enough to free its memo (a quarter of a microsecond per entry) by the deadline, so a timeout
   is honoured within a few milliseconds.
5. **Answers that help.** A part that is not linearizable reports the longest linearizable
   prefix found, the operations that could not be placed after it, the instant by which one of
   them had to take effect and, when a rule refuted it, the rule's reason. An undecided part
   reports how far the search got (its deepest prefix) and the operations it linearized in the
   most distinct states (``hotspots``: the ones whose orderings made the search large).

References
----------
Herlihy, M. and Wing, J. (1990). Linearizability: a correctness condition for concurrent
objects. ACM TOPLAS 12(3), 463-492.
Wing, J. and Gong, C. (1993). Testing and verifying concurrent objects. JPDC 17(1-2).
Lowe, G. (2017). Testing for linearizability. Concurrency and Computation 29(4).
Horn, A. and Kroening, D. (2015). Faster linearizability checking via P-compositionality.
FORTE 2015, LNCS 9039.
Athalye, A. (2017). Porcupine: a fast linearizability checker in Go (its issue #21 asks for
partial linearizations of failing histories).
"""

from __future__ import annotations

import math
import numbers
import sys
import time
from bisect import bisect_right
from collections.abc import Hashable, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from consensuslab._validate import check_float, check_int, describe
from consensuslab.check.history import UNKNOWN, HistoryError, Operation
from consensuslab.check.models import Model, get_model
from consensuslab.check.rules import Refutation, plan

__all__ = [
    "Operation",
    "PartitionResult",
    "LinearizabilityResult",
    "check_linearizable",
    "linearization_points",
    "history_frame",
    "DEFAULT_MAX_MEMORY",
]

_INF = math.inf
_CHECK_EVERY = 256  # model steps between two clock readings
#: Default memory budget of one part's search (estimated bytes of its memo).
DEFAULT_MAX_MEMORY = 512 * 2**20
_ENTRY_BYTES = 120  # per memo entry besides its mask and state: the key tuple and the set slot
_PREFIX_STATES = 2_000  # search budget for the prefix shown with a rule's refutation
_PREFIX_SECONDS = 0.02
_HOTSPOTS = 8
_FREE_S = 0.25e-6  # seconds to free one memo entry when the search returns (measured: 0.1-0.35)


@dataclass(frozen=True)
class PartitionResult:
    """The verdict on one independent part of a history (e.g. one key).

    ``reason`` says why it is not linearizable (a rule's reason) or undecided (which budget ran
    out); ``rules`` counts the pruning rules that fired (``{"K1": 3, "K3": 2}``).
    """

    label: Any
    n_ops: int
    ok: bool | None
    states: int
    seconds: float
    reason: str | None = None
    rules: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class LinearizabilityResult:
    """What :func:`check_linearizable` returns.

    Attributes
    ----------
    ok : bool or None
        ``True`` linearizable, ``False`` not, ``None`` undecided (a budget ran out first).
        ``bool(result)`` is ``True`` only when ``ok is True``.
    linearization : list of Operation or None
        When ``ok``: one valid sequential order of every operation that took effect (operations
        with an unknown outcome that need not have happened are left out).
    prefix : list of Operation
        When not ``ok``: the longest linearizable prefix found in the failing (or undecided)
        part: a sequence that respects real time and that the model replays legally.
    unplaceable : list of Operation
        When ``ok is False``: operations that cannot be placed after ``prefix`` (those the model
        rejects in that state, all pending candidates if it rejects none, or the operations a
        pruning rule found contradictory).
    failing_time : float or None
        When ``ok is False``: the instant by which one of ``unplaceable`` had to take effect.
    failing_partition : object
        Label of the failing or undecided part (its key for the kv model).
    reason : str or None
        When not ``ok``: why, in words (the rule that refuted the part, or the budget that ran
        out and how far the search got).
    hotspots : list of (Operation, int)
        When undecided: the operations the search linearized in the most distinct states, with
        those counts: the ones whose possible orders made the search large.
    states : int
        Search nodes visited, summed over the parts checked.
    partitions : list of PartitionResult
        One entry per part checked (parts after the first failing one are not checked).
    model : Model
        The model used.
    history : tuple of Operation
        The history checked.
    seconds : float
        Wall time of the check.
    """

    ok: bool | None
    linearization: list[Operation] | None = None
    prefix: list[Operation] = field(default_factory=list)
    unplaceable: list[Operation] = field(default_factory=list)
    failing_time: float | None = None
    failing_partition: Any = None
    partitions: list[PartitionResult] = field(default_factory=list)
    model: Any = None
    history: tuple[Operation, ...] = ()
    seconds: float = 0.0
    reason: str | None = None
    hotspots: list[tuple[Operation, int]] = field(default_factory=list)
    states: int = 0

    def __bool__(self) -> bool:
        return self.ok is True

    def failure_context(self, max_ops: int = 16) -> list[Operation]:
        """The operations around the failing point, for a readable plot.

        Parameters
        ----------
        max_ops : int
            At most this many operations of the failing part: the last ones invoked before
            ``failing_time``, always including ``unplaceable``.

        Returns
        -------
        list of Operation
            In invocation order; empty unless ``ok is False``.
        """
        max_ops = check_int("max_ops", max_ops, 1)
        if self.ok is not False or self.failing_time is None:
            return []
        part: Sequence[Operation] = self.history
        splitter = getattr(self.model, "partition", None)
        labeller = getattr(self.model, "partition_label", None)
        if splitter is not None and labeller is not None:
            for candidate in splitter(self.history):
                if labeller(candidate) == self.failing_partition:
                    part = candidate
                    break
        ft = self.failing_time
        before = sorted((op for op in part if op.call <= ft), key=lambda o: o.call)
        must = {id(op) for op in self.unplaceable}
        keep = [op for op in before if id(op) in must]
        keep += [op for op in part if id(op) in must and op.call > ft]
        for op in reversed(before):
            if len(keep) >= max_ops:
                break
            if id(op) not in must:
                keep.append(op)
        return sorted(keep, key=lambda o: o.call)

    def explain(self) -> str:
        """A one-paragraph human-readable account of the verdict."""
        label = self._label
        where = "" if self.failing_partition is None else f" in part {self.failing_partition!r}"
        if self.ok is None:
            hot = ", ".join(f"client {op.client}: {label(op)} ({n} states)" for op, n in self.hotspots[:4])
            text = f"undecided{where}: {self.reason or 'a budget ran out'}"
            if hot:
                text += f"; the search was largest around {hot}"
            return text
        if self.ok:
            n = len(self.linearization or [])
            return f"linearizable ({n} operations in {len(self.partitions)} part(s))"
        stuck = ", ".join(f"client {op.client}: {label(op)}" for op in self.unplaceable)
        if self.reason:
            return (
                f"not linearizable{where}: {self.reason} (the longest linearizable prefix "
                f"found has {len(self.prefix)} operation(s); [{stuck}] cannot all follow it)"
            )
        return (
            f"not linearizable{where}: after a linearizable prefix of {len(self.prefix)} "
            f"operation(s), none of [{stuck}] can take effect before t={self.failing_time}"
        )

    def _label(self, op: Operation) -> str:
        model = self.model
        if model is not None and hasattr(model, "describe"):
            return str(model.describe(op.input, op.output if op.ret is not None else UNKNOWN))
        return repr(op)


@dataclass
class _PartOutcome:
    ok: bool | None
    sequence: list[Operation]
    unplaceable: list[Operation]
    failing_time: float | None
    states: int
    reason: str | None = None
    hotspots: list[tuple[Operation, int]] = field(default_factory=list)
    rules: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def _validate_history(history: Any) -> tuple[Operation, ...]:
    if isinstance(history, (str, bytes)) or not isinstance(history, Sequence | list | tuple):
        try:
            history = list(history)
        except TypeError:
            raise TypeError(
                f"`history` must be a sequence of Operation; got {describe(history)}."
            ) from None
    ops = tuple(history)
    for k, op in enumerate(ops):
        if not isinstance(op, Operation):
            raise TypeError(f"`history[{k}]` must be an Operation; got {describe(op)}.")
        if isinstance(op.call, bool) or not isinstance(op.call, numbers.Real) or not math.isfinite(
            op.call
        ):
            raise ValueError(f"`history[{k}].call` must be a finite number; got {op.call!r}.")
        if op.ret is not None:
            if isinstance(op.ret, bool) or not isinstance(op.ret, numbers.Real) or math.isnan(
                op.ret
            ):
                raise ValueError(f"`history[{k}].ret` must be a number or None; got {op.ret!r}.")
            if op.ret < op.call:
                raise ValueError(
                    f"`history[{k}].ret` must be >= its call ({op.call}); got {op.ret}."
                )
    return ops


def _validate_inputs(ops: Sequence[Operation], model: Any) -> None:
    """Ask the model to vet every operation's input; name the operation if it objects."""
    validate = getattr(model, "validate", None)
    if validate is None:
        return
    for k, op in enumerate(ops):
        try:
            validate(op.input, UNKNOWN if op.ret is None else op.output)
        except (TypeError, ValueError) as exc:
            raise HistoryError(f"`history[{k}]` = {op!r}: {exc}") from None


class _Budget(Exception):
    """A search budget ran out (internal)."""


def _check_part(
    ops: Sequence[Operation],
    model: Any,
    deadline: float,
    reductions: bool = True,
    *,
    rules: bool = True,
    max_states: int | None = None,
    max_memory: float = DEFAULT_MAX_MEMORY,
) -> _PartOutcome:
    """Check one independent part; see the module docstring.

    ``reductions=False`` runs the plain Wing & Gong / Lowe search (every operation, unknown
    outcomes included, must be linearized; no eager reads, no twins, no rules): the benchmark's
    baseline. ``rules=False`` keeps the reductions but not the pruning rules.
    """
    t0 = time.perf_counter()
    read_only = getattr(model, "is_read_only", None) if reductions else None
    kept = [
        op
        for op in ops
        if not (op.ret is None and read_only is not None and read_only(op.input, UNKNOWN))
    ]
    rets = [_INF if o.ret is None else float(o.ret) for o in kept]
    need_pairs: list[tuple[int, int]] = []
    fired: dict[str, int] = {}
    refutation: Refutation | None = None
    search_model = model
    inputs: dict[int, Any] = {}
    if reductions and rules:
        pl = plan(kept, model, deadline)
        fired = dict(pl.fired)
        refutation = pl.refuted
        for i, t in pl.deadline.items():
            rets[i] = min(rets[i], t)
        need_pairs = list(pl.before)
        if refutation is None and pl.model is not None:
            search_model, inputs = pl.model, dict(pl.inputs)
        if pl.drop and refutation is None:
            keep_idx = [i for i in range(len(kept)) if i not in pl.drop]
            remap = {old: new for new, old in enumerate(keep_idx)}
            kept = [kept[i] for i in keep_idx]
            rets = [rets[i] for i in keep_idx]
            need_pairs = [(remap[a], remap[b]) for a, b in need_pairs if a in remap and b in remap]
            inputs = {remap[i]: v for i, v in inputs.items() if i in remap}
    if refutation is not None:
        culprits = [kept[i] for i in refutation.culprits]
        # A short search for the longest linearizable prefix to show with the rule's reason.
        probe = _search(
            kept, rets, model, min(deadline, time.perf_counter() + _PREFIX_SECONDS), reductions,
            need_pairs, _PREFIX_STATES if max_states is None else min(max_states, _PREFIX_STATES),
            max_memory,
        )
        assert probe.ok is not True, f"rule {refutation.rule} refuted a linearizable part"
        return _PartOutcome(
            False, probe.sequence, culprits, refutation.failing_time, probe.states,
            f"{refutation.reason} [rule {refutation.rule}]", [], fired,
            time.perf_counter() - t0,
        )
    out = _search(
        kept, rets, search_model, deadline, reductions, need_pairs, max_states, max_memory, inputs
    )
    out.rules = fired
    out.seconds = time.perf_counter() - t0
    return out


def _search(
    ops: Sequence[Operation],
    ret_times: Sequence[float],
    model: Any,
    deadline: float,
    reductions: bool,
    need_pairs: Sequence[tuple[int, int]],
    max_states: int | None,
    max_memory: float,
    replace: dict[int, Any] | None = None,
) -> _PartOutcome:
    """Depth-first search over (linearized set, state) with Lowe's memo and budgets.

    ``replace`` maps indices of ``ops`` to the inputs the search steps ``model`` with instead of
    theirs (rule K6); results always hold the original operations.
    """
    step = model.step
    read_only = getattr(model, "is_read_only", None) if reductions else None
    order = sorted(range(len(ops)), key=lambda i: (ops[i].call, ret_times[i]))
    pos = {old: new for new, old in enumerate(order)}
    kept = [ops[i] for i in order]
    n = len(kept)
    calls = [o.call for o in kept]
    rets = [float(ret_times[i]) for i in order]
    swap = {} if replace is None else replace
    inputs = [swap.get(i, ops[i].input) for i in order]
    outs = [UNKNOWN if o.ret is None else o.output for o in kept]
    ro = [bool(read_only(inputs[i], outs[i])) if read_only is not None else False for i in range(n)]
    need = [0] * n
    for a, b in need_pairs:
        need[pos[b]] |= 1 << pos[a]

    # Operations that must be linearized (known outcome or a deadline), by return time: the
    # earliest pending one bounds the candidates (ops whose call is not after it); lowmask[p] is
    # that candidate window.
    ret_order = sorted((i for i in range(n) if rets[i] < _INF), key=rets.__getitem__)
    m = len(ret_order)
    lowmask = [(1 << bisect_right(calls, rets[ret_order[p]])) - 1 for p in range(m)]
    full = (1 << n) - 1
    lowmask.append(full)  # past the last known return every pending op is a candidate
    known = sum(1 << i for i in ret_order) if reductions else full

    # Twins: ``pred[i]`` is an earlier op with the same input/output and a return not later.
    predbit = [0] * n
    last: dict[Any, int] = {}
    for i in range(n if reductions else 0):
        try:
            twin = (inputs[i], outs[i], rets[i] == _INF)
            j = last.get(twin)
        except TypeError:  # unhashable input/output: no twin reduction for it
            continue
        if j is not None and rets[j] <= rets[i]:
            predbit[i] = 1 << j
        last[twin] = i

    state: Any = model.init()
    mask = 0
    p = 0
    visited: set[tuple[int, Hashable]] = set()
    stack: list[tuple[int, int, Any, int, int]] = []
    best_depth = -1
    best: tuple[list[int], int, Any, int] = ([], 0, state, 0)
    pushes = [0] * n
    steps = 0
    next_check = _CHECK_EVERY
    limit_states = _INF if max_states is None else max_states
    getsize = sys.getsizeof
    current = -1  # the operation being stepped in the main loop (for error messages)

    def node_alternatives(mask: int, state: Any, p: int) -> int:
        nonlocal steps
        cand = lowmask[p] & ~mask
        alts = 0
        c = cand
        while c:
            low = c & -c
            c ^= low
            i = low.bit_length() - 1
            pb = predbit[i]
            if pb and not (mask & pb):
                continue  # an earlier twin is pending: try that one instead
            if need[i] & ~mask:
                continue  # a required predecessor (a rule's order) is not placed yet
            if ro[i]:
                steps += 1
                if step(state, inputs[i], outs[i])[0]:
                    return low  # eager read: the only move worth trying
                continue
            alts |= low
        return alts

    def stopped(reason: str) -> _PartOutcome:
        frames = best[0] if best_depth > len(stack) else [f[0] for f in stack]
        hot = sorted(range(n), key=lambda i: -pushes[i])[:_HOTSPOTS]
        return _PartOutcome(
            None, [kept[i] for i in frames], [], None, len(visited), reason,
            [(kept[i], pushes[i]) for i in hot if pushes[i] > 0],
        )

    try:
        if m == 0 and (reductions or n == 0):
            return _PartOutcome(True, [], [], None, 0)
        alts = node_alternatives(mask, state, p)
        while True:
            moved = False
            while alts:
                low = alts & known or alts  # known outcomes first: unknown ones are optional
                low &= -low
                alts ^= low
                i = low.bit_length() - 1
                steps += 1
                current = i
                legal, new_state = step(state, inputs[i], outs[i])
                if not legal:
                    continue
                new_mask = mask | low
                key = (new_mask, new_state)
                if key in visited:
                    continue
                visited.add(key)
                pushes[i] += 1
                stack.append((i, mask, state, p, alts))
                mask, state = new_mask, new_state
                moved = True
                break
            if steps >= next_check:
                next_check = steps + _CHECK_EVERY
                size = len(visited)
                # leave time to free the memo by the deadline
                if time.perf_counter() + size * _FREE_S > deadline:
                    raise _Budget("the timeout passed")
                if size >= limit_states:
                    raise _Budget(f"the state budget (max_states={max_states}) ran out")
                # every entry costs about as much as the current one (states grow with depth,
                # and the current node is among the deepest: an overestimate)
                if size * (_ENTRY_BYTES + getsize(mask) + getsize(state)) > max_memory:
                    raise _Budget(f"the memory budget (max_memory={max_memory / 2**20:.0f} MiB) ran out")
            if moved:
                while p < m and (mask >> ret_order[p]) & 1:
                    p += 1
                if p == m and (reductions or mask == full):
                    return _PartOutcome(True, [kept[f[0]] for f in stack], [], None, len(visited))
                alts = node_alternatives(mask, state, p)
                continue
            # Dead end: remember the deepest one as the explanation, then backtrack.
            if len(stack) > best_depth:
                best_depth = len(stack)
                best = ([f[0] for f in stack], mask, state, p)
            if not stack:
                break
            _, mask, state, p, alts = stack.pop()
    except _Budget as exc:
        frames = best[0] if best_depth > len(stack) else [f[0] for f in stack]
        placed = sum(1 for i in frames if rets[i] < _INF)
        return stopped(
            f"{exc} after {len(visited)} states; the longest linearizable prefix found has "
            f"{len(frames)} operation(s) and places {placed} of the {m} that must take effect"
        )
    except HistoryError:
        raise
    except Exception as exc:
        op = kept[current] if 0 <= current < n else None
        for j in range(n):  # find the operation the model cannot step in this state
            if (lowmask[p] >> j) & 1 and not (mask >> j) & 1:
                try:
                    step(state, inputs[j], outs[j])
                except Exception:
                    op = kept[j]
                    break
        raise HistoryError(
            f"the model {model!r} failed on {op!r} in state {state!r}: {type(exc).__name__}: {exc}"
        ) from exc

    order_, bmask, bstate, bp = best
    cand = lowmask[bp] & ~bmask
    pending = [i for i in range(n) if (cand >> i) & 1]
    rejected = [i for i in pending if not step(bstate, inputs[i], outs[i])[0]]
    return _PartOutcome(
        False,
        [kept[i] for i in order_],
        [kept[i] for i in (rejected or pending)],
        rets[ret_order[bp]] if bp < m else _INF,
        len(visited),
    )


def linearization_points(sequence: Sequence[Operation]) -> list[float]:
    """Earliest valid linearization instants for a sequence already known to be linearizable.

    ``point[k] = max(call[k], point[k-1])``; it lies within ``[call, ret]`` for every operation
    of a valid linearization.

    Parameters
    ----------
    sequence : sequence of Operation
        A linearization (e.g. ``result.linearization``) or a linearizable prefix.

    Returns
    -------
    list of float
        One instant per operation, non-decreasing.
    """
    points: list[float] = []
    t = -_INF
    for op in sequence:
        t = max(t, float(op.call))
        points.append(t)
    return points


def _merge(parts: list[list[Operation]]) -> list[Operation]:
    """Merge per-part linearizations into one global order (by earliest linearization points)."""
    keyed = []
    for pi, seq in enumerate(parts):
        for k, (op, t) in enumerate(zip(seq, linearization_points(seq), strict=True)):
            keyed.append((t, pi, k, op))
    keyed.sort(key=lambda x: (x[0], x[1], x[2]))
    return [x[3] for x in keyed]


def _part_job(
    args: tuple[list[Operation], Any, float | None, bool, int | None, float]
) -> _PartOutcome:
    """One part on an executor (module level, so process pools can pickle it)."""
    ops, model, seconds, rules, max_states, max_memory = args
    deadline = _INF if seconds is None else time.perf_counter() + seconds
    return _check_part(ops, model, deadline, rules=rules, max_states=max_states, max_memory=max_memory)


def check_linearizable(
    history: Sequence[Operation],
    model: str | Model = "kv",
    timeout: float | None = None,
    *,
    max_states: int | None = None,
    max_memory: float = DEFAULT_MAX_MEMORY,
    executor: Executor | None = None,
    rules: bool = True,
) -> LinearizabilityResult:
    """Decide whether a concurrent history is linearizable with respect to a sequential model.

    Parameters
    ----------
    history : sequence of Operation
        The operations, in any order. ``ret=None`` marks an unknown outcome.
    model : {"kv", "register", "cas-register"} or Model
        The sequential specification (see :mod:`consensuslab.check.models`).
    timeout : float, optional
        Give up after this many seconds and return ``ok=None`` (honoured within a few
        milliseconds: the clock is read every 256 model steps).
    max_states : int, optional
        Give up (``ok=None``) when one part's search has visited this many states (checked
        every 256 model steps, so it may visit up to 256 more).
    max_memory : float
        Give up (``ok=None``) when one part's memo is estimated to hold this many bytes
        (default :data:`DEFAULT_MAX_MEMORY`, 512 MiB). ``math.inf`` removes the bound.
    executor : concurrent.futures.Executor, optional
        Check the independent parts (the keys of the kv model) in parallel on it. Each part
        then has its own ``max_states``/``max_memory`` budget; a part that is not
        linearizable cancels the parts that have not started, and is the one reported.
    rules : bool
        Apply the pruning rules of :mod:`consensuslab.check.rules` (default). They never change
        a verdict; switch them off to compare.

    Returns
    -------
    LinearizabilityResult
        ``ok``; a ``linearization`` when linearizable; ``prefix``, ``unplaceable``,
        ``failing_time`` and ``reason`` when not; ``prefix``, ``reason`` and ``hotspots`` when
        undecided; per-part details in ``partitions``.

    Raises
    ------
    TypeError
        If ``history`` does not hold :class:`Operation` s, ``model`` is not a model, or a
        budget has the wrong type.
    ValueError
        For an unknown model name, a non-finite call, a return before its call, or a
        non-positive ``timeout``, ``max_states`` or ``max_memory``.
    HistoryError
        (a ``ValueError``) naming the operation, for an input the model cannot interpret
        (``input=None``, ``("get",)``, an unknown operation) or a model step that fails on it
        (an append to a value that is not a string).

    Notes
    -----
    Wing & Gong's depth-first search over (linearized set, state) with Lowe's memo, run per
    independent part (P-compositionality) after the pruning rules; parts are checked smallest
    first and the check stops at the first one that is not linearizable. See the module
    docstring.

    References
    ----------
    Herlihy & Wing (1990), §3 (definition); Wing & Gong (1993); Lowe (2017), §3 (memo);
    Horn & Kroening (2015) (P-compositionality).

    Examples
    --------
    >>> from consensuslab.check.models import RegisterInput as R
    >>> h = [Operation(0, 0, 2, R("write", 1)), Operation(1, 1, 3, R("read"), 1),
    ...      Operation(2, 4, 5, R("read"), None)]
    >>> check_linearizable(h, "register").ok
    False
    >>> check_linearizable(h[:2], "register").ok
    True

    Twelve appends whose outcome is unknown and one read that saw two of them: the ten unseen
    ones are dropped and the read fixes the order of the other two, so there is nothing to
    search:

    >>> from consensuslab.check.models import KVInput as K
    >>> h = [Operation(k, 0, None, K("append", "x", f"{k};")) for k in range(12)]
    >>> res = check_linearizable(h + [Operation(12, 1, 2, K("get", "x"), "3;7;")], "kv")
    >>> res.ok, res.partitions[0].rules, res.states
    (True, {'K1': 10, 'K3': 2, 'K4': 1}, 3)
    """
    start = time.perf_counter()
    ops = _validate_history(history)
    mdl = get_model(model)
    if timeout is not None:
        timeout = check_float("timeout", timeout, 0.0, low_open=True, allow_inf=True)
    if max_states is not None:
        max_states = check_int("max_states", max_states, 1)
    max_memory = check_float("max_memory", max_memory, 0.0, low_open=True, allow_inf=True)
    if not isinstance(rules, bool):
        raise TypeError(f"`rules` must be a bool; got {describe(rules)}.")
    if executor is not None and not callable(getattr(executor, "submit", None)):
        raise TypeError(f"`executor` must be a concurrent.futures.Executor; got {describe(executor)}.")
    _validate_inputs(ops, mdl)
    deadline = _INF if timeout is None else start + timeout

    splitter = getattr(mdl, "partition", None)
    try:
        parts = [list(p) for p in (splitter(ops) if splitter is not None else [list(ops)])]
    except Exception as exc:
        raise HistoryError(f"the model {mdl!r} could not partition the history: {exc}") from exc
    labeller = getattr(mdl, "partition_label", None)
    order = sorted(range(len(parts)), key=lambda k: len(parts[k]))
    labels = {k: (labeller(parts[k]) if labeller is not None else k) for k in order}

    outcomes: dict[int, _PartOutcome] = {}
    if executor is None or len(parts) < 2:
        for k in order:
            outcomes[k] = _check_part(
                parts[k], mdl, deadline, rules=rules, max_states=max_states, max_memory=max_memory
            )
            if outcomes[k].ok is False:
                break
    else:
        outcomes = _run_parallel(parts, order, mdl, deadline, rules, max_states, max_memory, executor)

    results: list[PartitionResult] = []
    sequences: list[list[Operation]] = []
    verdict: bool | None = True
    focus: tuple[int, _PartOutcome] | None = None
    for k in order:
        if k not in outcomes:
            continue
        out = outcomes[k]
        results.append(
            PartitionResult(labels[k], len(parts[k]), out.ok, out.states, out.seconds, out.reason, out.rules)
        )
        if out.ok is False and verdict is not False:
            verdict, focus = False, (k, out)
        elif out.ok is None and verdict is True:
            verdict, focus = None, (k, out)
        elif out.ok:
            sequences.append(out.sequence)
    if verdict is None and len(outcomes) < len(parts):
        for k in order:  # parts not reached before the deadline
            if k not in outcomes:
                results.append(PartitionResult(labels[k], len(parts[k]), None, 0, 0.0, "not started"))

    elapsed = time.perf_counter() - start
    total_states = sum(o.states for o in outcomes.values())
    common = dict(partitions=results, model=mdl, history=ops, seconds=elapsed, states=total_states)
    if verdict is True:
        return LinearizabilityResult(True, _merge(sequences), **common)  # type: ignore[arg-type]
    assert focus is not None
    k, out = focus
    if verdict is None:
        return LinearizabilityResult(
            None, None, prefix=out.sequence, failing_partition=labels[k], reason=out.reason,
            hotspots=out.hotspots, **common,  # type: ignore[arg-type]
        )
    return LinearizabilityResult(
        False,
        None,
        prefix=out.sequence,
        unplaceable=out.unplaceable,
        failing_time=out.failing_time,
        failing_partition=labels[k],
        reason=out.reason,
        **common,  # type: ignore[arg-type]
    )


def _run_parallel(
    parts: list[list[Operation]],
    order: list[int],
    model: Any,
    deadline: float,
    rules: bool,
    max_states: int | None,
    max_memory: float,
    executor: Executor,
) -> dict[int, _PartOutcome]:
    """Submit every part; stop at the first that is not linearizable or at the deadline."""
    def left() -> float | None:
        return None if deadline == _INF else max(deadline - time.perf_counter(), 1e-6)

    futures: dict[Future[_PartOutcome], int] = {
        executor.submit(_part_job, (parts[k], model, left(), rules, max_states, max_memory)): k
        for k in order
    }
    outcomes: dict[int, _PartOutcome] = {}
    pending = set(futures)
    while pending:
        timeout = None if deadline == _INF else max(deadline - time.perf_counter(), 0.0) + 0.05
        done, pending = wait(pending, timeout=timeout, return_when=FIRST_COMPLETED)
        if not done:
            break  # the deadline passed while parts were still queued or running
        failed = False
        for fut in done:
            out = fut.result()
            outcomes[futures[fut]] = out
            failed |= out.ok is False
        if failed:
            break
    for fut in pending:
        fut.cancel()
    return outcomes


def history_frame(
    history: Sequence[Operation],
    model: str | Model | None = None,
    result: LinearizabilityResult | None = None,
) -> pd.DataFrame:
    """A tidy table of a history for plots: one row per operation.

    Parameters
    ----------
    history : sequence of Operation
    model : str or Model, optional
        Used for the ``label`` column (defaults to ``result.model`` or ``repr``).
    result : LinearizabilityResult, optional
        Adds ``order`` and ``point`` (position and instant in the linearization, or in the
        longest linearizable prefix when not linearizable) and ``unplaceable``.

    Returns
    -------
    pandas.DataFrame
        Columns ``client, call, ret, unknown, label, order, point, unplaceable``.
    """
    ops = _validate_history(history)
    mdl = get_model(model) if model is not None else (result.model if result is not None else None)
    describe_op = getattr(mdl, "describe", None)
    seq: list[Operation] = []
    bad: list[Operation] = []
    if result is not None:
        seq = list(result.linearization or []) if result.ok else list(result.prefix)
        bad = list(result.unplaceable)
    pos = {id(op): k for k, op in enumerate(seq)}
    pts = linearization_points(seq)
    bad_ids = {id(op) for op in bad}
    rows = []
    for op in ops:
        out = UNKNOWN if op.ret is None else op.output
        k = pos.get(id(op))
        rows.append(
            {
                "client": op.client,
                "call": float(op.call),
                "ret": math.nan if op.ret is None else float(op.ret),
                "unknown": op.ret is None,
                "label": describe_op(op.input, out) if describe_op else f"{op.input!r}→{out!r}",
                "order": -1 if k is None else k,
                "point": math.nan if k is None else pts[k],
                "unplaceable": id(op) in bad_ids,
            }
        )
    return pd.DataFrame(
        rows, columns=["client", "call", "ret", "unknown", "label", "order", "point", "unplaceable"]
    )

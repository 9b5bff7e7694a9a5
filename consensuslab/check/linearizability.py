"""Linearizability checking: Wing & Gong's search with Lowe's memo and P-compositionality.

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
:data:`~consensuslab.check.models.UNKNOWN` output and accepts any outcome.

The search (Wing & Gong 1993, with Lowe's 2017 memo, as in Porcupine):

1. Split the history with ``model.partition`` (P-compositionality, Horn & Kroening 2015: a
   history is linearizable iff each independent part is) and check the parts smallest first,
   stopping at the first part that is not linearizable.
2. In a part, a search node is ``(linearized set, model state)``. The operations that may be
   linearized next are the pending ones whose call is not after the earliest pending return;
   the search tries each that the model accepts, depth first, and backtracks on dead ends. A
   node reached before (same bitset of linearized operations, same state) is not explored again
   (Lowe's memo; states must therefore be hashable).
3. Sound reductions that do not change any verdict:

   * *unknown outcomes are optional*: the search succeeds as soon as every operation with a
     known outcome is linearized (the remaining unknown ones "never took effect"); an unknown
     operation that is read-only is dropped, since it constrains nothing;
   * *eager reads*: a pending read-only operation (``model.is_read_only``) that is legal in the
     current state is linearized at once, without branching: moving it to the front of any
     valid completion keeps that completion valid;
   * *twins*: among operations with the same input and output whose intervals are nested in the
     same order (``a.call <= b.call`` and ``a.ret <= b.ret``; always true for two unknown
     outcomes), only the earliest pending one is tried: swapping twins in a linearization
     keeps it valid.

4. A failing part reports the longest linearizable prefix found, the operations that could not
   be placed after it and the time by which one of them had to take effect.

References
----------
Herlihy, M. and Wing, J. (1990). Linearizability: a correctness condition for concurrent
objects. ACM TOPLAS 12(3), 463-492.
Wing, J. and Gong, C. (1993). Testing and verifying concurrent objects. JPDC 17(1-2).
Lowe, G. (2017). Testing for linearizability. Concurrency and Computation 29(4).
Horn, A. and Kroening, D. (2015). Faster linearizability checking via P-compositionality.
FORTE 2015, LNCS 9039.
Athalye, A. (2017). Porcupine: a fast linearizability checker in Go.
"""

from __future__ import annotations

import math
import numbers
import time
from bisect import bisect_right
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from consensuslab._validate import check_float, check_int, describe
from consensuslab.check.history import UNKNOWN, Operation
from consensuslab.check.models import Model, get_model

__all__ = [
    "Operation",
    "PartitionResult",
    "LinearizabilityResult",
    "check_linearizable",
    "linearization_points",
    "history_frame",
]

_INF = math.inf
_CHECK_EVERY = 2048  # search steps between two deadline checks


@dataclass(frozen=True)
class PartitionResult:
    """The verdict on one independent part of a history (e.g. one key)."""

    label: Any
    n_ops: int
    ok: bool | None
    states: int
    seconds: float


@dataclass(frozen=True)
class LinearizabilityResult:
    """What :func:`check_linearizable` returns.

    Attributes
    ----------
    ok : bool or None
        ``True`` linearizable, ``False`` not, ``None`` unknown (the timeout expired first).
        ``bool(result)`` is ``True`` only when ``ok is True``.
    linearization : list of Operation or None
        When ``ok``: one valid sequential order of every operation that took effect (operations
        with an unknown outcome that need not have happened are left out).
    prefix : list of Operation
        When not ``ok``: the longest linearizable prefix found in the failing part.
    unplaceable : list of Operation
        When not ``ok``: the pending operations none of which can be placed after ``prefix``
        (those the model rejects in that state; all pending candidates if it rejects none).
    failing_time : float or None
        When not ``ok``: the earliest pending return after ``prefix``, the instant by which one
        of ``unplaceable`` had to take effect.
    failing_partition : object
        Label of the failing part (its key for the kv model).
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
        for op in reversed(before):
            if len(keep) >= max_ops:
                break
            if id(op) not in must:
                keep.append(op)
        return sorted(keep, key=lambda o: o.call)

    def explain(self) -> str:
        """A one-paragraph human-readable account of the verdict."""
        model = self.model
        label = (lambda op: model.describe(op.input, op.output if op.ret is not None else UNKNOWN)) if (
            model is not None and hasattr(model, "describe")
        ) else repr
        if self.ok is None:
            return f"unknown: timed out after {self.seconds:.3f} s"
        if self.ok:
            n = len(self.linearization or [])
            return f"linearizable ({n} operations in {len(self.partitions)} part(s))"
        where = "" if self.failing_partition is None else f" in part {self.failing_partition!r}"
        stuck = ", ".join(f"client {op.client}: {label(op)}" for op in self.unplaceable)
        return (
            f"not linearizable{where}: after a linearizable prefix of {len(self.prefix)} "
            f"operation(s), none of [{stuck}] can take effect before t={self.failing_time}"
        )


@dataclass
class _PartOutcome:
    ok: bool | None
    sequence: list[Operation]
    unplaceable: list[Operation]
    failing_time: float | None
    states: int


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


def _check_part(
    ops: Sequence[Operation], model: Any, deadline: float, reductions: bool = True
) -> _PartOutcome:
    """Search one independent part; see the module docstring.

    ``reductions=False`` runs the plain Wing & Gong / Lowe search (every operation, unknown
    outcomes included, must be linearized; no eager reads, no twins): the benchmark's baseline.
    """
    step = model.step
    read_only = getattr(model, "is_read_only", None) if reductions else None

    kept = [
        op
        for op in ops
        if not (op.ret is None and read_only is not None and read_only(op.input, UNKNOWN))
    ]
    kept.sort(key=lambda o: (o.call, _INF if o.ret is None else o.ret))
    n = len(kept)
    calls = [o.call for o in kept]
    rets = [_INF if o.ret is None else float(o.ret) for o in kept]
    inputs = [o.input for o in kept]
    outs = [UNKNOWN if o.ret is None else o.output for o in kept]
    ro = [bool(read_only(inputs[i], outs[i])) if read_only is not None else False for i in range(n)]

    # Operations with a known outcome, by return time: the earliest pending one bounds the
    # candidates (ops whose call is not after it); lowmask[p] is that candidate window.
    ret_order = sorted((i for i in range(n) if kept[i].ret is not None), key=rets.__getitem__)
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
    steps = 0

    def node_alternatives(mask: int, state: Any, p: int) -> int:
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
            if ro[i]:
                if step(state, inputs[i], outs[i])[0]:
                    return low  # eager read: the only move worth trying
                continue
            alts |= low
        return alts

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
            legal, new_state = step(state, inputs[i], outs[i])
            if not legal:
                continue
            new_mask = mask | low
            key = (new_mask, new_state)
            if key in visited:
                continue
            visited.add(key)
            stack.append((i, mask, state, p, alts))
            mask, state = new_mask, new_state
            moved = True
            break
        steps += 1
        if steps % _CHECK_EVERY == 0 and time.perf_counter() > deadline:
            return _PartOutcome(None, [kept[f[0]] for f in stack], [], None, len(visited))
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

    order, bmask, bstate, bp = best
    cand = lowmask[bp] & ~bmask
    pending = [i for i in range(n) if (cand >> i) & 1]
    rejected = [i for i in pending if not step(bstate, inputs[i], outs[i])[0]]
    return _PartOutcome(
        False,
        [kept[i] for i in order],
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


def check_linearizable(
    history: Sequence[Operation],
    model: str | Model = "kv",
    timeout: float | None = None,
) -> LinearizabilityResult:
    """Decide whether a concurrent history is linearizable with respect to a sequential model.

    Parameters
    ----------
    history : sequence of Operation
        The operations, in any order. ``ret=None`` marks an unknown outcome.
    model : {"kv", "register", "cas-register"} or Model
        The sequential specification (see :mod:`consensuslab.check.models`).
    timeout : float, optional
        Give up after this many seconds of search and return ``ok=None``.

    Returns
    -------
    LinearizabilityResult
        ``ok``, a ``linearization`` when linearizable, and ``prefix``/``unplaceable``/
        ``failing_time`` when not; per-part details in ``partitions``.

    Raises
    ------
    TypeError
        If ``history`` does not hold :class:`Operation` s or ``model`` is not a model.
    ValueError
        For an unknown model name, a non-finite call, a return before its call, or a
        non-positive timeout.

    Notes
    -----
    Wing & Gong's depth-first search over (linearized set, state) with Lowe's memo, run per
    independent part (P-compositionality); parts are checked smallest first and the check stops
    at the first one that is not linearizable. See the module docstring for the reductions.

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
    """
    start = time.perf_counter()
    ops = _validate_history(history)
    mdl = get_model(model)
    if timeout is not None:
        timeout = check_float("timeout", timeout, 0.0, low_open=True, allow_inf=True)
    deadline = _INF if timeout is None else start + timeout

    splitter = getattr(mdl, "partition", None)
    parts = [list(p) for p in (splitter(ops) if splitter is not None else [list(ops)])]
    labeller = getattr(mdl, "partition_label", None)
    order = sorted(range(len(parts)), key=lambda k: len(parts[k]))

    results: list[PartitionResult] = []
    sequences: list[list[Operation]] = []
    verdict: bool | None = True
    failure: _PartOutcome | None = None
    failing_label: Any = None
    for k in order:
        t0 = time.perf_counter()
        outcome = _check_part(parts[k], mdl, deadline)
        label = labeller(parts[k]) if labeller is not None else k
        results.append(
            PartitionResult(label, len(parts[k]), outcome.ok, outcome.states, time.perf_counter() - t0)
        )
        if outcome.ok is False:
            verdict, failure, failing_label = False, outcome, label
            break
        if outcome.ok is None:
            verdict = None
        else:
            sequences.append(outcome.sequence)

    elapsed = time.perf_counter() - start
    if verdict is True:
        return LinearizabilityResult(
            True, _merge(sequences), partitions=results, model=mdl, history=ops, seconds=elapsed
        )
    if verdict is None:
        return LinearizabilityResult(None, None, partitions=results, model=mdl, history=ops, seconds=elapsed)
    assert failure is not None
    return LinearizabilityResult(
        False,
        None,
        prefix=failure.sequence,
        unplaceable=failure.unplaceable,
        failing_time=failure.failing_time,
        failing_partition=failing_label,
        partitions=results,
        model=mdl,
        history=ops,
        seconds=elapsed,
    )


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

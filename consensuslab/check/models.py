"""Sequential specifications (models) for the linearizability checker.

Theory of operation
-------------------
A linearizability checker asks whether the concurrent history of a replicated object could have
been produced by *some* sequential execution of a single copy of the object. The single copy is
described by a **model**: a deterministic state machine with

``init() -> state``
    the initial state (must be hashable: the checker memoizes ``(linearized set, state)``);
``step(state, input, output) -> (legal, new_state)``
    apply one operation with the recorded ``input`` and ``output``; ``legal`` is ``False`` when
    the object could not have answered ``output`` in ``state``. When the outcome of the operation
    is unknown (a client timed out), ``output`` is the :data:`UNKNOWN` sentinel and the model must
    accept every outcome the operation could have had;
``partition(history) -> list[list[Operation]]``
    split a history into independent sub-histories (P-compositionality, Horn & Kroening 2015):
    a history is linearizable iff each part is. A key-value store partitions by key;
``describe(input, output) -> str``
    a short label for plots and error messages;
``is_read_only(input, output) -> bool``
    ``True`` if the operation can never change the state (a read, a failed compare-and-set).
    The checker linearizes such an operation eagerly as soon as it is legal and drops it when its
    outcome is unknown (it constrains nothing), which prunes the search without changing verdicts;
``validate(input, output) -> None``
    raise ``TypeError``/``ValueError`` naming the expected input form if the operation cannot be
    stepped (the checker calls it on every operation before searching and names the operation).

The models here follow those conventions exactly; subclass :class:`Model` for a new one.

Conventions of the built-in models
----------------------------------
Register (``"register"``, ``"cas-register"``), state is the value, ``None`` when absent:

=========================================  =============================================
``input``                                   ``output``
=========================================  =============================================
``RegisterInput("read")``                   the value read (``None`` = absent)
``RegisterInput("write", value)``           ignored (``None``)
``RegisterInput("cas", value, expected)``   ``True`` if it swapped ``expected -> value``,
                                            ``False`` if it observed another value
=========================================  =============================================

A failed compare-and-set is an operation that *happened* and observed a value other than
``expected`` (the semantics of Jepsen's etcd tests).

Key-value store (``"kv"``), partitioned by key; the state of a partition is the key's value,
``None`` while the key is absent:

==================================  ======================================================
``input``                            ``output``
==================================  ======================================================
``KVInput("get", key)``              the value read, ``None`` if the key is absent
``KVInput("put", key, value)``       ignored (``None``)
``KVInput("append", key, value)``    ignored; the new value is ``old + value`` (``value`` if
                                     the key was absent)
==================================  ======================================================

References
----------
Herlihy, M. and Wing, J. (1990). Linearizability: a correctness condition for concurrent
objects. ACM TOPLAS 12(3).
Horn, A. and Kroening, D. (2015). Faster linearizability checking via P-compositionality.
FORTE 2015.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any, NamedTuple

from consensuslab.check.history import UNKNOWN, Operation

__all__ = [
    "UNKNOWN",
    "Model",
    "RegisterInput",
    "KVInput",
    "RegisterModel",
    "CASRegisterModel",
    "KVModel",
    "NondeterministicModel",
    "get_model",
]


class RegisterInput(NamedTuple):
    """Input of a register operation: ``op`` in ``{"read", "write", "cas"}``.

    ``value`` is the value written (``write``) or swapped in (``cas``); ``expected`` is the value
    a ``cas`` compares against.
    """

    op: str
    value: Any = None
    expected: Any = None


class KVInput(NamedTuple):
    """Input of a key-value operation: ``op`` in ``{"get", "put", "append"}``, ``key``, ``value``."""

    op: str
    key: Any
    value: Any = None


class Model:
    """Base class of sequential specifications; see the module docstring for the protocol.

    Subclasses override :meth:`init` and :meth:`step`, and optionally :meth:`partition`,
    :meth:`describe` and :meth:`is_read_only`.
    """

    #: A short name shown in results and plots.
    name: str = "model"

    def init(self) -> Hashable:
        """The initial state (hashable)."""
        raise NotImplementedError

    def step(self, state: Any, input: Any, output: Any) -> tuple[bool, Any]:
        """Apply one operation; return ``(legal, new_state)``.

        ``output`` is :data:`UNKNOWN` when the outcome was not observed.
        """
        raise NotImplementedError

    def partition(self, history: Sequence[Operation]) -> list[list[Operation]]:
        """Independent sub-histories; the default is the whole history as one part."""
        return [list(history)]

    def partition_label(self, part: Sequence[Operation]) -> Any:
        """A label for one part returned by :meth:`partition` (e.g. its key)."""
        return None

    def describe(self, input: Any, output: Any) -> str:
        """A short human-readable label of one operation."""
        return f"{input!r} -> {output!r}"

    def is_read_only(self, input: Any, output: Any) -> bool:
        """``True`` if the operation never changes the state wherever it is legal."""
        return False

    def validate(self, input: Any, output: Any) -> None:
        """Raise ``TypeError``/``ValueError`` saying which input form is expected, if ``input``
        (with ``output``, :data:`UNKNOWN` for an unknown outcome) is not one this model can
        step. The checker calls it on every operation first and names the operation in the
        error; the default accepts everything."""
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _fmt(value: Any) -> str:
    if value is None:
        return "nil"
    if value is UNKNOWN:
        return "?"
    text = str(value)
    return text if len(text) <= 12 else text[:5] + "…" + text[-5:]


class RegisterModel(Model):
    """A read/write register that starts absent (``None``).

    Parameters
    ----------
    initial : hashable, optional
        The initial value (default ``None``, absent).

    Examples
    --------
    >>> m = RegisterModel()
    >>> m.step(m.init(), RegisterInput("write", 3), None)
    (True, 3)
    >>> m.step(3, RegisterInput("read"), 4)
    (False, 3)
    """

    name = "register"
    _ops: frozenset[str] = frozenset({"read", "write"})

    def __init__(self, initial: Hashable = None) -> None:
        self.initial = initial

    def init(self) -> Hashable:
        return self.initial

    def step(self, state: Any, input: Any, output: Any) -> tuple[bool, Any]:
        op = input[0]
        if op == "read":
            return (output is UNKNOWN or output == state), state
        if op == "write":
            return True, input[1]
        if op == "cas" and "cas" in self._ops:
            if output is UNKNOWN:
                # Either it swapped (possible only if the value matched) or it observed another
                # value: the deterministic reading is "swap iff it could".
                return True, (input[1] if state == input[2] else state)
            if output:
                return state == input[2], input[1]
            return state != input[2], state
        raise ValueError(
            f"`input.op` must be one of {sorted(self._ops)} for the {self.name} model; got {op!r}."
        )

    def validate(self, input: Any, output: Any) -> None:
        forms = {"read": 'RegisterInput("read")', "write": 'RegisterInput("write", value)',
                 "cas": 'RegisterInput("cas", value, expected)'}
        allowed = " or ".join(forms[o] for o in ("read", "write", "cas") if o in self._ops)
        if not isinstance(input, tuple) or not input:
            raise TypeError(f"`input` must be {allowed} for the {self.name} model; got {input!r}.")
        op = input[0]
        if op not in self._ops:
            raise ValueError(
                f"`input.op` must be one of {sorted(self._ops)} for the {self.name} model; got {op!r}."
            )
        need = {"read": 1, "write": 2, "cas": 3}[op]
        if len(input) < need:
            raise ValueError(f"a {op} needs the input {forms[op]}; got {input!r}.")

    def describe(self, input: Any, output: Any) -> str:
        op = input[0]
        if op == "read":
            return f"r→{_fmt(output)}"
        if op == "write":
            return f"w({_fmt(input[1])})"
        status = "?" if output is UNKNOWN else ("ok" if output else "fail")
        return f"cas({_fmt(input[2])}→{_fmt(input[1])}):{status}"

    def is_read_only(self, input: Any, output: Any) -> bool:
        op = input[0]
        return op == "read" or (op == "cas" and output is not UNKNOWN and not output)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(initial={self.initial!r})"


class CASRegisterModel(RegisterModel):
    """A register with read, write and compare-and-set.

    A ``cas`` whose output is ``False`` *happened* and observed a value other than ``expected``;
    one with output ``True`` changed ``expected`` into ``value``; one with an unknown outcome
    swaps if and only if the value matched.

    Examples
    --------
    >>> m = CASRegisterModel()
    >>> m.step(1, RegisterInput("cas", 2, expected=1), True)
    (True, 2)
    >>> m.step(1, RegisterInput("cas", 2, expected=1), False)
    (False, 1)
    """

    name = "cas-register"
    _ops = frozenset({"read", "write", "cas"})


class KVModel(Model):
    """A key-value store with ``get``, ``put`` and ``append``, partitioned by key.

    The state of one partition is the value of its key (``None`` while absent), so the checker
    must partition (it always calls :meth:`partition`).

    Parameters
    ----------
    absent : hashable, optional
        The value a ``get`` of an absent key returns (default ``None``). Porcupine's kv histories
        use ``""``; their loader converts ``""`` to ``None`` instead, so the default fits them.

    Examples
    --------
    >>> m = KVModel()
    >>> ok, s = m.step(m.init(), KVInput("append", "k", "ab"), None)
    >>> m.step(s, KVInput("get", "k"), "ab")
    (True, 'ab')
    """

    name = "kv"

    def __init__(self, absent: Hashable = None) -> None:
        self.absent = absent

    def init(self) -> Hashable:
        return self.absent

    def step(self, state: Any, input: Any, output: Any) -> tuple[bool, Any]:
        op = input[0]
        if op == "get":
            return (output is UNKNOWN or output == state), state
        if op == "put":
            return True, input[2]
        if op == "append":
            if state is None:
                return True, input[2]
            try:
                return True, state + input[2]
            except TypeError:
                raise TypeError(
                    f"append({input[1]!r}, {input[2]!r}) concatenates the appended value to the "
                    f"key's value, so both must be strings (or support +); the value is {state!r} "
                    f"({type(state).__name__}) and the appended one {type(input[2]).__name__}."
                ) from None
        raise ValueError(f"`input.op` must be one of ['append', 'get', 'put']; got {op!r}.")

    def validate(self, input: Any, output: Any) -> None:
        form = 'KVInput("get", key) or KVInput("put" | "append", key, value)'
        if not isinstance(input, tuple) or not input:
            raise TypeError(f"`input` must be {form}; got {input!r}.")
        op = input[0]
        if op not in ("get", "put", "append"):
            raise ValueError(f"`input.op` must be one of ['append', 'get', 'put']; got {op!r}.")
        if len(input) < (2 if op == "get" else 3):
            raise ValueError(f"a {op} needs the input {form}; got {input!r}.")
        try:
            hash(input[1])
        except TypeError:
            raise TypeError(f"`input.key` must be hashable; got {input[1]!r}.") from None

    def partition(self, history: Sequence[Operation]) -> list[list[Operation]]:
        parts: dict[Any, list[Operation]] = {}
        for op in history:
            parts.setdefault(op.input[1], []).append(op)
        return list(parts.values())

    def partition_label(self, part: Sequence[Operation]) -> Any:
        return part[0].input[1] if part else None

    def describe(self, input: Any, output: Any) -> str:
        op, key, value = input[0], input[1], input[2]
        if op == "get":
            return f"get({_fmt(key)})→{_fmt(output)}"
        return f"{op}({_fmt(key)},{_fmt(value)})"

    def is_read_only(self, input: Any, output: Any) -> bool:
        return input[0] == "get"

    def __repr__(self) -> str:
        return f"KVModel(absent={self.absent!r})"


class NondeterministicModel(Model):
    """Adapter turning a nondeterministic specification into a deterministic :class:`Model`.

    The wrapped ``step`` returns the *set* of possible next states (empty = illegal). The adapter
    runs the powerset construction: its state is the frozenset of states the object could be in.

    Parameters
    ----------
    init : callable
        ``init() -> iterable of hashable states``.
    step : callable
        ``step(state, input, output) -> iterable of next states`` (empty if illegal).
    partition : callable, optional
        As :meth:`Model.partition`.
    describe : callable, optional
        As :meth:`Model.describe`.
    name : str
        A short name.

    Examples
    --------
    A register whose write may be lost:

    >>> lossy = NondeterministicModel(
    ...     init=lambda: [None],
    ...     step=lambda s, i, o: {s, i[1]} if i[0] == "write" else ({s} if o == s else set()),
    ... )
    >>> ok, st = lossy.step(lossy.init(), RegisterInput("write", 1), None)
    >>> sorted(st, key=repr)
    [1, None]
    """

    def __init__(
        self,
        init: Callable[[], Iterable[Hashable]],
        step: Callable[[Any, Any, Any], Iterable[Hashable]],
        partition: Callable[[Sequence[Operation]], list[list[Operation]]] | None = None,
        describe: Callable[[Any, Any], str] | None = None,
        name: str = "nondeterministic",
    ) -> None:
        self._init = init
        self._step = step
        self._partition = partition
        self._describe = describe
        self.name = name

    def init(self) -> Hashable:
        return frozenset(self._init())

    def step(self, state: Any, input: Any, output: Any) -> tuple[bool, Any]:
        nxt: set[Hashable] = set()
        for s in state:
            nxt.update(self._step(s, input, output))
        return bool(nxt), frozenset(nxt)

    def partition(self, history: Sequence[Operation]) -> list[list[Operation]]:
        if self._partition is None:
            return [list(history)]
        return self._partition(history)

    def describe(self, input: Any, output: Any) -> str:
        if self._describe is None:
            return super().describe(input, output)
        return self._describe(input, output)


_BUILTIN: dict[str, Callable[[], Model]] = {
    "register": RegisterModel,
    "cas-register": CASRegisterModel,
    "kv": KVModel,
}


def get_model(model: str | Model) -> Model:
    """Resolve a model name (``"kv"``, ``"register"``, ``"cas-register"``) or pass a model through.

    Raises
    ------
    ValueError
        For an unknown name.
    TypeError
        For something that is neither a name nor a model object.
    """
    if isinstance(model, str):
        if model not in _BUILTIN:
            raise ValueError(f"`model` must be one of {sorted(_BUILTIN)} or a Model; got {model!r}.")
        return _BUILTIN[model]()
    if not (callable(getattr(model, "init", None)) and callable(getattr(model, "step", None))):
        raise TypeError(
            "`model` must be a model name or an object with init() and step(); "
            f"got {model!r} ({type(model).__name__})."
        )
    return model

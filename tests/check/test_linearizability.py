"""Hand-made histories for the linearizability checker (register, CAS register, kv).

Reference: Herlihy & Wing (1990), §3 — a history is linearizable iff its operations can be
ordered consistently with real time (a.ret < b.call keeps a before b) so that the sequential
model produces every recorded output.
"""

from __future__ import annotations

import math

import pytest

from consensuslab.check import (
    UNKNOWN,
    KVInput,
    KVModel,
    Model,
    NondeterministicModel,
    Operation,
    RegisterInput,
    check_linearizable,
    history_frame,
    linearization_points,
)

R = RegisterInput
K = KVInput


def op(client, call, ret, input, output=None):
    return Operation(client, call, ret, input, output)


def w(c, call, ret, v):
    return op(c, call, ret, R("write", v))


def r(c, call, ret, v):
    return op(c, call, ret, R("read"), v)


def cas(c, call, ret, expected, new, ok):
    return op(c, call, ret, R("cas", new, expected), ok)


def assert_valid_linearization(result, model):
    """The linearization respects real time, holds every known op and replays legally."""
    seq = result.linearization
    assert seq is not None
    known = [o for o in result.history if o.ret is not None]
    assert {id(o) for o in known} <= {id(o) for o in seq}
    for a_idx, a in enumerate(seq):
        for b in seq[a_idx + 1 :]:
            assert not (b.ret is not None and b.ret < a.call), (a, b)
    state = model.init()
    if isinstance(model, KVModel):  # KV linearizations interleave keys: replay each separately
        states = {}
        for o in seq:
            key = o.input.key
            ok, states[key] = model.step(states.get(key, model.init()), o.input,
                                         UNKNOWN if o.ret is None else o.output)
            assert ok, o
    else:
        for o in seq:
            ok, state = model.step(state, o.input, UNKNOWN if o.ret is None else o.output)
            assert ok, o


# --- register ---------------------------------------------------------------------------


def test_sequential_write_then_read_is_linearizable():
    h = [w(0, 0, 1, 1), r(1, 2, 3, 1)]
    res = check_linearizable(h, "register")
    assert res.ok is True and bool(res)
    assert [o.client for o in res.linearization] == [0, 1]
    assert_valid_linearization(res, res.model)


def test_stale_read_after_completed_write_is_not_linearizable():
    h = [w(0, 0, 1, 1), r(1, 2, 3, None)]
    res = check_linearizable(h, "register")
    assert res.ok is False and not bool(res)
    assert res.prefix == [h[0]]
    assert res.unplaceable == [h[1]]
    assert res.failing_time == 3


def test_concurrent_read_may_see_old_or_new_value():
    for seen in (None, 1):
        h = [w(0, 0, 10, 1), r(1, 1, 2, seen)]
        assert check_linearizable(h, "register").ok is True


def test_new_old_inversion_is_not_linearizable():
    # r1 saw the new value and finished before r2 started; r2 cannot see the old one.
    h = [w(0, 0, 10, 1), r(1, 1, 2, 1), r(2, 3, 4, None)]
    res = check_linearizable(h, "register")
    assert res.ok is False
    assert "not linearizable" in res.explain()


def test_touching_intervals_are_concurrent():
    # a.ret == b.call: the two may be ordered either way (Porcupine's convention).
    h = [r(0, 0, 1, 5), w(1, 1, 2, 5)]
    assert check_linearizable(h, "register").ok is True
    h = [r(0, 0, 0.999, 5), w(1, 1, 2, 5)]
    assert check_linearizable(h, "register").ok is False


def test_read_of_a_value_never_written_is_not_linearizable():
    h = [w(0, 0, 2, 1), r(1, 1, 3, 2)]
    assert check_linearizable(h, "register").ok is False


def test_empty_history_is_linearizable():
    res = check_linearizable([], "register")
    assert res.ok is True and res.linearization == []


def test_register_model_rejects_cas():
    with pytest.raises(ValueError, match="input.op"):
        check_linearizable([cas(0, 0, 1, None, 1, True)], "register")


# --- compare-and-set register -------------------------------------------------------------


def test_two_successful_cas_from_the_same_value_are_not_linearizable():
    h = [cas(0, 0, 1, None, 1, True), cas(1, 2, 3, None, 2, True)]
    assert check_linearizable(h, "cas-register").ok is False


def test_concurrent_cas_race_one_wins_one_fails():
    h = [w(0, 0, 1, 0), cas(1, 2, 5, 0, 1, True), cas(2, 2, 5, 0, 2, False), r(3, 6, 7, 1)]
    res = check_linearizable(h, "cas-register")
    assert res.ok is True
    assert_valid_linearization(res, res.model)


def test_failed_cas_observed_another_value():
    # The register holds 0 and the cas(0->1) fails: it must have observed a value other than 0.
    h = [w(0, 0, 1, 0), cas(1, 2, 3, 0, 1, False)]
    assert check_linearizable(h, "cas-register").ok is False
    h = [w(0, 0, 1, 7), cas(1, 2, 3, 0, 1, False), r(2, 4, 5, 7)]
    assert check_linearizable(h, "cas-register").ok is True


# --- unknown outcomes ---------------------------------------------------------------------


def test_unknown_write_may_take_effect_later():
    h = [w(0, 0, None, 1), r(1, 5, 6, None), r(2, 7, 8, 1)]
    res = check_linearizable(h, "register")
    assert res.ok is True
    assert_valid_linearization(res, res.model)


def test_unknown_write_may_never_take_effect():
    h = [w(0, 0, None, 1), r(1, 5, 6, None), r(2, 7, 8, None)]
    res = check_linearizable(h, "register")
    assert res.ok is True
    assert h[0] not in res.linearization


def test_unknown_write_cannot_take_effect_before_its_call():
    h = [r(1, 0, 1, 1), w(0, 2, None, 1)]
    assert check_linearizable(h, "register").ok is False


def test_unknown_write_cannot_take_effect_twice():
    # 1 is read, then 2 is written and read, then 1 again: the single lost write can't redo it.
    h = [w(0, 0, None, 1), r(1, 1, 2, 1), w(2, 3, 4, 2), r(3, 5, 6, 2), r(4, 7, 8, 1)]
    assert check_linearizable(h, "register").ok is False


def test_unknown_cas_may_or_may_not_swap():
    base = [w(0, 0, 1, 0), cas(1, 2, None, 0, 1, None)]
    assert check_linearizable(base + [r(2, 5, 6, 1)], "cas-register").ok is True
    assert check_linearizable(base + [r(2, 5, 6, 0)], "cas-register").ok is True
    assert check_linearizable(base + [r(2, 5, 6, 9)], "cas-register").ok is False


def test_unknown_read_constrains_nothing():
    h = [w(0, 0, 1, 1), op(1, 2, None, R("read"), 42)]
    assert check_linearizable(h, "register").ok is True


# --- key-value --------------------------------------------------------------------------


def test_kv_put_get_append():
    h = [
        op(0, 0, 1, K("put", "a", "x")),
        op(1, 2, 3, K("append", "a", "y")),
        op(2, 4, 5, K("get", "a"), "xy"),
        op(3, 0, 5, K("get", "b"), None),
    ]
    res = check_linearizable(h, "kv")
    assert res.ok is True
    assert len(res.partitions) == 2
    assert_valid_linearization(res, res.model)


def test_kv_get_absent_key_returns_none():
    h = [op(0, 0, 1, K("get", "k"), None)]
    assert check_linearizable(h, "kv").ok is True
    h = [op(0, 0, 1, K("get", "k"), "")]
    assert check_linearizable(h, "kv").ok is False


def test_kv_append_order_must_match_real_time():
    h = [
        op(0, 0, 1, K("append", "k", "a")),
        op(1, 2, 3, K("append", "k", "b")),
        op(2, 4, 5, K("get", "k"), "ba"),
    ]
    res = check_linearizable(h, "kv")
    assert res.ok is False
    assert res.failing_partition == "k"


def test_kv_stops_at_first_illegal_partition():
    good = [op(0, 10 * k, 10 * k + 1, K("put", f"g{k}", k)) for k in range(5)]
    bad = [op(1, 0, 1, K("put", "b", 1)), op(2, 2, 3, K("get", "b"), 2)]
    res = check_linearizable(good + bad, "kv")
    assert res.ok is False
    assert res.partitions[-1].ok is False and res.partitions[-1].label == "b"
    # Parts are checked smallest first, so the failing two-op part may come after the one-op ones.
    assert all(p.ok for p in res.partitions[:-1])


def test_kv_linearization_merges_partitions_in_real_time_order():
    h = [
        op(0, 0, 1, K("put", "a", 1)),
        op(1, 2, 3, K("put", "b", 2)),
        op(0, 4, 5, K("get", "b"), 2),
        op(1, 6, 7, K("get", "a"), 1),
    ]
    res = check_linearizable(h, "kv")
    assert res.ok is True
    assert res.linearization == h
    assert linearization_points(res.linearization) == [0, 2, 4, 6]


# --- timeouts, models, validation ---------------------------------------------------------


def _hard_history(n: int = 12):
    # n concurrent writes of distinct values, then a read of a value nobody wrote: proving
    # non-linearizability visits every (subset, last value) pair.
    writes = [w(k, 0, 1, k) for k in range(n)]
    return writes + [r(n, 2, 3, 99)]


def test_timeout_gives_unknown():
    # rules=False: the rules refute this history without search (next tests)
    res = check_linearizable(_hard_history(), "register", timeout=1e-9, rules=False)
    assert res.ok is None
    assert not bool(res)
    assert "undecided" in res.explain() and "timeout" in res.explain()


def test_without_timeout_the_hard_history_is_decided():
    res = check_linearizable(_hard_history(), "register", rules=False)
    assert res.ok is False
    assert res.partitions[0].states > 2048


def test_the_hard_history_is_refuted_by_a_rule_without_search():
    res = check_linearizable(_hard_history(), "register")
    assert res.ok is False and "[rule R2]" in res.reason and "99" in res.reason
    assert res.unplaceable == [_hard_history()[-1]] and res.failing_time == 3
    assert len(res.prefix) == 12  # all the writes: the longest linearizable prefix
    assert "not linearizable" in res.explain() and "R2" in res.explain()


class Counter(Model):
    """A user-defined model: increments and reads of a counter."""

    name = "counter"

    def init(self):
        return 0

    def step(self, state, input, output):
        if input == "inc":
            return True, state + 1
        return (output is UNKNOWN or output == state), state


def test_user_defined_model():
    h = [op(0, 0, 5, "inc"), op(1, 0, 5, "inc"), op(2, 1, 2, "read", 1), op(2, 6, 7, "read", 2)]
    assert check_linearizable(h, Counter()).ok is True
    h[-1] = op(2, 6, 7, "read", 1)
    assert check_linearizable(h, Counter()).ok is False


def test_nondeterministic_model_adapter():
    # A register whose writes may be silently lost.
    lossy = NondeterministicModel(
        init=lambda: [None],
        step=lambda s, i, o: {s, i.value} if i.op == "write" else ({s} if o == s else set()),
        name="lossy",
    )
    h = [w(0, 0, 1, 1), r(1, 2, 3, None)]
    assert check_linearizable(h, lossy).ok is True
    assert check_linearizable(h, "register").ok is False
    h = [w(0, 0, 1, 1), r(1, 2, 3, 2)]
    assert check_linearizable(h, lossy).ok is False


@pytest.mark.parametrize(
    ("history", "model", "timeout", "exc", "match"),
    [
        ("abc", "kv", None, TypeError, "history"),
        ([1, 2], "kv", None, TypeError, r"history\[0\]"),
        ([Operation(0, 2, 1, K("get", "k"))], "kv", None, ValueError, r"\.ret` must be >="),
        ([Operation(0, math.nan, 1, K("get", "k"))], "kv", None, ValueError, "call"),
        ([], "queue", None, ValueError, "`model` must be one of"),
        ([], 3, None, TypeError, "`model`"),
        ([], "kv", 0, ValueError, "`timeout`"),
        ([], "kv", "1", TypeError, "`timeout`"),
    ],
)
def test_bad_arguments_raise_clear_errors(history, model, timeout, exc, match):
    with pytest.raises(exc, match=match):
        check_linearizable(history, model, timeout=timeout)


def test_operation_is_frozen():
    o = w(0, 0, 1, 1)
    with pytest.raises(AttributeError):
        o.ret = 3  # type: ignore[misc]
    assert o.unknown is False and w(0, 0, None, 1).unknown is True


def test_history_frame_marks_linearization_and_failure():
    h = [w(0, 0, 1, 1), r(1, 2, 3, None), w(2, 0, None, 5)]
    res = check_linearizable(h, "register")
    f = history_frame(h, result=res)
    assert list(f.columns) == ["client", "call", "ret", "unknown", "label", "order", "point", "unplaceable"]
    assert f["order"].tolist()[0] == 0
    assert f["unplaceable"].tolist() == [False, True, False]
    assert bool(f["unknown"].iloc[2]) and math.isnan(f["ret"].iloc[2])
    assert f["label"].iloc[0] == "w(1)"


def test_identical_writes_with_crossed_intervals_are_not_interchangeable():
    # Two writes of 1: a=[0,10] and b=[1,2]. a must land after w(0) for the last read, b before.
    # Only twins whose intervals are nested the same way may be swapped (a regression test of
    # the twin reduction).
    h = [w(0, 0, 10, 1), w(1, 1, 2, 1), w(2, 3, 4, 0), r(3, 9, 9.5, 1)]
    res = check_linearizable(h, "register")
    assert res.ok is True
    assert [o.client for o in res.linearization] == [1, 2, 0, 3]


def test_identical_unknown_writes_are_interchangeable():
    # Many lost writes of the same value: only the earliest pending one is tried, yet a later one
    # is still usable when the earlier was needed before.
    h = [w(k, k, None, 1) for k in range(10)] + [r(10, 20, 21, 1), w(11, 22, 23, 0), r(12, 24, 25, 1)]
    res = check_linearizable(h, "register")
    assert res.ok is True
    assert_valid_linearization(res, res.model)
    # Known operations are tried first, so only the two lost writes that are needed appear.
    assert sum(o.input.op == "write" and o.ret is None for o in res.linearization) == 2


def test_failure_context_keeps_the_unplaceable_operations():
    h = [w(0, 2 * k, 2 * k + 1, k) for k in range(10)] + [r(1, 30, 31, 3)]
    res = check_linearizable(h, "register")
    assert res.ok is False
    ctx = res.failure_context(max_ops=4)
    assert len(ctx) == 4 and h[-1] in ctx
    assert ctx == sorted(ctx, key=lambda o: o.call)
    assert check_linearizable(h[:3], "register").failure_context() == []
    with pytest.raises(ValueError, match="max_ops"):
        res.failure_context(0)


# --- inputs the model cannot interpret get errors that name the operation (issue 15, item 5) --

from consensuslab.check import HistoryError  # noqa: E402


@pytest.mark.parametrize(
    ("inp", "model", "match"),
    [
        # was: TypeError: 'NoneType' object is not subscriptable
        (None, "kv", r"`history\[1\]` = Operation\(client=1.*input=None.*`input` must be KVInput\(\"get\", key\)"),
        # was: IndexError: tuple index out of range
        (("get",), "kv", r"`history\[1\]` = Operation\(.*\('get',\).*a get needs the input KVInput"),
        (("put", "k"), "kv", r"a put needs the input KVInput"),
        (("delete", "k"), "kv", r"`input.op` must be one of \['append', 'get', 'put'\]; got 'delete'"),
        (None, "register", r"`history\[1\]`.*`input` must be RegisterInput\(\"read\"\) or RegisterInput\(\"write\", value\)"),
        (("write",), "cas-register", r"a write needs the input RegisterInput\(\"write\", value\)"),
        (("cas", 1), "cas-register", r"a cas needs the input RegisterInput\(\"cas\", value, expected\)"),
    ],
)
def test_malformed_inputs_name_the_operation_and_the_expected_form(inp, model, match):
    first = op(0, 0, 1, K("get", "k")) if model == "kv" else r(0, 0, 1, None)
    h = [first, Operation(1, 2, 3, inp, None)]
    with pytest.raises(HistoryError, match=match) as info:
        check_linearizable(h, model)
    assert isinstance(info.value, ValueError) and isinstance(info.value, TypeError)


def test_append_to_a_non_string_value_is_a_clear_error():
    # was: TypeError: unsupported operand type(s) for +: 'int' and 'str', from inside the model
    h = [op(0, 0, 1, K("put", "k", 1)), op(1, 2, 3, K("append", "k", "x")), op(2, 4, 5, K("get", "k"), "1x")]
    with pytest.raises(HistoryError, match=r"append\('k', 'x'\).*strings.*the value is 1 \(int\)") as info:
        check_linearizable(h, "kv")
    assert "Operation(client=1" in str(info.value)  # the operation being linearized
    with pytest.raises(HistoryError, match="strings"):
        check_linearizable(h, "kv", rules=False)


def test_model_validate_is_optional_for_user_models():
    assert Counter().validate("inc", None) is None  # the base class accepts everything


# --- bounded resources (issue 19) --------------------------------------------------------------

import time as _time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor  # noqa: E402


def _stuck_history(n: int = 16):
    # n concurrent known writes of distinct values, a read of 0, a write of 99, a read of 1: not
    # linearizable (1 was written before 99), but no rule sees it (1 was written, by a known
    # write), so the search has to visit every (subset of writes, last value) pair to refute it.
    writes = [w(k, 0, 1, k) for k in range(n)]
    return writes + [r(n, 2, 3, 0), w(n + 1, 4, 5, 99), r(n + 2, 6, 7, 1)]


def test_timeout_is_honoured_promptly():
    t = _time.perf_counter()
    res = check_linearizable(_stuck_history(22), "register", timeout=0.3)
    took = _time.perf_counter() - t
    assert res.ok is None and "timeout" in res.reason
    assert 0.27 <= took < 0.3 + 0.15  # generous for a loaded CI machine; the benchmark is tighter


def test_state_budget_gives_undecided_with_progress_and_hotspots():
    res = check_linearizable(_stuck_history(22), "register", max_states=5_000)
    assert res.ok is None and "max_states=5000" in res.reason
    assert 5_000 <= res.states <= 5_000 + 256  # checked every 256 model steps
    assert res.prefix and res.hotspots and all(n > 0 for _, n in res.hotspots)
    assert {op.input.op for op, _ in res.hotspots} == {"write"}  # the writes made it large
    text = res.explain()
    assert text.startswith("undecided") and "largest around" in text


def test_memory_budget_gives_undecided():
    res = check_linearizable(_stuck_history(22), "register", max_memory=1e6)
    assert res.ok is None and "memory budget" in res.reason and res.states < 20_000


def test_default_budget_is_bounded():
    from consensuslab.check.linearizability import DEFAULT_MAX_MEMORY

    assert DEFAULT_MAX_MEMORY <= 2**30


@pytest.mark.parametrize(
    ("name", "value", "exc"),
    [("max_states", 0, ValueError), ("max_states", 1.5, TypeError), ("max_memory", 0, ValueError),
     ("rules", "yes", TypeError), ("executor", 3, TypeError)],
)
def test_budget_arguments_are_validated(name, value, exc):
    with pytest.raises(exc, match=f"`{name}`"):
        check_linearizable([], "kv", **{name: value})


def _many_keys(bad: bool):
    h = []
    for k in range(6):
        key = f"k{k}"
        h += [op(k, 0, 1, K("put", key, f"{k};")), op(10 + k, 2, 3, K("get", key), f"{k};")]
    if bad:
        h.append(op(99, 4, 5, K("get", "k3"), None))  # a stale read on one key
    return h


@pytest.mark.parametrize("bad", [False, True])
def test_parts_checked_on_an_executor_give_the_same_verdict(bad):
    h = _many_keys(bad)
    plain = check_linearizable(h, "kv")
    with ThreadPoolExecutor(2) as pool:
        par = check_linearizable(h, "kv", executor=pool)
    assert par.ok is plain.ok is (not bad)
    if bad:
        assert par.failing_partition == "k3" and par.unplaceable
    else:
        assert len(par.partitions) == 6 and par.linearization == plain.linearization


def test_parts_on_a_process_pool():
    h = _many_keys(False)
    with ProcessPoolExecutor(2) as pool:
        res = check_linearizable(h, "kv", executor=pool)
    assert res.ok is True and len(res.linearization) == len(h)

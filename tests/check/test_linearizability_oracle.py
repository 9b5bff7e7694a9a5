"""Property tests: the optimized checker against a brute-force oracle over all permutations.

The oracle (``lin_oracle.oracle_permutations``) enumerates every subset of the unknown-outcome
operations (each may have taken effect or not) and every order of the chosen operations, and
accepts if one order respects real time (``a.ret < b.call`` keeps ``a`` first; unknown returns
are +infinity) and replays legally on the model. Reference: Herlihy & Wing (1990), §3; unknown
outcomes as in Jepsen's ``:info``.
"""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lin_oracle import oracle_dfs, oracle_permutations, replay_ok

from consensuslab.check import (
    UNKNOWN,
    CASRegisterModel,
    KVInput,
    KVModel,
    Operation,
    RegisterInput,
    RegisterModel,
    check_linearizable,
)


oracle = oracle_permutations


VALUES = st.sampled_from([None, 0, 1])


@st.composite
def register_op(draw, cas: bool):
    kinds = ["read", "write", "cas"] if cas else ["read", "write"]
    kind = draw(st.sampled_from(kinds))
    if kind == "read":
        return RegisterInput("read"), draw(VALUES)
    if kind == "write":
        return RegisterInput("write", draw(st.sampled_from([0, 1]))), None
    return RegisterInput("cas", draw(st.sampled_from([0, 1])), draw(VALUES)), draw(st.booleans())


@st.composite
def kv_op(draw):
    kind = draw(st.sampled_from(["get", "put", "append"]))
    key = draw(st.sampled_from(["a", "b"]))
    if kind == "get":
        return KVInput("get", key), draw(st.sampled_from([None, "x", "y", "xy", "yx"]))
    return KVInput(kind, key, draw(st.sampled_from(["x", "y"]))), None


@st.composite
def history(draw, op_strategy, model, max_ops: int = 6):
    """Random intervals; outputs either random or produced by a sequential run (then maybe
    perturbed), so both verdicts are common."""
    n = draw(st.integers(1, max_ops))
    ops = []
    for c in range(n):
        call = draw(st.integers(0, 8))
        ret = None if draw(st.integers(0, 5)) == 0 else call + draw(st.integers(0, 4))
        inp, out = draw(op_strategy)
        ops.append([c, call, ret, inp, out])
    if draw(st.booleans()):
        # Outputs from a sequential execution at random points inside the intervals.
        points = [(o[1] + draw(st.floats(0, 1)) * ((o[2] if o[2] is not None else o[1] + 4) - o[1]), k)
                  for k, o in enumerate(ops)]
        states: dict = {}
        for _, k in sorted(points):
            inp = ops[k][3]
            part = inp.key if isinstance(model, KVModel) else None
            s = states.get(part, model.init())
            if inp.op in ("read", "get"):
                ops[k][4] = s
            elif inp.op == "cas":
                ops[k][4] = s == inp.expected
            _, states[part] = model.step(s, inp, ops[k][4])
        if draw(st.booleans()):
            k = draw(st.integers(0, n - 1))
            ops[k][4] = draw(op_strategy)[1] if ops[k][3].op in ("read", "get", "cas") else ops[k][4]
    return [Operation(*o) for o in ops]


SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(history(register_op(cas=False), RegisterModel()))
def test_register_matches_oracle(h):
    model = RegisterModel()
    res = check_linearizable(h, model)
    assert res.ok is oracle(h, model)
    if res.ok:
        assert replay_ok(res, model)


@SETTINGS
@given(history(register_op(cas=True), CASRegisterModel()))
def test_cas_register_matches_oracle(h):
    model = CASRegisterModel()
    res = check_linearizable(h, model)
    assert res.ok is oracle(h, model)
    if res.ok:
        assert replay_ok(res, model)


@SETTINGS
@given(history(kv_op(), KVModel()))
def test_kv_matches_oracle(h):
    model = KVModel()
    res = check_linearizable(h, model)
    assert res.ok is oracle(h, model)
    if res.ok:
        assert replay_ok(res, model)
    else:
        # The reported prefix replays legally and respects real time among its members.
        states: dict = {}
        for o in res.prefix:
            legal, states[o.input.key] = model.step(
                states.get(o.input.key, model.init()), o.input, UNKNOWN if o.ret is None else o.output
            )
            assert legal
        assert res.unplaceable


@SETTINGS
@given(history(register_op(cas=True), CASRegisterModel(), max_ops=5))
def test_plain_search_without_reductions_matches_oracle(h):
    # The benchmark's baseline (plain Wing & Gong + Lowe memo) must agree too.
    from consensuslab.check.linearizability import _check_part

    model = CASRegisterModel()
    assert _check_part(h, model, math.inf, reductions=False).ok is oracle(h, model)


@SETTINGS
@given(history(kv_op(), KVModel(), max_ops=6))
def test_dfs_oracle_matches_the_permutation_oracle(h):
    # the faster oracle used on larger histories is itself checked against the definition
    truth = oracle_permutations(h, KVModel())
    assert oracle_dfs(h, KVModel()) is truth
    assert oracle_dfs(h, KVModel(), memo=True) is truth

"""The pruning rules never change a verdict (issue 19): rules on == rules off == brute force.

Each rule of :mod:`consensuslab.check.rules` states its proof in that module's docstring; here
Hypothesis draws small histories built to make the rules fire (unique append tokens and write
values, many unknown outcomes, reads taken from a sequential run or perturbed, plus duplicate
and overlapping tokens so the fallbacks run too) and checks that the checker with the rules, the
checker without them and an exhaustive oracle (``lin_oracle.oracle_dfs``: every order that
respects real time, no memo, no reductions) agree. A second group of tests shows each rule fires
on the generated histories (so the property tests cannot pass vacuously) and pins each rule's
behaviour on a hand-made history.

Reference: Herlihy & Wing (1990), §3 (definition); unknown outcomes as Jepsen's ``:info``.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lin_oracle import oracle_dfs, prefix_ok, replay_ok

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
from consensuslab.check.rules import plan

K = KVInput
R = RegisterInput

TOKENS = ["a;", "b;", "c;", "d;", "e;", "f;", "g;", "h;", "i;", "j;"]
TRICKY = ["x", "xx", "a;", "ab", "b"]  # duplicates and tokens made of other tokens


@st.composite
def intervals(draw, n, p_unknown=0.35):
    out = []
    for _ in range(n):
        call = draw(st.integers(0, 10))
        unknown = draw(st.floats(0, 1)) < p_unknown
        out.append((call, None if unknown else call + draw(st.integers(0, 5))))
    return out


def _sequential_outputs(draw, ops, model, part_of):
    """Fill read outputs from a sequential run at random points inside the intervals."""
    points = []
    for k, (c, call, ret, inp, out) in enumerate(ops):
        hi = ret if ret is not None else call + 6
        points.append((call + draw(st.floats(0, 1)) * (hi - call), k))
    states: dict = {}
    skip = set()
    for _, k in sorted(points):
        c, call, ret, inp, out = ops[k]
        if ret is None and inp[0] in ("put", "append", "write", "cas") and draw(st.booleans()):
            skip.add(k)  # this unknown write never took effect
            continue
        part = part_of(inp)
        s = states.get(part, model.init())
        if inp[0] in ("get", "read"):
            ops[k][4] = s
        elif inp[0] == "cas" and ret is not None:
            ops[k][4] = s == inp[2]
        _, states[part] = model.step(s, inp, UNKNOWN if ret is None else ops[k][4])


@st.composite
def kv_history(draw, max_ops=7, focus=False):
    """Random kv histories; ``focus=True``: one key, a put or two, appends and at least two gets
    whose values are made of the key's own values (the reads that make rule K5 fire)."""
    if focus:
        kinds = ["put"] * draw(st.integers(1, 2)) + ["append"] * draw(st.integers(1, 3))
        kinds += ["get"] * draw(st.integers(2, 3))
        kinds = draw(st.permutations(kinds))
        n = len(kinds)
        keys = ["k"]
        tricky = False
    else:
        n = draw(st.integers(1, max_ops))
        kinds = [draw(st.sampled_from(["get", "get", "append", "append", "put"])) for _ in range(n)]
        keys = draw(st.sampled_from([["k"], ["k", "l"]]))
        tricky = draw(st.integers(0, 4)) == 0
    pool = iter(TOKENS)
    ops = []
    for c, (call, ret) in enumerate(draw(intervals(n))):
        kind = kinds[c]
        if focus and kind == "get":  # reads come after the writes were invoked
            call, ret = call + 5, (None if ret is None else ret + 5)
        key = draw(st.sampled_from(keys))
        if kind == "get":
            ops.append([c, call, ret, K("get", key), None])
        else:
            value = draw(st.sampled_from(TRICKY)) if tricky else next(pool)
            ops.append([c, call, ret, K(kind, key, value), None])
    if not focus and draw(st.integers(0, 3)) > 0:
        _sequential_outputs(draw, ops, KVModel(), lambda inp: inp.key)
    else:  # reads made of the key's own values in random orders: often contradictory
        for o in ops:
            if o[3].op != "get":
                continue
            key = o[3].key
            puts = [x[3].value for x in ops if x[3].key == key and x[3].op == "put"]
            apps = [x[3].value for x in ops if x[3].key == key and x[3].op == "append"]
            if draw(st.integers(0, 19 if focus else 5)) == 0:
                o[4] = None
                continue
            base = draw(st.sampled_from([""] + puts))
            shortest = 0 if base or not focus else min(1, len(apps))
            tail = draw(st.permutations(apps))[: draw(st.integers(shortest, len(apps)))]
            o[4] = base + "".join(tail) if base or tail else None
    if draw(st.booleans()):  # perturb one read
        gets = [o for o in ops if o[3].op == "get"]
        if gets:
            o = draw(st.sampled_from(gets))
            o[4] = draw(st.sampled_from([None, "a;", "b;a;", "a;b;c;", "c;"]))
    return [Operation(*o) for o in ops]


@st.composite
def register_history(draw, cas: bool = True, max_ops=7):
    n = draw(st.integers(1, max_ops))
    unique = draw(st.integers(0, 3)) > 0
    counter = iter(range(1, 100))
    kinds = ["read", "read", "write", "cas"] if cas else ["read", "read", "write"]
    ops = []
    for c, (call, ret) in enumerate(draw(intervals(n))):
        kind = draw(st.sampled_from(kinds))
        value = next(counter) if unique else draw(st.sampled_from([1, 2]))
        if kind == "read":
            ops.append([c, call, ret, R("read"), None])
        elif kind == "write":
            ops.append([c, call, ret, R("write", value), None])
        else:
            expected = draw(st.sampled_from([None, 1, 2, 3]))
            ops.append([c, call, ret, R("cas", value, expected), draw(st.booleans())])
    model = CASRegisterModel() if cas else RegisterModel()
    if draw(st.integers(0, 3)) > 0:
        _sequential_outputs(draw, ops, model, lambda inp: None)
    if draw(st.booleans()):
        reads = [o for o in ops if o[3].op == "read"]
        if reads:
            draw(st.sampled_from(reads))[4] = draw(st.sampled_from([None, 1, 2, 3, 99]))
    return [Operation(*o) for o in ops]


SETTINGS = settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _agree(h, model):
    on = check_linearizable(h, model)
    off = check_linearizable(h, model, rules=False)
    truth = oracle_dfs(h, model)
    assert truth is not None
    assert on.ok is off.ok is truth, (on.ok, off.ok, truth, on.reason)
    if on.ok:
        assert replay_ok(on, model)
    else:
        part = [o for o in h if on.failing_partition is None or
                getattr(o.input, "key", None) == on.failing_partition]
        assert prefix_ok(on.prefix, model, part), on.prefix
        assert on.unplaceable and on.failing_time is not None
    return on


@SETTINGS
@given(kv_history())
def test_kv_rules_never_change_the_verdict(h):
    _agree(h, KVModel())


@SETTINGS
@given(kv_history(focus=True))
def test_kv_rules_never_change_the_verdict_on_conflicting_reads(h):
    _agree(h, KVModel())


@SETTINGS
@given(register_history(cas=True))
def test_cas_register_rules_never_change_the_verdict(h):
    _agree(h, CASRegisterModel())


@SETTINGS
@given(register_history(cas=False))
def test_register_rules_never_change_the_verdict(h):
    _agree(h, RegisterModel())


# -- the generators make every rule fire (the properties above are not vacuous) --------------


def _fired(h, model):
    p = plan(h, model)
    rules = set(p.fired)
    if p.refuted is not None:
        rules.add(p.refuted.rule)
    return rules


KV_RULES = {"K1", "K2", "K3", "K4", "K5a", "K5b", "K5c", "K5d", "K5e", "K6"}
REGISTER_RULES = {"R1", "R2", "R3"}
COVER = settings(max_examples=1000, database=None, derandomize=True, deadline=None,
                 suppress_health_check=list(HealthCheck))


def test_generated_histories_exercise_every_rule():
    seen: set[str] = set()

    @COVER
    @given(kv_history())
    def kv(h):
        seen.update(_fired(h, KVModel()))

    @COVER
    @given(kv_history(focus=True))
    def conflicting(h):
        seen.update(_fired(h, KVModel()))

    @COVER
    @given(register_history())
    def reg(h):
        seen.update(_fired(h, CASRegisterModel()))

    kv()
    conflicting()
    reg()
    missing = (KV_RULES | REGISTER_RULES) - seen
    assert not missing, f"the generators never made these rules fire: {sorted(missing)}"


# -- each rule on a story ---------------------------------------------------------------------


def op(c, call, ret, inp, out=None):
    return Operation(c, call, ret, inp, out)


def test_k1_drops_unknown_appends_nobody_read():
    h = [op(k, 0, None, K("append", "x", f"{k};")) for k in range(12)] + [op(12, 1, 2, K("get", "x"), "3;7;")]
    p = plan(h, KVModel())
    assert p.drop == set(range(12)) - {3, 7}
    assert p.deadline == {3: 2, 7: 2}  # K3: the two the read saw must precede it
    assert (3, 7) in p.before  # K4: in that order


def test_k1_keeps_a_write_whose_value_is_inside_a_read():
    h = [op(0, 0, None, K("put", "x", "ab")), op(1, 1, 2, K("get", "x"), "zabz")]
    assert 0 not in plan(h, KVModel()).drop


def test_k2_refutes_a_value_no_write_produces():
    h = [op(k, 0, 1, K("put", "x", f"{k};")) for k in range(20)] + [op(20, 2, 3, K("get", "x"), "99;")]
    res = check_linearizable(h, "kv")
    assert res.ok is False and "[rule K2]" in res.reason
    assert res.unplaceable == [h[-1]] and res.failing_time == 3
    assert res.states <= 2_000 + 256  # only the short search for the prefix to show
    assert len(res.prefix) == 20  # the first descent placed every put


def test_k2_refutes_a_read_of_a_write_invoked_after_it_returned():
    h = [op(0, 0, 1, K("get", "x"), "a;"), op(1, 2, 3, K("append", "x", "a;"))]
    res = check_linearizable(h, "kv")
    assert res.ok is False and "invoked only after" in res.reason


def test_k5b_refutes_reads_that_disagree_on_the_order():
    h = [op(0, 0, None, K("append", "x", "a;")), op(1, 0, None, K("append", "x", "b;")),
         op(2, 5, 6, K("get", "x"), "a;b;"), op(3, 5, 6, K("get", "x"), "b;a;")]
    res = check_linearizable(h, "kv")
    assert res.ok is False and "[rule K5b]" in res.reason and set(res.unplaceable) == {h[2], h[3]}
    assert check_linearizable(h, "kv", rules=False).ok is False


def test_k5e_refutes_a_stale_read():
    h = [op(0, 0, 1, K("put", "x", "a;")), op(1, 2, 3, K("put", "x", "b;")), op(2, 4, 5, K("get", "x"), "a;")]
    res = check_linearizable(h, "kv")
    assert res.ok is False and "stale read" in res.reason and h[2] in res.unplaceable


def test_k6_hides_known_writes_nobody_read():
    # Eight concurrent appends, overwritten by a put before anyone reads: their 8! orders give
    # distinct strings, but no read can tell them apart, so the search sees one state.
    apps = [op(k, 0, 10, K("append", "x", f"{k};")) for k in range(8)]
    h = apps + [op(8, 11, 12, K("put", "x", "p;")), op(9, 13, 14, K("get", "x"), "p;")]
    p = plan(h, KVModel())
    assert set(p.inputs) == set(range(8)) and p.fired["K6"] == 8
    assert check_linearizable(h, "kv").ok is check_linearizable(h, "kv", rules=False).ok is True
    # A contradiction no other rule sees (the duplicated "d;" makes the read's decomposition
    # ambiguous): the search must try every order of the eight appends before giving up, unless
    # they are hidden.
    dup = [op(10, 13, 14, K("append", "x", "d;")), op(11, 13, 14, K("append", "x", "d;"))]
    bad = h[:9] + dup + [op(12, 15, 16, K("get", "x"), "p;d;d;d;")]
    on = check_linearizable(bad, "kv")
    off = check_linearizable(bad, "kv", rules=False)
    assert on.ok is off.ok is False and on.reason is None  # refuted by the search
    assert on.states < 50 and off.states > 10_000


def test_duplicate_tokens_fall_back_to_the_search():
    # two appends of "a;": the read's decomposition is not unique, so K3/K4 stay silent
    h = [op(0, 0, None, K("append", "x", "a;")), op(1, 0, None, K("append", "x", "a;")),
         op(2, 3, 4, K("get", "x"), "a;a;")]
    p = plan(h, KVModel())
    assert p.deadline == {} and p.before == [] and p.refuted is None
    assert check_linearizable(h, "kv").ok is True


def test_non_string_values_switch_the_kv_rules_off():
    h = [op(0, 0, 1, K("put", "x", 1)), op(1, 2, 3, K("get", "x"), 1)]
    p = plan(h, KVModel())
    assert p.skipped and "non-string" in p.skipped
    assert check_linearizable(h, "kv").ok is True


def test_subclassed_models_get_no_rules():
    class MyKV(KVModel):
        pass

    assert "no rules" in plan([op(0, 0, 1, K("get", "x"), None)], MyKV()).skipped


def test_r1_keeps_a_write_a_failed_cas_may_have_observed():
    # The failed cas(0 -> 5) needs a value other than 0 at its point: the lost write of 9
    # provides it. Dropping the write would wrongly refute the history.
    h = [op(0, 0, 1, R("write", 0)), op(1, 2, None, R("write", 9)), op(2, 3, 4, R("cas", 5, 0), False)]
    assert plan(h, CASRegisterModel()).drop == set()
    assert check_linearizable(h, "cas-register").ok is True


def test_r2_and_r3_on_registers():
    h = [op(0, 0, None, R("write", 7)), op(1, 5, 6, R("read"), 7), op(2, 0, None, R("write", 8))]
    p = plan(h, RegisterModel())
    assert p.drop == {2} and p.deadline == {0: 6}
    bad = [op(0, 0, 1, R("write", 7)), op(1, 2, 3, R("read"), 8)]
    res = check_linearizable(bad, "register")
    assert res.ok is False and "[rule R2]" in res.reason


def test_rules_do_not_fire_on_unknown_models():
    from consensuslab.check import NondeterministicModel

    lossy = NondeterministicModel(init=lambda: [None], step=lambda s, i, o: {s})
    assert plan([op(0, 0, 1, R("read"), None)], lossy).skipped

"""Jepsen event pairing and the two text formats, on small files written by the tests."""

from __future__ import annotations

import pytest

from consensuslab.check import (
    UNKNOWN,
    KVInput,
    Operation,
    RegisterInput,
    check_linearizable,
    from_events,
    load_jepsen_etcd,
    load_porcupine_kv,
)
from consensuslab.check.jepsen import parse_edn_value


def _conv(inv, done):
    if inv["f"] == "read":
        return RegisterInput("read"), (UNKNOWN if done is None else done["value"])
    return RegisterInput("write", inv["value"]), None


def test_from_events_pairs_invocations_and_completions():
    events = [
        {"process": 0, "type": "invoke", "f": "write", "value": 1},
        {"process": 1, "type": "invoke", "f": "read", "value": None},
        {"process": 0, "type": "ok", "f": "write", "value": 1},
        {"process": 2, "type": "invoke", "f": "write", "value": 2},
        {"process": 1, "type": "ok", "f": "read", "value": 1},
        {"process": 2, "type": "info", "f": "write", "value": 2},
        {"process": 3, "type": "invoke", "f": "write", "value": 3},
        {"process": 3, "type": "fail", "f": "write", "value": 3},
        {"process": 4, "type": "invoke", "f": "write", "value": 4},
    ]
    h = from_events(events, _conv)
    assert h == [
        Operation(0, 0.0, 2.0, RegisterInput("write", 1), None),
        Operation(1, 1.0, 4.0, RegisterInput("read"), 1),
        Operation(2, 3.0, None, RegisterInput("write", 2), None),
        Operation(4, 8.0, None, RegisterInput("write", 4), None),
    ]  # the :fail write did not happen; the last invocation never completed
    assert check_linearizable(h, "register").ok is True


def test_from_events_rejects_bad_streams():
    with pytest.raises(ValueError, match="type"):
        from_events([{"process": 0, "type": "weird"}], _conv)
    with pytest.raises(ValueError, match="without an invocation"):
        from_events([{"process": 0, "type": "ok", "f": "read", "value": 1}], _conv)
    with pytest.raises(ValueError, match="pending"):
        from_events([{"process": 0, "type": "invoke", "f": "read"}] * 2, _conv)
    with pytest.raises(ValueError, match="`fail`"):
        from_events([], _conv, fail="maybe")


def test_load_jepsen_etcd_tabs_and_spaces(tmp_path):
    text = (
        "INFO  jepsen.util - 0\t:invoke\t:write\t1\n"
        "INFO  jepsen.util - 1   :invoke :cas    [1 2]\n"
        "INFO  jepsen.util - 0\t:ok\t:write\t1\n"
        "INFO  jepsen.util - 1   :fail   :cas    [1 2]\n"
        "INFO  jepsen.util - 2   :invoke :read   nil\n"
        "INFO  jepsen.util - 2   :fail   :read   :timed-out\n"
        "INFO  jepsen.util - 3   :invoke :cas    [1 3]\n"
        "INFO  jepsen.util - 3   :info   :cas    :timed-out\n"
        "INFO  jepsen.util - 4   :invoke :read   nil\n"
        "INFO  jepsen.util - 4   :ok     :read   1\n"
    )
    path = tmp_path / "etcd.log"
    path.write_text(text)
    h = load_jepsen_etcd(path)
    assert h == [
        Operation(0, 0.0, 2.0, RegisterInput("write", 1), None),
        Operation(1, 1.0, 3.0, RegisterInput("cas", 2, 1), False),
        Operation(2, 4.0, None, RegisterInput("read"), None),
        Operation(3, 6.0, None, RegisterInput("cas", 3, 1), None),
        Operation(4, 8.0, 9.0, RegisterInput("read"), 1),
    ]
    # The failed cas overlaps the write, so it may have seen the absent value: linearizable.
    assert check_linearizable(h, "cas-register").ok is True


def test_load_porcupine_kv(tmp_path):
    lines = [
        '{:process 0, :type :invoke, :f :put, :key "1", :value "a, b"}',
        '{:process 1, :type :invoke, :f :get, :key "1", :value nil}',
        '{:process 0, :type :ok, :f :put, :key "1", :value "a, b"}',
        '{:process 1, :type :ok, :f :get, :key "1", :value ""}',
        '{:process 2, :type :invoke, :f :append, :key "2", :value "x"}',
        '{:process 2, :type :ok, :f :append, :key "2", :value "x"}',
        '{:process 3, :type :invoke, :f :get, :key "2", :value nil}',
        '{:process 3, :type :ok, :f :get, :key "2", :value "x"}',
    ]
    path = tmp_path / "kv.txt"
    path.write_text("\n".join(lines) + "\n")
    h = load_porcupine_kv(path)
    assert h == [
        Operation(0, 0.0, 2.0, KVInput("put", "1", "a, b"), None),
        Operation(1, 1.0, 3.0, KVInput("get", "1"), None),
        Operation(2, 4.0, 5.0, KVInput("append", "2", "x"), None),
        Operation(3, 6.0, 7.0, KVInput("get", "2"), "x"),
    ]
    assert check_linearizable(h, "kv").ok is True


@pytest.mark.parametrize(
    ("text", "value"),
    [("nil", None), (":ok", "ok"), ("12", 12), ('"x 1 y"', "x 1 y"), ('"say \\"hi\\""', 'say "hi"')],
)
def test_parse_edn_value(text, value):
    assert parse_edn_value(text) == value

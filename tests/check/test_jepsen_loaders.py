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


# -- garbage in, clear errors out (issue 15, item 3) --------------------------------------------

import gzip  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from consensuslab.check import HistoryFormatError  # noqa: E402
from consensuslab.check.jepsen import porcupine_dir, reference_file  # noqa: E402

LOADERS = {"etcd": load_jepsen_etcd, "kv": load_porcupine_kv}
ETCD_OK = "INFO  jepsen.util - 0\t:invoke\t:write\t1\nINFO  jepsen.util - 0\t:ok\t:write\t1\n"
KV_OK = (
    '{:process 0, :type :invoke, :f :put, :key "1", :value "a"}\n'
    '{:process 0, :type :ok, :f :put, :key "1", :value "a"}\n'
)


def _write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


@pytest.mark.parametrize("kind", ["etcd", "kv"])
@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "expected at least one operation; got an empty file"),
        (b"\n\n  \n", "expected at least one operation; got only blank lines"),
        (b"hello world\n", r"line 1: expected an? (event line|EDN map)"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xd8", r"line \d+: expected UTF-8 text"),
        (bytes(range(256)), r"line \d+: expected UTF-8 text"),
    ],
)
def test_garbage_files_are_errors(tmp_path, kind, data, match):
    path = _write(tmp_path, f"garbage.{kind}", data)
    with pytest.raises(HistoryFormatError, match=match) as info:
        LOADERS[kind](path)
    assert str(path) in str(info.value) and info.value.path == str(path)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("text", "line", "match"),
    [
        # each of these raised a bare KeyError / ValueError / IndexError before
        ('{:process 0, :f :get, :key "1", :value nil}\n', 1, r"a :type entry"),
        ('{:type :invoke, :f :get, :key "1", :value nil}\n', 1, r"a :process entry"),
        ('{:process 0, :type :invoke, :f :get, :value nil}\n', 1, r"a :key entry"),
        ('{:process 0, :type :invoke, :f :put, :key "1"}\n', 1, r"a :value entry"),
        ('{:process 0, :type :invoke, :key "1", :value nil}\n', 1, r"a :f entry"),
        ('{:process x, :type :invoke, :f :get, :key "1", :value nil}\n', 1, r"an EDN token"),
        ('{:process 0, :type :invoke, :f :get, :key "1", :value nil\n', 1, r"closed by '\}'"),
        ('{:process 0, :type :invoke, :f :put, :key "1", :value 3}\n', 1, r"a string :value"),
        ('{:process 0, :type :start, :f :get, :key "1", :value nil}\n', 1, r"a :type among"),
        (KV_OK + '{:process 0, :type :ok, :f :put, :key "1", :value "a"}\n', 3, "without an invocation"),
        (KV_OK.splitlines()[0] + "\n" + KV_OK.splitlines()[0] + "\n", 2, "pending"),
        (KV_OK.splitlines()[0] + '\n{:process 0, :type :ok, :f :get, :key "1", :value "a"}\n', 2,
         r"completion of the pending 'put'"),
    ],
)
def test_corrupt_kv_lines_name_file_line_and_expectation(tmp_path, text, line, match):
    path = _write(tmp_path, "kv.txt", text)
    with pytest.raises(HistoryFormatError, match=match) as info:
        load_porcupine_kv(path)
    assert info.value.line == line and f"{path}, line {line}: expected" in str(info.value)


@pytest.mark.parametrize(
    ("text", "line", "match"),
    [
        ("INFO  jepsen.util - 0\t:invoke\t:cas\t[1]\n", 1, r"\[<from> <to>\]"),
        ("INFO  jepsen.util - 0\t:invoke\t:write\tabc\n", 1, "a value"),
        ("INFO  jepsen.util - 0\t:invoke\t:write\n", 1, "four fields"),
        ("INFO  jepsen.util - x\t:invoke\t:write\t1\n", 1, "a process number"),
        ("INFO  jepsen.util - 0\t:invoke\t:delete\t1\n", 1, "an operation among"),
        ("INFO  jepsen.util - 0\t:maybe\t:write\t1\n", 1, "a type among"),
        ("INFO  jepsen.util - 0\t:invoke\t:read\tnil\nINFO  jepsen.util - 0\t:ok\t:read\tx1\n", 2, "a value"),
        (ETCD_OK + "INFO  jepsen.util - 0\t:ok\t:write\t1\n", 3, "without an invocation"),
        ("INFO  jepsen.util - 0\t:invoke\t:write\t1\nINFO  jepsen.util - 0\t:ok\t:cas\t[1 2]\n", 2,
         "completion of the pending 'write'"),
        (ETCD_OK + "INFO  jepsen.core - run complete\n", 3, "an event line"),
        (ETCD_OK + "INFO  jepsen.util - 0\t:invoke\t:write\t4", 3, "ends with a newline"),
    ],
)
def test_corrupt_etcd_lines_name_file_line_and_expectation(tmp_path, text, line, match):
    path = _write(tmp_path, "etcd.log", text)
    with pytest.raises(HistoryFormatError, match=match) as info:
        load_jepsen_etcd(path)
    assert info.value.line == line and f"{path}, line {line}: expected" in str(info.value)


def test_a_file_of_failed_operations_only_has_no_operations(tmp_path):
    text = KV_OK.replace(":type :ok", ":type :fail")
    with pytest.raises(HistoryFormatError, match="at least one operation"):
        load_porcupine_kv(_write(tmp_path, "kv.txt", text))


def test_gzip_is_read_transparently_and_checked(tmp_path):
    plain = load_jepsen_etcd(_write(tmp_path, "a.log", ETCD_OK))
    packed = gzip.compress(ETCD_OK.encode(), mtime=0)
    assert load_jepsen_etcd(_write(tmp_path, "a.log.gz", packed)) == plain
    assert load_jepsen_etcd(_write(tmp_path, "renamed.log", packed)) == plain  # by magic bytes
    with pytest.raises(HistoryFormatError, match="a complete gzip stream"):
        load_jepsen_etcd(_write(tmp_path, "cut.log.gz", packed[:-9]))
    with pytest.raises(HistoryFormatError, match="trailing byte"):
        load_jepsen_etcd(_write(tmp_path, "tail.log.gz", packed + b"xx"))


# -- every reference file, truncated and corrupted at many points ------------------------------

REFERENCE = json.loads((porcupine_dir() / "expected.json").read_text())
ETCD_RE = re.compile(
    r"INFO\s+jepsen\.util\s+-\s+(\d+)\s+:(invoke|ok|fail|info)\s+:(read|write|cas)\s+"
    r"(nil|-?\d+|\[(?:-?\d+|nil)\s+(?:-?\d+|nil)\]|:[\w-]+)"
)


def _oracle_events(kind: str, text: str):
    """An independent, regex-based reading of a *well-formed* file (Porcupine's own regexes)."""
    events = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if kind == "etcd":
            m = ETCD_RE.fullmatch(line.strip())
            if m is None:
                return None
            proc, typ, f, val = m.groups()
            value = None if val == "nil" or val.startswith(":") else (
                tuple(None if x == "nil" else int(x) for x in val.strip("[]").split())
                if val.startswith("[") else int(val))
            events.append({"process": int(proc), "type": typ, "f": f, "value": value})
        else:
            pairs = re.findall(r':(\w+)\s+("(?:[^"\\]|\\.)*"|[^\s,}]+)', line)
            ev = {k: (None if v == "nil" else v[1:-1] if v.startswith('"') else
                      v[1:] if v.startswith(":") else int(v)) for k, v in pairs}
            events.append(ev)
    return events


def _oracle_history(kind: str, text: str):
    from consensuslab.check.jepsen import _etcd_convert, _kv_convert

    events = _oracle_events(kind, text)
    if events is None:
        return None
    try:
        if kind == "etcd":
            return from_events(events, _etcd_convert, fail="keep")
        return from_events(events, _kv_convert)
    except (ValueError, KeyError, TypeError):
        return None


def _prefix(full, k):
    """The history of the first ``k`` events: completions cut off become unknown outcomes."""
    out = []
    for op in full:
        if op.call >= k:
            continue
        done = op.ret is not None and op.ret < k
        out.append(Operation(op.client, op.call, op.ret if done else None, op.input, op.output if done else None))
    return out


@pytest.mark.parametrize("name", sorted(REFERENCE), ids=lambda n: Path(n).stem)
def test_reference_file_truncated_anywhere(tmp_path, name):
    kind = "etcd" if name.startswith("jepsen/") else "kv"
    load = LOADERS[kind]
    raw = gzip.decompress(reference_file(name).read_bytes())
    full = load(reference_file(name))
    assert full == _oracle_history(kind, raw.decode())
    rng = np.random.default_rng(sum(map(ord, name)))
    cuts = sorted({0, 1, len(raw) - 1, *rng.integers(0, len(raw), 12).tolist()})
    ends = [i + 1 for i, b in enumerate(raw) if b == 10]  # line boundaries
    cuts += sorted(rng.choice(ends, size=min(6, len(ends)), replace=False).tolist())
    for cut in cuts:
        data = raw[:cut]
        path = _write(tmp_path, "cut.txt", data)
        if data.endswith(b"\n"):
            expected = _prefix(full, data.count(b"\n"))
            if expected:
                assert load(path) == expected, (name, cut)
                continue
        with pytest.raises(HistoryFormatError) as info:
            load(path)
        err = info.value
        assert err.path == str(path) and "expected" in str(err), (name, cut, err)
        if data and not data.endswith(b"\n"):
            assert err.line == data.count(b"\n") + 1, (name, cut, err)
    packed = reference_file(name).read_bytes()
    for cut in sorted(set(rng.integers(1, len(packed), 4).tolist())):
        with pytest.raises(HistoryFormatError) as info:
            load(_write(tmp_path, "cut.gz", packed[:cut]))
        assert info.value.path.endswith("cut.gz")


@pytest.mark.parametrize("name", sorted(REFERENCE)[::7] + ["kv/c50-ok.txt"], ids=lambda n: Path(n).stem)
def test_reference_file_corrupted_anywhere(tmp_path, name):
    kind = "etcd" if name.startswith("jepsen/") else "kv"
    load = LOADERS[kind]
    raw = gzip.decompress(reference_file(name).read_bytes())
    rng = np.random.default_rng(sum(map(ord, name)))
    nasty = [b"\x00", b"\xff", b"x", b":", b"\n", b" ", b"}", b"[", b'"', b"9", b"\t", b"-"]
    outcomes = {"error": 0, "parsed": 0}
    for pos in rng.integers(0, len(raw), 24).tolist():
        byte = nasty[int(rng.integers(len(nasty)))]
        data = raw[:pos] + byte + raw[pos + 1 :]
        path = _write(tmp_path, "bad.txt", data)
        try:
            got = load(path)
        except HistoryFormatError as err:
            outcomes["error"] += 1
            assert err.path == str(path) and err.line is not None, (name, pos, byte, err)
            assert 1 <= err.line <= data.count(b"\n") + 1 and "expected" in str(err)
            continue
        outcomes["parsed"] += 1  # still well formed: must be read exactly as the oracle reads it
        assert got == _oracle_history(kind, data.decode()), (name, pos, byte)
    assert outcomes["error"] > 0
    packed = bytearray(reference_file(name).read_bytes())
    original = load(reference_file(name))
    for pos in rng.integers(0, len(packed), 6).tolist():
        bad = bytearray(packed)
        bad[pos] ^= 0x5A
        path = _write(tmp_path, "bad.gz", bytes(bad))
        try:
            got = load(path)
        except HistoryFormatError as err:
            assert err.path == str(path)
            continue
        assert got == original  # a flip in an unused gzip header field (mtime, OS) is harmless

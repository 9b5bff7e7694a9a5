"""Every verdict of Porcupine's reference histories (Jepsen etcd logs and kv histories).

The files ship with the repository in ``data/jepsen/`` (Porcupine's ``test_data``, MIT licence;
see its README.md and FORMAT.md), so these tests always run. Expected verdicts are those asserted by Porcupine's own tests (``expected.json``: 23 of the 102
etcd histories are linearizable; ``kv/*-ok`` are linearizable and ``kv/*-bad`` are not).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from consensuslab.check import (
    HistoryFormatError,
    check_linearizable,
    load_jepsen_etcd,
    load_porcupine_kv,
)
from consensuslab.check.jepsen import porcupine_dir, reference_file

REPO = Path(__file__).resolve().parents[2]
ROOT = REPO / "data" / "jepsen"
EXPECTED = json.loads((ROOT / "expected.json").read_text())
NAMES = sorted(EXPECTED)


def _load(name: str):
    path = reference_file(name)
    return load_jepsen_etcd(path) if name.startswith("jepsen/") else load_porcupine_kv(path)


def test_reference_data_is_in_the_repository_with_its_licence():
    assert porcupine_dir() == ROOT
    readme = (ROOT / "README.md").read_text()
    assert "github.com/anishathalye/porcupine" in readme
    assert "MIT" in readme and "Anish Athalye" in readme and "Permission is hereby granted" in readme
    assert (ROOT / "FORMAT.md").is_file()
    for name in NAMES:
        assert reference_file(name).parent.resolve().is_relative_to(ROOT.resolve()), name


def test_reference_set_is_complete():
    etcd = [n for n in EXPECTED if n.startswith("jepsen/")]
    kv = [n for n in EXPECTED if n.startswith("kv/")]
    assert len(etcd) == 102 and sum(EXPECTED[n] for n in etcd) == 23
    assert sorted(kv) == sorted(f"kv/c{c}-{v}.txt" for c in ("01", "10", "50") for v in ("ok", "bad"))
    assert all(EXPECTED[n] == n.endswith("-ok.txt") for n in kv)


@pytest.mark.parametrize("name", NAMES)
def test_reference_verdict(name):
    history = _load(name)
    assert history, name
    model = "cas-register" if name.startswith("jepsen/") else "kv"
    res = check_linearizable(history, model, timeout=60)
    assert res.ok is EXPECTED[name], f"{name}: expected {EXPECTED[name]}, got {res.ok}"
    if res.ok:
        assert len(res.linearization) >= sum(o.ret is not None for o in history) - sum(
            o.input.op in ("read", "get") and o.ret is None for o in history
        )
    else:
        assert res.unplaceable and res.failing_time is not None


def test_empty_etcd_log_is_an_error():
    # etcd_095.log is empty (that etcd cluster never started): it has no verdict and no
    # operations, and a file without operations is an error, not an empty history.
    assert "jepsen/etcd_095.log" not in EXPECTED
    with pytest.raises(HistoryFormatError, match="etcd_095.log.*expected at least one operation"):
        load_jepsen_etcd(reference_file("jepsen/etcd_095.log"))


def test_etcd_loader_semantics():
    # etcd_000.log starts: four invocations (two reads, writes 4, 2 and 3), reads return nil.
    h = load_jepsen_etcd(reference_file("jepsen/etcd_000.log"))
    first = h[0]
    assert (first.client, first.call, first.ret, first.input.op, first.output) == (0, 0.0, 6.0, "read", None)
    ops = {o.input.op for o in h}
    assert ops == {"read", "write", "cas"}
    assert any(o.ret is None for o in h)  # :info operations have an unknown outcome
    assert {o.output for o in h if o.input.op == "cas" and o.ret is not None} == {True, False}


def test_kv_loader_reads_empty_string_as_absent():
    h = load_porcupine_kv(reference_file("kv/c10-ok.txt"))
    gets = [o for o in h if o.input.op == "get"]
    assert gets and "" not in {o.output for o in gets} and None in {o.output for o in gets}
    assert all(o.ret is not None for o in h)
    assert {o.input.key for o in h} <= {str(k) for k in range(10)}

"""Every verdict of Porcupine's reference histories (Jepsen etcd logs and kv histories).

The files live outside the repository in ``../shared/reference/porcupine`` (Porcupine's
``test_data``, MIT licence; see its FORMAT.md); these tests skip when that folder is absent.
Expected verdicts are those asserted by Porcupine's own tests (``expected.json``: 23 of the 102
etcd histories are linearizable; ``kv/*-ok`` are linearizable and ``kv/*-bad`` are not).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from consensuslab.check import check_linearizable, load_jepsen_etcd, load_porcupine_kv

ROOT = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference" / "porcupine"
EXPECTED_FILE = ROOT / "expected.json"


def _expected() -> dict[str, bool]:
    if not EXPECTED_FILE.is_file():
        return {}
    return json.loads(EXPECTED_FILE.read_text())


EXPECTED = _expected()
NAMES = sorted(EXPECTED) or ["<missing>"]
needs_data = pytest.mark.skipif(
    not EXPECTED,
    reason=f"Porcupine reference histories not found at {ROOT.resolve()} (../shared is absent)",
)


def _load(name: str):
    path = ROOT / name
    return load_jepsen_etcd(path) if name.startswith("jepsen/") else load_porcupine_kv(path)


@needs_data
def test_reference_set_is_complete():
    etcd = [n for n in EXPECTED if n.startswith("jepsen/")]
    kv = [n for n in EXPECTED if n.startswith("kv/")]
    assert len(etcd) == 102 and sum(EXPECTED[n] for n in etcd) == 23
    assert sorted(kv) == sorted(f"kv/c{c}-{v}.txt" for c in ("01", "10", "50") for v in ("ok", "bad"))
    assert all(EXPECTED[n] == n.endswith("-ok.txt") for n in kv)


@needs_data
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


@needs_data
def test_empty_etcd_log_is_trivially_linearizable():
    history = load_jepsen_etcd(ROOT / "jepsen" / "etcd_095.log")
    assert history == []
    assert check_linearizable(history, "cas-register").ok is True


@needs_data
def test_etcd_loader_semantics():
    # etcd_000.log starts: four invocations (two reads, writes 4, 2 and 3), reads return nil.
    h = load_jepsen_etcd(ROOT / "jepsen" / "etcd_000.log")
    first = h[0]
    assert (first.client, first.call, first.ret, first.input.op, first.output) == (0, 0.0, 6.0, "read", None)
    ops = {o.input.op for o in h}
    assert ops == {"read", "write", "cas"}
    assert any(o.ret is None for o in h)  # :info operations have an unknown outcome
    assert {o.output for o in h if o.input.op == "cas" and o.ret is not None} == {True, False}


@needs_data
def test_kv_loader_reads_empty_string_as_absent():
    h = load_porcupine_kv(ROOT / "kv" / "c10-ok.txt")
    gets = [o for o in h if o.input.op == "get"]
    assert gets and "" not in {o.output for o in gets} and None in {o.output for o in gets}
    assert all(o.ret is not None for o in h)
    assert {o.input.key for o in h} <= {str(k) for k in range(10)}

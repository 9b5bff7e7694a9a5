"""The registered experiment reproduces Porcupine's verdict counts (data/reference)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from consensuslab.experiments.linearizability import REFERENCE_COLUMNS, reference_verdicts
from consensuslab.experiments.registry import get

REPO = Path(__file__).resolve().parents[2]


def test_reference_csv_ids_match_measured_keys():
    ref = pd.read_csv(REPO / "data" / "reference" / "linearizability.csv")
    assert list(ref.columns)[:7] == ["id", "quantity", "reference", "tolerance", "tolerance_kind", "unit", "source"]
    assert set(ref.columns[7:]) <= {"kind"}  # the optional kind column (reproduction | check)
    result = get("linearizability-porcupine").run(quick=True)
    assert set(result.measured) == set(ref["id"])
    for row in ref.itertuples():
        assert abs(result.measured[row.id] - row.reference) <= row.tolerance, row.id
    assert result.table["correct"].all()
    assert len(result.table) == 108 and "skipped" not in result.params


def test_reference_verdicts_empty_without_data(tmp_path):
    table = reference_verdicts(root=tmp_path)
    assert table.empty and list(table.columns) == REFERENCE_COLUMNS

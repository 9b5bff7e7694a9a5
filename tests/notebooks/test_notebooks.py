"""Every notebook in notebooks/ runs top to bottom in quick mode, within its time budget.

Notebooks are executed in a fresh kernel with ``CONSENSUSLAB_QUICK=1`` by
:func:`consensuslab.notebook_runner.execute_notebook`, which polls the kernel in short slices
(robust to the late-idle stall of widget cells); the claims modules read the same run (the
``notebook_run`` fixture of ``conftest.py``: one execution per notebook, 60 s per cell). They
must also be committed without outputs.
"""

from __future__ import annotations

import json

import pytest

from consensuslab.notebook_runner import list_notebooks

NOTEBOOKS = list_notebooks()
BUDGET_S = 60.0  # per notebook, quick mode (and per cell: conftest.CELL_TIMEOUT_S)


def test_there_are_notebooks():
    assert NOTEBOOKS, "no numbered notebooks found in notebooks/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_committed_without_outputs(path):
    nb = json.loads(path.read_text())
    dirty = [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count"))]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs or execution counts; clear them"
    tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: needs exactly one cell tagged 'parameters'"
    assert "CONSENSUSLAB_QUICK" in "".join(tagged[0]["source"]), f"{path.name}: parameters cell must read CONSENSUSLAB_QUICK"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_in_quick_mode(path, notebook_run):
    run = notebook_run(path)
    assert run.ok, f"{path.name}: cell {run.failed_cell} failed: {run.error}"
    assert run.duration < BUDGET_S * 1.5, f"{path.name}: took {run.duration:.1f} s in quick mode"

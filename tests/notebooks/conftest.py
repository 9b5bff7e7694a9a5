"""One quick-mode execution per notebook per test run, shared by every test that reads it.

``test_notebooks.py`` executes every notebook (it must run top to bottom within its budget) and
the claims modules read what notebooks 01, 02, 04, 07, 08 and 10 print. Both take the run from the
``notebook_run`` fixture, so each notebook executes once, not twice. Under pytest-xdist the
first worker that needs a notebook executes it while holding a lock file, and writes the
executed notebook to the run's shared temporary folder; a worker that needs it later (or waits
on the lock) reads it from there.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import matplotlib.pyplot as plt
import nbformat
import pytest

from consensuslab.notebook_runner import NotebookRun, execute_notebook

#: Per-cell limit of the shared quick-mode run, seconds.
CELL_TIMEOUT_S = 60.0


def _save(run: NotebookRun, path: Path) -> None:
    data = {"nb": nbformat.writes(run.nb), "ok": run.ok, "error": run.error, "failed_cell": run.failed_cell,
            "duration": run.duration, "cell_durations": run.cell_durations}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)


def _load(notebook: Path, path: Path) -> NotebookRun:
    data = json.loads(path.read_text())
    return NotebookRun(notebook, nbformat.reads(data["nb"], as_version=4), data["ok"], data["error"],
                       data["failed_cell"], data["duration"], data["cell_durations"])


@pytest.fixture(scope="session")
def notebook_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[Path], NotebookRun]]:
    """``notebook_run(path)``: the notebook executed once in a fresh kernel in quick mode."""
    runs: dict[Path, NotebookRun] = {}
    shared = None
    if os.environ.get("PYTEST_XDIST_WORKER"):  # basetemp is <run>/popen-gwN: <run> is this run's
        shared = tmp_path_factory.getbasetemp().parent / "notebook-runs"
        shared.mkdir(exist_ok=True)

    def run(path: Path) -> NotebookRun:
        key = Path(path).resolve()
        if key in runs:
            return runs[key]
        if shared is None:
            runs[key] = execute_notebook(key, quick=True, cell_timeout=CELL_TIMEOUT_S)
            return runs[key]
        stored = shared / f"{key.stem}.json"
        with open(shared / f"{key.stem}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # another worker may be executing it: wait for it
            try:
                if stored.exists():
                    runs[key] = _load(key, stored)
                else:
                    runs[key] = execute_notebook(key, quick=True, cell_timeout=CELL_TIMEOUT_S)
                    _save(runs[key], stored)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        return runs[key]

    yield run


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    """Every claims test draws figures: close them after each test."""
    yield
    plt.close("all")

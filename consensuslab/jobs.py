"""The jobs of ``consensuslab reproduce``: run experiments and notebooks in isolated processes.

Theory of operation
-------------------
Every selected experiment (from :mod:`consensuslab.experiments.registry`) and every numbered
notebook is one :class:`JobSpec`. :func:`run_jobs` runs them in two phases:

1. *Shared phase.* The jobs run in a process pool of ``workers`` processes (default: one per
   CPU), longest first (``JobSpec.cost``, the expected seconds; a job without one counts as
   the longest), so that no long job starts last and leaves the other workers idle. An experiment job runs the experiment in the worker with an :class:`InlineExecutor`
   (the parallelism is *across* jobs, so trials are not fanned out a second time) and writes
   ``data/results/NAME.csv`` plus a JSON sidecar. A notebook job starts a fresh kernel through
   :func:`consensuslab.notebook_runner.execute_notebook`; the worker mostly waits while the
   kernel computes, so ``workers`` kernels run side by side.
2. *Alone phase.* Jobs marked ``alone`` — notebooks that measure wall time and declare it
   (:func:`consensuslab.notebook_runner.runs_alone`) — run afterwards, one at a time, with
   nothing else running, so the speed-ups they measure are the machine's.

The executed notebook, its HTML (:func:`consensuslab.notebook_runner.export_html`) and its
figures (the PNG outputs, each with the notebook's section title as caption and the id of its
cell) go to the output folder. Every file is written to a temporary name and renamed
(:func:`consensuslab.experiments.runner.atomic_write`), so an interrupted run never leaves a
truncated file.

*Isolation.* A job that raises is caught inside its worker and reported as failed; the others
go on. A job that kills its worker process (a segfault, ``os._exit``) breaks the pool: the
jobs that had not finished are then re-run one at a time, each in a fresh single-process
pool, so the culprit fails alone.

This module executes; it renders nothing but the notebooks' own HTML. The report is
:mod:`consensuslab.report`; the comparison with the published numbers is
:mod:`consensuslab.references`.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import math
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from consensuslab.experiments.registry import Experiment, Result
from consensuslab.experiments.runner import atomic_write, results_dir

if TYPE_CHECKING:
    from consensuslab.stats import Estimate

__all__ = [
    "Kind",
    "InlineExecutor",
    "Figure",
    "JobOutcome",
    "JobSpec",
    "write_result",
    "experiment_job",
    "notebook_job",
    "run_jobs",
]

Kind = Literal["experiment", "notebook"]


class InlineExecutor(Executor):
    """A :class:`concurrent.futures.Executor` that runs each call at ``submit`` time.

    Handed to experiments that run inside a reproduce worker, so that their trials stay in
    that process (the pool already keeps every core busy with other jobs).
    """

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller through the future
            future.set_exception(exc)
        return future


@dataclass
class Figure:
    """A figure in the report: a PNG file, its caption and the notebook cell it came from.

    ``link`` is relative to the output folder: the notebook's HTML and the anchor of the cell
    (``notebooks/NAME.html#cell-id=ID``, the anchors nbconvert writes).
    """

    path: Path
    origin: str
    caption: str = ""
    link: str = ""


@dataclass
class JobOutcome:
    """What one experiment or notebook job produced."""

    kind: Kind
    name: str
    ok: bool
    duration: float = 0.0
    error: str | None = None
    detail: str = ""
    measured: dict[str, float] = field(default_factory=dict)
    estimates: dict[str, Estimate] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    log: str = ""
    alone: bool = False


@dataclass(frozen=True)
class JobSpec:
    """One job: ``fn(*args) -> JobOutcome`` run in a worker process; ``alone`` jobs run last, alone.

    ``cost`` is the expected duration in seconds (only its order matters: the shared jobs start
    longest first; ``None``, unknown, starts before every job with a cost).
    """

    kind: Kind
    name: str
    fn: Callable[..., JobOutcome]
    args: tuple[Any, ...]
    alone: bool = False
    cost: float | None = None


def _longest_first(specs: Sequence[JobSpec]) -> list[int]:
    """Indices of ``specs`` by expected cost, longest first (unknown first; ties keep their order)."""

    def key(i: int) -> float:
        cost = specs[i].cost
        return -math.inf if cost is None else -float(cost)

    return sorted(range(len(specs)), key=key)


# --------------------------------------------------------------------------------------------
# result files


def _jsonable(value: Any) -> Any:
    """Parameters as JSON: numpy scalars to Python, tuples to lists, anything else to repr."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, bool, int)) or value is None:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if hasattr(value, "as_dict") and callable(value.as_dict):
        return _jsonable(value.as_dict())
    if hasattr(value, "item") and callable(value.item):
        try:
            return _jsonable(value.item())
        except (TypeError, ValueError):
            pass
    return repr(value)


def _as_float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def write_result(
    name: str,
    result: Result,
    *,
    seed: int,
    quick: bool,
    duration: float,
    description: str = "",
    folder: str | Path | None = None,
) -> tuple[Path, Path]:
    """Write ``NAME.csv`` (the table) and ``NAME.json`` (the sidecar), each atomically.

    Parameters
    ----------
    name : str
        Experiment name (the file stem).
    result : Result
        What the experiment returned.
    seed, quick, duration, description
        Recorded in the sidecar with the parameters, the estimates (sample size and interval
        of each measured id), the package version and the time.
    folder : path, optional
        Default :func:`consensuslab.experiments.runner.results_dir`.

    Returns
    -------
    (csv_path, json_path)
    """
    from consensuslab import __version__

    folder = Path(folder) if folder is not None else results_dir()
    csv_path = folder / f"{name}.csv"
    json_path = folder / f"{name}.json"
    table = result.table if isinstance(result.table, pd.DataFrame) else pd.DataFrame(result.table)
    sidecar = {
        "name": name,
        "description": description,
        "params": _jsonable(dict(result.params)),
        "seed": seed,
        "quick": quick,
        "version": __version__,
        "duration_s": round(duration, 3),
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "rows": int(len(table)),
        "columns": [str(c) for c in table.columns],
        "measured": _jsonable(dict(result.measured)),
        "estimates": _jsonable(dict(result.estimates)),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    atomic_write(csv_path, lambda tmp: table.to_csv(tmp, index=False))
    atomic_write(json_path, lambda tmp: tmp.write_text(json.dumps(sidecar, indent=2, sort_keys=False) + "\n"))
    return csv_path, json_path


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


# --------------------------------------------------------------------------------------------
# the two kinds of job (run in worker processes; they never raise)


def experiment_job(exp: Experiment, quick: bool, seed: int, folder: str) -> JobOutcome:
    """Worker: run one experiment in this process, write its table and sidecar; never raises."""
    buffer = io.StringIO()
    start = time.perf_counter()
    try:
        with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            result = exp.run(quick=quick, seed=seed, executor=InlineExecutor())
        duration = time.perf_counter() - start
        files = write_result(exp.name, result, seed=seed, quick=quick, duration=duration,
                             description=exp.description, folder=folder)
        measured = {str(k): _as_float(v) for k, v in dict(result.measured).items()}
        table = result.table
        return JobOutcome(
            "experiment", exp.name, True, duration,
            detail=f"{len(table)} rows, {len(measured)} reference value(s)",
            measured=measured, estimates=dict(result.estimates), files=list(files), log=_tail(buffer.getvalue()),
        )
    except BaseException as exc:  # noqa: BLE001 - a failed job must not abort the others
        if isinstance(exc, KeyboardInterrupt):
            raise
        return JobOutcome(
            "experiment", exp.name, False, time.perf_counter() - start,
            error=f"{type(exc).__name__}: {exc}",
            detail=_tail(traceback.format_exc(), 12), log=_tail(buffer.getvalue()),
        )


@contextlib.contextmanager
def _quiet_fd2() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null for the duration (child processes inherit it)."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def notebook_job(path: str, quick: bool, out_dir: str, cell_timeout: float, seed: int = 0,
                 alone: bool = False) -> JobOutcome:
    """Worker: execute one notebook, write the executed copy, its HTML and its figures.

    The kernel gets ``CONSENSUSLAB_SEED=seed`` (the notebooks whose numbers the report shows
    read it, so notebook and report use the same seed) and, in quick mode,
    ``CONSENSUSLAB_QUICK=1``.
    """
    import nbformat

    from consensuslab.notebook_runner import execute_notebook, export_html, figure_cells

    nb_path = Path(path)
    name = nb_path.stem
    out = Path(out_dir)
    start = time.perf_counter()
    try:
        with _quiet_fd2():  # the kernel's own stderr chatter would garble the progress bar
            run = execute_notebook(nb_path, quick=quick, cell_timeout=cell_timeout, cwd=nb_path.parent,
                                   env={"CONSENSUSLAB_SEED": str(seed)})
        files: list[Path] = []
        executed = out / "notebooks" / f"{name}.ipynb"
        atomic_write(executed, lambda tmp: nbformat.write(run.nb, str(tmp)))
        files.append(executed)
        html_name = f"{name}.html"
        try:
            body = export_html(run.nb)
            page = out / "notebooks" / html_name
            atomic_write(page, lambda tmp: tmp.write_text(body, encoding="utf-8"))
            files.append(page)
        except Exception as exc:  # noqa: BLE001 - HTML is a convenience; keep the rest
            if run.ok:
                return JobOutcome("notebook", name, False, time.perf_counter() - start,
                                  error=f"HTML export failed: {type(exc).__name__}: {exc}", files=files, alone=alone)
        figures = []
        for stale in (out / "figures").glob(f"{name}-*.png"):  # a previous run's, maybe more of them
            stale.unlink(missing_ok=True)
        for k, fc in enumerate(figure_cells(run.nb), start=1):
            fig_path = out / "figures" / f"{name}-{k:02d}.png"
            atomic_write(fig_path, functools.partial(Path.write_bytes, data=fc.png))  # tmp.write_bytes(png)
            link = f"notebooks/{html_name}" + (f"#cell-id={fc.cell_id}" if fc.cell_id else "")
            caption = f"{name}: {fc.title}" if fc.title else name
            figures.append(Figure(fig_path, name, caption, link))
        if run.ok:
            detail = f"{len(run.cell_durations)} code cells, {len(figures)} figure(s)"
            return JobOutcome("notebook", name, True, run.duration, detail=detail, files=files, figures=figures,
                              alone=alone)
        where = f" in cell {run.failed_cell + 1}" if run.failed_cell is not None else ""
        return JobOutcome("notebook", name, False, run.duration, error=f"{run.error}{where}",
                          detail=f"executed copy: {executed}", files=files, figures=figures, alone=alone)
    except BaseException as exc:  # noqa: BLE001 - a failed job must not abort the others
        if isinstance(exc, KeyboardInterrupt):
            raise
        return JobOutcome("notebook", name, False, time.perf_counter() - start,
                          error=f"{type(exc).__name__}: {exc}", detail=_tail(traceback.format_exc(), 12), alone=alone)


# --------------------------------------------------------------------------------------------
# the pool


def _crash_outcome(spec: JobSpec, exc: BaseException) -> JobOutcome:
    return JobOutcome(spec.kind, spec.name, False, error=f"worker process died ({type(exc).__name__}: {exc})",
                      alone=spec.alone)


def _run_solo(spec: JobSpec) -> JobOutcome:
    """Run one job in a fresh single-process pool (a crash fails this job only)."""
    with ProcessPoolExecutor(max_workers=1) as solo:
        try:
            return solo.submit(spec.fn, *spec.args).result()
        except BaseException as exc:  # noqa: BLE001 - this job is the one that kills workers
            if isinstance(exc, KeyboardInterrupt):
                raise
            return _crash_outcome(spec, exc)


def _run_pool(specs: Sequence[JobSpec], workers: int, on_done: Callable[[JobOutcome], None]) -> list[JobOutcome]:
    """Run the jobs on a process pool, longest first; re-run survivors of a broken pool one by one."""
    outcomes: dict[int, JobOutcome] = {}
    broken = False
    if specs:
        with ProcessPoolExecutor(max_workers=max(1, min(workers, len(specs)))) as pool:
            futures = {pool.submit(specs[i].fn, *specs[i].args): i for i in _longest_first(specs)}
            for fut in as_completed(futures):
                i = futures[fut]
                try:
                    outcomes[i] = fut.result()
                except BrokenProcessPool:
                    broken = True
                    continue
                except BaseException as exc:  # noqa: BLE001 - e.g. an outcome that failed to unpickle
                    outcomes[i] = _crash_outcome(specs[i], exc)
                on_done(outcomes[i])
    if broken:
        for i in _longest_first(specs):
            spec = specs[i]
            if i not in outcomes:
                outcomes[i] = _run_solo(spec)
                on_done(outcomes[i])
    return [outcomes[i] for i in range(len(specs))]


def run_jobs(specs: Sequence[JobSpec], workers: int, on_done: Callable[[JobOutcome], None] = lambda o: None
             ) -> list[JobOutcome]:
    """Run ``specs``: the shared ones on ``workers`` processes, then the ``alone`` ones one by one.

    Returns
    -------
    list of JobOutcome
        In the order of ``specs``. ``on_done`` is called as each job finishes.
    """
    shared = [i for i, s in enumerate(specs) if not s.alone]
    alone = [i for i, s in enumerate(specs) if s.alone]
    outcomes: dict[int, JobOutcome] = dict(zip(shared, _run_pool([specs[i] for i in shared], workers, on_done)))
    for i in alone:
        outcomes[i] = _run_solo(specs[i])
        on_done(outcomes[i])
    return [outcomes[i] for i in range(len(specs))]

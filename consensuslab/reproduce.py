"""Reproduce everything: run every experiment and notebook, then write the reproduction report.

Theory of operation
-------------------
``consensuslab reproduce`` is orchestration over three modules, each with one job:

* :mod:`consensuslab.jobs` runs the experiments and notebooks in worker processes (a shared
  phase on ``workers`` processes, then the notebooks that measure wall time, alone) and writes
  their result tables, executed notebooks, HTML and figures;
* :mod:`consensuslab.references` joins the measured values, their sample sizes and intervals
  with ``data/reference/*.csv`` and judges each row;
* :mod:`consensuslab.report` renders ``report.html``, ``report.md`` and the terminal summary.

:func:`reproduce` selects the jobs (:func:`select`), runs them, merges what they measured,
compares, and writes ``report.csv``, ``report.html`` and ``report.md`` to the output folder.
The notebooks get the same seed as the experiments (``CONSENSUSLAB_SEED``), so a number a
notebook prints beside its published value is the number in the report.

Arrows point down: ``cli -> reproduce -> {jobs, references, report}``; ``report`` imports the
job outcome types and ``references``; ``references`` imports neither.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from consensuslab._validate import check_int, describe
from consensuslab.experiments.registry import Experiment
from consensuslab.experiments.runner import atomic_write, results_dir
from consensuslab.jobs import JobOutcome, JobSpec, experiment_job, notebook_job, run_jobs
from consensuslab.references import REFERENCE_COLUMNS, compare, load_references, repo_root
from consensuslab.report import Report, render_html, render_markdown

if TYPE_CHECKING:
    from consensuslab.stats import Estimate

__all__ = ["reproduce", "select", "default_output_dir", "EXPECTED_SECONDS"]

#: Seconds each job takes on the project's 2-core machine with nothing else running, (quick,
#: full; notebook 10 and hashing-balance estimated from runs beside other work, scaled by the
#: load): the shared jobs start longest first (:class:`consensuslab.jobs.JobSpec` ``cost``), so
#: no long job starts last while the other worker idles. Only the order matters; a job not
#: listed here starts before the listed ones.
EXPECTED_SECONDS: dict[str, tuple[float, float]] = {
    "01-simulator": (3.4, 4.7),
    "02-paxos": (4.3, 16.1),
    "03-raft-election-convergence": (4.2, 30.6),
    "04-raft-replication-and-faults": (3.6, 5.9),
    "05-hash-ring-balance": (7.5, 20.7),
    "06-quorum-math": (3.5, 7.4),
    "07-vesta": (4.7, 33.9),
    "08-linearizability": (6.5, 13.6),
    "09-scale-out": (4.1, 28.2),
    "10-model-checking": (12.5, 45.0),
    "11-raft-membership-and-reads": (4.3, 4.3),
    "12-partial-connectivity": (8.6, 6.7),
    "13-live-clusters": (9.8, 9.5),
    "hashing-balance": (6.0, 12.0),
    "linearizability-porcupine": (0.6, 0.6),
    "paxos-dueling": (0.8, 7.9),
    "paxos-messages": (0.1, 0.5),
    "paxos-unsafe": (0.3, 5.9),
    "pbs-wars": (0.5, 6.1),
    "quorum-math": (0.0, 0.0),
    "raft-election": (0.4, 11.3),
    "simulator-network": (0.2, 1.2),
    "vesta-anomalies": (0.2, 2.5),
    "vesta-lww-skew": (0.1, 0.8),
    "vesta-staleness": (0.2, 10.3),
}


def _expected(name: str, quick: bool) -> float | None:
    times = EXPECTED_SECONDS.get(name)
    return None if times is None else times[0 if quick else 1]


def default_output_dir() -> Path:
    """``output/`` at the repository root (git-ignored), else ``./output``."""
    root = repo_root()
    return (root if root is not None else Path.cwd()) / "output"


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


# --------------------------------------------------------------------------------------------
# selection


def _notebook_aliases(path: Path) -> set[str]:
    stem = path.stem
    number, _, topic = stem.partition("-")
    return {stem, path.name, number, topic}


def select(
    only: Sequence[str] | None,
    experiments: Mapping[str, Experiment],
    notebooks: Sequence[Path],
) -> tuple[dict[str, Experiment], list[Path]]:
    """Pick the experiments and notebooks named in ``only`` (all when ``only`` is empty).

    A name matches an experiment by its exact name, and a notebook by its file stem
    (``03-raft-election``), file name, number (``03``) or topic (``raft-election``).

    Raises
    ------
    ValueError
        A name matches nothing; the message lists the valid names.
    """
    if not only:  # everything but the long studies (they run when named)
        return {k: e for k, e in experiments.items() if not getattr(e, "study", False)}, list(notebooks)
    chosen_exp: dict[str, Experiment] = {}
    chosen_nb: list[Path] = []
    unknown = []
    for name in only:
        hit = False
        if name in experiments:
            chosen_exp[name] = experiments[name]
            hit = True
        for nb in notebooks:
            if name in _notebook_aliases(nb):
                if nb not in chosen_nb:
                    chosen_nb.append(nb)
                hit = True
        if not hit:
            unknown.append(name)
    if unknown:
        valid = sorted(experiments) + [nb.stem for nb in notebooks]
        raise ValueError(f"`--only` must name experiments or notebooks among {valid}; got unknown {unknown}.")
    return chosen_exp, sorted(chosen_nb)


# --------------------------------------------------------------------------------------------
# orchestration


def reproduce(
    *,
    quick: bool = True,
    only: Sequence[str] | None = None,
    workers: int | None = None,
    out_dir: str | Path | None = None,
    seed: int = 0,
    experiments: Mapping[str, Experiment] | None = None,
    notebooks: Sequence[str | Path] | None = None,
    notebooks_folder: str | Path | None = None,
    references: str | Path | None = None,
    results: str | Path | None = None,
    cell_timeout: float | None = None,
    progress: bool = True,
) -> Report:
    """Run every experiment and notebook (or those in ``only``) and write the report.

    Parameters
    ----------
    quick : bool
        Quick mode: small samples (experiments' ``quick=True``; notebooks get
        ``CONSENSUSLAB_QUICK=1``).
    only : sequence of str, optional
        Experiment and/or notebook names (see :func:`select`).
    workers : int, optional
        Jobs run at once (processes / kernels); default one per CPU.
    out_dir : path, optional
        Executed notebooks, their HTML, figures and the report (default :func:`default_output_dir`).
    seed : int
        Seed handed to every experiment.
    experiments : mapping, optional
        Default: every registered experiment.
    notebooks : sequence of paths, optional
        Default: the numbered notebooks in ``notebooks_folder`` (default: the repository's).
    references, results : path, optional
        Reference CSV folder (default :func:`consensuslab.references.references_dir`) and result-table folder
        (default :func:`consensuslab.experiments.runner.results_dir`).
    cell_timeout : float, optional
        Per-cell limit in seconds (default 60 quick, 1800 full).
    progress : bool
        Show a tqdm progress bar on stderr.

    Returns
    -------
    Report
        ``report.exit_code`` is 1 if any job failed. ``report.html`` and ``report.md`` are in
        ``out_dir``.

    Raises
    ------
    ValueError
        Bad ``workers``/``seed``, or an ``only`` name that matches nothing.
    """
    from tqdm.auto import tqdm

    from consensuslab.experiments.registry import all_experiments
    from consensuslab.notebook_runner import list_notebooks, reproduce_quick, runs_alone

    t0 = time.perf_counter()
    workers = check_int("workers", workers if workers is not None else (os.cpu_count() or 1), 1)
    seed = check_int("seed", seed, 0)
    if not isinstance(quick, bool):
        raise TypeError(f"`quick` must be a bool; got {describe(quick)}.")
    out = Path(out_dir) if out_dir is not None else default_output_dir()
    res = Path(results) if results is not None else results_dir()
    cell_timeout = cell_timeout if cell_timeout is not None else (60.0 if quick else 1800.0)
    warnings: list[str] = []
    outcomes: list[JobOutcome] = []

    if experiments is None:
        try:
            experiments = all_experiments()
        except Exception as exc:  # noqa: BLE001 - a broken topic module must not hide the rest
            experiments = {}
            outcomes.append(JobOutcome("experiment", "(registry)", False,
                                       error=f"loading the experiments failed: {type(exc).__name__}: {exc}",
                                       detail=_tail(traceback.format_exc(), 12)))
    nb_paths = [Path(p) for p in notebooks] if notebooks is not None else list_notebooks(
        Path(notebooks_folder) if notebooks_folder is not None else None)
    chosen_exp, chosen_nb = select(only, experiments, nb_paths)

    # the shared jobs start longest first (EXPECTED_SECONDS); a notebook that measures wall time
    # runs alone, after everything else (jobs.run_jobs).
    specs: list[JobSpec] = []
    for p in chosen_nb:
        alone = runs_alone(p)
        nb_quick = quick or reproduce_quick(p)  # long studies and live runs: quick unless asked for
        specs.append(JobSpec("notebook", p.stem, notebook_job,
                             (str(p.resolve()), nb_quick, str(out.resolve()), cell_timeout, seed, alone), alone=alone,
                             cost=_expected(p.stem, nb_quick)))
    specs += [JobSpec("experiment", name, experiment_job, (exp, quick, seed, str(res)), cost=_expected(name, quick))
              for name, exp in chosen_exp.items()]

    if specs:
        bar = tqdm(total=len(specs), desc="reproduce", unit="job", disable=not progress, file=sys.stderr)
        failed = 0

        def done(o: JobOutcome) -> None:
            nonlocal failed
            failed += not o.ok
            bar.set_postfix_str(f"{o.name} {'ok' if o.ok else 'FAILED'}; {failed} failed", refresh=False)
            bar.update(1)

        try:
            outcomes += run_jobs(specs, workers, done)
        finally:
            bar.close()
    else:
        warnings.append("nothing to run: no experiment is registered and no notebook was found.")

    measured: dict[str, float] = {}
    origins: dict[str, str] = {}
    estimates: dict[str, Estimate] = {}
    for o in outcomes:
        for key, value in o.measured.items():
            if key in measured:
                warnings.append(f"reference id {key!r} is measured by both {origins[key]} and {o.name}; keeping {origins[key]}.")
                continue
            measured[key] = value
            origins[key] = o.name
            if key in o.estimates:
                estimates[key] = o.estimates[key]
    try:
        refs = load_references(references)  # None: the repository's data/reference
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        refs = pd.DataFrame(columns=[*REFERENCE_COLUMNS, "kind", "file"])
        outcomes.append(JobOutcome("experiment", "(references)", False, error=str(exc)))
    table = compare(refs, measured, origins, estimates=estimates, quick=quick, include_unmeasured=not only)

    report = Report(outcomes, table, quick, out.resolve(), time.perf_counter() - t0, workers, seed, warnings)
    report.html_path = out.resolve() / "report.html"
    report.markdown_path = out.resolve() / "report.md"
    atomic_write(out.resolve() / "report.csv", lambda tmp: table.to_csv(tmp, index=False))
    atomic_write(report.html_path, lambda tmp: tmp.write_text(render_html(report), encoding="utf-8"))
    atomic_write(report.markdown_path, lambda tmp: tmp.write_text(render_markdown(report, figure_links=True), encoding="utf-8"))
    return report

"""Reproduce everything: run every experiment and notebook, then build the reproduction report.

Theory of operation
-------------------
``consensuslab reproduce`` is a small job scheduler plus a report builder.

*Jobs.* Every selected experiment (from :mod:`consensuslab.experiments.registry`) and every
numbered notebook (``notebooks/NN-*.ipynb``) is one job. Jobs run in a process pool of
``workers`` processes (default: one per CPU). An experiment job runs the experiment in the
worker with an in-process executor (the parallelism is *across* jobs, so trials are not
fanned out a second time) and writes ``data/results/NAME.csv`` plus a JSON sidecar. A notebook
job starts a fresh kernel through :func:`consensuslab.notebook_runner.execute_notebook`; the
worker mostly waits while the kernel computes, so ``workers`` kernels run side by side. The
executed notebook, its HTML (nbconvert's ``HTMLExporter``) and its figures (the PNG outputs)
go to the output folder. Every file is written to a temporary name and renamed
(:func:`consensuslab.experiments.runner.atomic_write`), so an interrupted run never leaves a
truncated file.

*Isolation.* A job that raises is caught inside its worker and reported as failed; the others
go on. A job that kills its worker process (a segfault, ``os._exit``) breaks the pool: the
jobs that had not finished are then re-run one at a time, each in a fresh single-process
pool, so the culprit fails alone. Any failure makes the exit code non-zero.

*Report.* :func:`compare` is a pure function: it joins the ``measured`` values of all
experiments with the reference rows of ``data/reference/*.csv`` (by ``id``) and computes the
deviation and whether it is within the stated tolerance (``abs``: ``|ours - ref| <= tol``;
``rel``: ``|ours - ref| <= tol * |ref|``). :func:`render_markdown` and :func:`render_html`
turn the joined table, the job outcomes and the figures into the terminal summary and
``report.html``.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import html
import io
import json
import math
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from consensuslab._validate import check_int, describe
from consensuslab.experiments.registry import Experiment, Result
from consensuslab.experiments.runner import atomic_write, results_dir

__all__ = [
    "REFERENCE_COLUMNS",
    "InlineExecutor",
    "JobOutcome",
    "Report",
    "compare",
    "load_references",
    "within_tolerance",
    "write_result",
    "select",
    "notebook_title",
    "reference_markdown",
    "render_markdown",
    "render_html",
    "reproduce",
    "repo_root",
    "default_output_dir",
    "references_dir",
]

#: Columns every ``data/reference/*.csv`` must have.
REFERENCE_COLUMNS: tuple[str, ...] = ("id", "quantity", "reference", "tolerance", "tolerance_kind", "unit", "source")

Kind = Literal["experiment", "notebook"]


# --------------------------------------------------------------------------------------------
# locations


def repo_root() -> Path | None:
    """The source checkout this package runs from (has ``pyproject.toml``), else ``None``."""
    root = Path(__file__).resolve().parents[1]
    return root if (root / "pyproject.toml").exists() else None


def references_dir() -> Path:
    """``data/reference`` of the source checkout, else ``./data/reference``."""
    root = repo_root()
    if root is not None and (root / "data" / "reference").is_dir():
        return root / "data" / "reference"
    return Path.cwd() / "data" / "reference"


def default_output_dir() -> Path:
    """``output/`` at the repository root (git-ignored), else ``./output``."""
    root = repo_root()
    return (root if root is not None else Path.cwd()) / "output"


# --------------------------------------------------------------------------------------------
# the pure part: references, tolerance, joining


def load_references(folder: str | Path) -> pd.DataFrame:
    """Read every ``*.csv`` in ``folder`` into one table of published numbers.

    Parameters
    ----------
    folder : path
        A folder of CSV files with the columns :data:`REFERENCE_COLUMNS` (extra columns kept).

    Returns
    -------
    pandas.DataFrame
        The rows of all files, in file then row order, plus a ``file`` column (the file name).
        Empty (with the columns) if the folder has no CSV file.

    Raises
    ------
    ValueError
        A file lacks a column, an ``id`` repeats, a value is not numeric, a tolerance is
        negative, or a ``tolerance_kind`` is not ``abs``/``rel``; the message names the file.
    """
    folder = Path(folder)
    frames = []
    for path in sorted(folder.glob("*.csv")):
        df = pd.read_csv(path, dtype={"id": str, "quantity": str, "unit": str, "source": str, "tolerance_kind": str})
        missing = [c for c in REFERENCE_COLUMNS if c not in df.columns]
        if missing:
            raise ValueError(f"reference file {path.name} must have the columns {list(REFERENCE_COLUMNS)}; missing {missing}.")
        for col in ("reference", "tolerance"):
            values = pd.to_numeric(df[col], errors="coerce")
            if values.isna().any():
                bad = df.loc[values.isna(), "id"].tolist()
                raise ValueError(f"reference file {path.name}: `{col}` must be a number; got a non-number for {bad}.")
            df[col] = values.astype(float)
        if (df["tolerance"] < 0).any():
            raise ValueError(f"reference file {path.name}: `tolerance` must be >= 0; got {df['tolerance'].min()}.")
        kinds = df["tolerance_kind"].fillna("").str.strip()
        if not kinds.isin(["abs", "rel"]).all():
            raise ValueError(
                f"reference file {path.name}: `tolerance_kind` must be one of ['abs', 'rel']; "
                f"got {sorted(set(kinds[~kinds.isin(['abs', 'rel'])]))}."
            )
        df["tolerance_kind"] = kinds
        df["id"] = df["id"].str.strip()
        df["unit"] = df["unit"].fillna("")
        df["file"] = path.name
        frames.append(df)
    if not frames:
        return pd.DataFrame(columns=[*REFERENCE_COLUMNS, "file"])
    refs = pd.concat(frames, ignore_index=True)
    dup = refs["id"][refs["id"].duplicated()].unique().tolist()
    if dup:
        raise ValueError(f"reference ids must be unique across data/reference/*.csv; repeated: {dup}.")
    return refs


def within_tolerance(ours: float, reference: float, tolerance: float, kind: str) -> bool:
    """Whether ``ours`` is within ``tolerance`` of ``reference``.

    Parameters
    ----------
    ours, reference : float
        Our value and the published one. A NaN or infinite ``ours`` is never within.
    tolerance : float
        Allowed deviation, >= 0.
    kind : {"abs", "rel"}
        ``abs``: ``|ours - reference| <= tolerance``; ``rel``: ``<= tolerance * |reference|``.

    Returns
    -------
    bool

    Examples
    --------
    >>> within_tolerance(0.52, 0.5, 0.05, "rel"), within_tolerance(0.56, 0.5, 0.05, "abs")
    (True, False)
    """
    if kind not in ("abs", "rel"):
        raise ValueError(f"`kind` must be one of ['abs', 'rel']; got {kind!r}.")
    if not (math.isfinite(ours) and math.isfinite(reference)):
        return False
    bound = tolerance if kind == "abs" else tolerance * abs(reference)
    # a hair of slack so that a value printed equal to the bound counts as within
    return abs(ours - reference) <= bound + 1e-12 * max(1.0, abs(reference))


def _as_float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def compare(
    references: pd.DataFrame,
    measured: Mapping[str, Any],
    origins: Mapping[str, str] | None = None,
    *,
    include_unmeasured: bool = True,
) -> pd.DataFrame:
    """Join measured values with the published reference rows.

    Parameters
    ----------
    references : pandas.DataFrame
        As returned by :func:`load_references`.
    measured : mapping of str to float
        Our values, keyed by reference ``id`` (all experiments' ``Result.measured`` merged).
    origins : mapping of str to str, optional
        Which experiment measured each id (shown in the report).
    include_unmeasured : bool
        Keep reference rows that nothing measured (status ``"not measured"``). Turn off when
        only some experiments ran (``--only``).

    Returns
    -------
    pandas.DataFrame
        One row per reference id (file order), then one per measured id without a reference:
        ``id, quantity, unit, reference, ours, deviation, rel_deviation, tolerance,
        tolerance_kind, within, status, source, experiment``. ``deviation`` is
        ``ours - reference``; ``rel_deviation`` is ``deviation / |reference|`` (NaN when the
        reference is 0); ``within`` is True/False, or None where there is nothing to compare;
        ``status`` is ``"ok"``, ``"out of tolerance"``, ``"not measured"``, ``"invalid"``
        (ours is not a finite number) or ``"no reference"``.
    """
    origins = dict(origins or {})
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for ref in references.to_dict("records"):
        rid = str(ref["id"])
        seen.add(rid)
        base = {
            "id": rid,
            "quantity": ref["quantity"],
            "unit": ref.get("unit", "") or "",
            "reference": float(ref["reference"]),
            "tolerance": float(ref["tolerance"]),
            "tolerance_kind": ref["tolerance_kind"],
            "source": ref["source"],
            "experiment": origins.get(rid, ""),
        }
        if rid not in measured:
            if include_unmeasured:
                rows.append({**base, "ours": float("nan"), "deviation": float("nan"), "rel_deviation": float("nan"), "within": None, "status": "not measured"})
            continue
        ours = _as_float(measured[rid])
        dev = ours - base["reference"]
        rel = dev / abs(base["reference"]) if base["reference"] != 0 else float("nan")
        if not math.isfinite(ours):
            within, status = False, "invalid"
        else:
            within = within_tolerance(ours, base["reference"], base["tolerance"], base["tolerance_kind"])
            status = "ok" if within else "out of tolerance"
        rows.append({**base, "ours": ours, "deviation": dev, "rel_deviation": rel, "within": within, "status": status})
    for mid in measured:
        if mid in seen:
            continue
        rows.append(
            {
                "id": mid, "quantity": "", "unit": "", "reference": float("nan"), "tolerance": float("nan"),
                "tolerance_kind": "", "source": "", "experiment": origins.get(mid, ""),
                "ours": _as_float(measured[mid]), "deviation": float("nan"), "rel_deviation": float("nan"),
                "within": None, "status": "no reference",
            }
        )
    columns = ["id", "quantity", "unit", "reference", "ours", "deviation", "rel_deviation", "tolerance",
               "tolerance_kind", "within", "status", "source", "experiment"]
    return pd.DataFrame(rows, columns=columns)


# --------------------------------------------------------------------------------------------
# jobs


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
    """A figure in the report: a PNG file and where it came from."""

    path: Path
    origin: str
    caption: str = ""


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
    files: list[Path] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    log: str = ""


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
    if hasattr(value, "item") and callable(value.item):
        try:
            return _jsonable(value.item())
        except (TypeError, ValueError):
            pass
    return repr(value)


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
        Recorded in the sidecar with the parameters, the package version and the time.
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
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    atomic_write(csv_path, lambda tmp: table.to_csv(tmp, index=False))
    atomic_write(json_path, lambda tmp: tmp.write_text(json.dumps(sidecar, indent=2, sort_keys=False) + "\n"))
    return csv_path, json_path


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def _experiment_job(exp: Experiment, quick: bool, seed: int, folder: str) -> JobOutcome:
    """Worker: run one experiment in this process; never raises."""
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
            measured=measured, files=list(files), log=_tail(buffer.getvalue()),
        )
    except BaseException as exc:  # noqa: BLE001 - a failed job must not abort the others
        if isinstance(exc, KeyboardInterrupt):
            raise
        return JobOutcome(
            "experiment", exp.name, False, time.perf_counter() - start,
            error=f"{type(exc).__name__}: {exc}",
            detail=_tail(traceback.format_exc(), 12), log=_tail(buffer.getvalue()),
        )


def notebook_title(path: str | Path) -> str:
    """The first Markdown heading of a notebook (its one-line description), else its name."""
    import nbformat

    try:
        nb = nbformat.read(Path(path), as_version=4)
    except Exception:  # noqa: BLE001 - an unreadable notebook still gets listed
        return Path(path).stem
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                line = line.strip()
                if line:
                    return line.lstrip("#").strip()
    return Path(path).stem


def _png_outputs(nb: Any) -> list[tuple[int, bytes]]:
    """(cell index, PNG bytes) of every image output, in order."""
    found = []
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []) or []:
            data = out.get("data", {}) if isinstance(out, Mapping) else {}
            png = data.get("image/png")
            if png:
                if isinstance(png, list):
                    png = "".join(png)
                found.append((index, base64.b64decode(png)))
    return found


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


def _notebook_job(path: str, quick: bool, out_dir: str, cell_timeout: float) -> JobOutcome:
    """Worker: execute one notebook, write the executed copy, its HTML and its figures."""
    import nbformat
    from nbconvert import HTMLExporter

    from consensuslab.notebook_runner import execute_notebook

    nb_path = Path(path)
    name = nb_path.stem
    out = Path(out_dir)
    start = time.perf_counter()
    try:
        with _quiet_fd2():  # the kernel's own stderr chatter would garble the progress bar
            run = execute_notebook(nb_path, quick=quick, cell_timeout=cell_timeout, cwd=nb_path.parent)
        files: list[Path] = []
        executed = out / "notebooks" / f"{name}.ipynb"
        atomic_write(executed, lambda tmp: nbformat.write(run.nb, str(tmp)))
        files.append(executed)
        try:
            body, _ = HTMLExporter().from_notebook_node(run.nb)
            page = out / "notebooks" / f"{name}.html"
            atomic_write(page, lambda tmp: tmp.write_text(body, encoding="utf-8"))
            files.append(page)
        except Exception as exc:  # noqa: BLE001 - HTML is a convenience; keep the rest
            if run.ok:
                return JobOutcome("notebook", name, False, time.perf_counter() - start,
                                  error=f"HTML export failed: {type(exc).__name__}: {exc}", files=files)
        figures = []
        for k, (cell, png) in enumerate(_png_outputs(run.nb), start=1):
            fig_path = out / "figures" / f"{name}-{k:02d}.png"
            atomic_write(fig_path, functools.partial(Path.write_bytes, data=png))  # tmp.write_bytes(png)
            figures.append(Figure(fig_path, name, f"{name}, cell {cell + 1}"))
        if run.ok:
            detail = f"{len(run.cell_durations)} code cells, {len(figures)} figure(s)"
            return JobOutcome("notebook", name, True, run.duration, detail=detail, files=files, figures=figures)
        where = f" in cell {run.failed_cell + 1}" if run.failed_cell is not None else ""
        return JobOutcome("notebook", name, False, run.duration, error=f"{run.error}{where}",
                          detail=f"executed copy: {executed}", files=files, figures=figures)
    except BaseException as exc:  # noqa: BLE001 - a failed job must not abort the others
        if isinstance(exc, KeyboardInterrupt):
            raise
        return JobOutcome("notebook", name, False, time.perf_counter() - start,
                          error=f"{type(exc).__name__}: {exc}", detail=_tail(traceback.format_exc(), 12))


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
    if not only:
        return dict(experiments), list(notebooks)
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
# the report


@dataclass
class Report:
    """Everything ``reproduce`` did: job outcomes, the joined reference table, where files went."""

    outcomes: list[JobOutcome]
    table: pd.DataFrame
    quick: bool
    out_dir: Path
    duration: float
    workers: int
    seed: int
    warnings: list[str] = field(default_factory=list)
    html_path: Path | None = None
    markdown_path: Path | None = None

    @property
    def failures(self) -> list[JobOutcome]:
        """The jobs that failed."""
        return [o for o in self.outcomes if not o.ok]

    @property
    def exit_code(self) -> int:
        """0 when every job succeeded, else 1."""
        return 1 if self.failures else 0

    @property
    def figures(self) -> list[Figure]:
        """All figures, in job order."""
        return [f for o in self.outcomes for f in o.figures]


def _fmt(x: Any, digits: int = 4) -> str:
    if x is None:
        return ""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if math.isnan(v):
        return "–"
    if v == 0:
        return "0"
    if abs(v) >= 1e5 or abs(v) < 1e-3:
        return f"{v:.{digits - 1}e}"
    return f"{v:.{digits}g}"


def _fmt_deviation(row: Mapping[str, Any]) -> str:
    dev = row["deviation"]
    if dev is None or (isinstance(dev, float) and math.isnan(dev)):
        return "–"
    if abs(dev) <= 1e-12 * max(1.0, abs(float(row["reference"]))):
        return "0"
    text = f"{'+' if dev >= 0 else '-'}{_fmt(abs(dev))}"
    rel = row["rel_deviation"]
    if rel is not None and math.isfinite(rel):
        text += f" ({rel:+.1%})"
    return text


def _fmt_tolerance(row: Mapping[str, Any]) -> str:
    tol = row["tolerance"]
    if tol is None or (isinstance(tol, float) and math.isnan(tol)):
        return ""
    return f"±{tol:.0%}" if row["tolerance_kind"] == "rel" and tol < 10 else f"±{_fmt(tol)}"


_MARK = {"ok": "yes", "out of tolerance": "NO", "not measured": "not measured", "invalid": "NO (not a number)", "no reference": "no reference"}


def _md_cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _md_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _clip(text: Any, width: int | None) -> str:
    text = str(text)
    return text if width is None or len(text) <= width else text[: width - 1] + "…"


def reference_markdown(table: pd.DataFrame, *, width: int | None = None) -> str:
    """A Markdown table of :func:`compare`'s rows: reference (with unit), ours, deviation,
    tolerance, within?, source. ``width`` clips the quantity and source texts (terminal use)."""
    rows = [
        (r["id"], _clip(r["quantity"], width), _fmt(r["reference"]) + (f" {r['unit']}" if r["unit"] else ""),
         _fmt(r["ours"]), _fmt_deviation(r), _fmt_tolerance(r), _MARK.get(r["status"], r["status"]),
         _clip(r["source"], width))
        for r in table.to_dict("records")
    ]
    return _md_table(["id", "quantity", "reference", "ours", "deviation", "tolerance", "within?", "source"], rows)


def _counts(report: Report) -> dict[str, int]:
    status = report.table["status"].value_counts().to_dict() if len(report.table) else {}
    return {k: int(status.get(k, 0)) for k in ("ok", "out of tolerance", "not measured", "invalid", "no reference")}


def render_markdown(report: Report, *, figure_links: bool = False, width: int | None = None) -> str:
    """The Markdown summary printed to the terminal (and saved as ``report.md``).

    Parameters
    ----------
    report : Report
    figure_links : bool
        List figures as Markdown images (for ``report.md``) instead of a count per notebook.
    width : int, optional
        Clip long quantity/source texts to this many characters (terminal use).
    """
    from consensuslab import __version__

    mode = "quick" if report.quick else "full"
    c = _counts(report)
    n_ref = sum(v for k, v in c.items() if k != "no reference")
    out = [
        f"# consensuslab reproduction report ({mode} mode)",
        "",
        f"consensuslab {__version__}, seed {report.seed}, {report.workers} worker(s), "
        f"{report.duration:.1f} s; {len(report.outcomes)} job(s), {len(report.failures)} failed.",
        "",
    ]
    if report.quick:
        out += ["Quick mode uses small samples: a few deviations beyond tolerance are expected; "
                "run `consensuslab reproduce --full` for the published-size runs.", ""]
    out += [f"## Published numbers: {c['ok']} of {n_ref} within tolerance"
            + (f", {c['out of tolerance'] + c['invalid']} outside" if c["out of tolerance"] + c["invalid"] else "")
            + (f", {c['not measured']} not measured" if c["not measured"] else ""), ""]
    if len(report.table):
        out += [reference_markdown(report.table, width=width), ""]
    else:
        out += ["(no reference rows)", ""]
    out += ["## Jobs", ""]
    out += [_md_table(
        ["job", "kind", "status", "time", "detail"],
        [(o.name, o.kind, "ok" if o.ok else "FAILED", f"{o.duration:.1f} s", (o.error or o.detail).splitlines()[0] if (o.error or o.detail) else "")
         for o in report.outcomes],
    ), ""]
    if report.failures:
        out += ["## Failures", ""]
        for o in report.failures:
            out += [f"- **{o.kind} {o.name}**: {o.error}"]
        out += [""]
    for w in report.warnings:
        out += [f"> warning: {w}", ""]
    figures = report.figures
    out += [f"## Figures ({len(figures)})", ""]
    if figure_links:
        for f in figures:
            rel = os.path.relpath(f.path, report.out_dir)
            out += [f"![{f.caption}]({rel})"]
    else:
        per: dict[str, int] = {}
        for f in figures:
            per[f.origin] = per.get(f.origin, 0) + 1
        if per:
            out += [", ".join(f"{k}: {v}" for k, v in per.items())]
    if report.html_path is not None:
        out += ["", f"Full report: {report.html_path}"]
    return "\n".join(out).rstrip() + "\n"


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1500px;color:#222;padding:0 1rem}
h1{font-size:1.6rem}h2{margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{border:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f4f4}td code{overflow-wrap:anywhere;font-size:.8rem}td.id{min-width:10rem;max-width:16rem}td.src{font-size:.8rem;color:#444;max-width:24rem}td.q{max-width:20rem}.wide{overflow-x:auto}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.ok td.st{background:#e3f6e3}tr.bad td.st{background:#fbe0e0}tr.miss td.st{background:#fff3cd}
.note{background:#fff8e1;border-left:4px solid #f0c040;padding:.5rem 1rem}
.fail{background:#fdecea;border-left:4px solid #d33;padding:.5rem 1rem}
pre{white-space:pre-wrap;font-size:.8rem;background:#f7f7f7;padding:.5rem}
figure{display:inline-block;margin:.5rem;max-width:46%;vertical-align:top}
figure img{max-width:100%;border:1px solid #eee}figcaption{font-size:.8rem;color:#555}
"""


def render_html(report: Report) -> str:
    """The standalone ``report.html``: summary, reference table, jobs, failures, figures."""
    from consensuslab import __version__

    esc = html.escape
    mode = "quick" if report.quick else "full"
    c = _counts(report)
    n_ref = sum(v for k, v in c.items() if k != "no reference")
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>consensuslab reproduction report ({mode})</title><style>{_CSS}</style></head><body>",
        f"<h1>consensuslab reproduction report <small>({mode} mode)</small></h1>",
        f"<p>consensuslab {esc(__version__)} · seed {report.seed} · {report.workers} worker(s) · "
        f"{report.duration:.1f} s · {esc(when)} · Python {esc(platform.python_version())} on {os.cpu_count()} CPU(s)</p>",
        f"<p><b>{c['ok']}</b> of {n_ref} published numbers within tolerance; "
        f"{c['out of tolerance'] + c['invalid']} outside; {c['not measured']} not measured. "
        f"{len(report.outcomes)} job(s), <b>{len(report.failures)}</b> failed.</p>",
    ]
    if report.quick:
        parts.append("<p class='note'>Quick mode uses small samples, so some deviations may exceed the tolerance "
                     "stated for the published-size run. Run <code>consensuslab reproduce --full</code> for that.</p>")
    for w in report.warnings:
        parts.append(f"<p class='note'>{esc(w)}</p>")
    if report.failures:
        parts.append("<h2>Failures</h2>")
        for o in report.failures:
            parts.append(f"<div class='fail'><b>{esc(o.kind)} {esc(o.name)}</b>: {esc(o.error or '')}"
                         + (f"<pre>{esc(o.detail)}</pre>" if o.detail else "")
                         + (f"<details><summary>output</summary><pre>{esc(o.log)}</pre></details>" if o.log else "")
                         + "</div>")
    parts.append("<h2>Published numbers</h2>")
    if len(report.table):
        parts.append("<div class='wide'><table><tr><th>id</th><th>quantity</th><th>reference</th><th>ours</th><th>deviation</th>"
                     "<th>tolerance</th><th>within?</th><th>source</th><th>experiment</th></tr>")
        for r in report.table.to_dict("records"):
            cls = {"ok": "ok", "out of tolerance": "bad", "invalid": "bad"}.get(r["status"], "miss")
            unit = f" {esc(str(r['unit']))}" if r["unit"] else ""
            parts.append(
                f"<tr class='{cls}'><td class='id'><code>{esc(r['id'])}</code></td><td class='q'>{esc(str(r['quantity']))}</td>"
                f"<td class='num'>{esc(_fmt(r['reference']))}{unit}</td><td class='num'>{esc(_fmt(r['ours']))}</td>"
                f"<td class='num'>{esc(_fmt_deviation(r))}</td><td class='num'>{esc(_fmt_tolerance(r))}</td>"
                f"<td class='st'>{esc(_MARK.get(r['status'], r['status']))}</td><td class='src'>{esc(str(r['source']))}</td>"
                f"<td>{esc(str(r['experiment']))}</td></tr>"
            )
        parts.append("</table></div>")
    else:
        parts.append("<p>(no reference rows)</p>")
    parts.append("<h2>Jobs</h2><table><tr><th>job</th><th>kind</th><th>status</th><th>time</th><th>detail</th><th>files</th></tr>")
    for o in report.outcomes:
        links = " ".join(
            f"<a href='{esc(os.path.relpath(p, report.out_dir))}'>{esc(Path(p).name)}</a>" for p in o.files
        )
        status = "ok" if o.ok else "FAILED"
        parts.append(
            f"<tr class='{'ok' if o.ok else 'bad'}'><td>{esc(o.name)}</td><td>{o.kind}</td><td class='st'>{status}</td>"
            f"<td class='num'>{o.duration:.1f} s</td><td>{esc((o.error or o.detail).splitlines()[0] if (o.error or o.detail) else '')}</td>"
            f"<td>{links}</td></tr>"
        )
    parts.append("</table>")
    figures = report.figures
    parts.append(f"<h2>Figures ({len(figures)})</h2>")
    for f in figures:
        rel = os.path.relpath(f.path, report.out_dir)
        parts.append(f"<figure><img src='{esc(rel)}' alt='{esc(f.caption)}' loading='lazy'>"
                     f"<figcaption>{esc(f.caption)}</figcaption></figure>")
    parts.append("</body></html>")
    return "\n".join(parts)


# --------------------------------------------------------------------------------------------
# orchestration


JobSpec = tuple[Kind, str, Callable[..., JobOutcome], tuple[Any, ...]]


def _crash_outcome(spec: JobSpec, exc: BaseException) -> JobOutcome:
    kind, name, _, _ = spec
    return JobOutcome(kind, name, False, error=f"worker process died ({type(exc).__name__}: {exc})")


def _run_pool(specs: list[JobSpec], workers: int, on_done: Callable[[JobOutcome], None]) -> list[JobOutcome]:
    """Run the jobs on a process pool; re-run survivors of a broken pool one by one."""
    outcomes: dict[int, JobOutcome] = {}
    broken = False
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(fn, *args): i for i, (_, _, fn, args) in enumerate(specs)}
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
        for i, spec in enumerate(specs):
            if i in outcomes:
                continue
            with ProcessPoolExecutor(max_workers=1) as solo:
                try:
                    outcomes[i] = solo.submit(spec[2], *spec[3]).result()
                except BaseException as exc:  # noqa: BLE001 - this job is the one that kills workers
                    if isinstance(exc, KeyboardInterrupt):
                        raise
                    outcomes[i] = _crash_outcome(spec, exc)
            on_done(outcomes[i])
    return [outcomes[i] for i in range(len(specs))]


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
        Reference CSV folder (default :func:`references_dir`) and result-table folder
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
    from consensuslab.notebook_runner import list_notebooks

    t0 = time.perf_counter()
    workers = check_int("workers", workers if workers is not None else (os.cpu_count() or 1), 1)
    seed = check_int("seed", seed, 0)
    if not isinstance(quick, bool):
        raise TypeError(f"`quick` must be a bool; got {describe(quick)}.")
    out = Path(out_dir) if out_dir is not None else default_output_dir()
    res = Path(results) if results is not None else results_dir()
    ref_dir = Path(references) if references is not None else references_dir()
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

    # notebooks first: they are the long jobs; experiments fill the gaps
    specs: list[JobSpec] = [("notebook", p.stem, _notebook_job, (str(p.resolve()), quick, str(out.resolve()), cell_timeout))
                            for p in chosen_nb]
    specs += [("experiment", name, _experiment_job, (exp, quick, seed, str(res))) for name, exp in chosen_exp.items()]

    if specs:
        bar = tqdm(total=len(specs), desc="reproduce", unit="job", disable=not progress, file=sys.stderr)
        failed = 0

        def done(o: JobOutcome) -> None:
            nonlocal failed
            failed += not o.ok
            bar.set_postfix_str(f"{o.name} {'ok' if o.ok else 'FAILED'}; {failed} failed", refresh=False)
            bar.update(1)

        try:
            outcomes += _run_pool(specs, min(workers, len(specs)), done)
        finally:
            bar.close()
    else:
        warnings.append("nothing to run: no experiment is registered and no notebook was found.")

    measured: dict[str, float] = {}
    origins: dict[str, str] = {}
    for o in outcomes:
        for key, value in o.measured.items():
            if key in measured:
                warnings.append(f"reference id {key!r} is measured by both {origins[key]} and {o.name}; keeping {origins[key]}.")
                continue
            measured[key] = value
            origins[key] = o.name
    try:
        refs = load_references(ref_dir)
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        refs = pd.DataFrame(columns=[*REFERENCE_COLUMNS, "file"])
        outcomes.append(JobOutcome("experiment", "(references)", False, error=str(exc)))
    table = compare(refs, measured, origins, include_unmeasured=not only)

    report = Report(outcomes, table, quick, out.resolve(), time.perf_counter() - t0, workers, seed, warnings)
    report.html_path = out.resolve() / "report.html"
    report.markdown_path = out.resolve() / "report.md"
    atomic_write(out.resolve() / "report.csv", lambda tmp: table.to_csv(tmp, index=False))
    atomic_write(report.html_path, lambda tmp: tmp.write_text(render_html(report), encoding="utf-8"))
    atomic_write(report.markdown_path, lambda tmp: tmp.write_text(render_markdown(report, figure_links=True), encoding="utf-8"))
    return report

"""Execute notebooks headless, robustly: the harness behind the tests and ``reproduce``.

Theory of operation
-------------------
Each notebook runs in a fresh IPython kernel (``jupyter_client``), cell by cell. Instead of
blocking on the kernel's reply for a whole cell timeout, the executor *polls in short slices*
(0.1 s): it drains the IOPub channel (collecting outputs for the cell) and checks the shell
channel for the ``execute_reply``. A cell is done when both its reply and its ``idle`` status
have arrived — or, if the reply has arrived but the ``idle`` message is late (a known stall
with widget cells), after a short grace period. This avoids the failure mode where a client
waits out a long per-cell timeout on a cell that has in fact finished. A cell that is still
running after ``cell_timeout`` seconds is interrupted and reported as a failure.

Every IOPub message of the cell is handed to nbclient's own message handler
(``NotebookClient.process_message``), so the executed notebook is what ``nbclient`` would
write: each code cell keeps its execution count, outputs captured by an ``ipywidgets.Output``
go into that widget's state (not into the cell, where a static export would show them loose),
and the state of every widget is stored in the notebook metadata
(``application/vnd.jupyter.widget-state+json``, nbclient's ``store_widget_state``), so an HTML
export draws the widgets instead of printing their ``repr``.

Quick mode sets ``CONSENSUSLAB_QUICK=1`` in the kernel's environment; notebooks read it in
their tagged ``parameters`` cell to shrink trial counts. ``MPLBACKEND`` is *not* forced on
notebooks (the inline backend is what puts figures in the outputs).

A notebook that measures wall time declares it in its metadata
(``"consensuslab": {"run_alone": true}``, :func:`runs_alone`): ``consensuslab reproduce`` runs
it after the others, with nothing else running. :func:`notebook_title` and
:func:`figure_cells` give the report its figure captions and links.
"""

from __future__ import annotations

import os
import queue
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

__all__ = [
    "NotebookRun", "FigureCell", "execute_notebook", "notebooks_dir", "list_notebooks", "notebook_title",
    "runs_alone", "figure_cells", "WIDGET_STATE_KEY",
]

#: Notebook metadata key of the stored widget state (nbclient's and nbconvert's).
WIDGET_STATE_KEY = "application/vnd.jupyter.widget-state+json"

_SLICE = 0.1
_IDLE_GRACE = 2.0


@dataclass
class NotebookRun:
    """Outcome of executing one notebook."""

    path: Path
    nb: Any
    ok: bool
    error: str | None = None
    failed_cell: int | None = None
    duration: float = 0.0
    cell_durations: list[float] = field(default_factory=list)


def notebooks_dir() -> Path:
    """The repository's ``notebooks/`` folder (source checkout), else ``./notebooks``."""
    root = Path(__file__).resolve().parents[1]
    if (root / "notebooks").is_dir():
        return root / "notebooks"
    return Path.cwd() / "notebooks"


def list_notebooks(folder: Path | None = None) -> list[Path]:
    """Numbered notebooks ``NN-*.ipynb``, in order."""
    folder = notebooks_dir() if folder is None else Path(folder)
    return sorted(p for p in folder.glob("[0-9][0-9]-*.ipynb"))


class _Handler:
    """nbclient's message handling (outputs, Output widgets, widget state), without its loop."""

    def __init__(self, nb: Any, km: Any, kc: Any) -> None:
        from nbclient import NotebookClient

        self.client = NotebookClient(nb, km=km, store_widget_state=True, record_timing=False)
        self.client.kc = kc
        self.client.reset_execution_trackers()

    def start(self, cell: Any) -> None:
        """Reset the per-cell state, as ``NotebookClient.async_execute_cell`` does."""
        cell.outputs = []
        self.client.clear_before_next_output = False

    def process(self, msg: dict, cell: Any, index: int) -> bool:
        """Apply one IOPub message to ``cell``; True when it is the cell's ``idle`` status."""
        from nbclient.exceptions import CellExecutionComplete

        try:
            self.client.process_message(msg, cell, index)
        except CellExecutionComplete:
            return True
        return False

    def finish(self) -> None:
        """Store the widget state in the notebook metadata (nbclient's ``set_widgets_metadata``)."""
        self.client.set_widgets_metadata()


def _run_cell(kc: Any, handler: _Handler, cell: Any, index: int, cell_timeout: float) -> tuple[str | None, float]:
    """Execute ``cell`` (its outputs and execution count are filled in); return (error or None, seconds)."""
    start = time.monotonic()
    handler.start(cell)
    msg_id = kc.execute(cell.source, store_history=True, allow_stdin=False)
    reply_at: float | None = None
    idle = False
    error = None
    while True:
        # drain iopub in short slices
        try:
            msg = kc.get_iopub_msg(timeout=_SLICE)
        except queue.Empty:
            msg = None
        if msg is not None and msg.get("parent_header", {}).get("msg_id") == msg_id:
            if msg["msg_type"] == "error" and error is None:
                error = f"{msg['content'].get('ename')}: {msg['content'].get('evalue')}"
            idle = handler.process(msg, cell, index) or idle
        if reply_at is None:
            try:
                r = kc.get_shell_msg(timeout=0)
            except queue.Empty:
                r = None
            if r is not None and r.get("parent_header", {}).get("msg_id") == msg_id:
                reply_at = time.monotonic()
                content = r["content"]
                if content.get("execution_count") is not None:
                    cell.execution_count = content["execution_count"]
                if content.get("status") == "error" and error is None:
                    error = f"{content.get('ename')}: {content.get('evalue')}"
        now = time.monotonic()
        if reply_at is not None and (idle or now - reply_at > _IDLE_GRACE):
            return error, now - start
        if now - start > cell_timeout:
            return f"cell timed out after {cell_timeout:.0f} s", now - start


def execute_notebook(
    path: str | Path,
    *,
    quick: bool = True,
    cell_timeout: float = 60.0,
    env: dict[str, str] | None = None,
    cwd: str | Path | None = None,
    kernel_name: str = "python3",
) -> NotebookRun:
    """Execute the notebook at ``path`` top to bottom; stop at the first failing cell.

    Parameters
    ----------
    path : path
        The ``.ipynb`` file (not modified; the executed copy is ``NotebookRun.nb``).
    quick : bool
        Set ``CONSENSUSLAB_QUICK=1`` in the kernel environment.
    cell_timeout : float
        Seconds a single cell may run.
    env : dict, optional
        Extra environment variables for the kernel.
    cwd : path, optional
        Working directory of the kernel (default: the notebook's folder).

    Returns
    -------
    NotebookRun
        ``ok`` False with ``error`` and ``failed_cell`` (index) on the first failure.
    """
    from jupyter_client.manager import start_new_kernel

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    kernel_env = dict(os.environ)
    kernel_env.pop("MPLBACKEND", None)  # figures must render inline in notebooks
    if quick:
        kernel_env["CONSENSUSLAB_QUICK"] = "1"
    else:
        kernel_env.pop("CONSENSUSLAB_QUICK", None)
    kernel_env.update(env or {})
    t0 = time.monotonic()
    km, kc = start_new_kernel(
        kernel_name=kernel_name, cwd=str(cwd or path.parent), env=kernel_env, startup_timeout=60
    )
    run = NotebookRun(path=path, nb=nb, ok=True)
    handler = _Handler(nb, km, kc)
    try:
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            error, seconds = _run_cell(kc, handler, cell, index, cell_timeout)
            run.cell_durations.append(seconds)
            if error is not None:
                if "timed out" in error:
                    km.interrupt_kernel()
                run.ok = False
                run.error = error
                run.failed_cell = index
                break
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    handler.finish()
    run.duration = time.monotonic() - t0
    return run


def _read(path: str | Path) -> Any | None:
    try:
        return nbformat.read(Path(path), as_version=4)
    except Exception:  # noqa: BLE001 - an unreadable notebook still gets listed
        return None


def notebook_title(path: str | Path) -> str:
    """The first Markdown heading of a notebook (its one-line description), else its name."""
    nb = _read(path)
    for cell in nb.cells if nb is not None else []:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                line = line.strip()
                if line:
                    return line.lstrip("#").strip()
    return Path(path).stem


def runs_alone(path: str | Path) -> bool:
    """Whether the notebook asks to run with nothing else running (it measures wall time).

    Set in the notebook's metadata: ``"consensuslab": {"run_alone": true}``.
    """
    nb = _read(path)
    return bool(nb is not None and nb.metadata.get("consensuslab", {}).get("run_alone", False))


def reproduce_quick(path: str | Path) -> bool:
    """Whether ``consensuslab reproduce`` runs the notebook in quick mode even in a full run.

    For notebooks whose full size is a long study or a live measurement (minutes to an hour),
    not a reproduction of a published figure: their full run is asked for explicitly
    (``CONSENSUSLAB_QUICK=0`` in Jupyter, or the experiment through ``consensuslab run``). Set in
    the notebook's metadata: ``"consensuslab": {"reproduce_quick": true}``.
    """
    nb = _read(path)
    return bool(nb is not None and nb.metadata.get("consensuslab", {}).get("reproduce_quick", False))


@dataclass(frozen=True)
class FigureCell:
    """A PNG output of an executed notebook and where it sits."""

    cell_index: int
    cell_id: str
    png: bytes
    title: str  # the notebook's title for it: the nearest Markdown heading above the cell


def figure_cells(nb: Any) -> list[FigureCell]:
    """Every PNG output of an executed notebook, in order, with its cell and section title.

    The title is the nearest Markdown heading above the figure's cell (the section the
    notebook puts the figure in), else the notebook's title.
    """
    import base64

    found = []
    heading = ""
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.lstrip().startswith("#"):
                    heading = line.strip().lstrip("#").strip()
                    break
            continue
        for out in cell.get("outputs", []) or []:
            data = out.get("data", {}) if hasattr(out, "get") else {}
            png = data.get("image/png")
            if png:
                if isinstance(png, list):
                    png = "".join(png)
                found.append(FigureCell(index, str(cell.get("id", "")), base64.b64decode(png), heading))
    return found


def export_html(nb: Any) -> str:
    """The executed notebook as a standalone HTML page (nbconvert's ``HTMLExporter``).

    Widgets render from the stored widget state (nbconvert embeds the widget manager's script,
    loaded by the browser). A widget output's plain-text ``repr`` (``VBox(children=(...))``) is
    dropped first, and a widget output whose state is missing is dropped whole: a widget that
    cannot render statically shows nothing rather than its repr. Execution counts are
    kept (``In [3]:``). The notebook passed in is not modified.
    """
    import copy

    from nbconvert import HTMLExporter

    nb = copy.deepcopy(nb)
    stored = set(nb.metadata.get("widgets", {}).get(WIDGET_STATE_KEY, {}).get("state", {}))
    for cell in nb.cells:
        kept = []
        for out in cell.get("outputs", []) or []:
            data = out.get("data") if hasattr(out, "get") else None
            view = data.get("application/vnd.jupyter.widget-view+json") if data else None
            if data and view is not None:
                data.pop("text/plain", None)
                if view.get("model_id") not in stored:
                    continue  # cannot render statically: show nothing rather than a repr
            kept.append(out)
        if cell.cell_type == "code":
            cell.outputs = kept
    body, _ = HTMLExporter().from_notebook_node(nb)
    return str(body)

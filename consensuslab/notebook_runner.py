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

Quick mode sets ``CONSENSUSLAB_QUICK=1`` in the kernel's environment; notebooks read it in
their tagged ``parameters`` cell to shrink trial counts. ``MPLBACKEND`` is *not* forced on
notebooks (the inline backend is what puts figures in the outputs).
"""

from __future__ import annotations

import os
import queue
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

__all__ = ["NotebookRun", "execute_notebook", "notebooks_dir", "list_notebooks"]

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


def _run_cell(kc: Any, code: str, cell_timeout: float) -> tuple[list, str | None, float]:
    """Execute ``code``; return (outputs, error text or None, seconds)."""
    start = time.monotonic()
    msg_id = kc.execute(code, store_history=True, allow_stdin=False)
    outputs: list = []
    reply = None
    reply_at: float | None = None  # set together with reply
    idle = False
    error = None
    while True:
        # drain iopub in short slices
        try:
            msg = kc.get_iopub_msg(timeout=_SLICE)
        except queue.Empty:
            msg = None
        if msg is not None and msg.get("parent_header", {}).get("msg_id") == msg_id:
            mtype = msg["msg_type"]
            content = msg["content"]
            if mtype == "status":
                idle = content.get("execution_state") == "idle"
            elif mtype in ("stream", "display_data", "execute_result", "error"):
                outputs.append(nbformat.v4.output_from_msg(msg))
                if mtype == "error":
                    error = f"{content.get('ename')}: {content.get('evalue')}"
            elif mtype == "clear_output":
                outputs.clear()
        if reply is None:
            try:
                r = kc.get_shell_msg(timeout=0)
            except queue.Empty:
                r = None
            if r is not None and r.get("parent_header", {}).get("msg_id") == msg_id:
                reply = r
                reply_at = time.monotonic()
                if r["content"].get("status") == "error" and error is None:
                    c = r["content"]
                    error = f"{c.get('ename')}: {c.get('evalue')}"
        now = time.monotonic()
        if reply_at is not None and (idle or now - reply_at > _IDLE_GRACE):
            return outputs, error, now - start
        if now - start > cell_timeout:
            return outputs, f"cell timed out after {cell_timeout:.0f} s", now - start


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
    try:
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            outputs, error, seconds = _run_cell(kc, cell.source, cell_timeout)
            cell.outputs = outputs
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
    run.duration = time.monotonic() - t0
    return run

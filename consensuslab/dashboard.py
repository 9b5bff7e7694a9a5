"""Serve the notebooks as live dashboards with Voilà, on loopback only.

Theory of operation
-------------------
Voilà runs a notebook in a fresh kernel and renders its outputs — widgets included, live —
as a web page without the code (``--strip_sources=True``). :func:`voila_command` builds the
command line (always ``--no-browser`` and ``--Voila.ip=127.0.0.1``; ``port_retries=0`` so the
printed URL is the real one), :func:`find_free_port` asks the OS for an unused loopback port,
and :func:`start_voila` starts the server as a child process with its log in a file, then
polls it with a cheap HTTP request in short slices until it answers (any HTTP status counts)
or the process dies or the time limit passes. The kernels inherit the server's environment:
``CONSENSUSLAB_QUICK=1`` when ``quick`` (small samples, fast first render) and never
``MPLBACKEND`` (the inline backend is what draws figures into the page).

Serving one notebook puts it at ``/``; serving the notebooks folder lists them at ``/`` and
renders each at ``/voila/render/NAME.ipynb`` (:meth:`VoilaServer.notebook_url`).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from consensuslab._validate import check_float, check_int, describe

__all__ = ["HOST", "find_free_port", "resolve_notebook", "voila_command", "VoilaServer", "start_voila", "serve"]

#: Dashboards listen on loopback only.
HOST = "127.0.0.1"


def find_free_port(host: str = HOST) -> int:
    """A TCP port on ``host`` that is free right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _port_in_use(port: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def resolve_notebook(name: str | Path, folder: str | Path | None = None) -> Path:
    """Find a notebook by path, file name, stem (``03-raft-election``), number (``03``) or topic.

    Raises
    ------
    ValueError
        Nothing (or more than one notebook) matches; the message lists the notebooks.
    """
    from consensuslab.notebook_runner import list_notebooks, notebooks_dir

    if not isinstance(name, (str, Path)):
        raise TypeError(f"`notebook` must be a path or a name; got {describe(name)}.")
    direct = Path(name)
    if direct.suffix == ".ipynb" and direct.is_file():
        return direct.resolve()
    folder = Path(folder) if folder is not None else notebooks_dir()
    notebooks = list_notebooks(folder)
    text = str(name)
    hits = [p for p in notebooks if text in {p.name, p.stem, p.stem.partition("-")[0], p.stem.partition("-")[2]}]
    if len(hits) == 1:
        return hits[0].resolve()
    names = [p.stem for p in notebooks]
    if not hits:
        raise ValueError(f"`notebook` must be one of {names} (or a number like '03', or a path); got {text!r}.")
    raise ValueError(f"`notebook` {text!r} is ambiguous: it matches {[p.stem for p in hits]}.")


def voila_command(
    target: str | Path, port: int, *, cell_timeout: float | None = None, extra: tuple[str, ...] = ()
) -> list[str]:
    """The command that serves ``target`` (a notebook or a folder) on ``127.0.0.1:port``.

    ``cell_timeout`` (seconds) bounds each cell of the server-side execution, so that a cell that
    never finishes ends in an error on the page rather than a spinner (Voilà's own stall on a
    cell whose Output widget captured display output, voila-dashboards/voila#1428, is avoided
    at the source: :meth:`consensuslab.widgets.base.Explorer.show` never captures).
    """
    port = check_int("port", port, 1, 65535)
    timeout = [] if cell_timeout is None else [f"--VoilaExecutor.timeout={max(1, round(cell_timeout))}"]
    return [
        sys.executable, "-m", "voila", str(target),
        "--no-browser",
        f"--port={port}",
        "--Voila.port_retries=0",
        f"--Voila.ip={HOST}",
        "--strip_sources=True",
        "--show_tracebacks=True",
        *timeout,
        *extra,
    ]


@dataclass
class VoilaServer:
    """A running Voilà server (a child process). Use as a context manager or call :meth:`stop`."""

    process: subprocess.Popen
    port: int
    target: Path
    log_path: Path
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """The base URL (the notebook itself when serving one notebook)."""
        return f"http://{HOST}:{self.port}/"

    def notebook_url(self, notebook: str | Path) -> str:
        """URL of one notebook when serving a folder (``/voila/render/NAME.ipynb``)."""
        if self.target.is_file():
            return self.url
        rel = Path(notebook).resolve().relative_to(self.target.resolve()) if Path(notebook).is_absolute() else Path(notebook)
        return f"{self.url}voila/render/{urllib.parse.quote(rel.as_posix())}"

    def log(self) -> str:
        """Everything the server has logged so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate the server (and with it its kernels); kill it if it does not exit."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> "VoilaServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def _answers(url: str, timeout: float) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout):
            return True
    except urllib.error.HTTPError:
        return True  # any HTTP status means the server is up
    except (urllib.error.URLError, OSError):
        return False


def start_voila(
    target: str | Path | None = None,
    *,
    port: int | None = None,
    quick: bool = False,
    env: dict[str, str] | None = None,
    timeout: float = 60.0,
    log_path: str | Path | None = None,
    cell_timeout: float | None = None,
) -> VoilaServer:
    """Start Voilà on loopback and wait until it answers HTTP.

    Parameters
    ----------
    target : path, optional
        A notebook, or a folder of notebooks (default: the repository's ``notebooks/``).
    port : int, optional
        Default: a free port chosen by the OS.
    quick : bool
        Run the notebooks' kernels with ``CONSENSUSLAB_QUICK=1``.
    env : dict, optional
        Extra environment variables for the server and its kernels.
    timeout : float
        Seconds to wait for the server to answer.
    log_path : path, optional
        Where the server's log goes (default: a temporary file).
    cell_timeout : float, optional
        Per-cell limit of the server-side execution (default: 120 s quick, 1800 s full).

    Returns
    -------
    VoilaServer

    Raises
    ------
    ValueError
        Bad port, port in use, or a target that does not exist.
    RuntimeError
        The server exited or did not answer within ``timeout``; the message holds its log.
    """
    from consensuslab.notebook_runner import notebooks_dir

    target = Path(target) if target is not None else notebooks_dir()
    if not target.exists():
        raise ValueError(f"`notebook` must be an existing notebook or folder; got {str(target)!r}.")
    timeout = check_float("timeout", timeout, 0.0, low_open=True)
    if port is None:
        port = find_free_port()
    port = check_int("port", port, 1, 65535)
    if _port_in_use(port):
        raise ValueError(f"`port` must be free on {HOST}; got {port}, which is in use.")
    server_env = dict(os.environ)
    server_env.pop("MPLBACKEND", None)  # figures must render inline in the dashboards
    if quick:
        server_env["CONSENSUSLAB_QUICK"] = "1"
    else:
        server_env.pop("CONSENSUSLAB_QUICK", None)
    server_env.update(env or {})
    if log_path is None:
        fd, name = tempfile.mkstemp(prefix="consensuslab-voila-", suffix=".log")
        os.close(fd)
        log_path = Path(name)
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "wb")  # noqa: SIM115 - closed by VoilaServer.stop
    cwd = target if target.is_dir() else target.parent
    process = subprocess.Popen(
        voila_command(target.resolve(), port, cell_timeout=cell_timeout or (120.0 if quick else 1800.0)), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        env=server_env, cwd=str(cwd),
    )
    server = VoilaServer(process, port, target.resolve(), log_path, log)
    ping = f"http://{HOST}:{port}/__consensuslab_ping__"
    deadline = time.monotonic() + timeout
    while True:
        if not server.alive():
            server.stop()
            raise RuntimeError(f"voila exited with code {process.returncode} before answering; its log:\n{server.log()[-3000:]}")
        if _answers(ping, timeout=1.0):
            return server
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"voila did not answer on port {port} within {timeout:.0f} s; its log:\n{server.log()[-3000:]}")
        time.sleep(0.2)


def serve(
    notebook: str | Path | None = None,
    *,
    port: int | None = None,
    open_browser: bool = True,
    quick: bool = False,
) -> int:
    """Serve one notebook (or the whole folder) until Ctrl-C or SIGTERM; print the URL. Returns an
    exit code. Either signal stops the Voilà server and its kernels (a plain ``kill`` of this
    process used to leave them running)."""
    target = resolve_notebook(notebook) if notebook is not None else None
    server = start_voila(target, port=port, quick=quick)
    previous = signal.signal(signal.SIGTERM, _interrupt) if threading.current_thread() is threading.main_thread() else None
    try:
        print(f"Dashboard{'s' if target is None else ''} at {server.url}  (Ctrl-C to stop; log: {server.log_path})", flush=True)
        if open_browser:
            import webbrowser

            webbrowser.open(server.url)
        try:
            return int(server.process.wait() or 0)
        except KeyboardInterrupt:
            print("stopping", flush=True)
            return 0
    finally:
        server.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt

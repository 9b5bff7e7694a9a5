"""Notebooks as live dashboards, tested in a real browser.

For every notebook with sliders: open it in Voilà (one server, kernels in quick mode), wait for
the widgets, move a slider with the keyboard (focus the handle, ArrowRight — ArrowLeft when it
sits at its maximum) and check that what the page shows — the text of HTML/Label/Output
widgets or the image data of a redrawn figure — changed. Screenshots before and after go to
``tests/browser/screenshots/`` (git-ignored). Also: ``consensuslab dashboard`` prints its URL
and serves the notebook with the code hidden.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import nbformat
import pytest
from pages import close_page

from consensuslab.dashboard import find_free_port
from consensuslab.notebook_runner import list_notebooks

pytestmark = pytest.mark.browser

#: Seconds for Voilà to execute one notebook (quick mode) and render its widgets.
RENDER_TIMEOUT_MS = 120_000
#: Seconds for the kernel to recompute after one key press.
CHANGE_TIMEOUT_MS = 30_000
#: Sliders tried per notebook before giving up (a slider may legitimately not change the output).
MAX_SLIDERS = 3

WIDGETS_DIR = Path(__file__).resolve().parents[2] / "consensuslab" / "widgets"


def uses_sliders(path: Path) -> bool:
    """Whether a notebook shows sliders: ipywidgets sliders/interact in its code, or an explorer
    from a ``consensuslab.widgets`` module that builds sliders."""
    nb = nbformat.read(path, as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    if re.search(r"\bSlider\b|\w+Slider\(|\binteract(ive)?\b", code):
        return True
    modules = set(re.findall(r"consensuslab\.widgets\.(\w+)", code))
    for names in re.findall(r"from\s+consensuslab\.widgets\s+import\s+\(?([\w,\s]+)\)?", code):
        modules.update(n.strip() for n in names.split(",") if n.strip())
    if not modules and "consensuslab.widgets" in code:
        return True
    return any("Slider" in (WIDGETS_DIR / f"{m}.py").read_text() for m in modules if (WIDGETS_DIR / f"{m}.py").is_file())


SLIDER_NOTEBOOKS = [p for p in list_notebooks() if uses_sliders(p)]

#: What the page shows outside the sliders themselves: HTML/Label widget text, Output widget
#: text, and the image data of figures in Output widgets.
SNAPSHOT_JS = """
() => {
  const outside = (e) => !e.closest('.widget-slider');
  const texts = Array.from(document.querySelectorAll(
      '.widget-html-content, .widget-label, .widget-output .jp-OutputArea-output'))
    .filter(outside).map((e) => e.innerText);
  const images = Array.from(document.querySelectorAll('.widget-output img'))
    .map((img) => img.src.length + ':' + img.src.slice(-200));
  return JSON.stringify([texts, images]);
}
"""
CHANGED_JS = f"(before) => ({SNAPSHOT_JS})() !== before"


def test_there_are_notebooks_with_sliders() -> None:
    assert SLIDER_NOTEBOOKS, f"no notebook in {[p.name for p in list_notebooks()]} uses sliders"


def _move_and_watch(page: object, shots: Path, stem: str) -> str:
    """Press keys on up to MAX_SLIDERS sliders; return a description of the slider that changed
    the output (fails if none did)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    handles = page.locator(".widget-slider .noUi-handle")  # type: ignore[attr-defined]
    count = handles.count()
    assert count >= 1, f"{stem}: no slider handle on the page"
    tried = []
    for i in range(min(count, MAX_SLIDERS)):
        handle = handles.nth(i)
        handle.scroll_into_view_if_needed()
        slider = page.locator(".widget-slider").nth(i)  # type: ignore[attr-defined]
        label = slider.locator(".widget-label").first.inner_text() if slider.locator(".widget-label").count() else f"#{i}"
        readout = slider.locator(".widget-readout").first
        shown = readout.inner_text()
        now, top = handle.get_attribute("aria-valuenow"), handle.get_attribute("aria-valuemax")
        key = "ArrowLeft" if now is not None and top is not None and float(now) >= float(top) else "ArrowRight"
        before = page.evaluate(SNAPSHOT_JS)  # type: ignore[attr-defined]
        page.screenshot(path=str(shots / f"{stem}-before.png"))  # type: ignore[attr-defined]
        handle.focus()
        page.keyboard.press(key)  # type: ignore[attr-defined]
        try:
            page.wait_for_function(CHANGED_JS, arg=before, timeout=CHANGE_TIMEOUT_MS)  # type: ignore[attr-defined]
        except PlaywrightTimeout:
            tried.append(f"{label} {shown}->{readout.inner_text()}")
            continue
        after = readout.inner_text()
        handle.scroll_into_view_if_needed()
        page.screenshot(path=str(shots / f"{stem}-after.png"))  # type: ignore[attr-defined]
        assert after != shown, f"{stem}: the output changed but slider {label} did not move with {key}"
        return f"{label}: {shown} -> {after} ({key})"
    pytest.fail(f"{stem}: no displayed output changed after moving sliders {tried}", pytrace=False)


class Prefetcher:
    """Opens the dashboards one step ahead: while a test works on notebook i, Voilà already
    executes notebook i+1 in its own kernel (2 cores: both stay busy)."""

    def __init__(self, new_page: Callable[[], object], voila: object, order: list[Path]) -> None:
        self.new_page, self.voila, self.order = new_page, voila, order
        self.opened: dict[Path, object] = {}

    def open(self, notebook: Path) -> object:
        page = self.new_page()
        page.goto(self.voila.notebook_url(notebook.name), wait_until="commit", timeout=RENDER_TIMEOUT_MS)  # type: ignore[attr-defined]
        return page

    def take(self, notebook: Path) -> object:
        page = self.opened.pop(notebook, None) or self.open(notebook)
        nxt = self.order.index(notebook) + 1
        if nxt < len(self.order) and self.order[nxt] not in self.opened:
            self.opened[self.order[nxt]] = self.open(self.order[nxt])
        return page

    def close(self) -> None:
        for page in self.opened.values():
            close_page(page)
        self.opened.clear()


@pytest.fixture(scope="module")
def dashboards(new_page: Callable[[], object], voila: object) -> Iterator[Prefetcher]:
    prefetcher = Prefetcher(new_page, voila, SLIDER_NOTEBOOKS)
    yield prefetcher
    prefetcher.close()


def _wait_rendered(page: object) -> None:
    page.wait_for_selector("#rendered_cells", state="visible", timeout=RENDER_TIMEOUT_MS)  # type: ignore[attr-defined]
    page.wait_for_selector(".widget-slider .noUi-handle", state="visible", timeout=RENDER_TIMEOUT_MS)  # type: ignore[attr-defined]


@pytest.mark.parametrize("notebook", SLIDER_NOTEBOOKS, ids=[p.stem for p in SLIDER_NOTEBOOKS])
def test_slider_updates_the_dashboard(notebook: Path, dashboards: Prefetcher, voila: object, screenshots: Path) -> None:
    start = time.monotonic()
    page = dashboards.take(notebook)
    try:
        try:
            _wait_rendered(page)
        except Exception:  # noqa: BLE001 - one fresh retry: Voila's executor can stall (nbclient)
            page.screenshot(path=str(screenshots / f"{notebook.stem}-retry.png"))  # type: ignore[attr-defined]
            close_page(page)
            page = dashboards.open(notebook)
            try:
                _wait_rendered(page)
            except Exception as exc:  # noqa: BLE001 - add the screenshot and the server log
                page.screenshot(path=str(screenshots / f"{notebook.stem}-failed.png"))  # type: ignore[attr-defined]
                pytest.fail(f"{notebook.stem}: widgets did not render twice: {exc}\nvoila log:\n{voila.log()[-2000:]}",  # type: ignore[attr-defined]
                            pytrace=False)
        body = page.inner_text("body")  # type: ignore[attr-defined]
        assert "Traceback (most recent call last)" not in body, f"{notebook.stem}: a cell raised:\n{body[-2000:]}"
        moved = _move_and_watch(page, screenshots, notebook.stem)
        print(f"{notebook.stem}: {moved}; {time.monotonic() - start:.1f} s")
    finally:
        close_page(page)


#: The notebook ``consensuslab dashboard`` serves in the test: the cheapest one with sliders
#: (notebook 01 executes in about 3.5 s in quick mode on the project's 2-core machine).
COMMAND_NOTEBOOK = "01"
#: Seconds for ``consensuslab dashboard`` to print its URL.
URL_TIMEOUT_S = 90.0


class _Output:
    """Drains a child's piped output on a thread (the pipe never fills; the text is kept for
    failure messages) and hands out lines as they come."""

    def __init__(self, stream: object) -> None:
        import queue
        import threading

        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self.seen.append(line)
            self.lines.put(line)

    def next_line(self, timeout: float) -> str | None:
        import queue

        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            return None

    def text(self) -> str:
        return "".join(self.seen)


def _command_notebook() -> Path:
    hits = [p for p in SLIDER_NOTEBOOKS if p.stem.split("-")[0] == COMMAND_NOTEBOOK]
    assert hits, f"notebook {COMMAND_NOTEBOOK} is not among the notebooks with sliders {[p.stem for p in SLIDER_NOTEBOOKS]}"
    return hits[0]


def test_dashboard_command_serves_the_notebook_without_code(new_page: Callable[[], object], screenshots: Path) -> None:
    """``consensuslab dashboard NOTEBOOK --no-browser`` prints a loopback URL; the page shows
    the notebook's outputs (no error, no timed-out cell) but none of its code.

    The page is opened with ``wait_until="commit"`` and then awaited by its rendered cells:
    Voilà streams the page while the kernel executes the notebook, so the ``load`` event comes
    only after the last cell; waiting for it is waiting for the whole execution, with no chance
    to say what the page showed. On failure the message carries the command's output and the
    server log, and a screenshot goes to ``tests/browser/screenshots/``."""
    notebook = _command_notebook()
    port = find_free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "consensuslab.cli", "dashboard", notebook.stem.split("-")[0], "--no-browser",
         "--quick", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    output = _Output(proc.stdout)
    page = None
    try:
        line = ""
        deadline = time.monotonic() + URL_TIMEOUT_S
        while "http://" not in line:
            assert proc.poll() is None or not output.lines.empty(), \
                f"dashboard exited early with {proc.returncode}: {output.text()}"
            assert time.monotonic() < deadline, f"dashboard printed no URL within {URL_TIMEOUT_S:.0f} s: {output.text()}"
            line = output.next_line(timeout=1.0) or ""
        url = re.search(r"http://\S+", line).group(0)  # type: ignore[union-attr]
        assert url == f"http://127.0.0.1:{port}/"
        found = re.search(r"log: (\S+?)\)", line)
        log_path = Path(found.group(1)) if found else None

        def server_log() -> str:
            text = log_path.read_text(errors="replace") if log_path is not None and log_path.is_file() else "(no log)"
            return f"command output:\n{output.text()[-1500:]}\nvoila log ({log_path}):\n{text[-3000:]}"

        started = time.monotonic()
        page = new_page()
        page.goto(url, wait_until="commit", timeout=RENDER_TIMEOUT_MS)  # type: ignore[attr-defined]
        try:
            page.wait_for_selector("#rendered_cells", state="visible", timeout=RENDER_TIMEOUT_MS)  # type: ignore[attr-defined]
        except Exception as exc:  # noqa: BLE001 - report what the page showed and what the server logged
            shot = screenshots / "dashboard-command-stalled.png"
            page.screenshot(path=str(shot))  # type: ignore[attr-defined]
            pytest.fail(f"{notebook.stem} did not render ({time.monotonic() - started:.0f} s): {exc}\n"
                        f"screenshot: {shot}\n{server_log()}", pytrace=False)
        print(f"{notebook.stem} served by the command, rendered in {time.monotonic() - started:.1f} s")
        page.screenshot(path=str(screenshots / "dashboard-command.png"))  # type: ignore[union-attr]
        body = page.inner_text("body")  # type: ignore[union-attr]
        assert "Traceback (most recent call last)" not in body and "Cell execution timed out" not in body, \
            f"{notebook.stem}: a cell failed:\n{body[-2000:]}\n{server_log()}"
        assert page.locator(".jp-OutputArea-output").count() > 0  # type: ignore[union-attr]
        assert page.locator(".jp-InputArea-editor, .jp-CodeMirrorEditor").count() == 0  # type: ignore[union-attr]
        first_code = next(c.source for c in nbformat.read(notebook, as_version=4).cells if c.cell_type == "code")
        longest = max(first_code.splitlines(), key=len).strip()
        assert longest not in body
    finally:
        if page is not None:
            close_page(page)
        proc.send_signal(signal.SIGINT)  # the command stops its server on Ctrl-C
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

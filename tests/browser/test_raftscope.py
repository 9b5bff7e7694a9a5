"""The step-through Raft view (notebook 11) in a real browser, through Voilà.

Opens the dashboard in Chromium, then drives the explorer the way a reader does: step one
event, scrub the frame slider back, play and pause, crash the selected server, add a server,
send a client request, drop a message in flight, export the replay — and checks after each that
the SVG picture and the status line show what the model says. Screenshots go to
``tests/browser/screenshots/`` (git-ignored).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pages import close_page

from consensuslab.notebook_runner import list_notebooks

pytestmark = pytest.mark.browser

RENDER_TIMEOUT_MS = 120_000
CHANGE_TIMEOUT_MS = 30_000
NOTEBOOK = next((p for p in list_notebooks() if p.name.startswith("11-")), None)


@pytest.fixture(scope="module")
def scope_page(new_page: Callable[[], object], voila: object, screenshots: Path) -> Iterator[object]:
    assert NOTEBOOK is not None, "notebook 11 is missing"
    page = new_page()
    page.goto(voila.notebook_url(NOTEBOOK.name), wait_until="commit", timeout=RENDER_TIMEOUT_MS)  # type: ignore[attr-defined]
    try:
        page.wait_for_selector("#rendered_cells", state="visible", timeout=RENDER_TIMEOUT_MS)  # type: ignore[attr-defined]
        page.wait_for_selector("svg.raftscope", state="visible", timeout=RENDER_TIMEOUT_MS)  # type: ignore[attr-defined]
    except Exception as exc:  # noqa: BLE001 - add the screenshot and the server log
        page.screenshot(path=str(screenshots / "raftscope-failed.png"))  # type: ignore[attr-defined]
        pytest.fail(f"the RaftScope view did not render: {exc}\nvoila log:\n{voila.log()[-2000:]}", pytrace=False)  # type: ignore[attr-defined]
    body = page.inner_text("body")  # type: ignore[attr-defined]
    assert "Traceback (most recent call last)" not in body, body[-2000:]
    yield page
    close_page(page)


def status(page: object) -> str:
    return page.locator(".scope-status").first.inner_text()  # type: ignore[attr-defined]


def frame_number(page: object) -> int:
    match = re.search(r"frame (\d+) of (\d+)", status(page))
    assert match, status(page)
    return int(match.group(1))


def click(page: object, label: str) -> None:
    page.locator("button", has_text=label).first.click()  # type: ignore[attr-defined]


def wait_status(page: object, pattern: str) -> None:
    page.wait_for_function(  # type: ignore[attr-defined]
        "(p) => { const e = document.querySelector('.scope-status'); return e && new RegExp(p).test(e.innerText); }",
        arg=pattern, timeout=CHANGE_TIMEOUT_MS)


def test_step_scrub_and_play(scope_page: object, screenshots: Path) -> None:
    page = scope_page
    page.locator("svg.raftscope").first.scroll_into_view_if_needed()  # type: ignore[attr-defined]
    page.screenshot(path=str(screenshots / "raftscope-start.png"))  # type: ignore[attr-defined]
    start = frame_number(page)
    assert start >= 1
    assert page.locator("svg.raftscope g.scope-node").count() == 5  # type: ignore[attr-defined]
    click(page, "step ▶")
    wait_status(page, f"frame {start + 1} of {start + 1}")
    assert page.locator(f'svg.raftscope[data-step="{start + 1}"]').count() == 1  # type: ignore[attr-defined]
    # scrub: the frame slider back with the keyboard
    handle = page.locator(".widget-slider .noUi-handle").first  # type: ignore[attr-defined]
    handle.focus()
    page.keyboard.press("ArrowLeft")  # type: ignore[attr-defined]
    wait_status(page, f"frame {start} of {start + 1}")
    # play, then pause: the run advances past the recording
    page.locator(".widget-play button").first.click()  # type: ignore[attr-defined]
    page.wait_for_function(  # type: ignore[attr-defined]
        "(n) => { const m = /frame (\\d+)/.exec(document.querySelector('.scope-status').innerText); return m && +m[1] > n + 2; }",
        arg=start + 1, timeout=CHANGE_TIMEOUT_MS)
    page.locator(".widget-play button").nth(1).click()  # type: ignore[attr-defined]
    page.wait_for_timeout(1500)  # type: ignore[attr-defined]
    paused = frame_number(page)
    page.wait_for_timeout(1500)  # type: ignore[attr-defined]
    assert frame_number(page) == paused


def test_actions_crash_add_request_drop_export(scope_page: object, screenshots: Path) -> None:
    page = scope_page
    click(page, "add server")
    wait_status(page, "S6 joins")
    page.wait_for_function("() => document.querySelectorAll('svg.raftscope g.scope-node').length === 6",  # type: ignore[attr-defined]
                           timeout=CHANGE_TIMEOUT_MS)
    click(page, "client request")
    wait_status(page, "a client sends put x=1")
    click(page, "run 10")
    before = frame_number(page)
    wait_status(page, "frame")
    # drop the first message in flight, if any
    options = page.locator(".widget-dropdown:has-text('message') select option")  # type: ignore[attr-defined]
    if options.count():
        click(page, "drop message")
        wait_status(page, "you dropped a message")
    # crash the server selected in the menu (S1 by default)
    click(page, "crash")
    wait_status(page, "you crashed S1")
    page.wait_for_selector('svg.raftscope g.scope-node[data-node="0"][data-role="down"]', timeout=CHANGE_TIMEOUT_MS)  # type: ignore[attr-defined]
    assert frame_number(page) > before
    page.locator("svg.raftscope").first.scroll_into_view_if_needed()  # type: ignore[attr-defined]
    page.screenshot(path=str(screenshots / "raftscope-after.png"))  # type: ignore[attr-defined]
    click(page, "export replay")
    page.wait_for_function(  # type: ignore[attr-defined]
        "() => [...document.querySelectorAll('textarea')].some(t => t.value.includes('consensuslab-raftscope/1'))",
        timeout=CHANGE_TIMEOUT_MS)
    text = page.locator("textarea").first.input_value()  # type: ignore[attr-defined]
    assert '"add_node"' in text and '"crash"' in text and '"request"' in text

"""Fixtures for the browser tests: Debian's Chromium driven by Playwright, one Voilà server.

The browser is the ``chromium`` binary from Debian's package (``apt-get install -y chromium``;
``.ci/run`` installs it), passed to Playwright as ``executable_path`` — never a browser that
Playwright downloads. If it is missing the tests *fail* with that reason. Every request to a
host other than loopback is aborted, so a page never reaches out (Voilà's template links a
font CDN).
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pages import close_page

CHROMIUM = os.environ.get("CONSENSUSLAB_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).parent / "screenshots"
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


@pytest.fixture(scope="module")
def screenshots() -> Path:
    """The git-ignored folder for screenshots and the Voilà logs (one per test module)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """One headless Chromium for the whole module (module scope: the Playwright event loop is
    closed before other test modules run)."""
    if not Path(CHROMIUM).is_file() or not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: the browser tests need Debian's package "
            "(`apt-get update && apt-get install -y chromium`, which .ci/run does) or "
            "CONSENSUSLAB_CHROMIUM pointing at a chromium binary.",
            pytrace=False,
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - playwright is a dev dependency
        pytest.fail(f"the Python package playwright is not installed: {exc}", pytrace=False)
    with sync_playwright() as pw:
        try:
            chromium = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True)
        except Exception as exc:  # noqa: BLE001
            pytest.fail(f"Chromium at {CHROMIUM} did not start under Playwright: {exc}", pytrace=False)
        yield chromium
        chromium.close()


def _loopback_only(route: object) -> None:
    host = urllib.parse.urlsplit(route.request.url).hostname or ""  # type: ignore[attr-defined]
    if host in LOOPBACK or route.request.url.startswith(("data:", "blob:")):  # type: ignore[attr-defined]
        route.continue_()  # type: ignore[attr-defined]
    else:
        route.abort()  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def new_page(browser: object) -> Callable[[], object]:
    """A factory of fresh pages, each in its own context, whose requests may only go to
    loopback. Close a page with ``pages.close_page(page)`` (Voilà then shuts its kernel down)."""

    def make() -> object:
        context = browser.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
        context.set_default_timeout(30_000)
        context.route("**/*", _loopback_only)
        return context.new_page()

    return make


@pytest.fixture
def page(new_page: Callable[[], object]) -> Iterator[object]:
    """A fresh page whose requests may only go to loopback."""
    pg = new_page()
    yield pg
    close_page(pg)


@pytest.fixture(scope="module")
def voila(screenshots: Path, request: pytest.FixtureRequest) -> Iterator[object]:
    """One Voilà server over the notebooks folder, kernels in quick mode (CONSENSUSLAB_QUICK=1),
    30 s per cell (quick cells take well under a few seconds; the bound also cuts short the rare
    nbclient stall on a finished widget cell)."""
    from consensuslab.dashboard import start_voila
    from consensuslab.notebook_runner import notebooks_dir

    server = start_voila(notebooks_dir(), quick=True, timeout=90, log_path=screenshots / f"voila-{request.module.__name__}.log", cell_timeout=30)
    yield server
    server.stop()

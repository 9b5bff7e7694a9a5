"""Closing a page the way a reader's browser does, so that Voilà shuts its kernel down.

Voilà's page posts ``voila/api/shutdown/<kernel>`` (a beacon) on ``beforeunload``; closing a
Playwright context skips that handler, and the kernel would live on until the server stops (a
module of dashboard tests left a dozen idle kernels of ~220 MB each beside Chromium). Leaving
the page for ``about:blank`` first runs the handler.
"""

from __future__ import annotations

import contextlib


def close_page(page: object) -> None:
    """Navigate away (Voilà's unload handler shuts the kernel down), then close the context."""
    with contextlib.suppress(Exception):  # a page that cannot navigate is closed all the same
        page.goto("about:blank", wait_until="load", timeout=10_000)  # type: ignore[attr-defined]
    page.context.close()  # type: ignore[attr-defined]

"""Debian's Chromium as the tests and the bench start it: headless, as root, nothing fetched.

Playwright cannot download a browser here, so it drives /usr/bin/chromium (or DLCS_CHROMIUM).
Without the background-networking flags, Chromium keeps trying hosts this machine cannot reach.
"""

from __future__ import annotations

import os

CHROMIUM = os.environ.get("DLCS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

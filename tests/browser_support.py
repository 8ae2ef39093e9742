"""Headless Chromium for the browser tests: Debian's /usr/bin/chromium driven by pip's playwright, with the flags that
keep it off the network (the machine's closed network refuses Chromium's background connections)."""

from __future__ import annotations

import contextlib

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@contextlib.contextmanager
def launched_chromium():
    """Yield a playwright Browser on the system Chromium; closed on exit."""
    from playwright import sync_api

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()

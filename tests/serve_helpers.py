"""A real uvicorn server for the web editor in a background thread (browser tests, benchmark)."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def find_chromium() -> str | None:
    """The system Chromium (Debian's ``chromium`` package), or None."""
    for path in CHROMIUM_CANDIDATES:
        if Path(path).is_file():
            return path
    return shutil.which("chromium")


def wait_until(check, timeout: float = 30.0, what: str = "condition"):
    """Poll ``check()`` until it returns something true; return that (AssertionError on timeout).

    Polls from Python: the editor's CSP forbids Playwright's eval-based waits.
    """
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_server(app, port: int | None = None, **options):
    """Serve ``app`` on 127.0.0.1:PORT in a thread; yields the base URL; stops cleanly.

    ``options`` go to :func:`clipvg.serve.protocol.uvicorn_config` (e.g. ``header_timeout``).
    """
    import uvicorn

    from clipvg.serve.protocol import uvicorn_config

    port = port or free_port()
    server = uvicorn.Server(uvicorn_config(app, "127.0.0.1", port, **options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        inner = getattr(app, "app", app)
        inner.state.jobs.request_stop()
        server.should_exit = True
        thread.join(60)

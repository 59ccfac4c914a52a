"""The web editor's ASGI app: :func:`create_app` wires the scene store, the job queue,
the routes (:mod:`clipvg.serve.api`) and the perimeter every request passes first
(:mod:`clipvg.serve.perimeter`: Host, token, Origin, content type, body size and time,
security headers); :func:`serve` runs it with uvicorn (:mod:`clipvg.serve.protocol`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import signal
import sys
from collections.abc import Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from ..config import EditSettings
from ..errors import ClipvgError
from ..launch import EncoderCache
from .api import Api
from .jobs import EncoderFactory, JobManager, factory_cache
from .limits import MAX_QUEUE
from .perimeter import CSP, MB, SECURITY_HEADERS, Perimeter, PerimeterSettings, protect
from .protocol import listen_socket, uvicorn_config
from .requests import EDIT_FIELDS, MAX_ITERS, ROI_FIELDS, edit_settings
from .scenes import SceneStore

__all__ = [
    "CSP",
    "EDIT_FIELDS",
    "MAX_ITERS",
    "ROI_FIELDS",
    "SECURITY_HEADERS",
    "clip_status",
    "create_app",
    "edit_settings",
    "serve",
]


def clip_status(model: str, pretrained: str, weights: str | None, injected: bool) -> dict[str, Any]:
    """What the page shows about CLIP: found or not, and the CLI's message when not."""
    from ..clip import RANDOM_WEIGHTS, no_weights_message, weights_cached

    out = {"model": model, "pretrained": pretrained, "weights": weights, "ready": True}
    out["random"] = not injected and weights is None and pretrained.lower() == RANDOM_WEIGHTS
    out["message"] = None
    if injected or out["random"]:
        return out
    if weights is not None:
        if not Path(weights).is_file():
            out["ready"], out["message"] = False, f"--clip-weights {weights}: no such file"
    elif not weights_cached(model, pretrained):
        out["ready"], out["message"] = False, no_weights_message(model, pretrained)
    return out


def create_app(
    workdir: str | Path = "clipvg-runs",
    encoder_factory: EncoderFactory | EncoderCache | None = None,
    *,
    device: str = "auto",
    clip_model: str | None = None,
    clip_pretrained: str | None = None,
    clip_weights: str | None = None,
    max_upload_bytes: int = 50 * MB,
    preview_interval: float = 2.0,
    preview_budget: float | None = 0.05,
    examples_dir: str | Path | None = None,
    allow_hosts: tuple[str, ...] = (),
    token: str | None = None,
    body_timeout: float | None = 60.0,
    max_queue: int = MAX_QUEUE,
):
    """Build the editor's ASGI app (FastAPI inside :class:`.perimeter.Perimeter`).

    Args:
        workdir: scenes go to ``workdir/scenes``, run folders to ``workdir/runs``.
        encoder_factory: ``factory(random_weights) -> Encoder`` (tests inject a tiny
            CLIP), or an :class:`clipvg.launch.EncoderCache`; default: CLIP from the
            ``clip_*`` settings under the launcher's seed rule, as ``cli.py edit`` loads it.
        device: auto, cpu, cuda or mps (recorded in every run's settings).
        max_upload_bytes: largest request body accepted (413 above).
        preview_interval: seconds between live preview renders during an edit.
        preview_budget: most of an edit's time that previews may take (see JobManager).
        examples_dir: folder of bundled example inputs offered by the page.
        allow_hosts: Host names accepted besides the bound address and localhost.
        token: required of every request when set (``serve`` sets one off loopback).
        body_timeout: seconds a request body may take to arrive (408 after).
        max_queue: most edits, and most pictures to vectorize, waiting at once (429).
    """
    defaults = EditSettings()
    server = {
        "device": device,
        "clip_model": clip_model or defaults.clip_model,
        "clip_pretrained": clip_pretrained or defaults.clip_pretrained,
        "clip_weights": clip_weights,
    }
    workdir = Path(workdir).resolve()
    injected = encoder_factory is not None
    if encoder_factory is None:
        encoders = EncoderCache()
    elif isinstance(encoder_factory, EncoderCache):
        encoders = encoder_factory
    else:
        encoders = factory_cache(encoder_factory)
    clip_info = clip_status(server["clip_model"], server["clip_pretrained"], clip_weights, injected)
    scenes = SceneStore(workdir / "scenes", max_upload_bytes, max_queue)
    jobs = JobManager(workdir / "runs", encoders, preview_interval, preview_budget, max_queue)

    @asynccontextmanager
    async def lifespan(app):
        yield
        jobs.request_stop()
        await asyncio.to_thread(jobs.shutdown)
        scenes.shutdown()

    app = FastAPI(title="clipvg editor", docs_url=None, redoc_url=None, lifespan=lifespan)
    app.state.jobs, app.state.scenes, app.state.workdir = jobs, scenes, workdir
    api = Api(
        scenes,
        jobs,
        server=server,
        clip_info=clip_info,
        max_upload_bytes=max_upload_bytes,
        examples=_examples(examples_dir),
    )
    api.mount(app)
    app.state.api = api
    return protect(
        app, PerimeterSettings(max_upload_bytes, tuple(allow_hosts), token, body_timeout)
    )


def _examples(folder: str | Path | None) -> dict[str, Path]:
    """Bundled example inputs by file name (the page can only ask for these names)."""
    if folder is None:  # an installed copy has them here (setup.py), a checkout at its root
        folder = Path(__file__).resolve().parent / "examples"
        if not folder.is_dir():
            folder = Path(__file__).resolve().parents[2] / "examples"
    folder = Path(folder)
    if not folder.is_dir():
        return {}
    suffixes = {".svg", ".png", ".jpg", ".jpeg", ".webp"}
    return {p.name: p for p in sorted(folder.iterdir()) if p.suffix.lower() in suffixes}


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workdir: str | Path = "clipvg-runs",
    *,
    print_fn: Callable[[str], None] = print,
    **options: Any,
) -> int | None:
    """Run the editor with uvicorn until Ctrl-C or SIGTERM (which stop the running
    edit cleanly, its state saved).

    Off loopback, every request must carry a token (printed in the URL at start),
    unless ``token`` is given in ``options``. Port 0 picks a free port; the address
    line names the port bound.

    Returns:
        The signal that stopped the server (``signal.SIGINT`` or ``SIGTERM``), or None.

    Raises:
        ClipvgError: the address cannot be bound (in use, not this machine's).
    """
    import secrets

    import uvicorn

    if port < 0 or port > 65535:
        raise ClipvgError(f"--port must be in 0..65535, got {port}")
    if not _is_loopback(host) and not options.get("token"):
        options["token"] = secrets.token_urlsafe(24)
    app = create_app(workdir, **options)
    inner = app.app if isinstance(app, Perimeter) else app
    if not _is_loopback(host):
        print(
            f"warning: serving on {host}: anyone who can reach this machine and has the "
            "token can use the editor and its CPU/GPU (use the default 127.0.0.1 for local use)",
            file=sys.stderr,
        )

    class Server(uvicorn.Server):
        stopped_by: int | None = None

        def handle_exit(self, sig, frame):  # first Ctrl-C: stop the edit, keep its state
            if self.stopped_by is None:
                self.stopped_by = sig
            inner.state.jobs.request_stop()
            super().handle_exit(sig, frame)

    sock = listen_socket(host, port)
    server = Server(uvicorn_config(app, host, sock.getsockname()[1]))
    shown = f"[{host}]" if ":" in host else host
    query = f"?token={options['token']}" if options.get("token") else ""
    print_fn(
        f"clipvg editor on http://{shown}:{sock.getsockname()[1]}/{query}  "
        f"(runs in {Path(workdir).resolve()}; Ctrl-C stops)"
    )
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn hands the signal on once it has shut down
        if server.stopped_by is None:
            raise
    finally:
        sock.close()
    how = f" by {signal.Signals(server.stopped_by).name}" if server.stopped_by else ""
    print_fn(f"stopped{how}; every run's latest state is saved")
    return server.stopped_by


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False

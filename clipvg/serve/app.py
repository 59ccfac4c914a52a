"""The HTTP side of the web editor: JSON API under ``/api/`` and the single page.

Safety, in one place:

- every response carries a Content-Security-Policy that allows scripts, styles and
  connections from this origin only (no inline or remote script);
- request bodies over ``max_upload_bytes`` are refused with 413 before they are read;
- ids in URLs must be 16 hex digits; file names are built from ids only;
- an uploaded SVG is served only as our own re-export (see :mod:`clipvg.serve.scenes`);
- every error is a 4xx/5xx JSON ``{"error": "one line"}``, never a traceback.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import sys
from collections.abc import Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from ..config import EditSettings
from ..errors import ClipvgError
from .jobs import TERMINAL, EncoderFactory, JobManager, scene_of
from .scenes import PRESETS, SceneStore
from .stages import estimate
from .views import candidate_file, file_name, request_of

log = logging.getLogger("clipvg.serve")

STATIC = Path(__file__).resolve().parent / "static"
MB = 1024 * 1024
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]
#: Request fields of POST /api/edits besides scene, rois, lock, random_weights.
EDIT_FIELDS = (
    "prompt",
    "iters",
    "edit_only",
    "preserve_background",
    "seed",
    "patches",
    "source_prompt",
    "crop_ratio",
    "roi_weight",
    "patch_weight",
    "shape_lr",
    "color_lr",
    "save_every",
    "batch_size",
    "feather",
    "candidates",
)
ROI_FIELDS = (
    "box",
    "polygon",
    "prompt",
    "image",
    "weight",
    "patches",
    "crop_ratio",
    "patch_weight",
)
MAX_ITERS = 100_000
#: Most seeds one page request may rank (each is a whole edit).
MAX_CANDIDATES = 8


class _TooLarge(Exception):
    pass


class _Guard:
    """ASGI middleware: security headers on every response, request body size limit."""

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def send_with_headers(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message = {
                    **message,
                    "headers": list(message.get("headers", [])) + SECURITY_HEADERS,
                }
            await send(message)

        length = dict(scope.get("headers", [])).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            return await self._too_large(send_with_headers)
        seen = 0

        async def counted_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, counted_receive, send_with_headers)
        except _TooLarge:
            if not started:
                await self._too_large(send_with_headers)

    async def _too_large(self, send):
        mb = self.max_bytes / MB
        body = json.dumps(
            {"error": f"the request is over the upload limit of {mb:g} MB (--max-upload-mb)"}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
            }
        )
        await send({"type": "http.response.body", "body": body})


def clip_status(model: str, pretrained: str, weights: str | None, injected: bool) -> dict[str, Any]:
    """What the page shows about CLIP: found or not, and the CLI's message when not."""
    from ..clip import RANDOM_WEIGHTS, _no_weights_message, weights_cached

    out = {"model": model, "pretrained": pretrained, "weights": weights, "ready": True}
    out["random"] = not injected and weights is None and pretrained.lower() == RANDOM_WEIGHTS
    out["message"] = None
    if injected or out["random"]:
        return out
    if weights is not None:
        if not Path(weights).is_file():
            out["ready"], out["message"] = False, f"--clip-weights {weights}: no such file"
    elif not weights_cached(model, pretrained):
        out["ready"], out["message"] = False, _no_weights_message(model, pretrained)
    return out


def default_factory(
    model: str, pretrained: str, weights: str | None, device: str
) -> EncoderFactory:
    """``factory(random_weights)`` loading CLIP as ``cli.py edit`` does."""

    def factory(random_weights: bool):
        from ..clip import load_clip, resolve_device

        if random_weights:
            return load_clip(model, "none", None, resolve_device(device))
        return load_clip(model, pretrained, weights, resolve_device(device))

    return factory


def create_app(
    workdir: str | Path = "clipvg-runs",
    encoder_factory: EncoderFactory | None = None,
    *,
    device: str = "auto",
    clip_model: str | None = None,
    clip_pretrained: str | None = None,
    clip_weights: str | None = None,
    max_upload_bytes: int = 50 * MB,
    preview_interval: float = 2.0,
    preview_budget: float | None = 0.05,
    examples_dir: str | Path | None = None,
):
    """Build the editor's ASGI app (FastAPI).

    Args:
        workdir: scenes go to ``workdir/scenes``, run folders to ``workdir/runs``.
        encoder_factory: ``factory(random_weights) -> Encoder``; default loads CLIP with
            the ``clip_*`` settings like ``cli.py edit`` (tests inject a tiny CLIP).
        device: auto, cpu, cuda or mps (recorded in every run's settings).
        max_upload_bytes: largest request body accepted (413 above).
        preview_interval: seconds between live preview renders during an edit.
        preview_budget: most of an edit's time that previews may take (see JobManager).
        examples_dir: folder of bundled example inputs offered by the page.
    """
    defaults = EditSettings()
    clip_model = clip_model or defaults.clip_model
    clip_pretrained = clip_pretrained or defaults.clip_pretrained
    workdir = Path(workdir).resolve()
    injected = encoder_factory is not None
    if encoder_factory is None:
        encoder_factory = default_factory(clip_model, clip_pretrained, clip_weights, device)
    clip_info = clip_status(clip_model, clip_pretrained, clip_weights, injected)
    scenes = SceneStore(workdir / "scenes", max_upload_bytes)
    jobs = JobManager(workdir / "runs", encoder_factory, preview_interval, preview_budget)
    examples = _examples(examples_dir)

    @asynccontextmanager
    async def lifespan(app):
        yield
        jobs.request_stop()
        await asyncio.to_thread(jobs.shutdown)
        scenes.shutdown()

    app = FastAPI(title="clipvg editor", docs_url=None, redoc_url=None, lifespan=lifespan)
    app.state.jobs, app.state.scenes, app.state.workdir = jobs, scenes, workdir

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    @app.exception_handler(ClipvgError)
    async def _clipvg_error(request, exc):
        text = str(exc)
        return error(404 if text.startswith("unknown ") and " id " in text else 400, text)

    @app.exception_handler(HTTPException)
    async def _http_error(request, exc):
        detail = exc.detail if isinstance(exc.detail, str) else "bad request"
        return error(exc.status_code, "not found" if exc.status_code == 404 else detail)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request, exc):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ())[1:]) or "request"
        return error(422, f"{where}: {first.get('msg', 'invalid value')}")

    @app.exception_handler(Exception)
    async def _internal_error(request, exc):
        log.exception("request %s failed", request.url.path)
        return error(500, f"internal error: {type(exc).__name__}")

    # ---- page ---------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    async def index():
        return FileResponse(STATIC / "index.html", headers={"cache-control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/api/info")
    async def info():
        return {
            "clip": clip_info,
            "device": device,
            "max_upload_bytes": max_upload_bytes,
            "presets": list(PRESETS),
            "examples": sorted(examples),
            "defaults": {k: getattr(defaults, k) for k in EDIT_FIELDS},
        }

    # ---- scenes -------------------------------------------------------------------
    @app.post("/api/scenes", status_code=201)
    async def create_scene(request: Request):
        form = await request.form()
        preset = str(form.get("preset") or "balanced")
        upload, example = form.get("file"), form.get("example")
        if upload is not None and hasattr(upload, "read"):
            data, name = await upload.read(), upload.filename
        elif example is not None:
            if str(example) not in examples:
                raise ClipvgError(f"unknown example {str(example)[:40]!r}")
            path = examples[str(example)]
            data, name = path.read_bytes(), path.name
        else:
            raise ClipvgError("send the picture as a multipart field named 'file'")
        info = await asyncio.to_thread(scenes.create, data, name, preset)
        return JSONResponse(info.to_dict(), status_code=201 if info.status == "ready" else 202)

    @app.get("/api/scenes/{sid}")
    async def get_scene(sid: str):
        return scenes.get(sid).to_dict()

    def ready_scene(sid: str):
        info = scenes.get(sid)
        if info.status != "ready":
            raise ClipvgError(
                f"scene {sid} is {info.status}" + (f": {info.error}" if info.error else "")
            )
        return info

    @app.get("/api/scenes/{sid}/svg")
    async def scene_svg(sid: str):
        ready_scene(sid)
        return FileResponse(scenes.svg_path(sid), media_type="image/svg+xml")

    @app.get("/api/scenes/{sid}/png")
    async def scene_png(sid: str):
        ready_scene(sid)
        return FileResponse(scenes.png_path(sid), media_type="image/png")

    @app.post("/api/images", status_code=201)
    async def add_image(request: Request):
        form = await request.form()
        upload = form.get("file")
        if upload is None or not hasattr(upload, "read"):
            raise ClipvgError("send the picture as a multipart field named 'file'")
        return await asyncio.to_thread(scenes.add_image, await upload.read())

    @app.get("/api/images/{iid}")
    async def get_image(iid: str):
        return FileResponse(scenes.image_path(iid), media_type="image/png")

    # ---- edits --------------------------------------------------------------------
    @app.get("/api/edits")
    async def list_edits():
        return {"edits": await asyncio.to_thread(jobs.list)}

    @app.post("/api/edits", status_code=201)
    async def create_edit(request: Request):
        body = await _json_body(request)
        sid = body.get("scene")
        if not isinstance(sid, str):
            raise ClipvgError('give the scene to edit: {"scene": ID, ...} from POST /api/scenes')
        info = ready_scene(sid)
        settings, random_weights = edit_settings(
            body,
            str(scenes.svg_path(sid)),
            device,
            clip_model,
            clip_pretrained,
            clip_weights,
            images=lambda iid: str(scenes.image_path(iid)),
        )
        from ..edit import check_rois

        check_rois(settings, info.width, info.height)
        job = jobs.submit(settings, random_weights)
        return JSONResponse(jobs.status(job), status_code=201)

    @app.get("/api/edits/{jid}")
    async def get_edit(jid: str):
        job = jobs.get(jid)
        return {
            **jobs.status(job),
            "request": request_of(job.settings, EDIT_FIELDS, ROI_FIELDS),
            "last_event": len(jobs.events_since(job, 0)) - 1,
        }

    @app.post("/api/estimate")
    async def estimate_edit(request: Request):
        body = await _json_body(request)
        body.pop("scene", None)
        settings, _ = edit_settings(
            body, "estimate.svg", device, clip_model, clip_pretrained, None, images=lambda i: i
        )
        out = estimate(settings, jobs.measured(clip_model))
        return {**out, "clip_loaded": jobs.clip_loaded, "clip_load_s": jobs.clip_load_s}

    def download_name(job, suffix: str) -> str:
        sid = scene_of(job.settings.input)
        try:
            stem = Path(scenes.get(sid).name).stem if sid else ""
        except ClipvgError:
            stem = ""
        return file_name(stem or "clipvg", job.settings.prompt or job.id, suffix)

    @app.post("/api/edits/{jid}/stop")
    async def stop_edit(jid: str):
        job = jobs.get(jid)
        jobs.stop(job)
        return jobs.status(job)

    @app.post("/api/edits/{jid}/resume")
    async def resume_edit(jid: str, request: Request):
        job = jobs.get(jid)
        body = await _json_body(request, allow_empty=True)
        unknown = sorted(set(body) - {"iters"})
        if unknown:
            raise ClipvgError(f"unknown field(s) {', '.join(unknown)}; resume takes only iters")
        jobs.resume(job, body.get("iters"))
        return jobs.status(job)

    @app.get("/api/edits/{jid}/events")
    async def edit_events(jid: str, request: Request, after: int = -1):
        job = jobs.get(jid)
        last = request.headers.get("last-event-id", "")
        start = int(last) + 1 if last.isdigit() else max(0, after + 1)

        async def stream():
            nonlocal start
            idle = 0.0
            while True:
                events = jobs.events_since(job, start)
                for seq, kind, data in events:
                    yield f"id: {seq}\nevent: {kind}\ndata: {json.dumps(data)}\n\n"
                    start = seq + 1
                if events:
                    idle = 0.0
                done = job.status in TERMINAL and not jobs.events_since(job, start)
                if done or jobs.closing or await request.is_disconnected():
                    return
                await asyncio.sleep(0.1)
                idle += 0.1
                if idle >= 15:
                    yield ": keep-alive\n\n"
                    idle = 0.0

        return StreamingResponse(
            stream(), media_type="text/event-stream", headers={"cache-control": "no-cache"}
        )

    @app.get("/api/edits/{jid}/svg")
    async def edit_svg(jid: str, download: bool = False):
        job = jobs.get(jid)
        text = await asyncio.to_thread(_latest_svg, job)
        name = download_name(job, ".svg")
        return Response(text, media_type="image/svg+xml", headers=_attachment(download, name))

    @app.get("/api/edits/{jid}/png")
    async def edit_png(jid: str, download: bool = False):
        job = jobs.get(jid)
        data = await asyncio.to_thread(_latest_png, job)
        return Response(
            data,
            media_type="image/png",
            headers={
                "cache-control": "no-store",
                **_attachment(download, download_name(job, ".png")),
            },
        )

    @app.get("/api/edits/{jid}/candidates/{seed}/{kind}")
    async def candidate_picture(jid: str, seed: int, kind: str, download: bool = False):
        job = jobs.get(jid)
        if kind not in ("svg", "png"):
            raise ClipvgError("ask for a candidate's svg or png")
        path = candidate_file(job.folder, job.id, seed, kind)
        name = download_name(job, f"-seed-{seed}.{kind}")
        media = "image/svg+xml" if kind == "svg" else "image/png"
        return FileResponse(
            path,
            media_type=media,
            headers={"cache-control": "no-store", **_attachment(download, name)},
        )

    @app.get("/api/edits/{jid}/run.json")
    async def edit_record(jid: str, download: bool = False):
        job = jobs.get(jid)
        path = job.folder / "run.json"
        if not path.is_file():
            raise ClipvgError(f"edit {jid} has no run.json yet (it is written when the run starts)")
        return FileResponse(
            path,
            media_type="application/json",
            headers=_attachment(download, download_name(job, "-run.json")),
        )

    @app.api_route("/api/{rest:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
    async def unknown_api(rest: str):
        return error(404, "no such API endpoint; see the README's Web editor section")

    return _Guard(app, max_upload_bytes) if max_upload_bytes else app


def _attachment(download: bool, name: str) -> dict[str, str]:
    if not download:
        return {}
    return {"content-disposition": f'attachment; filename="{name}"'}


def _latest_svg(job) -> str:
    """final.svg when done; else the live copy; else latest/initial SVG on disk."""
    from ..svg import scene_to_svg_string

    final = job.folder / "final.svg"
    if job.status == "done" and final.is_file():
        return final.read_text(encoding="utf-8")
    if job.latest_scene is not None:
        return scene_to_svg_string(job.latest_scene)
    for name in ("latest.svg", "initial.svg"):
        if (job.folder / name).is_file():
            return (job.folder / name).read_text(encoding="utf-8")
    raise ClipvgError(f"edit {job.id} has no picture yet (it is {job.status})")


def _latest_png(job) -> bytes:
    """The live preview; for runs from disk, a render of their latest SVG."""
    from ..svg import load_svg
    from .scenes import preview_png

    if job.preview is None:
        for name in ("final.svg", "latest.svg", "initial.svg"):
            if (job.folder / name).is_file():
                job.preview = preview_png(load_svg(job.folder / name))
                break
        else:
            raise ClipvgError(f"edit {job.id} has no picture yet (it is {job.status})")
    return job.preview


async def _json_body(request, allow_empty: bool = False) -> dict[str, Any]:
    raw = await request.body()
    if allow_empty and not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ClipvgError(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ClipvgError("the request body must be a JSON object")
    return body


def _roi_entry(i: int, roi: Any, images: Callable[[str], str]) -> dict[str, Any]:
    """An API ROI ``{"box": [x, y, w, h] | "polygon": [[x, y], ...], "prompt": ...}`` as a
    settings entry; ``"image": ID`` (from POST /api/images) replaces the prompt."""
    if not isinstance(roi, dict):
        raise ClipvgError(f"rois[{i}] must be an object with box or polygon, and prompt")
    unknown = sorted(set(roi) - set(ROI_FIELDS))
    if unknown:
        raise ClipvgError(f"rois[{i}]: unknown field(s) {', '.join(unknown)}")
    out = {k: v for k, v in roi.items() if k not in ("box", "polygon", "image")}
    if roi.get("image") is not None:
        out["image"] = images(str(roi["image"]))
        out.pop("prompt", None)
    elif not isinstance(roi.get("prompt"), str) or not roi["prompt"].strip():
        raise ClipvgError(f"rois[{i}] needs a non-empty prompt (or an exemplar image)")
    if ("box" in roi) == ("polygon" in roi):
        raise ClipvgError(
            f"rois[{i}] needs exactly one of box [x, y, w, h] or polygon [[x, y], ...]"
        )
    if "box" in roi:
        box = roi["box"]
        if not (
            isinstance(box, list)
            and len(box) == 4
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in box)
        ):
            raise ClipvgError(f"rois[{i}].box must be [x, y, w, h] numbers")
        out.update(zip(("x", "y", "w", "h"), (float(v) for v in box), strict=True))
    else:
        out["polygon"] = roi["polygon"]
    return out


def edit_settings(
    body: dict[str, Any],
    svg: str,
    device: str,
    clip_model: str,
    clip_pretrained: str,
    clip_weights: str | None,
    images: Callable[[str], str] = lambda iid: iid,
) -> tuple[EditSettings, bool]:
    """The EditSettings of a POST /api/edits body (ClipvgError on bad fields).

    ``images`` maps an exemplar image id to its stored file.
    """
    known = set(EDIT_FIELDS) | {"scene", "rois", "lock", "random_weights", "prompt_image", "freeze"}
    unknown = sorted(set(body) - known)
    if unknown:
        raise ClipvgError(
            f"unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    rois = body.get("rois") or []
    if not isinstance(rois, list):
        raise ClipvgError("rois must be a list")
    lock = body.get("lock")
    if lock is not None and lock not in ("color", "shape"):
        raise ClipvgError(f'lock must be "color", "shape" or null, got {lock!r}')
    random_weights = body.get("random_weights", False)
    if not isinstance(random_weights, bool):
        raise ClipvgError("random_weights must be true or false")
    iters = body.get("iters", EditSettings.iters)
    if isinstance(iters, int) and not isinstance(iters, bool) and not 1 <= iters <= MAX_ITERS:
        raise ClipvgError(f"iters must be between 1 and {MAX_ITERS}")
    candidates = body.get("candidates", 1)
    if isinstance(candidates, int) and not 1 <= candidates <= MAX_CANDIDATES:
        raise ClipvgError(f"candidates must be between 1 and {MAX_CANDIDATES}")
    freeze = body.get("freeze") or []
    if not isinstance(freeze, list) or not all(isinstance(x, str) for x in freeze):
        raise ClipvgError("freeze must be a list of layer (group) ids")
    values = {k: body[k] for k in EDIT_FIELDS if k in body and body[k] is not None}
    values["freeze"] = freeze
    values.update(
        input=svg,
        rois=[_roi_entry(i, r, images) for i, r in enumerate(rois)],
        prompt_image=None
        if body.get("prompt_image") is None
        else images(str(body["prompt_image"])),
        lock=[lock] if lock else [],
        device=device,
        clip_model=clip_model,
        clip_pretrained="none" if random_weights else clip_pretrained,
        clip_weights=None if random_weights else clip_weights,
    )
    settings = EditSettings.from_dict(values, "edit request")
    if settings.edit_only and not settings.rois:
        raise ClipvgError("edit_only needs at least one region (draw a box or polygon)")
    return settings, random_weights


def _examples(folder: str | Path | None) -> dict[str, Path]:
    """Bundled example inputs by file name (the page can only ask for these names)."""
    if folder is None:
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
) -> None:
    """Run the editor with uvicorn until Ctrl-C (which stops the running edit cleanly)."""
    import uvicorn

    if port < 0 or port > 65535:
        raise ClipvgError(f"--port must be in 0..65535, got {port}")
    app = create_app(workdir, **options)
    inner = app.app if isinstance(app, _Guard) else app
    if not _is_loopback(host):
        print(
            f"warning: serving on {host}: anyone who can reach this machine can use the editor "
            "and its CPU/GPU; there is no login (use the default 127.0.0.1 for local use)",
            file=sys.stderr,
        )

    class Server(uvicorn.Server):
        def handle_exit(self, sig, frame):  # first Ctrl-C: stop the edit, keep its state
            inner.state.jobs.request_stop()
            super().handle_exit(sig, frame)

    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    server = Server(config)
    shown = f"[{host}]" if ":" in host else host
    print_fn(
        f"clipvg editor on http://{shown}:{port}/  (runs in {Path(workdir).resolve()}; Ctrl-C stops)"
    )
    server.run()
    print_fn("stopped; every run's latest state is saved")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False

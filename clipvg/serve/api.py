"""The editor's JSON API under ``/api/`` and its page: a class whose methods are the routes.

:class:`Api` holds what the routes share (scenes, jobs, CLIP's status, the server's
settings); :meth:`Api.routes` lists every route once, so adding one is a method and a
line there. The safety rules the routes keep:

- ids in URLs must be 16 hex digits; file names are built from ids only;
- an uploaded SVG is served only as our own re-export (see :mod:`clipvg.serve.scenes`);
- every error is a 4xx/5xx JSON ``{"error": "one line"}``, never a traceback.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from ..config import EditSettings
from ..errors import ClipvgError
from ..launch import check_rois
from .jobs import TERMINAL, Job, JobManager, scene_of
from .limits import cut_prompts, error_status, public_message
from .requests import EDIT_FIELDS, ROI_FIELDS, edit_settings, json_body
from .scenes import PRESETS, SceneStore
from .stages import estimate
from .views import candidate_file, file_name, request_of

log = logging.getLogger("clipvg.serve")

STATIC = Path(__file__).resolve().parent / "static"


def error(status: int, message: str) -> JSONResponse:
    """The one error shape: ``{"error": "one line"}``."""
    return JSONResponse({"error": message}, status_code=status)


class Api:
    """The routes of the editor over one scene store and one job queue.

    Args:
        scenes, jobs: the uploads and the edit queue.
        server: the settings the server decides (device, CLIP model, weights), the
            layer under every page request.
        clip_info: what ``/api/info`` says about CLIP (see ``clip_status``).
        max_upload_bytes: shown to the page (the limit itself is :mod:`.perimeter`'s).
        examples: bundled example inputs by name.
    """

    def __init__(
        self,
        scenes: SceneStore,
        jobs: JobManager,
        *,
        server: dict[str, Any],
        clip_info: dict[str, Any],
        max_upload_bytes: int,
        examples: dict[str, Path],
    ):
        self.scenes, self.jobs = scenes, jobs
        self.server = server
        self.clip_info = clip_info
        self.max_upload_bytes = max_upload_bytes
        self.examples = examples
        self.defaults = EditSettings()

    def routes(self) -> list[tuple[str, str, Callable, dict[str, Any]]]:
        """``(method, path, handler, options)`` of every route, in matching order."""
        return [
            ("GET", "/", self.index, {"include_in_schema": False}),
            ("GET", "/api/info", self.info, {}),
            ("POST", "/api/scenes", self.create_scene, {"status_code": 201}),
            ("GET", "/api/scenes/{sid}", self.get_scene, {}),
            ("POST", "/api/scenes/{sid}/cancel", self.cancel_scene, {}),
            ("GET", "/api/scenes/{sid}/svg", self.scene_svg, {}),
            ("GET", "/api/scenes/{sid}/png", self.scene_png, {}),
            ("POST", "/api/images", self.add_image, {"status_code": 201}),
            ("GET", "/api/images/{iid}", self.get_image, {}),
            ("GET", "/api/edits", self.list_edits, {}),
            ("POST", "/api/edits", self.create_edit, {"status_code": 201}),
            ("GET", "/api/edits/{jid}", self.get_edit, {}),
            ("POST", "/api/edits/{jid}/stop", self.stop_edit, {}),
            ("POST", "/api/edits/{jid}/resume", self.resume_edit, {}),
            ("GET", "/api/edits/{jid}/events", self.edit_events, {}),
            ("GET", "/api/edits/{jid}/svg", self.edit_svg, {}),
            ("GET", "/api/edits/{jid}/png", self.edit_png, {}),
            ("GET", "/api/edits/{jid}/run.json", self.edit_record, {}),
            ("GET", "/api/edits/{jid}/candidates/{seed}/{kind}", self.candidate_picture, {}),
            ("POST", "/api/estimate", self.estimate_edit, {}),
        ]

    def mount(self, app: FastAPI) -> None:
        """Add the error handlers, the routes, the static files and the API's 404."""
        app.add_exception_handler(ClipvgError, self.clipvg_error)
        app.add_exception_handler(HTTPException, self.http_error)
        app.add_exception_handler(RequestValidationError, self.validation_error)
        app.add_exception_handler(Exception, self.internal_error)
        for method, path, handler, options in self.routes():
            app.add_api_route(path, handler, methods=[method], **options)
        app.mount("/static", StaticFiles(directory=STATIC), name="static")
        app.add_api_route(
            "/api/{rest:path}",
            self.unknown_api,
            methods=["GET", "POST", "PUT", "DELETE", "PATCH"],
        )

    # ---- errors -------------------------------------------------------------------
    async def clipvg_error(self, request, exc):
        text = str(exc)  # settings are named as the page's fields name them
        return error(error_status(exc), public_message(text, self.scenes.root.parent))

    async def http_error(self, request, exc):
        detail = exc.detail if isinstance(exc.detail, str) else "bad request"
        return error(exc.status_code, "not found" if exc.status_code == 404 else detail)

    async def validation_error(self, request, exc):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ())[1:]) or "request"
        return error(422, f"{where}: {first.get('msg', 'invalid value')}")

    async def internal_error(self, request, exc):
        log.exception("request %s failed", request.url.path)
        return error(500, f"internal error: {type(exc).__name__}")

    async def unknown_api(self, rest: str):
        return error(404, "no such API endpoint; see the README's Web editor section")

    # ---- page ---------------------------------------------------------------------
    async def index(self):
        return FileResponse(STATIC / "index.html", headers={"cache-control": "no-cache"})

    async def info(self):
        return {
            "clip": self.clip_info,
            "device": self.server["device"],
            "max_upload_bytes": self.max_upload_bytes,
            "presets": list(PRESETS),
            "examples": sorted(self.examples),
            "defaults": {k: getattr(self.defaults, k) for k in EDIT_FIELDS},
        }

    # ---- scenes -------------------------------------------------------------------
    async def create_scene(self, request: Request):
        form = await request.form()
        preset = str(form.get("preset") or "balanced")
        upload, example = form.get("file"), form.get("example")
        if upload is not None and hasattr(upload, "read"):
            data, name = await upload.read(), upload.filename
        elif example is not None:
            if str(example) not in self.examples:
                raise ClipvgError(f"unknown example {str(example)[:40]!r}")
            path = self.examples[str(example)]
            data, name = path.read_bytes(), path.name
        else:
            raise ClipvgError("send the picture as a multipart field named 'file'")
        info = await asyncio.to_thread(self.scenes.create, data, name, preset)
        return JSONResponse(info.to_dict(), status_code=201 if info.status == "ready" else 202)

    async def get_scene(self, sid: str, wait: float = 0.0):
        # ?wait=S: a picture still vectorizing is answered when it is ready or has
        # failed, or after S seconds (at most 10), so that the page learns it at once.
        if wait > 0:
            info = await asyncio.to_thread(self.scenes.wait, sid, min(wait, 10.0))
        else:
            info = self.scenes.get(sid)
        return {**info.to_dict(), "queue_position": self.scenes.position(sid)}

    async def cancel_scene(self, sid: str):
        return (await asyncio.to_thread(self.scenes.cancel, sid)).to_dict()

    def ready_scene(self, sid: str):
        info = self.scenes.get(sid)
        if info.status != "ready":
            raise ClipvgError(
                f"scene {sid} is {info.status}" + (f": {info.error}" if info.error else "")
            )
        return info

    async def scene_svg(self, sid: str):
        self.ready_scene(sid)
        return FileResponse(self.scenes.svg_path(sid), media_type="image/svg+xml")

    async def scene_png(self, sid: str):
        self.ready_scene(sid)
        path = await asyncio.to_thread(self.scenes.png, sid)
        return FileResponse(path, media_type="image/png")

    async def add_image(self, request: Request):
        form = await request.form()
        upload = form.get("file")
        if upload is None or not hasattr(upload, "read"):
            raise ClipvgError("send the picture as a multipart field named 'file'")
        return await asyncio.to_thread(self.scenes.add_image, await upload.read())

    async def get_image(self, iid: str):
        return FileResponse(self.scenes.image_path(iid), media_type="image/png")

    # ---- edits --------------------------------------------------------------------
    async def list_edits(self):
        return {"edits": await asyncio.to_thread(self.jobs.list)}

    async def create_edit(self, request: Request):
        body = await json_body(request)
        sid = body.get("scene")
        if not isinstance(sid, str):
            raise ClipvgError('give the scene to edit: {"scene": ID, ...} from POST /api/scenes')
        info = self.ready_scene(sid)
        settings, random_weights = edit_settings(
            body,
            str(self.scenes.svg_path(sid)),
            self.server,
            images=lambda iid: str(self.scenes.image_path(iid)),
        )
        check_rois(settings, info.width, info.height)
        notes = await asyncio.to_thread(cut_prompts, settings)
        job = self.jobs.submit(settings, random_weights, notes)
        return JSONResponse(self.jobs.status(job), status_code=201)

    async def get_edit(self, jid: str):
        """The status, the request that restores the page, and the last event's number
        (events up to it are history when the page follows the edit)."""
        job = self.jobs.get(jid)
        return {
            **self.jobs.status(job),
            "request": request_of(job.settings, EDIT_FIELDS, ROI_FIELDS),
            "last_event": len(self.jobs.events_since(job, 0)) - 1,
        }

    async def estimate_edit(self, request: Request):
        """The run time of a POST /api/edits body, from runs measured on this machine."""
        body = await json_body(request)
        body.pop("scene", None)
        settings, _ = edit_settings(body, "estimate.svg", self.server, images=lambda iid: iid)
        out = estimate(settings, self.jobs.measured(settings.clip_model))
        return {**out, "clip_loaded": self.jobs.clip_loaded, "clip_load_s": self.jobs.clip_load_s}

    def download_name(self, job: Job, suffix: str) -> str:
        """``<input-name>-<prompt-slug><suffix>`` (see :func:`.views.file_name`)."""
        sid = scene_of(job.settings.input)
        try:
            stem = Path(self.scenes.get(sid).name).stem if sid else ""
        except ClipvgError:
            stem = ""
        return file_name(stem or "clipvg", job.settings.prompt or job.id, suffix)

    async def candidate_picture(self, jid: str, seed: int, kind: str, download: bool = False):
        job = self.jobs.get(jid)
        if kind not in ("svg", "png"):
            raise ClipvgError("ask for a candidate's svg or png")
        path = candidate_file(job.folder, job.id, seed, kind)
        name = self.download_name(job, f"-seed-{seed}.{kind}")
        media = "image/svg+xml" if kind == "svg" else "image/png"
        headers = {"cache-control": "no-store", **attachment(download, name)}
        return FileResponse(path, media_type=media, headers=headers)

    async def stop_edit(self, jid: str):
        job = self.jobs.get(jid)
        self.jobs.stop(job)
        return self.jobs.status(job)

    async def resume_edit(self, jid: str, request: Request):
        job = self.jobs.get(jid)
        body = await json_body(request, allow_empty=True)
        unknown = sorted(set(body) - {"iters"})
        if unknown:
            raise ClipvgError(f"unknown field(s) {', '.join(unknown)}; resume takes only iters")
        self.jobs.resume(job, body.get("iters"))
        return self.jobs.status(job)

    async def edit_events(self, jid: str, request: Request, after: int = -1):
        jobs = self.jobs
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

    async def edit_svg(self, jid: str, download: bool = False):
        job = self.jobs.get(jid)
        text = await asyncio.to_thread(latest_svg, job)
        name = self.download_name(job, ".svg")
        return Response(text, media_type="image/svg+xml", headers=attachment(download, name))

    async def edit_png(self, jid: str, download: bool = False):
        job = self.jobs.get(jid)
        data = await asyncio.to_thread(latest_png, job)
        return Response(
            data,
            media_type="image/png",
            headers={
                "cache-control": "no-store",
                **attachment(download, self.download_name(job, ".png")),
            },
        )

    async def edit_record(self, jid: str, download: bool = False):
        job = self.jobs.get(jid)
        path = job.folder / "run.json"
        if not path.is_file():
            raise ClipvgError(f"edit {jid} has no run.json yet (it is written when the run starts)")
        return FileResponse(
            path,
            media_type="application/json",
            headers=attachment(download, self.download_name(job, "-run.json")),
        )


def attachment(download: bool, name: str) -> dict[str, str]:
    """The content-disposition header of a download named ``name`` (none unless ``download``)."""
    if not download:
        return {}
    return {"content-disposition": f'attachment; filename="{name}"'}


def latest_svg(job: Job) -> str:
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


def latest_png(job: Job) -> bytes:
    """The live preview; for runs from disk, a render of their latest SVG."""
    from ..svg import load_svg
    from .preview import preview_png

    if job.preview is None:
        for name in ("final.svg", "latest.svg", "initial.svg"):
            if (job.folder / name).is_file():
                job.preview = preview_png(load_svg(job.folder / name))
                break
        else:
            raise ClipvgError(f"edit {job.id} has no picture yet (it is {job.status})")
    return job.preview

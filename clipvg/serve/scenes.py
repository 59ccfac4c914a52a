"""Uploaded pictures, stored as our own re-export: ``WORKDIR/scenes/ID/scene.svg``.

An uploaded SVG goes through :func:`clipvg.svg.load_svg` (the CLI's hostile-input
checks) and is written back with :func:`clipvg.svg.save_svg`: only filled paths come
out, so scripts, event handlers, external references and foreign elements never
reach the page. The uploaded bytes are deleted once parsed. A raster is vectorized
(in a worker thread, it takes seconds) with a preset; the raster is deleted afterwards.
"""

from __future__ import annotations

import io
import json
import logging
import re
import secrets
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from ..errors import ClipvgError
from ..io import write_text
from ..scene import Scene

log = logging.getLogger("clipvg.serve")

#: Ids are random hex; anything else in a URL is refused before touching the disk.
ID_PATTERN = re.compile(r"^[0-9a-f]{16}$")
PRESETS = ("fast", "balanced", "detailed")
RASTER_FORMATS = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp"}
#: Longest side of preview PNGs (the editor shows at most this much detail live).
PREVIEW_SIZE = 512


def new_id() -> str:
    """A random 64-bit id as 16 hex digits (file names come from these, never from requests)."""
    return secrets.token_hex(8)


def check_id(value: str, what: str) -> str:
    """``value`` if it is a well-formed id, else ClipvgError (so no request names a path)."""
    if not ID_PATTERN.match(value or ""):
        raise ClipvgError(f"unknown {what} id {value[:40]!r}")
    return value


def preview_png(scene: Scene, size: int = PREVIEW_SIZE) -> bytes:
    """PNG bytes of ``scene`` rendered over white, ``size`` px on the longer side at most."""
    from PIL import Image

    from ..io import image_to_uint8
    from ..render import render

    scale = min(1.0, size / max(scene.width, scene.height))
    with torch.no_grad():
        image = render(scene, width=max(1, round(scene.width * scale)))
    buf = io.BytesIO()
    Image.fromarray(image_to_uint8(image), "RGB").save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def sniff(data: bytes) -> str:
    """``"svg"``, or the suffix of a supported raster format; ClipvgError otherwise."""
    head = data[:4096].lstrip()
    if data[:2] == b"\x1f\x8b" or head.startswith(b"<") or b"<svg" in head:
        return "svg"
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            fmt = im.format
    except Exception:
        fmt = None
    if fmt not in RASTER_FORMATS:
        raise ClipvgError("unsupported file: upload an SVG, PNG, JPEG or WebP picture")
    return RASTER_FORMATS[fmt]


@dataclass
class SceneInfo:
    """What the page needs to know about a stored scene."""

    id: str
    name: str
    status: str  # processing, ready, failed
    kind: str  # svg or raster
    preset: str | None = None
    width: float | None = None
    height: float | None = None
    paths: int | None = None
    error: str | None = None
    seconds: float | None = None
    notes: list[str] | None = None  # warnings of the SVG reader (skipped elements)

    def to_dict(self) -> dict:
        return asdict(self)


def _display_name(name: str | None) -> str:
    """The uploaded file's name, for display only (never used as a path)."""
    base = re.split(r"[\\/]", name or "")[-1]
    return re.sub(r"[^\w .()-]", "_", base)[:80] or "upload"


class SceneStore:
    """Scenes under ``root``: create from uploads, look up by id."""

    def __init__(self, root: Path, max_bytes: int):
        self.root = root
        self.max_bytes = max_bytes
        self._infos: dict[str, SceneInfo] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clipvg-vectorize")

    def folder(self, sid: str) -> Path:
        return self.root / check_id(sid, "scene")

    def svg_path(self, sid: str) -> Path:
        return self.folder(sid) / "scene.svg"

    def png_path(self, sid: str) -> Path:
        return self.folder(sid) / "scene.png"

    def get(self, sid: str) -> SceneInfo:
        """The scene's info (from memory, else from its folder); ClipvgError when unknown."""
        check_id(sid, "scene")
        with self._lock:
            info = self._infos.get(sid)
        if info is not None:
            return info
        meta = self.folder(sid) / "scene.json"
        if not meta.is_file():
            raise ClipvgError(f"unknown scene id {sid!r}")
        info = SceneInfo(**json.loads(meta.read_text(encoding="utf-8")))
        if info.status == "processing":  # the server stopped while vectorizing
            info.status, info.error = "failed", "the server stopped while vectorizing; upload again"
        return info

    def _save(self, info: SceneInfo) -> None:
        with self._lock:
            self._infos[info.id] = info
        write_text(json.dumps(info.to_dict(), indent=1), self.folder(info.id) / "scene.json")

    def _finish(self, info: SceneInfo, scene: Scene, t0: float) -> None:
        from ..svg import save_svg

        save_svg(scene, self.svg_path(info.id))
        self.png_path(info.id).write_bytes(preview_png(scene))
        info.width, info.height, info.paths = scene.width, scene.height, scene.num_paths
        info.seconds = round(time.perf_counter() - t0, 3)
        info.status = "ready"
        self._save(info)

    def create(self, data: bytes, name: str | None, preset: str = "balanced") -> SceneInfo:
        """Store an upload: SVGs are re-exported now, rasters are vectorized in the background."""
        if len(data) > self.max_bytes:
            raise ClipvgError(
                f"the upload is {len(data)} bytes, over the limit of {self.max_bytes}; "
                "start the server with a larger --max-upload-mb"
            )
        if not data:
            raise ClipvgError("the upload is empty")
        if preset not in PRESETS:
            raise ClipvgError(f"unknown preset {preset!r}; use fast, balanced or detailed")
        kind = sniff(data)
        t0 = time.perf_counter()
        sid = new_id()
        folder = self.folder(sid)
        folder.mkdir(parents=True)
        if kind == "svg":
            info = SceneInfo(sid, _display_name(name), "processing", "svg")
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    scene = self._load_svg(folder, data)
                info.notes = [str(w.message) for w in caught] or None
                self._finish(info, scene, t0)
            except Exception:
                _remove(folder)
                raise
            return info
        info = SceneInfo(sid, _display_name(name), "processing", "raster", preset)
        source = folder / ("source" + kind)
        source.write_bytes(data)
        self._save(info)
        self._pool.submit(self._vectorize, info, source, t0)
        return info

    def _load_svg(self, folder: Path, data: bytes) -> Scene:
        from ..svg import SvgLimits, load_svg

        upload = folder / ".upload.svgz" if data[:2] == b"\x1f\x8b" else folder / ".upload.svg"
        upload.write_bytes(data)
        try:
            return load_svg(upload, limits=SvgLimits(max_file_bytes=self.max_bytes))
        finally:
            upload.unlink(missing_ok=True)

    def _vectorize(self, info: SceneInfo, source: Path, t0: float) -> None:
        from PIL import Image

        from vectorize import vectorize_image

        try:
            scene = vectorize_image(str(source), preset=info.preset or "balanced")
            self._finish(info, scene, t0)
        except ClipvgError as exc:
            info.status, info.error = "failed", str(exc).replace(str(source), "the upload")
            self._save(info)
        except Image.DecompressionBombError:
            info.status, info.error = "failed", "the image has too many pixels to read safely"
            self._save(info)
        except Exception as exc:  # reported as one line; the traceback goes to the server log
            log.exception("vectorizing scene %s failed", info.id)
            info.status, info.error = "failed", f"vectorizing failed: {type(exc).__name__}"
            self._save(info)
        finally:
            source.unlink(missing_ok=True)

    def image_path(self, iid: str) -> Path:
        """The stored exemplar picture ``iid`` (ClipvgError when unknown)."""
        path = self.root.parent / "images" / (check_id(iid, "image") + ".png")
        if not path.is_file():
            raise ClipvgError(f"unknown image id {iid!r}")
        return path

    def add_image(self, data: bytes) -> dict:
        """Store an exemplar picture, decoded and re-encoded as PNG (at most 1024 px)."""
        from PIL import Image

        if len(data) > self.max_bytes:
            raise ClipvgError(f"the upload is over the limit of {self.max_bytes} bytes")
        if sniff(data) == "svg":
            raise ClipvgError("an exemplar must be a PNG, JPEG or WebP picture")
        try:
            with Image.open(io.BytesIO(data)) as im:
                im.thumbnail((1024, 1024))
                rgb = im.convert("RGB")
        except Exception:
            raise ClipvgError("cannot read the exemplar as a picture") from None
        iid = new_id()
        path = self.root.parent / "images" / (iid + ".png")
        path.parent.mkdir(parents=True, exist_ok=True)
        rgb.save(path, format="PNG")
        return {"id": iid, "width": rgb.width, "height": rgb.height}

    def wait(self, sid: str, timeout: float = 60.0) -> SceneInfo:
        """Block until the scene is no longer processing (tests and scripts)."""
        end = time.monotonic() + timeout
        while (info := self.get(sid)).status == "processing" and time.monotonic() < end:
            time.sleep(0.05)
        return info

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _remove(folder: Path) -> None:
    for p in folder.iterdir():
        p.unlink(missing_ok=True)
    folder.rmdir()

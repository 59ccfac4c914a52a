"""Uploaded pictures, stored as our own re-export: ``WORKDIR/scenes/ID/scene.svg``.

An uploaded SVG goes through :func:`clipvg.svg.load_svg` (the CLI's hostile-input
checks) and is written back with :func:`clipvg.svg.save_svg`: only filled paths come
out, so scripts, event handlers, external references and foreign elements never
reach the page. The uploaded bytes are deleted once parsed. A raster is vectorized
(in a child process, see :mod:`clipvg.serve.vectorizer`: queued, cancellable) with a
preset; the raster is deleted afterwards. Every picture's pixel count is checked from
its header before anything decodes it (413 above :data:`clipvg.io.MAX_IMAGE_PIXELS`).
"""

from __future__ import annotations

import io
import json
import logging
import re
import secrets
import shutil
import threading
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import ClipvgError, TooLargeError
from ..io import atomic_path, open_image, write_text
from ..scene import Scene
from .limits import MAX_QUEUE, public_message
from .preview import preview_png

log = logging.getLogger("clipvg.serve")

#: Ids are random hex; anything else in a URL is refused before touching the disk.
ID_PATTERN = re.compile(r"[0-9a-f]{16}")  # always used with fullmatch
PRESETS = ("fast", "balanced", "detailed")
RASTER_FORMATS = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp"}


def new_id() -> str:
    """A random 64-bit id as 16 hex digits (file names come from these, never from requests)."""
    return secrets.token_hex(8)


def is_id(value: str) -> bool:
    """True for a well-formed id: exactly 16 lowercase hex digits, nothing before or after."""
    return isinstance(value, str) and ID_PATTERN.fullmatch(value) is not None


def check_id(value: str, what: str) -> str:
    """``value`` if it is a well-formed id, else ClipvgError (so no request names a path)."""
    if not is_id(value):
        raise ClipvgError(f"unknown {what} id {str(value)[:40]!r}")
    return value


def sniff(data: bytes) -> str:
    """``"svg"``, or the suffix of a supported raster format; ClipvgError otherwise
    (TooLargeError for a picture whose header claims too many pixels)."""
    head = data[:4096].lstrip()
    if data[:2] == b"\x1f\x8b" or head.startswith(b"<") or b"<svg" in head:
        return "svg"
    try:
        with open_image(io.BytesIO(data), "the picture") as im:
            fmt = im.format
    except TooLargeError:
        raise
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

    def __init__(self, root: Path, max_bytes: int, max_queue: int = MAX_QUEUE):
        from .vectorizer import Vectorizer

        self.root = root
        self.max_bytes = max_bytes
        self._infos: dict[str, SceneInfo] = {}
        self._lock = threading.Lock()
        self._png_lock = threading.Lock()
        self._settled = threading.Condition()  # notified when a vectorize reports
        clean_orphans(root)
        self._vectorizer = Vectorizer(max_queue)

    def folder(self, sid: str) -> Path:
        return self.root / check_id(sid, "scene")

    def svg_path(self, sid: str) -> Path:
        return self.folder(sid) / "scene.svg"

    def png(self, sid: str) -> Path:
        """The scene's PNG (at most :data:`~clipvg.serve.preview.PREVIEW_SIZE` px), rendered
        from its SVG on the first request: the page draws the SVG itself and asks for the
        PNG only where it cannot, so neither an upload nor a vectorize waits for it."""
        path = self.folder(sid) / "scene.png"
        if not path.is_file():
            with self._png_lock:  # a second request waits for the render, then finds it
                if not path.is_file():
                    from ..svg import load_svg

                    data = preview_png(load_svg(self.svg_path(sid), limits=self._limits()))
                    with atomic_path(path) as tmp:
                        tmp.write_bytes(data)
        return path

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

    def position(self, sid: str) -> int | None:
        """Place in the vectorizing queue: 1 is next, 0 is running; None when not waiting."""
        return self._vectorizer.position(check_id(sid, "scene"))

    def cancel(self, sid: str) -> SceneInfo:
        """Cancel a queued or running vectorize (the scene then fails as "cancelled")."""
        info = self.get(sid)
        if info.status != "processing" or not self._vectorizer.cancel(sid):
            raise ClipvgError(
                f"scene {sid} is {info.status}; only a picture being vectorized cancels"
            )
        return self.get(sid)

    def _save(self, info: SceneInfo) -> None:
        with self._lock:
            self._infos[info.id] = info
        write_text(json.dumps(info.to_dict(), indent=1), self.folder(info.id) / "scene.json")

    def _finish(self, info: SceneInfo, scene: Scene, t0: float) -> None:
        from ..svg import save_svg

        save_svg(scene, self.svg_path(info.id))
        info.width, info.height, info.paths = scene.width, scene.height, scene.num_paths
        info.seconds = round(time.perf_counter() - t0, 3)
        info.status = "ready"
        self._save(info)

    def create(self, data: bytes, name: str | None, preset: str = "balanced") -> SceneInfo:
        """Store an upload: SVGs are re-exported now, rasters are vectorized in the background
        (QueueFull when too many wait)."""
        if len(data) > self.max_bytes:
            raise TooLargeError(
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
        try:
            self._vectorizer.submit(
                sid, source, folder, info.preset, lambda r: self._vectorized(info, source, t0, r)
            )
        except ClipvgError:
            with self._lock:
                self._infos.pop(sid, None)
            _remove(folder)
            raise
        return info

    def _limits(self):
        """The SVG limits of an upload (its stored re-export is read under them too)."""
        from ..svg import SvgLimits

        return SvgLimits(max_file_bytes=self.max_bytes)

    def _load_svg(self, folder: Path, data: bytes) -> Scene:
        """The upload's scene; errors say "the upload", never a server path or library advice."""
        from ..svg import parse_svg_string

        try:
            return parse_svg_string(data, limits=self._limits())
        except ClipvgError as exc:
            text = public_message(str(exc), self.root).replace("the SVG text", "the upload")
            raise type(exc)(text) from None

    def _vectorized(self, info: SceneInfo, source: Path, t0: float, result: dict) -> None:
        """The vectorizer's answer: the child wrote scene.svg, or failed."""
        source.unlink(missing_ok=True)
        if "error" in result:
            info.status, info.error = "failed", public_message(result["error"], self.root)
        else:
            info.width, info.height, info.paths = result["width"], result["height"], result["paths"]
            info.seconds = round(time.perf_counter() - t0, 3)
            info.status = "ready"
        if self.folder(info.id).is_dir():
            self._save(info)
        with self._settled:
            self._settled.notify_all()

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
            raise TooLargeError(f"the upload is over the limit of {self.max_bytes} bytes")
        if sniff(data) == "svg":  # sniff checks the pixel count from the header
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
        """Block until the scene is no longer processing, at most ``timeout`` seconds;
        returns its info then (woken the moment the vectorizer reports)."""
        end = time.monotonic() + timeout
        with self._settled:
            while (info := self.get(sid)).status == "processing":
                left = end - time.monotonic()
                if left <= 0:
                    break
                self._settled.wait(left)
        return info

    def shutdown(self) -> None:
        self._vectorizer.shutdown()


def _remove(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def clean_orphans(root: Path) -> None:
    """What a killed server left under ``root`` (the scenes folder): uploads it was
    vectorizing (``source.*``, marked failed), half-written files, folders without
    ``scene.json``."""
    if not root.is_dir():
        return
    for folder in root.iterdir():
        if not (folder.is_dir() and is_id(folder.name)):
            continue
        for p in folder.iterdir():
            if p.name.startswith(("source.", ".upload.")) or p.name.endswith(".tmp" + p.suffix):
                p.unlink(missing_ok=True)
        meta = folder / "scene.json"
        if not meta.is_file():
            _remove(folder)
            continue
        try:
            info = SceneInfo(**json.loads(meta.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            continue
        if info.status == "processing":
            info.status, info.error = "failed", "the server stopped while vectorizing; upload again"
            write_text(json.dumps(info.to_dict(), indent=1), meta)

"""File helpers shared by every command: whole-file writes and image I/O.

Outputs are written to a temporary file in the same folder and renamed into place,
so a crash or Ctrl-C never leaves a half-written file, and an input is never
overwritten by accident.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from .errors import ClipvgError, Setting, SettingError, TooLargeError


def _write_error(path: Path, exc: OSError) -> ClipvgError:
    reason = exc.strerror or str(exc) or type(exc).__name__
    return ClipvgError(f"cannot write {path}: {reason}; check the output location and free space")


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    The file gets the permissions the umask gives new files (the temporary file is
    opened with mode 0666, like ``open``), not mkstemp's 0600.

    Raises:
        ClipvgError: ``path`` is a folder, or the location cannot be written (read-only,
            full disk, ...): one line naming the path and the OS's reason.
    """
    path = Path(path)
    if path.is_dir():
        raise ClipvgError(f"output {path} is a folder; give a file name")
    kind = file_kind(path)
    if kind not in (None, "a file"):  # a rename would replace the FIFO or device node
        raise ClipvgError(f"output {path} is {kind}, not a regular file; give a file name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ClipvgError(f"cannot create output folder {path.parent}: {exc.strerror}") from None
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp{path.suffix}"
        try:
            os.close(os.open(tmp, flags, 0o666))
            break
        except FileExistsError:
            continue
        except OSError as exc:
            raise _write_error(path, exc) from None
    else:  # pragma: no cover - 100 random names all taken
        raise ClipvgError(f"cannot write {path}: no free temporary name in {path.parent}")
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:
        raise _write_error(path, exc) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text(text: str, path: str | os.PathLike) -> None:
    """Write ``text`` to ``path`` whole (temp file, then rename)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def image_to_uint8(image: torch.Tensor) -> np.ndarray:
    """(H, W, 3|4) float in [0, 1] -> (H, W, 3|4) uint8."""
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ClipvgError(f"expected an (H, W, 3) or (H, W, 4) image, got {tuple(image.shape)}")
    return (image.detach().clamp(0, 1).cpu().numpy() * 255 + 0.5).astype(np.uint8)


def write_png(image: torch.Tensor, path: str | os.PathLike) -> None:
    """Save an (H, W, 3|4) float image in [0, 1] as PNG, whole (temp file, then rename)."""
    from PIL import Image

    array = image_to_uint8(image)
    with atomic_path(path) as tmp:
        Image.fromarray(array, "RGBA" if array.shape[2] == 4 else "RGB").save(tmp, format="PNG")


#: Most pixels a picture file may have (e.g. 8192x4096); its header is checked
#: before decoding, so a small file claiming a huge image (a "decompression bomb")
#: costs nothing. Decoding and downscaling with alpha take ~50 bytes a pixel.
MAX_IMAGE_PIXELS = 1 << 25


def open_image(path, what: str = "image"):
    """``PIL.Image.open(path)`` (not yet decoded), refusing more than :data:`MAX_IMAGE_PIXELS`.

    Args:
        path: a file path, or a binary file object (e.g. ``io.BytesIO`` of an upload;
            the message then names only ``what``).

    Raises:
        TooLargeError: the header claims too many pixels. PIL's own errors (not an
            image, truncated) pass through for the caller to word.
    """
    import warnings

    from PIL import Image

    label = f"{what} {path}" if isinstance(path, (str, os.PathLike)) else what

    def too_large(size: str) -> TooLargeError:
        return TooLargeError(
            f"{label} is {size} pixels, over the limit of {MAX_IMAGE_PIXELS}; downscale it first"
        )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            im = Image.open(path)
        except Image.DecompressionBombError:
            raise too_large(f"more than {2 * Image.MAX_IMAGE_PIXELS}") from None
    if im.width * im.height > MAX_IMAGE_PIXELS:
        im.close()
        raise too_large(f"{im.width}x{im.height}")
    return im


def to_8bit(im):
    """A 16-bit (``I;16*``), 32-bit (``I``) or float (``F``) grey PIL image as 8-bit
    ``L``, its range mapped to [0, 255] (PIL's own ``convert`` clips it: a 16-bit
    picture comes out all white); other modes are returned as they are.

    16-bit and integer values up to 65535 are divided by 257; floats in [0, 1] are
    scaled by 255, floats in [0, 255] kept; any other range is stretched from its
    minimum to its maximum. NaN becomes 0.
    """
    from PIL import Image

    if not (im.mode.startswith("I") or im.mode == "F"):
        return im
    arr = np.nan_to_num(np.asarray(im, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = (float(arr.min()), float(arr.max())) if arr.size else (0.0, 0.0)
    if im.mode.startswith("I;16") or (im.mode == "I" and lo >= 0 and hi > 255 and hi <= 65535):
        arr = arr / 257.0
    elif im.mode == "F" and lo >= 0 and hi <= 1:
        arr = arr * 255.0
    elif lo < 0 or hi > 255:
        arr = (arr - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(arr)
    return Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), "L")


def open_rgba(path: str | os.PathLike, what: str = "image"):
    """Open a picture file as a loaded PIL RGBA image.

    Raises:
        ClipvgError: missing, unreadable or too large file; ``what`` names it in the message.
    """
    path = require_file(path, what)
    try:
        with open_image(path, what) as im:
            im.load()
            return to_8bit(im).convert("RGBA")
    except ClipvgError:
        raise
    except Exception:
        raise ClipvgError(f"cannot read {what} {path} as an image") from None


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """True when ``a`` and ``b`` name the same existing file (so writing b would destroy a)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def file_kind(path: str | os.PathLike) -> str | None:
    """What ``path`` is, in words: "a file", "a folder", "a FIFO", "a device", "a
    socket", "a symlink loop"; None when nothing is there."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        return "a symlink loop" if exc.errno == errno.ELOOP else None
    except ValueError:  # a NUL in the name
        return None
    if stat.S_ISREG(mode):
        return "a file"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a device"


def resolved(path: str | os.PathLike, what: str = "path") -> Path:
    """``Path(path).resolve()``, with a symlink loop as one line (Python raises
    RuntimeError there)."""
    try:
        return Path(path).resolve()
    except (RuntimeError, OSError):
        raise ClipvgError(f"{what} {path} is a symlink loop; fix or remove the link") from None


def require_file(path: str | os.PathLike, what: str = "input") -> Path:
    """``path`` as a Path, checked to be an existing regular file.

    Raises:
        ClipvgError: ``{what} {path} not found`` (the one wording of every command), or
            the path is a folder, a FIFO, a device or a symlink loop (named as such).
    """
    p = Path(path)
    kind = file_kind(p)
    if kind is None:
        raise ClipvgError(missing_message(p, what))
    if kind == "a symlink loop":
        raise ClipvgError(f"{what} {p} is a symlink loop; fix or remove the link")
    if kind != "a file":
        raise ClipvgError(f"{what} {p} is {kind}, not a file")
    return p


def read_text_file(path: str | os.PathLike, what: str = "input") -> str:
    """The text of a UTF-8 file (a BOM is dropped), checked with :func:`require_file`.

    Raises:
        ClipvgError: not a readable regular file, or not UTF-8 (the byte is named).
    """
    p = require_file(path, what)
    data = p.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ClipvgError(
            f"{what} {p} is not UTF-8 text (byte {exc.start}: {data[exc.start : exc.start + 1]!r}); "
            "save it as UTF-8"
        ) from None


def missing_message(path: str | os.PathLike, what: str = "input") -> str:
    """The message for a file that does not exist."""
    return f"{what} {path} not found; check the path"


def check_output(
    output: str | os.PathLike,
    inputs: Iterable[str | os.PathLike | None] = (),
    overwrite: bool = False,
) -> None:
    """Refuse an output file that is one of the command's ``inputs`` (always, even
    with ``overwrite``) or that exists already (unless ``overwrite``).

    Raises:
        ClipvgError: with the flag or the choice that fixes it.
    """
    for source in inputs:
        if source is not None and same_file(source, output):
            raise ClipvgError(
                f"output {output} is the input {source}; it would be overwritten; "
                "choose another output name"
            )
    if os.path.lexists(output) and not overwrite:
        raise SettingError(
            f"output {output} exists; set ", Setting("overwrite"), " or choose another name"
        )


def check_outside(folder: str | os.PathLike, inputs: Iterable[str | os.PathLike | None]) -> None:
    """Refuse inputs that lie inside an output ``folder`` (its files may be replaced).

    Raises:
        ClipvgError: naming the first such input.
    """
    root = resolved(folder, "output")
    for source in inputs:
        if source is not None and root in resolved(source, "input").parents:
            raise ClipvgError(
                f"the input {source} lies inside the output folder {folder}, whose files "
                "are replaced; move it or pick another -o"
            )


#: File name suffixes of raster images (inputs that ``vectorize`` turns into SVG).
RASTER_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
_RASTER_MAGIC = (
    (b"\x89PNG", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF8", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)


def raster_kind(path: str | os.PathLike) -> str | None:
    """The raster format of a file by its first bytes (or its suffix), else None."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
    except OSError:
        head = b""
    for magic, kind in _RASTER_MAGIC:
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    if not head.lstrip().startswith((b"<", b"\x1f\x8b")):  # not XML, not .svgz
        suffix = Path(path).suffix.lower()
        if suffix in RASTER_SUFFIXES:
            return suffix.lstrip(".").upper()
    return None

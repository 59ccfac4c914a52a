"""File helpers shared by every command: whole-file writes and image I/O.

Outputs are written to a temporary file in the same folder and renamed into place,
so a crash or Ctrl-C never leaves a half-written file, and an input is never
overwritten by accident.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from .errors import ClipvgError


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success."""
    path = Path(path)
    if path.is_dir():
        raise ClipvgError(f"output {path} is a folder; give a file name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ClipvgError(f"cannot create output folder {path.parent}: {exc.strerror}") from None
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent or "."
    )
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
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


def open_image(path: str | os.PathLike, what: str = "image"):
    """``PIL.Image.open(path)`` (not yet decoded), refusing more than :data:`MAX_IMAGE_PIXELS`.

    Raises:
        ClipvgError: the header claims too many pixels. PIL's own errors (not an
            image, truncated) pass through for the caller to word.
    """
    import warnings

    from PIL import Image

    def too_large(size: str) -> ClipvgError:
        return ClipvgError(
            f"{what} {path} is {size} pixels, over the limit of {MAX_IMAGE_PIXELS}; downscale it first"
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


def open_rgba(path: str | os.PathLike, what: str = "image"):
    """Open a picture file as a loaded PIL RGBA image.

    Raises:
        ClipvgError: missing, unreadable or too large file; ``what`` names it in the message.
    """
    path = Path(path)
    if not path.is_file():
        raise ClipvgError(f"{what} {path} not found")
    try:
        with open_image(path, what) as im:
            im.load()
            return im.convert("RGBA")
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

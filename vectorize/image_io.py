"""Loading raster inputs (PNG, JPEG, WebP, ...) for vectorization.

EXIF orientation is applied, palette / grayscale / 16-bit images become RGB, and
alpha becomes an opacity mask: pixels with alpha < 0.5 are left out of every path.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import numpy as np

from clipvg.errors import ClipvgError
from clipvg.io import open_image, require_file, to_8bit


@dataclass(frozen=True)
class RasterInput:
    """A decoded input.

    ``rgb``: (H, W, 3) float32 in [0, 1], sRGB; ``opaque``: (H, W) bool;
    ``scale``: working size / original size (1.0 when not downscaled).
    """

    rgb: np.ndarray
    opaque: np.ndarray
    scale: float


def load_image(path: str | os.PathLike, max_size: int = 512) -> RasterInput:
    """Read an image file and downscale it to at most ``max_size`` on the long side.

    Raises:
        ClipvgError: the file is missing, empty or not a readable image.
    """
    from PIL import ImageOps, UnidentifiedImageError

    require_file(path, "input image")
    if os.path.getsize(path) == 0:
        raise ClipvgError(f"input image {path} is empty (0 bytes)")
    try:
        with open_image(path, "input image") as im:
            im.load()
            im = ImageOps.exif_transpose(im)
            return from_pil(im, max_size=max_size, label=str(path))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ClipvgError(
            f"cannot read {path} as an image ({exc}); use PNG, JPEG or WebP"
        ) from None


def from_pil(im, max_size: int = 512, label: str = "image") -> RasterInput:
    """Convert a PIL image (any mode) to a :class:`RasterInput`, downscaled if needed."""
    from PIL import Image

    if im.width == 0 or im.height == 0:
        raise ClipvgError(f"{label} has no pixels")
    im = to_8bit(im)  # 16-bit and float pictures: their range, not clipped to white
    has_alpha = im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info)
    im = im.convert("RGBA" if has_alpha else "RGB")
    scale = 1.0
    if max(im.width, im.height) > max_size:
        scale = max_size / max(im.width, im.height)
        size = (max(1, round(im.width * scale)), max(1, round(im.height * scale)))
        warnings.warn(
            f"{label} is {im.width}x{im.height}; vectorizing it downscaled to {size[0]}x{size[1]} "
            f"(raise --max-size to keep more detail)",
            stacklevel=2,
        )
        if has_alpha:  # resize premultiplied so transparent pixels do not bleed in
            arr = np.asarray(im, dtype=np.float32) / 255
            arr[..., :3] *= arr[..., 3:]
            chans = [
                Image.fromarray(arr[..., c]).resize(size, Image.Resampling.LANCZOS)
                for c in range(4)
            ]
            arr = np.clip(np.stack([np.asarray(c) for c in chans], -1), 0, 1)
            arr[..., :3] /= np.maximum(arr[..., 3:], 1e-6)
            return _finish(np.clip(arr, 0, 1), scale)
        im = im.resize(size, Image.Resampling.LANCZOS)
    return _finish(np.asarray(im, dtype=np.float32) / 255, scale)


def from_array(image: np.ndarray, max_size: int = 512) -> RasterInput:
    """Accept (H, W), (H, W, 3) or (H, W, 4) uint8 (0..255) or float (0..1) arrays."""
    from PIL import Image

    a = np.asarray(image)
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (1, 3, 4)) or a.size == 0:
        raise ClipvgError(f"expected an (H, W), (H, W, 3) or (H, W, 4) image, got shape {a.shape}")
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.dtype != np.uint8:
        a = (np.clip(a.astype(np.float32), 0, 1) * 255 + 0.5).astype(np.uint8)
    return from_pil(Image.fromarray(a), max_size=max_size)


def _finish(arr: np.ndarray, scale: float) -> RasterInput:
    if arr.shape[2] == 4:
        opaque = arr[..., 3] >= 0.5
        rgb = arr[..., :3]
    else:
        opaque = np.ones(arr.shape[:2], bool)
        rgb = arr
    return RasterInput(np.ascontiguousarray(rgb, dtype=np.float32), opaque, scale)

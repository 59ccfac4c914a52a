"""Soft region masks: pure functions of (ROI, canvas size, render size).

A mask is an (H, W) float32 tensor in [0, 1] at a render size: the fraction of
each pixel that lies inside the region (1 = editable). Boxes get their exact pixel
coverage; polygons are rasterized with clipvg's own exact-area renderer; mask
images are read as grayscale (white = 1) and resized (area-averaged) to the
render size, stretched over the whole canvas.

Pixel (i, j) covers [j, j + 1] x [i, i + 1] in render pixels; a render of size
(H, W) maps canvas point (x, y) to (x * W / width, y * H / height).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import torch
import torch.nn.functional as F

from clipvg.errors import ClipvgError
from clipvg.io import open_rgba

if TYPE_CHECKING:
    from clipvg.scene import Scene

Polygon = tuple[tuple[float, float], ...]


class Region(Protocol):
    """What a mask needs of an ROI (:class:`roi.region.ROI` is one): this module sits
    below :mod:`roi.region`, which builds ROIs from these masks, and does not import it."""

    mask: str | None
    polygon: Polygon | None

    @property
    def box(self) -> tuple[float, float, float, float]: ...

    def scaled(self, sx: float, sy: float) -> Region: ...


def parse_polygon(value: str | Sequence, what: str = "polygon") -> Polygon:
    """``"x1,y1 x2,y2 ..."`` or ``[[x1, y1], ...]`` -> vertices (at least 3, finite).

    Raises:
        ClipvgError: malformed text, fewer than 3 vertices, non-finite numbers.
    """
    try:
        if isinstance(value, str):
            pairs = [p.split(",") for p in value.replace(";", " ").split()]
        else:
            pairs = [list(p) for p in value]
        poly = tuple((float(p[0]), float(p[1])) for p in pairs if len(p) == 2)
        ok = len(poly) == len(pairs)
    except (TypeError, ValueError, IndexError):
        ok, poly = False, ()
    if not ok:
        raise ClipvgError(
            f'{what}: a polygon is "x1,y1 x2,y2 x3,y3 ..." (canvas units), got {value!r}'
        )
    if len(poly) < 3:
        raise ClipvgError(f"{what}: a polygon needs at least 3 vertices, got {len(poly)}")
    if not all(math.isfinite(c) for p in poly for c in p):
        raise ClipvgError(f"{what}: polygon vertices must be finite numbers")
    return poly


def read_mask(path: str | Path, width: int, height: int) -> torch.Tensor:
    """Read a mask image as (height, width) float32 in [0, 1] (white = 1), area-resized.

    Alpha, when present, multiplies the gray value (transparent = not editable).

    Raises:
        ClipvgError: missing or unreadable file, or an aspect ratio that differs from
            the canvas by more than 2 % (the mask would be distorted).
    """
    from PIL import Image

    rgba = open_rgba(path, "mask image")
    mw, mh = rgba.size
    if abs(mw / mh - width / height) > 0.02 * (width / height):
        raise ClipvgError(
            f"mask {path} is {mw}x{mh} but the canvas is {width}x{height}; "
            "make the mask with the canvas's aspect ratio"
        )
    gray = rgba.convert("L")
    alpha = rgba.getchannel("A")
    if (mw, mh) != (width, height):
        gray = gray.resize((width, height), Image.Resampling.BOX)
        alpha = alpha.resize((width, height), Image.Resampling.BOX)
    g = torch.frombuffer(bytearray(gray.tobytes()), dtype=torch.uint8).float() / 255
    a = torch.frombuffer(bytearray(alpha.tobytes()), dtype=torch.uint8).float() / 255
    return (g * a).view(height, width)


def mask_bbox(mask: torch.Tensor, what: str = "mask") -> tuple[float, float, float, float]:
    """Bounding box ``(x, y, w, h)`` in mask pixels of the pixels >= 0.5.

    Raises:
        ClipvgError: no pixel reaches 0.5 (an empty mask).
    """
    on = mask >= 0.5
    if not bool(on.any()):
        raise ClipvgError(
            f"{what} is empty (no pixel is at least half white); paint the region white"
        )
    rows = on.any(1).nonzero().flatten()
    cols = on.any(0).nonzero().flatten()
    x0, x1 = int(cols[0]), int(cols[-1]) + 1
    y0, y1 = int(rows[0]), int(rows[-1]) + 1
    return float(x0), float(y0), float(x1 - x0), float(y1 - y0)


def box_mask(
    box: tuple[float, float, float, float],
    size: tuple[int, int],
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Exact pixel coverage of an axis-aligned box.

    Args:
        box: ``(x, y, w, h)`` in render pixels.
        size: ``(H, W)`` of the mask.

    Returns:
        (H, W) float32 in [0, 1].
    """
    x, y, w, h = box
    hgt, wid = size

    def cover(lo: float, hi: float, n: int) -> torch.Tensor:
        start = torch.arange(n, dtype=torch.float32, device=device)
        return ((start + 1).clamp(max=hi) - start.clamp(min=lo)).clamp(0, 1)

    return cover(y, y + h, hgt)[:, None] * cover(x, x + w, wid)[None, :]


def polygon_mask(
    polygon: Polygon, size: tuple[int, int], device: torch.device | str = "cpu"
) -> torch.Tensor:
    """Anti-aliased (exact-area, nonzero rule) coverage of a polygon.

    Args:
        polygon: vertices in render pixels.
        size: ``(H, W)`` of the mask.

    Returns:
        (H, W) float32 in [0, 1].
    """
    from clipvg.render import render
    from clipvg.scene import Scene

    v = torch.tensor(polygon, dtype=torch.float32)
    nxt = torch.roll(v, -1, 0)
    chain = torch.stack([v, v + (nxt - v) / 3, v + 2 * (nxt - v) / 3], 1).reshape(-1, 2)
    hgt, wid = size
    scene = Scene.from_paths(wid, hgt, [[chain]], [[1.0, 1.0, 1.0, 1.0]])
    with torch.no_grad():
        image = render(scene, wid, hgt, background="black", tolerance=0.05)
    return image[..., 0].clamp(0, 1).to(device)


def roi_mask(
    roi: Region,
    canvas: tuple[float, float],
    size: tuple[int, int],
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Soft mask of one ROI at a render size.

    Args:
        roi: the region, in canvas units.
        canvas: ``(width, height)`` of the canvas.
        size: ``(H, W)`` of the render.

    Returns:
        (H, W) float32 in [0, 1], 1 = inside (editable).
    """
    hgt, wid = size
    sx, sy = wid / canvas[0], hgt / canvas[1]
    if roi.mask:
        return read_mask(roi.mask, wid, hgt).to(device)
    scaled = roi.scaled(sx, sy)
    if roi.polygon:
        return polygon_mask(scaled.polygon, size, device)
    return box_mask(scaled.box, size, device)


def union_mask(
    rois: Sequence[Region],
    canvas: tuple[float, float],
    size: tuple[int, int],
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Pixel-wise max of the ROIs' masks; all zeros for no ROIs. (H, W) float32 in [0, 1]."""
    out = torch.zeros(size, dtype=torch.float32, device=device)
    for roi in rois:
        out = torch.maximum(out, roi_mask(roi, canvas, size, device))
    return out


def feather(mask: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of a mask (separable, zero padding reads as the nearest edge).

    Args:
        mask: (H, W) float in [0, 1].
        sigma: standard deviation in pixels (0: unchanged).

    Returns:
        (H, W) same dtype/device, in [0, 1].
    """
    if sigma < 0:
        raise ClipvgError(f"feather must be >= 0 pixels, got {sigma:g}")
    if sigma == 0:
        return mask
    r = max(1, math.ceil(3 * sigma))
    t = torch.arange(-r, r + 1, dtype=mask.dtype, device=mask.device)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    x = F.pad(mask[None, None], (r, r, r, r), mode="replicate")
    x = F.conv2d(x, k.view(1, 1, 1, -1))
    x = F.conv2d(x, k.view(1, 1, -1, 1))
    return x[0, 0].clamp(0, 1)


def keep_weights(region: torch.Tensor, sigma: float) -> torch.Tensor:
    """Where the background must stay: ``1 - feather(region, sigma)``.

    Args:
        region: (H, W) union of the ROI masks in [0, 1].
        sigma: feather width in pixels; the weight ramps from 0 inside to 1 outside.

    Returns:
        (H, W) float in [0, 1], 1 far outside every ROI.
    """
    return 1 - feather(region, sigma)


def stroke_reach(scene: Scene) -> torch.Tensor:
    """(N,) how far each path's paint may reach beyond its centre line, canvas units.

    0 for a path without a stroke; else half the stroke width, times the miter limit
    for miter joins (a miter tip lies at most that far from its vertex) and times
    sqrt(2) for square caps (a cap's corners). A bound, not the exact outline.
    """
    from clipvg.scene import CAP_SQUARE, JOIN_MITER

    hw = scene.stroke_widths.detach().clamp(min=0) / 2
    factor = torch.ones_like(hw)
    factor = torch.where(
        scene.linejoin == JOIN_MITER, scene.miter_limit.detach().clamp(min=1), factor
    )
    factor = torch.where(scene.linecap == CAP_SQUARE, factor.clamp(min=2**0.5), factor)
    return torch.where(scene.has_stroke, hw * factor, torch.zeros_like(hw))


def paths_overlapping(scene: Scene, region: torch.Tensor) -> torch.Tensor:
    """Which paths may touch a region: their control-point bounding box, widened by
    :func:`stroke_reach`, covers a pixel where ``region > 0``.

    A cubic lies inside its control points' convex hull, so a path whose box misses
    the region cannot overlap it; the test is conservative (a path whose box touches
    the region counts even if its fill does not).

    Args:
        scene: the scene (canvas units).
        region: (H, W) mask in [0, 1] over the whole canvas, at any resolution.

    Returns:
        (N,) bool on the scene's device.
    """
    n = scene.num_paths
    if n == 0:
        return torch.zeros(0, dtype=torch.bool, device=scene.device)
    hgt, wid = region.shape
    pts = scene.points.detach().to(region.device)
    owner = scene.path_point_index().to(region.device)
    big = torch.finfo(pts.dtype).max
    lo = torch.full((n, 2), big, dtype=pts.dtype, device=pts.device)
    hi = torch.full((n, 2), -big, dtype=pts.dtype, device=pts.device)
    idx = owner[:, None].expand(-1, 2)
    lo = lo.scatter_reduce(0, idx, pts, "amin")
    hi = hi.scatter_reduce(0, idx, pts, "amax")
    scale = torch.tensor(
        [wid / scene.width, hgt / scene.height], dtype=pts.dtype, device=pts.device
    )
    reach = stroke_reach(scene).to(pts.device, pts.dtype)[:, None]
    lo, hi = (lo - reach) * scale, (hi + reach) * scale
    # pixel j covers [j, j + 1]: the box [lo, hi] touches pixels floor(lo) .. ceil(hi) - 1
    x0 = lo[:, 0].floor().clamp(0, wid).long()
    y0 = lo[:, 1].floor().clamp(0, hgt).long()
    x1 = torch.maximum(hi[:, 0].ceil(), lo[:, 0].floor() + 1).clamp(0, wid).long()
    y1 = torch.maximum(hi[:, 1].ceil(), lo[:, 1].floor() + 1).clamp(0, hgt).long()
    on = (region > 0).to(torch.int64)
    sat = F.pad(on.cumsum(0).cumsum(1), (1, 0, 1, 0))  # (H+1, W+1) summed-area table
    count = sat[y1, x1] - sat[y0, x1] - sat[y1, x0] + sat[y0, x0]
    return (count > 0).to(scene.device)

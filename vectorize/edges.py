"""Sub-pixel placement of traced borders, from the colors on either side.

A traced border runs along pixel edges. In a photo the true edge between two
flat colors ``A`` (inside) and ``B`` (outside) usually lies inside a pixel, which
then shows a mix of both. Across the pixel pair that straddles a border point, the
amount of ``A`` is ``1 + e`` when the edge lies ``e`` pixels outward of the pixel
edge, and each pixel's share of ``A`` is its color projected on ``B -> A``. So
``e = t_in + t_out - 1``: one projection per pixel, no optimization, and the
anti-aliased render of the shifted border matches the input there.
"""

from __future__ import annotations

import numpy as np

_MIN_CONTRAST = 0.01  # |A - B|^2 below this says nothing about where the edge is
_REACH = 0.75  # farthest shift, pixels (so borders never cross their neighbours)


def place_borders(
    polylines: list[np.ndarray],
    owner: np.ndarray,
    top: np.ndarray,
    colors: np.ndarray,
    image: np.ndarray,
) -> list[np.ndarray]:
    """Shift every visible border point along its normal to the sub-pixel edge.

    Args:
        polylines: closed polylines on pixel edges, each (n, 2) float64 canvas
            pixels, oriented as :func:`~vectorize.trace.borders_to_polylines`
            returns them (the region on the right of the direction of travel).
        owner: (len(polylines),) int, the path each polyline belongs to.
        top: (H, W) int, the path painted on top at each pixel (flat colors).
        colors: (N, 3) float, the flat color of every path.
        image: (H, W, 3) float32 in [0, 1], the input.

    Returns:
        The polylines, with points where both sides are visible (the inside pixel
        shows this path, the outside one another) moved by at most 0.75 px.
    """
    if not polylines:
        return []
    h, w = top.shape
    sizes = np.array([len(p) for p in polylines])
    first = np.cumsum(sizes) - sizes
    cid = np.repeat(np.arange(len(sizes)), sizes)
    local = np.arange(sizes.sum()) - first[cid]
    pts = np.concatenate(polylines)
    nxt = pts[first[cid] + (local + 1) % sizes[cid]]
    prv = pts[first[cid] + (local - 1) % sizes[cid]]
    tangent = nxt - prv
    # (ty, -tx) points away from the region for both outer borders and holes.
    out = np.stack([tangent[:, 1], -tangent[:, 0]], 1)
    out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)
    path = np.asarray(owner, np.int64)[cid]
    inside = np.floor(pts - 0.5 * out).astype(np.int64)
    outside = np.floor(pts + 0.5 * out).astype(np.int64)
    ok = _on_canvas(inside, w, h) & _on_canvas(outside, w, h)
    ix, iy = np.clip(inside[:, 0], 0, w - 1), np.clip(inside[:, 1], 0, h - 1)
    ox, oy = np.clip(outside[:, 0], 0, w - 1), np.clip(outside[:, 1], 0, h - 1)
    beyond = top[oy, ox]
    ok &= (top[iy, ix] == path) & (beyond != path) & (beyond >= 0)
    a = colors[path]
    b = colors[np.maximum(beyond, 0)]
    ab = a - b
    contrast = (ab * ab).sum(1)
    ok &= contrast > _MIN_CONTRAST
    safe = np.where(ok, contrast, 1.0)
    t_in = np.clip(((image[iy, ix] - b) * ab).sum(1) / safe, 0, 1)
    t_out = np.clip(((image[oy, ox] - b) * ab).sum(1) / safe, 0, 1)
    shift = np.where(ok, np.clip(t_in + t_out - 1, -_REACH, _REACH), 0.0)
    moved = pts + shift[:, None] * out
    return np.split(moved, first[1:])


def _on_canvas(p: np.ndarray, w: int, h: int) -> np.ndarray:
    return (p[:, 0] >= 0) & (p[:, 0] < w) & (p[:, 1] >= 0) & (p[:, 1] < h)

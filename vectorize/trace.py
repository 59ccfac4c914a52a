"""Region masks to closed cubic Bezier contours.

Tracing follows pixel *edges*, not pixel centers: ``cv2.findContours`` returns the
centers of the boundary pixels, and every point is pushed half a pixel outward along
the contour normal, so a traced 1-pixel region has area ~1 instead of 0.

Fitting is Schneider-style and vectorized over every segment of every contour at
once: Douglas-Peucker picks knots, each segment's two inner control points are the
least-squares fit (chord-length parameters) to the traced points between its knots,
and segments that still miss by more than the tolerance are split and refit.
"""

from __future__ import annotations

import cv2
import numpy as np

_SPLIT_ROUNDS = 3  # how many times badly fitting segments are split and refit


def trace_mask(
    mask: np.ndarray,
    origin: tuple[int, int] = (0, 0),
    canvas: tuple[int, int] | None = None,
    bleed: float = 0.0,
) -> list[np.ndarray]:
    """Trace the outer borders and holes of a binary mask.

    Args:
        mask: (h, w) bool or uint8, the pixels to enclose.
        origin: (x0, y0) canvas position of ``mask[0, 0]``'s top-left corner.
        canvas: (W, H) canvas size; with ``bleed``, border points on the canvas
            edge are moved ``bleed`` pixels beyond it, so that edges of the picture
            stay covered when the shape moves a little.

    Returns:
        Closed polylines, each (n, 2) float64 canvas pixels (x right, y down) on
        pixel edges, n >= 4. Outer borders run clockwise on screen and hole borders
        counter-clockwise, so together they describe the mask under the nonzero
        rule (and under even-odd).
    """
    return borders_to_polylines(find_borders(mask, origin), canvas, bleed)


def find_borders(
    mask: np.ndarray, origin: tuple[int, int] = (0, 0)
) -> list[tuple[np.ndarray, bool]]:
    """Border pixels of a mask: ``(pixels, is_hole)`` per border, pixels (n, 2) int64
    canvas ``x, y`` in order along the border. Holes of fewer than 4 border pixels
    are dropped."""
    m = np.ascontiguousarray(mask, dtype=np.uint8)
    contours, hierarchy = cv2.findContours(m, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)
    if hierarchy is None:
        return []
    o = np.asarray(origin, dtype=np.int64)
    out = []
    for c, h in zip(contours, hierarchy[0], strict=True):
        is_hole = bool(h[3] >= 0)
        if is_hole and len(c) < 4:
            continue  # a hole of one or two pixels: not worth a contour
        out.append((c[:, 0, :].astype(np.int64) + o, is_hole))
    return out


def borders_to_polylines(
    borders: list[tuple[np.ndarray, bool]],
    canvas: tuple[int, int] | None = None,
    bleed: float = 0.0,
) -> list[np.ndarray]:
    """Border pixels (from :func:`find_borders`) to closed polylines on pixel edges.

    All borders are processed at once: [1, 4, 6, 4, 1] / 16 smoothing along each
    border (borders of 8 pixels or more) takes the staircase out, then every point
    moves half a pixel outward (inward for holes) along the normal. Borders of fewer
    than 4 pixels become their bounding box. See :func:`trace_mask` for the result.
    """
    if not borders:
        return []
    sizes = np.array([len(b) for b, _ in borders])
    hole = np.array([h for _, h in borders])
    raw = np.concatenate([b for b, _ in borders])
    cid = np.repeat(np.arange(len(sizes)), sizes)
    first = np.cumsum(sizes) - sizes
    local = np.arange(len(raw)) - first[cid]
    n = sizes[cid]

    def nb(k: int) -> np.ndarray:
        return first[cid] + (local + k) % n

    pts = raw.astype(np.float64) + 0.5
    smooth = (6 * pts + 4 * (pts[nb(1)] + pts[nb(-1)]) + pts[nb(2)] + pts[nb(-2)]) / 16
    pts = np.where((n >= 8)[:, None], smooth, pts)
    area = _areas(pts, cid, nb(1), len(sizes))
    tangent = pts[nb(1)] - pts[nb(-1)]
    normal = np.stack([tangent[:, 1], -tangent[:, 0]], 1)
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-9)
    # For a positive shoelace area (clockwise on screen, y down) (ty, -tx) points outward.
    sign = np.where(area > 0, 0.5, -0.5) * np.where(hole, -1.0, 1.0)
    pts = pts + sign[cid, None] * normal
    if canvas is not None and bleed > 0:
        size = np.asarray(canvas, dtype=np.int64)
        pts = np.where(raw == 0, -bleed, pts)
        pts = np.where(raw == size - 1, size + bleed, pts)
    # Tiny borders: the bounding box of their pixels.
    small = np.nonzero(sizes < 4)[0]
    if len(small):
        lo = np.minimum.reduceat(raw, first)[small].astype(np.float64)
        hi = np.maximum.reduceat(raw, first)[small].astype(np.float64) + 1
        boxes = np.stack(
            [lo, np.stack([hi[:, 0], lo[:, 1]], 1), hi, np.stack([lo[:, 0], hi[:, 1]], 1)], 1
        )
    # Outer borders clockwise on screen (positive shoelace area, y down), holes
    # counter-clockwise: the nonzero rule then fills exactly the mask, and stays
    # filled when noise makes a contour loop over itself (even-odd would punch a
    # hole into every such loop).
    flip = (_areas(pts, cid, nb(1), len(sizes)) > 0) == hole
    order = np.where(flip[cid], first[cid] + (n - 1 - local), np.arange(len(raw)))
    pts = pts[order]
    out = np.split(pts, first[1:])
    for j, c in enumerate(small):
        out[c] = boxes[j]
    return out


def _areas(pts: np.ndarray, cid: np.ndarray, nxt: np.ndarray, count: int) -> np.ndarray:
    """(C,) signed shoelace area of every contour of a concatenated polyline set."""
    cross = pts[:, 0] * pts[nxt, 1] - pts[nxt, 0] * pts[:, 1]
    return 0.5 * np.bincount(cid, cross, minlength=count)


def fit_contours(polylines: list[np.ndarray], tolerance: float = 1.0) -> list[np.ndarray]:
    """Fit closed cubic Bezier chains to closed polylines.

    Args:
        polylines: closed polylines, each (n, 2) float, n >= 3, last point not
            repeating the first.
        tolerance: largest allowed distance (canvas pixels) between a traced point
            and its fitted curve, before a segment is split; also the
            Douglas-Peucker tolerance for the first knots.

    Returns:
        One (3k, 2) float32 array per polyline in the layout of
        :mod:`clipvg.scene`: ``p0, c0a, c0b, p1, ...``, closing back on ``p0``.
    """
    if not polylines:
        return []
    # Knots: Douglas-Peucker vertices, as indices into each polyline; all contours' knots
    # in one array, sorted by contour, then by index.
    knots = [_dp_indices(p, tolerance) for p in polylines]
    sizes = np.array([len(p) for p in polylines])
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    allpts = np.concatenate(polylines)
    seg_contour = np.repeat(np.arange(len(knots)), [len(k) for k in knots])
    start = np.concatenate(knots)
    wide = int(sizes.max()) + 1
    for split in range(_SPLIT_ROUNDS + 1):
        count = np.bincount(seg_contour, minlength=len(sizes))
        first = (np.cumsum(count) - count)[seg_contour]
        nxt = start[first + (np.arange(len(start)) - first + 1) % count[seg_contour]]
        n = sizes[seg_contour]
        span = (nxt - start) % n
        span[span == 0] = n[span == 0]  # a single knot: the segment goes all the way round
        ctrl, err, worst = _fit_segments(allpts, offsets[seg_contour], n, start, span)
        if split == _SPLIT_ROUNDS:
            break
        bad = (err > tolerance) & (span >= 4)
        if not bad.any():
            break
        mid = (start + np.clip(worst, 1, span - 1)) % n
        keys = np.sort(
            np.concatenate([seg_contour * wide + start, (seg_contour * wide + mid)[bad]])
        )
        keys = keys[np.concatenate([[True], keys[1:] != keys[:-1]])]
        seg_contour, start = keys // wide, keys % wide
    p0 = allpts[offsets[seg_contour] + start]
    chain = np.stack([p0, ctrl[:, 0], ctrl[:, 1]], 1).reshape(-1, 2).astype(np.float32)
    return np.split(chain, 3 * np.cumsum(np.bincount(seg_contour, minlength=len(sizes)))[:-1])


def _dp_indices(poly: np.ndarray, tolerance: float) -> np.ndarray:
    """Indices of Douglas-Peucker vertices of a closed polyline, at least 3 when it
    has 6 points or more, sorted."""
    n = len(poly)
    pf = poly.astype(np.float32)
    approx = cv2.approxPolyDP(pf.reshape(-1, 1, 2), tolerance, True)[:, 0, :]
    # approxPolyDP returns a subset of the input points: find where they sit (the first
    # occurrence), by their bits (+0 turns -0 into 0) in a stable sort of the polyline's.
    keys = (pf + np.float32(0)).view(np.int64).ravel()
    wanted = (np.ascontiguousarray(approx, np.float32) + np.float32(0)).view(np.int64).ravel()
    order = np.argsort(keys, kind="stable")
    pos = np.minimum(np.searchsorted(keys[order], wanted), n - 1)
    idx = np.unique(order[pos[keys[order[pos]] == wanted]])
    if len(idx) < 2:
        idx = np.array([0, n // 2], dtype=np.int64)
    if len(idx) == 2 and n >= 6:
        # Two knots make a lens at best; three make any blob.
        idx = np.unique(np.array([idx[0], idx[0] + n // 3, idx[0] + 2 * n // 3]) % n)
    return idx.astype(np.int64)


def _fit_segments(allpts, base, n, start, span):
    """Least-squares inner control points for every segment at once.

    Returns (S, 2, 2) control points, (S,) largest point error, (S,) offset of the
    worst point inside its segment.
    """
    s = len(start)
    seg = np.repeat(np.arange(s), span + 1)  # each segment's points incl. both knots
    local = np.arange(len(seg)) - np.repeat(np.cumsum(span + 1) - (span + 1), span + 1)
    idx = base[seg] + (start[seg] + local) % n[seg]
    pts = allpts[idx]
    # Chord-length parameters in [0, 1] per segment.
    step = np.zeros(len(pts))
    step[1:] = np.linalg.norm(pts[1:] - pts[:-1], axis=1)
    step[local == 0] = 0.0
    cum = np.cumsum(step)
    seg_first = np.cumsum(span + 1) - (span + 1)
    cum = cum - cum[seg_first][seg]
    total = np.maximum(cum[seg_first + span][seg], 1e-9)
    t = cum / total
    p0 = pts[seg_first][seg]
    p3 = pts[seg_first + span][seg]
    mt = 1 - t
    b0, b1, b2, b3 = mt**3, 3 * mt**2 * t, 3 * mt * t**2, t**3
    target = pts - b0[:, None] * p0 - b3[:, None] * p3
    a11 = np.bincount(seg, b1 * b1, minlength=s)
    a12 = np.bincount(seg, b1 * b2, minlength=s)
    a22 = np.bincount(seg, b2 * b2, minlength=s)
    r1 = np.stack([np.bincount(seg, b1 * target[:, c], minlength=s) for c in range(2)], 1)
    r2 = np.stack([np.bincount(seg, b2 * target[:, c], minlength=s) for c in range(2)], 1)
    det = a11 * a22 - a12 * a12
    ok = (np.abs(det) > 1e-9) & (span >= 3)
    safe = np.where(ok, det, 1.0)[:, None]
    c1 = (a22[:, None] * r1 - a12[:, None] * r2) / safe
    c2 = (a11[:, None] * r2 - a12[:, None] * r1) / safe
    s0, s3 = pts[seg_first], pts[seg_first + span]
    line1, line2 = s0 + (s3 - s0) / 3, s0 + 2 * (s3 - s0) / 3
    c1 = np.where(ok[:, None], c1, line1)
    c2 = np.where(ok[:, None], c2, line2)
    # Keep handles from exploding on near-degenerate fits.
    chord = np.linalg.norm(s3 - s0, axis=1, keepdims=True) + np.sqrt(span)[:, None]
    for c, anchor in ((c1, s0), (c2, s3)):
        d = c - anchor
        ln = np.linalg.norm(d, axis=1, keepdims=True)
        c[:] = anchor + d * np.minimum(1.0, 1.5 * chord / np.maximum(ln, 1e-9))
    curve = b0[:, None] * p0 + b1[:, None] * c1[seg] + b2[:, None] * c2[seg] + b3[:, None] * p3
    dist = np.linalg.norm(curve - pts, axis=1)
    # Segments are contiguous runs of points (at least two each): reduce per run.
    err = np.maximum.reduceat(dist, seg_first)
    # Local index of the (first) worst point per segment.
    worst = np.minimum.reduceat(np.where(dist == err[seg], local, len(local)), seg_first)
    return np.stack([c1, c2], 1), err, worst

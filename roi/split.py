"""Confine an edit to its regions: split paths at the region boundary, bound the curves.

``--edit-only`` promises that nothing outside the regions changes beyond the feather
width. Three pure pieces hold it (see :class:`clipvg.edit.EditSession`):

- :func:`region_outline`: the union of the extra ROIs as one vector outline (boxes and
  polygons exactly; mask images traced at the 0.5 level at the render size).
- :func:`split_partial`: a path that lies partly outside the region keeps its original
  (frozen, written back bit-identical) and gets an editable copy clipped to the region
  (boolean intersection by Skia's PathOps), painted right above it; the copy alone may
  change, and it covers only the region.
- :func:`segments_leaving`: which cubic segments have a curve point on a pixel outside
  the *allowed* mask (the region's pixels grown by the feather width,
  :func:`allowed_mask`); the editor reverts such moves, so an edited curve (and hence
  its fill, the allowed set being simply connected) stays within the feathered region.

Copies are marked by their id (``...clipvg-roi``), so a checkpoint or an edited SVG is
not split twice.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    import pathops

    from clipvg.scene import Scene

    from .region import ROI

COPY_MARK = "clipvg-roi"
_COPY_RE = re.compile(COPY_MARK + r"(-\d+)?$")


def is_region_copy(path_id: str | None) -> bool:
    """Whether a path id marks an edit-only copy (also after ``-2`` de-duplication)."""
    return bool(path_id) and _COPY_RE.search(path_id) is not None


def _contour_path(contours: Sequence[np.ndarray], evenodd: bool = False) -> pathops.Path:
    """Closed cubic chains ((3n, 2) arrays, see :mod:`clipvg.scene`) -> a pathops Path."""
    import pathops

    fill = pathops.FillType.EVEN_ODD if evenodd else pathops.FillType.WINDING
    out = pathops.Path(fillType=fill)
    for c in contours:
        c = np.asarray(c, dtype=np.float64).reshape(-1, 2)
        out.moveTo(*c[0])
        for k in range(0, len(c), 3):
            out.cubicTo(*c[k + 1], *c[k + 2], *c[(k + 3) % len(c)])
        out.close()
    return out


def _polygon_path(polygons: Sequence[np.ndarray], evenodd: bool = False) -> pathops.Path:
    """Polygons ((n, 2) vertices) -> a pathops Path of closed line contours."""
    import pathops

    fill = pathops.FillType.EVEN_ODD if evenodd else pathops.FillType.WINDING
    out = pathops.Path(fillType=fill)
    for poly in polygons:
        out.moveTo(*poly[0])
        for p in poly[1:]:
            out.lineTo(*p)
        out.close()
    return out


def _cubic_contours(path: pathops.Path) -> list[np.ndarray]:
    """A pathops Path (lines, quadratics, cubics) -> closed cubic chains, (3n, 2) float32."""
    from pathops import PathVerb

    path.convertConicsToQuads()
    out: list[np.ndarray] = []
    chain: list[np.ndarray] = []
    start = last = np.zeros(2)

    def line_to(p: np.ndarray) -> None:
        chain.extend([last + (p - last) / 3, last + 2 * (p - last) / 3, p])

    def close() -> None:
        if chain and not np.allclose(last, start, rtol=0, atol=1e-9):
            line_to(start)
        if len(chain) >= 3:  # chain = p0, then (c1, c2, p) per segment; drop the final p = p0
            out.append(np.array([start] + chain[:-1], dtype=np.float32))
        chain.clear()

    for verb, pts in path:
        pts = [np.asarray(p, dtype=np.float64) for p in pts]
        if verb == PathVerb.MOVE:
            close()
            start = last = pts[0]
        elif verb == PathVerb.LINE:
            line_to(pts[0])
            last = pts[0]
        elif verb == PathVerb.QUAD:
            q, p = pts
            chain.extend([last + 2 / 3 * (q - last), p + 2 / 3 * (q - p), p])
            last = p
        elif verb == PathVerb.CUBIC:
            chain.extend(pts)
            last = pts[2]
        elif verb == PathVerb.CLOSE:
            close()
            last = start
    close()
    return out


def region_outline(
    rois: Sequence[ROI], canvas: tuple[float, float], size: tuple[int, int]
) -> pathops.Path:
    """The union of the ROIs' regions as one outline, in canvas units.

    Args:
        rois: the extra ROIs (boxes, polygons, mask images).
        canvas: ``(width, height)`` of the canvas.
        size: ``(H, W)`` render size at which mask images are traced (0.5 level).

    Returns:
        a pathops Path (nonzero fill) of the union.
    """
    import pathops
    from skimage.measure import find_contours

    from .mask import roi_mask

    hgt, wid = size
    sx, sy = canvas[0] / wid, canvas[1] / hgt
    parts = []
    for roi in rois:
        if roi.mask:
            m = F.pad(roi_mask(roi, canvas, size), (1, 1, 1, 1)).numpy()
            # find_contours gives (row, col) of pixel centres in the padded mask
            polys = [
                np.stack([(c[:, 1] - 0.5) * sx, (c[:, 0] - 0.5) * sy], 1)
                for c in find_contours(m, 0.5)
            ]
            parts.append(_polygon_path([p for p in polys if len(p) >= 3], evenodd=True))
        elif roi.polygon:
            parts.append(_polygon_path([np.array(roi.polygon, dtype=np.float64)]))
        else:
            x, y, w, h = roi.box
            parts.append(
                _polygon_path([np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]])])
            )
    builder = pathops.OpBuilder(fix_winding=True)
    for part in parts:
        builder.add(part, pathops.PathOp.UNION)
    return builder.resolve()


def clip_contours(
    contours: Sequence[np.ndarray], evenodd: bool, outline: pathops.Path
) -> list[np.ndarray]:
    """The part of a filled path inside ``outline``, as closed cubic chains (nonzero fill).

    Args:
        contours: the path's closed cubic chains, (3n, 2) each, canvas units.
        evenodd: the path's fill rule.
        outline: the region (see :func:`region_outline`).

    Returns:
        (3m, 2) float32 chains; empty when the path misses the region, or when PathOps
        cannot resolve it (the path then simply stays frozen).
    """
    import pathops

    try:
        inside = pathops.op(_contour_path(contours, evenodd), outline, pathops.PathOp.INTERSECTION)
    except pathops.PathOpsError:
        return []
    return _cubic_contours(inside)


def closed_for_fill(chain: torch.Tensor) -> torch.Tensor:
    """An open contour (3n + 1, 2) as the closed one (3m, 2) that a fill paints.

    A fill closes an open contour with a straight line back to its start (SVG); that
    line becomes one more cubic segment (control points at thirds), or none where the
    contour already ends on its start.
    """
    start, end = chain[0], chain[-1]
    if torch.equal(start, end) and chain.shape[0] > 1:
        return chain[:-1]
    thirds = torch.stack([end + (start - end) / 3, end + 2 * (start - end) / 3])
    return torch.cat([chain, thirds])


def split_partial(
    scene: Scene, partial: torch.Tensor, outline: pathops.Path
) -> tuple[Scene, torch.Tensor]:
    """Give every ``partial`` path an editable copy clipped to the region, right above it.

    A copy, and a path already followed by one (ids marked, see :func:`is_region_copy`),
    gets none. Copies keep the original's paint, stroke and groups. A filled copy is cut to
    the region (nonzero fill); a stroked copy, or one painted with a gradient laid out on
    its bounding box, keeps its geometry and gets the region as a clip path instead (a
    stroke crossing the region's edge ends there like a fill). A copy painted with a
    gradient gets its own copy of the gradient.

    Args:
        scene: the scene (canvas units).
        partial: (N,) bool, the paths that lie partly inside the region.
        outline: the region (see :func:`region_outline`).

    Returns:
        (split scene, (N',) bool: which of its paths are copies). Originals keep their
        values bit for bit; with nothing to copy the scene comes back as it is.
    """
    from clipvg.scene import PathInfo

    n = scene.num_paths
    ids = [p.id for p in scene.info]
    done = [is_region_copy(ids[i]) or (i + 1 < n and is_region_copy(ids[i + 1])) for i in range(n)]
    todo = [i for i in partial.nonzero().flatten().tolist() if not done[i]]
    points = scene.points.detach().cpu()
    chains = list(points.split(scene.contour_sizes.tolist()))
    owner = scene.contour_path.tolist()
    per_path: list[list[torch.Tensor]] = [[] for _ in range(n)]
    for c, p in zip(chains, owner, strict=True):
        per_path[p].append(c)
    evenodd = scene.evenodd.cpu().tolist()
    # A stroke, or a gradient laid out on the path's box, would change if its geometry
    # were cut: such a copy keeps the geometry and is clipped to the region instead.
    g = scene.gradients
    bbox_paint = [
        any(
            int(k) >= 0 and bool(g.units_bbox[int(k)])
            for k in (scene.fill_paint[i], scene.stroke_paint[i])
        )
        for i in range(n)
    ]
    clipped_copy = [bool(scene.has_stroke[i]) or bbox_paint[i] for i in range(n)]
    copies: dict[int, list[torch.Tensor] | None] = {}
    for i in todo:
        if clipped_copy[i]:
            copies[i] = None
            continue
        closed = scene.contour_closed[scene.contour_path == i].tolist()
        chains_i = [c if k else closed_for_fill(c) for c, k in zip(per_path[i], closed)]
        clipped = clip_contours([c.numpy() for c in chains_i], evenodd[i], outline)
        if clipped:
            copies[i] = [torch.from_numpy(c) for c in clipped]
    if not copies:
        return scene, torch.tensor([is_region_copy(i) for i in ids], dtype=torch.bool)
    order, is_copy = [], []
    for i in range(n):
        order.append(i)
        is_copy.append(is_region_copy(ids[i]))
        if i in copies:
            order.append(i)
            is_copy.append(True)
    out = scene.take(order)
    copy_at = [j for j, i in enumerate(order) if j > 0 and order[j - 1] == i]
    for j in copy_at:
        i = order[j]
        mark = f"{ids[i]}-{COPY_MARK}" if ids[i] else COPY_MARK
        out.info[j] = PathInfo(mark, scene.info[i].groups)
    return _finish_copies(out, copy_at, [copies[order[j]] for j in copy_at], outline), torch.tensor(
        is_copy, dtype=torch.bool
    )


def _finish_copies(out: Scene, copy_at: list[int], geometry: list, outline: pathops.Path) -> Scene:
    """Give the copies at ``copy_at`` their clipped geometry (a list of closed chains, nonzero
    fill) or, where it is None, the region as a clip path; and their own gradients."""
    from clipvg.scene import ClipPath, Gradients, Scene

    region = _cubic_contours(outline)
    g = out.gradients
    new_rows: list[int] = []
    for j in copy_at:
        for name in ("fill_paint", "stroke_paint"):
            k = int(getattr(out, name)[j])
            if k >= 0:  # the copy's edits must not reach the frozen original's gradient
                getattr(out, name)[j] = len(g) + len(new_rows)
                new_rows.append(k)
    if new_rows:
        rows = torch.tensor(new_rows, dtype=torch.int64)
        stop_first = torch.cumsum(g.stop_sizes, 0) - g.stop_sizes
        stops = torch.cat(
            [
                torch.arange(int(stop_first[k]), int(stop_first[k] + g.stop_sizes[k]))
                for k in new_rows
            ]
        )
        cat = {
            name: torch.cat(
                [
                    getattr(g, name),
                    getattr(g, name)[
                        rows if name not in ("stop_offsets", "stop_colors") else stops
                    ],
                ]
            )
            for name in (
                "kind",
                "geometry",
                "units_bbox",
                "transform",
                "spread",
                "stop_sizes",
                "stop_offsets",
                "stop_colors",
            )
        }
        out.gradients = Gradients(**cat, ids=list(g.ids) + [None] * len(new_rows))
    if any(geom is None for geom in geometry) and region:
        base = len(out.clips)
        for j, geom in zip(copy_at, geometry):
            if geom is None:
                clip_scene = Scene.from_paths(
                    out.width, out.height, [[torch.from_numpy(c) for c in region]], [[0, 0, 0, 1]]
                )
                out.clips.append(ClipPath(clip_scene, int(out.path_clip[j])))
                out.path_clip[j] = base
                base += 1
    if all(geom is None for geom in geometry):
        return out
    # Swap the clipped geometry in for the fill-only copies.
    chains, closed, owner = [], [], []
    for p in range(out.num_paths):
        if p in copy_at and geometry[copy_at.index(p)] is not None:
            new = geometry[copy_at.index(p)]
            chains += [c.to(out.points.dtype) for c in new]
            closed += [True] * len(new)
            owner += [p] * len(new)
            out.evenodd[p] = False
        else:
            for c, flag in zip(
                out.path_contours(p), out.contour_closed[out.contour_path == p].tolist()
            ):
                chains.append(c.detach())
                closed.append(flag)
                owner.append(p)
    out.points = torch.cat(chains)
    out.contour_sizes = torch.tensor([len(c) for c in chains], dtype=torch.int64)
    out.contour_path = torch.tensor(owner, dtype=torch.int64)
    out.contour_closed = torch.tensor(closed, dtype=torch.bool)
    return Scene(**{f: getattr(out, f) for f in out.__dataclass_fields__})


def allowed_mask(region: torch.Tensor, radius: int) -> torch.Tensor:
    """Pixels an edited curve may cross: those the region touches, grown by ``radius``.

    Args:
        region: (H, W) region coverage in [0, 1].
        radius: growth in pixels (square neighbourhood), >= 0: the feather width.

    Returns:
        (H + 2r, W + 2r) bool, padded by ``r = radius`` on every side (so a region
        touching the canvas edge may grow past it).
    """
    on = F.pad((region > 0).float()[None, None], (radius,) * 4)
    if radius > 0:
        on = F.max_pool2d(on, 2 * radius + 1, stride=1, padding=radius)
    return on[0, 0] > 0


def segment_index(scene: Scene, paths: torch.Tensor) -> torch.Tensor:
    """(S, 4) int64 indices into ``scene.points`` of every cubic segment of ``paths``.

    Args:
        paths: (N,) bool, the paths whose segments are wanted.
    """
    sizes = scene.contour_sizes.cpu()
    offsets = torch.cumsum(sizes, 0) - sizes
    keep = paths.cpu()[scene.contour_path.cpu()]
    sizes, offsets = sizes[keep], offsets[keep]
    closed = scene.contour_closed.cpu()[keep]
    nseg = torch.where(closed, sizes // 3, (sizes - 1) // 3)  # open: 3n + 1 points
    contour = torch.repeat_interleave(torch.arange(len(sizes)), nseg)
    k = torch.arange(int(nseg.sum())) - torch.repeat_interleave(torch.cumsum(nseg, 0) - nseg, nseg)
    local = 3 * k[:, None] + torch.arange(4)
    local = local % sizes[contour][:, None]  # the last segment ends at the contour's start
    return (offsets[contour][:, None] + local).to(scene.device)


def segment_reach(scene: Scene, segments: torch.Tensor, scale: tuple[float, float]) -> torch.Tensor:
    """(S,) render pixels the paint of each segment (:func:`segment_index`) may reach
    beyond its curve: its path's :func:`roi.mask.stroke_reach`, or 0 for a region copy
    clipped to the region (the clip keeps its stroke inside)."""
    from .mask import stroke_reach

    device = segments.device
    owner = scene.path_point_index().to(device)[segments[:, 0]]
    ids = [is_region_copy(p.id) for p in scene.info]
    clipped = torch.tensor(ids, dtype=torch.bool, device=device) & (scene.path_clip.to(device) >= 0)
    reach = torch.where(clipped, 0.0, stroke_reach(scene).to(device))
    return reach[owner] * max(scale)


def segments_leaving(
    points: torch.Tensor,
    segments: torch.Tensor,
    allowed: torch.Tensor,
    scale: tuple[float, float],
    radius: int,
    spacing: float = 0.25,
    max_samples: int = 4096,
    margin: torch.Tensor | None = None,
) -> torch.Tensor:
    """Which cubic segments have a curve sample on a pixel outside ``allowed``, or, for
    a segment with a ``margin`` (a stroke), a sample closer than that to such a pixel.

    The curve is sampled so that consecutive samples lie at most ``spacing`` render
    pixels apart (``|B'(t)| <= 3 * longest control-polygon edge``), up to
    ``max_samples`` per segment.

    Args:
        points: (P, 2) control points, canvas units.
        segments: (S, 4) int64 indices of each segment's points (:func:`segment_index`).
        allowed: (H + 2r, W + 2r) bool from :func:`allowed_mask`.
        scale: ``(W / width, H / height)``, canvas units -> render pixels.
        radius: the ``r`` that ``allowed`` is padded by.
        margin: (S,) render pixels each segment's paint reaches beyond its centre line
            (:func:`roi.mask.stroke_reach` scaled), or None (fills: 0). A sample is
            then judged by the distance from its pixel to the nearest pixel outside
            ``allowed``, which must exceed the margin by a pixel diagonal (the sample
            and the outside pixel may each lie anywhere in their pixels).

    Returns:
        (S,) bool on ``points``' device.
    """
    if segments.shape[0] == 0:
        return torch.zeros(0, dtype=torch.bool, device=points.device)
    s = torch.tensor(scale, dtype=points.dtype, device=points.device)
    ctrl = points.detach()[segments] * s + radius  # (S, 4, 2) in padded pixels
    edge = (ctrl[:, 1:] - ctrl[:, :-1]).norm(dim=-1).amax(1)
    edge = torch.nan_to_num(edge, nan=float("inf"))
    n = (3 * edge / spacing).clamp(max=max_samples).ceil().long() + 2
    owner = torch.repeat_interleave(torch.arange(len(n), device=n.device), n)
    first = torch.cumsum(n, 0) - n
    t = (torch.arange(len(owner), device=n.device) - first[owner]).to(points.dtype)
    t = (t / (n[owner] - 1).to(points.dtype))[:, None]
    c = ctrl[owner]
    u = 1 - t
    xy = u**3 * c[:, 0] + 3 * u * u * t * c[:, 1] + 3 * u * t * t * c[:, 2] + t**3 * c[:, 3]
    hgt, wid = allowed.shape
    ok = torch.isfinite(xy).all(1)
    ij = torch.nan_to_num(xy, nan=-1.0, posinf=-1.0, neginf=-1.0).floor()
    col, row = ij[:, 0], ij[:, 1]
    ok &= (col >= 0) & (col < wid) & (row >= 0) & (row < hgt)
    flat = (row.clamp(0, hgt - 1).long() * wid + col.clamp(0, wid - 1).long()).to(allowed.device)
    ok &= allowed.flatten()[flat].to(ok.device)
    if margin is not None and bool((margin > 0).any()):
        m = margin.to(ok.device, points.dtype)[owner]
        room = _room(allowed).flatten()[flat.cpu()].to(ok.device, points.dtype)
        ok &= (m <= 0) | (room > m + 2**0.5)
    bad = torch.zeros(len(n), dtype=torch.bool, device=n.device)
    bad[owner[~ok]] = True
    return bad.to(points.device)


def _room(allowed: torch.Tensor) -> torch.Tensor:
    """(H, W) float64 distance from each pixel centre to the nearest pixel centre outside
    ``allowed`` (0 outside it; the whole padded mask counts as surrounded by outside)."""
    from scipy.ndimage import distance_transform_edt

    inside = F.pad(allowed.cpu(), (1, 1, 1, 1)).numpy()
    return torch.from_numpy(distance_transform_edt(inside)[1:-1, 1:-1])


def undo_leaving(
    points: torch.Tensor,
    valid: torch.Tensor,
    segments: torch.Tensor,
    leaving: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    rounds: int = 6,
) -> None:
    """Put back, in place, the segments a step moved off the allowed pixels.

    Undoing a segment moves its end points, which its neighbours share, so this repeats;
    after ``rounds - 1`` rounds it undoes every moved segment of the step.

    Args:
        points: (P, 2) points after the step (edited in place, no grad).
        valid: (P, 2) the points before it, all on allowed pixels.
        segments: (S, 4) point indices of the edited cubic segments.
        leaving: ``(points, segments) -> (S',) bool`` segments that leave the pixels.
    """
    for round_ in range(rounds):
        seg = segments[(points[segments] != valid[segments]).flatten(1).any(1)]
        if round_ == rounds - 1:
            idx = seg.flatten()
            points[idx] = valid[idx]
            return
        bad = leaving(points, seg)
        if not bool(bad.any()):
            return
        idx = seg[bad].flatten()
        points[idx] = valid[idx]

"""Render a whole :class:`~clipvg.scene.Scene`: fills, strokes, gradients, clips, groups.

Every path becomes up to two rasterizer *items*, its fill and its stroke (in paint
order, ``2i`` and ``2i + 1``): the fill's lines are the flattened contours, the
stroke's the outline of the flattened centre line (:mod:`clipvg.render.stroke`),
after dashing (:mod:`clipvg.render.dash`). All items of a run are rasterized in one
call. A gradient or a clip makes the compositor ask a shader for each cell's colour
and alpha (:mod:`clipvg.render.paint`; clip masks are rasterized coverage). A group
with an opacity below 1 or a clip, and a path with both a fill and a stroke and an
opacity below 1, are drawn as a layer on a transparent canvas, faded and masked, then
composited over what lies below (SVG group semantics); runs between layers are
rasterized separately. A scene without such groups is one call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import ClipvgError
from ..scene import PAINT_NONE, Scene, ordered_offsets
from .dash import dash_polylines
from .paint import apply, compose, gradient_parameter, invert, spread_parameter, stop_colors
from .raster import FAR, Topology, check_finite, flatten, pull_in, rasterize_lines
from .stroke import stroke_outline

#: Largest magnitude of a gradient coordinate or transform entry (float32 squares it).
MAX_GRADIENT = 1e7


def check_scene(scene: Scene) -> None:
    """Refuse values no render can make sense of, with a one-line ClipvgError."""
    check_finite(scene.points, "coordinates")
    for name in ("stroke_widths", "dashes", "dash_offset", "colors", "stroke_colors", "opacity"):
        check_finite(getattr(scene, name), name.replace("_", " "))
    g = scene.gradients
    for name in ("geometry", "transform", "stop_offsets", "stop_colors"):
        t = getattr(g, name)
        check_finite(t, f"gradient {name.replace('_', ' ')}")
        if (
            name in ("geometry", "transform")
            and t.numel()
            and float(t.detach().abs().max()) > MAX_GRADIENT
        ):
            raise ClipvgError(
                f"a gradient's {name} holds {float(t.detach().abs().max()):.3g}, over the limit of "
                f"{MAX_GRADIENT:g}; it cannot be rendered"
            )
    stroked = scene.has_stroke
    widths = scene.stroke_widths.detach()[stroked]
    if widths.numel():
        limit = FAR * max(scene.width, scene.height)
        if float(widths.min()) < 0:
            raise ClipvgError(
                f"a stroke width is negative ({float(widths.min()):g}); widths must be >= 0"
            )
        if float(widths.max()) > limit:
            raise ClipvgError(
                f"a stroke width of {float(widths.max()):.3g} is over the limit of {limit:g} "
                "(1024 canvas sizes); it cannot be rendered"
            )
    if scene.dashes.numel() and float(scene.dashes.detach().min()) < 0:
        raise ClipvgError("a dash array has a negative entry; dash lengths must be >= 0")


def layer_groups(scene: Scene) -> torch.Tensor:
    """(G,) bool: the groups drawn as a layer of their own (an opacity below 1, one
    that is optimized, or a clip)."""
    g = scene.groups
    return (g.opacity.detach() != 1) | (g.clip >= 0) | g.opacity.requires_grad


def flat_fills(scene: Scene) -> bool:
    """Whether the scene draws flat fills only, straight onto the canvas: no stroke, no
    gradient, no clip and no layer (groups without effect and open contours are fine).
    Such a scene needs none of this module: :func:`fill_colors` and the plain
    rasterizer draw it."""
    return not (
        bool(scene.has_stroke.any())
        or bool((scene.fill_paint >= 0).any())
        or bool((scene.path_clip >= 0).any())
        or (len(scene.groups) > 0 and bool(layer_groups(scene).any()))
        or scene.opacity.requires_grad
    )


def fill_colors(scene: Scene) -> torch.Tensor:
    """(N, 4) straight RGBA of a :func:`flat_fills` scene's fills, element opacity folded
    into alpha, alpha 0 where a path has no fill."""
    colors = scene.colors
    fold = bool((scene.opacity.detach() != 1).any())
    none = ~scene.has_fill
    if not fold and not bool(none.any()):
        return colors
    alpha = colors[:, 3] * scene.opacity if fold else colors[:, 3]
    alpha = torch.where(none, torch.zeros_like(alpha), alpha)
    return torch.cat([colors[:, :3], alpha[:, None]], 1)


@dataclass
class _Items:
    """What one render call draws: lines per item and each item's paint."""

    start: torch.Tensor  # (L, 2)
    end: torch.Tensor
    item: torch.Tensor  # (L,) int64 in [0, 2N)
    alpha: torch.Tensor  # (2N,)
    rgb: torch.Tensor  # (2N, 3)
    evenodd: torch.Tensor  # (2N,) bool
    grad: torch.Tensor  # (2N,) int64 gradient or -1
    inv: torch.Tensor | None  # (2N, 6) pixel -> gradient space, for gradient items
    grad_ok: torch.Tensor | None  # (2N,) bool, invertible and non-empty box
    clip: torch.Tensor  # (2N,) int64 clip or -1


def _slots(fill: torch.Tensor, stroke: torch.Tensor, first: torch.Tensor) -> torch.Tensor:
    """Interleave per-path fill and stroke values into items: (N, ...) x 2 -> (2N, ...)."""
    f = first.view(-1, *([1] * (fill.ndim - 1)))
    lo = torch.where(f, stroke, fill)
    hi = torch.where(f, fill, stroke)
    return torch.stack([lo, hi], 1).reshape(-1, *fill.shape[1:])


def _stroke_lines(scene, start, end, seg, topo, stroked, hw, stroke_id, unit, tolerance):
    """The outlines of every stroked contour (dashed where asked): (start, end, item).

    ``hw``: (N,) half widths in pixels; ``unit``: pixels per canvas unit (dash lengths).
    """
    sel = stroked[topo.seg_path[seg]] & ~topo.seg_closing[seg]
    if not bool(sel.any()):
        return None
    line = sel.nonzero().squeeze(1)
    s_start, s_end = start.index_select(0, line), end.index_select(0, line)
    contour = topo.seg_contour[seg].index_select(0, line)
    uniq, poly = torch.unique_consecutive(contour, return_inverse=True)
    poly_path = scene.contour_path[uniq]
    poly_closed = scene.contour_closed[uniq]
    poly_dir = None
    d_sizes = scene.dash_sizes
    d_first = torch.cumsum(d_sizes, 0) - d_sizes
    d_sum = torch.zeros(scene.num_paths, dtype=scene.dashes.dtype, device=d_sizes.device)
    if scene.dashes.numel():
        owner = torch.repeat_interleave(
            torch.arange(scene.num_paths, device=d_sizes.device), d_sizes
        )
        d_sum = d_sum.index_add(0, owner, scene.dashes.detach())
    dashed = (d_sizes > 0) & (d_sum > 0)  # an all-zero array draws a solid line (SVG)
    if bool(dashed[poly_path].any()):
        line_dashed = dashed[poly_path][poly]
        dpoly_ids, dpoly = torch.unique_consecutive(poly[line_dashed], return_inverse=True)
        dpath = poly_path[dpoly_ids]
        sizes = d_sizes[dpath]
        reps = torch.repeat_interleave(torch.arange(len(dpath), device=sizes.device), sizes)
        local = (
            torch.arange(len(reps), device=sizes.device) - (torch.cumsum(sizes, 0) - sizes)[reps]
        )
        pattern = scene.dashes[d_first[dpath][reps] + local] * unit
        a, b, dash, dash_poly, direction = dash_polylines(
            s_start[line_dashed],
            s_end[line_dashed],
            dpoly,
            pattern,
            sizes,
            scene.dash_offset[dpath] * unit,
            poly_closed[dpoly_ids],
        )
        solid = ~line_dashed
        sids, spoly = torch.unique_consecutive(poly[solid], return_inverse=True)
        s_start = torch.cat([s_start[solid], a])
        s_end = torch.cat([s_end[solid], b])
        poly = torch.cat([spoly, dash + len(sids)])
        poly_path = torch.cat([poly_path[sids], dpath[dash_poly]])
        poly_closed = torch.cat(
            [poly_closed[sids], torch.zeros(len(dash_poly), dtype=torch.bool, device=poly.device)]
        )
        poly_dir = torch.cat(
            [torch.tensor([[1.0, 0.0]]).to(direction).expand(len(sids), 2), direction]
        )
    return stroke_outline(
        s_start,
        s_end,
        poly,
        poly_closed,
        stroke_id[poly_path],
        hw[poly_path],
        scene.linecap[poly_path],
        scene.linejoin[poly_path],
        scene.miter_limit[poly_path],
        tolerance,
        poly_dir,
    )


def _path_boxes(start: torch.Tensor, line_path: torch.Tensor, n: int) -> torch.Tensor:
    """(N, 4) ``x0, y0, x1, y1`` of each path's flattened fill geometry (differentiable)."""
    owner = line_path.unsqueeze(1).expand(-1, 2)
    lo = start.new_zeros(n, 2).scatter_reduce(0, owner, start, "amin", include_self=False)
    hi = start.new_zeros(n, 2).scatter_reduce(0, owner, start, "amax", include_self=False)
    return torch.cat([lo, hi], 1)


def _items(scene: Scene, width: int, height: int, tolerance: float) -> tuple[_Items, torch.Tensor]:
    """Flatten, stroke and dash the scene into rasterizer items; also returns the
    (N,) bool paths that must be drawn as their own layer (fill + stroke + opacity)."""
    sx, sy = width / scene.width, height / scene.height
    device, dtype = scene.device, scene.points.dtype
    scale = torch.tensor([sx, sy], dtype=dtype, device=device)
    unit = math.sqrt(sx * sy)
    n = scene.num_paths
    topo = Topology.build(scene.contour_sizes, scene.contour_path, scene.contour_closed)
    start, end, seg = flatten(
        pull_in(scene.points * scale, width, height), topo, tolerance, width, height
    )
    line_path = topo.seg_path[seg]
    first = scene.stroke_first.to(device)
    ids = 2 * torch.arange(n, device=device)
    fill_id, stroke_id = ids + first.long(), ids + 1 - first.long()
    has_fill = scene.fill_paint != PAINT_NONE
    hw = scene.stroke_widths * (unit / 2)
    stroked = (scene.stroke_paint != PAINT_NONE) & (hw.detach() > 0)
    fl = has_fill[line_path].nonzero().squeeze(1)  # index_select: faster than a mask
    parts = [(start.index_select(0, fl), end.index_select(0, fl), fill_id[line_path[fl]])]
    outline = _stroke_lines(scene, start, end, seg, topo, stroked, hw, stroke_id, unit, tolerance)
    if outline is not None:
        parts.append(outline)
    op = scene.opacity
    layered = has_fill & stroked & ((op.detach() != 1) | op.requires_grad)
    fold = torch.where(layered, torch.ones_like(op), op)
    alpha = _slots(
        torch.where(has_fill, scene.colors[:, 3] * fold, 0.0),
        torch.where(stroked, scene.stroke_colors[:, 3] * fold, 0.0),
        first,
    )
    rgb = _slots(scene.colors[:, :3], scene.stroke_colors[:, :3], first)
    grad = _slots(scene.fill_paint.clamp(min=-1), scene.stroke_paint.clamp(min=-1), first)
    evenodd = _slots(scene.evenodd, torch.zeros_like(scene.evenodd), first)
    clip = scene.path_clip.repeat_interleave(2)
    inv = ok = None
    if bool((grad >= 0).any()):
        g = scene.gradients
        k = grad.clamp(min=0)
        box = _path_boxes(start, line_path, n).repeat_interleave(2, 0)
        size = box[:, 2:] - box[:, :2]
        zero = torch.zeros_like(size[:, 0])
        bbox_m = torch.stack([size[:, 0], zero, zero, size[:, 1], box[:, 0], box[:, 1]], 1)
        user_m = torch.tensor([sx, 0.0, 0.0, sy, 0.0, 0.0], dtype=dtype, device=device)
        units_bbox = g.units_bbox[k]
        m = compose(
            torch.where(units_bbox[:, None], bbox_m, user_m.expand_as(bbox_m)), g.transform[k]
        )
        inv, ok = invert(m)
        ok = ok & ~(units_bbox & (size.detach() <= 0).any(1))
    lines = [torch.cat(t) for t in zip(*parts)]
    return _Items(*lines, alpha, rgb, evenodd, grad, inv, ok, clip), layered


class _Renderer:
    """One render call: items, clip masks (cached) and the layer recursion."""

    def __init__(self, scene: Scene, width: int, height: int, tolerance: float):
        self.scene, self.width, self.height, self.tolerance = scene, width, height, tolerance
        self.items, self.layered = _items(scene, width, height, tolerance)
        self.masks: dict[int, torch.Tensor] = {}
        it = self.items
        self.offsets = None
        if it.inv is not None:
            g = scene.gradients
            self.offsets = ordered_offsets(g.stop_offsets, g.stop_sizes)
        used = sorted(set(it.clip[it.clip >= 0].tolist()))
        self.mask_table = None
        if used:
            rows = [torch.ones(height * width + 1, dtype=scene.points.dtype, device=scene.device)]
            rows += [torch.cat([self.mask(c).flatten(), rows[0][:1]]) for c in used]
            self.mask_table = torch.stack(rows)
            slot = torch.zeros(len(scene.clips) + 1, dtype=torch.long, device=scene.device)
            slot[torch.tensor(used, device=scene.device)] = torch.arange(
                1, len(used) + 1, device=scene.device
            )
            self.clip_slot = torch.where(it.clip >= 0, slot[it.clip.clamp(min=0)], 0)

    # ---- clip masks ------------------------------------------------------------------
    def mask(self, k: int, seen: frozenset = frozenset()) -> torch.Tensor:
        """(H, W) coverage of clip path ``k`` in [0, 1], differentiable in its points."""
        if k in self.masks:
            return self.masks[k]
        if k in seen:
            raise ClipvgError("clip paths refer to each other in a loop; they cannot be rendered")
        clip = self.scene.clips[k]
        cs = clip.scene
        h, w = self.height, self.width
        dtype, device = self.scene.points.dtype, self.scene.device
        if cs.num_paths == 0 or cs.points.shape[0] == 0:
            m = torch.zeros(h, w, dtype=dtype, device=device)
        else:
            check_finite(cs.points, "clip path coordinates")
            scale = torch.tensor([w / cs.width, h / cs.height], dtype=dtype, device=device)
            topo = Topology.build(cs.contour_sizes, cs.contour_path, cs.contour_closed)
            pts = pull_in(cs.points.to(device, dtype) * scale, w, h)
            start, end, seg = flatten(pts, topo, self.tolerance, w, h)
            ones = torch.ones(cs.num_paths, 1, dtype=dtype, device=device)
            m = rasterize_lines(
                start,
                end,
                topo.seg_path[seg],
                ones[:, 0],
                ones,
                cs.evenodd,
                w,
                h,
                ones.new_zeros(1),
            )[..., 0]
        if clip.clip >= 0:
            m = m * self.mask(clip.clip, seen | {k})
        self.masks[k] = m
        return m

    # ---- one run of items ------------------------------------------------------------
    def _shader(self, base: int, channels: int):
        it, scene = self.items, self.scene
        if it.inv is None and self.mask_table is None:
            return None
        width = self.width
        g = scene.gradients

        def shade(cell_owner: torch.Tensor, cell_pixel: torch.Tensor):
            own = cell_owner.long() + base
            alpha, rgb = it.alpha[own], it.rgb[own]
            if it.inv is not None:
                k = it.grad[own]
                sel = (k >= 0).nonzero().squeeze(1)
                if len(sel):
                    o, kk, pix = own[sel], k[sel], cell_pixel[sel]
                    xy = torch.stack([pix % width, torch.div(pix, width, rounding_mode="floor")], 1)
                    gp = apply(it.inv[o], xy.to(alpha.dtype) + 0.5)
                    t, painted = gradient_parameter(g.kind[kk], g.geometry[kk], gp)
                    rgba = stop_colors(kk, spread_parameter(t, g.spread[kk]), g, self.offsets)
                    keep = (painted & it.grad_ok[o]).to(alpha.dtype)
                    alpha = alpha.index_put((sel,), alpha[sel] * rgba[:, 3] * keep)
                    rgb = rgb.index_put((sel,), rgba[:, :3])
            clip = None
            if self.mask_table is not None:
                clip = self.mask_table[self.clip_slot[own], cell_pixel]
            if channels == 4:
                rgb = torch.cat([rgb, torch.ones_like(rgb[:, :1])], 1)
            return alpha, rgb, clip

        return shade

    def run(self, lo: int, hi: int, background: torch.Tensor) -> torch.Tensor:
        """Paths ``lo..hi-1`` rasterized over a flat ``background`` (K,): (H, W, K)."""
        it = self.items
        a, b = 2 * lo, 2 * hi
        start, end, item = it.start, it.end, it.item
        if a > 0 or b < len(it.alpha):  # a layer: its own lines (a copy, and its backward)
            sel = (item >= a) & (item < b)
            start, end, item = start[sel], end[sel], item[sel] - a
        k = background.shape[0]
        rgb = it.rgb[a:b]
        if k == 4:
            rgb = torch.cat([rgb, torch.ones_like(rgb[:, :1])], 1)
        return rasterize_lines(
            start,
            end,
            item,
            it.alpha[a:b],
            rgb,
            it.evenodd[a:b],
            self.width,
            self.height,
            background,
            self._shader(a, k),
        )

    # ---- layers ----------------------------------------------------------------------
    def units(self) -> list[tuple[int, int, torch.Tensor, int]]:
        """Layers ``(lo, hi, opacity, clip)`` over path ranges, outer before inner."""
        scene = self.scene
        groups = scene.groups
        out = []
        if len(groups):
            eff = layer_groups(scene)
            if bool(eff.any()):
                parent = groups.parent.cpu().numpy()
                g_count = len(groups)
                lo = np.full(g_count, np.iinfo(np.int64).max)
                hi = np.full(g_count, -1)
                depth = np.zeros(g_count, np.int64)
                for g in range(g_count):
                    depth[g] = depth[parent[g]] + 1 if parent[g] >= 0 else 0
                anc = scene.path_group.cpu().numpy().copy()
                idx = np.arange(scene.num_paths)
                while (anc >= 0).any():
                    m = anc >= 0
                    np.minimum.at(lo, anc[m], idx[m])
                    np.maximum.at(hi, anc[m], idx[m])
                    anc = np.where(m, parent[np.clip(anc, 0, None)], -1)
                for g in np.nonzero(eff.cpu().numpy() & (hi >= 0))[0].tolist():
                    out.append(
                        (
                            int(lo[g]),
                            int(hi[g]) + 1,
                            int(depth[g]),
                            groups.opacity[g],
                            int(groups.clip[g]),
                        )
                    )
        for i in self.layered.nonzero().flatten().tolist():
            out.append((i, i + 1, 1 << 30, scene.opacity[i], -1))
        out.sort(key=lambda u: (u[0], -u[1], u[2]))
        return [(lo, hi, op, clip) for lo, hi, _, op, clip in out]

    def draw(self, lo: int, hi: int, units: list, background: torch.Tensor) -> torch.Tensor:
        """Paths ``lo..hi-1`` with the layers ``units`` inside them, over ``background``."""
        image = None
        cur, i = lo, 0
        h, w = self.height, self.width
        while i < len(units):
            u_lo, u_hi, op, clip = units[i]
            j = i + 1
            while j < len(units) and units[j][0] >= u_lo and units[j][1] <= u_hi:
                j += 1
            if cur < u_lo:
                image = self._over(self.run(cur, u_lo, self._base(background, image)), image)
            layer = self.draw(u_lo, u_hi, units[i + 1 : j], background.new_zeros(4))
            fade = op.to(layer.dtype)
            if clip >= 0:
                fade = fade * self.mask(clip)[..., None]
            image = self._over(
                layer * fade, image if image is not None else background.expand(h, w, -1)
            )
            cur, i = u_hi, j
        if cur < hi:
            image = self._over(self.run(cur, hi, self._base(background, image)), image)
        return image if image is not None else background.expand(h, w, -1).clone()

    @staticmethod
    def _base(background: torch.Tensor, image: torch.Tensor | None) -> torch.Tensor:
        # The first run paints straight onto the background; later ones onto a
        # transparent canvas, composited over what is there.
        return background if image is None else background.new_zeros(4)

    @staticmethod
    def _over(top: torch.Tensor, below: torch.Tensor | None) -> torch.Tensor:
        """``top`` (premultiplied RGBA, or final) over ``below``."""
        if below is None:
            return top
        return top[..., : below.shape[-1]] + (1 - top[..., 3:]) * below


def render_scene(
    scene: Scene,
    width: int,
    height: int,
    background: tuple[float, float, float] | None,
    tolerance: float,
) -> torch.Tensor:
    """Render every feature of ``scene`` at ``width x height`` pixels.

    Returns:
        (H, W, 3) over ``background``, or (H, W, 4) premultiplied RGBA when it is None.
    """
    check_scene(scene)
    r = _Renderer(scene, width, height, tolerance)
    dtype, device = scene.points.dtype, scene.device
    base = (
        torch.zeros(4, dtype=dtype, device=device)
        if background is None
        else torch.as_tensor(background, dtype=dtype, device=device)
    )
    return r.draw(0, scene.num_paths, r.units(), base)

"""Stroke outlines: a stroked polyline becomes closed line loops that, filled nonzero,
cover exactly the stroke (segment quads, joins, caps), built in torch.

The outline is, as a sum of oriented edges, the union of small pieces of one
orientation (that of the segment quads ``start + n, end + n, end - n, start - n``,
``n`` the left normal, half a width long):

- a quad per segment; at a smooth vertex (a flattened curve: no fold on the inner
  side, the miter within the limit, and within the flattening tolerance of a round
  or bevel join) both quads end on the miter points instead and no join is needed;
- at every other vertex between two segments, a wedge on the outer side of the turn:
  ``v, v + o*n0, tip, v + o*n1`` (miter tip within the miter limit, else the bevel
  midpoint) or a fan of arc points (round);
- caps at the two ends of an open polyline (butt: none; square: a half-width box;
  round: a half-disc fan); a polyline of zero length gets both caps, i.e. a dot.

Those pieces share edges that cancel: the cross edges of two quads meeting at a smooth
vertex, a wedge's two radii against the outer halves of the quads' cross edges, a
cap's base against its quad's cross edge. So each polyline is emitted as one loop
(two for a closed one): the left offset line forward, the end cap, the right offset
line backward, the start cap, where a corner adds its wedge's outer points on the
outer side. On the inner side of a corner the two offset lines end where they cross
when that lies within the nearer half of both segments (so nothing there is counted
twice and the area is exact); where the inner side folds (a curve tighter than the
half width, flattened into short segments) it goes through the vertex, which is the
quads' overlap again: the exact-area rasterizer integrates the winding over a pixel
before clamping it, so pixels on that inner edge may come out up to that overlap too
dark. Round joins and caps are polygons with the arc's exact area (:func:`_arc`).

Coverage is thus a continuous function of the centre line and the width except where
SVG itself is discontinuous (a miter turning into a bevel at the miter limit) and at
the per-vertex tests (smooth or not, the number of arc chords: the outline moves by at
most the flattening tolerance, and a round piece's area not at all; folded or not: the
double count of the inner overlap above appears or goes).
"""

from __future__ import annotations

import math

import torch

from ..scene import CAP_BUTT, CAP_ROUND, CAP_SQUARE, JOIN_MITER, JOIN_ROUND

#: Segments shorter than this (pixels) carry no direction and are dropped.
MIN_SEGMENT = 1e-6
#: Most arc points of one round join or cap.
MAX_ARC = 64
#: Round joins and caps follow their arc within this fraction of the flattening
#: tolerance (their polygons keep the arc's exact area, see :func:`_arc`).
ARC_TOLERANCE = 1.0
#: Slots per vertex in the order of a loop's points (incoming, inserted, outgoing).
_SLOTS = 2 * MAX_ARC
#: Loop id stride in the sort key of a loop's points.
_LOOP_KEY = 1 << 40


def _at(t: torch.Tensor, i: torch.Tensor) -> torch.Tensor:
    """``t[i]`` for an int64 index ``i``: index_select is several times faster than
    advanced indexing, forward and backward."""
    return t.index_select(0, i)


def _where(mask: torch.Tensor) -> torch.Tensor:
    """(K,) int64 positions where the (L,) bool ``mask`` holds."""
    return mask.nonzero().squeeze(1)


def _perp(u: torch.Tensor) -> torch.Tensor:
    """Left normal: ``u`` turned by +90 degrees."""
    return torch.stack([-u[:, 1], u[:, 0]], 1)


def _arc_steps(angle: torch.Tensor, hw: torch.Tensor, tolerance: float) -> torch.Tensor:
    """(J,) int64 chords for an arc of ``angle`` radians and radius ``hw`` within
    ``tolerance`` pixels, at most a quarter turn each, and at least two (so that the
    polygon has a point to keep the arc's area with, see :func:`_arc`; no gradient)."""
    with torch.no_grad():
        tolerance = tolerance * ARC_TOLERANCE
        ratio = (1 - tolerance / hw.clamp(min=tolerance)).clamp(-1, 1)
        step = (2 * torch.acos(ratio)).clamp(min=1e-3, max=math.pi / 2)
        return torch.ceil(angle.abs() / step).clamp(2, MAX_ARC).long()


def _arc(centre, first, angle, k):
    """The inner points of arcs, ``centre + s * R(angle * j / k) @ first`` for
    j = 1..k-1, where ``s >= 1`` makes the fan from ``centre`` over the arc's two end
    points (radius 1) and these points (radius ``s``) as large as the circular sector:
    the polygon's area is exact, whatever ``k``, so the chords may follow the arc as
    loosely as curves are flattened.

    Args:
        centre, first: (J, 2); angle: (J,) radians; k: (J,) int64 chords.

    Returns:
        vertices (V, 2), the arc of each (V,) int64, its j (V,) int64.
    """
    inner = k - 1
    kf = k.to(first.dtype)
    # Fan area / (r^2 / 2) = sin(t) * (2 s + (k - 2) s^2) = k t, with t = |angle| / k.
    t = angle.abs() / kf
    excess = t / torch.sin(t).clamp(min=1e-12)  # >= 1; k >= 2 wherever used (t > 0)
    k2 = (kf - 2).clamp(min=1e-12)
    scale = torch.where(kf > 2, (torch.sqrt(1 + k2 * kf * excess) - 1) / k2, excess)
    arc = torch.repeat_interleave(torch.arange(len(k), device=k.device), inner)
    j = torch.arange(len(arc), device=k.device) - _at(torch.cumsum(inner, 0) - inner, arc) + 1
    theta = (_at(angle, arc) * (j.to(first.dtype) / _at(kf, arc))).unsqueeze(1)
    c, s = torch.cos(theta), torch.sin(theta)
    f = _at(first * scale[:, None], arc)
    rotated = torch.cat([c * f[:, :1] - s * f[:, 1:], s * f[:, :1] + c * f[:, 1:]], 1)
    return _at(centre, arc) + rotated, arc, j


class _Points:
    """The outline's points, gathered piece by piece, then ordered into loops."""

    def __init__(self):
        self.xy, self.poly, self.right, self.slot = [], [], [], []

    def add(self, xy, poly, right, slot):
        """(V, 2) points of polylines ``poly`` (V,), on the right side or not (bool,
        (V,) or one), at ``slot`` (V,) int64 along the left side's direction."""
        self.xy.append(xy)
        self.poly.append(poly)
        self.right.append(torch.as_tensor(right, device=poly.device).expand(len(poly)))
        self.slot.append(slot)

    def loops(self, count, ring, poly_item):
        """Lines of the loops: per polyline the left side forward, then the right side
        backward (an open polyline: one loop, its end cap at slot ``(m + 1) * S``, its
        start cap at ``(2m + 4) * S``; a ring: two loops). ``count``: (Q,) segments."""
        xy = torch.cat(self.xy)
        with torch.no_grad():
            poly, right, slot = torch.cat(self.poly), torch.cat(self.right), torch.cat(self.slot)
            span = (_at(count, poly) + 1) * _SLOTS  # slots of one side
            back = span - 1 - slot
            open_ = ~_at(ring, poly)
            pos = torch.where(right, torch.where(open_, span + _SLOTS + back, back), slot)
            pos = torch.where(slot < 0, -slot, pos)  # caps: given as negated positions
            loop = 2 * poly + (right & ~open_ & (slot >= 0))
            order = torch.argsort(loop * _LOOP_KEY + pos)
            loop = _at(loop, order)
            sizes = torch.bincount(loop, minlength=2 * len(count))
            live = _where(sizes > 0)
            sizes = _at(sizes, live)
            first = torch.cumsum(sizes, 0) - sizes
            i = torch.arange(len(loop), device=loop.device)
            nxt = i + 1
            nxt[first + sizes - 1] = first
        verts = _at(xy, order)
        return verts, _at(verts, nxt), _at(poly_item, loop // 2)


def _vertex_kinds(has_join, hw, turn, cos, shorter, rounded, limit, tolerance):
    """Two (L,) bool (no gradient): ``smooth``, the vertices where both sides may meet
    at the miter points without a wedge (no fold on the inner side, the miter within
    the limit, and for a round or bevel join within ``tolerance`` of it: the flattening's
    own error), and ``unfolded``, those whose inner side may (the inner offset lines
    cross within the nearer half of both segments)."""
    with torch.no_grad():
        hw, turn, cos = hw.detach(), turn.detach(), cos.detach()
        unfolded = (hw * turn.abs() <= 0.5 * shorter * (1 + cos)) & (1 + cos > 1e-6)  # tan(phi/2)
        bulge = hw * (torch.sqrt(2 / (1 + cos).clamp(min=1e-12)) - 1)
        smooth = has_join & (cos > 0) & unfolded & ~(rounded & (bulge > tolerance))
        smooth &= ~(~rounded & (1 + cos < 2 / limit.clamp(min=1.0) ** 2))
        return smooth, unfolded


def stroke_outline(
    start: torch.Tensor,
    end: torch.Tensor,
    line_poly: torch.Tensor,
    poly_closed: torch.Tensor,
    poly_item: torch.Tensor,
    half_width: torch.Tensor,
    cap: torch.Tensor,
    join: torch.Tensor,
    miter_limit: torch.Tensor,
    tolerance: float,
    poly_dir: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The outline of stroked polylines as closed line loops, to be filled nonzero.

    Args:
        start, end: (L, 2) centre-line segments in output pixels, in order along each
            polyline; ``line_poly``: (L,) int64 polyline of each, non-decreasing, every
            polyline in [0, Q) with at least one segment.
        poly_closed: (Q,) bool; poly_item: (Q,) int64 the output path of each polyline.
        half_width: (Q,) half the stroke width in pixels, > 0 (differentiable).
        cap, join: (Q,) int8 :mod:`clipvg.scene` codes; miter_limit: (Q,) >= 1.
        tolerance: largest chord error of round joins and caps, in pixels.
        poly_dir: (Q, 2) direction of the caps of a polyline of zero length (a dot);
            x when None.

    Returns:
        (start, end, item): the outline's lines, (M, 2), (M, 2), (M,) int64.
    """
    device, dtype = start.device, start.dtype
    q = poly_closed.shape[0]
    with torch.no_grad():
        first_line = torch.full((q,), -1, dtype=torch.long, device=device)
        first_line.scatter_reduce_(
            0, line_poly, torch.arange(len(line_poly), device=device), "amin", include_self=False
        )
        d = (end - start).detach()
        keep = (d * d).sum(1) > MIN_SEGMENT**2
    origin = _at(start, first_line.clamp(min=0))  # where a dot is drawn
    if not bool(keep.all()):
        kept = _where(keep)
        start, end, line_poly = _at(start, kept), _at(end, kept), _at(line_poly, kept)
    hw_line = _at(half_width, line_poly)
    d = end - start
    length = torch.sqrt((d * d).sum(1, keepdim=True))
    u = d / length
    n = _perp(u) * hw_line.unsqueeze(1)

    with torch.no_grad():
        count = torch.bincount(line_poly, minlength=q)
        first = torch.cumsum(count, 0) - count
        last = first + count - 1
        idx = torch.arange(len(line_poly), device=device)
        local = idx - _at(first, line_poly)
        # A vertex joins each segment to the one before it (for a closed polyline,
        # the first segment to the last).
        ring = poly_closed & (count > 1)
        prev = torch.where(local == 0, _at(last, line_poly), idx - 1)
        has_join = (local > 0) | _at(ring, line_poly)
    u0 = _at(u, prev)
    cos = (u0 * u).sum(1)
    turn = u0[:, 0] * u[:, 1] - u0[:, 1] * u[:, 0]
    shorter = torch.minimum(_at(length, prev)[:, 0], length[:, 0]).detach()
    rounded = _at(join, line_poly) != JOIN_MITER
    smooth, unfolded = _vertex_kinds(
        has_join, hw_line, turn, cos, shorter, rounded, _at(miter_limit, line_poly), tolerance
    )
    n_prev = _at(n, prev)
    miter = (n_prev + n) / (1 + cos).clamp(min=1e-6).unsqueeze(1)
    end_prev = _at(end, prev)
    with torch.no_grad():
        corner = has_join & ~smooth
        # The inner side of an unfolded corner ends both segments where they cross.
        inner_left = turn.detach() > 0
        mitred = corner & unfolded
        open_left = corner & ~(mitred & inner_left)  # sides that go round the corner
        open_right = corner & ~(mitred & ~inner_left)
        slot = local * _SLOTS
    pts = _Points()
    for sign, side, opened in ((1, False, open_left), (-1, True, open_right)):
        # Each segment's start; where the side goes round a corner, also the end of
        # the segment before it.
        off = torch.where((has_join & ~opened).unsqueeze(1), miter, n)
        pts.add(start + sign * off, line_poly, side, torch.where(opened, slot + _SLOTS - 1, slot))
        jl = _where(opened)
        pts.add(_at(end_prev, jl) + sign * _at(n_prev, jl), _at(line_poly, jl), side, _at(slot, jl))
    jl = _where(corner)
    if len(jl):
        pj = _at(line_poly, jl)
        _joins(
            pts,
            _at(start, jl),
            _at(u0, jl),
            _at(u, jl),
            _at(hw_line, jl),
            _at(join, pj),
            _at(miter_limit, pj),
            ~_at(mitred, jl),
            pj,
            _at(slot, jl),
            tolerance,
        )
    with torch.no_grad():
        tails = _where(~ring & (count > 0))
        dots = _where((count == 0) & (cap != CAP_BUTT))
    ends_p, ends_u, ends_q, ends_at = [], [], [], []
    if len(tails):
        fl, ll = _at(first, tails), _at(last, tails)
        m = _at(count, tails)
        end_l, n_l = _at(end, ll), _at(n, ll)
        pts.add(end_l + n_l, tails, False, m * _SLOTS)
        pts.add(end_l - n_l, tails, True, m * _SLOTS)
        capped = _where(~_at(poly_closed, tails))
        fl, ll, m, tails_c = (_at(t, capped) for t in (fl, ll, m, tails))
        ends_p += [_at(end, ll), _at(start, fl)]
        ends_u += [_at(u, ll), -_at(u, fl)]
        ends_q += [tails_c, tails_c]
        ends_at += [(m + 1) * _SLOTS, (2 * m + 4) * _SLOTS]
    if len(dots):
        hint = (
            _at(poly_dir, dots).to(dtype)
            if poly_dir is not None
            else torch.tensor([[1.0, 0.0]], dtype=dtype, device=device).expand(len(dots), 2)
        )
        hint = hint / hint.norm(dim=1, keepdim=True).clamp(min=1e-12)
        nd = _perp(hint) * _at(half_width, dots)[:, None]
        zero = torch.zeros_like(dots)
        o_d = _at(origin, dots)
        pts.add(o_d + nd, dots, False, zero)
        pts.add(o_d - nd, dots, True, zero)
        ends_p += [o_d, o_d]
        ends_u += [hint, -hint]
        ends_q += [dots, dots]
        ends_at += [zero + _SLOTS, zero + 4 * _SLOTS]
    if ends_p:
        polys = torch.cat(ends_q)
        _caps(
            pts,
            torch.cat(ends_p),
            torch.cat(ends_u),
            _at(half_width, polys),
            _at(cap, polys),
            polys,
            torch.cat(ends_at),
            tolerance,
        )
    return pts.loops(count, ring, poly_item)


def _joins(pts, v, u0, u1, hw, join, limit, folded, poly, slot, tolerance):
    """The corners turning from direction ``u0`` to ``u1`` at ``v``: the vertex on the
    inner side where it ``folded`` (bool), and the wedge's outer points (arc, miter tip,
    or none for a bevel)."""
    n0, n1 = _perp(u0), _perp(u1)
    turn = u0[:, 0] * u1[:, 1] - u0[:, 1] * u1[:, 0]
    cos = (u0 * u1).sum(1)
    with torch.no_grad():
        bent = (turn.abs() > 1e-9) | (cos < 0)
        # The outer side is the left one when turning right (y down: turn < 0).
        outer_right = turn > 0
        side = torch.where(outer_right, -1.0, 1.0).to(v.dtype).unsqueeze(1)
    b = _where(bent & folded)
    pts.add(_at(v, b), _at(poly, b), ~_at(outer_right, b), _at(slot, b) + 1)
    rnd = _where(bent & (join == JOIN_ROUND))
    if len(rnd):
        angle = torch.atan2(_at(turn, rnd), _at(cos, rnd))
        hw_r = _at(hw, rnd)
        k = _arc_steps(angle, hw_r, tolerance)
        xy, arc, j = _arc(_at(v, rnd), _at(side * n0, rnd) * hw_r[:, None], angle, k)
        r = _at(rnd, arc)
        pts.add(xy, _at(poly, r), _at(outer_right, r), _at(slot, r) + j)
    with torch.no_grad():
        lim = limit.clamp(min=1.0)
        tipped = bent & (join == JOIN_MITER) & (1 + cos >= 2 / lim**2) & (1 + cos > 1e-6)
    sharp = _where(tipped)
    if len(sharp):
        # Miter ratio 1 / sin(theta / 2) = sqrt(2 / (1 + n0.n1)) within the limit.
        scale = 1 / (1 + _at(cos, sharp)).unsqueeze(1)
        o = _at(side, sharp) * _at(hw, sharp)[:, None]
        tip = _at(v, sharp) + o * _at(n0 + n1, sharp) * scale
        pts.add(tip, _at(poly, sharp), _at(outer_right, sharp), _at(slot, sharp) + 1)


def _caps(pts, p, u, hw, cap, poly, at, tolerance):
    """The points of the caps at ``p`` facing outward along unit ``u``, between the
    side points ``p + n`` and ``p - n`` (``n`` the left normal of ``u``), at the loop
    positions ``at`` (E,) int64 onward."""
    n = _perp(u) * hw.unsqueeze(1)
    sq = _where(cap == CAP_SQUARE)
    if len(sq):
        ps, ns, us = _at(p, sq), _at(n, sq), _at(u, sq) * _at(hw, sq)[:, None]
        xy = torch.stack([ps + ns + us, ps - ns + us], 1).reshape(-1, 2)
        at_sq = _at(at, sq)
        pos = torch.stack([at_sq + 1, at_sq + 2], 1).reshape(-1)
        pts.add(xy, _at(poly, sq).repeat_interleave(2), False, -pos)
    rd = _where(cap == CAP_ROUND)
    if len(rd):
        angle = torch.full((len(rd),), -math.pi, dtype=p.dtype, device=p.device)
        k = _arc_steps(angle, _at(hw, rd), tolerance)
        xy, arc, j = _arc(_at(p, rd), _at(n, rd), angle, k)
        pts.add(xy, _at(_at(poly, rd), arc), False, -(_at(_at(at, rd), arc) + j))

"""Stroke outlines: a stroked polyline becomes closed line loops that, filled nonzero,
cover exactly the stroke (segment quads, joins, caps), built in torch.

Every piece is a small convex-ish polygon of one orientation (that of the segment
quads), so their nonzero union is the stroke and coverage stays a continuous function
of the centre line and the width: no piece ever switches on or off with a jump except
where SVG itself is discontinuous (a miter turning into a bevel at the miter limit).

Pieces, per polyline (an open or closed run of centre-line segments):

- a quad per segment, ``start +- n``, ``end +- n`` (``n`` the left normal, half a width);
  at a smooth vertex (a flattened curve: no fold on the inner side, the miter within
  the limit, or within the arc tolerance of a round join) both quads end on the miter
  points instead, their shared cross edges cancel and are left out, and no wedge is
  drawn (this halves the edges a stroked curve costs);
- a wedge at every vertex between two segments, on the outer side of the turn:
  ``v, v + o*n0, tip, v + o*n1`` (miter tip within the miter limit, else the bevel
  midpoint) or a fan of arc points (round);
- caps at the two ends of an open polyline (butt: none; square: a half-width box;
  round: a half-disc fan); a polyline of zero length gets both caps, i.e. a dot.

The quads of consecutive segments overlap a little on the inner side of a turn; the
exact-area rasterizer integrates the winding over a pixel before clamping it, so
pixels on that inner edge may come out up to that overlap too dark (a small fraction
of a pixel for gentle turns).
"""

from __future__ import annotations

import math

import torch

from ..scene import CAP_BUTT, CAP_ROUND, CAP_SQUARE, JOIN_MITER, JOIN_ROUND

#: Segments shorter than this (pixels) carry no direction and are dropped.
MIN_SEGMENT = 1e-6
#: Most arc points of one round join or cap.
MAX_ARC = 64
#: Round joins and caps follow their arc this much closer than curves are flattened:
#: a chord error shrinks a small disc's area by a visible fraction.
ARC_TOLERANCE = 0.25


def _perp(u: torch.Tensor) -> torch.Tensor:
    """Left normal: ``u`` turned by +90 degrees."""
    return torch.stack([-u[:, 1], u[:, 0]], 1)


def _arc_steps(angle: torch.Tensor, hw: torch.Tensor, tolerance: float) -> torch.Tensor:
    """(J,) int64 chords for an arc of ``angle`` radians and radius ``hw`` within
    ``tolerance`` pixels (no gradient)."""
    with torch.no_grad():
        tolerance = tolerance * ARC_TOLERANCE
        ratio = (1 - tolerance / hw.clamp(min=tolerance)).clamp(-1, 1)
        step = (2 * torch.acos(ratio)).clamp(min=1e-3)
        return torch.ceil(angle.abs() / step).clamp(1, MAX_ARC).long()


def _fan(centre, first, angle, k, lead_centre: bool):
    """Arc polygons: ``centre + R(angle * j / k) @ first`` for j = 0..k.

    Args:
        centre, first: (J, 2); angle: (J,) radians; k: (J,) int64 chords.
        lead_centre: start each polygon with ``centre`` (a wedge) or not (a cap).

    Returns:
        vertices (V, 2), polygon sizes (J,) int64.
    """
    j_count = k + 1 + int(lead_centre)
    poly = torch.repeat_interleave(torch.arange(len(k), device=k.device), j_count)
    local = torch.arange(len(poly), device=k.device) - (torch.cumsum(j_count, 0) - j_count)[poly]
    step = local - int(lead_centre)
    frac = (step.clamp(min=0).to(first.dtype) / k[poly].to(first.dtype)).unsqueeze(1)
    theta = angle[poly].unsqueeze(1) * frac
    c, s = torch.cos(theta), torch.sin(theta)
    f = first[poly]
    rotated = torch.cat([c * f[:, :1] - s * f[:, 1:], s * f[:, :1] + c * f[:, 1:]], 1)
    verts = centre[poly] + rotated
    if lead_centre:
        verts = torch.where((step < 0).unsqueeze(1), centre[poly], verts)
    return verts, j_count


def _loops(verts, sizes, owner, flip):
    """Closed polygons -> lines: (start, end, line owner); ``flip`` (J,) reverses a polygon."""
    poly = torch.repeat_interleave(torch.arange(len(sizes), device=sizes.device), sizes)
    first = torch.cumsum(sizes, 0) - sizes
    idx = torch.arange(len(poly), device=sizes.device)
    nxt = torch.where(idx + 1 == first[poly] + sizes[poly], first[poly], idx + 1)
    start, end = verts, verts[nxt]
    f = flip[poly].unsqueeze(1)
    return torch.where(f, end, start), torch.where(f, start, end), owner[poly]


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
    origin = start[first_line.clamp(min=0)]  # where a dot is drawn
    start, end, line_poly = start[keep], end[keep], line_poly[keep]
    hw_line = half_width[line_poly]
    d = end - start
    length = torch.sqrt((d * d).sum(1, keepdim=True))
    u = d / length
    n = _perp(u) * hw_line.unsqueeze(1)
    item = poly_item[line_poly]

    with torch.no_grad():
        count = torch.bincount(line_poly, minlength=q)
        first = torch.cumsum(count, 0) - count
        last = first + count - 1
        idx = torch.arange(len(line_poly), device=device)
        is_first = idx == first[line_poly]
        # A vertex joins each segment to the one before it (for a closed polyline,
        # the first segment to the last).
        prev = torch.where(is_first, last[line_poly], idx - 1)
        has_join = ~is_first | (poly_closed[line_poly] & (count[line_poly] > 1))
    # Smooth vertices (the flattening of a curve): both quads meet at the miter
    # points, so their cross edges cancel and are left out, and no wedge is needed.
    u0, cos = u[prev], (u[prev] * u).sum(1)
    turn = u0[:, 0] * u[:, 1] - u0[:, 1] * u[:, 0]
    with torch.no_grad():
        hw_d = hw_line.detach()
        shorter = torch.minimum(length[prev, 0], length[:, 0]).detach()
        folds = hw_d * turn.detach().abs() > 0.5 * shorter * (1 + cos.detach())  # tan(phi/2)
        bulge = hw_d * (torch.sqrt(2 / (1 + cos.detach()).clamp(min=1e-12)) - 1)
        rounded = join[line_poly] != JOIN_MITER
        smooth = (
            has_join
            & (cos.detach() > 0)
            & ~folds
            & ~(rounded & (bulge > tolerance * ARC_TOLERANCE))
        )
        smooth &= ~(~rounded & (1 + cos.detach() < 2 / miter_limit[line_poly].clamp(min=1.0) ** 2))
    miter = (n[prev] + n) / (1 + cos).clamp(min=1e-6).unsqueeze(1)
    sm = smooth.unsqueeze(1)
    off_start = torch.where(sm, miter, n)
    off_end = n.index_put((prev[smooth],), miter[smooth])
    ends_smooth = torch.zeros_like(smooth).index_put_(
        (prev[smooth],), torch.ones_like(smooth[smooth])
    )
    a, b = start + off_start, end + off_end
    c, d_ = end - off_end, start - off_start
    quad_start = torch.cat([a, b[~ends_smooth], c, d_[~smooth]])
    quad_end = torch.cat([b, c[~ends_smooth], d_, a[~smooth]])
    quad_item = torch.cat([item, item[~ends_smooth], item, item[~smooth]])
    has_join = has_join & ~smooth
    pieces = []  # (verts, sizes, owner item, flip)
    jl = has_join.nonzero().squeeze(1)
    if len(jl):
        pieces.extend(
            _joins(
                start[jl],
                u[prev[jl]],
                u[jl],
                hw_line[jl],
                join[line_poly[jl]],
                miter_limit[line_poly[jl]],
                item[jl],
                tolerance,
            )
        )
    with torch.no_grad():
        live = count > 0
        open_live = (live & ~poly_closed).nonzero().squeeze(1)
        dots = (~live & (cap[torch.arange(q, device=device)] != CAP_BUTT)).nonzero().squeeze(1)
    if len(open_live):
        fl, ll = first[open_live], last[open_live]
        ends_pt = torch.cat([start[fl], end[ll]])
        ends_dir = torch.cat([-u[fl], u[ll]])
        polys = torch.cat([open_live, open_live])
        pieces.extend(
            _caps(ends_pt, ends_dir, half_width[polys], cap[polys], poly_item[polys], tolerance)
        )
    if len(dots):
        hint = (
            poly_dir[dots].to(dtype)
            if poly_dir is not None
            else torch.tensor([[1.0, 0.0]], dtype=dtype, device=device).expand(len(dots), 2)
        )
        hint = hint / hint.norm(dim=1, keepdim=True).clamp(min=1e-12)
        polys = torch.cat([dots, dots])
        pieces.extend(
            _caps(
                torch.cat([origin[dots], origin[dots]]),
                torch.cat([-hint, hint]),
                half_width[polys],
                cap[polys],
                poly_item[polys],
                tolerance,
            )
        )
    if not pieces:
        return quad_start, quad_end, quad_item
    verts = torch.cat([p[0] for p in pieces])
    sizes = torch.cat([p[1] for p in pieces])
    owners = torch.cat([p[2] for p in pieces])
    flips = torch.cat([p[3] for p in pieces])
    s2, e2, o2 = _loops(verts, sizes, owners, flips)
    return torch.cat([quad_start, s2]), torch.cat([quad_end, e2]), torch.cat([quad_item, o2])


def _joins(v, u0, u1, hw, join, limit, item, tolerance):
    """Wedges filling the outer side of each turn from direction ``u0`` to ``u1`` at ``v``."""
    device = v.device
    n0, n1 = _perp(u0), _perp(u1)
    turn = u0[:, 0] * u1[:, 1] - u0[:, 1] * u1[:, 0]
    cos = (u0 * u1).sum(1)
    with torch.no_grad():
        bent = (turn.abs() > 1e-9) | (cos < 0)
        # The wedge ``v, o*n0, ..., o*n1`` has the quads' orientation when turning right.
        flip = turn > 0
        side = torch.where(flip, -1.0, 1.0).to(v.dtype).unsqueeze(1)
    out = []
    rnd = (bent & (join == JOIN_ROUND)).nonzero().squeeze(1)
    if len(rnd):
        angle = torch.atan2(turn[rnd], cos[rnd])
        k = _arc_steps(angle, hw[rnd], tolerance)
        verts, sizes = _fan(v[rnd], side[rnd] * n0[rnd] * hw[rnd, None], angle, k, True)
        out.append((verts, sizes, item[rnd], flip[rnd]))
    sharp = (bent & (join != JOIN_ROUND)).nonzero().squeeze(1)
    if len(sharp):
        a, b = n0[sharp], n1[sharp]
        c = cos[sharp]
        # Miter ratio 1 / sin(theta / 2) = sqrt(2 / (1 + n0.n1)) within the limit.
        with torch.no_grad():
            lim = limit[sharp].clamp(min=1.0)
            miter = (join[sharp] == JOIN_MITER) & (1 + c >= 2 / lim**2) & (1 + c > 1e-6)
        scale = torch.where(miter, 1 / (1 + c).clamp(min=1e-6), torch.full_like(c, 0.5))
        o = side[sharp] * hw[sharp, None]
        vs = v[sharp]
        tip = vs + o * (a + b) * scale.unsqueeze(1)
        verts = torch.stack([vs, vs + o * a, tip, vs + o * b], 1).reshape(-1, 2)
        sizes = torch.full((len(sharp),), 4, dtype=torch.long, device=device)
        out.append((verts, sizes, item[sharp], flip[sharp]))
    return out


def _caps(p, u, hw, cap, item, tolerance):
    """Caps at points ``p`` facing outward along unit ``u``."""
    device = p.device
    n = _perp(u) * hw.unsqueeze(1)
    out = []
    sq = (cap == CAP_SQUARE).nonzero().squeeze(1)
    if len(sq):
        ps, ns, us = p[sq], n[sq], u[sq] * hw[sq, None]
        verts = torch.stack([ps + ns, ps + ns + us, ps - ns + us, ps - ns], 1).reshape(-1, 2)
        sizes = torch.full((len(sq),), 4, dtype=torch.long, device=device)
        out.append((verts, sizes, item[sq], torch.zeros(len(sq), dtype=torch.bool, device=device)))
    rd = (cap == CAP_ROUND).nonzero().squeeze(1)
    if len(rd):
        angle = torch.full((len(rd),), -math.pi, dtype=p.dtype, device=device)
        k = _arc_steps(angle, hw[rd], tolerance)
        verts, sizes = _fan(p[rd], n[rd], angle, k, False)
        out.append((verts, sizes, item[rd], torch.zeros(len(rd), dtype=torch.bool, device=device)))
    return out

"""Dashes: cut stroked polylines into their dashes (open polylines), in torch.

Arc length is measured along the flattened centre line, so a dash's ends move
continuously with the points; where the cuts fall is found without gradient.
"""

from __future__ import annotations

import torch

from ..errors import ClipvgError
from .raster import MAX_PIECES


def dash_polylines(
    start: torch.Tensor,
    end: torch.Tensor,
    line_poly: torch.Tensor,
    pattern: torch.Tensor,
    pattern_sizes: torch.Tensor,
    offset: torch.Tensor,
    closed: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Split polylines into dashes.

    Args:
        start, end: (L, 2) segments in order along each polyline; line_poly: (L,) int64
            non-decreasing polyline ids in [0, Q).
        pattern: (D,) dash lengths in pixels, >= 0, every polyline's array in turn
            (an odd-length array is used twice, the SVG rule); pattern_sizes: (Q,)
            entries per polyline, each with a positive sum.
        offset: (Q,) dash offset in pixels.
        closed: (Q,) bool, closed polylines (their first dash may continue their last
            one through the start point); all open when None.

    Returns:
        start, end, line_dash: the dashes' segments, (M, 2), (M, 2), (M,) int64 dash
        ids; dash_poly: (E,) int64 the polyline each dash came from; dash_dir: (E, 2)
        the direction at a dash's start (for the caps of zero-length dashes).
    """
    device, dtype = start.device, start.dtype
    q = pattern_sizes.shape[0]
    d = end - start
    length = torch.sqrt((d * d).sum(1) + 1e-30)
    with torch.no_grad():
        count = torch.bincount(line_poly, minlength=q)
        # Odd arrays repeat: entries per period.
        per = torch.where(pattern_sizes % 2 == 1, 2 * pattern_sizes, pattern_sizes)
        p_first = torch.cumsum(pattern_sizes, 0) - pattern_sizes
        entry_poly = torch.repeat_interleave(torch.arange(q, device=device), per)
        e_local = (
            torch.arange(len(entry_poly), device=device) - (torch.cumsum(per, 0) - per)[entry_poly]
        )
        e_val = pattern[p_first[entry_poly] + e_local % pattern_sizes[entry_poly]].double()
        e_end = torch.zeros(q, dtype=torch.float64, device=device).index_add_(0, entry_poly, e_val)
        period = e_end
        # Position of each entry's start within the period.
        e_cum = torch.cumsum(e_val, 0)
        e_start = (
            e_cum - e_val - (e_cum - e_val)[torch.cumsum(per, 0)[entry_poly] - per[entry_poly]]
        )
        total = torch.zeros(q, dtype=torch.float64, device=device).index_add_(
            0, line_poly, length.detach().double()
        )
        phase = torch.remainder(offset.detach().double(), period)
        # Dashes (even entries) of periods 0..m cover [0, total] once shifted by -phase.
        periods = torch.ceil((total + phase) / period) + 1
        on = (e_local % 2 == 0).nonzero().squeeze(1)
        # Counted in float64 first: a fine array on a long line overflows int64.
        need = float(periods[entry_poly[on]].sum())
        if not need <= MAX_PIECES:
            raise ClipvgError(
                f"a dash array this fine needs {need:.3g} dashes, over the limit of "
                f"{MAX_PIECES}; use longer dashes"
            )
        reps = periods.long()[entry_poly[on]]
        entry = torch.repeat_interleave(on, reps)
        m = (
            torch.arange(len(entry), device=device)
            - (torch.cumsum(reps, 0) - reps)[
                torch.repeat_interleave(torch.arange(len(on), device=device), reps)
            ]
        )
        poly = entry_poly[entry]
        a = e_start[entry] + m.double() * period[poly] - phase[poly]
        b = a + e_val[entry]
        a_c, b_c = a.clamp(min=0), torch.minimum(b, total[poly])
        keep = (b_c > a_c) | ((b == a) & (a >= 0) & (a <= total[poly]))
        keep &= count[poly] > 0
        poly, a_c, b_c = poly[keep], a_c[keep], b_c[keep]
        # A closed polyline whose pattern is on at its start and at its end has one
        # dash through the start point (Skia, Chromium, resvg): the first dash is
        # drawn as the continuation of the last one, joined there.
        target = _wrap_targets(poly, a_c, b_c, total, closed, q)
        # Global arc length, to find the segments each dash spans.
        seg_end = torch.cumsum(length.detach().double(), 0)
        seg_begin = seg_end - length.detach().double()
        poly_base = seg_begin[
            (torch.cumsum(count, 0) - count).clamp(max=max(len(seg_begin) - 1, 0))
        ]
        ga, gb = poly_base[poly] + a_c, poly_base[poly] + b_c
        lo_line = torch.cumsum(count, 0) - count
        hi_line = lo_line + count - 1
        f = torch.searchsorted(seg_end, ga).clamp(lo_line[poly], hi_line[poly])
        la = torch.searchsorted(seg_begin, gb) - 1
        la = torch.maximum(la.clamp(max=hi_line[poly]), f)
        n_seg = la - f + 1
        if int(n_seg.sum()) > MAX_PIECES:
            raise ClipvgError(
                f"the dashes need {int(n_seg.sum())} segments, over the limit of {MAX_PIECES}"
            )
        dash = torch.repeat_interleave(torch.arange(len(f), device=device), n_seg)
        line = (
            f[dash]
            + torch.arange(len(dash), device=device)
            - (torch.cumsum(n_seg, 0) - n_seg)[dash]
        )
    # Differentiable arc length at each segment's start, within its polyline.
    cum = torch.cumsum(length, 0)
    base = (cum - length)[(torch.cumsum(count, 0) - count).clamp(max=max(len(cum) - 1, 0))]
    s0 = (cum - length)[line] - base[line_poly[line]]
    a_d = a_c.to(dtype)[dash]
    b_d = b_c.to(dtype)[dash]
    ln = length[line]
    ta = ((a_d - s0) / ln).clamp(0, 1)
    tb = ((b_d - s0) / ln).clamp(0, 1)
    p, v = start[line], d[line]
    a_out, b_out = p + v * ta.unsqueeze(1), p + v * tb.unsqueeze(1)
    with torch.no_grad():
        # Lines of a wrapped first dash move behind those of the dash they continue.
        moved = target[dash] != dash
        order = torch.sort(2 * target[dash] + moved.long(), stable=True).indices
        kept, dash = torch.unique_consecutive(target[dash][order], return_inverse=True)
        line = line[order]
        n_out = torch.bincount(dash, minlength=len(kept))
        first_of_dash = (torch.cumsum(n_out, 0) - n_out).clamp(max=max(len(line) - 1, 0))
    direction = (d[line] / length[line].unsqueeze(1)).detach()[first_of_dash]
    return a_out[order], b_out[order], dash, poly[kept], direction


def _wrap_targets(poly, a, b, total, closed, q: int) -> torch.Tensor:
    """(E,) int64: for each dash, the dash it is drawn as part of (itself, or, for the
    first dash of a closed polyline whose last dash reaches its end, that last dash).

    ``poly``, ``a``, ``b``: (E,) each dash's polyline and its arc-length span within
    ``[0, total[poly]]``; ``closed``: (Q,) bool.
    """
    device = poly.device
    idx = torch.arange(len(poly), device=device)
    target = idx.clone()
    if closed is None or not len(poly):
        return target
    shut = closed.to(device)[poly]
    head = shut & (a <= 0) & (b > 0)
    tail = shut & (b >= total[poly]) & (a < total[poly])
    head_of = torch.full((q,), -1, dtype=torch.long, device=device)
    tail_of = torch.full((q,), -1, dtype=torch.long, device=device)
    head_of[poly[head]] = idx[head]
    tail_of[poly[tail]] = idx[tail]
    wrap = (head_of >= 0) & (tail_of >= 0) & (head_of != tail_of)
    target[head_of[wrap]] = tail_of[wrap]
    return target

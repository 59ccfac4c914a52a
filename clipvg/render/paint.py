"""Gradient paint: linear and radial (two-point conical) gradients evaluated at pixel
centres, differentiable in the stop colours, the stop offsets and the geometry.

Pure functions of tensors; :mod:`clipvg.render.draw` decides which cells need them.
"""

from __future__ import annotations

import torch

from ..scene import RADIAL, SPREAD_REFLECT, SPREAD_REPEAT, Gradients, ordered_offsets


def compose(m: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Affine product ``m @ t`` of (..., 6) ``[a, b, c, d, e, f]`` matrices."""
    a, b, c, d, e, f = m.unbind(-1)
    a2, b2, c2, d2, e2, f2 = t.unbind(-1)
    return torch.stack(
        [
            a * a2 + c * b2,
            b * a2 + d * b2,
            a * c2 + c * d2,
            b * c2 + d * d2,
            a * e2 + c * f2 + e,
            b * e2 + d * f2 + f,
        ],
        -1,
    )


def invert(m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Inverse of (..., 6) affines, and (...,) bool whether each is invertible."""
    a, b, c, d, e, f = m.unbind(-1)
    det = a * d - b * c
    scale = (a.abs() + b.abs() + c.abs() + d.abs()).detach()
    ok = det.detach().abs() > 1e-12 * scale * scale
    safe = torch.where(ok, det, torch.ones_like(det))
    inv = torch.stack([d, -b, -c, a, c * f - d * e, b * e - a * f], -1) / safe.unsqueeze(-1)
    return inv, ok


def apply(m: torch.Tensor, xy: torch.Tensor) -> torch.Tensor:
    """(M, 6) affines applied to (M, 2) points."""
    a, b, c, d, e, f = m.unbind(-1)
    x, y = xy.unbind(-1)
    return torch.stack([a * x + c * y + e, b * x + d * y + f], -1)


def gradient_parameter(
    kind: torch.Tensor, geometry: torch.Tensor, g: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The gradient parameter ``t`` at gradient-space points.

    Args:
        kind: (M,) int8; geometry: (M, 6) (see :class:`clipvg.scene.Gradients`);
        g: (M, 2) points in gradient space.

    Returns:
        t (M,) unbounded, and painted (M,) bool: False where a two-point conical
        gradient leaves the point unpainted (a focal circle outside the end circle).
        A linear gradient with equal end points, or a radial one of radius 0, gives
        ``t = 1`` (SVG: the last stop's colour).
    """
    x1, y1, x2, y2 = geometry[:, 0], geometry[:, 1], geometry[:, 2], geometry[:, 3]
    # Linear: projection onto the gradient vector.
    dx, dy = x2 - x1, y2 - y1
    den = dx * dx + dy * dy
    flat = den.detach() <= 1e-20
    t_lin = ((g[:, 0] - x1) * dx + (g[:, 1] - y1) * dy) / torch.where(flat, 1.0, den)
    t_lin = torch.where(flat, torch.ones_like(t_lin), t_lin)
    # Radial: the largest t with |g - (f + t (c - f))| = fr + t (r - fr), radius >= 0.
    cx, cy, r, fx, fy, fr = geometry.unbind(1)
    cdx, cdy, dr = cx - fx, cy - fy, r - fr
    pdx, pdy = g[:, 0] - fx, g[:, 1] - fy
    a = cdx * cdx + cdy * cdy - dr * dr
    half_b = pdx * cdx + pdy * cdy + fr * dr
    c = pdx * pdx + pdy * pdy - fr * fr
    linear_eq = a.detach().abs() <= 1e-9 * (cdx * cdx + cdy * cdy + dr * dr).detach().clamp(
        min=1e-30
    )
    disc = half_b * half_b - a * c
    root = torch.sqrt(disc.clamp(min=1e-30))
    a_safe = torch.where(linear_eq, torch.ones_like(a), a)
    t_big = (half_b + root) / a_safe
    t_small = (half_b - root) / a_safe
    t_hi = torch.maximum(t_big, t_small)
    t_lo = torch.minimum(t_big, t_small)
    ok_hi = fr + t_hi * dr >= 0
    t_quad = torch.where(ok_hi, t_hi, t_lo)
    ok_quad = (disc.detach() >= 0) & (ok_hi | (fr + t_lo * dr >= 0))
    hb_safe = torch.where(half_b.detach().abs() > 1e-30, half_b, torch.ones_like(half_b))
    t_one = c / (2 * hb_safe)
    ok_one = (half_b.detach().abs() > 1e-30) & (fr + t_one * dr >= 0)
    t_rad = torch.where(linear_eq, t_one, t_quad)
    ok_rad = torch.where(linear_eq, ok_one, ok_quad)
    degenerate = r.detach() <= 0
    t_rad = torch.where(degenerate, torch.ones_like(t_rad), t_rad)
    ok_rad = ok_rad | degenerate
    radial = kind == RADIAL
    t = torch.where(radial, t_rad, t_lin)
    painted = torch.where(radial, ok_rad, torch.ones_like(ok_rad))
    return t, painted


def spread_parameter(t: torch.Tensor, spread: torch.Tensor) -> torch.Tensor:
    """Map ``t`` into [0, 1] by ``spreadMethod`` (M,) int8."""
    rep = t - torch.floor(t.detach())
    m = torch.remainder(t, 2)
    ref = torch.where(m <= 1, m, 2 - m)
    out = torch.where(spread == SPREAD_REPEAT, rep, t.clamp(0, 1))  # else SPREAD_PAD
    out = torch.where(spread == SPREAD_REFLECT, ref, out)
    return out


def stop_colors(
    k: torch.Tensor, t: torch.Tensor, grads: Gradients, offsets: torch.Tensor | None = None
) -> torch.Tensor:
    """(M, 4) straight RGBA of gradient ``k`` (M,) at ``t`` (M,) in [0, 1].

    Colours interpolate linearly (straight, not premultiplied) between the stops
    around ``t``, before the first and after the last stop they are constant.
    ``offsets`` defaults to the gradients' offsets made non-decreasing (SVG).
    """
    if offsets is None:
        offsets = ordered_offsets(grads.stop_offsets, grads.stop_sizes)
    sizes = grads.stop_sizes.to(k.device)
    first = torch.cumsum(sizes, 0) - sizes
    with torch.no_grad():
        owner = grads.stop_gradient().to(k.device)
        key_stops = 2.0 * owner.double() + offsets.detach().double()
        key = 2.0 * k.double() + t.detach().double()
        j = torch.searchsorted(key_stops, key, right=True)
        lo_bound, hi_bound = first[k], first[k] + sizes[k] - 1
        hi = torch.minimum(torch.maximum(j, lo_bound), hi_bound)
        lo = torch.minimum(torch.maximum(j - 1, lo_bound), hi_bound)
    o_lo, o_hi = offsets[lo], offsets[hi]
    den = o_hi - o_lo
    gap = den.detach() > 0
    w = torch.where(gap, (t - o_lo) / torch.where(gap, den, torch.ones_like(den)), 0.0)
    w = w.clamp(0, 1).unsqueeze(1)
    c_lo, c_hi = grads.stop_colors[lo], grads.stop_colors[hi]
    return c_lo + w * (c_hi - c_lo)

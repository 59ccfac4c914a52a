"""Seam-free source-over compositing of rasterized cells (see :mod:`clipvg.render.raster`)."""

from __future__ import annotations

import torch


class Composite(torch.autograd.Function):
    """Seam-free source-over compositing of cell coverages, level by level.

    Plain source-over treats the coverages of two shapes in one pixel as
    independent, so two opaque shapes that each cover half of a pixel along a
    shared edge let a quarter of the background through. Here each cell's coverage
    is first divided by the part of its pixel not yet covered by the shapes above
    it (``1 - S``, ``S`` the summed coverage above): shapes that tile a pixel then
    fill it exactly, while a shape under a fully covering one, or under a
    semi-transparent full layer, composites as in plain source-over.

    Inputs: cover (M,) in [0, 1]; opacity (N,) in [0, 1] and rgb (N, K) colours per
    path, or, with ``per_cell``, (M,) and (M, K) per cell (gradients, clip masks);
    background (K,); cell_path (M,) int; cell_pixel (M,) int64 into a flat image
    of ``npix + 1`` pixels (the last one is a sink for cells that are not pixels);
    bounds: list of (start, stop) cell ranges, one per level, in paint order.
    Output: (npix, K). Gradients are exact (up to the kinks of min/max).
    """

    EPS = 1e-3

    @staticmethod
    def _alpha(cover, above, cell_op):
        ratio = cover / (1 - above).clamp(min=Composite.EPS)
        return ratio, cell_op * ratio.clamp(max=1)

    @staticmethod
    def forward(
        ctx, cover, opacity, rgb, background, cell_path, cell_pixel, bounds, npix, per_cell
    ):
        channels = rgb.shape[1]
        # Coverage of the shapes above each cell, summed top-down.
        above = torch.empty_like(cover)
        total = cover.new_zeros(npix + 1)
        for s, e in reversed(bounds):
            pix = cell_pixel[s:e]
            above[s:e] = total.index_select(0, pix)
            total.index_add_(0, pix, cover[s:e])
        del total
        cell_op = opacity if per_cell else opacity.index_select(0, cell_path)
        _, alpha = Composite._alpha(cover, above, cell_op)
        under = torch.empty(cover.shape[0], channels, dtype=cover.dtype, device=cover.device)
        image = background.detach().expand(npix + 1, channels).clone()
        for s, e in bounds:
            pix = cell_pixel[s:e]
            prev = image.index_select(0, pix)
            under[s:e] = prev
            paint = rgb[s:e] if per_cell else rgb.index_select(0, cell_path[s:e])
            image.index_copy_(0, pix, prev + alpha[s:e, None] * (paint - prev))
        # Only what cannot be recomputed cheaply is kept for backward.
        ctx.save_for_backward(cover, above, under, opacity, rgb, cell_path, cell_pixel)
        ctx.bounds = bounds
        ctx.npix = npix
        ctx.per_cell = per_cell
        return image[:npix]

    @staticmethod
    def backward(ctx, grad):
        cover, above, under, opacity, rgb, cell_path, cell_pixel = ctx.saved_tensors
        npix, per_cell = ctx.npix, ctx.per_cell
        cell_op = opacity if per_cell else opacity.index_select(0, cell_path)
        ratio, alpha = Composite._alpha(cover, above, cell_op)
        g_img = torch.cat([grad, grad.new_zeros(1, grad.shape[1])])
        g_alpha = torch.empty_like(alpha)
        g_paint = g_rgb = None
        if ctx.needs_input_grad[2]:
            # Per-path colours sum their cells' gradients level by level (no (M, K) buffer).
            g_paint = torch.empty_like(under) if per_cell else None
            g_rgb = None if per_cell else torch.zeros_like(rgb)
        for s, e in reversed(ctx.bounds):
            pix = cell_pixel[s:e]
            g = g_img.index_select(0, pix)
            paint = rgb[s:e] if per_cell else rgb.index_select(0, cell_path[s:e])
            a = alpha[s:e, None]
            g_alpha[s:e] = (g * (paint - under[s:e])).sum(1)
            if g_paint is not None:
                g_paint[s:e] = g * a
            elif g_rgb is not None:
                g_rgb.index_add_(0, cell_path[s:e], g * a)
            g_img.index_copy_(0, pix, g * (1 - a))
        # alpha = op * min(1, cover / max(1 - above, EPS))
        free = (1 - above).clamp(min=Composite.EPS)
        g_ratio = torch.where(ratio <= 1, g_alpha * cell_op, 0)
        g_cover = g_ratio / free
        g_above = torch.where(above < 1 - Composite.EPS, g_ratio * ratio / free, 0)
        del g_ratio, free
        # Each cell's coverage feeds the ``above`` of the cells under it.
        running = g_cover.new_zeros(npix + 1)
        for s, e in ctx.bounds:
            pix = cell_pixel[s:e]
            g_cover[s:e] += running.index_select(0, pix)
            running.index_add_(0, pix, g_above[s:e])
        g_op = g_bg = None
        if g_paint is not None:
            g_rgb = g_paint
        if ctx.needs_input_grad[1]:
            g_cell_op = g_alpha * ratio.clamp(max=1)
            if per_cell:
                g_op = g_cell_op
            else:
                g_op = opacity.new_zeros(opacity.shape).index_add_(0, cell_path, g_cell_op)
        if ctx.needs_input_grad[3]:
            g_bg = g_img[:npix].sum(0)
        return g_cover, g_op, g_rgb, g_bg, None, None, None, None, None

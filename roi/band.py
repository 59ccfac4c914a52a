"""The band along a region's edge, where an ``--edit-only`` edit must not show a seam.

A flat fill cannot fade: a path that changes colour, or moves, right at the region's
edge makes a visible jump against the untouched pixels outside. The edit session holds
the paths that reach this band (their colour) and the curves that run in it (their
control points), and keeps every other edited curve out of it; see
:class:`clipvg.session.EditSession` (``hold_edges``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from .split import segment_index, segment_reach, segments_leaving

if TYPE_CHECKING:
    from clipvg.scene import Scene


def edge_band(region: torch.Tensor, width: int) -> torch.Tensor:
    """The pixels within ``width`` pixels of the region's edge, on either side of it
    (square neighbourhood).

    Only edges inside the image count: where the region meets the image border there is
    nothing outside to join.

    Args:
        region: (H, W) region coverage in [0, 1].
        width: band width in pixels, >= 1.

    Returns:
        (H, W) bool.
    """
    inside = region > 0

    def near(mask: torch.Tensor) -> torch.Tensor:
        grown = F.max_pool2d(mask.float()[None, None], 2 * width + 1, stride=1, padding=width)
        return grown[0, 0] > 0

    return inside & near(~inside) | ~inside & near(inside)


def pad_like(mask: torch.Tensor, padded: torch.Tensor) -> torch.Tensor:
    """(H, W) bool ``mask`` padded with False to the size of ``padded`` (H + 2r, W + 2r),
    the layout of :func:`roi.split.allowed_mask`."""
    r = (padded.shape[0] - mask.shape[0]) // 2
    return F.pad(mask.float()[None, None], (r,) * 4)[0, 0] > 0


def points_in_band(
    scene: Scene, paths: torch.Tensor, band: torch.Tensor, scale: tuple[float, float]
) -> torch.Tensor:
    """(P,) bool: the control points of every cubic segment of ``paths`` whose curve
    runs over a pixel of ``band`` (a stroked one: whose stroke reaches it).

    Args:
        paths: (N,) bool.
        band: (H, W) bool at the render size, from :func:`edge_band`.
        scale: ``(W / width, H / height)``, canvas units -> render pixels.
    """
    seg = segment_index(scene, paths)
    pad = 4  # samples just past the canvas (a curve on the canvas border) are not in it
    outside_band = F.pad((~band).float()[None, None], (pad,) * 4, value=1.0)[0, 0] > 0
    reach = segment_reach(scene, seg, scale)
    meets = segments_leaving(scene.points, seg, outside_band, scale, pad, margin=reach)
    out = torch.zeros(scene.points.shape[0], dtype=torch.bool, device=scene.points.device)
    out[seg[meets].flatten()] = True
    return out

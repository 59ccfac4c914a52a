"""Patch crops and random perspective: pure functions of (image, generator).

Augmentation is split in two so that the SAME random warps can be applied to the
current render and to the initial render (CLIPVG compares like with like):

1. :func:`sample_warps` draws the parameters (crop boxes and perspective corner
   offsets) with an explicit ``torch.Generator``.
2. :func:`warp_grid` turns them into a sampling grid and :func:`apply_grid` samples any
   image through it, in one ``grid_sample`` for the whole batch.

Coordinates: image pixels, x right, y down, the image covering [0, W] x [0, H].
An ROI box ``(x, y, w, h)`` is first made square around its center (side
``max(w, h)``); everything outside the ROI box, and outside the image, reads as
white, so non-square ROIs are padded with white, never black or neighbouring content.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from .errors import ClipvgError


class Warps(NamedTuple):
    """Random crop + perspective parameters for B patches of one ROI.

    Attributes:
        boxes: (B, 4) float32 ``x0, y0, side, side`` of each square crop, image pixels.
        corners: (B, 4, 2) float32 where the crop's corners (TL, TR, BR, BL) land in the
            output patch, in [0, 1] patch units (identity = unit square corners).
        roi: (4,) or (B, 4) float32 ``x, y, w, h`` of the ROI box (one for all, or one
            per patch); samples outside it read white.
    """

    boxes: torch.Tensor
    corners: torch.Tensor
    roi: torch.Tensor

    def take(self, index: torch.Tensor | slice) -> Warps:
        """The warps at ``index`` (a slice or (K,) long tensor), ROI boxes per patch."""
        return Warps(self.boxes[index], self.corners[index], self.per_patch_roi()[index])

    def per_patch_roi(self) -> torch.Tensor:
        """(B, 4) ROI box of each patch."""
        return self.roi.expand(self.boxes.shape[0], 4) if self.roi.ndim == 1 else self.roi


def cat_warps(warps: list[Warps]) -> Warps:
    """One :class:`Warps` holding the patches of several (possibly of different ROIs)."""
    return Warps(
        torch.cat([w.boxes for w in warps]),
        torch.cat([w.corners for w in warps]),
        torch.cat([w.per_patch_roi() for w in warps]),
    )


_UNIT = torch.tensor([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])


def roi_square(roi: tuple[float, float, float, float]) -> tuple[float, float, float]:
    """The square ``(x0, y0, side)`` centered on the ROI box, side = its longer side."""
    x, y, w, h = roi
    side = max(w, h)
    return x + (w - side) / 2, y + (h - side) / 2, side


def sample_warps(
    roi: tuple[float, float, float, float],
    n: int,
    crop_ratio: float,
    distortion: float,
    generator: torch.Generator,
    min_ratio: float | None = None,
) -> Warps:
    """Draw ``n`` random square crops inside the ROI square, each with a random perspective.

    Args:
        roi: ``(x, y, w, h)`` box in image pixels.
        n: number of patches.
        crop_ratio: crop side as a fraction of the ROI's longer side, in (0, 1]. When
            ``min_ratio`` is given the side is drawn uniformly in [min_ratio, crop_ratio].
        distortion: perspective strength in [0, 1) (torchvision's ``distortion_scale``):
            each corner moves inward by up to ``distortion / 2`` of the patch side.
        generator: the CPU generator all randomness comes from.

    Returns:
        :class:`Warps` on the CPU (float32).
    """
    if not 0 < crop_ratio <= 1:
        raise ClipvgError(f"crop ratio must be in (0, 1], got {crop_ratio}")
    if not 0 <= distortion < 1:
        raise ClipvgError(f"perspective distortion must be in [0, 1), got {distortion}")
    if n < 0:
        raise ClipvgError(f"patch count must be >= 0, got {n}")
    x0, y0, side = roi_square(roi)
    u = torch.rand(n, 5, generator=generator)
    ratio = (
        torch.full((n,), float(crop_ratio))
        if min_ratio is None
        else min_ratio + (crop_ratio - min_ratio) * u[:, 0]
    )
    crop = ratio * side
    cx = x0 + (side - crop) * u[:, 1]
    cy = y0 + (side - crop) * u[:, 2]
    boxes = torch.stack([cx, cy, crop, crop], 1)
    # torchvision RandomPerspective: each corner moves inward by U[0, d/2] in x and y.
    offsets = torch.rand(n, 4, 2, generator=generator) * (distortion / 2)
    inward = torch.tensor([[1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0], [1.0, -1.0]])
    corners = _UNIT + offsets * inward
    return Warps(boxes, corners, torch.tensor(roi, dtype=torch.float32))


def homographies(src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    """(B, 3, 3) homographies mapping each ``src`` quad onto the ``dst`` quad.

    Args:
        src, dst: (B, 4, 2) corresponding points (float, no three collinear).
    """
    b = src.shape[0]
    x, y = src[..., 0], src[..., 1]
    u, v = dst[..., 0], dst[..., 1]
    zero, one = torch.zeros_like(x), torch.ones_like(x)
    rows_u = torch.stack([x, y, one, zero, zero, zero, -u * x, -u * y], -1)
    rows_v = torch.stack([zero, zero, zero, x, y, one, -v * x, -v * y], -1)
    a = torch.cat([rows_u, rows_v], 1)  # (B, 8, 8)
    rhs = torch.cat([u, v], 1)  # (B, 8)
    h = torch.linalg.solve(a.double(), rhs.double()).to(src.dtype)
    return torch.cat([h, torch.ones(b, 1, dtype=h.dtype, device=h.device)], 1).view(b, 3, 3)


def warp_grid(
    warps: Warps, size: int, image_hw: tuple[int, int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sampling grid for :func:`apply_grid`.

    Output pixel centers p in [0, 1]^2 of the patch map through the inverse perspective
    (patch corners -> crop corners) into the crop box, then into the image.

    Returns:
        grid: (B, size, size, 2) float32 in grid_sample's [-1, 1] convention
            (align_corners=False), on the CPU.
        inside: (B, size, size, 1) float32, 1 where the sample lies inside the ROI box.
    """
    h_img, w_img = image_hw
    b = warps.boxes.shape[0]
    t = (torch.arange(size, dtype=torch.float32) + 0.5) / size
    gy, gx = torch.meshgrid(t, t, indexing="ij")
    pix = torch.stack([gx, gy, torch.ones_like(gx)], -1).view(1, -1, 3)  # (1, S*S, 3)
    hom = homographies(warps.corners, _UNIT.expand(b, 4, 2))  # output patch -> crop unit square
    q = pix @ hom.transpose(1, 2)
    q = q[..., :2] / q[..., 2:3]
    xy = warps.boxes[:, None, :2] + q * warps.boxes[:, None, 2:3]  # image pixels
    rx, ry, rw, rh = warps.roi.reshape(-1, 1, 4).unbind(-1)  # each (1 or B, 1)
    inside = (
        (xy[..., 0] >= rx) & (xy[..., 0] <= rx + rw) & (xy[..., 1] >= ry) & (xy[..., 1] <= ry + rh)
    )
    grid = torch.stack([2 * xy[..., 0] / w_img - 1, 2 * xy[..., 1] / h_img - 1], -1)
    return grid.view(b, size, size, 2), inside.view(b, size, size, 1).float()


def apply_grid(image: torch.Tensor, grid: torch.Tensor, inside: torch.Tensor) -> torch.Tensor:
    """Sample ``image`` through ``grid``, white outside the ROI and the image.

    Args:
        image: (H, W, 3) float in [0, 1] (a render; differentiable).
        grid, inside: from :func:`warp_grid` (moved to ``image.device`` here).

    Returns:
        (B, 3, S, S) patches in [0, 1], differentiable w.r.t. ``image``.
    """
    if image.ndim != 3 or image.shape[2] != 3:
        raise ClipvgError(f"expected an (H, W, 3) image, got {tuple(image.shape)}")
    b, s_h, s_w, _ = grid.shape
    # One source image and all patches' grids stacked into one tall grid: the backward
    # then accumulates into one (3, H, W) gradient, not B copies of it summed afterwards.
    src = (image - 1).permute(2, 0, 1).unsqueeze(0)
    grid = grid.to(image.device, image.dtype).reshape(1, b * s_h, s_w, 2)
    out = F.grid_sample(src, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    out = out.view(3, b, s_h, s_w).transpose(0, 1)
    mask = inside.to(image.device, image.dtype).permute(0, 3, 1, 2)
    return (out * mask + 1).contiguous()  # zero padding of (image - 1) reads as white


def sample_patches(
    image: torch.Tensor,
    roi: tuple[float, float, float, float],
    n: int,
    size: int,
    crop_ratio: float,
    distortion: float,
    generator: torch.Generator,
) -> torch.Tensor:
    """Convenience: draw warps and apply them to one image. (n, 3, size, size) in [0, 1]."""
    warps = sample_warps(roi, n, crop_ratio, distortion, generator)
    grid, inside = warp_grid(warps, size, tuple(image.shape[:2]))
    return apply_grid(image, grid, inside)

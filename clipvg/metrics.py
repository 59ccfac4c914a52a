"""Image-level measures of an edit: pure functions of images, masks and features.

Shared by ``evaluate`` (the report), candidate ranking and exemplar prompts:

- :func:`roi_crops`: the ROI's box as CLIP sees it (the square around the box,
  white outside the box), exactly like the whole-ROI crop of an edit.
- :func:`read_rgb` / :func:`square_image`: reference and source pictures.
- :func:`clip_similarity`, :func:`directional_similarity`: cosine scores.
- :func:`background_psnr`, :func:`background_ssim`, :func:`background_rms`:
  change outside the ROIs (where ``outside`` is True).

Images are (H, W, 3) float32 in [0, 1], sRGB.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .augment import apply_grid, sample_warps, warp_grid
from .errors import ClipvgError
from .io import open_rgba


def read_rgb(path: str | Path) -> torch.Tensor:
    """Read a picture as (H, W, 3) float32 in [0, 1]; transparency is composited on white.

    Raises:
        ClipvgError: missing or unreadable file.
    """
    from PIL import Image

    rgba = open_rgba(path)
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    rgb = Image.alpha_composite(white, rgba).convert("RGB")
    arr = np.asarray(rgb, dtype=np.float32) / 255
    return torch.from_numpy(arr.copy())


def resize_image(image: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(H, W, 3) -> (height, width, 3), antialiased bilinear, clamped to [0, 1]."""
    if image.shape[:2] == (height, width):
        return image
    x = F.interpolate(
        image.permute(2, 0, 1)[None], size=(height, width), mode="bilinear", antialias=True
    )
    return x[0].permute(1, 2, 0).clamp(0, 1)


def square_image(image: torch.Tensor, size: int) -> torch.Tensor:
    """Pad (H, W, 3) to a centered white square and resize: (1, 3, size, size) in [0, 1]."""
    h, w = image.shape[:2]
    side = max(h, w)
    top, left = (side - h) // 2, (side - w) // 2
    x = image.permute(2, 0, 1)[None] - 1
    x = F.pad(x, (left, side - w - left, top, side - h - top)) + 1
    return F.interpolate(x, size=(size, size), mode="bilinear", antialias=True).clamp(0, 1)


def roi_crops(
    image: torch.Tensor, boxes: Sequence[tuple[float, float, float, float]], size: int
) -> torch.Tensor:
    """The whole-ROI crop of each box, as the editor's CLIP sees it.

    Args:
        image: (H, W, 3) in [0, 1] (differentiable).
        boxes: ``(x, y, w, h)`` in image pixels.
        size: CLIP's input side.

    Returns:
        (R, 3, size, size) in [0, 1]: the square around each box, white outside it.
    """
    gen = torch.Generator().manual_seed(0)  # no randomness: full-size crop, no warp
    out = []
    for box in boxes:
        warps = sample_warps(tuple(float(v) for v in box), 1, 1.0, 0.0, gen)
        grid, inside = warp_grid(warps, size, tuple(image.shape[:2]))
        out.append(apply_grid(image, grid, inside))
    return torch.cat(out) if out else image.new_zeros(0, 3, size, size)


def clip_similarity(features: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Row-wise cosine similarity. (R, D), (R, D) -> (R,) in [-1, 1]."""
    return (F.normalize(features.float(), dim=-1) * F.normalize(targets.float(), dim=-1)).sum(-1)


def directional_similarity(
    edited: torch.Tensor, source: torch.Tensor, target: torch.Tensor, origin: torch.Tensor
) -> torch.Tensor:
    """Cosine of (edited - source) image change with (target - origin) change, row-wise.

    All inputs (R, D) features (normalized here). Rows whose image change is zero
    give 0.

    Returns:
        (R,) in [-1, 1].
    """

    def unit(x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x.float(), dim=-1)

    d_img = unit(edited) - unit(source)
    d_txt = unit(target) - unit(origin)
    return (F.normalize(d_img, dim=-1) * F.normalize(d_txt, dim=-1)).sum(-1)


def _outside(outside: torch.Tensor, image: torch.Tensor) -> np.ndarray:
    if outside.shape != image.shape[:2]:
        raise ClipvgError(
            f"mask {tuple(outside.shape)} and image {tuple(image.shape[:2])} sizes differ"
        )
    return outside.detach().cpu().numpy().astype(bool)


def background_psnr(a: torch.Tensor, b: torch.Tensor, outside: torch.Tensor) -> float | None:
    """PSNR in dB (data range 1) over the pixels where ``outside`` is True.

    Returns:
        inf for identical pixels, None when ``outside`` is empty.
    """
    from skimage.metrics import peak_signal_noise_ratio

    m = _outside(outside, a)
    if not m.any():
        return None
    x = a.detach().cpu().double().numpy()[m]
    y = b.detach().cpu().double().numpy()[m]
    if np.array_equal(x, y):
        return math.inf
    return float(peak_signal_noise_ratio(x, y, data_range=1.0))


def background_ssim(a: torch.Tensor, b: torch.Tensor, outside: torch.Tensor) -> float | None:
    """Mean SSIM (skimage, 7x7 windows, data range 1) over the pixels where ``outside``
    is True. None when ``outside`` is empty or the image is under 7 px."""
    from skimage.metrics import structural_similarity

    m = _outside(outside, a)
    if not m.any() or min(a.shape[:2]) < 7:
        return None
    x = a.detach().cpu().double().numpy()
    y = b.detach().cpu().double().numpy()
    _, full = structural_similarity(x, y, channel_axis=2, data_range=1.0, full=True)
    return float(full.mean(axis=2)[m].mean())


def background_rms(a: torch.Tensor, b: torch.Tensor, outside: torch.Tensor) -> float:
    """Root mean squared difference over ``outside`` pixels (0 when it is empty)."""
    m = outside.to(a.device).bool()
    if not bool(m.any()):
        return 0.0
    return float(((a.detach() - b.detach())[m] ** 2).mean().sqrt())


def box_seam(a: torch.Tensor, b: torch.Tensor, box: Sequence[float], depth: int) -> float | None:
    """Mean colour jump across a box's edge that ``a`` adds to ``b``, in 0-255 levels.

    Along every side of ``box`` that lies inside the image, pairs the first pixel past
    ``depth`` pixels inside the edge with the pixel just outside it, and averages over the whole
    edge the colour distance (Euclidean, over RGB) ``|(a_in - a_out) - (b_in - b_out)|``: the jump a
    local edit creates (a jump the original already has, an object's own edge, is not
    counted).

    Args:
        a, b: (H, W, 3) edited and original images in [0, 1].
        box: x, y, w, h in pixels of the images.
        depth: pixels inside the edge (the feather width), >= 1.

    Returns:
        the mean jump, or None when no side lies inside the image.
    """
    if a.shape != b.shape:
        raise ClipvgError(f"images {tuple(a.shape)} and {tuple(b.shape)} sizes differ")
    h, w = a.shape[:2]
    d = (a.detach().float() - b.detach().float()).cpu()
    x0, y0 = round(box[0]), round(box[1])
    x1, y1 = round(box[0] + box[2]), round(box[1] + box[3])  # first column/row outside
    depth = max(int(depth), 1)
    xs, ys = slice(max(x0, 0), min(x1, w)), slice(max(y0, 0), min(y1, h))
    jumps = []
    # the inner pixel is the first one past the feather band (its centre depth + 0.5 in)
    if x0 >= 1 and x0 + depth < w:  # left side
        jumps.append(d[ys, x0 + depth] - d[ys, x0 - 1])
    if x1 < w and x1 - 1 - depth >= 0:  # right side
        jumps.append(d[ys, x1 - 1 - depth] - d[ys, x1])
    if y0 >= 1 and y0 + depth < h:  # top
        jumps.append(d[y0 + depth, xs] - d[y0 - 1, xs])
    if y1 < h and y1 - 1 - depth >= 0:  # bottom
        jumps.append(d[y1 - 1 - depth, xs] - d[y1, xs])
    if not jumps:
        return None
    return float(torch.cat(jumps).norm(dim=-1).mean()) * 255

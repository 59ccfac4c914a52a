"""Directional CLIP loss: pure functions of features.

CLIPVG (after StyleGAN-NADA / CLIPstyler) asks the change in the image to point the
same way in CLIP space as the change in the text:

    dT = normalize(T(prompt) - T(source))          T: template-averaged, unit features
    dI = normalize(normalize(E(now)) - normalize(E(initial)))   same crop/warp on both
    loss = 1 - cos(dI, dT)

On the very first iteration the current render equals the initial one, so every dI is
exactly zero and has no direction. Image directions shorter than a ``floor`` are
therefore divided by the floor instead of their length: the loss is then linear in dI,
``1 - dI . dT / floor``, and its gradient, ``-dT / floor``, stays finite and points
toward the text direction.

The floor is a length in the model's feature space, and how long an edit's dI is
depends on the model: so the floor is relative, ``FLOOR_FRACTION * |T(prompt) -
T(source)|`` (the raw text shift, which the direction passed in carries as its
length), never below :data:`DIRECTION_FLOOR`. Below the floor the loss pays for every step
along dT; above it only the angle counts, and the angle is scale-free: a tiny change
in the right direction scores like the whole one. Measured on ``clipvg-toy``
(benchmarks/semantic/floor_scale.py): a red star and a blue star are |dI| = 1.23 apart
(|dT| = 1.54, cos(dI, dT) = 0.93), so an absolute floor of 0.01 turned the loss
direction-only after 1% of the way, and edits stopped there (loss 1.0 -> 0.45 while
the colour moved 0.03); the relative floor is 0.77 there. For ViT-B/32 (not measured
here: no weights) template-averaged features of two such prompts sit at a cosine of
roughly 0.85-0.95, a text shift of ~0.3-0.55, so the rule gives a floor of ~0.15-0.25,
of the order of a recolour's image change: about half the way is paid by length, the
rest by direction as in CLIPVG.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .errors import ClipvgError


def widen(x: torch.Tensor) -> torch.Tensor:
    """Half-precision features to float32; float32/float64 stay as they are."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


#: Smallest floor, in unit-feature space: keeps the first iteration's gradient
#: (``-dT / floor``) bounded whatever the prompts.
DIRECTION_FLOOR = 1e-2
#: The floor as a fraction of the text shift's length (see the module docstring).
FLOOR_FRACTION = 0.5


def text_direction(target: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
    """Text shift from ``source`` to ``target``: the difference of the unit features.

    Its direction is dT; its length (in (0, 2]) sets the loss's floor
    (:func:`direction_floor`), so it is kept rather than normalized away.

    Args:
        target, source: (D,) or (B, D) text features (normalized or not; normalized here).

    Returns:
        Same shape: ``normalize(target) - normalize(source)``.
    """
    d = F.normalize(widen(target), dim=-1) - F.normalize(widen(source), dim=-1)
    if bool((d.norm(dim=-1) < 1e-6).any()):
        raise ClipvgError(
            "the prompt and the source prompt give the same text features; use a different --prompt or --source-prompt"
        )
    return d


def direction_floor(direction: torch.Tensor) -> torch.Tensor:
    """The floor for a text shift: ``max(DIRECTION_FLOOR, FLOOR_FRACTION * |direction|)``.

    Args:
        direction: (D,) or (B, D) text shift (:func:`text_direction`); a unit direction
            (an exemplar image's, say) gives ``FLOOR_FRACTION``.

    Returns:
        (1,) or (B, 1) floors.
    """
    length = widen(direction).norm(dim=-1, keepdim=True)
    return (FLOOR_FRACTION * length).clamp_min(DIRECTION_FLOOR)


def image_direction(
    current: torch.Tensor, initial: torch.Tensor, floor: float | torch.Tensor = DIRECTION_FLOOR
) -> torch.Tensor:
    """Image direction per row, normalized only when longer than ``floor``.

    Args:
        current: (B, D) features of crops of the current render (differentiable).
        initial: (B, D) features of the same crops of the initial render (constant).
        floor: a length, or (B, 1) lengths (:func:`direction_floor`).

    Returns:
        (B, D) ``d / max(|d|, floor)`` with ``d = normalize(current) - normalize(initial)``.
    """
    if current.shape != initial.shape:
        raise ClipvgError(
            f"feature shapes differ: {tuple(current.shape)} vs {tuple(initial.shape)}"
        )
    d = F.normalize(widen(current), dim=-1) - F.normalize(widen(initial), dim=-1)
    length = d.norm(dim=-1, keepdim=True)
    if isinstance(floor, torch.Tensor):
        return d / torch.maximum(length, floor.to(d.dtype))
    return d / length.clamp_min(floor)


def directional_loss(
    current: torch.Tensor,
    initial: torch.Tensor,
    direction: torch.Tensor,
    floor: float | None = None,
) -> torch.Tensor:
    """Per-crop directional loss ``1 - cos(dI, dT)``.

    Args:
        current: (B, D) image features of the current crops (differentiable).
        initial: (B, D) image features of the same crops of the initial render.
        direction: (D,) or (B, D) text shift (:func:`text_direction`); only its
            direction enters the cosine, its length sets the floor.
        floor: an absolute floor instead of :func:`direction_floor` (ablations).

    Returns:
        (B,) loss in [0, 2] (in [1 - |dI|/floor, 1 + |dI|/floor] while |dI| < floor).
    """
    direction = widen(direction)
    limit = direction_floor(direction) if floor is None else floor
    d_img = image_direction(current, initial, limit)
    unit = F.normalize(direction, dim=-1)
    return 1 - (d_img * unit.to(d_img.dtype)).sum(-1)


def roi_loss(
    whole: torch.Tensor, patches: torch.Tensor, roi_weight: float, patch_weight: float
) -> torch.Tensor:
    """Weighted ROI loss: ``roi_weight * mean(whole) + patch_weight * mean(patches)``.

    Args:
        whole: (K,) directional losses of the whole-ROI crops (K >= 1).
        patches: (B,) directional losses of the patches (B may be 0).

    Returns:
        Scalar tensor.
    """
    loss = roi_weight * whole.mean()
    if patches.numel():
        loss = loss + patch_weight * patches.mean()
    return loss


# ---- background preservation -------------------------------------------------------------
def masked_mse(current: torch.Tensor, initial: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Mean squared difference weighted by ``keep``.

    Args:
        current: (H, W, 3) render in [0, 1] (differentiable).
        initial: (H, W, 3) reference render in [0, 1].
        keep: (H, W) weights in [0, 1] (1 = must not change).

    Returns:
        Scalar ``sum(keep * |current - initial|^2) / (3 * sum(keep))`` (0 when keep is all 0).
    """
    if current.shape != initial.shape or current.shape[:2] != keep.shape:
        raise ClipvgError(
            f"image / mask shapes differ: {tuple(current.shape)}, {tuple(initial.shape)}, {tuple(keep.shape)}"
        )
    k = keep.to(current.dtype)[..., None]
    return (k * (current - initial) ** 2).sum() / (3 * k.sum()).clamp_min(1e-8)


def keep_composite(image: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """The image where ``keep`` is 1, white where it is 0: (H, W, 3) -> (1, 3, H, W) in [0, 1]."""
    k = keep.to(image.dtype)[..., None]
    return (image * k + (1 - k)).permute(2, 0, 1)[None]


def feature_distance(current: torch.Tensor, initial: torch.Tensor) -> torch.Tensor:
    """LPIPS-style distance without learned weights: unit-normalize each position's
    channel vector, then the mean over positions of the squared difference.

    Args:
        current, initial: (B, C, h, w) feature maps (or (B, T, C) tokens: channel last).

    Returns:
        Scalar in [0, 4].
    """
    dim = 1 if current.ndim == 4 else -1
    a = F.normalize(widen(current), dim=dim)
    b = F.normalize(widen(initial), dim=dim)
    return ((a - b) ** 2).sum(dim).mean()


def gradient_distance(
    current: torch.Tensor, initial: torch.Tensor, keep: torch.Tensor
) -> torch.Tensor:
    """Pixel-space structural proxy for a perceptual distance (no network): the
    ``keep``-weighted mean squared difference of horizontal and vertical finite
    differences (edges moving or blurring shows up here more than in plain MSE).

    Args:
        current, initial: (H, W, 3) in [0, 1]; keep: (H, W) in [0, 1].

    Returns:
        Scalar >= 0.
    """
    dc = current - initial
    k = keep.to(current.dtype)[..., None]
    gx = (dc[:, 1:] - dc[:, :-1]) ** 2 * torch.minimum(k[:, 1:], k[:, :-1])
    gy = (dc[1:] - dc[:-1]) ** 2 * torch.minimum(k[1:], k[:-1])
    norm = (3 * k.sum()).clamp_min(1e-8)
    return (gx.sum() + gy.sum()) / norm

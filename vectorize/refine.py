"""Pulling a traced stack toward its input image.

``refit_colors`` is exact and cheap: it rasterizes the stack into a map of which
path is on top at each pixel and sets each fill to the mean input color of the
pixels it shows, dropping paths that show no pixel at all.

``refine`` is the optional gradient step: Adam on control points and fills through
the differentiable renderer :func:`clipvg.render`, minimizing the mean squared
error to the input, in stages from coarse to full size (:func:`plan`) that end
early when the PSNR stops rising. With ``sigma`` it minimizes the expected error of the stack
with its control points jittered (a fresh Gaussian draw each step), so the result
keeps its look when an edit moves the points a little.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from clipvg.errors import ClipvgError
from clipvg.progress import bar
from clipvg.scene import Scene

from .bands import BandedLoss, one_torch_thread

_SAMPLES = 8  # polyline points per cubic segment when rasterizing for color fitting
_SUPER = 2  # sub-samples per pixel side when fitting colors (3: 2x the time, +0.03 dB on fast)
_OVERHEAD = 0.1  # part of a full-size step's time that does not shrink with the size
_MIN_SIDE = 32  # smallest render side, pixels, a coarse stage runs at
_FINE_SHARE = 0.3  # part of a noisy refinement's budget spent at full size
_WINDOW = 4  # steps over which the PSNR gain is measured for early stopping
# Adam's moment decay. Without noise the gradient is exact and a short budget wants the
# moments to follow it quickly: on a 512 px photo at 1000 paths, 12 steps at (0.7, 0.99)
# reach 0.4 dB more than at the usual (0.9, 0.999), as much as 5 more steps would. Under
# noise each step sees a fresh draw, which the slower averaging smooths.
_BETAS_EXACT = (0.7, 0.99)
_BETAS_NOISY = (0.9, 0.999)
# Adam's step on the points, pixels. Under noise a step follows one draw's gradient:
# `detailed` on astronaut, clean / under 2 px noise / drop, dB: 0.4 px 25.15 / 22.89 /
# 2.26, 0.25 px 25.46 / 22.95 / 2.51, 0.2 px 25.69 / 22.98 / 2.71 (5ada1be: 26.17 /
# 23.53 / 2.63). 0.25 gains most without a larger drop than before.
# Without noise a larger step gets further in a short budget: `balanced` at 0.55 px
# reached 0.10 and 0.06 dB more than at 0.4 on astronaut and coffee (0.7: 0.04, 0.01).
_LR_EXACT = 0.55
_LR_NOISY = 0.25


def top_path_map(scene: Scene, height: int, width: int, supersample: int = 1) -> np.ndarray:
    """(H*s, W*s) int32: the topmost path at each sub-pixel sample, -1 for none.

    Even-odd fill, no antialiasing, ``s = supersample`` samples per pixel side;
    paths are polygonized at 8 points per segment.
    """
    s = supersample
    owner = np.full((height * s, width * s), -1, np.int32)
    points = scene.points.detach().cpu().numpy().astype(np.float64)
    sizes = scene.contour_sizes.cpu().numpy()
    paths = scene.contour_path.cpu().numpy()
    t = np.linspace(0, 1, _SAMPLES, endpoint=False)[:, None]
    w = np.stack([(1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t**2, t**3], 0)  # (4, S, 1)
    # Every segment of every contour at once: p0, a, b and the next segment's p0.
    c = points.reshape(-1, 3, 2)
    segs = sizes // 3
    first = np.cumsum(segs) - segs
    contour = np.repeat(np.arange(len(segs)), segs)
    local = np.arange(len(c)) - first[contour]
    p3 = c[first[contour] + (local + 1) % np.maximum(segs[contour], 1), 0]
    curve = (
        w[0] * c[:, None, 0] + w[1] * c[:, None, 1] + w[2] * c[:, None, 2] + w[3] * p3[:, None]
    )  # (segments, S, 2)
    # cv2 puts pixel centers on integer coordinates; ours are at +0.5.
    fixed = np.round((curve * s - 0.5) * 16).astype(np.int32)
    polys: dict[int, list[np.ndarray]] = {}
    for k, (a, n) in enumerate(zip(first, segs, strict=True)):
        polys.setdefault(int(paths[k]), []).append(fixed[a : a + n].reshape(-1, 2))
    for path in range(scene.num_paths):
        if path in polys:
            cv2.fillPoly(owner, polys[path], int(path), lineType=cv2.LINE_8, shift=4)
    return owner


def refit_colors(scene: Scene, rgb: np.ndarray, keep: int = 0) -> Scene:
    """Set every fill to the mean of the input pixels where its path is on top.

    Args:
        scene: the stack; alpha of the fills is kept.
        rgb: (H, W, 3) float in [0, 1], the input at the scene's size.
        keep: paths ``0..keep-1`` are kept even when nothing of them shows.

    Returns:
        A new scene without the paths that show no pixel.
    """
    h, w = rgb.shape[:2]
    owner = top_path_map(scene, h, w, _SUPER)
    # Each sub-sample carries the color of the pixel it lies in.
    pixel = (np.arange(h)[:, None] * w + np.arange(w)[None, :]).repeat(_SUPER, 0).repeat(_SUPER, 1)
    valid = owner >= 0
    own, pix = owner[valid], pixel[valid]
    n = scene.num_paths
    count = np.bincount(own, minlength=n)
    colors = scene.colors.detach().clone()
    flat = rgb.reshape(-1, 3)
    for c in range(3):
        s = np.bincount(own, flat[pix, c], minlength=n)
        mean = torch.as_tensor(s / np.maximum(count, 1), dtype=colors.dtype)
        colors[:, c] = torch.where(torch.as_tensor(count > 0), mean, colors[:, c])
    out = scene.clone()
    out.colors = colors
    shown = (count > 0) | (np.arange(n) < keep)
    return out if shown.all() else out.subset(np.nonzero(shown)[0])


@dataclass(frozen=True)
class Stage:
    """Up to ``steps`` Adam steps with the scene rendered at ``scale`` times its size."""

    scale: float
    steps: int


def step_cost(scale: float) -> float:
    """Time of one step rendered at ``scale``, in full-size steps.

    About a tenth of a step does not shrink with the pixel count (flattening the
    curves, per-path bookkeeping); measured on 512 px photos at 1000 and 3000 paths.
    """
    return _OVERHEAD + (1 - _OVERHEAD) * scale * scale


def plan(iters: int, sigma: float, width: int, height: int) -> tuple[Stage, ...]:
    """The stages of a refinement worth ``iters`` full-size steps.

    Without noise every step runs at full size: the gain is sub-pixel (edges placed
    inside their pixels), which a smaller render cannot see. Under ``sigma`` px of
    point noise the objective is blurred by that much anyway, so most of the budget
    goes to steps at ``1 / sigma`` of the size (at least 1/4 and a 32 px side), and
    the rest to full size.
    """
    if iters <= 0:
        return ()
    scale = min(1.0, max(1.0 / max(sigma, 1.0), 0.25, _MIN_SIDE / max(min(width, height), 1)))
    if scale >= 1.0:
        return (Stage(1.0, iters),)
    fine = max(1, round(iters * _FINE_SHARE))
    coarse = max(1, round((iters - fine) / step_cost(scale)))
    return (Stage(scale, coarse), Stage(1.0, fine))


def refine(
    scene: Scene,
    rgb: np.ndarray,
    opaque: np.ndarray,
    iters: int,
    seed: int = 0,
    lr_points: float | None = None,
    lr_colors: float = 0.01,
    sigma: float = 0.0,
    progress: bool = False,
    stages: Sequence[Stage] | None = None,
    flat: float = 0.02,
    threads: int = 1,
) -> Scene:
    """Adam on points and fills to lower the MSE between ``render(scene)`` and ``rgb``.

    The error is taken on premultiplied RGBA, so that where ``opaque`` is False the
    target is "nothing painted" and paths are not pulled into transparent areas.
    Steps run coarse to fine (see :func:`plan`), each stage against the input
    area-averaged to its size, and a stage ends early once its PSNR gains less than
    ``flat`` dB per full-size step's worth of time (under noise: its PSNR averaged
    over windows of steps).

    With ``sigma > 0`` every step renders the points plus fresh Gaussian noise of
    ``sigma`` pixels (the gradient still reaches the clean points): the scene then
    minimizes E[MSE] under moved control points, trading clean PSNR for PSNR
    after an edit moves the points.

    Args:
        scene: the stack to refine (not modified).
        rgb: (H, W, 3) float in [0, 1], the target at the scene's size.
        opaque: (H, W) bool, the pixels that should be painted.
        iters: the budget, in full-size steps (a step at half size counts about a
            third of one); 0 returns a copy.
        seed: seeds the noise draws (used only with ``sigma``); the same input and
            seed always give the same output.
        lr_points, lr_colors: Adam step sizes, canvas pixels and color units
            (``lr_points`` by default 0.55 without noise, 0.25 with ``sigma``).
        sigma: control point noise, pixels, the result should tolerate (0: none).
        progress: show the steps on stderr.
        stages: run these instead of ``plan(iters, sigma, W, H)``.
        flat: early-stopping threshold, dB per full-size step (0: never stop early);
            with ``sigma``, on the means of windows of steps (each step sees a
            fresh noise draw).
        threads: more than one renders each step in that many bands, one thread
            each (see :mod:`~vectorize.bands`; faster on idle cores, not on busy ones).

    Returns:
        A new scene with refined points and fills (alpha unchanged).
    """
    if not sigma >= 0:
        raise ClipvgError(f"refinement noise sigma must be >= 0 pixels, got {sigma}")
    out = scene.clone()
    h, w = rgb.shape[:2]
    stages = tuple(plan(iters, sigma, w, h) if stages is None else stages)
    if not stages:
        return out
    # A stream of its own, so that refinement noise never replays a user's draw.
    gen = torch.Generator(device=out.device).manual_seed(int(seed) * 7919 + 104729)
    alpha = out.colors[:, 3:].clone()
    # A vectorized scene is flat fills only: its points and fill colours are all there is to fit.
    shapes, fills = [out.points.requires_grad_(True)], [out.colors.requires_grad_(True)]
    if lr_points is None:
        lr_points = _LR_NOISY if sigma > 0 else _LR_EXACT
    lrs = [lr_points] * len(shapes) + [lr_colors] * len(fills)
    adam = _Adam(shapes + fills, lrs, _BETAS_NOISY if sigma > 0 else _BETAS_EXACT)
    cover = opaque.astype(np.float32)[..., None]
    full = np.concatenate([rgb.astype(np.float32) * cover, cover], -1)
    # Under noise each step's PSNR is that of a fresh draw, which hides the trend over a
    # few steps: `detailed` stopped its coarse stage after 12 of 34 steps on astronaut.
    # Means over windows see it: 2 px noise drop 2.43 dB on astronaut (2.51 stopping on
    # single steps), 1.99 on coffee (2.24).
    stopped = _flattened_mean if sigma > 0 else _flattened
    total = sum(s.steps for s in stages)
    with (
        BandedLoss(_drawn(out, h, w, sigma), threads) as loss_and_grad,
        bar(total, "refining", progress) as steps,
        one_torch_thread(),
    ):
        for stage in stages:
            sw, sh = max(1, round(w * stage.scale)), max(1, round(h * stage.scale))
            target = full
            if (sw, sh) != (w, h):
                target = cv2.resize(full, (sw, sh), interpolation=cv2.INTER_AREA).reshape(sh, sw, 4)
            target = torch.as_tensor(target, device=out.device)
            gains = []
            for i in range(stage.steps):
                noise = None
                if sigma > 0:
                    noise = torch.randn(out.points.shape, generator=gen, device=out.device)
                    noise = sigma * noise.to(out.points.dtype)
                loss, grads = loss_and_grad(out.points, out.colors, target, noise)
                adam.step(grads)
                with torch.no_grad():
                    out.colors.clamp_(0, 1)
                    out.colors[:, 3:] = alpha
                steps.update(1)
                gains.append(-10 * math.log10(max(float(loss), 1e-12)))
                if stopped(gains, flat * step_cost(stage.scale)):
                    steps.update(stage.steps - i - 1)
                    break
    return out.clone()


def _flattened(psnr: list[float], per_step: float) -> bool:
    """Whether the last :data:`_WINDOW` steps gained less than ``per_step`` dB each."""
    k = _WINDOW
    return per_step > 0 and len(psnr) > k and psnr[-1] - psnr[-1 - k] < k * per_step


def _flattened_mean(psnr: list[float], per_step: float) -> bool:
    """Whether the mean PSNR of the last :data:`_WINDOW` steps is less than
    ``per_step`` dB a step above the mean of the window before."""
    k = _WINDOW
    if per_step <= 0 or len(psnr) < 2 * k:
        return False
    return (sum(psnr[-k:]) - sum(psnr[-2 * k : -k])) / k < k * per_step


def _drawn(scene: Scene, height: int, width: int, sigma: float):
    """``f(points, colors) -> Scene``: what each step renders.

    Without noise, paths that show no pixel (the base under a complete first round)
    are left out: they cannot change the render, and the base alone is a whole
    canvas of cells. Under noise they show through where the others move apart.
    """
    keep = np.arange(scene.num_paths)
    if sigma == 0:
        top = top_path_map(scene, height, width)
        keep = np.unique(top[top >= 0])
    if len(keep) == scene.num_paths:
        return lambda points, colors: dataclasses.replace(scene, points=points, colors=colors)
    part = scene.subset(keep)
    mask = np.zeros(scene.num_paths, bool)
    mask[keep] = True
    point_keep = torch.repeat_interleave(
        torch.as_tensor(mask, device=scene.device)[scene.contour_path], scene.contour_sizes
    )
    rows, fills = point_keep.nonzero().squeeze(1), torch.as_tensor(keep, device=scene.device)
    return lambda points, colors: dataclasses.replace(
        part, points=points.index_select(0, rows), colors=colors.index_select(0, fills)
    )


class _Adam:
    """Adam (Kingma & Ba) over a few tensors, updated in place, one step size each.

    ``torch.optim.Adam`` would do, but its first use imports ``torch._dynamo``:
    about 2 s of CPU, as long as three full-size steps.
    """

    def __init__(self, params: list[torch.Tensor], lrs: list[float], betas=(0.9, 0.999)):
        self.params, self.lrs, self.betas = params, lrs, betas
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]
        self.t = 0

    @torch.no_grad()
    def step(self, grads: Sequence[torch.Tensor]) -> None:
        self.t += 1
        b1, b2 = self.betas
        c1, c2 = 1 - b1**self.t, 1 - b2**self.t
        for p, g, m, v, lr in zip(self.params, grads, self.m, self.v, self.lrs, strict=True):
            m.mul_(b1).add_(g, alpha=1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            p.addcdiv_(m, (v / c2).sqrt_().add_(1e-8), value=-lr / c1)

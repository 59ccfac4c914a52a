"""Raster image -> layered Scene of filled cubic paths, round by round.

Round 1 segments the picture coarsely and covers all of it (over a full-canvas base
path); every later round segments it finer and adds only the regions that improve
on what is already shown. ``regions`` add a finer round limited to a box. Rounds
are painted coarse to fine, each in its own ``<g id="round-N">``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch

from clipvg.errors import ClipvgError
from clipvg.progress import StageClock, bar
from clipvg.scene import PathInfo, Scene

from . import image_io
from .edges import place_borders
from .refine import refine as refine_scene
from .refine import refit_colors
from .segment import oversegment, ward_levels
from .stack import Layer, paint_order, region_means, select_gains, stack_masks, top_index
from .trace import borders_to_polylines, find_borders, fit_contours, trace_mask


@dataclass(frozen=True)
class Preset:
    """Settings of one quality preset.

    ``rounds``: region count of each round's segmentation, coarse to fine;
    ``max_paths``: path budget of the whole stack; ``refine_iters``: the refinement's
    budget in full-resolution steps (see :func:`~vectorize.refine.plan`);
    ``tolerance``: curve fitting tolerance in pixels; ``dilate``: pixels a path
    reaches under the paths painted after it; ``min_gain``: smallest squared-error
    gain (summed over a region, RGB in [0, 1]) worth a path in a later round;
    ``jitter``: border displacement, pixels, that later-round regions must survive
    to be worth a path (see :func:`~vectorize.stack.select_gains`);
    ``region_share``: part of the budget left after round 1 kept for ``regions``;
    ``robust``: control point noise, pixels, the refinement makes the stack tolerate
    (see :func:`~vectorize.refine.refine`; only with ``refine_iters``);
    ``subpixel``: move traced borders to the sub-pixel edge (see :mod:`~vectorize.edges`).
    """

    rounds: tuple[int, ...]
    max_paths: int
    refine_iters: int
    tolerance: float = 0.5
    dilate: int = 2
    min_gain: float = 0.02
    region_share: float = 0.25
    jitter: float = 0.0
    robust: float = 0.0
    subpixel: bool = True


PRESETS: dict[str, Preset] = {
    "fast": Preset(rounds=(100, 400), max_paths=300, refine_iters=0, tolerance=0.8),
    # A tighter fit gives the refinement more points to place: at 0.2 px instead of
    # 0.5, 12 steps reach 0.3 dB more on a 512 px photo (1.9x the points, same step time).
    # Each step late in the budget adds 0.06-0.10 dB (astronaut, chelsea, coffee, rocket,
    # camera): 12 steps are 0.20 dB below 5ada1be's median, 13 were 0.14 dB, for 8 % more
    # time; 12 keep the web editor's photo within its 8 s.
    "balanced": Preset(rounds=(250, 1000, 2500), max_paths=1000, refine_iters=12, tolerance=0.2),
    "detailed": Preset(rounds=(700, 3000, 8000), max_paths=3000, refine_iters=16, robust=2.0),
}

_BASE_MARGIN = 16.0  # the base rectangle overhangs the canvas by this many pixels
_BLEED = 3.0  # paths that touch the canvas edge reach this far beyond it


def vectorize_image(
    image,
    *,
    preset: str = "balanced",
    rounds: Sequence[int] | None = None,
    max_paths: int | None = None,
    regions: Sequence[tuple[float, float, float, float]] = (),
    seed: int = 0,
    max_size: int = 512,
    refine: int | None = None,
    robust: float | None = None,
    progress: bool = False,
    threads: int = 1,
    timings: dict[str, float] | None = None,
) -> Scene:
    """Vectorize a raster image into a layered scene.

    Args:
        image: a file path (PNG, JPEG, WebP, ...), a PIL image, or an array
            (H, W[, 3|4]) uint8 in 0..255 or float in [0, 1].
        preset: ``"fast"`` (~300 paths, no refinement), ``"balanced"`` (~1000) or
            ``"detailed"`` (~3000; refined to tolerate moved control points).
        rounds: region count per round, coarse to fine (overrides the preset).
        max_paths: path budget of the whole stack (overrides the preset).
        regions: boxes ``(x, y, w, h)`` in input pixels; each adds a finer round
            over that box, grouped as ``round-region-K``.
        seed: seeds the noise of the noise-aware refinement (``detailed``); the
            same input, settings and seed always give the same scene (and the
            same SVG bytes).
        max_size: longer side, in pixels, the input is downscaled to (with a warning).
        refine: the refinement's budget in full-resolution steps (overrides the
            preset; 0 turns it off); it stops early once the PSNR stops rising.
        robust: control-point noise (px) the refinement makes the stack tolerate
            (overrides the preset; 0 fits the input as closely as possible).
        progress: show the stages (and the refinement's steps) on stderr.
        threads: more than one renders each refinement step in that many bands of
            the canvas, one thread each (see :mod:`~vectorize.bands`).
        timings: if given, filled with the seconds of each stage (``segment``,
            ``trace``, ``colors``, ``refine``).

    Returns:
        A :class:`~clipvg.scene.Scene` at the working size (the input scaled to
        ``max_size``), paths bottom to top, ``info[i].groups == ("round-N",)``.
    """
    settings = _settings(preset, rounds, max_paths, refine, robust)
    if max_size < 8:
        raise ClipvgError(f"--max-size must be at least 8 pixels, got {max_size}")
    raster = _load(image, max_size)
    rgb, opaque = raster.rgb, raster.opaque
    h, w = opaque.shape
    if not opaque.any():
        raise ClipvgError("the image is fully transparent; there is nothing to vectorize")
    boxes = [_scale_box(b, raster.scale, w, h) for b in regions]

    clock = StageClock(timings)
    with bar(3, "vectorizing", progress, unit="stage") as stages:
        stages.set_postfix_str("segmenting")
        layers = plan_layers(rgb, opaque, settings, boxes)
        clock.lap("segment")
        stages.update(1)
        stages.set_postfix_str("tracing")
        scene = trace_layers(layers, rgb, opaque, settings)
        clock.lap("trace")
        stages.update(1)
        stages.set_postfix_str("fitting colors")
        scene = refit_colors(scene, rgb, keep=1)
        clock.lap("colors")
        stages.update(1)
    if settings.refine_iters > 0:
        scene = refine_scene(
            scene,
            rgb,
            opaque,
            settings.refine_iters,
            seed=seed,
            sigma=settings.robust,
            progress=progress,
            threads=threads,
        )
        clock.lap("refine")
    return scene


def plan_layers(
    rgb: np.ndarray,
    opaque: np.ndarray,
    settings: Preset,
    boxes: Sequence[tuple[int, int, int, int]],
) -> list[Layer]:
    """Segment every round and choose its regions within the path budget.

    Returns the layers bottom first; the first is round 1, complete.
    """
    budget = settings.max_paths - 1  # the base path
    targets = [max(1, min(int(r), 10**6)) for r in settings.rounds]
    targets[0] = max(1, min(targets[0], budget))
    superpixels = oversegment(rgb, opaque)
    levels = ward_levels(rgb, superpixels, targets)

    layers = []
    first = levels[0]
    count, mean = region_means(rgb, first)
    # More separate parts than paths allowed: the smallest go (the base covers them).
    regions = np.argsort(-count, kind="stable")[: min(budget, int((count > 0).sum()))]
    layers.append(Layer("round-1", first, paint_order(first, np.sort(regions))))
    shown = _paint(np.where(opaque[..., None], rgb[opaque].mean(0), rgb), rgb, first, regions)
    left = budget - len(layers[0].regions)
    region_budget = int(left * settings.region_share) if boxes else 0
    later = levels[1:]
    for k, labels in enumerate(later):
        share = (left - region_budget) // (len(later) - k)
        chosen = select_gains(rgb, shown, labels, share, settings.min_gain, settings.jitter)
        layers.append(Layer(f"round-{k + 2}", labels, paint_order(labels, chosen)))
        shown = _paint(shown, rgb, labels, chosen)
        left -= len(chosen)
    finest = targets[-1] / max(int(opaque.sum()), 1)
    for k, (x0, y0, x1, y1) in enumerate(boxes):
        inside = np.full(opaque.shape, -1, np.int32)
        inside[y0:y1, x0:x1] = superpixels[y0:y1, x0:x1]
        if (inside < 0).all():
            continue
        inside = _relabel(inside)
        target = max(4, int(2 * finest * (inside >= 0).sum()))
        labels = ward_levels(rgb, inside, [target])[0]
        share = min(left, region_budget // (len(boxes) - k)) if region_budget else 0
        chosen = select_gains(rgb, shown, labels, share, settings.min_gain / 4)
        layers.append(Layer(f"round-region-{k + 1}", labels, paint_order(labels, chosen)))
        shown = _paint(shown, rgb, labels, chosen)
        left -= len(chosen)
        region_budget -= len(chosen)
    return layers


def trace_layers(
    layers: list[Layer], rgb: np.ndarray, opaque: np.ndarray, settings: Preset
) -> Scene:
    """Trace and fit every chosen region; one path each, over one base path."""
    h, w = opaque.shape
    borders: list[tuple[np.ndarray, bool]] = []
    owner: list[int] = []
    info: list[PathInfo] = []
    colors: list[np.ndarray] = []
    # Base: a rectangle overhanging the canvas, or the outline of the opaque pixels.
    base: list[np.ndarray] = []
    if opaque.all():
        m = _BASE_MARGIN
        base = [np.array([[-m, -m], [w + m, -m], [w + m, h + m], [-m, h + m]], float)]
    else:
        base = trace_mask(opaque.astype(np.uint8), canvas=(w, h), bleed=_BLEED)
    info.append(PathInfo("round-1-base", ("round-1",)))
    colors.append(rgb[opaque].mean(0))
    means = [region_means(rgb, layer.labels)[1] for layer in layers]
    top = top_index(layers)
    path_of = np.zeros(int(top.max()) + 2, np.int64)  # paint index -> path (base: 0)
    for index, (li, region, mask, origin) in enumerate(stack_masks(layers, settings.dilate)):
        found = find_borders(mask, origin)
        if not found:
            continue
        path = len(info)
        path_of[index] = path
        borders.extend(found)
        owner.extend([path] * len(found))
        info.append(PathInfo(f"{layers[li].name}-{region}", (layers[li].name,)))
        colors.append(means[li][region])
    polylines = base + borders_to_polylines(borders, canvas=(w, h), bleed=_BLEED)
    owner = [0] * len(base) + owner
    if settings.subpixel:
        top = np.where(opaque, path_of[top], -1)
        polylines = place_borders(polylines, owner, top, np.asarray(colors), rgb)
    chains = fit_contours(polylines, settings.tolerance)
    paths: list[list[torch.Tensor]] = [[] for _ in info]
    for chain, path in zip(chains, owner, strict=True):
        paths[path].append(torch.from_numpy(chain))
    rgba = np.concatenate(
        [np.asarray(colors, np.float32), np.ones((len(colors), 1), np.float32)], 1
    )
    return Scene.from_paths(
        w, h, paths, torch.from_numpy(rgba), evenodd=[False] * len(paths), info=info
    )


def _settings(preset: str, rounds, max_paths, refine, robust=None) -> Preset:
    if preset not in PRESETS:
        raise ClipvgError(f"unknown preset {preset!r}; use one of {', '.join(PRESETS)}")
    s = PRESETS[preset]
    if rounds is not None:
        rounds = tuple(int(r) for r in rounds)
        if not rounds or any(r < 1 for r in rounds):
            raise ClipvgError(f"--rounds needs one or more region counts >= 1, got {list(rounds)}")
        s = replace(s, rounds=rounds)
    if max_paths is not None:
        if max_paths < 2:
            raise ClipvgError(
                f"--max-paths must be at least 2 (a base and one region), got {max_paths}"
            )
        s = replace(s, max_paths=int(max_paths))
    if refine is not None:
        if refine < 0:
            raise ClipvgError(f"--refine-iters must be >= 0, got {refine}")
        s = replace(s, refine_iters=int(refine))
    if robust is not None:
        if not 0 <= robust <= 20:
            raise ClipvgError(f"--robust must be from 0 to 20 pixels, got {robust}")
        s = replace(s, robust=float(robust))
    return s


def _load(image, max_size: int) -> image_io.RasterInput:
    if isinstance(image, (str, os.PathLike)):
        return image_io.load_image(image, max_size)
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu().numpy()
    if isinstance(image, np.ndarray):
        return image_io.from_array(image, max_size)
    if hasattr(image, "convert") and hasattr(image, "size"):
        return image_io.from_pil(image, max_size)
    raise ClipvgError(
        f"cannot vectorize a {type(image).__name__}; pass a file path, PIL image or array"
    )


def _scale_box(box, scale: float, w: int, h: int) -> tuple[int, int, int, int]:
    if len(box) != 4 or not all(np.isfinite(box)) or box[2] <= 0 or box[3] <= 0:
        raise ClipvgError(f"a region is X Y W H, finite, with positive W and H, got {tuple(box)}")
    x, y, bw, bh = (float(v) * scale for v in box)
    x0, y0 = int(np.clip(np.floor(x), 0, w)), int(np.clip(np.floor(y), 0, h))
    x1, y1 = int(np.clip(np.ceil(x + bw), 0, w)), int(np.clip(np.ceil(y + bh), 0, h))
    if x1 <= x0 or y1 <= y0:
        raise ClipvgError(f"region {tuple(box)} lies outside the {w}x{h} image (after scaling)")
    return x0, y0, x1, y1


def _paint(
    shown: np.ndarray, rgb: np.ndarray, labels: np.ndarray, chosen: np.ndarray
) -> np.ndarray:
    """``shown`` with the regions ``chosen`` of ``labels`` painted in their mean colors."""
    if len(chosen) == 0:
        return shown
    _, mean = region_means(rgb, labels)
    pick = np.zeros(len(mean) + 1, bool)
    pick[chosen] = True
    hit = pick[labels] & (labels >= 0)
    out = shown.copy()
    out[hit] = mean[labels[hit]]
    return out


def _relabel(labels: np.ndarray) -> np.ndarray:
    """Renumber the labels >= 0 to 0..K-1, keeping -1."""
    out = np.full(labels.shape, -1, np.int32)
    valid = labels >= 0
    _, inv = np.unique(labels[valid], return_inverse=True)
    out[valid] = inv
    return out

"""The editing session: ROIs, the optimizer, snapshots, interrupt and resume.

One iteration::

    render(scene) --crops of every ROI, in chunks of batch_size--> CLIP (fwd + bwd per chunk,
        gradients summed into a detached copy of the render)
        --> one backward through the renderer (+ background term)
        --> Adam step --> clamp colors --> restore frozen paths (edit-only)

Every crop's loss ``1 - cos(dI, dT)`` needs the features of the initial render as the
origin of dI (``source_features``):

- ``pool`` (default): at the start each ROI draws a pool of ``POOL_FACTOR`` times its
  crops per iteration (warps of the whole-ROI crop and of the patches), and encodes
  the initial render under them once; every iteration draws its warps from the pool,
  so the same warp is still applied to the current and the initial render (the
  augmentation's own change cancels out of dI) at the cost of one CLIP pass per
  iteration. The pool is re-drawn from the seed on resume (same draws, same features).
- ``whole``: the initial ROI encoded once, unaugmented (published CLIPVG); the
  iteration's warps are drawn freshly.
- ``paired``: the initial render under this iteration's own fresh warps, encoded
  every iteration without gradient (a second CLIP forward per iteration).

Local edits (see :mod:`roi.mask`): the extra ROIs' soft masks at the render size
make up the *region*. ``edit_only`` (see :mod:`roi.split`) edits the paths whose curves
lie on the *allowed* pixels (the region grown by the feather width); a path crossing
the region's edge stays frozen and gets an editable copy clipped to the region, right
above it. Frozen paths get no gradient and are copied back after every step, so they
stay bit-identical (and are written with exact digits); a step that moves an edited
curve off the allowed pixels is undone for that curve. ``preserve_background``
adds ``W * S * (MSE + perceptual)`` between the current and the initial render
weighted by ``1 - feather(region)``, where ``S = (sum of all ROI weights) / 1e-3``: with
W = 1 a background change of 30 dB PSNR costs as much as every ROI term fully
misaligned, whatever the ROI weights are; the perceptual part is the LPIPS-style distance of the CLIP
visual tower's middle-block features of both renders with the region painted white
(:meth:`clipvg.clip.OpenClipEncoder.intermediate_features`). Encoders without
intermediate features (plugged-in ones) get a pixel-space proxy instead: the weighted
MSE of image gradients (:func:`clipvg.losses.gradient_distance`).

Exemplar prompts: an ROI with an ``image`` (``--prompt-image`` for ROI 0) aims at
``normalize(E_I(reference)) - normalize(E_I(source region))`` instead of a text
direction; the source region is the ROI's whole crop of the initial render.

All ROIs' crops (whole-ROI crop + patches) count in one Adam step, but go through CLIP
in chunks of ``batch_size``: each chunk's graph is freed after its backward, so peak
memory does not grow with the number of ROIs. CLIP runs under ``precision`` (bf16
autocast where faster, see :func:`clipvg.clip.clip_dtype`); the renderer stays fp32.

Output folder layout::

    final.svg, final.png     when the run finishes
    latest.svg               at every snapshot and on Ctrl-C
    initial.svg              the scene as it started (vectorized, for raster inputs)
    snapshots/iter_NNNN.svg|png
    checkpoint.pt            scene, initial scene, Adam state, RNG state, history (resume)
    run.json                 settings, seed, versions, per-iteration losses, timings
    candidates/rank-R-seed-S/   with --candidates K: each seed's own folder, best first,
    ranking.json                and the scores (final.svg is then a copy of the best)
"""

from __future__ import annotations

import json
import math
import platform
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from roi import ROI, build_rois, keep_weights, paths_overlapping, union_mask
from roi.split import (
    allowed_mask,
    is_region_copy,
    region_outline,
    segment_index,
    segments_leaving,
    split_partial,
)

from .augment import Warps, apply_grid, cat_warps, sample_warps, warp_grid
from .clip import (
    Encoder,
    TextFeatureCache,
    clip_autocast,
    clip_dtype,
    load_clip,
    resolve_device,
)
from .config import EditSettings
from .errors import ClipvgError
from .io import RASTER_SUFFIXES, atomic_path, check_outside, require_file, write_png, write_text
from .losses import (
    directional_loss,
    feature_distance,
    gradient_distance,
    keep_composite,
    masked_mse,
    text_direction,
    widen,
)
from .metrics import read_rgb, roi_crops, square_image
from .progress import bar as progress_bar
from .scene import PathInfo, Scene

CHECKPOINT = "checkpoint.pt"
RUN_RECORD = "run.json"
#: Background MSE that costs as much as all ROI terms at W = 1 (30 dB PSNR).
BACKGROUND_MSE = 1e-3
#: ``source_features="pool"``: warps per ROI drawn at the start, in iterations' worth.
POOL_FACTOR = 8

#: Called after every iteration with (session, iteration, record); may raise KeyboardInterrupt.
Callback = Callable[["EditSession", int, dict], None]


@dataclass
class StepRecord:
    """What one iteration produced (all plain floats, for run.json)."""

    iter: int
    loss: float
    rois: list[float]
    seconds: float
    background: float | None = None  # weighted background term (preserve_background > 0)

    def to_dict(self) -> dict[str, Any]:
        out = {"iter": self.iter, "loss": self.loss, "rois": self.rois, "seconds": self.seconds}
        if self.background is not None:
            out["background"] = self.background
        return out


def scene_state(scene: Scene) -> dict[str, Any]:
    """A Scene as plain tensors and lists (safe for ``torch.load(weights_only=True)``)."""
    return {
        "width": float(scene.width),
        "height": float(scene.height),
        "points": scene.points.detach().cpu().clone(),
        "colors": scene.colors.detach().cpu().clone(),
        "contour_sizes": scene.contour_sizes.cpu().clone(),
        "contour_path": scene.contour_path.cpu().clone(),
        "evenodd": scene.evenodd.cpu().clone(),
        "info": [[p.id, list(p.groups)] for p in scene.info],
    }


def scene_from_state(state: dict[str, Any]) -> Scene:
    """Inverse of :func:`scene_state`."""
    return Scene(
        width=state["width"],
        height=state["height"],
        points=state["points"].clone(),
        colors=state["colors"].clone(),
        contour_sizes=state["contour_sizes"].clone(),
        contour_path=state["contour_path"].clone(),
        evenodd=state["evenodd"].clone(),
        info=[PathInfo(i, tuple(g)) for i, g in state["info"]],
    )


class EditSession:
    """Owns the scene being edited, its ROIs, the optimizer and the RNG.

    Args:
        scene: the scene to edit (moved to ``device``; edited in place, except that
            ``edit_only`` may replace it with a copy holding clipped paths: use
            ``session.scene``).
        settings: the run's settings (ROIs are built and checked against the canvas).
        encoder: CLIP behind :class:`clipvg.clip.Encoder`, shared by all ROIs.
        device: where rendering and optimization happen.
        initial: the reference scene (defaults to a copy of ``scene``); features of its
            render are the origin of every image direction (``settings.source_features``).
        render: the differentiable renderer (``clipvg.render``), pluggable for tests
            (e.g. ``lambda s: clipvg.render(s, 256)`` to optimize at a smaller size).
        texts: a text-feature cache to share between sessions (candidates).

    Attributes set up for local edits (render size (H, W)):
        region: (H, W) union of the extra ROIs' masks in [0, 1] (zeros without extras).
        keep: (H, W) background weight ``1 - feather(region)``.
        editable: (N,) bool paths being optimized with ``edit_only``, else None
            (N counts the clipped copies).
        targets: (R, D) unit target features per ROI (text, or reference image).
        clip_dtype: autocast dtype of CLIP's image passes (None: fp32).
    """

    def __init__(
        self,
        scene: Scene,
        settings: EditSettings,
        encoder: Encoder,
        device: torch.device | str = "cpu",
        initial: Scene | None = None,
        render: Callable[..., torch.Tensor] | None = None,
        texts: TextFeatureCache | None = None,
    ):
        if render is None:
            from .render import render as render_fn

            render = render_fn
        self.settings = settings
        self.encoder = encoder
        self.device = torch.device(device)
        self.render = render
        self.scene = scene.to(self.device)
        self.initial = (initial if initial is not None else scene.clone()).to(self.device)
        if (self.initial.width, self.initial.height) != (scene.width, scene.height):
            raise ClipvgError(
                "the initial scene and the scene being edited have different canvases"
            )
        self.rois: list[ROI] = build_rois(
            scene.width,
            scene.height,
            settings.prompt,
            settings.rois,
            prompt_image=settings.prompt_image,
            **settings.roi_defaults(),
        )
        self.generator = torch.Generator().manual_seed(settings.seed)
        self.clip_dtype = clip_dtype(settings.precision, self.device)
        self.iteration = 0
        self.history: list[StepRecord] = []
        with torch.no_grad():
            self.initial_image = self._render(self.initial)
        self.targets, self.directions = self._directions(texts or TextFeatureCache(encoder))
        self._setup_local()
        self._setup_sources()
        self.optimizer = self._make_optimizer()

    # ---- setup ----------------------------------------------------------------------
    def _directions(self, texts: TextFeatureCache) -> tuple[torch.Tensor, torch.Tensor]:
        """(R, D) unit targets and (R, D) unit directions: text, or exemplar image."""
        hw = tuple(self.initial_image.shape[:2])
        sx, sy = hw[1] / self.scene.width, hw[0] / self.scene.height
        size = self.encoder.image_size
        targets, directions = [], []
        for i, roi in enumerate(self.rois):
            if roi.image is None:
                target = texts.features(roi.prompt)
                source = texts.features(self.settings.source_prompt)
                targets.append(target)
                directions.append(text_direction(target, source))
                continue
            with torch.no_grad():
                ref = square_image(read_rgb(roi.image).to(self.device), size)
                src = roi_crops(self.initial_image, [roi.scaled(sx, sy).box], size)
                feats = F.normalize(
                    self.encoder.encode_image(torch.cat([ref, src])).float(), dim=-1
                )
            d = feats[0] - feats[1]
            if float(d.norm()) < 1e-6:
                raise ClipvgError(
                    f"ROI {i}: the exemplar {roi.image} encodes exactly like the source region; "
                    "pick a reference that differs from it"
                )
            targets.append(feats[0])
            directions.append(F.normalize(d, dim=-1))
        return (
            torch.stack([t.to(self.device) for t in targets]),
            torch.stack([d.to(self.device) for d in directions]),
        )

    def _setup_local(self) -> None:
        """Masks at the render size, the editable paths, the background reference."""
        s = self.settings
        hw = tuple(self.initial_image.shape[:2])
        extra = self.rois[1:]
        canvas = (self.scene.width, self.scene.height)
        self.region = union_mask(extra, canvas, hw, self.device)
        self.keep = keep_weights(self.region, s.feather * hw[1] / self.scene.width)
        self.editable: torch.Tensor | None = None
        self._allowed: torch.Tensor | None = None
        if s.edit_only:
            if not extra:
                raise ClipvgError(
                    "--edit-only needs at least one --roi / --roi-polygon / --roi-mask region "
                    "(ROI 0, the whole image, does not count)"
                )
            self._confine(extra, hw)
        if s.freeze:
            self._freeze(s.freeze)
        self._perceptual_ref: torch.Tensor | None = None
        if s.preserve_background > 0 and hasattr(self.encoder, "intermediate_features"):
            with torch.no_grad():
                self._perceptual_ref = self.encoder.intermediate_features(
                    keep_composite(self.initial_image, self.keep)
                )

    def _confine(self, extra: list[ROI], hw: tuple[int, int]) -> None:
        """``edit_only``: split partial paths, freeze the rest, bound the edited curves.

        Paths whose curves lie within the allowed pixels (the region grown by the feather
        width, :func:`roi.split.allowed_mask`) are edited in place; paths that overlap the
        region only partly stay as they are (frozen) and get an editable copy clipped to
        the region (:func:`roi.split.split_partial`), in both the scene and ``initial``.
        """
        canvas = (self.scene.width, self.scene.height)
        self._scale = (hw[1] / canvas[0], hw[0] / canvas[1])
        self._radius = math.floor(self.settings.feather * self._scale[0] + 1e-6)
        self._allowed = allowed_mask(self.region, self._radius)
        touching = paths_overlapping(self.initial, self.region)
        if not bool(touching.any()):
            raise ClipvgError("--edit-only: no path overlaps the ROIs; check their coordinates")
        partial = touching & ~self._paths_within(self.initial, touching)
        if bool(partial.any()):
            outline = region_outline(extra, canvas, hw)
            initial, is_copy = split_partial(self.initial, partial, outline)
            if initial is not self.initial:
                scene, _ = split_partial(self.scene, partial, outline)
                if not torch.equal(scene.contour_sizes, initial.contour_sizes):
                    raise ClipvgError(
                        "--edit-only: the scene and its initial state differ where they meet "
                        "the ROIs; start a new run instead of resuming"
                    )
                self.scene, self.initial = scene, initial
                with torch.no_grad():
                    self.initial_image = self._render(self.initial)
        else:
            is_copy = torch.tensor([is_region_copy(p.id) for p in self.initial.info])
        touching = paths_overlapping(self.initial, self.region)
        self._set_editable(is_copy.to(self.device) | self._paths_within(self.initial, touching))

    def _freeze(self, ids: list[str]) -> None:
        """``freeze``: paths with these ids, or inside groups with these ids, stay as they are
        (region copies of a frozen path are in its groups, so they freeze with it)."""
        wanted = set(ids)
        locked = torch.tensor(
            [p.id in wanted or bool(wanted.intersection(p.groups)) for p in self.initial.info],
            dtype=torch.bool,
            device=self.device,
        )
        editable = ~locked if self.editable is None else self.editable & ~locked
        if not bool(editable.any()):
            raise ClipvgError("freeze: every path that could change is frozen; unfreeze a layer")
        self._set_editable(editable)

    def _set_editable(self, editable: torch.Tensor) -> None:
        """(N,) bool paths that change; the others get no gradient and are copied back."""
        self.editable = editable
        point_path = self.scene.path_point_index().to(self.device)
        self._frozen_points = ~editable[point_path]
        self._frozen_colors = ~editable
        self._frozen_values = (
            self.initial.points.detach()[self._frozen_points].clone(),
            self.initial.colors.detach()[self._frozen_colors].clone(),
        )
        self._segments = segment_index(self.scene, editable)
        self._valid_points = self.scene.points.detach().clone()
        self._restore_frozen()

    def _paths_within(self, scene: Scene, paths: torch.Tensor) -> torch.Tensor:
        """(N,) bool: which of ``paths`` have every curve on allowed pixels."""
        seg = segment_index(scene, paths)
        bad = segments_leaving(scene.points, seg, self._allowed, self._scale, self._radius)
        owner = scene.path_point_index().to(seg.device)[seg[:, 0]]
        out = paths.to(self.device).clone()
        out[owner[bad]] = False
        return out

    def _mask_frozen_grads(self) -> None:
        """Zero the gradients of frozen points and colors (``edit_only``)."""
        if self.editable is None:
            return
        for tensor, frozen in (
            (self.scene.points, self._frozen_points),
            (self.scene.colors, self._frozen_colors),
        ):
            if tensor.grad is not None:
                tensor.grad[frozen] = 0

    def _setup_sources(self) -> None:
        """Reference features computed once: the warp pool's or the whole ROIs'.

        Drawn from ``self.generator`` right after seeding, so a resumed session (which
        restores the generator afterwards) re-derives the very same pool.
        """
        mode = self.settings.source_features
        hw = tuple(self.initial_image.shape[:2])
        self._pool: list[tuple[Warps, torch.Tensor]] = []
        self._whole_features: torch.Tensor | None = None
        if mode == "pool":
            for roi in self.rois:
                warps = self._roi_warps(roi, hw, POOL_FACTOR)
                self._pool.append((warps, self._reference_features(warps, hw)))
        elif mode == "whole":
            sx, sy = hw[1] / self.scene.width, hw[0] / self.scene.height
            boxes = [roi.scaled(sx, sy).box for roi in self.rois]
            crops = roi_crops(self.initial_image, boxes, self.encoder.image_size)
            with torch.no_grad(), clip_autocast(self.device, self.clip_dtype):
                self._whole_features = widen(self.encoder.encode_image(crops))

    def _reference_features(self, warps: Warps, hw: tuple[int, int]) -> torch.Tensor:
        """(B, D) features (float32, or the encoder's wider dtype) of the initial render under
        ``warps``, no gradient."""
        n = warps.boxes.shape[0]
        batch = self.settings.batch_size or max(n, 1)
        out = []
        for lo in range(0, n, batch):
            grid, inside = warp_grid(warps.take(slice(lo, lo + batch)), self.encoder.image_size, hw)
            crops = apply_grid(self.initial_image, grid, inside)
            with torch.no_grad(), clip_autocast(self.device, self.clip_dtype):
                out.append(widen(self.encoder.encode_image(crops)))
        return torch.cat(out)

    @property
    def exact_paths(self) -> torch.Tensor | None:
        """(N,) bool paths to write with exact digits (the frozen ones), or None."""
        return None if self.editable is None else ~self.editable.cpu()

    def _restore_frozen(self) -> None:
        """Copy the frozen values back; undo moves that take a curve off the allowed pixels."""
        with torch.no_grad():
            pts = self.scene.points
            pts[self._frozen_points] = self._frozen_values[0]
            self.scene.colors[self._frozen_colors] = self._frozen_values[1]
            if self._allowed is None:  # frozen paths only, no edit-only bounds
                return
            valid = self._valid_points
            # Undoing a segment moves its end points, which its neighbours share: repeat,
            # and after a few rounds undo the whole step.
            for round_ in range(6):
                seg = self._segments
                seg = seg[(pts[seg] != valid[seg]).flatten(1).any(1)]
                if round_ == 5:
                    idx = seg.flatten()
                    pts[idx] = valid[idx]
                    break
                bad = segments_leaving(pts, seg, self._allowed, self._scale, self._radius)
                if not bool(bad.any()):
                    break
                idx = seg[bad].flatten()
                pts[idx] = valid[idx]
            self._valid_points = pts.detach().clone()

    @property
    def background_scale(self) -> float:
        """S of the module docstring: sum of the ROI weights / BACKGROUND_MSE."""
        total = sum(r.weight + (r.patch_weight if r.patches else 0.0) for r in self.rois)
        return max(total, 1.0) / BACKGROUND_MSE

    def background_loss(self, image: torch.Tensor) -> torch.Tensor:
        """``MSE + perceptual`` between ``image`` and the initial render, weighted by
        ``keep`` (not yet multiplied by W or S). Scalar, differentiable."""
        mse = masked_mse(image, self.initial_image, self.keep)
        if self._perceptual_ref is not None:
            feats = self.encoder.intermediate_features(keep_composite(image, self.keep))
            return mse + feature_distance(feats, self._perceptual_ref)
        return mse + gradient_distance(image, self.initial_image, self.keep)

    def _make_optimizer(self) -> torch.optim.Adam:
        groups = []
        self.scene.points.requires_grad_(False)
        self.scene.colors.requires_grad_(False)
        if "shape" not in self.settings.lock:
            groups.append(
                {
                    "params": self.scene.shape_parameters(),
                    "lr": self.settings.shape_lr,
                    "name": "shape",
                }
            )
        if "color" not in self.settings.lock:
            groups.append(
                {
                    "params": self.scene.color_parameters(),
                    "lr": self.settings.color_lr,
                    "name": "color",
                }
            )
        return torch.optim.Adam(groups)

    def _render(self, scene: Scene) -> torch.Tensor:
        image = self.render(scene)
        if image.ndim != 3 or image.shape[2] != 3:
            raise ClipvgError(f"renderer returned {tuple(image.shape)}, expected (H, W, 3)")
        return image

    # ---- one iteration --------------------------------------------------------------
    def _roi_warps(self, roi: ROI, hw: tuple[int, int], k: int) -> Warps:
        """``k`` whole-ROI crop warps, then ``k * roi.patches`` patch warps (render pixels)."""
        s = self.settings
        box = roi.scaled(hw[1] / self.scene.width, hw[0] / self.scene.height).box
        whole = sample_warps(box, k, 1.0, 0.0, self.generator, min_ratio=s.whole_crop)
        patches = sample_warps(box, k * roi.patches, roi.crop_ratio, s.distortion, self.generator)
        return cat_warps([whole, patches])

    def _draw(self, hw: tuple[int, int]) -> tuple[Warps, torch.Tensor | None, list[int]]:
        """This iteration's warps of every crop of every ROI (whole-ROI crop first, then
        patches), their (B, D) reference features (None: ``paired``, computed per
        chunk), and the crop count per ROI."""
        mode = self.settings.source_features
        warps, refs, counts = [], [], []
        for i, roi in enumerate(self.rois):
            counts.append(1 + roi.patches)
            if mode == "pool":
                pool, feats = self._pool[i]
                whole = torch.randint(POOL_FACTOR, (1,), generator=self.generator)
                patches = torch.randperm(POOL_FACTOR * roi.patches, generator=self.generator)
                index = torch.cat([whole, POOL_FACTOR + patches[: roi.patches]])
                warps.append(pool.take(index))
                refs.append(feats[index.to(feats.device)])
                continue
            warps.append(self._roi_warps(roi, hw, 1))
            if self._whole_features is not None:
                refs.append(self._whole_features[i : i + 1].expand(counts[-1], -1))
        return cat_warps(warps), (torch.cat(refs) if refs else None), counts

    def _coefficients(self, counts: list[int]) -> torch.Tensor:
        """(B,) weight of each crop's loss: ``weight`` on the whole crop, ``patch_weight / n`` on each patch."""
        parts = []
        for roi, n in zip(self.rois, counts, strict=True):
            per_patch = roi.patch_weight / roi.patches if roi.patches else 0.0
            parts.append(torch.tensor([roi.weight] + [per_patch] * (n - 1)))
        return torch.cat(parts).to(self.device)

    def step(self) -> StepRecord:
        """Run one iteration: render, crop, encode, loss, backward, Adam step, clamp."""
        start = time.perf_counter()
        image = self._render(self.scene)
        hw = (image.shape[0], image.shape[1])
        if hw != tuple(self.initial_image.shape[:2]):
            raise ClipvgError("the render size changed during the run")
        warps, reference, counts = self._draw(hw)
        directions = torch.cat(
            [self.directions[i : i + 1].expand(n, -1) for i, n in enumerate(counts)]
        )
        coef = self._coefficients(counts)
        self.optimizer.zero_grad(set_to_none=True)
        # CLIP runs chunk by chunk on a detached copy of the render, each chunk's graph
        # freed by its backward; the summed gradient then goes through the renderer once.
        leaf = image.detach().requires_grad_(image.requires_grad)
        per_crop = self._clip_backward(leaf, warps, reference, directions, coef)
        roots, grads = [], []
        if leaf.grad is not None:
            roots.append(image)
            grads.append(leaf.grad)
        background = None
        if self.settings.preserve_background > 0:
            background = (
                self.settings.preserve_background
                * self.background_scale
                * self.background_loss(image)
            )
            if background.requires_grad:
                roots.append(background)
                grads.append(torch.ones_like(background))
        if roots:
            torch.autograd.backward(roots, grads)
        self._mask_frozen_grads()
        self.optimizer.step()
        if "color" not in self.settings.lock:
            with torch.no_grad():
                self.scene.colors.clamp_(0.0, 1.0)
        if self.editable is not None:
            self._restore_frozen()
        weighted = (coef * per_crop).split(counts)
        roi_losses = [float(w.sum()) for w in weighted]
        bg = float(background.detach()) if background is not None else None
        self.iteration += 1
        record = StepRecord(
            self.iteration,
            float(sum(roi_losses)) + (bg or 0.0),
            roi_losses,
            time.perf_counter() - start,
            bg,
        )
        self.history.append(record)
        return record

    def _clip_backward(
        self,
        image: torch.Tensor,
        warps: Warps,
        reference: torch.Tensor | None,
        directions: torch.Tensor,
        coef: torch.Tensor,
    ) -> torch.Tensor:
        """Weighted directional loss of every crop, backward chunk by chunk.

        Args:
            image: (H, W, 3) leaf render in [0, 1]; its ``.grad`` accumulates
                ``d sum(coef * loss) / d image`` over all chunks.
            warps: B crops; reference: (B, D) features of the initial render or None
                (encoded here under the same warps); directions: (B, D); coef: (B,).

        Returns:
            (B,) per-crop losses, detached.
        """
        n = warps.boxes.shape[0]
        batch = self.settings.batch_size or max(n, 1)
        size = self.encoder.image_size
        hw = (image.shape[0], image.shape[1])
        out = []
        for lo in range(0, n, batch):
            hi = min(lo + batch, n)
            grid, inside = warp_grid(warps.take(slice(lo, hi)), size, hw)
            crops = apply_grid(image, grid, inside)
            with clip_autocast(self.device, self.clip_dtype):
                current = self.encoder.encode_image(crops)
            if reference is None:
                source = apply_grid(self.initial_image, grid, inside)
                with torch.no_grad(), clip_autocast(self.device, self.clip_dtype):
                    ref = self.encoder.encode_image(source)
            else:
                ref = reference[lo:hi]
            losses = directional_loss(current, ref, directions[lo:hi])
            total = (coef[lo:hi] * losses).sum()
            if total.requires_grad:
                total.backward()
            out.append(losses.detach())
        return torch.cat(out)

    # ---- state ----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "iteration": self.iteration,
            "scene": scene_state(self.scene),
            "initial": scene_state(self.initial),
            "optimizer": self.optimizer.state_dict(),
            "lock": list(self.settings.lock),
            "generator": self.generator.get_state(),
            "history": [r.to_dict() for r in self.history],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from :meth:`state_dict` (scene values, RNG, history, optimizer if compatible)."""
        scene = scene_from_state(state["scene"])
        if (
            scene.points.shape != self.scene.points.shape
            or scene.colors.shape != self.scene.colors.shape
        ):
            raise ClipvgError("the checkpoint's scene does not match the session's scene")
        with torch.no_grad():
            self.scene.points.copy_(scene.points)
            self.scene.colors.copy_(scene.colors)
        if self.editable is not None:
            self._valid_points = self.scene.points.detach().clone()
        self.iteration = int(state["iteration"])
        self.generator.set_state(state["generator"])
        self.history = [StepRecord(**r) for r in state["history"]]
        if sorted(state.get("lock", [])) == sorted(self.settings.lock):
            self.optimizer.load_state_dict(state["optimizer"])
            for group, lr in zip(self.optimizer.param_groups, self._group_lrs(), strict=False):
                group["lr"] = lr

    def _group_lrs(self) -> list[float]:
        return [
            self.settings.shape_lr if g["name"] == "shape" else self.settings.color_lr
            for g in self.optimizer.param_groups
        ]


class RunFolder:
    """The output folder of one run: refuses to clobber, writes every file whole."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def prepare(
        self,
        overwrite: bool,
        resume: bool,
        input_path: str | None,
        reads: Sequence[str | None] = (),
    ) -> None:
        """Check the folder before any work: never write over what the run reads
        (``input_path`` and the other files in ``reads``), even with ``overwrite``."""
        if self.path.exists() and not self.path.is_dir():
            raise ClipvgError(f"output {self.path} exists and is not a folder")
        above = self.path.absolute().parent
        while not above.exists():
            above = above.parent
        if not above.is_dir():  # found before any work, not when the first file is written
            raise ClipvgError(f"cannot create output folder {self.path}: {above} is a file")
        check_outside(self.path, [input_path, *reads])
        if resume:
            if not (self.path / CHECKPOINT).is_file():
                raise ClipvgError(
                    f"--resume {self.path}: no {CHECKPOINT} there; it is not a clipvg edit folder"
                )
            return
        if self.path.is_dir() and any(self.path.iterdir()) and not overwrite:
            raise ClipvgError(
                f"output folder {self.path} is not empty; pass --overwrite or choose another -o"
            )
        # Nothing is created yet: files are written (creating the folder) only once
        # the input, the ROIs, CLIP and the prompts have all been checked.

    def file(self, name: str) -> Path:
        return self.path / name

    def write_scene(
        self,
        scene: Scene,
        name: str,
        render: Callable[..., torch.Tensor] | None = None,
        exact: torch.Tensor | None = None,
    ) -> None:
        """``name``.svg (and ``name``.png when ``render`` is given); ``exact``: (N,) bool
        paths written with digits that read back bit-identical."""
        from .svg import save_svg

        detached = scene.clone()
        save_svg(detached, self.file(name + ".svg"), exact=exact)
        if render is not None:
            with torch.no_grad():
                write_png(render(detached), self.file(name + ".png"))

    def write_checkpoint(self, state: dict[str, Any]) -> None:
        with atomic_path(self.file(CHECKPOINT)) as tmp:
            try:
                torch.save(state, tmp)
            except RuntimeError as exc:  # torch's writer reports a full disk this way
                raise OSError(str(exc).strip().splitlines()[0] or "write failed") from None

    def read_checkpoint(self) -> dict[str, Any]:
        try:
            return torch.load(self.file(CHECKPOINT), map_location="cpu", weights_only=True)
        except Exception as exc:
            raise ClipvgError(
                f"cannot read {self.file(CHECKPOINT)}: {type(exc).__name__}"
            ) from None

    def write_record(self, record: dict[str, Any]) -> None:
        write_text(json.dumps(record, indent=1), self.file(RUN_RECORD))


def package_versions() -> dict[str, str]:
    """Versions of the packages that decide the result."""
    import importlib.metadata as md

    out = {"python": platform.python_version(), "platform": platform.platform()}
    for name in (
        "clipvg",
        "torch",
        "torchvision",
        "open_clip_torch",
        "numpy",
        "pillow",
        "svgwrite",
        "fonttools",
    ):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = "not installed"
    return out


def input_file(settings: EditSettings) -> Path:
    """The run's input path, checked to exist."""
    if not settings.input:
        raise ClipvgError("no input given; pass an SVG or image path")
    return require_file(settings.input)


def load_input(settings: EditSettings, progress: bool = False) -> tuple[Scene, float]:
    """Load the input as a Scene: SVGs as they are, rasters through ``vectorize``.

    Returns:
        (scene, scale): ``scale`` maps input coordinates (ROI boxes) to canvas units
        (1 for SVGs; working size / image size for rasters).
    """
    from .svg import load_svg

    p = input_file(settings)
    path = str(p)
    if p.suffix.lower() not in RASTER_SUFFIXES:
        return load_svg(p), 1.0
    from .io import open_image

    try:
        with open_image(p, "input image") as im:
            width = im.size[0]
    except ClipvgError:
        raise
    except Exception:
        raise ClipvgError(f"cannot read {path} as an image") from None
    from vectorize import vectorize_image

    options = {k: v for k, v in settings.vectorize.items() if v is not None}
    scene = vectorize_image(str(p), seed=settings.seed, progress=progress, **options)
    return scene, scene.width / width


def scaled_rois(rois: list[dict[str, Any]], scale: float) -> list[dict[str, Any]]:
    """ROI specs with boxes and polygons multiplied by ``scale`` (input pixels -> canvas units).

    Mask images need no scaling: they are stretched over the whole canvas.
    """
    if scale == 1.0:
        return rois
    from roi import parse_polygon

    out = []
    for i, r in enumerate(rois, start=1):
        r = (
            dict(r)
            if isinstance(r, dict)
            else dict(zip(("x", "y", "w", "h", "prompt"), r, strict=False))
        )
        for k in ("x", "y", "w", "h"):
            if isinstance(r.get(k), (int, float)):
                r[k] = r[k] * scale
        if r.get("polygon") is not None:
            poly = parse_polygon(r["polygon"], f"ROI {i}")
            r["polygon"] = [[x * scale, y * scale] for x, y in poly]
        out.append(r)
    return out


def check_rois(settings: EditSettings, width: float, height: float) -> list[ROI]:
    """Build and validate the run's ROIs on a canvas (before any heavy work)."""
    return build_rois(
        width,
        height,
        settings.prompt,
        settings.rois,
        prompt_image=settings.prompt_image,
        **settings.roi_defaults(),
    )


@dataclass
class Prepared:
    """What a run loads once and every candidate shares."""

    scene: Scene
    initial: Scene
    encoder: Encoder
    device: torch.device
    state: dict[str, Any] | None


def prepare_run(
    settings: EditSettings,
    folder: RunFolder,
    resume: bool,
    encoder: Encoder | None,
    progress: bool = False,
) -> Prepared:
    """Load the input (vectorizing rasters), check the ROIs, load CLIP: once per run.

    ``folder`` must be prepared already; with ``resume`` the scene comes from its checkpoint.
    CLIP's random weights (``clip_pretrained="none"``) come from ``settings.seed``.
    """
    device = resolve_device(settings.device)
    state = None
    scene: Scene | None
    if resume:
        state = folder.read_checkpoint()
        scene = scene_from_state(state["scene"])
        initial = scene_from_state(state["initial"])
        check_rois(settings, scene.width, scene.height)
    else:
        if settings.input and Path(settings.input).suffix.lower() not in RASTER_SUFFIXES:
            scene, scale = load_input(settings)  # SVGs are cheap: check ROIs before loading CLIP
            check_rois(settings, scene.width, scene.height)
        else:
            scene = None
            input_file(settings)
    if encoder is None:
        encoder = load_clip(
            settings.clip_model,
            settings.clip_pretrained,
            settings.clip_weights,
            device,
            seed=settings.seed,
            progress=progress,
        )
    if scene is None:
        scene, scale = load_input(settings, progress)
        settings.rois = scaled_rois(settings.rois, scale)
    if not resume:
        initial = scene.clone()
    return Prepared(scene, initial, encoder, device, state)


def run_session(
    session: EditSession,
    folder: RunFolder,
    *,
    setup_s: float,
    write_initial: bool,
    callback: Callback | None = None,
    progress: bool = True,
) -> str:
    """Run one session's loop in its folder, writing run.json, checkpoint and SVGs."""
    t0 = time.perf_counter() - setup_s
    settings, encoder, scene = session.settings, session.encoder, session.scene
    exact = session.exact_paths
    if write_initial:
        folder.write_scene(session.initial, "initial", exact=exact)

    def record(status: str) -> dict[str, Any]:
        iters = [r.seconds for r in session.history]
        return {
            "command": "edit",
            "status": status,
            "iteration": session.iteration,
            "seed": settings.seed,
            "settings": settings.to_dict(),
            "rois": [r.to_dict() for r in session.rois],
            "device": str(session.device),
            "clip": getattr(encoder, "name", type(encoder).__name__),
            "clip_image_size": encoder.image_size,
            "canvas": [scene.width, scene.height],
            "num_paths": scene.num_paths,
            "editable_paths": None if session.editable is None else int(session.editable.sum()),
            "versions": package_versions(),
            "timings": {
                "setup_s": round(setup_s, 3),
                "total_s": round(time.perf_counter() - t0, 3),
                "mean_iter_s": round(sum(iters) / len(iters), 4) if iters else None,
                "torch_threads": torch.get_num_threads(),
            },
            "history": [r.to_dict() for r in session.history],
        }

    def save(status: str) -> None:
        # The record first, so a failure (full disk) never leaves a result without it;
        # "finished" only once final.* are whole ("saving" until then).
        folder.write_checkpoint(session.state_dict())
        folder.write_record(record("saving" if status == "finished" else status))
        folder.write_scene(session.scene, "latest", exact=exact)
        if status == "finished":
            folder.write_scene(session.scene, "final", session.render, exact=exact)
            folder.write_record(record(status))

    return run_loop(session, folder, callback=callback, progress=progress, save=save)


def run_edit(
    settings: EditSettings,
    outdir: str | Path,
    *,
    overwrite: bool = False,
    resume: bool = False,
    encoder: Encoder | None = None,
    callback: Callback | None = None,
    progress: bool = True,
) -> tuple[str, RunFolder, EditSession]:
    """Run (or resume) an edit end to end and write the output folder.

    With ``settings.candidates`` K > 1, runs K seeds sharing the loaded CLIP and the
    (vectorized) input, and ranks them (see :func:`clipvg.rank.run_candidates`); the
    returned session is the best candidate's.

    Returns:
        (status, folder, session): status is ``"finished"`` or ``"interrupted"``
        (Ctrl-C, or a ``callback`` raising KeyboardInterrupt): the latest SVG,
        checkpoint and run.json are written either way.
    """
    t0 = time.perf_counter()
    folder = RunFolder(outdir)
    has_target = (isinstance(settings.prompt, str) and settings.prompt.strip()) or (
        settings.prompt_image
    )
    if not resume and not has_target:
        raise ClipvgError("the prompt is empty; pass --prompt TEXT (or --prompt-image REF.png)")
    if resume and settings.candidates > 1:
        raise ClipvgError(
            "--resume continues one run; it does not work with --candidates "
            "(resume a candidate's own folder instead)"
        )
    folder.prepare(
        overwrite, resume, None if resume else settings.input, settings.reference_files()
    )
    prep = prepare_run(settings, folder, resume, encoder, progress)
    if settings.candidates > 1:
        from .rank import run_candidates

        return run_candidates(settings, folder, prep, t0=t0, callback=callback, progress=progress)
    session = EditSession(
        prep.scene,
        settings,
        prep.encoder,
        device=prep.device,
        initial=prep.initial,
        texts=TextFeatureCache(prep.encoder, progress=progress),
    )
    if prep.state is not None:
        session.load_state_dict(prep.state)
    status = run_session(
        session,
        folder,
        setup_s=time.perf_counter() - t0,
        write_initial=prep.state is None,
        callback=callback,
        progress=progress,
    )
    return status, folder, session


def run_loop(
    session: EditSession,
    folder: RunFolder,
    *,
    save: Callable[[str], None],
    callback: Callback | None = None,
    progress: bool = True,
) -> str:
    """Iterate up to ``settings.iters``, snapshotting; on Ctrl-C save and return "interrupted"."""
    s = session.settings
    bar = progress_bar(s.iters, "editing", progress, initial=min(session.iteration, s.iters))
    try:
        while session.iteration < s.iters:
            rec = session.step()
            bar.update(1)
            bar.set_postfix(loss=f"{rec.loss:.3f}")
            if s.save_every and session.iteration % s.save_every == 0:
                it = session.iteration
                folder.write_scene(
                    session.scene,
                    f"snapshots/iter_{it:04d}",
                    session.render,
                    exact=session.exact_paths,
                )
                save("running")
            if callback is not None:
                callback(session, session.iteration, rec.to_dict())
    except KeyboardInterrupt:
        bar.close()
        with held_interrupt():
            save("interrupted")
        return "interrupted"
    bar.close()
    try:
        with held_interrupt():
            save("finished")
    except KeyboardInterrupt:  # raised in the save itself (not the main thread, a callback)
        with held_interrupt():
            save("interrupted")
        return "interrupted"
    return "finished"


@contextmanager
def held_interrupt() -> Iterator[list[int]]:
    """Hold Ctrl-C while the run's files are written, so that they stay consistent
    (run.json never stays at "running"); a held Ctrl-C is dropped once they are whole,
    the run being saved by then. Only the main thread can hold signals; elsewhere the
    block runs as is.

    Yields:
        The signals held (empty when none came).
    """
    held: list[int] = []
    main = threading.current_thread() is threading.main_thread()
    if not main or signal.getsignal(signal.SIGINT) is None:  # None: a handler set outside Python
        yield held
        return

    def hold(signum, frame):
        if not held:
            print("Ctrl-C: finishing writing the run's files first", file=sys.stderr)
        held.append(signum)

    previous = signal.signal(signal.SIGINT, hold)
    try:
        yield held
    finally:
        signal.signal(signal.SIGINT, previous)

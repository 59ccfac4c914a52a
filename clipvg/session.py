"""The editing session: ROIs, the optimizer, the RNG; one iteration at a time.

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
make up the *region*; what ``edit_only`` and ``freeze`` leave editable, and how frozen
paths stay bit-identical (written with exact digits), is :mod:`clipvg.confine`.
``preserve_background`` adds ``W * S * (MSE + perceptual)`` between the current and the initial render
weighted by ``1 - feather(region)``, where ``S = (sum of all ROI weights) / 1e-3``: with
W = 1 a background change of 30 dB PSNR costs as much as every ROI term fully
misaligned, whatever the ROI weights are; the perceptual part is the LPIPS-style distance of the CLIP
visual tower's middle-block features of both renders with the region painted white
(:meth:`clipvg.clip.OpenClipEncoder.intermediate_features`). Encoders without
intermediate features (plugged-in ones) get a pixel-space proxy instead: the weighted
MSE of image gradients (:func:`clipvg.losses.gradient_distance`).

Each ROI's target and direction (text, or an exemplar image): :mod:`clipvg.targets`.

All ROIs' crops (whole-ROI crop + patches) count in one Adam step, but go through CLIP
in chunks of ``batch_size``: each chunk's graph is freed after its backward, so peak
memory does not grow with the number of ROIs. CLIP runs under ``precision`` (bf16
autocast where faster, see :func:`clipvg.clip.clip_dtype`); the renderer stays fp32.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from clipvg.roi import ROI, build_rois, keep_weights, union_mask

from .augment import Warps, apply_grid, cat_warps, sample_warps, warp_grid
from .clip import Encoder, TextFeatureCache, clip_autocast, clip_dtype
from .config import EditSettings
from .confine import confine
from .errors import ClipvgError
from .losses import (
    directional_loss,
    feature_distance,
    gradient_distance,
    keep_composite,
    masked_mse,
    widen,
)
from .metrics import roi_crops
from .scene import Scene
from .signals import held_signals
from .targets import roi_targets

#: Background MSE that costs as much as all ROI terms at W = 1 (30 dB PSNR).
BACKGROUND_MSE = 1e-3
#: ``source_features="pool"``: warps per ROI drawn at the start, in iterations' worth.
POOL_FACTOR = 8


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
    return scene.state()


def scene_from_state(state: dict[str, Any]) -> Scene:
    """Inverse of :func:`scene_state` (also reads fill-only checkpoints)."""
    return Scene.from_state(state)


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
        hold_edges: ``edit_only`` keeps the colours of the clipped copies (paths that
            cross the region's edge), so no copy can turn into a visible rectangle; False
            is the behaviour before issue 18 (for ``benchmarks/local_edit.py``'s table).

    Attributes set up for local edits (render size (H, W)):
        region: (H, W) union of the extra ROIs' masks in [0, 1] (zeros without extras).
        keep: (H, W) background weight ``1 - feather(region)``.
        confinement: the editable paths and frozen values (:class:`clipvg.confine.Confinement`),
            None when every path may change; ``editable`` is its (N,) bool paths
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
        hold_edges: bool = True,
    ):
        if render is None:
            from .render import render as render_fn

            render = render_fn
        self.settings = settings
        self.hold_edges = hold_edges
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
            self.initial_image = self.render_image(self.initial)
        self.targets, self.directions = roi_targets(
            self.rois,
            encoder,
            texts or TextFeatureCache(encoder),
            self.initial_image,
            (scene.width, scene.height),
            settings.source_prompt,
        )
        self._setup_local()
        self._setup_sources()
        self.optimizer = self._make_optimizer()

    # ---- setup ----------------------------------------------------------------------
    def _setup_local(self) -> None:
        """Masks at the render size, the editable paths, the background reference."""
        s = self.settings
        hw = tuple(self.initial_image.shape[:2])
        extra = self.rois[1:]
        canvas = (self.scene.width, self.scene.height)
        self.region = union_mask(extra, canvas, hw, self.device)
        self.keep = keep_weights(self.region, s.feather * hw[1] / self.scene.width)
        scene, initial, self.confinement = confine(
            self.scene,
            self.initial,
            extra,
            self.region,
            s.feather,
            s.edit_only,
            s.freeze,
            self.hold_edges,
        )
        if initial is not self.initial:  # edit-only copies of the paths crossing the edge
            self.scene, self.initial = scene, initial
            with torch.no_grad():
                self.initial_image = self.render_image(self.initial)
        self._perceptual_ref: torch.Tensor | None = None
        if s.preserve_background > 0 and hasattr(self.encoder, "intermediate_features"):
            with torch.no_grad():
                self._perceptual_ref = self.encoder.intermediate_features(
                    keep_composite(self.initial_image, self.keep)
                )

    @property
    def editable(self) -> torch.Tensor | None:
        """(N,) bool paths being optimized under ``edit_only`` or ``freeze``, else None."""
        return None if self.confinement is None else self.confinement.editable

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
        """(N,) bool paths to write with exact digits, or None: the frozen ones, and all of
        them under ``lock shape`` (their points then read back bit-identical)."""
        if "shape" in self.settings.lock:
            return torch.ones(self.scene.num_paths, dtype=torch.bool)
        return None if self.editable is None else ~self.editable.cpu()

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
        for p in self.scene.parameters():
            p.requires_grad_(False)
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

    def render_image(self, scene: Scene) -> torch.Tensor:
        """(H, W, 3) float render of ``scene`` in [0, 1], checked to be an RGB image."""
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
        """Run one iteration: render, crop, encode, loss, backward, Adam step, clamp.

        Interrupted (KeyboardInterrupt) before its Adam step, the iteration leaves no
        trace (the RNG is put back), so a checkpoint saved then resumes exactly; the
        Adam step and the counters are one block that a signal does not cut.
        """
        rng, done = self.generator.get_state(), self.iteration
        try:
            return self._step()
        except BaseException:
            if self.iteration == done:  # not committed: as if the step never began
                self.generator.set_state(rng)
                self.optimizer.zero_grad(set_to_none=True)
            raise

    def _step(self) -> StepRecord:
        start = time.perf_counter()
        image = self.render_image(self.scene)
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
        if self.confinement is not None:
            self.confinement.mask_grads(self.scene)
        weighted = (coef * per_crop).split(counts)
        roi_losses = [float(w.sum()) for w in weighted]
        bg = float(background.detach()) if background is not None else None
        with held_signals(redeliver=True):  # the commit: all of it or none of it
            self.optimizer.step()
            lock = self.settings.lock
            self.scene.project_(shape="shape" not in lock, color="color" not in lock)
            if self.confinement is not None:
                self.confinement.restore(self.scene)
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
        pairs = list(zip(self.scene.parameters(), scene.parameters(), strict=True))
        if any(dst.shape != src.shape for dst, src in pairs):
            raise ClipvgError("the checkpoint's scene does not match the session's scene")
        with torch.no_grad():
            for dst, src in pairs:
                dst.copy_(src)
        if self.confinement is not None:
            self.confinement.reset_points(self.scene)
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

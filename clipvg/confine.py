"""What a local edit may change: the paths ``edit_only`` and ``freeze`` leave editable.

``edit_only`` (see :mod:`roi.split`) edits the paths whose curves lie on the *allowed*
pixels (the region grown by the feather width); a path crossing the region's edge stays
frozen and gets an editable copy clipped to the region, right above it. ``freeze`` keeps
the paths it names (:mod:`clipvg.freeze`). Frozen paths get no gradient and are copied
back after every step, so they stay bit-identical; a step that moves an edited curve off
the allowed pixels is undone for that curve.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch

from clipvg.roi import ROI, paths_overlapping
from clipvg.roi.band import edge_band, pad_like, points_in_band
from clipvg.roi.split import (
    allowed_mask,
    is_region_copy,
    region_outline,
    segment_index,
    segment_reach,
    segments_leaving,
    split_partial,
    undo_leaving,
)

from .errors import Setting, SettingError
from .freeze import frozen_paths
from .scene import Scene


@dataclass(frozen=True)
class Bounds:
    """Where edited curves may go.

    Attributes:
        allowed: (h, w) bool pixels of the render an edited curve may cover.
        scale: (sx, sy) render pixels per canvas unit.
        radius: the feather width in render pixels (whole pixels).
    """

    allowed: torch.Tensor
    scale: tuple[float, float]
    radius: int

    def leaving(self, scene: Scene, points: torch.Tensor, seg: torch.Tensor) -> torch.Tensor:
        """(S,) bool: segments ``seg`` of ``scene`` whose curve or stroke, at ``points``,
        leaves the allowed pixels."""
        reach = segment_reach(scene, seg, self.scale)
        return segments_leaving(points, seg, self.allowed, self.scale, self.radius, margin=reach)

    def paths_within(self, scene: Scene, paths: torch.Tensor) -> torch.Tensor:
        """(N,) bool: which of ``paths`` ((N,) bool) have every curve on allowed pixels."""
        seg = segment_index(scene, paths)
        bad = self.leaving(scene, scene.points, seg)
        owner = scene.path_point_index().to(seg.device)[seg[:, 0]]
        out = paths.clone()
        out[owner[bad]] = False
        return out


class Confinement:
    """The editable paths of a scene, and the frozen values copied back after each step.

    Args:
        scene: the scene being edited; initial: its reference (the frozen values' source).
        editable: (N,) bool paths that change.
        bounds: where edited curves may go (``edit_only``), or None (``freeze`` alone).
        held: (N,) bool editable paths whose paint stays, or None.
        held_points: (P,) bool points that stay, or None (given with ``held``).
    """

    def __init__(
        self,
        scene: Scene,
        initial: Scene,
        editable: torch.Tensor,
        bounds: Bounds | None = None,
        held: torch.Tensor | None = None,
        held_points: torch.Tensor | None = None,
    ):
        self.editable = editable
        self.bounds = bounds
        self.held, self.held_points = held, held_points
        self.frozen = scene.frozen_masks(editable)  # one mask per scene.parameters()
        if held is not None:  # the paint entries of held paths stay as well
            paint = scene.frozen_masks(editable & ~held)
            n = len(self.frozen) - 4  # scene.parameters(): shape, then the 4 paint tensors
            self.frozen[n:] = [a | b for a, b in zip(self.frozen[n:], paint[n:])]
            self.frozen[0] = self.frozen[0] | held_points.to(self.frozen[0].device)
        self.values = [p.detach()[m].clone() for p, m in zip(initial.parameters(), self.frozen)]
        self.segments = segment_index(scene, editable)
        self.reset_points(scene)
        self.restore(scene)

    def reset_points(self, scene: Scene) -> None:
        """Take ``scene``'s points as the last valid ones (after loading a checkpoint)."""
        self.valid_points = scene.points.detach().clone()

    def mask_grads(self, scene: Scene) -> None:
        """Zero the gradients of frozen points and colours."""
        for tensor, frozen in zip(scene.parameters(), self.frozen):
            if tensor.grad is not None:
                tensor.grad[frozen] = 0

    def restore(self, scene: Scene) -> None:
        """Copy the frozen values back; undo moves that take a curve off the allowed pixels."""
        with torch.no_grad():
            for tensor, frozen, value in zip(scene.parameters(), self.frozen, self.values):
                tensor[frozen] = value
            if self.bounds is None:
                return
            bounds = self.bounds
            undo_leaving(
                scene.points,
                self.valid_points,
                self.segments,
                lambda p, s: bounds.leaving(scene, p, s),
            )
            self.reset_points(scene)


def confine(
    scene: Scene,
    initial: Scene,
    extra: list[ROI],
    region: torch.Tensor,
    feather: float,
    edit_only: bool,
    freeze: list[str],
    hold_edges: bool = True,
) -> tuple[Scene, Scene, Confinement | None]:
    """The confinement of an edit, and the scenes it edits.

    Paths whose curves lie within the allowed pixels (the region grown by the feather
    width, :func:`roi.split.allowed_mask`) are edited in place; under ``edit_only`` paths
    that overlap the region only partly stay as they are (frozen) and get an editable
    copy clipped to the region (:func:`roi.split.split_partial`), in both ``scene`` and
    ``initial``. ``hold_edges`` keeps the paint of those copies and the points in the band
    along the region's edge.

    Args:
        scene, initial: the scene being edited and its reference (same canvas).
        extra: the ROIs beyond the whole image; region: (h, w) their union mask in [0, 1]
            at the render size.
        feather: the feather width in canvas units.

    Returns:
        (scene, initial, confinement): the scenes are new objects when copies were made;
        the confinement is None when every path is editable.
    """
    editable: torch.Tensor | None = None
    bounds = held = held_points = None
    if edit_only:  # EditSettings checked that there are extra ROIs
        scene, initial, editable, bounds, held, held_points = _edit_only(
            scene, initial, extra, region, feather, hold_edges
        )
    if freeze:
        locked = frozen_paths(initial, freeze).to(region.device)
        editable = ~locked if editable is None else editable & ~locked
        if not bool(editable.any()):
            raise SettingError(
                "every path that could change is in ", Setting("freeze"), "; unfreeze a layer"
            )
    if editable is None:
        return scene, initial, None
    return scene, initial, Confinement(scene, initial, editable, bounds, held, held_points)


def _edit_only(
    scene: Scene,
    initial: Scene,
    extra: list[ROI],
    region: torch.Tensor,
    feather: float,
    hold_edges: bool,
) -> tuple[Scene, Scene, torch.Tensor, Bounds, torch.Tensor | None, torch.Tensor | None]:
    """:func:`confine` under ``edit_only``: scenes, editable paths, bounds, held paths
    and points."""
    canvas = (scene.width, scene.height)
    hw = tuple(region.shape[:2])
    scale = (hw[1] / canvas[0], hw[0] / canvas[1])
    radius = math.floor(feather * scale[0] + 1e-6)
    bounds = Bounds(allowed_mask(region, radius), scale, radius)
    touching = paths_overlapping(initial, region)
    if not bool(touching.any()):
        raise SettingError(
            Setting("edit_only"), ": no path overlaps the ROIs; check their coordinates"
        )
    partial = touching & ~bounds.paths_within(initial, touching)
    if bool(partial.any()):
        outline = region_outline(extra, canvas, hw)
        split_initial, is_copy = split_partial(initial, partial, outline)
        if split_initial is not initial:
            split_scene, _ = split_partial(scene, partial, outline)
            if not torch.equal(split_scene.contour_sizes, split_initial.contour_sizes):
                raise SettingError(
                    Setting("edit_only"),
                    ": the scene and its initial state differ where they meet "
                    "the ROIs; start a new run instead of resuming",
                )
            scene, initial = split_scene, split_initial
    else:
        is_copy = torch.tensor([is_region_copy(p.id) for p in initial.info])
    is_copy = is_copy.to(region.device)
    touching = paths_overlapping(initial, region)
    within = bounds.paths_within(initial, touching)
    editable = is_copy | within
    if not hold_edges:
        return scene, initial, editable, bounds, None, None
    # A flat fill cannot fade at the region's edge: a copy whose colour changed would
    # show the region as a rectangle, and so would a path inside that reaches the band
    # along the edge (the feather width and the pixel past it). Those keep their colour,
    # the curves that run in the band keep their points, and no other edited curve may
    # move into it (a curve moved there shows as a jump too).
    band = edge_band(region, radius + 1)
    held = is_copy | paths_overlapping(initial, band) & within
    held_points = points_in_band(initial, editable, band, scale)
    bounds = replace(bounds, allowed=bounds.allowed & ~pad_like(band, bounds.allowed))
    return scene, initial, editable, bounds, held, held_points

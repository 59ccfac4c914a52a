"""Accumulates resolved paths, gradients, groups and clips, then packs them into a Scene."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..scene import (
    PAINT_FLAT,
    PAINT_NONE,
    ClipPath,
    Gradients,
    Groups,
    PathInfo,
    Scene,
)
from .gradient import Gradient, Paint
from .stroke import StrokeStyle

_SPREADS = ("pad", "reflect", "repeat")


@dataclass
class PathSpec:
    """One path, resolved to canvas pixels."""

    contours: list[np.ndarray]  # (3n, 2) closed or (3n + 1, 2) open, float64 canvas px
    closed: list[bool]
    fill: Paint
    fill_opacity: float
    evenodd: bool
    stroke: Paint = None
    stroke_opacity: float = 1.0
    style: StrokeStyle = field(default_factory=StrokeStyle)
    stroke_first: bool = False
    opacity: float = 1.0
    clip: int = -1
    group: int = -1
    info: PathInfo = field(default_factory=PathInfo)


class SceneBuilder:
    """Collects paths in paint order and the tables they refer to."""

    def __init__(self) -> None:
        self.paths: list[PathSpec] = []
        self.gradients: list[dict] = []
        self._gradient_keys: dict[tuple, int] = {}
        self.group_parent: list[int] = []
        self.group_opacity: list[float] = []
        self.group_clip: list[int] = []
        self.group_ids: list[str | None] = []
        self.group_labels: list[str | None] = []
        self.group_attrs: list[dict[str, str]] = []
        self.clips: list[ClipPath] = []
        self.segments = 0

    # ---- tables ----------------------------------------------------------------------
    def add_group(
        self,
        parent: int,
        opacity: float = 1.0,
        clip: int = -1,
        gid: str | None = None,
        label: str | None = None,
        attrs: dict[str, str] | None = None,
    ) -> int:
        self.group_parent.append(parent)
        self.group_opacity.append(opacity)
        self.group_clip.append(clip)
        self.group_ids.append(gid)
        self.group_labels.append(label)
        self.group_attrs.append(attrs or {})
        return len(self.group_parent) - 1

    def paint_index(self, paint: Paint) -> int:
        """PAINT_NONE, PAINT_FLAT or the index of the gradient (shared when identical)."""
        if paint is None:
            return PAINT_NONE
        if not isinstance(paint, Gradient):
            return PAINT_FLAT
        t = paint.transform
        transform = (t[0, 0], t[1, 0], t[0, 1], t[1, 1], t[0, 2], t[1, 2])
        key = (
            paint.kind,
            paint.geometry,
            transform,
            paint.units_bbox,
            paint.spread,
            paint.offsets,
            paint.colors,
            paint.id,
        )
        found = self._gradient_keys.get(key)
        if found is None:
            found = len(self.gradients)
            self._gradient_keys[key] = found
            self.gradients.append(
                dict(
                    kind=paint.kind,
                    geometry=paint.geometry,
                    stops=list(zip(paint.offsets, paint.colors, strict=True)),
                    units="objectBoundingBox" if paint.units_bbox else "userSpaceOnUse",
                    transform=transform,
                    spread=paint.spread,
                    id=paint.id,
                )
            )
        return found

    # ---- packing ---------------------------------------------------------------------
    def scene(self, width: float, height: float) -> Scene:
        paths = self.paths
        n = len(paths)
        contours = [c for p in paths for c in p.contours]
        points = np.concatenate(contours) if contours else np.zeros((0, 2))
        colors = [_flat(p.fill, p.fill_opacity) for p in paths]
        stroke_colors = [_flat(p.stroke, p.stroke_opacity) for p in paths]
        dashes = [d for p in paths for d in p.style.dashes]
        groups = Groups(
            parent=torch.tensor(self.group_parent, dtype=torch.int64),
            opacity=torch.tensor(self.group_opacity, dtype=torch.float32),
            clip=torch.tensor(self.group_clip, dtype=torch.int64),
            ids=list(self.group_ids),
            labels=list(self.group_labels),
            attrs=list(self.group_attrs),
        )

        def per_path(values, dtype) -> torch.Tensor:
            return torch.tensor(values, dtype=dtype).reshape(n)

        return Scene(
            width=float(width),
            height=float(height),
            points=torch.from_numpy(points.astype(np.float32)),
            colors=torch.tensor(colors, dtype=torch.float32).reshape(n, 4),
            contour_sizes=torch.tensor([len(c) for c in contours], dtype=torch.int64),
            contour_path=torch.tensor(
                [i for i, p in enumerate(paths) for _ in p.contours], dtype=torch.int64
            ),
            evenodd=per_path([p.evenodd for p in paths], torch.bool),
            info=[p.info for p in paths],
            contour_closed=torch.tensor([k for p in paths for k in p.closed], dtype=torch.bool),
            fill_paint=per_path([self.paint_index(p.fill) for p in paths], torch.int64),
            stroke_paint=per_path([self.paint_index(p.stroke) for p in paths], torch.int64),
            stroke_colors=torch.tensor(stroke_colors, dtype=torch.float32).reshape(n, 4),
            stroke_widths=per_path([p.style.width for p in paths], torch.float32),
            linecap=per_path([p.style.linecap for p in paths], torch.int8),
            linejoin=per_path([p.style.linejoin for p in paths], torch.int8),
            miter_limit=per_path([p.style.miter_limit for p in paths], torch.float32),
            dash_sizes=per_path([len(p.style.dashes) for p in paths], torch.int64),
            dashes=torch.tensor(dashes, dtype=torch.float32).reshape(-1),
            dash_offset=per_path([p.style.dash_offset for p in paths], torch.float32),
            stroke_first=per_path([p.stroke_first for p in paths], torch.bool),
            opacity=per_path([p.opacity for p in paths], torch.float32),
            path_clip=per_path([p.clip for p in paths], torch.int64),
            path_group=per_path([p.group for p in paths], torch.int64),
            gradients=Gradients.build(self.gradients),
            groups=groups,
            clips=list(self.clips),
        )


def _flat(paint: Paint, opacity: float) -> tuple[float, float, float, float]:
    """The colour a paint stores in ``colors``: a flat colour's RGB, a gradient's mean
    stop colour (for code that knows only flat colours); alpha = the paint's opacity
    (times a flat colour's own alpha)."""
    if paint is None:
        return (0.0, 0.0, 0.0, opacity)
    if isinstance(paint, Gradient):
        mean = np.mean(np.asarray(paint.colors, dtype=np.float64)[:, :3], 0)
        return (float(mean[0]), float(mean[1]), float(mean[2]), opacity)
    return (paint[0], paint[1], paint[2], paint[3] * opacity)


def spread_name(code: int) -> str:
    return _SPREADS[code]

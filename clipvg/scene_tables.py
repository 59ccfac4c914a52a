"""The tables a :class:`~clipvg.scene.Scene` holds beside its paths: paint codes, gradients,
groups, and the per-path export info (clip paths, which hold a Scene, live in
:mod:`clipvg.scene`).

The layout of each table is in its class docstring; :mod:`clipvg.scene` packs paths that
index into them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

import torch

from .errors import ClipvgError

PAINT_NONE = -2
PAINT_FLAT = -1
CAP_BUTT, CAP_ROUND, CAP_SQUARE = 0, 1, 2
JOIN_MITER, JOIN_ROUND, JOIN_BEVEL = 0, 1, 2
LINEAR, RADIAL = 0, 1
SPREAD_PAD, SPREAD_REFLECT, SPREAD_REPEAT = 0, 1, 2

#: Identity affine ``[a, b, c, d, e, f]`` (SVG ``matrix(a b c d e f)``).
IDENTITY = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)


@dataclass
class PathInfo:
    """What export needs to know about a path beyond its geometry."""

    id: str | None = None
    groups: tuple[str, ...] = ()  # ids of the enclosing <g> elements, outermost first


def as_f32(x, shape=None) -> torch.Tensor:
    t = torch.as_tensor(x, dtype=torch.float32)
    return t.reshape(shape) if shape is not None else t


@dataclass
class Gradients:
    """The gradient table: K linear or radial gradients, S stops in all.

    - ``kind``: (K,) int8, :data:`LINEAR` or :data:`RADIAL`.
    - ``geometry``: (K, 6) float32, in gradient space: linear ``x1, y1, x2, y2, 0, 0``;
      radial ``cx, cy, r, fx, fy, fr`` (``r, fr >= 0``; focal point ``fx, fy`` with
      focal radius ``fr``). A shape parameter.
    - ``units_bbox``: (K,) bool. False (userSpaceOnUse): canvas point = ``T @ g``.
      True (objectBoundingBox): canvas point = ``B @ T @ g``, ``B`` mapping the unit
      square onto the canvas bounding box of the painted path's fill geometry,
      measured at render time (so it follows shape edits). A loader whose element has
      a rotating or skewing transform should bake the box into ``T`` instead.
    - ``transform``: (K, 6) float32 affine ``T = [a, b, c, d, e, f]``
      (``x' = a x + c y + e``, ``y' = b x + d y + f``): ``gradientTransform``, for
      userSpaceOnUse composed with the element's transform to the canvas.
    - ``spread``: (K,) int8, :data:`SPREAD_PAD` / ``REFLECT`` / ``REPEAT``.
    - ``stop_sizes``: (K,) int64 >= 1 stops per gradient (a 0-stop gradient is paint
      none, the loader's job); ``stop_offsets``: (S,) float32 in [0, 1], non-decreasing
      within a gradient; ``stop_colors``: (S, 4) straight RGBA in [0, 1] (alpha =
      ``stop-opacity``). Colour parameters.
    - ``ids``: K element ids (or None), for stable export.
    """

    kind: torch.Tensor = field(default_factory=lambda: torch.zeros(0, dtype=torch.int8))
    geometry: torch.Tensor = field(default_factory=lambda: torch.zeros(0, 6))
    units_bbox: torch.Tensor = field(default_factory=lambda: torch.zeros(0, dtype=torch.bool))
    transform: torch.Tensor = field(default_factory=lambda: torch.zeros(0, 6))
    spread: torch.Tensor = field(default_factory=lambda: torch.zeros(0, dtype=torch.int8))
    stop_sizes: torch.Tensor = field(default_factory=lambda: torch.zeros(0, dtype=torch.int64))
    stop_offsets: torch.Tensor = field(default_factory=lambda: torch.zeros(0))
    stop_colors: torch.Tensor = field(default_factory=lambda: torch.zeros(0, 4))
    ids: list[str | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        k = self.kind.shape[0]
        if not self.ids:
            self.ids = [None] * k
        shapes = {
            "geometry": (self.geometry, (k, 6)),
            "transform": (self.transform, (k, 6)),
            "units_bbox": (self.units_bbox, (k,)),
            "spread": (self.spread, (k,)),
            "stop_sizes": (self.stop_sizes, (k,)),
        }
        for name, (t, want) in shapes.items():
            if tuple(t.shape) != want:
                raise ClipvgError(f"gradient {name} must be {want}, got {tuple(t.shape)}")
        s = self.stop_offsets.shape[0]
        if tuple(self.stop_colors.shape) != (s, 4) or int(self.stop_sizes.sum()) != s:
            raise ClipvgError("gradient stop sizes, offsets and colours disagree on the stop count")
        if k and int(self.stop_sizes.min()) < 1:
            raise ClipvgError("every gradient needs at least one stop (0 stops is paint none)")
        if len(self.ids) != k:
            raise ClipvgError("gradient ids and gradients disagree on the count")

    @classmethod
    def build(cls, specs: Sequence[dict[str, Any]]) -> Gradients:
        """A table from one dict per gradient: ``kind`` ("linear"/"radial"), ``geometry``
        (4 or 6 numbers), ``stops`` [(offset, (r, g, b, a)), ...], optional ``units``
        ("userSpaceOnUse"/"objectBoundingBox"), ``transform`` (6), ``spread``
        ("pad"/"reflect"/"repeat") and ``id``."""
        spreads = {"pad": SPREAD_PAD, "reflect": SPREAD_REFLECT, "repeat": SPREAD_REPEAT}
        geometry = [list(s["geometry"]) + [0.0] * (6 - len(s["geometry"])) for s in specs]
        stops = [st for s in specs for st in s["stops"]]
        return cls(
            kind=torch.tensor(
                [RADIAL if s["kind"] == "radial" else LINEAR for s in specs], dtype=torch.int8
            ),
            geometry=as_f32(geometry, (-1, 6)),
            units_bbox=torch.tensor(
                [s.get("units") == "objectBoundingBox" for s in specs], dtype=torch.bool
            ),
            transform=as_f32([list(s.get("transform", IDENTITY)) for s in specs], (-1, 6)),
            spread=torch.tensor([spreads[s.get("spread", "pad")] for s in specs], dtype=torch.int8),
            stop_sizes=torch.tensor([len(s["stops"]) for s in specs], dtype=torch.int64),
            stop_offsets=as_f32([o for o, _ in stops], (-1,)),
            stop_colors=as_f32([list(c) for _, c in stops], (-1, 4)),
            ids=[s.get("id") for s in specs],
        )

    def __len__(self) -> int:
        return self.kind.shape[0]

    def stop_gradient(self) -> torch.Tensor:
        """(S,) int64: the gradient each stop belongs to."""
        return torch.repeat_interleave(
            torch.arange(len(self), device=self.stop_sizes.device), self.stop_sizes
        )

    def map(self, fn) -> Gradients:
        """A copy with ``fn`` applied to every tensor."""
        return replace(
            self,
            **{f.name: fn(getattr(self, f.name)) for f in fields(self) if f.name != "ids"},
            ids=list(self.ids),
        )


@dataclass
class Groups:
    """The group table: G ``<g>`` elements (and other containers), in document order.

    - ``parent``: (G,) int64, the enclosing group or -1 (root); ``parent[g] < g``.
    - ``opacity``: (G,) float32 in [0, 1]; the group's content is composited on its
      own, then faded by it (differentiable, not an optimizer parameter).
    - ``clip``: (G,) int64 index into ``Scene.clips`` or -1.
    - ``ids``: G element ids or None; ``labels``: G ``inkscape:label`` values or None;
      ``attrs``: G dicts of other attributes the writer keeps (e.g. inkscape:groupmode).

    The paths of a group (with its subgroups) are one contiguous run in paint order.
    """

    parent: torch.Tensor = field(default_factory=lambda: torch.zeros(0, dtype=torch.int64))
    opacity: torch.Tensor = field(default_factory=lambda: torch.zeros(0))
    clip: torch.Tensor = field(default_factory=lambda: torch.zeros(0, dtype=torch.int64))
    ids: list[str | None] = field(default_factory=list)
    labels: list[str | None] = field(default_factory=list)
    attrs: list[dict[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        g = self.parent.shape[0]
        self.ids = self.ids or [None] * g
        self.labels = self.labels or [None] * g
        self.attrs = self.attrs or [{} for _ in range(g)]
        if self.opacity.shape != (g,) or self.clip.shape != (g,):
            raise ClipvgError("group parents, opacities and clips disagree on the group count")
        if not (len(self.ids) == len(self.labels) == len(self.attrs) == g):
            raise ClipvgError("group ids, labels and attributes disagree on the group count")
        if g and bool((self.parent >= torch.arange(g, device=self.parent.device)).any()):
            raise ClipvgError("a group's parent must come before it (document order)")

    def __len__(self) -> int:
        return self.parent.shape[0]

    def map(self, fn) -> Groups:
        return Groups(
            fn(self.parent),
            fn(self.opacity),
            fn(self.clip),
            list(self.ids),
            list(self.labels),
            [dict(a) for a in self.attrs],
        )


# Per-path (N,) fields with their defaults, in the order they are documented.


def ordered_offsets(offsets: torch.Tensor, sizes: torch.Tensor) -> torch.Tensor:
    """Running maximum of ``offsets`` (S,) within each run of ``sizes`` (K,) stops.

    Vectorized: adding ``2 * gradient index`` makes the key increase across gradients
    (offsets in [0, 1]), so one global ``cummax`` is a per-gradient one.
    """
    if offsets.numel() == 0:
        return offsets
    owner = torch.repeat_interleave(
        torch.arange(len(sizes), device=offsets.device), sizes.to(offsets.device)
    )
    base = 2.0 * owner.to(offsets.dtype)
    return torch.cummax(offsets.clamp(0, 1) + base, 0).values - base

"""The vector scene: canvas, cubic paths with fill and stroke paints, gradients, groups, clips.

Everything the renderer and the optimizer touch is packed into a few tensors, so that
an optimizer step touches a handful of leaf tensors, not thousands of small ones.
The class docstrings here and in :mod:`clipvg.scene_tables` spell the layout out.

Geometry (canvas pixels, x right, y down):

- ``points``: (P, 2) float32. Every contour is a chain of cubic Bezier segments. A
  *closed* contour of ``n`` segments stores ``3n`` points ``p0, c0a, c0b, p1, ...,
  c(n-1)b`` and its last segment ends back at ``p0``; an *open* one stores ``3n + 1``
  points, ending with its last end point. A fill treats an open contour as closed by
  a straight line (SVG); a stroke leaves it open, with caps.
- ``contour_sizes``: (C,) int64 points per contour; ``contour_path``: (C,) int64 the
  path of each contour, non-decreasing; ``contour_closed``: (C,) bool.

Paint, per path (N paths, in paint order: path 0 is painted first, at the bottom):

- ``fill_paint`` / ``stroke_paint``: (N,) int64, :data:`PAINT_NONE` (-2),
  :data:`PAINT_FLAT` (-1) or a gradient index ``k >= 0`` into ``gradients``.
- ``colors``: (N, 4) float32 straight RGBA in [0, 1], the fill: a flat fill's colour;
  for any fill its alpha is the fill opacity (``fill-opacity``, times the element's
  opacity where the loader folds it in), which multiplies a gradient's stop alphas.
- ``stroke_colors``: (N, 4) the same for the stroke (alpha = ``stroke-opacity``).
- ``stroke_widths``: (N,) float32 >= 0, canvas units. ``linecap`` (N,) int8
  (:data:`CAP_BUTT`, :data:`CAP_ROUND`, :data:`CAP_SQUARE`), ``linejoin`` (N,) int8
  (:data:`JOIN_MITER`, :data:`JOIN_ROUND`, :data:`JOIN_BEVEL`), ``miter_limit`` (N,)
  float32 >= 1, ``dash_sizes`` (N,) int64 entries of each path's dash array (0 =
  solid), ``dashes`` (D,) float32 the dash arrays concatenated, ``dash_offset`` (N,)
  float32, ``stroke_first`` (N,) bool (``paint-order: stroke``).
- ``opacity``: (N,) float32 in [0, 1], the element's ``opacity``: fill and stroke are
  composited together, then faded (SVG group semantics for one element).
- ``evenodd``: (N,) bool fill rule (False = nonzero).
- ``path_clip``: (N,) int64 index into ``clips`` or -1; ``path_group``: (N,) int64
  innermost group (index into ``groups``) or -1 (the root).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import torch

from .errors import ClipvgError
from .scene_tables import (  # noqa: F401  (re-exported: clipvg.scene is where callers look)
    CAP_BUTT,
    CAP_ROUND,
    CAP_SQUARE,
    IDENTITY,
    JOIN_BEVEL,
    JOIN_MITER,
    JOIN_ROUND,
    LINEAR,
    PAINT_FLAT,
    PAINT_NONE,
    RADIAL,
    SPREAD_PAD,
    SPREAD_REFLECT,
    SPREAD_REPEAT,
    Gradients,
    Groups,
    PathInfo,
    as_f32,
    ordered_offsets,
)


@dataclass
class ClipPath:
    """A ``clipPath``: the union of the filled paths of ``scene`` (same canvas; each
    path's ``evenodd`` is its ``clip-rule``; paints, strokes, groups and clips inside it
    are ignored), intersected with clip ``clip`` of the owning scene when >= 0. The
    loader resolves ``clipPathUnits`` and transforms into canvas units. Not optimized."""

    scene: Scene
    clip: int = -1
    id: str | None = None


_PER_PATH = {
    "contour_closed": None,  # per contour, see __post_init__
    "fill_paint": (torch.int64, PAINT_FLAT),
    "stroke_paint": (torch.int64, PAINT_NONE),
    "stroke_widths": (torch.float32, 1.0),
    "linecap": (torch.int8, CAP_BUTT),
    "linejoin": (torch.int8, JOIN_MITER),
    "miter_limit": (torch.float32, 4.0),
    "dash_sizes": (torch.int64, 0),
    "dash_offset": (torch.float32, 0.0),
    "stroke_first": (torch.bool, False),
    "opacity": (torch.float32, 1.0),
    "path_clip": (torch.int64, -1),
    "path_group": (torch.int64, -1),
}


@dataclass
class Scene:
    """A canvas of cubic paths with fills and strokes. See the module docstring.

    Only ``width, height, points, colors, contour_sizes, contour_path, evenodd`` are
    required: the rest default to a filled closed path with no stroke, no group and no
    clip (the fill-only scene of earlier versions).
    """

    width: float
    height: float
    points: torch.Tensor
    colors: torch.Tensor
    contour_sizes: torch.Tensor
    contour_path: torch.Tensor
    evenodd: torch.Tensor
    info: list[PathInfo] = field(default_factory=list)
    contour_closed: torch.Tensor | None = None
    fill_paint: torch.Tensor | None = None
    stroke_paint: torch.Tensor | None = None
    stroke_colors: torch.Tensor | None = None
    stroke_widths: torch.Tensor | None = None
    linecap: torch.Tensor | None = None
    linejoin: torch.Tensor | None = None
    miter_limit: torch.Tensor | None = None
    dash_sizes: torch.Tensor | None = None
    dashes: torch.Tensor | None = None
    dash_offset: torch.Tensor | None = None
    stroke_first: torch.Tensor | None = None
    opacity: torch.Tensor | None = None
    path_clip: torch.Tensor | None = None
    path_group: torch.Tensor | None = None
    gradients: Gradients = field(default_factory=Gradients)
    groups: Groups = field(default_factory=Groups)
    clips: list[ClipPath] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not (self.width > 0 and self.height > 0):
            raise ClipvgError(f"canvas size must be positive, got {self.width} x {self.height}")
        if self.points.ndim != 2 or self.points.shape[1] != 2:
            raise ClipvgError(f"points must be (P, 2), got {tuple(self.points.shape)}")
        if self.colors.ndim != 2 or self.colors.shape[1] != 4:
            raise ClipvgError(f"colors must be (N, 4), got {tuple(self.colors.shape)}")
        n = self.colors.shape[0]
        dev = self.contour_sizes.device
        if not self.info:
            self.info = [PathInfo() for _ in range(n)]
        if self.contour_closed is None:
            self.contour_closed = torch.ones(self.contour_sizes.shape[0], dtype=torch.bool)
        self.contour_closed = self.contour_closed.to(dev)
        for name, spec in _PER_PATH.items():
            if spec is not None and getattr(self, name) is None:
                setattr(self, name, torch.full((n,), spec[1], dtype=spec[0], device=dev))
        if self.stroke_colors is None:
            self.stroke_colors = torch.tensor([[0.0, 0.0, 0.0, 1.0]], device=dev).repeat(n, 1)
        if self.dashes is None:
            self.dashes = torch.zeros(0, device=dev)
        self._validate(n)

    def _validate(self, n: int) -> None:
        if int(self.contour_sizes.sum()) != self.points.shape[0]:
            raise ClipvgError("contour sizes do not add up to the number of points")
        if len(self.info) != n or self.evenodd.shape[0] != n:
            raise ClipvgError("colors, fill rules and path info disagree on the path count")
        if self.contour_closed.shape != self.contour_sizes.shape:
            raise ClipvgError("contour_closed must have one entry per contour")
        closed, sizes = self.contour_closed, self.contour_sizes
        bad_closed = closed & ((sizes % 3 != 0) | (sizes < 3))
        bad_open = ~closed & ((sizes % 3 != 1) | (sizes < 4))
        if bool((bad_closed | bad_open).any()):
            raise ClipvgError(
                "every closed contour needs 3n points and every open one 3n + 1 (n >= 1)"
            )
        for name in _PER_PATH:
            if name != "contour_closed" and getattr(self, name).shape != (n,):
                raise ClipvgError(f"{name} must have one entry per path ({n})")
        if self.stroke_colors.shape != (n, 4):
            raise ClipvgError(f"stroke_colors must be ({n}, 4)")
        if self.dashes.ndim != 1 or int(self.dash_sizes.sum()) != self.dashes.shape[0]:
            raise ClipvgError("dash sizes do not add up to the number of dash entries")
        k = len(self.gradients)
        for name in ("fill_paint", "stroke_paint"):
            paint = getattr(self, name)
            if n and (int(paint.min()) < PAINT_NONE or int(paint.max()) >= k):
                raise ClipvgError(f"{name} holds a paint that is not none, flat or a gradient")
        for name, limit in (("path_clip", len(self.clips)), ("path_group", len(self.groups))):
            ref = getattr(self, name)
            if n and (int(ref.min()) < -1 or int(ref.max()) >= limit):
                raise ClipvgError(f"{name} refers to a missing entry")
        if len(self.groups) and (
            int(self.groups.clip.min()) < -1 or int(self.groups.clip.max()) >= len(self.clips)
        ):
            raise ClipvgError("a group refers to a missing clip path")

    # ---- construction -------------------------------------------------------------
    @classmethod
    def from_paths(
        cls,
        width: float,
        height: float,
        paths: Sequence[Sequence[torch.Tensor]],
        colors: Sequence[Sequence[float]] | torch.Tensor,
        evenodd: Iterable[bool] | None = None,
        info: Sequence[PathInfo] | None = None,
        closed: Sequence[Sequence[bool]] | None = None,
        **per_path: Any,
    ) -> Scene:
        """Build a scene from per-path contour lists.

        Args:
            paths: for each path, a list of contours, each a (3n, 2) tensor of closed
                cubic chain points, or (3n + 1, 2) for an open one (see module docstring).
            colors: (N, 4) straight RGBA in [0, 1] (the fill).
            evenodd: fill rule per path; nonzero when omitted.
            closed: per path, per contour, whether it is closed; all closed when omitted.
            per_path: any other :class:`Scene` field (``stroke_paint``, ``stroke_widths``,
                ``gradients``, ``groups``, ...), as a tensor or a list.

        Example:
            >>> square = torch.tensor([[0, 0], [1, 0], [2, 0], [3, 0], [3, 1], [3, 2],
            ...                        [3, 3], [2, 3], [1, 3], [0, 3], [0, 2], [0, 1.]])
            >>> Scene.from_paths(4, 4, [[square]], [[1, 0, 0, 1]],
            ...                  stroke_paint=[PAINT_FLAT], stroke_widths=[0.5])
        """
        contours = [
            torch.as_tensor(c, dtype=torch.float32).reshape(-1, 2) for p in paths for c in p
        ]
        owner = [i for i, p in enumerate(paths) for _ in p]
        if len(paths) and any(len(p) == 0 for p in paths):
            raise ClipvgError("every path needs at least one contour")
        points = torch.cat(contours) if contours else torch.zeros(0, 2)
        n = len(paths)
        if closed is None:
            closed_t = torch.ones(len(contours), dtype=torch.bool)
        else:
            closed_t = torch.tensor([bool(c) for p in closed for c in p], dtype=torch.bool)
        extra = {}
        for name, value in per_path.items():
            if isinstance(value, Gradients | Groups | list) and name in (
                "gradients",
                "groups",
                "clips",
            ):
                extra[name] = value
            elif name == "stroke_colors":
                extra[name] = as_f32(value, (n, 4)).clone()
            elif name == "dashes":
                extra[name] = as_f32(value, (-1,)).clone()
            elif name in _PER_PATH:
                dtype = _PER_PATH[name][0]
                extra[name] = torch.as_tensor(value, dtype=dtype).reshape(n).clone()
            else:
                raise ClipvgError(f"Scene has no field {name!r}")
        return cls(
            width=float(width),
            height=float(height),
            points=points,
            colors=torch.as_tensor(colors, dtype=torch.float32).reshape(n, 4).clone(),
            contour_sizes=torch.tensor([len(c) for c in contours], dtype=torch.int64),
            contour_path=torch.tensor(owner, dtype=torch.int64),
            evenodd=torch.tensor(
                list(evenodd) if evenodd is not None else [False] * n, dtype=torch.bool
            ),
            info=list(info) if info is not None else [],
            contour_closed=closed_t,
            **extra,
        )

    # ---- views --------------------------------------------------------------------
    @property
    def num_paths(self) -> int:
        return self.colors.shape[0]

    @property
    def device(self) -> torch.device:
        return self.points.device

    @property
    def has_fill(self) -> torch.Tensor:
        """(N,) bool: paths with a fill paint."""
        return self.fill_paint != PAINT_NONE

    @property
    def has_stroke(self) -> torch.Tensor:
        """(N,) bool: paths with a stroke paint (a width of 0 still counts)."""
        return self.stroke_paint != PAINT_NONE

    @property
    def is_plain(self) -> bool:
        """Flat fills only: no strokes, gradients, open contours, groups or clips."""
        return (
            len(self.gradients) == 0
            and len(self.groups) == 0
            and not self.clips
            and not bool(self.has_stroke.any())
            and bool(self.contour_closed.all())
            and not bool((self.fill_paint != PAINT_FLAT).any())
            and not bool((self.opacity != 1).any())
        )

    def contour_offsets(self) -> torch.Tensor:
        """(C,) int64 index of each contour's first point in ``points``."""
        return torch.cumsum(self.contour_sizes, 0) - self.contour_sizes

    def path_point_index(self) -> torch.Tensor:
        """(P,) int64: the path each point belongs to."""
        return torch.repeat_interleave(
            self.contour_path.to(self.contour_sizes.device), self.contour_sizes
        )

    def path_contours(self, i: int) -> list[torch.Tensor]:
        """The contours of path ``i``, each a (3n, 2) or (3n + 1, 2) view into ``points``."""
        sel = (self.contour_path == i).nonzero().flatten().tolist()
        offsets = self.contour_offsets().tolist()
        sizes = self.contour_sizes.tolist()
        return [self.points[offsets[c] : offsets[c] + sizes[c]] for c in sel]

    def path_dashes(self, i: int) -> list[float]:
        """Path ``i``'s dash array (empty: solid)."""
        start = int(self.dash_sizes[:i].sum())
        return self.dashes[start : start + int(self.dash_sizes[i])].tolist()

    # ---- optimization -------------------------------------------------------------
    def shape_parameters(self) -> list[torch.Tensor]:
        """The leaf tensors holding geometry, with requires_grad set:
        ``[points, stroke_widths, gradients.geometry]``."""
        params = [self.points, self.stroke_widths, self.gradients.geometry]
        for p in params:
            p.requires_grad_(True)
        return params

    def color_parameters(self) -> list[torch.Tensor]:
        """The leaf tensors holding paint, with requires_grad set:
        ``[colors, stroke_colors, gradients.stop_colors, gradients.stop_offsets]``."""
        params = [
            self.colors,
            self.stroke_colors,
            self.gradients.stop_colors,
            self.gradients.stop_offsets,
        ]
        for p in params:
            p.requires_grad_(True)
        return params

    def parameters(self) -> list[torch.Tensor]:
        """All optimizable tensors (shape, then colour), without touching requires_grad."""
        g = self.gradients
        return [
            self.points,
            self.stroke_widths,
            g.geometry,
            self.colors,
            self.stroke_colors,
            g.stop_colors,
            g.stop_offsets,
        ]

    def frozen_masks(self, editable: torch.Tensor) -> list[torch.Tensor]:
        """Which entries of each of :meth:`parameters` belong to frozen paths.

        Args:
            editable: (N,) bool, the paths that may change.

        Returns:
            bool masks shaped like the parameters' first dimension: points of frozen
            paths; widths and colours of frozen paths; gradients (geometry, stops) that a
            frozen path uses (a gradient shared with an editable path stays frozen).
        """
        dev = self.contour_path.device
        frozen = ~editable.to(dev)
        g = self.gradients
        used = torch.zeros(len(g), dtype=torch.bool, device=dev)
        for paint in (self.fill_paint, self.stroke_paint):
            sel = frozen & (paint >= 0)
            used[paint[sel]] = True
        stops = used[g.stop_gradient().to(dev)]
        point = frozen[self.path_point_index()]
        return [point, frozen, used, frozen, frozen, stops, stops]

    def project_(self, shape: bool = True, color: bool = True) -> Scene:
        """Pull the parameters back into their valid ranges, in place, after a step.

        Shape: stroke widths >= 0, radial radii >= 0. Colour: colours and stop colours
        in [0, 1]; stop offsets in [0, 1] and non-decreasing within each gradient (a
        running maximum, so an offset that overtakes the next one drags it along).
        Values already valid are left bit-identical.
        """
        g = self.gradients
        with torch.no_grad():
            if shape:
                self.stroke_widths.clamp_(min=0.0)
                radial = g.kind == RADIAL
                if bool(radial.any()):
                    radii = g.geometry[:, [2, 5]]
                    g.geometry[:, [2, 5]] = torch.where(
                        radial[:, None], radii.clamp(min=0.0), radii
                    )
            if color:
                self.colors.clamp_(0.0, 1.0)
                self.stroke_colors.clamp_(0.0, 1.0)
                g.stop_colors.clamp_(0.0, 1.0)
                g.stop_offsets.copy_(ordered_offsets(g.stop_offsets.clamp(0.0, 1.0), g.stop_sizes))
        return self

    # ---- copies -------------------------------------------------------------------
    def _tensor_fields(self) -> list[str]:
        return [f.name for f in fields(self) if isinstance(getattr(self, f.name), torch.Tensor)]

    def _rebuild(self, fn, info=None) -> Scene:
        """A new scene with ``fn`` applied to every tensor (tables and clips included)."""
        out = {name: fn(getattr(self, name)) for name in self._tensor_fields()}
        return Scene(
            width=self.width,
            height=self.height,
            info=info if info is not None else [PathInfo(p.id, p.groups) for p in self.info],
            gradients=self.gradients.map(fn),
            groups=self.groups.map(fn),
            clips=[ClipPath(c.scene._rebuild(fn), c.clip, c.id) for c in self.clips],
            **out,
        )

    def to(self, device: torch.device | str) -> Scene:
        """Move the scene to ``device`` in place (tensors stay leaves) and return it."""
        moved = self._rebuild(
            lambda t: (
                t.detach().to(device).requires_grad_(t.requires_grad)
                if t.is_floating_point()
                else t.to(device)
            )
        )
        for f in fields(self):
            setattr(self, f.name, getattr(moved, f.name))
        return self

    def to_dtype(self, dtype: torch.dtype) -> Scene:
        """A detached copy whose floating-point tensors have ``dtype`` (e.g. float64 for
        finite-difference checks)."""
        return self._rebuild(
            lambda t: t.detach().to(dtype, copy=True) if t.is_floating_point() else t.clone()
        )

    def clone(self) -> Scene:
        """A deep copy with detached tensors (no gradients)."""
        return self._rebuild(lambda t: t.detach().clone())

    def subset(self, keep: torch.Tensor | Sequence[int]) -> Scene:
        """A new scene with only the paths ``keep`` (in their original paint order).
        The gradient, group and clip tables are kept whole, so indices stay valid."""
        keep_t = torch.as_tensor(keep, dtype=torch.int64, device=self.contour_path.device)
        keep_mask = torch.zeros(self.num_paths, dtype=torch.bool, device=keep_t.device)
        keep_mask[keep_t] = True
        return self.take(keep_mask.nonzero().flatten())

    def take(self, order: torch.Tensor | Sequence[int]) -> Scene:
        """A new scene of the paths ``order`` (N',) int, in that order, repeats allowed
        (detached copies; the gradient, group and clip tables are kept whole)."""
        dev = self.contour_path.device
        idx = torch.as_tensor(order, dtype=torch.int64, device=dev)

        def ranges(sizes: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
            # Indices of the rows of every item in ``items``, ``sizes[i]`` rows per item.
            first = torch.cumsum(sizes, 0) - sizes
            cnt = sizes[items]
            item = torch.repeat_interleave(torch.arange(len(items), device=dev), cnt)
            local = torch.arange(int(cnt.sum()), device=dev) - (torch.cumsum(cnt, 0) - cnt)[item]
            return first[items][item] + local, item

        per_path_contours = torch.bincount(self.contour_path, minlength=self.num_paths)
        contours, contour_owner = ranges(per_path_contours, idx)
        points, _ = ranges(self.contour_sizes, contours)
        dash_rows, _ = ranges(self.dash_sizes, idx)
        per_path = {
            name: getattr(self, name).detach()[idx.to(getattr(self, name).device)].clone()
            for name in list(_PER_PATH)[1:] + ["colors", "stroke_colors", "evenodd"]
        }
        return Scene(
            width=self.width,
            height=self.height,
            points=self.points.detach()[points.to(self.device)].clone(),
            contour_sizes=self.contour_sizes[contours].clone(),
            contour_path=contour_owner,
            contour_closed=self.contour_closed[contours].clone(),
            dashes=self.dashes.detach()[dash_rows.to(self.dashes.device)].clone(),
            info=[PathInfo(self.info[i].id, self.info[i].groups) for i in idx.tolist()],
            gradients=self.gradients.map(lambda t: t.detach().clone()),
            groups=self.groups.map(lambda t: t.detach().clone()),
            clips=[ClipPath(c.scene.clone(), c.clip, c.id) for c in self.clips],
            **per_path,
        )

    # ---- checkpoints --------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """The scene as plain tensors, lists and dicts (safe for ``torch.load(weights_only=True)``)."""
        out: dict[str, Any] = {
            "width": float(self.width),
            "height": float(self.height),
            "info": [[p.id, list(p.groups)] for p in self.info],
        }
        for name in self._tensor_fields():
            out[name] = getattr(self, name).detach().cpu().clone()
        g = self.gradients
        out["gradients"] = {
            f.name: getattr(g, f.name).detach().cpu().clone() for f in fields(g) if f.name != "ids"
        } | {"ids": list(g.ids)}
        gr = self.groups
        out["groups"] = {
            "parent": gr.parent.cpu().clone(),
            "opacity": gr.opacity.detach().cpu().clone(),
            "clip": gr.clip.cpu().clone(),
            "ids": list(gr.ids),
            "labels": list(gr.labels),
            "attrs": [dict(a) for a in gr.attrs],
        }
        out["clips"] = [{"scene": c.scene.state(), "clip": c.clip, "id": c.id} for c in self.clips]
        return out

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Scene:
        """Inverse of :meth:`state`; also reads the fill-only checkpoints of earlier versions."""
        tensors = {
            f.name: state[f.name].clone()
            for f in fields(cls)
            if f.name in state and isinstance(state[f.name], torch.Tensor)
        }
        g = state.get("gradients")
        gr = state.get("groups")
        return cls(
            width=state["width"],
            height=state["height"],
            info=[PathInfo(i, tuple(gs)) for i, gs in state["info"]],
            gradients=Gradients(
                **{k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in g.items()}
            )
            if g
            else Gradients(),
            groups=Groups(**gr) if gr else Groups(),
            clips=[
                ClipPath(cls.from_state(c["scene"]), c["clip"], c["id"])
                for c in state.get("clips", [])
            ],
            **tensors,
        )

    def __repr__(self) -> str:
        extra = ""
        if not self.is_plain:
            extra = (
                f", {int(self.has_stroke.sum())} stroked, {len(self.gradients)} gradients, "
                f"{len(self.groups)} groups, {len(self.clips)} clips"
            )
        return (
            f"Scene({self.width:g}x{self.height:g}, {self.num_paths} paths, "
            f"{self.contour_sizes.numel()} contours, {self.points.shape[0]} points{extra})"
        )

"""The vector scene: canvas, filled closed cubic paths, fills.

Geometry is packed into a few tensors so that the renderer and the optimizer touch
one leaf tensor each, instead of thousands of small ones:

- ``points``: (P, 2) float32, canvas pixels (x right, y down). Every contour is a
  closed chain of cubic Bezier segments stored as ``3 * n`` points
  ``p0, c0a, c0b, p1, c1a, c1b, ..., p(n-1), c(n-1)a, c(n-1)b``; the last segment
  ends back at ``p0``.
- ``colors``: (N, 4) float32 straight (not premultiplied) RGBA in [0, 1]; alpha
  already holds ``opacity * fill-opacity`` including group opacity.
- ``contour_sizes``: (C,) int64, points per contour (a multiple of 3).
- ``contour_path``: (C,) int64, which path each contour belongs to, non-decreasing.
- ``evenodd``: (N,) bool, fill rule per path (False = nonzero).

Paths are in paint order: path 0 is painted first (at the bottom).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import torch

from .errors import ClipvgError


@dataclass
class PathInfo:
    """What export needs to know about a path beyond its geometry."""

    id: str | None = None
    groups: tuple[str, ...] = ()  # ids of the enclosing <g> elements, outermost first


@dataclass
class Scene:
    """A canvas of filled closed cubic paths. See the module docstring for the layout."""

    width: float
    height: float
    points: torch.Tensor
    colors: torch.Tensor
    contour_sizes: torch.Tensor
    contour_path: torch.Tensor
    evenodd: torch.Tensor
    info: list[PathInfo] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not (self.width > 0 and self.height > 0):
            raise ClipvgError(f"canvas size must be positive, got {self.width} x {self.height}")
        n = self.colors.shape[0]
        if not self.info:
            self.info = [PathInfo() for _ in range(n)]
        if self.points.ndim != 2 or self.points.shape[1] != 2:
            raise ClipvgError(f"points must be (P, 2), got {tuple(self.points.shape)}")
        if self.colors.ndim != 2 or self.colors.shape[1] != 4:
            raise ClipvgError(f"colors must be (N, 4), got {tuple(self.colors.shape)}")
        if int(self.contour_sizes.sum()) != self.points.shape[0]:
            raise ClipvgError("contour sizes do not add up to the number of points")
        if len(self.info) != n or self.evenodd.shape[0] != n:
            raise ClipvgError("colors, fill rules and path info disagree on the path count")
        if (self.contour_sizes % 3 != 0).any() or (self.contour_sizes < 3).any():
            raise ClipvgError("every contour needs a positive multiple of 3 points")

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
    ) -> Scene:
        """Build a scene from per-path contour lists.

        Args:
            paths: for each path, a list of contours, each a (3n, 2) tensor of closed
                cubic chain points (see module docstring).
            colors: (N, 4) straight RGBA in [0, 1].
            evenodd: fill rule per path; nonzero when omitted.
        """
        contours = [
            torch.as_tensor(c, dtype=torch.float32).reshape(-1, 2) for p in paths for c in p
        ]
        owner = [i for i, p in enumerate(paths) for _ in p]
        if len(paths) and any(len(p) == 0 for p in paths):
            raise ClipvgError("every path needs at least one contour")
        points = torch.cat(contours) if contours else torch.zeros(0, 2)
        n = len(paths)
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
        )

    # ---- views --------------------------------------------------------------------
    @property
    def num_paths(self) -> int:
        return self.colors.shape[0]

    @property
    def device(self) -> torch.device:
        return self.points.device

    def contour_offsets(self) -> torch.Tensor:
        """(C,) int64 index of each contour's first point in ``points``."""
        return torch.cumsum(self.contour_sizes, 0) - self.contour_sizes

    def path_point_index(self) -> torch.Tensor:
        """(P,) int64: the path each point belongs to."""
        return torch.repeat_interleave(
            self.contour_path.to(self.contour_sizes.device), self.contour_sizes
        )

    def path_contours(self, i: int) -> list[torch.Tensor]:
        """The contours of path ``i``, each a (3n, 2) view into ``points``."""
        sel = (self.contour_path == i).nonzero().flatten().tolist()
        offsets = self.contour_offsets().tolist()
        sizes = self.contour_sizes.tolist()
        return [self.points[offsets[c] : offsets[c] + sizes[c]] for c in sel]

    # ---- optimization -------------------------------------------------------------
    def shape_parameters(self) -> list[torch.Tensor]:
        """The leaf tensors holding geometry: ``[points]``, with requires_grad set."""
        self.points.requires_grad_(True)
        return [self.points]

    def color_parameters(self) -> list[torch.Tensor]:
        """The leaf tensors holding fills: ``[colors]``, with requires_grad set."""
        self.colors.requires_grad_(True)
        return [self.colors]

    def to(self, device: torch.device | str) -> Scene:
        """Move the scene to ``device`` in place (tensors stay leaves) and return it."""
        for name in ("points", "colors"):
            t = getattr(self, name)
            moved = t.detach().to(device).requires_grad_(t.requires_grad)
            setattr(self, name, moved)
        self.contour_sizes = self.contour_sizes.to(device)
        self.contour_path = self.contour_path.to(device)
        self.evenodd = self.evenodd.to(device)
        return self

    def clone(self) -> Scene:
        """A deep copy with detached tensors (no gradients)."""
        return Scene(
            width=self.width,
            height=self.height,
            points=self.points.detach().clone(),
            colors=self.colors.detach().clone(),
            contour_sizes=self.contour_sizes.clone(),
            contour_path=self.contour_path.clone(),
            evenodd=self.evenodd.clone(),
            info=[PathInfo(p.id, p.groups) for p in self.info],
        )

    def subset(self, keep: torch.Tensor | Sequence[int]) -> Scene:
        """A new scene with only the paths ``keep`` (in their original paint order)."""
        keep_t = torch.as_tensor(keep, dtype=torch.int64, device=self.contour_path.device)
        keep_mask = torch.zeros(self.num_paths, dtype=torch.bool, device=keep_t.device)
        keep_mask[keep_t] = True
        contour_keep = keep_mask[self.contour_path]
        point_keep = torch.repeat_interleave(contour_keep, self.contour_sizes)
        remap = torch.cumsum(keep_mask.long(), 0) - 1
        idx = keep_mask.nonzero().flatten().tolist()
        return Scene(
            width=self.width,
            height=self.height,
            points=self.points.detach()[point_keep].clone(),
            colors=self.colors.detach()[keep_mask].clone(),
            contour_sizes=self.contour_sizes[contour_keep].clone(),
            contour_path=remap[self.contour_path[contour_keep]],
            evenodd=self.evenodd[keep_mask].clone(),
            info=[PathInfo(self.info[i].id, self.info[i].groups) for i in idx],
        )

    def __repr__(self) -> str:
        return (
            f"Scene({self.width:g}x{self.height:g}, {self.num_paths} paths, "
            f"{self.contour_sizes.numel()} contours, {self.points.shape[0]} points)"
        )


def concat_scenes(scenes: Sequence[Scene]) -> Scene:
    """Stack scenes of the same canvas, the first at the bottom."""
    if not scenes:
        raise ClipvgError("nothing to stack")
    w, h = scenes[0].width, scenes[0].height
    offsets = torch.cumsum(torch.tensor([0] + [s.num_paths for s in scenes[:-1]]), 0).tolist()
    return Scene(
        width=w,
        height=h,
        points=torch.cat([s.points.detach() for s in scenes]),
        colors=torch.cat([s.colors.detach() for s in scenes]),
        contour_sizes=torch.cat([s.contour_sizes for s in scenes]),
        contour_path=torch.cat([s.contour_path + o for s, o in zip(scenes, offsets)]),
        evenodd=torch.cat([s.evenodd for s in scenes]),
        info=[PathInfo(p.id, p.groups) for s in scenes for p in s.info],
    )

"""Stacking scenes: several scenes of one canvas into one, the first at the bottom."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields

import torch

from .errors import ClipvgError
from .scene import ClipPath, Scene
from .scene_tables import Gradients, Groups, PathInfo


def concat_scenes(scenes: Sequence[Scene]) -> Scene:
    """Stack scenes of the same canvas, the first at the bottom (tables re-indexed)."""
    if not scenes:
        raise ClipvgError("nothing to stack")
    w, h = scenes[0].width, scenes[0].height

    def offsets(counts: list[int]) -> list[int]:
        return torch.cumsum(torch.tensor([0] + counts[:-1]), 0).tolist()

    p_off = offsets([s.num_paths for s in scenes])
    k_off = offsets([len(s.gradients) for s in scenes])
    g_off = offsets([len(s.groups) for s in scenes])
    c_off = offsets([len(s.clips) for s in scenes])

    def shift(t: torch.Tensor, o: int, keep_below: int) -> torch.Tensor:
        return torch.where(t > keep_below, t + o, t)

    def cat(name: str) -> torch.Tensor:
        return torch.cat([getattr(s, name).detach() for s in scenes])

    grads = [s.gradients for s in scenes]
    groups = [s.groups for s in scenes]
    return Scene(
        width=w,
        height=h,
        points=cat("points"),
        colors=cat("colors"),
        contour_sizes=cat("contour_sizes"),
        contour_path=torch.cat([s.contour_path + o for s, o in zip(scenes, p_off)]),
        contour_closed=cat("contour_closed"),
        evenodd=cat("evenodd"),
        info=[PathInfo(p.id, p.groups) for s in scenes for p in s.info],
        fill_paint=torch.cat([shift(s.fill_paint, o, -1) for s, o in zip(scenes, k_off)]),
        stroke_paint=torch.cat([shift(s.stroke_paint, o, -1) for s, o in zip(scenes, k_off)]),
        path_clip=torch.cat([shift(s.path_clip, o, -1) for s, o in zip(scenes, c_off)]),
        path_group=torch.cat([shift(s.path_group, o, -1) for s, o in zip(scenes, g_off)]),
        **{
            name: cat(name)
            for name in (
                "stroke_colors",
                "stroke_widths",
                "linecap",
                "linejoin",
                "miter_limit",
                "dash_sizes",
                "dashes",
                "dash_offset",
                "stroke_first",
                "opacity",
            )
        },
        gradients=Gradients(
            **{
                f.name: torch.cat([getattr(g, f.name).detach() for g in grads])
                for f in fields(Gradients)
                if f.name != "ids"
            },
            ids=[i for g in grads for i in g.ids],
        ),
        groups=Groups(
            parent=torch.cat([shift(g.parent, o, -1) for g, o in zip(groups, g_off)]),
            opacity=torch.cat([g.opacity.detach() for g in groups]),
            clip=torch.cat([shift(g.clip, o, -1) for g, o in zip(groups, c_off)]),
            ids=[i for g in groups for i in g.ids],
            labels=[i for g in groups for i in g.labels],
            attrs=[dict(a) for g in groups for a in g.attrs],
        ),
        clips=[
            ClipPath(c.scene.clone(), c.clip + o if c.clip >= 0 else -1, c.id)
            for s, o in zip(scenes, c_off)
            for c in s.clips
        ],
    )

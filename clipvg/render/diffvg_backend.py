"""Optional backend: render a Scene with diffvg (pydiffvg), for users who have it built."""

from __future__ import annotations

import torch

from ..errors import ClipvgError
from ..scene import Scene


def _import_pydiffvg():
    try:
        import pydiffvg  # type: ignore[import-not-found]
    except ImportError as exc:
        raise ClipvgError(
            "the diffvg backend needs pydiffvg, which is not importable here "
            f"({exc}); build it from https://github.com/BachiLi/diffvg or use --backend torch"
        ) from None
    return pydiffvg


def render_diffvg(
    scene: Scene, width: int, height: int, background: tuple[float, float, float] | None
) -> torch.Tensor:
    """Render with diffvg: (H, W, 3) over ``background``, or (H, W, 4) straight RGBA if None.

    Each path becomes one diffvg Path per contour, grouped into one ShapeGroup per
    path, so fill rules and paint order match the torch backend.
    """
    pydiffvg = _import_pydiffvg()
    scale = torch.tensor([width / scene.width, height / scene.height], device=scene.device)
    points = scene.points * scale
    shapes, groups = [], []
    offsets = scene.contour_offsets().tolist()
    sizes = scene.contour_sizes.tolist()
    owner = scene.contour_path.tolist()
    for c, (start, size) in enumerate(zip(offsets, sizes)):
        contour = points[start : start + size]
        shapes.append(
            pydiffvg.Path(
                num_control_points=torch.full((size // 3,), 2, dtype=torch.int32),
                points=contour,
                stroke_width=torch.tensor(0.0),
                is_closed=True,
            )
        )
        if c == 0 or owner[c] != owner[c - 1]:
            groups.append([c])
        else:
            groups[-1].append(c)
    shape_groups = [
        pydiffvg.ShapeGroup(
            shape_ids=torch.tensor(ids),
            fill_color=scene.colors[owner[ids[0]]],
            use_even_odd_rule=bool(scene.evenodd[owner[ids[0]]]),
        )
        for ids in groups
    ]
    args = pydiffvg.RenderFunction.serialize_scene(width, height, shapes, shape_groups)
    rgba = pydiffvg.RenderFunction.apply(width, height, 2, 2, 0, None, *args)  # premultiplied
    if background is None:
        alpha = rgba[..., 3:]
        return torch.cat([rgba[..., :3] / alpha.clamp(min=1e-8), alpha], -1).clamp(0, 1)
    bg = torch.tensor(background, dtype=rgba.dtype, device=rgba.device)
    return rgba[..., :3] + (1 - rgba[..., 3:]) * bg

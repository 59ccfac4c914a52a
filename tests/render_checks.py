"""Helpers for the stroke / paint / clip render tests: builders and finite differences."""

from __future__ import annotations

import pytest
import torch

from clipvg.render import render
from clipvg.scene import PAINT_FLAT, PAINT_NONE, Scene


def line(p, q) -> torch.Tensor:
    """An open straight cubic from ``p`` to ``q``: (4, 2) float64."""
    p, q = torch.as_tensor(p, dtype=torch.float64), torch.as_tensor(q, dtype=torch.float64)
    return torch.stack([p, p + (q - p) / 3, p + 2 * (q - p) / 3, q])


def polyline(vertices) -> torch.Tensor:
    """An open polyline as a cubic chain: (3n + 1, 2) float64."""
    v = torch.as_tensor(vertices, dtype=torch.float64)
    chain = [line(a, b)[:3] for a, b in zip(v[:-1], v[1:])]
    return torch.cat(chain + [v[-1:]])


def stroked(width, height, contours, closed, stroke_width, fill=False, **fields) -> Scene:
    """One black stroked path (no fill unless ``fill``), float64."""
    scene = Scene.from_paths(
        width,
        height,
        [contours],
        [[0.0, 0.0, 0.0, 1.0]],
        closed=[closed],
        fill_paint=[PAINT_FLAT if fill else PAINT_NONE],
        stroke_paint=[PAINT_FLAT],
        stroke_widths=[stroke_width],
        **fields,
    )
    return scene.to_dtype(torch.float64)


def coverage(scene: Scene, **kw) -> torch.Tensor:
    """1 - red channel of a render over white: the coverage of black paint."""
    return 1 - render(scene, **kw)[..., 0]


def check_derivatives(
    scene: Scene, tensor_of, indices, step=1e-5, size=None, seed=0, min_checked=None
):
    """Autograd against central differences of ``sum(render * weights)`` in float64.

    Args:
        tensor_of: ``scene -> tensor`` picking the leaf to differentiate.
        indices: entries of that tensor to check.
    """
    h = size or int(scene.height)
    w = int(round(h * scene.width / scene.height))
    gen = torch.Generator().manual_seed(seed)
    weights = torch.rand(h, w, 3, generator=gen, dtype=torch.float64)

    def loss(s: Scene) -> torch.Tensor:
        return (render(s, w, h) * weights).sum()

    base = scene.to_dtype(torch.float64)
    leaf = tensor_of(base)
    leaf.requires_grad_(True)
    loss(base).backward()
    grad = leaf.grad.clone()
    checked = 0
    for index in indices:
        values = []
        for sign in (1, -1):
            s = base.to_dtype(torch.float64)
            with torch.no_grad():
                tensor_of(s)[index] += sign * step
            values.append(loss(s).item())
        fd = (values[0] - values[1]) / (2 * step)
        if abs(fd) < 1e-3:
            continue
        # 2%: the central difference's truncation where a step crosses a pixel edge.
        assert grad[index].item() == pytest.approx(fd, rel=0.02, abs=1e-3), f"index {index}"
        checked += 1
    assert checked >= (min_checked if min_checked is not None else max(1, len(indices) // 2))

"""Small geometry builders shared by the tests (closed cubic chains)."""

from __future__ import annotations

import math

import torch

from clipvg.scene import Scene

KAPPA = 4 * (math.sqrt(2) - 1) / 3  # cubic control distance for a quarter circle


def reverse_chain(chain: torch.Tensor) -> torch.Tensor:
    """The same closed cubic chain walked the other way, starting at the same point."""
    n = len(chain) // 3
    anchors, ca, cb = chain[0::3], chain[1::3], chain[2::3]
    out = []
    for j in range(n):
        out += [anchors[(n - j) % n], cb[n - 1 - j], ca[n - 1 - j]]
    return torch.stack(out)


def polygon(vertices, reverse: bool = False) -> torch.Tensor:
    """A closed polygon as a cubic chain: (3n, 2) float64."""
    v = torch.as_tensor(vertices, dtype=torch.float64)
    nxt = torch.roll(v, -1, 0)
    chain = torch.stack([v, v + (nxt - v) / 3, v + 2 * (nxt - v) / 3], 1).reshape(-1, 2)
    return reverse_chain(chain) if reverse else chain


def rect(x, y, w, h, reverse: bool = False) -> torch.Tensor:
    return polygon([(x, y), (x + w, y), (x + w, y + h), (x, y + h)], reverse)


def circle(cx, cy, r, reverse: bool = False) -> torch.Tensor:
    """Four cubic arcs, clockwise on screen (y down) unless reversed: (12, 2) float64."""
    k = KAPPA * r
    pts = [
        (cx + r, cy),
        (cx + r, cy + k),
        (cx + k, cy + r),
        (cx, cy + r),
        (cx - k, cy + r),
        (cx - r, cy + k),
        (cx - r, cy),
        (cx - r, cy - k),
        (cx - k, cy - r),
        (cx, cy - r),
        (cx + k, cy - r),
        (cx + r, cy - k),
    ]
    chain = torch.tensor(pts, dtype=torch.float64)
    return reverse_chain(chain) if reverse else chain


def scene_of(width, height, contours_per_path, colors, evenodd=None, dtype=torch.float64) -> Scene:
    """A scene in ``dtype`` (float64 by default, for finite differences)."""
    scene = Scene.from_paths(width, height, contours_per_path, colors, evenodd)
    scene.points = scene.points.to(dtype)
    scene.colors = scene.colors.to(dtype)
    return scene

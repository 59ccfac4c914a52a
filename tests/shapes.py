"""Small geometry builders shared by the tests (closed cubic chains)."""

from __future__ import annotations

import math

import torch

from clipvg.chains import reverse_chain, straight_chain
from clipvg.scene import Scene

KAPPA = 4 * (math.sqrt(2) - 1) / 3  # cubic control distance for a quarter circle


def polygon(vertices, reverse: bool = False) -> torch.Tensor:
    """A closed polygon as a cubic chain: (3n, 2) float64."""
    chain = straight_chain(torch.as_tensor(vertices, dtype=torch.float64))
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

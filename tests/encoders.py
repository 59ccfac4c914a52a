"""Test fixtures shared by the edit tests: simple scenes and an analytic CLIP stand-in."""

from __future__ import annotations

import re

import torch

from clipvg.scene import Scene


def square(x: float, y: float, s: float) -> torch.Tensor:
    """(12, 2) closed cubic chain of an axis-aligned square, clockwise from the top-left."""
    corners = torch.tensor([[x, y], [x + s, y], [x + s, y + s], [x, y + s]])
    pts = []
    for i in range(4):
        a, b = corners[i], corners[(i + 1) % 4]
        pts += [a, a + (b - a) / 3, a + 2 * (b - a) / 3]
    return torch.stack(pts)


def two_boxes(size: int = 64) -> Scene:
    """Gray square on the left half, gray square on the right half, white canvas.

    Edges sit off the pixel grid (+0.25) on purpose."""
    q = size / 4
    return Scene.from_paths(
        size,
        size,
        [[square(q * 0.5 + 0.25, q + 0.25, q * 1.5)], [square(q * 2.25 + 0.25, q + 0.25, q * 1.5)]],
        [[0.5, 0.5, 0.5, 1.0], [0.5, 0.5, 0.5, 1.0]],
    )


COLORS = {"red": (1.0, 0.0, 0.0), "blue": (0.0, 0.0, 1.0), "green": (0.0, 1.0, 0.0)}


class MeanColorEncoder:
    """Analytic CLIP stand-in: an image crop's feature is its mean color; a text's
    feature is the color it names (gray when it names none, e.g. the source "photo")."""

    image_size = 16

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        return images.mean(dim=(2, 3))

    def encode_text(self, texts):
        out = []
        for t in texts:
            hit = [c for w, c in COLORS.items() if re.search(rf"\b{w}\b", t)]
            out.append(hit[0] if hit else (0.45, 0.5, 0.55))
        return torch.tensor(out)

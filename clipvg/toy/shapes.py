"""The toy shapes as closed cubic chains (see :mod:`clipvg.scene` for the layout).

Every shape's outer contour has :data:`SEGMENTS` cubic segments, starting at the top and
running clockwise on screen, so that two shapes of the same centre and size morph point
by point (:func:`morph`). Shapes are built in unit coordinates (radius 1 about the
origin) and placed with :func:`place`.
"""

from __future__ import annotations

import math

import numpy as np

from ..chains import reverse_chain, straight_chain

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star", "heart", "ring")
#: Cubic segments of every outer contour.
SEGMENTS = 20
#: Ring hole radius, as a fraction of the outer radius, at the default line width.
RING_HOLE = 0.55


def _polygon_chain(vertices: np.ndarray, segments: int = SEGMENTS) -> np.ndarray:
    """A closed polygon resampled to ``segments`` straight cubic segments, every vertex an
    anchor (segments spread over the edges by length): (3 * segments, 2)."""
    v = np.asarray(vertices, dtype=np.float64)
    nxt = np.roll(v, -1, 0)
    lengths = np.linalg.norm(nxt - v, axis=1)
    counts = np.maximum(1, np.floor(lengths / lengths.sum() * segments).astype(int))
    while counts.sum() < segments:  # hand the remainder to the longest pieces
        counts[np.argmax(lengths / counts)] += 1
    anchors = np.concatenate(
        [a + (b - a) * (np.arange(n)[:, None] / n) for a, b, n in zip(v, nxt, counts)]
    )
    return straight_chain(anchors)


def _smooth_chain(anchors: np.ndarray) -> np.ndarray:
    """A closed Catmull-Rom curve through ``anchors`` (n, 2) as cubics: (3n, 2)."""
    p = np.asarray(anchors, dtype=np.float64)
    prev, nxt, nxt2 = np.roll(p, 1, 0), np.roll(p, -1, 0), np.roll(p, -2, 0)
    return np.stack([p, p + (nxt - prev) / 6, nxt - (nxt2 - p) / 6], 1).reshape(-1, 2)


def _circle(radius: float = 1.0, segments: int = SEGMENTS) -> np.ndarray:
    """An exact-tangent cubic circle, first anchor at the top, clockwise on screen."""
    t = -math.pi / 2 + 2 * math.pi * np.arange(segments) / segments
    k = 4 / 3 * math.tan(math.pi / (2 * segments)) * radius
    p = radius * np.stack([np.cos(t), np.sin(t)], 1)
    tangent = np.stack([-np.sin(t), np.cos(t)], 1)
    after = np.roll(p, -1, 0)
    after_t = np.roll(tangent, -1, 0)
    return np.stack([p, p + k * tangent, after - k * after_t], 1).reshape(-1, 2)


def _star(inner: float = 0.45) -> np.ndarray:
    t = -math.pi / 2 + math.pi * np.arange(10) / 5
    r = np.where(np.arange(10) % 2 == 0, 1.0, inner)
    return _polygon_chain(np.stack([r * np.cos(t), r * np.sin(t)], 1))


def _heart() -> np.ndarray:
    # The classic parametric heart, sampled evenly in parameter from its top dip.
    t = 2 * np.pi * np.arange(SEGMENTS) / SEGMENTS
    x = 16 * np.sin(t) ** 3
    y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    pts = np.stack([x, y], 1)  # clockwise on screen (y down), from the dip
    pts -= (pts.max(0) + pts.min(0)) / 2
    return _smooth_chain(pts / np.abs(pts).max())


def outline(shape: str, line_width: float = 1 - RING_HOLE) -> list[np.ndarray]:
    """The contours of ``shape`` in unit coordinates (about radius 1), each (3n, 2).

    ``line_width`` is the ring's stroke as a fraction of its radius (other shapes are
    filled). A ring's hole is its second contour, walked the other way.
    """
    if shape == "circle":
        return [_circle()]
    if shape == "square":
        s = 0.85
        return [_polygon_chain([(0, -s), (s, -s), (s, s), (-s, s), (-s, -s)])]
    if shape == "triangle":
        t = -math.pi / 2 + 2 * math.pi * np.arange(3) / 3
        return [_polygon_chain(np.stack([np.cos(t), np.sin(t) + 0.2], 1))]
    if shape == "star":
        return [_star()]
    if shape == "heart":
        return [_heart()]
    if shape == "ring":
        hole = _circle(1.0 - line_width)
        return [_circle(), reverse_chain(hole)]
    raise ValueError(f"unknown shape {shape!r}; known: {', '.join(SHAPES)}")


def place(
    contours: list[np.ndarray], cx: float, cy: float, radius: float, angle: float = 0.0
) -> list[np.ndarray]:
    """Rotate unit contours by ``angle`` (radians), scale by ``radius``, move to (cx, cy)."""
    c, s = math.cos(angle), math.sin(angle)
    rot = np.array([[c, -s], [s, c]])
    return [radius * (k @ rot.T) + np.array([cx, cy]) for k in contours]


def morph(a: str, b: str, t: float) -> list[np.ndarray]:
    """The outer contour of shape ``a`` moved a fraction ``t`` in [0, 1] of the way to
    shape ``b``, point by point (rings morph their outer contour only)."""
    return [(1 - t) * outline(a)[0] + t * outline(b)[0]]

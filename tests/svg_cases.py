"""Shared helpers of the SVG import tests: documents, loading, cubic segments."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from tolerance import U32

from clipvg.scene import Scene
from clipvg.svg import parse_svg_string

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data" / "svg"
REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "svg"
NS = "{http://www.w3.org/2000/svg}"


def doc(body: str, attrs: str = 'width="100" height="100"') -> str:
    return f'<svg xmlns="http://www.w3.org/2000/svg" {attrs}>{body}</svg>'


def load(body: str, attrs: str = 'width="100" height="100"', **kw) -> Scene:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no case in these tables should warn
        return parse_svg_string(doc(body, attrs), **kw)


def coord_tolerance(magnitude: float) -> float:
    """Error of float32 points of size <= ``magnitude`` after the importer's < 16
    roundings (parsing, transforms, quadratic/arc to cubic)."""
    return 16 * magnitude * U32


def segments(scene: Scene, contour: int = 0) -> np.ndarray:
    """(n, 4, 2) float64 cubic control points of one contour (closed or open)."""
    start = int(scene.contour_offsets()[contour])
    c = scene.points[start : start + int(scene.contour_sizes[contour])].double().numpy()
    ring = np.concatenate([c, c[:1]]) if bool(scene.contour_closed[contour]) else c
    return np.stack([ring[0:-1:3], ring[1::3], ring[2::3], ring[3::3]], axis=1)


def effective_opacity(scene: Scene, i: int) -> float:
    """Path ``i``'s own ``opacity`` times that of every group around it."""
    opacity = float(scene.opacity[i])
    g = int(scene.path_group[i])
    while g >= 0:
        opacity *= float(scene.groups.opacity[g])
        g = int(scene.groups.parent[g])
    return opacity


def sample(segs: np.ndarray, k: int = 17) -> np.ndarray:
    """(n * k, 2) points on the cubic segments."""
    t = np.linspace(0, 1, k)[None, :, None]
    p0, p1, p2, p3 = (segs[:, i, None, :] for i in range(4))
    pts = (1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * p1 + 3 * (1 - t) * t**2 * p2 + t**3 * p3
    return pts.reshape(-1, 2)


def line(a, b):
    a, b = np.array(a, float), np.array(b, float)
    return [a, a + (b - a) / 3, a + 2 * (b - a) / 3, b]


def quad(a, q, b):
    a, q, b = (np.array(v, float) for v in (a, q, b))
    return [a, a + 2 * (q - a) / 3, b + 2 * (q - b) / 3, b]


def cubic(*pts):
    return [np.array(p, float) for p in pts]


TRIANGLE = [line((10, 20), (30, 20)), line((30, 20), (30, 40)), line((30, 40), (10, 20))]
QUAD = [quad((0, 0), (50, 100), (100, 0)), line((100, 0), (0, 0))]
QUAD_T = [
    quad((0, 0), (50, 100), (100, 0)),
    quad((100, 0), (150, -100), (200, 0)),
    line((200, 0), (0, 0)),
]
CUBIC_S = [
    cubic((0, 0), (0, 50), (50, 50), (50, 0)),
    cubic((50, 0), (50, -50), (100, -50), (100, 0)),
    line((100, 0), (0, 0)),
]

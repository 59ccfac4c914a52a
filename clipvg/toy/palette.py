"""The 11 basic colour terms (Berlin & Kay): prototypes, CIELAB centroids, sampling.

Colours are named by the nearest CIELAB centroid (CIE 1976 distance), both when the
generator names what it drew and when the judge names what it sees.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
from skimage.color import lab2rgb, rgb2lab

#: Basic colour terms and their sRGB prototypes in [0, 1].
PROTOTYPES: dict[str, tuple[float, float, float]] = {
    "red": (0.86, 0.08, 0.08),
    "orange": (1.0, 0.55, 0.05),
    "yellow": (1.0, 0.92, 0.12),
    "green": (0.12, 0.62, 0.16),
    "blue": (0.1, 0.25, 0.9),
    "purple": (0.5, 0.14, 0.66),
    "pink": (1.0, 0.6, 0.76),
    "brown": (0.5, 0.29, 0.1),
    "black": (0.05, 0.05, 0.05),
    "white": (0.97, 0.97, 0.97),
    "gray": (0.52, 0.52, 0.52),
}
COLOR_TERMS: tuple[str, ...] = tuple(PROTOTYPES)
ACHROMATIC = ("black", "white", "gray")
#: (11, 3) CIELAB centroids (D65) of the prototypes, in ``COLOR_TERMS`` order.
LAB_CENTROIDS = rgb2lab(np.array(list(PROTOTYPES.values()))[None])[0]


def to_lab(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) sRGB in [0, 1] -> (..., 3) CIELAB."""
    rgb = np.clip(np.asarray(rgb, dtype=np.float64), 0, 1)
    shape = rgb.shape
    return rgb2lab(rgb.reshape(1, -1, 3))[0].reshape(shape)


def nearest_term(rgb) -> str:
    """The basic colour term whose CIELAB centroid is nearest to one sRGB colour."""
    lab = to_lab(np.asarray(rgb, dtype=np.float64).reshape(3))
    return COLOR_TERMS[int(np.argmin(((LAB_CENTROIDS - lab) ** 2).sum(-1)))]


def term_distances(rgb) -> np.ndarray:
    """(11,) CIELAB distances of one sRGB colour to every term's centroid."""
    lab = to_lab(np.asarray(rgb, dtype=np.float64).reshape(3))
    return np.sqrt(((LAB_CENTROIDS - lab) ** 2).sum(-1))


#: How much nearer a colour must be to its term's centroid than to any other's
#: (CIELAB units) to count as surely named.
NAME_MARGIN = 3.0


def surely_named(rgb, term: str) -> bool:
    """Whether the nearest-centroid rule names one sRGB colour ``term``, with a margin
    of :data:`NAME_MARGIN` to the next nearest term."""
    d = term_distances(rgb)
    order = np.argsort(d)
    return COLOR_TERMS[order[0]] == term and d[order[1]] - d[order[0]] > NAME_MARGIN


def sample_color(term: str, rng: np.random.Generator, spread: float = 14.0) -> np.ndarray:
    """A colour drawn continuously around ``term``: its centroid plus Gaussian CIELAB
    noise of ``spread`` (L* at half of it, a* b* at a third for the achromatic terms), kept in gamut and named ``term`` by the
    nearest centroid, with a margin of 3 units so that naming is unambiguous.

    Returns:
        (3,) float64 sRGB in [0, 1].
    """
    centre = LAB_CENTROIDS[COLOR_TERMS.index(term)]
    chroma = spread if term not in ACHROMATIC else spread / 3
    scale = np.array([spread / 2, chroma, chroma])
    for _ in range(200):
        lab = centre + rng.normal(0.0, 1.0, 3) * scale
        with warnings.catch_warnings():  # out-of-gamut draws warn; they are rejected below
            warnings.simplefilter("ignore")
            rgb = np.clip(lab2rgb(lab[None, None])[0, 0], 0, 1)
        if np.abs(to_lab(rgb) - lab).max() > 1.0:  # out of the sRGB gamut
            continue
        if surely_named(rgb, term):
            return np.clip(rgb, 0, 1)
    return np.array(PROTOTYPES[term])


#: Side of the sRGB grid that :func:`sample_in_cell` draws from (steps of 1/32).
_GRID = 33


@functools.cache
def _cells() -> dict[str, np.ndarray]:
    """Per term, the (M, 3) sRGB grid colours :func:`surely_named` that term (all at
    once)."""
    axis = np.linspace(0.0, 1.0, _GRID)
    grid = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), -1).reshape(-1, 3)
    d = np.sqrt(((to_lab(grid)[:, None, :] - LAB_CENTROIDS[None]) ** 2).sum(-1))
    order = np.sort(d, 1)
    sure = order[:, 1] - order[:, 0] > NAME_MARGIN
    nearest = d.argmin(1)
    return {t: grid[sure & (nearest == i)] for i, t in enumerate(COLOR_TERMS)}


def sample_in_cell(term: str, rng: np.random.Generator) -> np.ndarray:
    """A colour drawn from anywhere the nearest-centroid rule names ``term`` (its whole
    cell of the sRGB cube, not only near the prototype), with a margin of 3 units: a
    grid colour of the cell, jittered by up to half a grid step and named again.

    Returns:
        (3,) float64 sRGB in [0, 1].
    """
    cell = _cells()[term]
    half = 0.5 / (_GRID - 1)
    for _ in range(50):
        rgb = np.clip(cell[rng.integers(len(cell))] + rng.uniform(-half, half, 3), 0, 1)
        if surely_named(rgb, term):
            return rgb
    return cell[rng.integers(len(cell))]

"""Procedural captioned scenes: 1 to 3 toy objects on a plain background.

A :class:`SceneSpec` says what is drawn (ground truth for the judge and the captions);
:func:`build_scene` turns it into a :class:`~clipvg.scene.Scene` (path 0 is the
background rectangle, then one path per object, in spec order) that our renderer draws.
All randomness comes from an explicit ``numpy.random.Generator``.

Layout: one object sits at one of the five :data:`POSITIONS`; two objects sit left and
right or top and bottom; three sit left, centre and right. :func:`position_term` is the
rule that names a position from an object's centre, for the generator and the judge alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from ..chains import straight_chain
from ..render import render
from ..scene import Scene
from ..scene_stack import concat_scenes
from .palette import COLOR_TERMS, sample_color, sample_in_cell, to_lab
from .shapes import RING_HOLE, SHAPES, morph, outline, place

POSITIONS: tuple[str, ...] = ("left", "right", "top", "bottom", "centre")
#: How each position reads in a caption.
POSITION_PHRASES = {
    "left": "on the left",
    "right": "on the right",
    "top": "at the top",
    "bottom": "at the bottom",
    "centre": "in the centre",
}
#: Offsets (fractions of the canvas) of the five positions from the canvas centre.
_OFFSETS = {
    "left": (-0.25, 0),
    "right": (0.25, 0),
    "top": (0, -0.25),
    "bottom": (0, 0.25),
    "centre": (0, 0),
}
#: An object whose centre is within this fraction of the canvas centre (both axes) is in the centre.
CENTRE_BAND = 0.12
#: Smallest CIELAB distance between an object's colour and the background's.
MIN_CONTRAST = 30.0


def position_term(x: float, y: float) -> str:
    """Name the position of a point given as fractions (x right, y down) of the canvas."""
    dx, dy = x - 0.5, y - 0.5
    if max(abs(dx), abs(dy)) < CENTRE_BAND:
        return "centre"
    if abs(dx) >= abs(dy):
        return "left" if dx < 0 else "right"
    return "top" if dy < 0 else "bottom"


@dataclass(frozen=True)
class ObjectSpec:
    """One object: shape, colour (its term and exact sRGB), centre and radius as
    fractions of the canvas, rotation (radians), for rings the line width (fraction of
    the radius), and the fill's alpha (the term then names the colour composited over
    the background, as the judge sees it). Training variety (:class:`Variety`): the
    outline moved ``morph_t`` of the way toward shape ``morph_to`` (still named
    ``shape``), and its points displaced by Gaussian noise of ``wobble`` (a fraction of
    the radius) drawn from ``wobble_seed``."""

    shape: str
    color: str
    rgb: tuple[float, float, float]
    cx: float
    cy: float
    radius: float
    angle: float = 0.0
    line_width: float = 1 - RING_HOLE
    alpha: float = 1.0
    morph_to: str = ""
    morph_t: float = 0.0
    wobble: float = 0.0
    wobble_seed: int = 0

    @property
    def position(self) -> str:
        return position_term(self.cx, self.cy)

    @property
    def box(self) -> tuple[float, float, float, float]:
        """(x, y, w, h) box around the object, as fractions of the canvas, with margin."""
        r = self.radius * 1.25
        return (self.cx - r, self.cy - r, 2 * r, 2 * r)

    def phrase(self) -> str:
        """``"a red star"``."""
        return f"{article(self.color)} {self.color} {self.shape}"


@dataclass(frozen=True)
class SceneSpec:
    """What a toy scene shows: background colour and 1 to 3 objects (left to right or
    top to bottom)."""

    background: str
    background_rgb: tuple[float, float, float]
    objects: tuple[ObjectSpec, ...] = field(default_factory=tuple)

    def with_object(self, i: int, **changes) -> SceneSpec:
        """The same scene with object ``i`` changed (``shape=``, ``color=``, ``rgb=`` ...)."""
        objs = list(self.objects)
        objs[i] = replace(objs[i], **changes)
        return replace(self, objects=tuple(objs))


def article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def build_scene(spec: SceneSpec, size: float = 64.0) -> Scene:
    """The spec as a ``size`` x ``size`` :class:`Scene`: path 0 the background, then the objects."""
    s = float(size)
    bg = np.array([[0, 0], [s, 0], [s, s], [0, s]], dtype=np.float64)
    paths = [[straight_chain(bg)]]
    colors = [(*spec.background_rgb, 1.0)]
    evenodd = [False]
    for o in spec.objects:
        unit = object_outline(o)
        paths.append(place(unit, o.cx * s, o.cy * s, o.radius * s, o.angle))
        colors.append((*o.rgb, o.alpha))
        evenodd.append(o.shape == "ring")
    return Scene.from_paths(
        s, s, [[torch.from_numpy(c).float() for c in p] for p in paths], colors, evenodd
    )


def object_outline(o: ObjectSpec) -> list[np.ndarray]:
    """The object's contours in unit coordinates, morphed and wobbled as it says."""
    unit = outline(o.shape, o.line_width)
    if o.morph_to and o.morph_t > 0:
        unit = [morph(o.shape, o.morph_to, o.morph_t)[0], *unit[1:]]
    if o.wobble > 0:
        noise = np.random.default_rng(o.wobble_seed)
        unit = [c + noise.normal(0.0, o.wobble, c.shape) for c in unit]
    return unit


@dataclass(frozen=True)
class Variety:
    """Training variety beyond the default draws (all shares 0: the default scenes).

    ``cell_share``: colours drawn from the term's whole nearest-centroid cell
    (:func:`~clipvg.toy.palette.sample_in_cell`) instead of around its prototype;
    ``morph_share``: objects moved up to ``max_morph`` of the way toward another shape
    (rings neither morph nor are morphed toward); ``wobble_share``: objects whose points
    carry noise of up to ``max_wobble`` of the radius (an edit's ragged outlines);
    ``zoom_share``: single objects drawn large in the centre (radius 0.3-0.42 of the
    canvas), as a region's box or a patch frames an object."""

    cell_share: float = 0.0
    morph_share: float = 0.0
    max_morph: float = 0.3
    wobble_share: float = 0.0
    max_wobble: float = 0.05
    zoom_share: float = 0.0

    def color(self, term: str, rng: np.random.Generator) -> np.ndarray:
        if self.cell_share and rng.random() < self.cell_share:
            return sample_in_cell(term, rng)
        return sample_color(term, rng)

    def shape_changes(self, shape: str, rng: np.random.Generator) -> dict:
        changes: dict = {}
        if self.morph_share and shape != "ring" and rng.random() < self.morph_share:
            others = [s for s in SHAPES if s not in (shape, "ring")]
            changes["morph_to"] = others[int(rng.integers(len(others)))]
            changes["morph_t"] = float(rng.uniform(0.0, self.max_morph))
        if self.wobble_share and rng.random() < self.wobble_share:
            changes["wobble"] = float(rng.uniform(0.0, self.max_wobble))
            changes["wobble_seed"] = int(rng.integers(2**31))
        return changes


def render_spec(spec: SceneSpec, size: int = 64, samples: int = 1) -> torch.Tensor:
    """Render a spec at ``size`` px: (size, size, 3) float32 in [0, 1]."""
    with torch.no_grad():
        return render(build_scene(spec, size), size, size, samples=samples)


def render_specs(specs: list[SceneSpec], size: int = 64, columns: int = 8) -> torch.Tensor:
    """Render many specs at ``size`` px: (N, size, size, 3) float32 in [0, 1].

    The scenes are tiled ``columns`` to a row into one canvas and rendered in one call
    (a few times faster than one call each); every tile is pixel-aligned, so each scene
    renders as it would alone.
    """
    out = []
    for start in range(0, len(specs), columns * columns):
        chunk = specs[start : start + columns * columns]
        rows = math.ceil(len(chunk) / columns)
        tiles = []
        for i, spec in enumerate(chunk):
            scene = build_scene(spec, size)
            offset = torch.tensor(
                [(i % columns) * size, (i // columns) * size], dtype=torch.float32
            )
            scene.points = scene.points + offset
            tiles.append(scene)
        big = concat_scenes(tiles)
        big.width, big.height = float(columns * size), float(rows * size)
        with torch.no_grad():
            image = render(big, columns * size, rows * size)
        grid = image.reshape(rows, size, columns, size, 3).permute(0, 2, 1, 3, 4)
        out.append(grid.reshape(rows * columns, size, size, 3)[: len(chunk)])
    return torch.cat(out) if out else torch.zeros(0, size, size, 3)


def contrasting_color(
    term: str, others: list, rng: np.random.Generator, draw=sample_color, tries: int = 50
) -> tuple[np.ndarray, bool]:
    """A colour around ``term`` (``draw(term, rng)``) at least :data:`MIN_CONTRAST`
    CIELAB units from every sRGB colour in ``others``, and whether one was found; after
    ``tries`` failed draws, the last draw and False."""
    labs = [to_lab(np.asarray(o)) for o in others]
    for _ in range(tries):
        rgb = draw(term, rng)
        lab = to_lab(rgb)
        if all(np.linalg.norm(lab - o) >= MIN_CONTRAST for o in labs):
            return rgb, True
    return rgb, False


def _distinct(rng: np.random.Generator, n: int, exclude: str) -> list[str]:
    pool = [t for t in COLOR_TERMS if t != exclude]
    return [pool[i] for i in rng.choice(len(pool), size=n, replace=False)]


def sample_spec(
    rng: np.random.Generator,
    count: int | None = None,
    shapes: tuple[str, ...] = SHAPES,
    variety: Variety | None = None,
) -> SceneSpec:
    """A random scene: 1 object half the time, 2 or 3 otherwise (or ``count``).

    Colours are sampled continuously around distinct terms, at least
    :data:`MIN_CONTRAST` CIELAB units from the background's colour. ``variety``: more
    varied colours and outlines (None draws exactly what it always did).
    """
    draw_color = variety.color if variety else sample_color
    if count is None:
        count = int(rng.choice([1, 2, 3], p=[0.5, 0.3, 0.2]))
    bg_term = COLOR_TERMS[rng.integers(len(COLOR_TERMS))]
    bg_rgb = draw_color(bg_term, rng)
    if count == 1:
        pos = POSITIONS[rng.integers(len(POSITIONS))]
        radius = rng.uniform(0.16, 0.3 if pos == "centre" else 0.22)
        if variety and variety.zoom_share and rng.random() < variety.zoom_share:
            pos, radius = "centre", rng.uniform(0.3, 0.42)  # as a region's box frames it
        centres = [_OFFSETS[pos]]
        jitter = 0.04
    elif count == 2:
        radius = rng.uniform(0.12, 0.2)
        centres = [(-0.23, 0), (0.23, 0)] if rng.random() < 0.5 else [(0, -0.23), (0, 0.23)]
        jitter = 0.03
    else:
        radius = rng.uniform(0.08, 0.13)
        centres = [(-0.32, 0), (0, 0), (0.32, 0)]
        jitter = 0.02
    objects = []
    for term, (ox, oy) in zip(_distinct(rng, count, bg_term), centres):
        rgb, _ = contrasting_color(term, [bg_rgb], rng, draw_color)
        shape = shapes[rng.integers(len(shapes))]
        r = radius * rng.uniform(0.85, 1.15) if count > 1 else radius
        objects.append(
            ObjectSpec(
                shape=shape,
                color=term,
                rgb=tuple(float(v) for v in rgb),
                cx=0.5 + ox + rng.uniform(-jitter, jitter),
                cy=0.5 + oy + rng.uniform(-jitter, jitter),
                radius=float(r),
                angle=float(rng.uniform(-0.2, 0.2)) if shape != "circle" else 0.0,
                line_width=float(rng.uniform(0.3, 0.6)),
                **(variety.shape_changes(shape, rng) if variety else {}),
            )
        )
    return SceneSpec(bg_term, tuple(float(v) for v in bg_rgb), tuple(objects))


def caption(spec: SceneSpec, rng: np.random.Generator, background: bool | None = None) -> str:
    """One caption of the scene, from several templates (layout words, an optional
    background clause, an optional "a drawing of" wrapper). ``background``: True or
    False forces the background clause in or out (None: half the time); the same
    random draws are made either way, so that two scenes captioned from equal generator
    states get the same template."""
    objs = spec.objects
    names = [o.phrase() for o in objs]
    k = rng.integers(3)
    if len(objs) == 1:
        o = objs[0]
        text = names[0] if k == 0 else f"{names[0]} {POSITION_PHRASES[o.position]}"
        if k == 2:
            text = f"{names[0]}"
    elif len(objs) == 2:
        a, b = names
        pa, pb = (POSITION_PHRASES[o.position] for o in objs)
        horizontal = objs[0].position in ("left", "right")
        if k == 0:
            text = f"{a} and {b}"
        elif k == 1:
            text = f"{a} {pa} and {b} {pb}"
        else:
            text = f"{b} {pb} and {a} {pa}" if horizontal else f"{a} above {b}"
    else:
        a, b, c = names
        text = (
            f"{a}, {b} and {c}"
            if k < 2
            else f"{a} on the left, {b} in the centre and {c} on the right"
        )
    with_background = rng.random() < 0.5
    if with_background if background is None else background:
        text += f" on {article(spec.background)} {spec.background} background"
    wrap = rng.integers(5)
    if wrap == 1:
        text = f"a drawing of {text}"
    elif wrap == 2:
        text = f"a picture of {text}"
    elif wrap == 3:
        text = f"an illustration of {text}"
    return text


def color_distance(a, b) -> float:
    """CIELAB distance between two sRGB colours."""
    return float(math.dist(to_lab(np.asarray(a)), to_lab(np.asarray(b))))

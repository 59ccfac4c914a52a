"""Tests for clipvg.svg: real-world SVG import, svgwrite export, hostile input."""

from __future__ import annotations

import io
import math
import subprocess
import sys
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import torch
from tolerance import U32

from clipvg.errors import ClipvgError
from clipvg.scene import PathInfo, Scene
from clipvg.svg import SvgLimits, load_svg, parse_svg_string, save_svg, scene_to_svg_string

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data" / "svg"
REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "svg"
NS = "{http://www.w3.org/2000/svg}"


# ---- helpers ----------------------------------------------------------------------------
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


# ---- path commands: exact control points -----------------------------------------------
@pytest.mark.parametrize(
    "d, expected",
    [
        ("M10 20 L30 20 L30 40 Z", TRIANGLE),
        ("m10 20 l20 0 l0 20 z", TRIANGLE),
        ("M10 20 H30 V40 Z", TRIANGLE),
        ("m10 20 h20 v20 z", TRIANGLE),
        ("M10 20 L30 20 30 40", TRIANGLE[:2]),  # implicit L; an open subpath stays open
        ("M10,20 30,20 30,40z", TRIANGLE),  # implicit lineto after M
        ("M10 20 L30 20 L30 40 L10 20 Z", TRIANGLE),  # no zero-length closing segment
        ("M10 20 L30 20 L30 40 L10 20", TRIANGLE),  # open, though it ends where it starts
        ("M0 0 Q50 100 100 0 Z", QUAD),
        ("m0 0 q50 100 100 0 z", QUAD),
        ("M0 0 Q50 100 100 0 T200 0 Z", QUAD_T),
        ("m0 0 q50 100 100 0 t100 0 z", QUAD_T),
        ("M0 0 T100 0 Z", [quad((0, 0), (0, 0), (100, 0)), line((100, 0), (0, 0))]),
        ("M0 0 C0 50 50 50 50 0 S100 -50 100 0 Z", CUBIC_S),
        ("m0 0 c0 50 50 50 50 0 s50 -50 50 0 z", CUBIC_S),
        ("M0 0 S50 50 50 0 Z", [cubic((0, 0), (0, 0), (50, 50), (50, 0)), line((50, 0), (0, 0))]),
        (
            "M0 0 L50 0 L0 0 T0 0 Z",
            [line((0, 0), (50, 0)), line((50, 0), (0, 0)), quad((0, 0), (0, 0), (0, 0))],
        ),
    ],
)
def test_path_commands_exact(d, expected):
    scene = load(f'<path d="{d}"/>')
    closed = d.strip()[-1] in "zZ"
    assert scene.num_paths == 1 and scene.contour_closed.tolist() == [closed]
    assert scene.contour_sizes.tolist() == [3 * len(expected) + (0 if closed else 1)]
    np.testing.assert_allclose(segments(scene), np.array(expected), atol=coord_tolerance(256))


@pytest.mark.parametrize(
    "d, center, radius, top",
    [
        # sweep=1 is clockwise on screen: over the top
        ("M0 50 A50 50 0 0 1 100 50 Z", (50, 50), 50, True),
        ("m0 50 a50 50 0 0 1 100 0 z", (50, 50), 50, True),
        ("M0 50 A50 50 0 0 0 100 50 Z", (50, 50), 50, False),
        ("M0 50 A1 1 0 0 1 100 50 Z", (50, 50), 50, True),  # radii too small are scaled up
        ("M50 0 A50 50 0 1 1 0 50 Z", (50, 50), 50, None),  # large arc, three quarters
        ("M50 0 a50 50 0 1 0 -50 50 z", (0, 0), 50, None),
    ],
)
def test_arcs_lie_on_circle(d, center, radius, top):
    segs = segments(load(f'<path d="{d}"/>'))
    arc = sample(segs[:-1])  # the last segment is the closing line
    r = np.linalg.norm(arc - np.array(center), axis=1)
    np.testing.assert_allclose(r, radius, atol=3e-4 * radius)
    if top is not None:
        assert (arc[:, 1].min() < center[1] - radius + 1e-3) == top


def test_arc_zero_radius_is_a_line_and_arc_to_self_is_dropped():
    segs = segments(load('<path d="M0 0 A0 10 0 0 1 30 0 A5 5 0 0 1 30 0 L30 30 Z"/>'))
    np.testing.assert_allclose(
        segs,
        np.array([line((0, 0), (30, 0)), line((30, 0), (30, 30)), line((30, 30), (0, 0))]),
        atol=coord_tolerance(32),
    )


def test_arc_rotated_ellipse():
    # An ellipse rx=40 ry=20 rotated by 30 degrees around (50, 50), drawn as two arcs.
    th = math.radians(30)
    u = np.array([math.cos(th), math.sin(th)])
    a, b = 50 + 40 * u, 50 - 40 * u
    d = f"M{a[0]} {a[1]} A40 20 30 0 1 {b[0]} {b[1]} A40 20 30 0 1 {a[0]} {a[1]}Z"
    pts = sample(segments(load(f'<path d="{d}"/>'))) - 50
    rot = np.array([[math.cos(th), math.sin(th)], [-math.sin(th), math.cos(th)]])
    local = pts @ rot.T
    np.testing.assert_allclose((local[:, 0] / 40) ** 2 + (local[:, 1] / 20) ** 2, 1, atol=2e-3)


@pytest.mark.parametrize(
    "d, sizes",
    [
        ("M0 0 L10 0 L10 10 Z M20 20 L30 20 L30 30 Z", [9, 9]),
        # m after z is relative to the subpath start
        ("m0 0 l10 0 l0 10 z m20 20 l10 0 l0 10 z", [9, 9]),
        # drawing after Z starts a new subpath at p0
        ("M0 0 L10 0 L10 10 Z L20 20 L0 20 Z", [9, 9]),
        ("M0 0 Z M5 5 L6 6", [4]),  # degenerate subpath dropped; a single open line
        ("M0 0 M5 5 L9 5 L9 9", [7]),
    ],
)
def test_subpaths_become_contours(d, sizes):
    scene = load(f'<path d="{d}"/>')
    assert scene.contour_sizes.tolist() == sizes
    assert scene.contour_path.tolist() == [0] * len(sizes)


def test_second_contour_of_relative_moveto_starts_at_20_20():
    scene = load('<path d="m0 0 l10 0 l0 10 z m20 20 l10 0 l0 10 z"/>')
    np.testing.assert_allclose(segments(scene, 1)[0, 0], (20, 20))
    scene = load('<path d="M0 0 L10 0 L10 10 Z L20 20 L0 20 Z"/>')
    np.testing.assert_allclose(segments(scene, 1)[0, 0], (0, 0))


@pytest.mark.parametrize("d", ["M5 5", "", "M0 0 Z", "M 1 1 z m 2 2"])
def test_empty_path_data_gives_no_path(d):
    assert load(f'<path d="{d}"/>').num_paths == 0


def test_malformed_path_data_keeps_what_came_before_the_error():
    with pytest.warns(UserWarning, match=r"1 path had malformed path data"):
        scene = parse_svg_string(doc('<path d="M0 0 L10 0 L10 10 Z M20 20 L30 x 40 40"/>'))
    assert scene.contour_sizes.tolist() == [9]


# ---- shapes -----------------------------------------------------------------------------
def test_circle_points_at_radius():
    scene = load('<circle cx="40" cy="30" r="20"/>')
    segs = segments(scene)
    assert len(segs) == 4  # one cubic per quarter turn
    r = np.linalg.norm(sample(segs) - (40, 30), axis=1)
    np.testing.assert_allclose(r, 20, atol=3e-4 * 20)


@pytest.mark.parametrize(
    "body, bbox",
    [
        ('<rect x="10" y="20" width="30" height="40"/>', (10, 20, 40, 60)),
        ('<rect x="10" y="20" width="30" height="40" rx="5"/>', (10, 20, 40, 60)),
        ('<rect x="10" y="20" width="30" height="40" ry="500"/>', (10, 20, 40, 60)),
        ('<rect width="50%" height="25%"/>', (0, 0, 50, 25)),
        ('<circle cx="50" cy="50" r="10"/>', (40, 40, 60, 60)),
        ('<ellipse cx="50" cy="50" rx="20" ry="10"/>', (30, 40, 70, 60)),
        ('<ellipse cx="50" cy="50" rx="20"/>', (30, 30, 70, 70)),  # ry auto = rx
        ('<polygon points="10,10 90,10 50 80"/>', (10, 10, 90, 80)),
        ('<polyline points="10,10 90,10 50,80 7"/>', (10, 10, 90, 80)),  # odd count: last dropped
    ],
)
def test_shapes_bounding_box(body, bbox):
    scene = load(body)
    assert scene.num_paths == 1
    pts = sample(segments(scene), 65)
    np.testing.assert_allclose([*pts.min(0), *pts.max(0)], bbox, atol=0.02)


def test_rounded_rect_corner_is_quarter_circle():
    segs = segments(load('<rect x="0" y="0" width="40" height="30" rx="10"/>'))
    corner = [s for s in segs if np.allclose(s[0], (30, 0)) and np.allclose(s[3], (40, 10))]
    assert len(corner) == 1
    np.testing.assert_allclose(
        np.linalg.norm(sample(np.array(corner)) - (30, 10), axis=1), 10, atol=3e-3
    )


@pytest.mark.parametrize(
    "body",
    [
        '<rect width="0" height="10"/>',
        '<circle r="0"/>',
        '<ellipse rx="0" ry="5"/>',
        '<polygon points=""/>',
    ],
)
def test_empty_shapes_are_dropped(body):
    assert load(body).num_paths == 0


def test_shapes_fixture_matches_its_reference_points():
    scene = load_svg(DATA / "shapes.svg")
    ids = [i.id for i in scene.info]
    assert ids == [
        "rect",
        "rounded",
        "pill",
        "circle",
        "ellipse",
        "polygon",
        "polyline",
        "arcs",
        "quads",
        "cubics",
        "hv",
    ]
    pill = sample(segments(scene, ids.index("pill")), 33)
    np.testing.assert_allclose([*pill.min(0), *pill.max(0)], (105, 5, 145, 35), atol=0.02)
    hv = segments(scene, ids.index("hv"))[:, 0]
    np.testing.assert_allclose(
        hv, [(155, 85), (175, 85), (175, 95), (195, 95), (195, 115), (155, 115)]
    )


# ---- colors and opacity -----------------------------------------------------------------
@pytest.mark.parametrize(
    "body, rgba",
    [
        ('<path fill="#f00" d="M0 0H9V9Z"/>', (255, 0, 0, 1)),
        ('<path fill="#00FF00" d="M0 0H9V9Z"/>', (0, 255, 0, 1)),
        ('<path fill="rgb(12, 34, 56)" d="M0 0H9V9Z"/>', (12, 34, 56, 1)),
        ('<path fill="rgb(100%, 50%, 0%)" d="M0 0H9V9Z"/>', (255, 127.5, 0, 1)),
        ('<path fill="cornflowerblue" d="M0 0H9V9Z"/>', (100, 149, 237, 1)),
        ('<path fill="rgba(255, 0, 0, 0.5)" d="M0 0H9V9Z"/>', (255, 0, 0, 0.5)),
        ('<path d="M0 0H9V9Z"/>', (0, 0, 0, 1)),  # default fill is black
        ('<path fill="#f00" opacity="0.5" d="M0 0H9V9Z"/>', (255, 0, 0, 0.5)),
        ('<path fill="#f00" opacity=".5" fill-opacity="50%" d="M0 0H9V9Z"/>', (255, 0, 0, 0.25)),
        ('<path style="fill:#0000ff;fill-opacity:0.25" d="M0 0H9V9Z"/>', (0, 0, 255, 0.25)),
        ('<path fill="red" style="fill: blue" d="M0 0H9V9Z"/>', (0, 0, 255, 1)),
        ('<style>.a{fill:#123456}</style><path class="a" d="M0 0H9V9Z"/>', (0x12, 0x34, 0x56, 1)),
        (
            '<style>.a{fill:#123456}</style><path class="a" fill="red" d="M0 0H9V9Z"/>',
            (0x12, 0x34, 0x56, 1),
        ),
        (
            '<style>.a{fill:#123456}</style><path class="a" style="fill:red" d="M0 0H9V9Z"/>',
            (255, 0, 0, 1),
        ),
        (
            '<style>#p{fill:lime} .a{fill:red}</style><path id="p" class="a" d="M0 0H9V9Z"/>',
            (0, 255, 0, 1),
        ),
        (
            '<style>path{fill:red} .a{fill:blue}</style><path class="a" d="M0 0H9V9Z"/>',
            (0, 0, 255, 1),
        ),
        (
            '<style>.a{fill:red} .b{fill:blue}</style><path class="b a" d="M0 0H9V9Z"/>',
            (0, 0, 255, 1),
        ),
        ('<g fill="blue"><path d="M0 0H9V9Z"/></g>', (0, 0, 255, 1)),
        ('<g fill-opacity="0.5"><path fill="blue" d="M0 0H9V9Z"/></g>', (0, 0, 255, 0.5)),
        ('<g color="lime"><path fill="currentColor" d="M0 0H9V9Z"/></g>', (0, 255, 0, 1)),
        (
            '<g opacity="0.5"><g opacity="0.5"><path fill-opacity="0.5" d="M0 0H9V9Z"/></g></g>',
            (0, 0, 0, 0.125),
        ),
        ('<g fill="red"><path fill="inherit" d="M0 0H9V9Z"/></g>', (255, 0, 0, 1)),
    ],
)
def test_fill_colors(body, rgba):
    scene = load(body)
    expected = torch.tensor([rgba[0] / 255, rgba[1] / 255, rgba[2] / 255, rgba[3]])
    color = scene.colors[0].clone()
    color[3] *= effective_opacity(scene, 0)  # element and group opacity are kept apart
    torch.testing.assert_close(color, expected, atol=1 / 255, rtol=0)


def test_styles_fixture():
    scene = load_svg(DATA / "styles.svg")
    assert (scene.width, scene.height) == (100, 100)
    info = {i.id: (k, i.groups) for k, i in enumerate(scene.info)}
    assert list(info) == ["a", "b", "c", "d", "e", "special", "evenodd", "shown"]
    assert (
        info["a"][1] == ("outer", "inner") and info["d"][1] == ("outer",) and info["shown"][1] == ()
    )
    rgb = (scene.colors[:, :3] * 255).round().int().tolist()
    assert rgb[info["a"][0]] == [255, 0, 0]
    assert rgb[info["b"][0]] == [0x12, 0x34, 0x56]  # inherited from the group
    assert rgb[info["c"][0]] == [0, 128, 0] and scene.colors[info["c"][0], 3] == 0.5
    assert rgb[info["e"][0]] == [0, 0, 255]  # later rule of equal specificity wins
    assert rgb[info["special"][0]] == [0, 255, 0]
    assert scene.evenodd.tolist() == [False] * 6 + [True, False]
    # translate(10 10) scale(2): the corner (10, 0) of "b" lands at (30, 10)
    np.testing.assert_allclose(segments(scene, info["b"][0])[0, 0], (30, 10))


# ---- transforms and canvas ----------------------------------------------------------------
@pytest.mark.parametrize(
    "body, p0",
    [
        ('<path transform="translate(5, 6)" d="M1 1 L2 1 L2 2Z"/>', (6, 7)),
        (
            '<g transform="translate(10,20)"><g transform="scale(2)"><path transform="rotate(90)" d="M1 1 L2 1 L2 2Z"/></g></g>',
            (8, 22),
        ),
        ('<g transform="matrix(1 0 0 1 3 4) scale(2 3)"><path d="M1 1 L2 1 L2 2Z"/></g>', (5, 7)),
        (
            '<g transform="rotate(180 50 50)"><rect x="10" y="20" width="5" height="5"/></g>',
            (90, 80),
        ),
        ('<g transform="skewX(45)"><path d="M0 10 L2 1 L2 2Z"/></g>', (10, 10)),
        ('<defs><path id="t" d="M1 1 L2 1 L2 2Z"/></defs><use href="#t" x="10" y="20"/>', (11, 21)),
        (
            '<defs><g id="t"><path d="M1 1 L2 1 L2 2Z"/></g></defs><use xlink:href="#t" transform="scale(2)" x="1"/>',
            (4, 2),
        ),
        ('<symbol id="t"><path d="M1 1 L2 1 L2 2Z"/></symbol><use href="#t" x="5"/>', (6, 1)),
        (
            '<svg x="10" y="10" width="20" height="20" viewBox="0 0 10 10"><path d="M1 1 L2 1 L2 2Z"/></svg>',
            (12, 12),
        ),
    ],
)
def test_transforms_are_baked_in(body, p0):
    scene = parse_svg_string(
        doc(body, 'xmlns:xlink="http://www.w3.org/1999/xlink" width="100" height="100"')
    )
    assert scene.num_paths == 1
    np.testing.assert_allclose(segments(scene)[0, 0], p0, atol=coord_tolerance(128))


def test_use_copies_drop_ids_and_keep_the_original():
    scene = load(
        '<g id="g"><path id="p" d="M1 1 L2 1 L2 2Z"/></g><use href="#p" x="10"/><use href="#g" y="10"/>'
    )
    assert [(i.id, i.groups) for i in scene.info] == [("p", ("g",)), (None, ()), (None, ())]


@pytest.mark.parametrize(
    "body",
    [
        '<use href="#missing"/>',
        '<g id="loop"><use href="#loop"/></g>',
        '<use id="self" href="#self"/>',
        '<use href="other.svg#x"/>',
    ],
)
def test_bad_use_is_skipped_with_warning(body):
    with pytest.warns(UserWarning, match=r"skipped 1 <use> element"):
        parse_svg_string(doc(body))


@pytest.mark.parametrize(
    "attrs, size, p0",
    [
        ('viewBox="0 0 100 50"', (100, 50), (10, 10)),
        ('viewBox="10 10 100 50"', (100, 50), (0, 0)),
        ('viewBox="0,0,100,50" width="200" height="100"', (200, 100), (20, 20)),
        ('viewBox="0 0 100 50" width="200px" height="100px"', (200, 100), (20, 20)),
        ('viewBox="0 0 100 50" width="200"', (200, 100), (20, 20)),
        ('viewBox="0 0 100 50" height="100%" width="100%"', (100, 50), (10, 10)),
        ('viewBox="0 0 100 50" width="100" height="100"', (100, 100), (10, 35)),  # xMidYMid meet
        (
            'viewBox="0 0 100 50" width="100" height="100" preserveAspectRatio="none"',
            (100, 100),
            (10, 20),
        ),
        ('width="2in" height="1in"', (192, 96), (10, 10)),
        ('width="120" height="60"', (120, 60), (10, 10)),
    ],
)
def test_canvas_and_viewbox(attrs, size, p0):
    scene = load('<path d="M10 10 L20 10 L20 20Z"/>', attrs)
    assert (scene.width, scene.height) == pytest.approx(size)
    np.testing.assert_allclose(segments(scene)[0, 0], p0, atol=coord_tolerance(256))


def test_no_size_uses_content_extent_with_warning():
    with pytest.warns(UserWarning, match="no width/height or viewBox"):
        scene = parse_svg_string(doc('<path d="M10 10 L20.5 10 L20 30Z"/>', ""))
    assert (scene.width, scene.height) == (21, 30)


def test_tajmahal_viewbox_only():
    scene = load_svg(REAL / "tajmahal.svg")
    assert (scene.width, scene.height) == (1024, 1024)
    assert scene.num_paths == 3322  # 3321 <path> + 1 <polygon>
    assert -2 <= float(scene.points.min()) and float(scene.points.max()) <= 1026


# ---- hidden content and fill rules ----------------------------------------------------------
@pytest.mark.parametrize(
    "body, kept",
    [
        ('<path style="display:none" d="M0 0H9V9Z"/>', 0),
        ('<path display="none" d="M0 0H9V9Z"/>', 0),
        ('<g display="none"><path display="inline" d="M0 0H9V9Z"/></g>', 0),
        ('<style>.h{display:none}</style><g class="h"><path d="M0 0H9V9Z"/></g>', 0),
        ('<path visibility="hidden" d="M0 0H9V9Z"/>', 0),
        ('<path style="visibility:collapse" d="M0 0H9V9Z"/>', 0),
        ('<g visibility="hidden"><path d="M0 0H9V9Z"/></g>', 0),
        ('<g visibility="hidden"><path visibility="visible" d="M0 0H9V9Z"/></g>', 1),
        ('<defs><path d="M0 0H9V9Z"/></defs><clipPath><path d="M0 0H9V9Z"/></clipPath>', 0),
        ('<mask><path d="M0 0H9V9Z"/></mask><symbol><path d="M0 0H9V9Z"/></symbol>', 0),
        ('<a href="#x"><path d="M0 0H9V9Z"/></a><switch><path d="M0 0H9V9Z"/></switch>', 2),
        ('<path fill="transparent" d="M0 0H9V9Z"/>', 1),  # fully transparent but editable
    ],
)
def test_hidden_content_is_skipped(body, kept):
    assert load(body).num_paths == kept


@pytest.mark.parametrize(
    "body, evenodd",
    [
        ('<path d="M0 0H9V9Z"/>', False),
        ('<path fill-rule="evenodd" d="M0 0H9V9Z"/>', True),
        ('<path style="fill-rule:evenodd" fill-rule="nonzero" d="M0 0H9V9Z"/>', True),
        ('<g fill-rule="evenodd"><path d="M0 0H9V9Z"/></g>', True),
        ('<g fill-rule="evenodd"><path fill-rule="nonzero" d="M0 0H9V9Z"/></g>', False),
    ],
)
def test_fill_rule(body, evenodd):
    assert load(body).evenodd.tolist() == [evenodd]


# ---- skipped content warnings -----------------------------------------------------------------
def test_uneditable_content_is_listed_in_one_warning_with_counts():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scene = load_svg(DATA / "skipped.svg")
    assert len(caught) == 1 and caught[0].filename == __file__  # points at the caller
    message = str(caught[0].message)
    assert message.startswith(
        "not editable, so left out: 2 <text>, 1 <image>, 1 filter, 1 mask, 1 marker, "
        "2 hatch or mesh paint"
    )
    # What carries a paint clipvg understands is kept: gradient fills, strokes, clipped,
    # filtered, masked and marked shapes, a hatch's fallback colour; the unfilled
    # hatched rect stays as a path with no paint.
    ids = [i.id for i in scene.info]
    assert ids == [None, None, None, "kept1", "kept2", "kept3", "blurred", "masked", "marked"] + [
        "patterned",
        None,
    ]
    assert scene.fill_paint[0] == 0 and len(scene.gradients) == 1  # the gradient rect
    assert (
        scene.has_stroke.tolist()
        == [False, True, True, True, True] + [False] * 3 + [True] + [False] * 2
    )
    assert scene.path_clip[5] == 0 and len(scene.clips) == 1
    assert scene.colors[9, :3].tolist() == pytest.approx([0.0, 128 / 255, 0.0])  # the fallback
    assert not scene.has_fill[10] and not scene.has_stroke[10]


def test_clean_file_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_svg(DATA / "shapes.svg")
        load_svg(REAL / "pitt.svg")


# ---- errors and hostile input -------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, match",
    [
        ("", "is not a valid SVG file: it is empty"),
        ("   \n", "is not a valid SVG file: it is empty"),
        ("hello world", "is not a valid SVG file: XML syntax error"),
        (
            "<svg xmlns='http://www.w3.org/2000/svg'><path></svg>",
            "is not a valid SVG file: XML syntax error",
        ),
        ("<html><body/></html>", r"the root element is <html>, not <svg>"),
        ("<svg xmlns='http://example.com/other'/>", r"not <svg>"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "is not a valid SVG file"),
        (b"\x1f\x8b\x08\x00garbage", "broken gzip data"),
        (
            '<svg xmlns="http://www.w3.org/2000/svg" width="0" height="10"/>',
            "zero or negative canvas size",
        ),
        ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 0 10"/>', "empty viewBox"),
        (
            '<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"><path d="M0 0 L1e999 0 L1 1Z"/></svg>',
            "infinite or NaN",
        ),
    ],
)
def test_invalid_input_errors(text, match):
    with pytest.raises(ClipvgError, match=match) as info:
        parse_svg_string(text)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("name, match", [("missing.svg", "not found"), ("", "is a folder")])
def test_unreadable_paths(tmp_path, name, match):
    with pytest.raises(ClipvgError, match=match):
        load_svg(tmp_path / name)


def test_not_svg_file():
    with pytest.raises(ClipvgError, match=r"notsvg.txt is not a valid SVG file"):
        load_svg(DATA / "notsvg.txt")


@pytest.mark.parametrize("name", ["xxe.svg", "billion_laughs.svg"])
def test_entities_are_refused(name):
    with pytest.raises(ClipvgError, match="XML entity declarations or external references") as info:
        load_svg(DATA / name)
    assert "root:" not in str(info.value)  # nothing from /etc/passwd leaks into the message


@pytest.mark.parametrize(
    "prolog",
    [
        '<!DOCTYPE svg [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>',
        '<!DOCTYPE svg [<!ENTITY x "y">]>',
    ],
)
def test_entity_variants_are_refused(prolog):
    with pytest.raises(ClipvgError, match="refuses for safety"):
        parse_svg_string(prolog + doc(""))


def test_plain_doctype_is_accepted_and_external_dtd_never_fetched():
    # A public DOCTYPE (common in real files) is fine; its system id is never loaded.
    scene = parse_svg_string(
        '<!DOCTYPE svg SYSTEM "file:///etc/passwd">' + doc('<path d="M0 0H9V9Z"/>')
    )
    assert scene.num_paths == 1


def test_svgz_is_read(tmp_path):
    import gzip

    path = tmp_path / "a.svgz"
    path.write_bytes(gzip.compress(doc('<path d="M0 0H9V9Z"/>').encode()))
    assert load_svg(path).num_paths == 1


# ---- limits ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, limits, match",
    [
        (
            doc("", 'width="20000" height="10"'),
            None,
            r"20000 x 10 canvas, over the limit max_canvas_side=16384",
        ),
        (doc("", 'viewBox="0 0 200 50"'), SvgLimits(max_canvas_side=100), "max_canvas_side=100"),
        (
            doc('<path d="M0 0H9V9Z"/>' * 3),
            SvgLimits(max_paths=2),
            r"more than 2 paths, over the limit max_paths=2",
        ),
        (
            doc('<path d="M0 0H9V9Z"/>' * 30),
            SvgLimits(max_file_bytes=100),
            r"over the limit max_file_bytes=100",
        ),
        (
            doc(
                '<g id="a"><g/><g/><g/></g>'
                + "".join(
                    f'<g id="{c}"><use href="#{p}"/><use href="#{p}"/></g>'
                    for p, c in zip("abcdefghij", "bcdefghijk", strict=True)
                )
            ),
            SvgLimits(max_elements=1000),
            "max_elements=1000",
        ),
    ],
)
def test_limits(text, limits, match):
    with pytest.raises(ClipvgError, match=match) as info:
        parse_svg_string(text, limits=limits)
    assert "pass limits=SvgLimits(" in str(info.value)


def doubled_uses(levels: int) -> str:
    """``levels`` nested groups of two ``<use>`` of the level below: 2**levels rects."""
    return (
        '<defs><rect id="a0" width="1" height="1"/>'
        + "".join(
            f'<g id="a{i + 1}"><use href="#a{i}"/><use href="#a{i}"/></g>' for i in range(levels)
        )
        + f'</defs><use href="#a{levels}"/>'
    )


@pytest.mark.parametrize(
    "text, limits, match",
    [
        # 2**22 elements in 1.2 KB: counted before the walk, never expanded
        (doc(doubled_uses(22)), None, r"expands to more than 200000 elements \(through <use>\)"),
        (doc(doubled_uses(8)), SvgLimits(max_elements=300), "max_elements=300"),
        (doc("<g/>" * 50), SvgLimits(max_elements=40), r"about 5\d elements.*max_elements=40"),
        (
            doc('<path d="M0 0' + " L1 1" * 30 + '"/>'),
            SvgLimits(max_segments=20),
            "max_segments=20",
        ),
        (doc('<path d="' + "M0 0 " * 30 + '"/>'), SvgLimits(max_segments=20), "max_segments=20"),
        (doc('<path d="M0 0H9V9Z"/>' * 9), SvgLimits(max_segments=20), "max_segments=20"),
        (doc('<rect a="1" b="2" c="3"/>' * 9), SvgLimits(max_attributes=20), "max_attributes=20"),
        (
            doc('<polygon points="' + "1,2 " * 10_000 + '"/>'),
            SvgLimits(max_segments=20),
            "max_segments",
        ),
        (
            doc("<style>" + "a{}" * 40 + "</style>"),
            SvgLimits(max_style_bytes=100),
            "max_style_bytes",
        ),
        (
            doc(
                "<style>" + "".join(f".a.c{i}{{fill:red}}" for i in range(50)) + "</style>"
            ).replace("</svg>", "".join(f'<rect class="a x{i}"/>' for i in range(20)) + "</svg>"),
            SvgLimits(max_style_matches=500),
            "max_style_matches=500",
        ),
    ],
)
def test_limits_on_work(text, limits, match):
    """Limits on what costs time and memory, refused before the cost is paid."""
    with pytest.raises(ClipvgError, match=match) as info:
        parse_svg_string(text, limits=limits)
    assert "pass limits=SvgLimits(" in str(info.value) and "\n" not in str(info.value)


def test_doubled_uses_under_the_limit_expand_fully():
    scene = parse_svg_string(doc(doubled_uses(6)))
    assert scene.num_paths == 64


@pytest.mark.parametrize(
    "style",
    [
        "a" * 100_000,  # no brace: the old regular expression was quadratic (38 s)
        "/*" * 50_000,  # unclosed comments
        "x{" * 50_000,
        "}" * 100_000,
    ],
)
def test_large_malformed_stylesheets_parse(style):
    """Linear-time CSS: 100 KB of malformed style imports (it used to take 38 s)."""
    scene = parse_svg_string(doc(f"<style>{style}</style>" + '<rect width="5" height="5"/>'))
    assert scene.num_paths == 1


@pytest.mark.parametrize(
    "body, bound",
    [
        ('<path d="M0 0 L1e39 0 L0 10 Z"/>', None),
        ('<rect width="1e308" height="1e308"/>', None),
        ('<rect width="10" height="10" transform="scale(1e200) scale(1e200)"/>', None),
        ('<path d="M0 0 L2e6 0 L0 10 Z"/>', 1e6),
    ],
)
def test_coordinates_beyond_the_limit_refused(body, bound):
    limits = SvgLimits(max_coordinate=bound) if bound else None
    with pytest.raises(ClipvgError, match="infinite or NaN coordinates, or beyond"):
        parse_svg_string(doc(body), limits=limits)


@pytest.mark.parametrize(
    "fill, rgba",
    [
        ("rgb(1e999,0,0)", (1, 0, 0, 1)),
        ("rgba(1e400%,0%,0%,1)", (1, 0, 0, 1)),
        ("rgb(-5, 300, 51)", (0, 1, 0.2, 1)),
        ("rgb(10% 20% 30% / 50%)", (0.1, 0.2, 0.3, 0.5)),
        ("rgba(0,0,255,-1e999)", (0, 0, 1, 0)),
        ("hsl(120, 100%, 50%)", (0, 1, 0, 1)),
        ("hsl(1e999, 0%, 1e999%)", (1, 1, 1, 1)),
        ("HSLA(240deg 100% 50% / 1)", (0, 0, 1, 1)),
    ],
)
def test_colour_functions_clamp_any_number(fill, rgba):
    for body in (
        f'<rect width="5" height="5" fill="{fill}"/>',
        f'<style>rect{{fill:{fill}}}</style><rect width="5" height="5"/>',
    ):
        scene = parse_svg_string(doc(body))
        assert scene.colors[0].tolist() == pytest.approx(rgba, abs=1e-6)


@pytest.mark.parametrize(
    "fill", ["rgb(nan,0,0)", "rgb(1,2)", "lab(50 10 10)", "rgb(1 2 3 4 5)", "#qqq", "qwe13212"]
)
def test_unreadable_colours_are_ignored(fill):
    """An invalid value is ignored, as CSS ignores an invalid declaration: the
    parent's fill applies (resvg's painting/fill/random-value)."""
    for parent, rgba in (("", [0, 0, 0, 1]), (' fill="blue"', [0, 0, 1, 1])):
        scene = load(f'<g{parent}><rect width="5" height="5" fill="{fill}"/></g>')
        assert scene.num_paths == 1 and scene.colors[0].tolist() == rgba


@pytest.mark.parametrize("transform", ["translate(1in 10)", "translate(50%)", "rotate(nan)"])
def test_transforms_with_units_are_ignored(transform):
    """Units are not transform syntax: the transform is invalid, and ignored (as browsers do)."""
    scene = parse_svg_string(doc(f'<rect width="5" height="5" transform="{transform}"/>'))
    assert scene.points.min().item() == 0 and scene.points.max().item() == 5


def test_unknown_encoding_is_one_line_error():
    text = '<?xml version="1.0" encoding="utf-1"?>' + doc('<rect width="5" height="5"/>')
    with pytest.raises(ClipvgError, match="unusable text encoding.*utf-1"):
        parse_svg_string(text.encode())


def test_file_size_limit_checked_before_reading(tmp_path):
    path = tmp_path / "big.svg"
    path.write_text(doc('<path d="M0 0H9V9Z"/>' * 50))
    with pytest.raises(ClipvgError, match="max_file_bytes=500"):
        load_svg(path, limits=SvgLimits(max_file_bytes=500))


# ---- export and round trips ------------------------------------------------------------------------
def assert_same_scene(a: Scene, b: Scene) -> None:
    assert (a.width, a.height) == (b.width, b.height)
    assert a.contour_sizes.tolist() == b.contour_sizes.tolist()
    assert a.contour_path.tolist() == b.contour_path.tolist()
    assert a.evenodd.tolist() == b.evenodd.tolist()
    # save_svg writes 4 decimals (<= 5e-5), re-read as float32 (< 1e-4 below 1000 px)
    torch.testing.assert_close(a.points, b.points, atol=1e-3, rtol=0)
    torch.testing.assert_close(a.colors, b.colors, atol=1 / 255, rtol=0)


@pytest.mark.parametrize("name", ["pitt.svg", "tajmahal.svg"])
def test_round_trip_real_files(tmp_path, name):
    scene = load_svg(REAL / name)
    assert scene.num_paths == {"pitt.svg": 1020, "tajmahal.svg": 3322}[name]
    out = tmp_path / "out.svg"
    save_svg(scene, out)
    assert_same_scene(scene, load_svg(out))
    assert [p.name for p in tmp_path.iterdir()] == ["out.svg"]  # no temp file left behind


@pytest.mark.parametrize("name", ["shapes.svg", "styles.svg"])
def test_round_trip_fixtures_keep_ids_and_groups(name):
    scene = load_svg(DATA / name)
    again = parse_svg_string(scene_to_svg_string(scene))
    assert_same_scene(scene, again)
    assert [(i.id, i.groups) for i in again.info] == [(i.id, i.groups) for i in scene.info]


def test_export_structure_is_valid_svg():
    scene = Scene.from_paths(
        64.5,
        32,
        [
            [torch.tensor([[1.0, 1], [2, 1], [3, 1], [4, 4], [3, 5], [2, 5]])],
            [torch.tensor([[10.0, 10], [11, 10], [12, 10]])],
        ]
        * 2,
        [[1, 0, 0, 1], [0, 0.5, 1, 0.25]] * 2,
        evenodd=[False, True, False, False],
        info=[
            PathInfo("p", ("a", "b")),
            PathInfo(None, ("a", "b")),
            PathInfo("q", ("a",)),
            PathInfo("p", ("a", "b")),
        ],
    )
    text = scene_to_svg_string(scene)
    root = ET.fromstring(text.encode())
    assert root.tag == f"{NS}svg"
    assert (root.get("width"), root.get("height"), root.get("viewBox")) == (
        "64.5",
        "32",
        "0 0 64.5 32",
    )
    paths = list(root.iter(f"{NS}path"))
    assert len(paths) == 4
    assert paths[0].get("d") == "M1 1C2 1 3 1 4 4 3 5 2 5 1 1Z"
    assert paths[0].get("fill") == "rgb(255,0,0)" and paths[0].get("fill-opacity") is None
    assert paths[1].get("fill") == "rgb(0,128,255)" and paths[1].get("fill-opacity") == "0.25"
    assert paths[1].get("fill-rule") == "evenodd" and paths[0].get("fill-rule") is None
    # consecutive paths share <g id=a><g id=b>; the reopened group gets a unique id
    top = [el for el in root if el.tag == f"{NS}g"]
    assert [g.get("id") for g in top] == ["a"]
    assert [(el.tag[len(NS) :], el.get("id")) for el in top[0]] == [
        ("g", "b"),
        ("path", "q"),
        ("g", "b-2"),
    ]
    assert [p.get("id") for p in paths] == ["p", None, "q", "p-2"]
    again = parse_svg_string(text)
    assert_same_scene(scene, again)


def test_export_rejects_non_finite_and_non_scene(tmp_path):
    scene = load('<path d="M0 0H9V9Z"/>')
    scene.points[0, 0] = float("nan")
    with pytest.raises(ClipvgError, match="NaN"):
        save_svg(scene, tmp_path / "x.svg")
    with pytest.raises(ClipvgError, match="expected a Scene"):
        scene_to_svg_string("not a scene")
    save_svg(load('<path d="M0 0H9V9Z"/>'), tmp_path / "new" / "x.svg")  # parents are created
    assert load_svg(tmp_path / "new" / "x.svg").num_paths == 1
    with pytest.raises(ClipvgError, match="is a folder"):
        save_svg(load('<path d="M0 0H9V9Z"/>'), tmp_path / "new")


def test_export_renders_like_the_original():
    resvg_py = pytest.importorskip("resvg_py")
    from PIL import Image

    def png(**kw) -> np.ndarray:
        data = bytes(resvg_py.svg_to_bytes(background="#ffffff", **kw))
        return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.float64)

    for path in (DATA / "shapes.svg", DATA / "styles.svg"):
        diff = np.abs(png(svg_path=str(path)) - png(svg_string=scene_to_svg_string(load_svg(path))))
        assert diff.mean() < 0.5 and (diff > 64).mean() < 1e-3, path.name


# ---- command line ---------------------------------------------------------------------------------
def test_cli_render_not_svg_exits_2_with_one_line(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "cli.py"),
            "render",
            str(DATA / "notsvg.txt"),
            "-o",
            str(tmp_path / "x.png"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert "not a valid SVG file" in lines[0]
    assert not (tmp_path / "x.png").exists()

"""clipvg.svg path data and basic shapes: exact control points, arcs, subpaths, boxes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from svg_cases import (
    CUBIC_S,
    DATA,
    QUAD,
    QUAD_T,
    TRIANGLE,
    coord_tolerance,
    cubic,
    doc,
    line,
    load,
    quad,
    sample,
    segments,
)

from clipvg.svg import load_svg, parse_svg_string


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

"""Strokes: outline area per cap and join, dashes, dots, paint order, derivatives, bad input."""

from __future__ import annotations

import math

import pytest
import torch
from render_checks import check_derivatives, coverage, line, polyline, stroked
from shapes import circle, rect

from clipvg import ClipvgError
from clipvg.render import render
from clipvg.scene import (
    CAP_BUTT,
    CAP_ROUND,
    CAP_SQUARE,
    JOIN_BEVEL,
    JOIN_MITER,
    JOIN_ROUND,
    PAINT_FLAT,
    Scene,
)

# A round piece is a polygon within a quarter of the flattening tolerance (0.1 px) of its arc.
ARC = 0.025


@pytest.mark.parametrize(
    "cap, area, tol",
    [
        (CAP_BUTT, 40 * 4, 1e-9),
        (CAP_SQUARE, 44 * 4, 1e-9),
        (CAP_ROUND, 40 * 4 + math.pi * 4, 2 * math.pi * 2 * ARC),
    ],
)
def test_caps_add_their_area(cap, area, tol, device):
    scene = stroked(64, 64, [line((10, 20.3), (50, 20.3))], [False], 4.0, linecap=[cap]).to(device)
    assert coverage(scene).sum().item() == pytest.approx(area, abs=tol + 1e-6)


@pytest.mark.parametrize(
    "join, area, tol",
    [
        (JOIN_MITER, 44**2 - 36**2, 1e-9),
        (JOIN_BEVEL, 44**2 - 36**2 - 4 * 2, 1e-9),
        (JOIN_ROUND, 44**2 - 36**2 - 4 * (4 - math.pi), 4 * math.pi * 2 * ARC),
    ],
)
@pytest.mark.parametrize("reverse", [False, True])
def test_joins_of_a_closed_square_either_way_round(join, area, tol, reverse):
    contour = rect(10, 10, 40, 40, reverse=reverse)
    scene = stroked(64, 64, [contour], [True], 4.0, linejoin=[join])
    assert coverage(scene).sum().item() == pytest.approx(area, abs=tol + 1e-6)


def test_miter_limit_turns_a_sharp_miter_into_a_bevel():
    # A 30-degree spike: miter ratio 1 / sin(15 deg) = 3.86.
    legs = [
        (70 + 40 * math.cos(math.radians(a)), 32 + 40 * math.sin(math.radians(a)))
        for a in (165, 195)
    ]
    pts = polyline([legs[0], (70, 32), legs[1]])
    areas = {}
    for limit in (4.0, 3.0):
        scene = stroked(96, 64, [pts], [False], 4.0, linejoin=[JOIN_MITER], miter_limit=[limit])
        areas[limit] = coverage(scene).sum().item()
    assert areas[4.0] > areas[3.0] + 1  # the miter tip, about 2 * 2 * 3.86 * cos(15 deg) / 2


@pytest.mark.parametrize("tolerance", [0.1, 0.5, 2.0])
def test_round_caps_and_joins_keep_their_exact_area_at_any_tolerance(tolerance):
    # Chords as loose as the flattening, yet the polygons have the arcs' areas (up to
    # the cells below the rasterizer's coverage floor of 1e-6 that a vertex pokes into).
    cap = stroked(64, 64, [line((10.3, 20.6), (50.1, 20.6))], [False], 4.0, linecap=[CAP_ROUND])
    area = coverage(cap, tolerance=tolerance).sum().item()
    assert area == pytest.approx(39.8 * 4 + math.pi * 4, abs=1e-4)
    square = stroked(64, 64, [rect(10, 10, 40, 40)], [True], 4.0, linejoin=[JOIN_ROUND])
    area = coverage(square, tolerance=tolerance).sum().item()
    assert area == pytest.approx(44**2 - 36**2 - 4 * (4 - math.pi), abs=1e-4)


def test_the_inner_side_of_a_corner_is_not_counted_twice():
    # Off the pixel grid, the legs' overlap inside the corner lies on partly covered
    # pixels; the outline ends both legs where their inner sides cross, so the area is
    # the stroke's own: a 90-degree miter adds the outer square the inner one loses.
    pts = polyline([(10.0, 10.3), (50.4, 10.3), (50.4, 50.2)])
    for join in (JOIN_MITER, JOIN_BEVEL):
        scene = stroked(64, 64, [pts], [False], 2.0, linejoin=[join])
        bevel = 0.5 if join == JOIN_BEVEL else 0.0  # half of the outer 1 x 1 square
        assert coverage(scene).sum().item() == pytest.approx(2 * (40.4 + 39.9) - bevel, abs=1e-4)


def test_open_contour_is_not_closed_but_its_fill_is():
    pts = polyline([(10, 10), (50, 10), (50, 50)])
    open_stroke = coverage(stroked(64, 64, [pts], [False], 2.0)).sum().item()
    assert open_stroke == pytest.approx(2 * 40 * 2, abs=1e-6)  # two legs, miter corner inside
    filled = stroked(64, 64, [pts], [False], 2.0, fill=True)
    filled.stroke_paint[:] = -2
    assert coverage(filled).sum().item() == pytest.approx(40 * 40 / 2, abs=1e-6)


def test_dashes_cut_the_line_and_offset_shifts_them():
    pts = [line((10, 20.5), (50, 20.5))]
    solid = stroked(64, 32, pts, [False], 2.0)
    dashed = stroked(64, 32, pts, [False], 2.0, dash_sizes=[2], dashes=[5.0, 5.0])
    cov = coverage(dashed)
    assert cov.sum().item() == pytest.approx(20 * 2, abs=1e-6)
    assert cov[20, 12].item() == pytest.approx(1.0) and cov[20, 17].item() == pytest.approx(0.0)
    dashed.dash_offset[:] = 2.5
    shifted = coverage(dashed)
    assert shifted.sum().item() == pytest.approx(20 * 2, abs=1e-6)
    # Dashes now start 2.5 earlier: on over x 10..12.5, off 12.5..17.5.
    assert shifted[20, 11].item() == pytest.approx(1.0) and shifted[20, 14].item() == pytest.approx(
        0.0
    )
    # An odd array repeats (SVG): [3] means 3 on, 3 off.
    odd = stroked(64, 32, pts, [False], 2.0, dash_sizes=[1], dashes=[4.0])
    assert coverage(odd).sum().item() == pytest.approx(20 * 2, abs=1e-6)
    # All zeros: solid.
    zeros = stroked(64, 32, pts, [False], 2.0, dash_sizes=[2], dashes=[0.0, 0.0])
    assert torch.equal(coverage(zeros), coverage(solid))


@pytest.mark.parametrize("join, corner", [(JOIN_MITER, 4.0), (JOIN_BEVEL, 2.0)])
def test_dash_through_the_start_of_a_closed_contour_is_one_dash_with_a_join(join, corner):
    # Perimeter 160, [60 on, 20 off] shifted by 20: dashes over 0..40, 60..120, 140..160.
    # On a closed square the last and the first are one dash, joined at the start
    # corner (Skia, Chromium, resvg); the same points as an open path end there in
    # two butt caps, leaving the corner's outer square (miter) or half of it (bevel).
    square = rect(10, 10, 40, 40)
    fields = dict(dash_sizes=[2], dashes=[60.0, 20.0], dash_offset=[20.0], linejoin=[join])
    shut = coverage(stroked(64, 64, [square], [True], 4.0, **fields))
    open_ = coverage(stroked(64, 64, [torch.cat([square, square[:1]])], [False], 4.0, **fields))
    assert (shut - open_).sum().item() == pytest.approx(corner, abs=1e-6)
    assert (
        float((shut - open_)[:8].abs().max()) == 0 and float((shut - open_)[12:].abs().max()) == 0
    )
    # "40 0" on a square of side 40 (resvg's painting/stroke-dasharray/n-0): the dash
    # ends fall on the corners, so only the start corner is joined.
    tiles = stroked(64, 64, [square], [True], 4.0, dash_sizes=[2], dashes=[40.0, 0.0])
    cov = coverage(tiles)
    assert cov[8:10, 8:10].min().item() == pytest.approx(1.0)
    for y, x in [(8, 50), (50, 50), (50, 8)]:
        assert cov[y : y + 2, x : x + 2].max().item() == pytest.approx(0.0, abs=1e-9)


def test_a_dash_count_past_int64_is_refused_before_allocating():
    scene = stroked(64, 64, [line((0, 0), (50, 50))], [False], 1.0, dash_sizes=[1], dashes=[1e-30])
    scene.dash_offset[:] = 1e30
    with pytest.raises(ClipvgError, match="dash array this fine needs") as err:
        render(scene)
    assert "\n" not in str(err.value)


def test_zero_length_dashes_draw_dots_with_round_caps():
    pts = [line((10.5, 16.5), (50.5, 16.5))]
    dots = stroked(
        64, 32, pts, [False], 4.0, dash_sizes=[2], dashes=[0.0, 10.0], linecap=[CAP_ROUND]
    )
    # Dots at 0, 10, 20, 30, 40: five discs of radius 2.
    assert coverage(dots).sum().item() == pytest.approx(5 * math.pi * 4, rel=0.03)
    dots.linecap[:] = CAP_BUTT
    assert coverage(dots).sum().item() == pytest.approx(0.0, abs=1e-9)


def test_zero_length_subpath_with_square_cap_is_a_square():
    p = (20.0, 20.0)
    scene = stroked(40, 40, [line(p, p)], [False], 6.0, linecap=[CAP_SQUARE])
    assert coverage(scene).sum().item() == pytest.approx(36.0, abs=1e-6)


def test_width_zero_draws_nothing_and_fill_paints_under_the_stroke():
    scene = stroked(64, 64, [rect(10, 10, 40, 40)], [True], 0.0)
    assert coverage(scene).sum().item() == 0.0
    both = Scene.from_paths(
        64,
        64,
        [[rect(10, 10, 40, 40)]],
        [[1.0, 0.0, 0.0, 1.0]],
        stroke_paint=[PAINT_FLAT],
        stroke_widths=[4.0],
        stroke_colors=[[0.0, 0.0, 1.0, 1.0]],
    )
    img = render(both)
    assert img[30, 30].tolist() == [1.0, 0.0, 0.0]
    assert img[10, 30].tolist() == [0.0, 0.0, 1.0]  # the stroke straddles the edge, on top
    both.stroke_first[:] = True
    img = render(both)
    assert img[9, 30].tolist() == [0.0, 0.0, 1.0] and img[10, 30].tolist() == [1.0, 0.0, 0.0]


def test_translucent_stroke_overlapping_itself_is_painted_once():
    pts = polyline([(10, 30), (50, 30), (50, 10), (30, 10), (30, 50)])  # crosses itself
    scene = stroked(64, 64, [pts], [False], 4.0)
    scene.stroke_colors[:, 3] = 0.5
    img = render(scene)
    assert img[30, 30, 0].item() == pytest.approx(0.5)


def test_element_opacity_fades_fill_and_stroke_as_one():
    scene = Scene.from_paths(
        64,
        64,
        [[rect(10, 10, 40, 40)]],
        [[0.0, 0.0, 0.0, 1.0]],
        stroke_paint=[PAINT_FLAT],
        stroke_widths=[4.0],
        opacity=[0.5],
    )
    img = render(scene)
    # Where the stroke covers the fill the pixel is not darker than elsewhere.
    assert img[10, 30, 0].item() == pytest.approx(0.5) and img[11, 30, 0].item() == pytest.approx(
        0.5
    )
    assert img[30, 30, 0].item() == pytest.approx(0.5) and img[9, 30, 0].item() == pytest.approx(
        0.5
    )


def test_stroke_width_and_points_derivatives_match_finite_differences():
    pts = torch.cat([circle(20.3, 21.7, 10.2)])
    scene = stroked(40, 40, [pts], [True], 3.3, linejoin=[JOIN_ROUND])
    scene.stroke_colors[:, 3] = 0.8
    check_derivatives(scene, lambda s: s.stroke_widths, [0], min_checked=1)
    check_derivatives(scene, lambda s: s.points, [(0, 0), (1, 1), (3, 0), (6, 1), (9, 0)])
    open_line = stroked(40, 40, [polyline([(5.2, 30.1), (20.4, 8.3), (34.6, 28.7)])], [False], 2.7)
    for cap in (CAP_ROUND, CAP_SQUARE):
        open_line.linecap[:] = cap
        check_derivatives(open_line, lambda s: s.stroke_widths, [0], min_checked=1)
        check_derivatives(open_line, lambda s: s.points, [(0, 0), (3, 1), (6, 0)])
    dashed = stroked(
        40, 40, [line((5.3, 20.2), (35.1, 24.6))], [False], 2.5, dash_sizes=[2], dashes=[4.1, 3.3]
    )
    check_derivatives(dashed, lambda s: s.stroke_widths, [0], min_checked=1)
    check_derivatives(dashed, lambda s: s.points, [(0, 0), (3, 1)], min_checked=1)


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"stroke_widths": [-1.0]}, "negative"),
        ({"stroke_widths": [1e30]}, "over the limit"),
        ({"stroke_widths": [math.nan]}, "NaN"),
        ({"stroke_widths": [math.inf]}, "NaN"),
        ({"dash_sizes": [2], "dashes": [2.0, -1.0]}, "negative"),
        ({"dash_sizes": [2], "dashes": [1e-7, 1e-7]}, "limit"),
        ({"dash_sizes": [1], "dashes": [math.nan]}, "NaN"),
    ],
)
def test_bad_strokes_are_refused_in_one_line(fields, message):
    base = {"stroke_widths": [2.0]}
    base.update(fields)
    width = base.pop("stroke_widths")[0]
    scene = stroked(64, 64, [rect(10, 10, 40, 40)], [True], width, **base)
    with pytest.raises(ClipvgError, match=message) as err:
        render(scene)
    assert "\n" not in str(err.value)

"""Gradient paint: linear and radial values, focal point, units, transform, spread, strokes,
derivatives in stop colours, offsets and geometry, bad input."""

from __future__ import annotations

import math

import pytest
import torch
from render_checks import check_derivatives, line
from shapes import rect

from clipvg import ClipvgError
from clipvg.render import render
from clipvg.scene import PAINT_FLAT, PAINT_NONE, Gradients, Scene

RED, BLUE = (1.0, 0.0, 0.0, 1.0), (0.0, 0.0, 1.0, 1.0)


def painted(spec: dict, size=40, box=(0, 0, 40, 40), stroke=False) -> Scene:
    """A square filled (or stroked) with one gradient, float64."""
    g = Gradients.build([spec])
    fields = {"fill_paint": [0]}
    if stroke:
        fields = {"fill_paint": [PAINT_NONE], "stroke_paint": [0], "stroke_widths": [4.0]}
    scene = Scene.from_paths(
        size, size, [[rect(*box)]], [[1.0, 1.0, 1.0, 1.0]], gradients=g, **fields
    )
    return scene.to_dtype(torch.float64)


def red_at(image, x, y) -> float:
    return image[y, x, 0].item()


def test_linear_gradient_interpolates_between_its_stops():
    scene = painted(dict(kind="linear", geometry=[0, 0, 40, 0], stops=[(0, RED), (1, BLUE)]))
    img = render(scene)
    for x in (0, 10, 25, 39):
        assert red_at(img, x, 20) == pytest.approx(1 - (x + 0.5) / 40)
        assert img[20, x, 2].item() == pytest.approx((x + 0.5) / 40)


def test_middle_stop_offsets_and_pad_before_and_after():
    stops = [(0.25, RED), (0.5, (0.0, 1.0, 0.0, 1.0)), (0.75, BLUE)]
    img = render(painted(dict(kind="linear", geometry=[0, 0, 40, 0], stops=stops)))
    assert img[5, 2].tolist() == [1.0, 0.0, 0.0]  # before the first stop: pad
    assert img[5, 38].tolist() == [0.0, 0.0, 1.0]
    x = 14  # t = 14.5 / 40 = 0.3625, 45% of the way from red to green
    assert red_at(img, x, 5) == pytest.approx(1 - (14.5 / 40 - 0.25) / 0.25)


@pytest.mark.parametrize(
    "spread, expect",
    [
        ("pad", lambda t: min(max(t, 0), 1)),
        ("repeat", lambda t: t % 1),
        ("reflect", lambda t: 1 - abs(t % 2 - 1)),
    ],
)
def test_spread_methods(spread, expect):
    scene = painted(
        dict(kind="linear", geometry=[10, 0, 20, 0], stops=[(0, RED), (1, BLUE)], spread=spread)
    )
    img = render(scene)
    for x in (3, 12, 24, 33):
        t = (x + 0.5 - 10) / 10
        assert img[20, x, 2].item() == pytest.approx(expect(t), abs=1e-9)


def test_radial_gradient_with_and_without_focal_point():
    plain = render(
        painted(dict(kind="radial", geometry=[20, 20, 16, 20, 20, 0], stops=[(0, RED), (1, BLUE)]))
    )
    for x in (20, 26, 30):
        d = math.hypot(x + 0.5 - 20, 20.5 - 20)
        assert plain[20, x, 2].item() == pytest.approx(d / 16)
    focal = render(
        painted(dict(kind="radial", geometry=[20, 20, 16, 12, 20, 0], stops=[(0, RED), (1, BLUE)]))
    )
    # On the line through centre and focus: t = distance to the focus / distance from
    # the focus to the circle along the same ray.
    x = 28
    px = x + 0.5
    assert focal[20, x, 2].item() == pytest.approx((px - 12) / (36 - 12), abs=0.02)
    assert focal[20, 12, 0].item() == pytest.approx(
        1 - 0.5 / 8, abs=0.03
    )  # right next to the focus


def test_radius_zero_paints_the_last_stop():
    img = render(
        painted(dict(kind="radial", geometry=[20, 20, 0, 20, 20, 0], stops=[(0, RED), (1, BLUE)]))
    )
    assert torch.equal(img[20, 20], torch.tensor([0.0, 0.0, 1.0], dtype=img.dtype))


def test_object_bounding_box_units_follow_the_shape_and_transform_applies():
    spec = dict(
        kind="linear", geometry=[0, 0, 1, 0], stops=[(0, RED), (1, BLUE)], units="objectBoundingBox"
    )
    img = render(painted(spec, box=(10, 10, 20, 20)))
    assert img[15, 10, 2].item() == pytest.approx(0.5 / 20)
    assert img[15, 29, 2].item() == pytest.approx(19.5 / 20)
    # gradientTransform: a 90-degree rotation makes the gradient run down, not right.
    spec = dict(
        kind="linear",
        geometry=[0, 0, 40, 0],
        stops=[(0, RED), (1, BLUE)],
        transform=(0, 1, -1, 0, 0, 0),
    )
    img = render(painted(spec))
    assert img[30, 5, 2].item() == pytest.approx(30.5 / 40)
    assert img[30, 35, 2].item() == pytest.approx(30.5 / 40)


def test_gradient_on_a_stroke_and_stop_opacity_times_stroke_opacity():
    spec = dict(
        kind="linear", geometry=[0, 0, 40, 0], stops=[(0, (1, 0, 0, 0.5)), (1, (1, 0, 0, 0.5))]
    )
    scene = painted(spec, box=(10, 10, 20, 20), stroke=True)
    scene.stroke_colors[:, 3] = 0.5
    img = render(scene)
    assert img[10, 20].tolist() == pytest.approx([1.0, 0.75, 0.75])  # alpha 0.25 over white
    assert img[20, 20].tolist() == [1.0, 1.0, 1.0]


def test_unordered_offsets_render_as_their_running_maximum_and_one_stop_is_flat():
    ordered = painted(
        dict(kind="linear", geometry=[0, 0, 40, 0], stops=[(0.2, RED), (0.6, BLUE), (0.6, RED)])
    )
    unordered = painted(
        dict(kind="linear", geometry=[0, 0, 40, 0], stops=[(0.2, RED), (0.6, BLUE), (0.3, RED)])
    )
    assert torch.equal(render(ordered), render(unordered))
    one = render(painted(dict(kind="linear", geometry=[0, 0, 40, 0], stops=[(0.5, BLUE)])))
    assert torch.equal(one[5, 5], torch.tensor([0.0, 0.0, 1.0], dtype=one.dtype))
    many = [(i / 999, (i / 999, 0.0, 1 - i / 999, 1.0)) for i in range(1000)]
    img = render(painted(dict(kind="linear", geometry=[0, 0, 40, 0], stops=many)))
    assert red_at(img, 20, 5) == pytest.approx(20.5 / 40, abs=1e-6)


def test_derivatives_in_stop_colour_offset_and_end_point():
    spec = dict(
        kind="linear",
        geometry=[6.3, 4.1, 31.7, 27.2],
        stops=[
            (0.1, (0.9, 0.2, 0.1, 0.9)),
            (0.45, (0.1, 0.8, 0.3, 0.7)),
            (0.9, (0.2, 0.1, 0.9, 1.0)),
        ],
        spread="reflect",
    )
    scene = painted(spec, size=32, box=(3.3, 2.6, 25.1, 26.4))
    check_derivatives(scene, lambda s: s.gradients.stop_colors, [(0, 0), (1, 1), (1, 3), (2, 2)])
    check_derivatives(scene, lambda s: s.gradients.stop_offsets, [0, 1, 2], step=1e-6)
    check_derivatives(
        scene, lambda s: s.gradients.geometry, [(0, 0), (0, 1), (0, 2), (0, 3)], step=1e-6
    )
    radial = dict(
        kind="radial",
        geometry=[16.2, 15.1, 12.3, 13.4, 14.2, 1.1],
        stops=[(0.0, (0.9, 0.2, 0.1, 1.0)), (1.0, (0.2, 0.1, 0.9, 0.6))],
    )
    scene = painted(radial, size=32, box=(3.3, 2.6, 25.1, 26.4))
    check_derivatives(
        scene, lambda s: s.gradients.geometry, [(0, 0), (0, 2), (0, 3), (0, 5)], step=1e-6
    )
    check_derivatives(scene, lambda s: s.gradients.stop_colors, [(0, 0), (1, 3)])


def test_stroke_colour_and_flat_fill_derivatives_through_the_shader():
    g = Gradients.build([dict(kind="linear", geometry=[0, 0, 32, 0], stops=[(0, RED), (1, BLUE)])])
    scene = Scene.from_paths(
        32,
        32,
        [[rect(4.2, 5.1, 20.3, 18.7)], [line((3.1, 28.2), (29.3, 26.1))]],
        [[0.3, 0.6, 0.2, 0.8], [1, 1, 1, 1]],
        closed=[[True], [False]],
        fill_paint=[0, PAINT_NONE],
        stroke_paint=[PAINT_NONE, PAINT_FLAT],
        stroke_widths=[1.0, 2.5],
        stroke_colors=[[0, 0, 0, 1], [0.2, 0.3, 0.4, 0.7]],
        gradients=g,
    ).to_dtype(torch.float64)
    check_derivatives(scene, lambda s: s.stroke_colors, [(1, 0), (1, 3)])
    check_derivatives(scene, lambda s: s.colors, [(0, 3)], min_checked=1)


@pytest.mark.parametrize(
    "geometry, message",
    [
        ([0, 0, math.nan, 0], "NaN"),
        ([0, 0, 1e30, 0], "over the limit"),
        ([20, 20, 1e30, 20, 20, 0], "over the limit"),
    ],
)
def test_bad_gradients_are_refused_in_one_line(geometry, message):
    kind = "radial" if len(geometry) == 6 else "linear"
    scene = painted(dict(kind=kind, geometry=geometry, stops=[(0, RED), (1, BLUE)]))
    with pytest.raises(ClipvgError, match=message) as err:
        render(scene)
    assert "\n" not in str(err.value)


def test_zero_stops_is_refused_by_the_model():
    with pytest.raises(ClipvgError, match="at least one stop"):
        Gradients.build([dict(kind="linear", geometry=[0, 0, 1, 0], stops=[])])

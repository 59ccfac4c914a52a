"""``<pattern>`` paints: expanded at load into tile content clipped to the painted region.

Each case is checked against the same picture drawn without a pattern (the tiles
written out by hand) at 40 dB, so a wrong tile size, offset, unit or transform fails.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

import clipvg
from clipvg.svg import SvgLimits, parse_svg_string, scene_to_svg_string

CHECKER = '<rect width="10" height="10" fill="grey"/><rect x="10" y="10" width="10" height="10" fill="green"/>'


def doc(body: str, size: int = 100) -> str:
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}">{body}</svg>'


def render(body: str, size: int = 100, **kw) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scene = parse_svg_string(doc(body, size), **kw)
    with torch.no_grad():
        return clipvg.render(scene, size, size, background="white").double().numpy()


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a - b) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(1 / mse)


def checker(x0, y0, x1, y1, step=20, origin=(0.0, 0.0)) -> str:
    """The checker tiles by hand over [x0, x1) x [y0, y1), clipped to that rectangle."""
    rects = []
    for ty in np.arange(origin[1] - 10 * step, y1, step):
        for tx in np.arange(origin[0] - 10 * step, x1, step):
            rects.append(
                f'<rect x="{tx}" y="{ty}" width="{step / 2}" height="{step / 2}" fill="grey"/>'
            )
            rects.append(
                f'<rect x="{tx + step / 2}" y="{ty + step / 2}" width="{step / 2}" height="{step / 2}" fill="green"/>'
            )
    clip = f'<clipPath id="c"><rect x="{x0}" y="{y0}" width="{x1 - x0}" height="{y1 - y0}"/></clipPath>'
    return f'{clip}<g clip-path="url(#c)">{"".join(rects)}</g>'


CASES = [
    (  # userSpaceOnUse tiles from the origin, over a rect not on a tile edge
        f'<pattern id="p" patternUnits="userSpaceOnUse" width="20" height="20">{CHECKER}</pattern>'
        '<rect x="15" y="5" width="70" height="80" fill="url(#p)"/>',
        checker(15, 5, 85, 85),
    ),
    (  # objectBoundingBox units (the default): tile = a quarter of the box, from its corner
        f'<pattern id="p" width=".25" height=".25">{CHECKER}</pattern>'
        '<rect x="10" y="10" width="80" height="80" fill="url(#p)"/>',
        checker(10, 10, 90, 90, origin=(10, 10)),
    ),
    (  # patternContentUnits objectBoundingBox: content scaled by the box
        '<pattern id="p" width=".25" height=".25" patternContentUnits="objectBoundingBox">'
        '<rect width=".125" height=".125" fill="grey"/>'
        '<rect x=".125" y=".125" width=".125" height=".125" fill="green"/></pattern>'
        '<rect x="10" y="10" width="80" height="80" fill="url(#p)"/>',
        checker(10, 10, 90, 90, origin=(10, 10)),
    ),
    (  # viewBox: a 2x2 content box drawn into a 20x20 tile
        '<pattern id="p" patternUnits="userSpaceOnUse" width="20" height="20" viewBox="0 0 2 2">'
        '<rect width="1" height="1" fill="grey"/><rect x="1" y="1" width="1" height="1" fill="green"/>'
        '</pattern><rect width="100" height="100" fill="url(#p)"/>',
        checker(0, 0, 100, 100),
    ),
    (  # x/y offset the tiles; href inherits the children and the units
        f'<pattern id="a" patternUnits="userSpaceOnUse">{CHECKER}</pattern>'
        '<pattern id="p" href="#a" x="5" y="7" width="20" height="20"/>'
        '<rect width="100" height="100" fill="url(#p)"/>',
        checker(0, 0, 100, 100, origin=(5, 7)),
    ),
    (  # patternTransform scales the tiles
        f'<pattern id="p" patternUnits="userSpaceOnUse" width="20" height="20" '
        f'patternTransform="scale(2)">{CHECKER}</pattern>'
        '<rect width="100" height="100" fill="url(#p)"/>',
        checker(0, 0, 100, 100, step=40),
    ),
]


@pytest.mark.parametrize("body, expected", CASES)
def test_pattern_fill_matches_the_tiles_drawn_by_hand(body, expected):
    assert psnr(render(body), render(expected)) >= 40


def test_a_rotated_pattern_matches_a_rotated_hand_drawing():
    body = (
        f'<pattern id="p" patternUnits="userSpaceOnUse" width="20" height="20" '
        f'patternTransform="rotate(30 50 50)">{CHECKER}</pattern>'
        '<rect width="100" height="100" fill="url(#p)"/>'
    )
    tiles = checker(-200, -200, 300, 300).replace(
        '<g clip-path="url(#c)">', '<g transform="rotate(30 50 50)">'
    )
    assert psnr(render(body), render(tiles)) >= 35  # antialiased tile seams


def test_the_tiles_are_clipped_to_the_shape_in_a_group_and_are_plain_paths():
    scene = parse_svg_string(doc(CASES[0][0]))
    assert scene.num_paths == 5 * 5 * 2  # tiles meeting the box x 2 rects, no path for the rect
    assert len(scene.clips) == 1
    groups = set(scene.path_group.tolist())
    assert len(groups) == 1 and int(scene.groups.clip[groups.pop()]) == 0
    assert len(scene.gradients) == 0 and bool(scene.has_fill.all())  # flat colours
    again = parse_svg_string(scene_to_svg_string(scene))
    with torch.no_grad():
        a, b = (clipvg.render(s, 100, 100, background="white") for s in (scene, again))
    assert psnr(a.double().numpy(), b.double().numpy()) >= 50


def test_fill_opacity_applies_to_the_pattern_and_the_element_opacity_on_top():
    body = CASES[0][0].replace('fill="url(#p)"', 'fill="url(#p)" fill-opacity="0.5" opacity="0.5"')
    expected = CASES[0][1].replace('clip-path="url(#c)"', 'clip-path="url(#c)" opacity="0.25"')
    assert psnr(render(body), render(expected)) >= 40


def test_a_stroke_pattern_paints_the_stroke_outline_only():
    body = (
        f'<pattern id="p" patternUnits="userSpaceOnUse" width="20" height="20">{CHECKER}</pattern>'
        '<rect x="20" y="20" width="60" height="60" fill="blue" stroke="url(#p)" stroke-width="8"/>'
    )
    image = render(body)
    assert np.allclose(image[50, 50], [0, 0, 1], atol=1e-3)  # the fill, drawn under the stroke
    assert np.allclose(image[5, 5], [1, 1, 1], atol=1e-3)  # outside the stroke
    ring = np.concatenate([image[17:23, 17:83].reshape(-1, 3), image[77:83, 17:83].reshape(-1, 3)])
    grey, green = np.array([128, 128, 128]) / 255, np.array([0, 128, 0]) / 255
    near = lambda c: (np.abs(ring - c).max(1) < 0.02).mean()  # noqa: E731
    assert near(grey) > 0.2 and near(green) > 0.2  # both tile colours on the stroke


def test_content_that_spills_out_of_its_tile_is_clipped_per_tile():
    body = (
        '<pattern id="p" patternUnits="userSpaceOnUse" width="20" height="20">'
        '<circle cx="10" cy="10" r="14" fill="green"/></pattern>'
        '<rect width="40" height="40" fill="url(#p)"/>'
    )
    scene = parse_svg_string(doc(body))
    assert scene.num_paths == 4 and len(scene.clips) == 1 + 4  # the rect, then a tile each
    visible = body.replace("<pattern", '<pattern overflow="visible"')
    assert len(parse_svg_string(doc(visible)).clips) == 1


def test_too_many_tiles_are_refused_with_a_warning_and_allowed_by_the_limit():
    body = (
        '<pattern id="p" patternUnits="userSpaceOnUse" width="1" height="1">'
        '<rect width=".5" height=".5"/></pattern><rect width="100" height="100" fill="url(#p)"/>'
    )
    with pytest.warns(UserWarning, match="max_pattern_tiles"):
        scene = parse_svg_string(doc(body))
    assert scene.num_paths == 0
    scene = parse_svg_string(doc(body), limits=SvgLimits(max_pattern_tiles=10_000))
    assert scene.num_paths == 100 * 100


@pytest.mark.parametrize(
    "pattern, fill, expected",
    [
        (
            '<pattern id="p" width="0" height="10"><rect width="5" height="5"/></pattern>',
            "url(#p) green",
            "green",
        ),
        (
            '<pattern id="p" width="0" height="10"><rect width="5" height="5"/></pattern>',
            "url(#p)",
            None,
        ),
        # the pattern used inside its own tile: the inner use has no paint
        (
            '<pattern id="p" patternUnits="userSpaceOnUse" width="50" height="50">'
            '<rect width="25" height="25" fill="url(#p) red"/><rect x="25" width="25" height="25" fill="blue"/></pattern>',
            "url(#p)",
            "tiles",
        ),
    ],
)
def test_what_a_pattern_that_cannot_paint_becomes(pattern, fill, expected):
    scene = parse_svg_string(doc(f'{pattern}<rect width="100" height="100" fill="{fill}"/>'))
    if expected == "green":
        assert scene.num_paths == 1 and scene.colors[0, :3].tolist() == pytest.approx(
            [0, 128 / 255, 0]
        )
    elif expected is None:
        assert scene.num_paths == 1 and not bool(scene.has_fill[0])
    else:  # 4 tiles of two rects, the inner pattern falls back to red
        assert scene.num_paths == 8
        red = (scene.colors[:, :3] == torch.tensor([1.0, 0, 0])).all(1)
        assert int(red.sum()) == 4


def test_a_vanishing_tile_is_refused_not_overflowed():
    body = (
        '<pattern id="p" patternUnits="userSpaceOnUse" width="1e-300" height="1">'
        '<rect width="1" height="1"/></pattern><rect width="100" height="100" fill="url(#p)"/>'
    )
    with pytest.warns(UserWarning, match="max_pattern_tiles"):
        assert parse_svg_string(doc(body)).num_paths == 0


def test_nested_patterns_share_one_tile_budget():
    chain = "".join(
        f'<pattern id="p{i}" patternUnits="userSpaceOnUse" width="2" height="2">'
        f'<rect width="1" height="1" fill="url(#p{i + 1}) green"/></pattern>'
        for i in range(6)
    )
    body = f'{chain}<rect width="20" height="20" fill="url(#p0)"/>'
    with pytest.warns(UserWarning, match="max_pattern_tiles"):
        scene = parse_svg_string(doc(body), limits=SvgLimits(max_pattern_tiles=150))
    # 100 outer tiles, each ending, 5 patterns deeper, in one fallback-green rect
    assert 0 < scene.num_paths < 100  # the budget ran out on the way down
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        full = parse_svg_string(doc(body), limits=SvgLimits(max_pattern_tiles=1000))
    assert full.num_paths == 100 and len(full.clips) == 1 + 100 * 5  # the rect, each inner paint

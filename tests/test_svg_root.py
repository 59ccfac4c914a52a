"""The root ``<svg>``'s own paint: CSS ``background-color`` (as resvg renders it)."""

from __future__ import annotations

import pytest

from clipvg.svg import parse_svg_string, scene_to_svg_string


@pytest.mark.parametrize("viewbox", ["", ' viewBox="-100 -100 200 200"'])
def test_background_color_becomes_a_path_under_everything_over_the_whole_canvas(viewbox):
    scene = parse_svg_string(
        f'<svg xmlns="http://www.w3.org/2000/svg" width="50" height="40"{viewbox} '
        'style="background-color: #0000ff80"><rect width="5" height="5" fill="red"/></svg>'
    )
    assert scene.num_paths == 2
    assert scene.colors[0].tolist() == pytest.approx([0, 0, 1, 128 / 255])
    pts = scene.points[: int(scene.contour_sizes[0])]
    assert pts.min(0).values.tolist() == [0, 0] and pts.max(0).values.tolist() == [50, 40]
    again = parse_svg_string(scene_to_svg_string(scene))  # written as a plain path: kept once
    assert again.num_paths == 2


@pytest.mark.parametrize("style", ["", ' style="background-color: transparent"'])
def test_no_background_adds_nothing(style):
    svg = f'<svg xmlns="http://www.w3.org/2000/svg" width="50" height="40"{style}><rect width="5" height="5"/></svg>'
    assert parse_svg_string(svg).num_paths == 1

"""Export of strokes, gradients, clip paths and the group tree; load -> save -> load.

The fixture ``data/svg/illustration.svg`` is a small Inkscape-style drawing with
layers, every stroke property, linear and radial gradients (href inheritance,
gradientTransform, a focal point, spreadMethod) and a clip path on a group.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import torch

import clipvg
from clipvg.scene import CAP_ROUND, JOIN_BEVEL, JOIN_ROUND, PAINT_FLAT, PAINT_NONE, RADIAL
from clipvg.svg import load_svg, parse_svg_string, scene_to_svg_string

DATA = Path(__file__).parent / "data" / "svg"
NS = {
    "svg": "http://www.w3.org/2000/svg",
    "inkscape": "http://www.inkscape.org/namespaces/inkscape",
}
INK = "{http://www.inkscape.org/namespaces/inkscape}"


@pytest.fixture(scope="module")
def scene():
    return load_svg(DATA / "illustration.svg")


def by_id(scene, name: str) -> int:
    return [i.id for i in scene.info].index(name)


def test_strokes_load_with_every_property(scene):
    roof, wall, fence = by_id(scene, "roof"), by_id(scene, "wall"), by_id(scene, "fence")
    assert scene.fill_paint[roof] == PAINT_NONE and scene.stroke_paint[roof] == PAINT_FLAT
    assert scene.stroke_widths[roof] == 4 and scene.linecap[roof] == CAP_ROUND
    assert scene.linejoin[roof] == JOIN_BEVEL and scene.miter_limit[roof] == 2
    assert scene.path_dashes(wall) == [4, 2, 1] and scene.dash_offset[wall] == 3
    assert scene.stroke_colors[wall, 3] == pytest.approx(0.5)
    assert scene.linejoin[fence] == JOIN_ROUND
    # lines, polylines and open paths stay open: the loader adds no closing segment
    for i in (roof, fence):
        closed = scene.contour_closed[scene.contour_path == i]
        sizes = scene.contour_sizes[scene.contour_path == i]
        assert closed.tolist() == [False] and sizes.tolist() == [7]


def test_gradients_resolve_href_units_transform_and_focus(scene):
    g = scene.gradients
    sky, sun, wall = by_id(scene, "sky-rect"), by_id(scene, "sun-disc"), by_id(scene, "wall")
    k_sky, k_sun, k_wall = (int(scene.fill_paint[i]) for i in (sky, sun, wall))
    assert [g.ids[k] for k in (k_sky, k_sun, k_wall)] == ["sky", "sun", "sky-rotated"]
    assert bool(g.units_bbox[k_sky]) and g.geometry[k_sky, :4].tolist() == [0, 0, 0, 1]
    assert g.kind[k_sun] == RADIAL and g.spread[k_sun] == 1  # reflect
    assert g.geometry[k_sun].tolist() == [90, 25, 15, 86, 21, 0]
    # the href brings the stops; gradientTransform stays with the gradient
    assert g.stop_sizes[k_wall] == 3 and g.stop_offsets[
        g.stop_gradient() == k_wall
    ].tolist() == pytest.approx([0, 0.6, 1])
    a, b = np.cos(np.pi / 6), np.sin(np.pi / 6)
    assert g.transform[k_wall].tolist() == pytest.approx([a, b, -b, a, 0, 0], abs=1e-6)


def test_groups_keep_ids_labels_layers_opacity_and_clips(scene):
    groups = scene.groups
    assert groups.ids == ["layer1", "layer2", "house"]
    assert groups.labels == ["Background", "Drawing", None]
    assert groups.attrs[0] == {"inkscape:groupmode": "layer", "sodipodi:insensitive": "true"}
    assert groups.parent.tolist() == [-1, -1, 1]
    assert groups.opacity.tolist() == pytest.approx([1, 0.9, 1])
    assert groups.clip.tolist() == [-1, -1, 0] and scene.clips[0].id == "window"


def test_export_writes_layers_defs_and_stroke_attributes(scene):
    root = ET.fromstring(scene_to_svg_string(scene))
    layers = root.findall("svg:g", NS)
    assert [(g.get("id"), g.get(f"{INK}label"), g.get(f"{INK}groupmode")) for g in layers] == [
        ("layer1", "Background", "layer"),
        ("layer2", "Drawing", "layer"),
    ]
    defs = root.find("svg:defs", NS)
    ids = {el.get("id") for el in defs}
    assert {"sky", "sky-rotated", "sun", "window"} <= ids
    roof = root.find(".//svg:path[@id='roof']", NS)
    assert roof.get("stroke-linecap") == "round" and roof.get("stroke-linejoin") == "bevel"
    assert roof.get("stroke-width") == "4" and roof.get("fill") == "none"
    assert "Z" not in roof.get("d")  # open
    wall = root.find(".//svg:path[@id='wall']", NS)
    assert wall.get("stroke-dasharray") == "4 2 1" and wall.get("fill") == "url(#sky-rotated)"
    house = root.find(".//svg:g[@id='house']", NS)
    assert house.get("clip-path") == "url(#window)"


def same_scene(a, b) -> None:
    for name in ("contour_sizes", "contour_closed", "fill_paint", "stroke_paint", "linecap"):
        assert getattr(a, name).tolist() == getattr(b, name).tolist(), name
    torch.testing.assert_close(a.points, b.points, atol=1e-3, rtol=0)
    for name in ("stroke_widths", "dashes", "dash_offset", "opacity", "miter_limit"):
        torch.testing.assert_close(getattr(a, name), getattr(b, name), atol=1e-6, rtol=0)
    torch.testing.assert_close(a.colors, b.colors, atol=1 / 255, rtol=0)
    torch.testing.assert_close(a.stroke_colors, b.stroke_colors, atol=1 / 255, rtol=0)
    ga, gb = a.gradients, b.gradients
    torch.testing.assert_close(ga.geometry, gb.geometry, atol=1e-5, rtol=0)
    torch.testing.assert_close(ga.transform, gb.transform, atol=1e-5, rtol=0)
    torch.testing.assert_close(ga.stop_colors, gb.stop_colors, atol=1 / 255, rtol=0)
    assert ga.ids == gb.ids and a.groups.ids == b.groups.ids and a.groups.labels == b.groups.labels
    assert [i.id for i in a.info] == [i.id for i in b.info]


def test_load_save_load_is_lossless(scene):
    again = parse_svg_string(scene_to_svg_string(scene))
    same_scene(scene, again)
    twice = parse_svg_string(scene_to_svg_string(again))
    assert scene_to_svg_string(twice) == scene_to_svg_string(again)  # a fixed point
    with torch.no_grad():
        first, second = (clipvg.render(s, 60, 50) for s in (scene, again))
    mse = float(((first - second) ** 2).mean())
    assert mse == 0 or 10 * np.log10(1 / mse) >= 50


def test_uneditable_elements_one_warning():
    with pytest.warns(UserWarning, match=r"^not editable, so left out: 1 <text>, 1 filter"):
        parse_svg_string(
            '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
            '<text rotate="30">a</text>'
            '<rect width="5" height="5" filter="url(#f)"/></svg>'
        )


def test_path_numbers_have_four_decimals_without_trailing_zeros():
    """The coordinates are formatted all at once: every number as ``f"{v:.4f}"``
    with its trailing zeros stripped, -0 as 0, rings rotated, open contours kept open."""
    rng = np.random.default_rng(0)
    ties = (np.arange(-60, 60) + 0.5) / 1e4  # halfway cases
    values = np.concatenate(
        [
            rng.uniform(-600, 600, 240),
            np.round(rng.uniform(-5, 5, 60), 2),
            ties,
            [0.0, -0.0, -1e-6, 7.0, -12.0, 0.99995, 123456.75, 3e10, -2.5e12],
        ]
    ).astype(np.float32)
    chains = values[: len(values) // 6 * 6].reshape(-1, 2)
    half = len(chains) // 2 // 3 * 3
    paths = [[torch.from_numpy(chains[:half])], [torch.from_numpy(chains[half : 2 * half + 1])]]
    scene = clipvg.Scene.from_paths(100, 100, paths, [[0, 0, 0, 1]] * 2, closed=[[True], [False]])
    d = [p.get("d") for p in ET.fromstring(scene_to_svg_string(scene)).iter(f"{{{NS['svg']}}}path")]

    def text(points) -> str:
        words = [
            f"{v + 0.0:.4f}".rstrip("0").rstrip(".")
            for v in np.round(points.ravel().astype(np.float64), 4)
        ]
        return " ".join(words)

    ring, line = chains[:half], chains[half : 2 * half + 1]
    assert d[0] == f"M{text(ring[:1])}C{text(np.concatenate([ring[1:], ring[:1]]))}Z"
    assert d[1] == f"M{text(line[:1])}C{text(line[1:])}"
    assert "-0 " not in d[0] + d[1] and "e" not in d[0] + d[1]

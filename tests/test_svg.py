"""Tests for clipvg.svg: real-world SVG import and svgwrite export (hostile input:
test_svg_hostile.py; path data and shapes: test_svg_paths.py)."""

from __future__ import annotations

import io
import subprocess
import sys
import warnings
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import torch
from svg_cases import (
    DATA,
    NS,
    REAL,
    ROOT,
    coord_tolerance,
    doc,
    effective_opacity,
    load,
    segments,
)

from clipvg.errors import ClipvgError
from clipvg.scene import PathInfo, Scene
from clipvg.svg import load_svg, parse_svg_string, save_svg, scene_to_svg_string


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

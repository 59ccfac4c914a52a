"""``<text>`` imported as glyph outline paths (clipvg.svg.text, clipvg.fonts)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

import clipvg
from clipvg.errors import ClipvgError
from clipvg.fonts import system_fonts
from clipvg.svg import SvgLimits, parse_svg_string, scene_to_svg_string

try:
    FONT = system_fonts().fallback()
except ClipvgError:  # pragma: no cover - a machine without any font
    FONT = None
pytestmark = pytest.mark.skipif(FONT is None, reason="no .ttf/.otf font on this machine")
FAMILY = FONT.face.family if FONT else ""


def doc(body: str, size: int = 200) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
        f'font-family="{FAMILY}" font-size="40">{body}</svg>'
    )


def load(body: str, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return parse_svg_string(doc(body), **kw)


def xs(scene, path: int | None = None) -> np.ndarray:
    """x of the points of one path (all paths when None)."""
    if path is None:
        return scene.points[:, 0].double().numpy()
    start = int(scene.contour_offsets()[int((scene.contour_path == path).nonzero()[0])])
    end = start + int(scene.contour_sizes[scene.contour_path == path].sum())
    return scene.points[start:end, 0].double().numpy()


def advance(text: str) -> float:
    """The text's advance at 40 px, shaped by harfbuzz (kerning included)."""
    import uharfbuzz as hb

    buf = hb.Buffer()
    buf.add_str(text)
    buf.guess_segment_properties()
    hb.shape(FONT.hb_font, buf, {"kern": True})
    return sum(p.x_advance for p in buf.glyph_positions) * 40 / FONT.units_per_em


def test_one_path_per_inked_glyph_in_a_group_with_the_texts_id_and_fill():
    scene = load('<text id="t1" x="10" y="100" fill="red">Hi o</text>')
    assert scene.num_paths == 3  # the space has no ink
    assert scene.groups.ids == ["t1"] and set(scene.path_group.tolist()) == {0}
    assert all(info.groups == ("t1",) for info in scene.info)
    assert scene.colors[:, :3].tolist() == [[1.0, 0.0, 0.0]] * 3
    assert (scene.contour_closed).all() and (scene.contour_sizes % 3 == 0).all()
    assert int(scene.contour_sizes.numel()) >= 4  # H, i (2), o (2)


def test_glyphs_sit_on_the_baseline_and_scale_with_font_size():
    small = load('<text x="10" y="100">H</text>')
    big = load('<text x="10" y="100" font-size="80">H</text>')
    for scene, size in ((small, 40), (big, 80)):
        y = scene.points[:, 1].double().numpy()
        assert y.max() == pytest.approx(100, abs=0.5)  # H stands on the baseline
        cap = FONT._tt["OS/2"].sCapHeight * size / FONT.units_per_em
        assert 100 - y.min() == pytest.approx(cap, rel=0.02)


@pytest.mark.parametrize("anchor, shift", [("start", 0.0), ("middle", 0.5), ("end", 1.0)])
def test_text_anchor_shifts_the_chunk_by_its_advance(anchor, shift):
    start = load('<text x="100" y="100">AVAV</text>')
    moved = load(f'<text x="100" y="100" text-anchor="{anchor}">AVAV</text>')
    assert xs(moved) - xs(start) == pytest.approx(-shift * advance("AVAV"), abs=1e-3)


def test_shaping_applies_kerning():
    scene = load('<text x="0" y="100">AV</text>')
    a_alone = advance("A")
    if advance("AV") >= a_alone + advance("V") - 1e-6:
        pytest.skip(f"{FAMILY} has no A-V kerning")
    v = load('<text x="0" y="100">V</text>')
    offset = xs(scene, 1).min() - xs(v).min()  # where V starts after A
    assert offset == pytest.approx(advance("AV") - advance("V"), abs=1e-3)
    assert offset < a_alone - 0.1


def test_whitespace_collapses_across_spans_unless_preserved():
    plain = load('<text x="10" y="100">A B</text>')
    messy = load('<text x="10" y="100">\n   A  <tspan>  B</tspan>\t</text>')
    assert torch.equal(plain.points, messy.points)
    preserved = load('<text x="10" y="100" xml:space="preserve">A   B</text>')
    gap = xs(preserved, 1).min() - xs(plain, 1).min()
    assert gap == pytest.approx(advance("A   ") - advance("A "), abs=1e-3)  # two more spaces


def test_per_character_x_dx_dy_lists():
    base = load('<text x="10" y="100">ABC</text>')
    moved = load('<text x="10 120" dx="0 0 7" dy="0 5" y="100">ABC</text>')
    assert xs(moved, 0) == pytest.approx(xs(base, 0))
    bearing = xs(base, 1).min() - (10 + advance("AB") - advance("B"))  # B's left side bearing
    assert xs(moved, 1).min() == pytest.approx(120 + bearing, abs=1e-3)  # a new chunk at x=120
    c_gap = xs(moved, 2).min() - xs(moved, 1).min()
    assert c_gap == pytest.approx(xs(base, 2).min() - xs(base, 1).min() + 7, abs=1e-3)
    ys = [
        moved.points[moved.contour_path.repeat_interleave(moved.contour_sizes) == k, 1]
        for k in (0, 1, 2)
    ]
    base_ys = [
        base.points[base.contour_path.repeat_interleave(base.contour_sizes) == k, 1]
        for k in (0, 1, 2)
    ]
    assert float(ys[0].max()) == pytest.approx(float(base_ys[0].max()))
    assert float(ys[1].max()) == pytest.approx(float(base_ys[1].max()) + 5, abs=1e-3)  # dy stays
    assert float(ys[2].max()) == pytest.approx(float(base_ys[2].max()) + 5, abs=1e-3)


def test_spans_keep_their_own_paint_and_hidden_spans_keep_their_space():
    scene = load(
        '<text x="10" y="100">A<tspan fill="red">B</tspan><tspan visibility="hidden">C</tspan>D</text>'
    )
    whole = load('<text x="10" y="100">ABCD</text>')
    assert scene.num_paths == 3
    assert scene.colors[:, :3].tolist() == [[0, 0, 0], [1, 0, 0], [0, 0, 0]]
    assert xs(scene, 2) == pytest.approx(xs(whole, 3), abs=1e-4)  # D where it was
    gone = load('<text x="10" y="100">A<tspan display="none">BC</tspan>D</text>')
    assert xs(gone, 1) == pytest.approx(xs(load('<text x="10" y="100">AD</text>'), 1), abs=1e-4)


def test_an_object_bounding_box_gradient_spans_the_whole_text():
    scene = load(
        '<linearGradient id="g"><stop offset="0" stop-color="white"/><stop offset="1"/></linearGradient>'
        '<text x="100" y="100" text-anchor="middle" fill="url(#g)">Text</text>'
    )
    assert len(scene.gradients) == 1 and set(scene.fill_paint.tolist()) == {0}
    assert not bool(scene.gradients.units_bbox[0])  # the box folded in: shared by the glyphs
    a, b, c, d, e, f = scene.gradients.transform[0].double().tolist()
    x1, y1, x2, y2 = scene.gradients.geometry[0, :4].double().tolist()
    start, end = a * x1 + c * y1 + e, a * x2 + c * y2 + e
    width = advance("Text")
    assert start == pytest.approx(100 - width / 2, abs=1e-3)  # the layout box: the advances
    assert end == pytest.approx(100 + width / 2, abs=1e-3)
    assert xs(scene).min() > start - 1 and xs(scene).max() < end + 1


def test_a_missing_family_is_replaced_and_named_in_one_warning():
    with pytest.warns(UserWarning, match="'No Such Font' -> ") as caught:
        scene = parse_svg_string(doc('<text x="10" y="100" font-family="No Such Font">Hi</text>'))
    assert scene.num_paths == 2
    assert sum("No Such Font" in str(w.message) for w in caught) == 1


def test_text_in_a_clip_path_clips_to_its_glyphs():
    scene = load(
        '<clipPath id="c"><text x="10" y="100" font-size="80">O</text></clipPath>'
        '<rect width="200" height="200" fill="green" clip-path="url(#c)"/>'
    )
    assert len(scene.clips) == 1 and scene.clips[0].scene.num_paths == 1
    with torch.no_grad():
        image = clipvg.render(scene, 200, 200, background="white").double().numpy()
    ink = (image[..., 1] < 0.9).mean()
    assert 0.01 < ink < 0.2  # the O's ring, not the whole rect


@pytest.mark.parametrize(
    "body",
    [
        '<path id="p" d="M0 100H200"/><text><textPath href="#p">on a path</textPath></text>',
        '<text x="10" y="100" writing-mode="tb">vertical</text>',
        '<text x="10" y="100">\u05e9\u05dc\u05d5\u05dd</text>',  # Hebrew: right to left
        '<text x="10" y="100" rotate="30">turned</text>',
    ],
)
def test_text_that_cannot_be_laid_out_is_listed_as_not_editable(body):
    with pytest.warns(UserWarning, match="not editable, so left out: 1 <text>"):
        scene = parse_svg_string(doc(body))
    assert not any(i.groups for i in scene.info)


def test_characters_count_against_the_element_limit():
    body = f'<text x="10" y="100">{"a" * 300}</text>'
    with pytest.raises(ClipvgError, match="max_elements"):
        parse_svg_string(doc(body), limits=SvgLimits(max_elements=200))
    assert parse_svg_string(doc(body), limits=SvgLimits(max_elements=400)).num_paths == 300


def test_round_trip_writes_plain_paths_within_50_db():
    scene = load(
        '<text id="t" x="20" y="100" stroke="blue" stroke-width="2" fill="orange">Round <tspan '
        'font-weight="bold" fill="green">trip</tspan></text>'
    )
    text = scene_to_svg_string(scene)
    assert "<text" not in text and 'id="t"' in text
    again = parse_svg_string(text)
    with torch.no_grad():
        a, b = (clipvg.render(s, 200, 200, background="white").double() for s in (scene, again))
    mse = float(((a - b) ** 2).mean())
    assert mse == 0 or 10 * math.log10(1 / mse) >= 50


def test_letter_and_word_spacing_add_to_the_advances():
    base = load('<text x="10" y="100">A B</text>')
    spaced = load('<text x="10" y="100" letter-spacing="3" word-spacing="7">A B</text>')
    assert xs(spaced, 0) == pytest.approx(xs(base, 0))
    assert xs(spaced, 1) - xs(base, 1) == pytest.approx(3 + 3 + 7, abs=1e-3)  # A, space, word

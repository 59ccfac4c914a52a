"""Tests of clipvg.text (lettering) and the ``text`` command."""

import pytest
import torch

import clipvg
from clipvg.errors import ClipvgError
from clipvg.text import find_font, text_to_scene

try:
    FONT = find_font()
except ClipvgError:  # pragma: no cover - machines without any font
    FONT = None
needs_font = pytest.mark.skipif(FONT is None, reason="no .ttf/.otf on this machine")


@needs_font
def test_one_path_per_inked_character_with_holes():
    s = text_to_scene("Ab o", FONT, size=100, margin=10)
    assert s.num_paths == 3  # the space has no ink
    assert s.contour_sizes.numel() >= 5  # A: 2 contours, b: 2, o: 2
    assert (s.contour_sizes % 3 == 0).all()
    assert float(s.points[:, 0].min()) >= 9 and float(s.points[:, 0].max()) <= s.width - 9
    assert float(s.points[:, 1].min()) >= 9 and float(s.points[:, 1].max()) <= s.height - 9
    assert torch.equal(s.colors[:, :3], torch.zeros(3, 3))


@needs_font
def test_renders_ink_inside_and_hole_in_o():
    s = text_to_scene("O", FONT, size=100, margin=10)
    img = clipvg.render(s)
    xs, ys = s.points[:, 0], s.points[:, 1]
    cx, cy = int((xs.min() + xs.max()) / 2), int((ys.min() + ys.max()) / 2)
    assert float(img[cy, cx].mean()) > 0.9  # the counter of the O is white
    assert float(img.mean()) < 0.95 and float(img[int(ys.min()) + 3, cx].mean()) < 0.2


@needs_font
def test_size_scales_layout():
    a, b = (
        text_to_scene("Hi", FONT, size=50, margin=0),
        text_to_scene("Hi", FONT, size=100, margin=0),
    )
    assert b.width == pytest.approx(2 * a.width, abs=2)


@pytest.mark.parametrize("text,message", [("", "empty"), ("a\nb", "one line")])
def test_bad_text(text, message):
    with pytest.raises(ClipvgError, match=message):
        text_to_scene(text, FONT)


def test_missing_font(tmp_path):
    with pytest.raises(ClipvgError, match="not found"):
        text_to_scene("a", tmp_path / "nope.ttf")


def test_unreadable_font(tmp_path):
    bad = tmp_path / "bad.ttf"
    bad.write_bytes(b"not a font")
    with pytest.raises(ClipvgError, match="cannot read font"):
        text_to_scene("a", bad)


@needs_font
def test_cli_text_writes_reimportable_svg(tmp_path, capsys):
    from clipvg import cli

    out = tmp_path / "word.svg"
    assert cli.main(["text", "CLIP", "--font", str(FONT), "-o", str(out)]) == 0
    assert clipvg.load_svg(out).num_paths == 4
    assert cli.main(["text", "x", "--font", str(tmp_path / "none.ttf"), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err

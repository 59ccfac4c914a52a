"""Tests of cli.py across commands: inputs are never overwritten, existing outputs
need --overwrite, progress goes to stderr unless --quiet, one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from clipvg import cli
from clipvg.text import find_font

SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16"><rect x="2" y="2" width="8" height="8" fill="#f00"/></svg>'


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err, err
    return err


@pytest.fixture
def files(tmp_path):
    svg, png = tmp_path / "in.svg", tmp_path / "in.png"
    svg.write_text(SVG)
    rgb = np.zeros((16, 16, 3), np.uint8)
    rgb[4:12, 4:12] = (200, 30, 30)
    Image.fromarray(rgb).save(png)
    return svg, png


def test_render_refuses_an_existing_output_unless_overwrite(files, tmp_path, capsys):
    svg, _ = files
    out = tmp_path / "out.png"
    out.write_bytes(b"keep me")
    assert cli.main(["render", str(svg), "-o", str(out)]) == 2
    assert "--overwrite" in one_error_line(capsys) and out.read_bytes() == b"keep me"
    assert cli.main(["render", str(svg), "-o", str(out), "--overwrite"]) == 0
    assert Image.open(out).size == (16, 16)
    # --overwrite never reaches the input
    assert cli.main(["render", str(svg), "-o", str(svg), "--overwrite"]) == 2
    assert "is the input" in one_error_line(capsys) and svg.read_text() == SVG


@pytest.mark.parametrize("fmt, suffix", [("JPEG", ".jpg"), ("PNG", ".svg")])
def test_render_points_a_raster_at_vectorize(tmp_path, capsys, fmt, suffix):
    pic = tmp_path / f"photo{suffix}"
    Image.new("RGB", (8, 8), (10, 200, 30)).save(pic, format=fmt)
    assert cli.main(["render", str(pic), "-o", str(tmp_path / "o.png")]) == 2
    err = one_error_line(capsys)
    assert "raster image" in err and f"vectorize {pic} -o" in err


def test_vectorize_refuses_existing_output_and_input(files, tmp_path, capsys):
    _, png = files
    out = tmp_path / "out.svg"
    out.write_text("keep")
    base = ["vectorize", str(png), "--preset", "fast", "--rounds", "4", "--quiet"]
    assert cli.main([*base, "-o", str(out)]) == 2
    assert "--overwrite" in one_error_line(capsys) and out.read_text() == "keep"
    assert cli.main([*base, "-o", str(png), "--overwrite"]) == 2
    assert "is the input" in one_error_line(capsys)
    assert cli.main([*base, "-o", str(out), "--overwrite"]) == 0
    assert out.read_text().startswith("<")


def test_vectorize_progress_on_stderr_unless_quiet(files, tmp_path, capsys):
    _, png = files
    args = ["vectorize", str(png), "--preset", "fast", "--rounds", "4", "--refine-iters", "1"]
    assert cli.main([*args, "-o", str(tmp_path / "a.svg")]) == 0
    captured = capsys.readouterr()
    assert "vectorizing" in captured.err and "refining" in captured.err
    assert "vectorizing" not in captured.out
    assert cli.main([*args, "-o", str(tmp_path / "b.svg"), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and "wrote" in captured.out


def test_text_refuses_existing_output_and_the_font(tmp_path, capsys):
    try:
        font = find_font()
    except Exception:
        pytest.skip("no .ttf/.otf on this machine")
    out = tmp_path / "w.svg"
    out.write_text("keep")
    assert cli.main(["text", "a", "--font", str(font), "-o", str(out)]) == 2
    assert "--overwrite" in one_error_line(capsys) and out.read_text() == "keep"
    assert cli.main(["text", "a", "--font", str(font), "-o", str(out), "--overwrite"]) == 0
    copy = tmp_path / ("f" + font.suffix)
    copy.write_bytes(font.read_bytes())
    assert cli.main(["text", "a", "--font", str(copy), "-o", str(copy), "--overwrite"]) == 2
    assert "is the input" in one_error_line(capsys)
    assert copy.read_bytes() == font.read_bytes()


@pytest.mark.parametrize("which", ["edited", "source", "prompt_image"])
def test_evaluate_json_never_replaces_an_input(files, capsys, which):
    svg, png = files
    target = {"edited": svg, "source": svg, "prompt_image": png}[which]
    before = target.read_bytes()
    args = ["evaluate", str(svg), "--source", str(svg), "--prompt-image", str(png)]
    for extra in ([], ["--overwrite"]):
        assert cli.main([*args, "--json", str(target), *extra]) == 2
        assert "is the input" in one_error_line(capsys)
    assert target.read_bytes() == before


def test_evaluate_json_refuses_an_existing_report_without_overwrite(files, tmp_path, capsys):
    svg, _ = files
    report = tmp_path / "r.json"
    report.write_text(json.dumps({"old": 1}))
    assert cli.main(["evaluate", str(svg), "--source", str(svg), "--json", str(report)]) == 2
    assert "--overwrite" in one_error_line(capsys)


def test_missing_input_has_one_wording(tmp_path, capsys):
    nope = str(tmp_path / "nope")
    for args in (
        ["render", nope + ".svg", "-o", str(tmp_path / "o.png")],
        ["vectorize", nope + ".png", "-o", str(tmp_path / "o.svg")],
        ["edit", nope + ".svg", "--prompt", "x", "-o", str(tmp_path / "o")],
        ["evaluate", nope + ".svg", "--source", nope + ".svg"],
    ):
        assert cli.main(args) == 2
        err = one_error_line(capsys)
        assert err.endswith("not found; check the path"), err


def test_edit_output_under_a_file_is_refused_before_any_work(files, tmp_path, capsys):
    svg, _ = files
    (tmp_path / "f").write_text("x")
    out = tmp_path / "f" / "sub" / "out"
    assert cli.main(["edit", str(svg), "--prompt", "x", "-o", str(out)]) == 2
    assert "cannot create output folder" in one_error_line(capsys)

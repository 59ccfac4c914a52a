"""Tests of clipvg.evaluate / clipvg.metrics and the ``evaluate`` command (offline)."""

from __future__ import annotations

import json
import math

import pytest
import torch
from encoders import MeanColorEncoder, two_boxes

import clipvg
from clipvg import clip as clip_mod
from clipvg.clip import tiny_clip
from clipvg.evaluate import evaluate, format_table
from clipvg.metrics import background_psnr, background_ssim, directional_similarity

ROI_LEFT = {"x": 0, "y": 0, "w": 34, "h": 64, "prompt": "red"}  # box edge at 32.25


@pytest.fixture
def pair(tmp_path):
    """Source: two gray boxes. Edited: the left box red, the right one untouched."""
    src = two_boxes(64)
    edited = src.clone()
    edited.colors[0] = torch.tensor([0.9, 0.1, 0.1, 1.0])
    clipvg.save_svg(src, tmp_path / "src.svg")
    clipvg.save_svg(edited, tmp_path / "edited.svg")
    return tmp_path / "src.svg", tmp_path / "edited.svg"


def test_scores_local_red_edit(pair):
    src, edited = pair
    rep = evaluate(edited, src, MeanColorEncoder(), prompt="green", rois=[ROI_LEFT])
    roi = rep["rois"][1]
    assert roi["clip_score"] > roi["clip_score_source"]
    assert roi["directional"] > 0.5  # the change points from gray toward red
    assert rep["background"]["identical"] and rep["background"]["psnr_db"] is None
    assert rep["background"]["ssim"] > 0.99  # 7x7 SSIM windows near the ROI see into it
    assert rep["paths"] == {"edited": 2, "source": 2}
    assert rep["file_bytes"]["edited"] > 0
    assert "red" in format_table(rep)


def test_background_change_is_seen_when_roi_misses_it(pair):
    src, edited = pair
    rep = evaluate(
        edited,
        src,
        MeanColorEncoder(),
        prompt="red",
        rois=[{"x": 32, "y": 0, "w": 32, "h": 64, "prompt": "blue"}],
    )
    assert not rep["background"]["identical"] and rep["background"]["psnr_db"] < 20
    assert rep["background"]["ssim"] < 0.9
    whole = evaluate(edited, src, MeanColorEncoder(), prompt="red")
    assert whole["background"]["region"].startswith("whole image")


def test_raster_source_and_margin(pair, tmp_path):
    src, edited = pair
    from clipvg.io import write_png

    write_png(clipvg.render(clipvg.load_svg(src), 128), tmp_path / "src.png")  # 2x the canvas
    roi = dict(ROI_LEFT, w=68, h=128)  # input pixels
    rep = evaluate(edited, tmp_path / "src.png", MeanColorEncoder(), rois=[roi], margin=2)
    assert rep["rois"][0]["target"] is None and "clip_score" not in rep["rois"][0]
    assert rep["background"]["psnr_db"] is None or rep["background"]["psnr_db"] > 30
    assert rep["paths"]["source"] is None


def test_metric_functions():
    a = torch.rand(16, 16, 3)
    b = a.clone()
    b[:8] = 0
    out = torch.zeros(16, 16, dtype=torch.bool)
    out[8:] = True
    assert math.isinf(background_psnr(a, b, out))
    assert background_psnr(a, b, ~out) < 20
    assert background_ssim(a, b, out) > background_ssim(a, b, ~out)
    e = torch.tensor([[1.0, 0.0]])
    assert float(
        directional_similarity(e, torch.tensor([[0.0, 1.0]]), e, torch.tensor([[0.0, 1.0]]))
    ) == pytest.approx(1)


def test_cli_evaluate_json_and_table(pair, tmp_path, monkeypatch, capsys):
    from clipvg import cli

    tiny = tiny_clip()
    monkeypatch.setattr(clip_mod, "load_clip", lambda *a, **k: tiny)
    src, edited = pair
    out = tmp_path / "r.json"
    args = [
        "evaluate",
        str(edited),
        "--source",
        str(src),
        "--prompt",
        "a cat",
        "--roi",
        "0",
        "0",
        "32",
        "64",
        "red",
        "--roi-polygon",
        "32,0 64,0 64,64",
        "blue",
        "--clip-pretrained",
        "none",
        "--device",
        "cpu",
        "--json",
        str(out),
    ]
    assert cli.main(args) == 0
    rep = json.loads(out.read_text())
    assert [r["kind"] for r in rep["rois"]] == ["whole image", "box", "polygon"]
    assert "PSNR" in capsys.readouterr().out
    assert cli.main(["evaluate", str(edited), "--source", str(tmp_path / "nope.svg")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "not found" in err and "\n" not in err

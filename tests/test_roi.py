"""Tests of roi: building and validating regions of interest."""

import pytest

from clipvg.errors import ClipvgError
from roi import ROI, build_rois


def test_whole_image_is_roi_zero_then_extras_in_order():
    rois = build_rois(
        100,
        50,
        "cat",
        [(10, 5, 20, 30, "red"), {"x": 0, "y": 0, "w": 100, "h": 50, "prompt": "b", "patches": 3}],
        patches=8,
    )
    assert rois[0] == ROI(0, 0, 100, 50, "cat", patches=8)
    assert rois[1].box == (10, 5, 20, 30) and rois[1].prompt == "red" and rois[1].patches == 8
    assert rois[2].patches == 3


@pytest.mark.parametrize(
    "spec,message",
    [
        ((90, 0, 20, 10, "x"), "outside"),
        ((-1, 0, 20, 10, "x"), "outside"),
        ((0, 45, 20, 10, "x"), "outside"),
        ((0, 0, 0, 10, "x"), "positive"),
        ((0, 0, 10, 10, "  "), "empty prompt"),
        ((0, 0, 10, "ten", "x"), "numbers"),
        ((0, 0, 10, 10), "5 values"),
        ({"x": 0, "y": 0, "w": 1, "h": 1}, "missing prompt"),
        ({"x": 0, "y": 0, "w": 1, "h": 1, "prompt": "a", "colour": 1}, "unknown"),
        ({"x": 0, "y": 0, "w": 1, "h": 1, "prompt": "a", "crop_ratio": 1.5}, "crop ratio"),
    ],
)
def test_bad_rois_raise(spec, message):
    with pytest.raises(ClipvgError, match=message):
        build_rois(100, 50, "cat", [spec])


def test_empty_main_prompt_raises():
    with pytest.raises(ClipvgError, match="whole image has an empty prompt"):
        build_rois(10, 10, "")


def test_scaled():
    assert ROI(1, 2, 3, 4, "a").scaled(2, 0.5).box == (2, 1, 6, 2)

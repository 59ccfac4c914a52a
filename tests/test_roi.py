"""Tests of roi: building and validating regions of interest."""

import pytest

from clipvg.errors import ClipvgError
from clipvg.roi import ROI, build_rois


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


# ---- masks ------------------------------------------------------------------------------
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from tolerance import U32, sum_error  # noqa: E402

from clipvg.render.raster import COVER_EPSILON  # noqa: E402
from clipvg.roi import (  # noqa: E402
    box_mask,
    feather,
    parse_polygon,
    paths_overlapping,
    polygon_mask,
    read_mask,
    roi_mask,
)
from clipvg.roi.mask import mask_bbox  # noqa: E402


@pytest.mark.parametrize(
    "box", [(0, 0, 8, 8), (1.5, 2.25, 3, 2), (0.1, 0.1, 0.3, 0.3), (4, 4, 10, 10)]
)
def test_box_mask_is_exact_coverage(box):
    m = box_mask(box, (8, 8))
    x, y, w, h = box
    inside = (min(x + w, 8) - max(x, 0)) * (min(y + h, 8) - max(y, 0))
    assert m.shape == (8, 8) and float(m.min()) >= 0 and float(m.max()) <= 1
    # float32: each 1-D overlap rounds coordinates below 16 (error < 2 * 16 u), the
    # product adds one rounding, then 64 pixels are summed.
    per_pixel = 64 * U32
    assert float(m.sum()) == pytest.approx(inside, abs=64 * per_pixel + sum_error(64, inside))


def test_polygon_mask_matches_box_and_triangle_area():
    square = ((1.5, 2.25), (4.5, 2.25), (4.5, 4.25), (1.5, 4.25))
    # Per pixel the rasterizer drops windings below COVER_EPSILON and rounds a prefix
    # sum of at most 2 * 16 cell terms of size <= 1 on float32 coordinates below 16.
    per_pixel = COVER_EPSILON + sum_error(2 * 16, 2 * 16) + 64 * U32
    assert torch.allclose(
        polygon_mask(square, (8, 8)), box_mask((1.5, 2.25, 3, 2), (8, 8)), atol=2 * per_pixel
    )
    tri = polygon_mask(((0, 0), (16, 0), (0, 16)), (16, 16))
    assert float(tri.sum()) == pytest.approx(128, abs=256 * per_pixel + sum_error(256, 128))
    assert 0 < float(tri[7, 8]) < 1  # the diagonal is anti-aliased


def test_mask_image_roi_bbox_and_resize(tmp_path):
    m = Image.new("L", (200, 100), 0)
    m.paste(255, (20, 10, 60, 50))
    m.save(tmp_path / "m.png")
    rois = build_rois(100, 50, "cat", [{"mask": str(tmp_path / "m.png"), "prompt": "dog"}])
    assert rois[1].kind == "mask" and rois[1].box == pytest.approx((10, 5, 20, 20))
    small = roi_mask(rois[1], (100, 50), (25, 50))
    # Resampling (not rounding): the 20x20 box lands on a 5x10 block, +-1 of edge blur.
    assert small.shape == (25, 50) and float(small.sum()) == pytest.approx(100, abs=1)
    assert read_mask(tmp_path / "m.png", 200, 100).max() == 1


def test_polygon_roi_bbox_and_scaled():
    rois = build_rois(100, 50, "cat", [{"polygon": "10,5 30,5 20,25", "prompt": "x"}])
    assert rois[1].box == (10, 5, 20, 20) and rois[1].kind == "polygon"
    assert rois[1].scaled(2, 1).polygon == ((20, 5), (60, 5), (40, 25))


@pytest.mark.parametrize(
    "spec,message",
    [
        ({"polygon": "1,1 2,2", "prompt": "x"}, "at least 3"),
        ({"polygon": "1,1 2,a 3,3", "prompt": "x"}, "polygon is"),
        ({"polygon": "1,1 200,1 3,3", "prompt": "x"}, "outside"),
        ({"mask": "/nonexistent.png", "prompt": "x"}, "not found"),
        ({"x": 0, "y": 0, "w": 5, "h": 5, "image": "/nonexistent.png"}, "not found"),
    ],
)
def test_bad_region_rois_raise(spec, message):
    with pytest.raises(ClipvgError, match=message):
        build_rois(100, 50, "cat", [spec])


def test_empty_and_misshapen_masks_raise(tmp_path):
    Image.new("L", (100, 50), 0).save(tmp_path / "black.png")
    Image.new("L", (50, 50), 255).save(tmp_path / "square.png")
    with pytest.raises(ClipvgError, match="empty"):
        build_rois(100, 50, "cat", [{"mask": str(tmp_path / "black.png"), "prompt": "x"}])
    with pytest.raises(ClipvgError, match="aspect"):
        build_rois(100, 50, "cat", [{"mask": str(tmp_path / "square.png"), "prompt": "x"}])
    with pytest.raises(ClipvgError):
        mask_bbox(torch.zeros(4, 4))
    assert parse_polygon([[0, 0], [1, 0], [0, 1]]) == ((0, 0), (1, 0), (0, 1))


def test_feather_keeps_mass_and_softens_the_edge():
    m = box_mask((8, 8, 16, 16), (32, 32))
    f = feather(m, 2.0)
    # The kernel is normalized, so mass is kept up to rounding: kernel sum and two
    # 13-tap passes (< 4 * 13 u relative), then a sum of 1024 pixels.
    rel = 4 * 13 * U32 + sum_error(1024, 1.0)
    assert float(f.sum()) == pytest.approx(float(m.sum()), rel=rel)
    assert 0.3 < float(f[16, 8]) < 0.7 and float(f[16, 16]) > 0.99
    assert torch.equal(feather(m, 0), m)


def test_paths_overlapping_uses_control_boxes():
    from clipvg.scene import Scene

    def sq(x, y, s):
        c = torch.tensor([[x, y], [x + s, y], [x + s, y + s], [x, y + s]], dtype=torch.float32)
        return torch.cat([torch.stack([c[i], c[i], c[(i + 1) % 4]]) for i in range(4)])

    scene = Scene.from_paths(
        64, 64, [[sq(2, 2, 10)], [sq(40, 40, 10)], [sq(20, 2, 10)]], [[0, 0, 0, 1]] * 3
    )
    region = box_mask((0, 0, 21, 16), (32, 32))  # half resolution: canvas (0..42, 0..32)
    assert paths_overlapping(scene, region).tolist() == [True, False, True]

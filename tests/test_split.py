"""Tests of roi.split: clipping paths to a region, copies, and the allowed-pixel bound."""

from __future__ import annotations

import math

import pytest
import torch
from encoders import square
from PIL import Image

import clipvg
from clipvg.roi import ROI, box_mask, union_mask
from clipvg.roi.split import (
    allowed_mask,
    clip_contours,
    is_region_copy,
    region_outline,
    segment_index,
    segments_leaving,
    split_partial,
)

# Renders flatten curves to within 0.1 px (render's default tolerance): a pixel's
# coverage may differ by up to 0.1 per render between a curve and its exact clip.
FLATTEN = 0.1


def circle(cx: float, cy: float, r: float) -> torch.Tensor:
    """(12, 2) closed cubic chain approximating a circle (4 quarter arcs)."""
    k = 0.5522847498 * r
    pts = []
    for a in range(4):
        t = a * math.pi / 2
        c, s = math.cos(t), math.sin(t)
        p = torch.tensor([cx + r * c, cy + r * s])
        d = torch.tensor([-s, c])  # tangent
        q = torch.tensor([cx + r * math.cos(t + math.pi / 2), cy + r * math.sin(t + math.pi / 2)])
        dq = torch.tensor([-math.sin(t + math.pi / 2), math.cos(t + math.pi / 2)])
        pts += [p, p + k * d, q - k * dq]
    return torch.stack(pts)


def box_roi(x, y, w, h) -> ROI:
    return ROI(x, y, w, h, "red")


def area(contours) -> float:
    """Shoelace area of the control polygons (exact for straight chains)."""
    total = 0.0
    for c in contours:
        c = torch.as_tensor(c, dtype=torch.float64)
        x, y = c[:, 0], c[:, 1]
        total += 0.5 * float(x @ y.roll(-1) - y @ x.roll(-1))
    return abs(total)


def test_clip_a_square_to_a_box_is_their_intersection():
    outline = region_outline([box_roi(10, 10, 20, 20)], (64, 64), (64, 64))
    out = clip_contours([square(0, 0, 25).numpy()], False, outline)
    assert len(out) == 1 and out[0].shape[1] == 2 and out[0].shape[0] % 3 == 0
    assert area(out) == pytest.approx(15 * 15, rel=1e-6)
    assert out[0].min(0).tolist() == pytest.approx([10, 10]) and out[0].max(0).tolist() == [25, 25]
    assert clip_contours([square(40, 40, 10).numpy()], False, outline) == []


def test_clipped_circle_renders_as_circle_times_box():
    """Box edges on the pixel grid: the clip's coverage is the circle's times the box's."""
    scene = clipvg.Scene.from_paths(64, 64, [[circle(32, 32, 20)]], [[0.0, 0.0, 0.0, 1.0]])
    outline = region_outline([box_roi(16, 8, 24, 40)], (64, 64), (64, 64))
    clipped = clip_contours([scene.points.numpy()], False, outline)
    part = clipvg.Scene.from_paths(
        64, 64, [[torch.from_numpy(c) for c in clipped]], [[0.0, 0.0, 0.0, 1.0]]
    )
    with torch.no_grad():
        full = 1 - clipvg.render(scene)[..., 0]
        cut = 1 - clipvg.render(part)[..., 0]
    expected = full * box_mask((16, 8, 24, 40), (64, 64))
    assert float((cut - expected).abs().max()) <= 2 * FLATTEN
    assert float(cut.sum()) > 500  # not empty: the test can fail


def test_mask_and_polygon_regions_outline(tmp_path):
    m = Image.new("L", (64, 64), 0)
    m.paste(255, (8, 16, 40, 48))  # x 8..40, y 16..48
    m.save(tmp_path / "m.png")
    mask_roi = ROI(8, 16, 32, 32, "red", mask=str(tmp_path / "m.png"))
    tri = ROI(0, 0, 20, 20, "red", polygon=((0, 0), (20, 0), (0, 20)))
    outline = region_outline([mask_roi, tri], (128, 128), (64, 64))  # canvas twice the mask
    big = square(0, 0, 128).numpy()
    got = area(clip_contours([big], False, outline))
    # the traced mask is the 64 x 64 box less its 4 corner half-pixels (canvas units x2)
    assert got == pytest.approx(64 * 64 + 200 - 4 * 0.5, abs=1e-3)


def test_split_keeps_originals_and_puts_copies_right_above():
    scene = clipvg.Scene.from_paths(
        64,
        64,
        [[square(0, 0, 40)], [square(50, 50, 10)], [square(20, 20, 40)]],
        [[1, 0, 0, 1], [0, 1, 0, 1], [0, 0, 1, 0.5]],
        info=[clipvg.PathInfo("a"), clipvg.PathInfo(None), clipvg.PathInfo(None, ("g",))],
    )
    outline = region_outline([box_roi(10, 10, 20, 20)], (64, 64), (64, 64))
    partial = torch.tensor([True, False, True])
    out, is_copy = split_partial(scene, partial, outline)
    assert is_copy.tolist() == [False, True, False, False, True]
    assert [p.id for p in out.info] == ["a", "a-clipvg-roi", None, None, "clipvg-roi"]
    assert out.info[4].groups == ("g",)
    for new, old in ((0, 0), (2, 1), (3, 2)):
        assert torch.equal(torch.cat(out.path_contours(new)), torch.cat(scene.path_contours(old)))
        assert torch.equal(out.colors[new], scene.colors[old])
    assert torch.equal(out.colors[1], scene.colors[0]) and torch.equal(
        out.colors[4], scene.colors[2]
    )
    assert area(out.path_contours(1)) == pytest.approx(400)  # the whole box
    assert area(out.path_contours(4)) == pytest.approx(100)  # 20..30 x 20..30
    again, is_copy2 = split_partial(out, torch.tensor([True, True, False, True, True]), outline)
    assert again is out and torch.equal(is_copy2, is_copy)  # copies and originals: not twice


@pytest.mark.parametrize(
    "path_id,copy",
    [("clipvg-roi", True), ("x-clipvg-roi-3", True), ("clipvg-roi-x", False), (None, False)],
)
def test_copy_marks(path_id, copy):
    assert is_region_copy(path_id) is copy


def test_allowed_mask_grows_by_the_radius():
    region = box_mask((10.5, 10, 4, 4), (32, 32))  # columns 10..14 touched, rows 10..13
    a = allowed_mask(region, 2)
    assert a.shape == (36, 36)
    rows, cols = a.nonzero().unbind(1)
    assert (int(cols.min()) - 2, int(cols.max()) - 2) == (8, 16)
    assert (int(rows.min()) - 2, int(rows.max()) - 2) == (8, 15)
    assert torch.equal(allowed_mask(region, 0), region > 0)


def test_segments_leaving_follows_the_curve_not_the_hull():
    region = union_mask([box_roi(8, 8, 16, 16)], (32, 32), (32, 32))
    allowed = allowed_mask(region, 0)
    pts = torch.tensor(
        [
            [10.0, 14.0],
            [10.0, 7.0],  # control points outside, curve inside: lowest y = 14 - 3/4 * 7
            [20.0, 7.0],
            [20.0, 14.0],
            [10.0, 20.0],
            [15.0, -6.0],  # bulges to y = 20 - 3/4 * 26 = 0.5, outside
            [15.0, -6.0],
            [20.0, 20.0],
        ]
    )
    seg = torch.tensor([[0, 1, 2, 3], [4, 5, 6, 7]])
    assert segments_leaving(pts, seg, allowed, (1.0, 1.0), 0).tolist() == [False, True]
    # at half the resolution the same test holds in canvas units
    small = allowed_mask(union_mask([box_roi(8, 8, 16, 16)], (32, 32), (16, 16)), 0)
    assert segments_leaving(pts, seg, small, (0.5, 0.5), 0).tolist() == [False, True]
    nan = pts.clone()
    nan[1, 0] = float("nan")
    assert segments_leaving(nan, seg[:1], allowed, (1.0, 1.0), 0).tolist() == [True]


def test_segment_index_wraps_each_contour():
    scene = clipvg.Scene.from_paths(
        64, 64, [[square(0, 0, 5), square(10, 10, 5)], [square(30, 30, 5)]], [[0, 0, 0, 1]] * 2
    )
    seg = segment_index(scene, torch.tensor([True, False]))
    assert seg.shape == (8, 4)
    assert seg[3].tolist() == [9, 10, 11, 0] and seg[7].tolist() == [21, 22, 23, 12]
    assert segment_index(scene, torch.tensor([False, True]))[0].tolist() == [24, 25, 26, 27]


def test_segments_leaving_widens_a_stroke_by_its_margin():
    allowed = allowed_mask(union_mask([box_roi(8, 8, 16, 16)], (32, 32), (32, 32)), 0)
    pts = torch.tensor([[12.0, 12.0], [15.0, 12.0], [17.0, 12.0], [20.0, 12.0]])  # 4 px in
    seg = torch.tensor([[0, 1, 2, 3]])

    def leaving(margin):
        return segments_leaving(pts, seg, allowed, (1.0, 1.0), 0, margin=torch.tensor([margin]))

    assert leaving(0.0).tolist() == [False]
    assert leaving(1.5).tolist() == [False]  # 4 px of room > 1.5 + a pixel diagonal
    assert leaving(3.0).tolist() == [True]
    assert segments_leaving(pts, seg, allowed, (1.0, 1.0), 0).tolist() == [False]

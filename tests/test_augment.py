"""Tests of clipvg.augment: crops with white padding and random perspective."""

import pytest
import torch
from tolerance import U32

from clipvg.augment import apply_grid, homographies, sample_warps, warp_grid
from clipvg.errors import ClipvgError


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_identity_warp_reproduces_the_roi():
    img = torch.rand(20, 30, 3)
    w = sample_warps((5, 0, 20, 20), 1, 1.0, 0.0, gen())
    grid, inside = warp_grid(w, 20, (20, 30))
    out = apply_grid(img, grid, inside)
    assert out.shape == (1, 3, 20, 20)
    # Sample positions go through < 16 float32 roundings of coordinates <= 32 (grid,
    # homography, grid_sample's unnormalization), so they miss pixel centres by < 16 * 32 u
    # pixels; bilinear weights turn that into at most the same error on values in [0, 1].
    atol = 16 * 32 * U32 + 4 * U32
    assert torch.allclose(out[0].permute(1, 2, 0), img[:, 5:25], rtol=0, atol=atol)


def test_non_square_roi_padded_with_white_not_neighbours():
    img = torch.zeros(40, 40, 3)  # black everywhere, also around the ROI
    w = sample_warps((10, 15, 20, 10), 1, 1.0, 0.0, gen())  # wide ROI -> 20x20 square
    out = apply_grid(img, *warp_grid(w, 20, (40, 40)))[0]
    assert torch.allclose(out[:, :4], torch.ones(3, 4, 20))  # rows above the ROI: white
    assert torch.allclose(out[:, -4:], torch.ones(3, 4, 20))
    assert torch.allclose(out[:, 7:13], torch.zeros(3, 6, 20))  # inside: the image


def test_same_generator_same_warps_and_deterministic():
    a = sample_warps((0, 0, 50, 40), 8, 0.8, 0.3, gen(3))
    b = sample_warps((0, 0, 50, 40), 8, 0.8, 0.3, gen(3))
    c = sample_warps((0, 0, 50, 40), 8, 0.8, 0.3, gen(4))
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert not torch.equal(a.corners, c.corners)


def test_crops_stay_in_roi_square_and_distortion_bounded():
    w = sample_warps((10, 20, 60, 30), 500, 0.8, 0.3, gen())
    assert torch.allclose(w.boxes[:, 2], torch.tensor(48.0))
    slack = 16 * 70 * U32  # a few float32 roundings of coordinates <= 70
    assert float(w.boxes[:, 0].min()) >= 10 and float((w.boxes[:, 0] + 48).max()) <= 70 + slack
    assert float(w.boxes[:, 1].min()) >= 5 and float((w.boxes[:, 1] + 48).max()) <= 65 + slack
    moved = (w.corners - torch.tensor([[0.0, 0], [1, 0], [1, 1], [0, 1]])).abs()
    assert float(moved.max()) <= 0.15 and float(moved.max()) > 0.1


def test_homography_maps_corners():
    src = torch.tensor([[[0.0, 0], [1, 0], [1, 1], [0, 1]]])
    dst = torch.tensor([[[0.1, 0.05], [0.9, 0.1], [0.95, 0.9], [0.0, 1.0]]])
    h = homographies(src, dst)[0]
    p = torch.cat([src[0], torch.ones(4, 1)], 1) @ h.T
    # h is solved in float64 and rounded to float32 (u per entry, entries < 4); the
    # 3-term products and the division add < 16 roundings of values < 8.
    assert torch.allclose(p[:, :2] / p[:, 2:], dst[0], rtol=0, atol=64 * 8 * U32)


def test_gradient_flows_to_image():
    img = torch.rand(16, 16, 3, requires_grad=True)
    w = sample_warps((0, 0, 16, 16), 4, 0.8, 0.3, gen())
    apply_grid(img, *warp_grid(w, 8, (16, 16))).sum().backward()
    assert img.grad is not None and float(img.grad.abs().sum()) > 0


@pytest.mark.parametrize(
    "kw", [dict(crop_ratio=0.0), dict(crop_ratio=1.2), dict(distortion=1.0), dict(n=-1)]
)
def test_bad_parameters_raise(kw):
    args = dict(roi=(0, 0, 10, 10), n=2, crop_ratio=0.8, distortion=0.3, generator=gen())
    args.update(kw)
    with pytest.raises(ClipvgError):
        sample_warps(**args)

"""Tests for the differentiable rasterizer (clipvg.render)."""

from __future__ import annotations

import math

import pytest
import torch
from shapes import circle, polygon, rect, scene_of
from tolerance import U32, U64, sum_error

from clipvg import ClipvgError
from clipvg.render import rasterize, render
from clipvg.render.raster import COVER_EPSILON
from clipvg.scene import Scene

BLACK = (0.0, 0.0, 0.0, 1.0)


def coverage(scene: Scene, width=None, height=None, **kw) -> torch.Tensor:
    """Per-pixel coverage of black paths over white: 1 - luminance."""
    return 1 - render(scene, width, height, **kw)[..., 0]


def pixel_tolerance(w: int) -> float:
    """Coverage error of one pixel in a float64 render ``w`` pixels wide: windings below
    COVER_EPSILON are dropped, a row's prefix sum rounds <= 2 w cell terms of size <= 1,
    and compositing over white and ``1 -`` add a few roundings."""
    return COVER_EPSILON + sum_error(2 * w, 2 * w, U64) + 4 * U64


def area_tolerance(h: int, w: int, area: float) -> float:
    """Error of the sum of an (h, w) coverage image of true total ``area``."""
    return h * w * pixel_tolerance(w) + sum_error(h * w, area, U64)


# ---- coverage is exact area -------------------------------------------------------
@pytest.mark.parametrize(
    "x, y, w, h",
    [
        (3.25, 4.5, 10.5, 7.75),
        (0.0, 0.0, 16.0, 16.0),
        (7.9, 2.1, 0.3, 0.6),
        (-5.0, -3.0, 12.5, 9.25),
    ],
)
def test_axis_aligned_rect_area_is_exact(x, y, w, h, device):
    scene = scene_of(32, 32, [[rect(x, y, w, h)]], [BLACK]).to(device)
    visible_w = min(x + w, 32) - max(x, 0)
    visible_h = min(y + h, 32) - max(y, 0)
    area = visible_w * visible_h
    assert coverage(scene).sum().item() == pytest.approx(area, abs=area_tolerance(32, 32, area))


@pytest.mark.parametrize("angle", [0.0, 0.3, 1.1, 2.5])
def test_rotated_square_area_and_pixel_values(angle, device):
    c, s = math.cos(angle), math.sin(angle)
    corners = [
        (16 + 6 * (c * u - s * v), 16 + 6 * (s * u + c * v))
        for u, v in [(-1, -1), (1, -1), (1, 1), (-1, 1)]
    ]
    from shapes import polygon

    scene = scene_of(32, 32, [[polygon(corners)]], [BLACK]).to(device)
    cov = coverage(scene)
    assert cov.sum().item() == pytest.approx(144.0, abs=area_tolerance(32, 32, 144))
    assert cov.min() >= 0 and cov.max() <= 1 + 4 * U64  # min(|w|, 1), then compositing
    assert cov[16, 16] == pytest.approx(1.0, abs=pixel_tolerance(32))
    assert cov[0, 0] == 0


@pytest.mark.parametrize("tolerance, rel", [(0.1, 6e-3), (0.01, 1e-3)])
def test_circle_area_matches_pi_r_squared(tolerance, rel):
    scene = scene_of(64, 64, [[circle(31.3, 30.7, 20.0)]], [BLACK])
    area = coverage(scene, tolerance=tolerance).sum().item()
    # Chords cut inside the arc, so the error is the flattening tolerance times the
    # perimeter at most; the 4-arc cubic circle itself is only ~0.03% off.
    assert area == pytest.approx(math.pi * 400, rel=rel)


# ---- fill rules ---------------------------------------------------------------------
def test_evenodd_makes_a_hole_and_nonzero_respects_direction():
    outer, inner_same, inner_rev = (
        rect(4, 4, 24, 24),
        rect(10, 10, 12, 12),
        rect(10, 10, 12, 12, reverse=True),
    )
    eo = coverage(scene_of(32, 32, [[outer, inner_same]], [BLACK], evenodd=[True]))
    nz_same = coverage(scene_of(32, 32, [[outer, inner_same]], [BLACK], evenodd=[False]))
    nz_rev = coverage(scene_of(32, 32, [[outer, inner_rev]], [BLACK], evenodd=[False]))
    assert eo[16, 16] == 0 and eo[6, 6] == 1
    assert nz_same[16, 16] == 1  # winding 2 is still inside
    assert nz_rev[16, 16] == 0  # opposite direction cancels
    area = 24 * 24 - 12 * 12
    assert eo.sum().item() == pytest.approx(area, abs=area_tolerance(32, 32, area))


# ---- compositing --------------------------------------------------------------------
def test_source_over_of_semi_transparent_layers():
    red, blue = (1.0, 0.0, 0.0, 0.5), (0.0, 0.0, 1.0, 0.25)
    scene = scene_of(8, 8, [[rect(0, 0, 8, 8)], [rect(0, 0, 8, 8)]], [red, blue])
    px = render(scene)[4, 4]
    under = torch.tensor([1.0, 0.5, 0.5], dtype=px.dtype)  # red at 0.5 over white
    expect = under * 0.75 + torch.tensor([0.0, 0.0, 1.0], dtype=px.dtype) * 0.25
    torch.testing.assert_close(px, expect)


def test_abutting_shapes_leave_no_seam():
    # Two opaque rects share the edge x = 10.5, which cuts pixel column 10 in half.
    red, green = (1.0, 0.0, 0.0, 1.0), (0.0, 1.0, 0.0, 1.0)
    scene = scene_of(20, 8, [[rect(0, 0, 10.5, 8)], [rect(10.5, 0, 9.5, 8)]], [red, green])
    px = render(scene)[4, 10]
    torch.testing.assert_close(px, torch.tensor([0.5, 0.5, 0.0], dtype=px.dtype))


def test_transparent_background_gives_straight_rgba():
    scene = scene_of(8, 8, [[rect(0, 0, 4, 8)]], [(0.2, 0.4, 0.6, 0.5)])
    img = render(scene, background="none")
    assert img.shape == (8, 8, 4)
    torch.testing.assert_close(img[2, 1], torch.tensor([0.2, 0.4, 0.6, 0.5], dtype=img.dtype))
    assert img[2, 6, 3] == 0


def test_output_size_keeps_aspect_and_scales_geometry():
    scene = scene_of(40, 20, [[rect(10, 5, 20, 10)]], [BLACK])
    assert render(scene).shape == (20, 40, 3)
    assert render(scene, 80).shape == (40, 80, 3)
    assert render(scene, height=10).shape == (10, 20, 3)
    cov = coverage(scene, 80, 40)
    assert cov.sum().item() == pytest.approx(40 * 20, abs=area_tolerance(40, 80, 40 * 20))


def test_supersampling_keeps_area():
    scene = scene_of(32, 32, [[circle(16, 16, 9)]], [BLACK])
    a1 = coverage(scene).sum()
    a2 = coverage(scene, samples=2).sum()
    assert a2.item() == pytest.approx(a1.item(), rel=1e-3)


def test_empty_and_offcanvas_scenes_render_background():
    scene = scene_of(16, 16, [[rect(40, 40, 5, 5)], [rect(-30, 2, 5, 5)]], [BLACK, BLACK])
    assert torch.all(render(scene) == 1)


def test_bad_arguments_raise_clear_errors():
    scene = scene_of(16, 16, [[rect(2, 2, 5, 5)]], [BLACK])
    with pytest.raises(ClipvgError, match="background"):
        render(scene, background="plaid")
    with pytest.raises(ClipvgError, match="backend"):
        render(scene, backend="cairo")
    with pytest.raises(ClipvgError, match="samples"):
        render(scene, samples=0)
    with pytest.raises(ClipvgError, match="points"):
        rasterize(
            torch.zeros(3),
            scene.colors,
            scene.contour_sizes,
            scene.contour_path,
            scene.evenodd,
            8,
            8,
        )


def test_diffvg_backend_says_when_missing():
    try:
        import pydiffvg  # noqa: F401
    except ImportError:
        with pytest.raises(ClipvgError, match="pydiffvg"):
            render(scene_of(8, 8, [[rect(1, 1, 3, 3)]], [BLACK]), backend="diffvg")
    else:
        pytest.skip("pydiffvg is installed here")


# ---- gradients agree with finite differences -------------------------------------------
def _check_gradients(scene: Scene, size: int, point_ids, color_ids, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    weights = torch.rand(size, size, 3, generator=gen, dtype=torch.float64)

    def loss(points, colors):
        s = Scene(
            scene.width,
            scene.height,
            points,
            colors,
            scene.contour_sizes,
            scene.contour_path,
            scene.evenodd,
        )
        return (render(s, size, size) * weights).sum()

    points = scene.points.detach().clone().requires_grad_(True)
    colors = scene.colors.detach().clone().requires_grad_(True)
    loss(points, colors).backward()
    checked = 0
    for tensor, grad, ids, h in (
        (points, points.grad, point_ids, 1e-4),
        (colors, colors.grad, color_ids, 1e-5),
    ):
        for index in ids:
            plus, minus = tensor.detach().clone(), tensor.detach().clone()
            plus[index] += h
            minus[index] -= h
            args_p = (plus, colors.detach()) if tensor is points else (points.detach(), plus)
            args_m = (minus, colors.detach()) if tensor is points else (points.detach(), minus)
            fd = (loss(*args_p) - loss(*args_m)).item() / (2 * h)
            if abs(fd) < 1e-3:
                continue
            # float64 rounding is negligible; 5% is the central difference's truncation
            # where the step crosses a pixel boundary or a flattening change.
            assert grad[index].item() == pytest.approx(fd, rel=0.05), f"index {index}"
            checked += 1
    assert checked >= (len(point_ids) + len(color_ids)) // 2, "too few non-negligible derivatives"


@pytest.mark.parametrize("evenodd", [False, True])
def test_gradients_match_finite_differences_overlapping_translucent(evenodd):
    scene = scene_of(
        64,
        64,
        [
            [circle(24.3, 26.1, 14.2), circle(24.3, 26.1, 6.4, reverse=not evenodd)],
            [rect(20.6, 18.2, 30.3, 22.7)],
            [circle(40.2, 38.9, 12.6)],
        ],
        [(0.9, 0.2, 0.1, 0.8), (0.1, 0.7, 0.3, 0.6), (0.2, 0.3, 0.9, 0.5)],
        evenodd=[evenodd] * 3,
    )
    point_ids = [
        (0, 0),
        (1, 1),
        (4, 0),
        (12, 1),
        (14, 0),
        (24, 0),
        (26, 1),
        (29, 1),
        (36, 0),
        (41, 1),
    ]
    color_ids = [(0, 0), (0, 3), (1, 1), (1, 3), (2, 2), (2, 3)]
    _check_gradients(scene, 64, point_ids, color_ids)


def test_gradients_match_finite_differences_opaque_stack():
    scene = scene_of(
        48,
        48,
        [[rect(2.5, 3.5, 40.2, 38.7)], [circle(20.4, 22.6, 11.3)], [rect(24.3, 10.1, 15.6, 20.2)]],
        [(0.8, 0.8, 0.2, 1.0), (0.1, 0.3, 0.8, 1.0), (0.7, 0.1, 0.1, 1.0)],
    )
    point_ids = [(0, 0), (3, 1), (12, 0), (13, 1), (16, 0), (20, 1), (24, 0), (27, 0), (30, 1)]
    color_ids = [(0, 0), (0, 3), (1, 2), (1, 3), (2, 0), (2, 3)]
    _check_gradients(scene, 48, point_ids, color_ids)


def _blobs(n: int, size: int, dtype: torch.dtype) -> Scene:
    """``n`` overlapping translucent hexagon-ish blobs, radii 2 to 40 px."""
    gen = torch.Generator().manual_seed(3)
    angles = torch.linspace(0, 2 * math.pi, 19)[:-1].view(1, -1, 1)
    centres = torch.rand(n, 1, 2, generator=gen) * size
    radii = 2 + 38 * torch.rand(n, 1, 1, generator=gen)
    wobble = 1 + 0.3 * torch.rand(n, 18, 1, generator=gen)
    pts = centres + radii * wobble * torch.cat([angles.cos(), angles.sin()], 2)
    colors = torch.rand(n, 4, generator=gen)
    colors[:, 3] = 0.5 + 0.5 * colors[:, 3]
    scene = Scene.from_paths(size, size, [[p] for p in pts], colors)
    scene.points, scene.colors = scene.points.to(dtype), scene.colors.to(dtype)
    return scene


def test_float32_render_and_gradients_follow_float64_on_a_dense_scene():
    # Each row of a bounding box sums back to zero winding only up to float32 rounding;
    # left to drift along the running sum over the many rows of a dense scene, the
    # residue made every later cell "covered" a little (seen through the compositor's
    # 1 / (1 - above) up to 1000 times): 1.1e-3 off in the image and 1.1e-2 in the
    # point gradients here. One cell piece's area is off by about size * U32; the
    # bounds are 64 (image) and 256 (gradients) times that.
    size = 256
    out = []
    for dtype in (torch.float32, torch.float64):
        scene = _blobs(300, size, dtype)
        scene.shape_parameters()
        image = render(scene, size, size)
        image.mean().backward()
        out.append((image.detach().double(), scene.points.grad.double()))
    (image32, grad32), (image64, grad64) = out
    assert float((image32 - image64).abs().max()) < 64 * size * U32
    assert float((grad32 - grad64).norm() / grad64.norm()) < 256 * size * U32


def test_gradients_flow_on_device(device):
    scene = scene_of(32, 32, [[circle(16, 16, 8)]], [(0.5, 0.2, 0.1, 1.0)], dtype=torch.float32).to(
        device
    )
    scene.shape_parameters()
    scene.color_parameters()
    render(scene).mean().backward()
    assert scene.points.grad.abs().sum() > 0 and scene.colors.grad.abs().sum() > 0


# ---- command line -----------------------------------------------------------------------
def test_cli_render_writes_png_at_requested_size(tmp_path):
    from PIL import Image

    from clipvg import cli

    src = tmp_path / "two.svg"
    src.write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 20">'
        '<rect width="20" height="20" fill="#ff0000"/><rect x="20" width="20" height="20" fill="#0000ff"/></svg>'
    )
    out = tmp_path / "two.png"
    assert cli.main(["render", str(src), "-o", str(out), "--width", "80"]) == 0
    image = Image.open(out)
    assert image.size == (80, 40)
    assert image.getpixel((10, 20)) == (255, 0, 0)
    assert image.getpixel((70, 20)) == (0, 0, 255)
    assert (
        cli.main(["render", str(src), "-o", str(tmp_path / "t.png"), "--background", "none"]) == 0
    )
    assert Image.open(tmp_path / "t.png").mode == "RGBA"


def test_cli_render_refuses_to_overwrite_its_input(tmp_path, capsys):
    from clipvg import cli

    src = tmp_path / "a.svg"
    text = '<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="4" height="4"/></svg>'
    src.write_text(text)
    assert cli.main(["render", str(src), "-o", str(src)]) == 2
    assert src.read_text() == text
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:")


@pytest.mark.parametrize("evenodd", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
def test_edges_on_pixel_boundaries_keep_their_gradient(evenodd, reverse):
    # Traced contours sit on the pixel grid; moving any edge must still change
    # the image. The derivative is one-sided (a positive step), so compare it with
    # a forward difference.
    scene = scene_of(48, 48, [[rect(8, 16, 24, 20, reverse=reverse)]], [BLACK], evenodd=[evenodd])

    def loss(points):
        s = Scene(
            48, 48, points, scene.colors, scene.contour_sizes, scene.contour_path, scene.evenodd
        )
        return render(s).sum()

    points = scene.points.detach().clone().requires_grad_(True)
    loss(points).backward()
    for index in [(i, j) for i in range(0, 12, 3) for j in (0, 1)]:
        moved = points.detach().clone()
        moved[index] += 1e-4
        forward = (loss(moved) - loss(points.detach())).item() / 1e-4
        assert abs(forward) > 1
        # float64: rounding in the difference is ~u64 * loss / 1e-4 < 1e-8; the 1e-3 is the
        # step's own (second-order) area change at the rectangle's corners.
        assert points.grad[index].item() == pytest.approx(forward, rel=1e-3), index


# ---- limits and hostile geometry (issue 8) ------------------------------------------------
def test_output_size_over_the_pixel_limit_is_refused():
    from clipvg.render.raster import MAX_PIXELS

    scene = scene_of(16, 16, [[rect(2, 2, 5, 5)]], [BLACK])
    for size in [(100_000, None), (None, 100_000), (4097, 4097)]:
        with pytest.raises(ClipvgError, match=f"over the limit of {MAX_PIXELS} pixels"):
            render(scene, *size)
    with pytest.raises(ClipvgError, match="over the limit"):
        render(scene, 2048, samples=8)  # sub-pixels count
    tall = Scene(1e-300, 100.0, scene.points, scene.colors, scene.contour_sizes,
                 scene.contour_path, scene.evenodd)  # fmt: skip
    with pytest.raises(ClipvgError, match="over the limit"):
        render(tall, 64)  # 64 x 6.4e303
    with pytest.raises(ClipvgError, match="at least 1x1"):
        render(tall)


def test_far_points_render_like_points_at_the_pull_in_distance():
    """Points beyond FAR canvas sizes are moved radially onto that distance: a
    triangle reaching 1e9 renders as the same triangle reaching FAR * size."""
    from clipvg.render.raster import FAR

    size = 32
    far_x = 2.0**30  # exact in float32
    far = scene_of(size, size, [[polygon([(0, 2), (far_x, 2), (16, 30)])]], [BLACK])
    # Offset from the centre (16, 16) is (far_x - 16, -14); its max-norm goes to FAR * size.
    scale = FAR * size / (far_x - 16)
    near = scene_of(
        size, size, [[polygon([(0, 2), (16 + FAR * size, 16 - 14 * scale), (16, 30)])]], [BLACK]
    )
    a, b = coverage(far), coverage(near)
    assert bool(torch.isfinite(a).all())
    # float32 rounding of the far coordinates: within 1e-3 of a pixel's coverage
    assert torch.allclose(a, b, atol=1e-3)


def test_nonfinite_points_and_too_many_pieces_are_refused():
    from clipvg.render import raster

    scene = scene_of(16, 16, [[rect(2, 2, 5, 5)]], [BLACK])
    bad = scene.points.clone()
    bad[0, 0] = float("nan")
    args = (scene.colors, scene.contour_sizes, scene.contour_path, scene.evenodd, 16, 16)
    with pytest.raises(ClipvgError, match="infinite or NaN"):
        rasterize(bad, *args)
    zigzag = polygon([(0 if i % 2 else 4000, i * 0.37) for i in range(2000)])
    big = scene_of(4000, 1000, [[zigzag]], [BLACK])
    with pytest.raises(ClipvgError, match=f"over the limit of {raster.MAX_PIECES}"):
        render(big)


def test_cli_render_huge_canvas_or_width_exits_2(tmp_path, capsys):
    from clipvg import cli

    src = tmp_path / "a.svg"
    src.write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="16384" height="16384"><rect width="4" height="4"/></svg>'
    )
    for extra in ([], ["--width", "100000"]):
        assert cli.main(["render", str(src), "-o", str(tmp_path / "a.png"), *extra]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "over the limit" in err[0]
    assert not (tmp_path / "a.png").exists()

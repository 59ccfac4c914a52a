"""Clip paths (on paths and groups, clip-rule, nested) and group opacity, with derivatives."""

from __future__ import annotations

import pytest
import torch
from render_checks import check_derivatives, coverage
from shapes import rect

from clipvg import ClipvgError
from clipvg.render import render
from clipvg.scene import ClipPath, Groups, Scene

BLACK = (0.0, 0.0, 0.0, 1.0)


def clip_of(*contours, evenodd=False) -> ClipPath:
    return ClipPath(
        Scene.from_paths(64, 64, [list(contours)], [BLACK], evenodd=[evenodd]).to_dtype(
            torch.float64
        )
    )


def two_squares(**fields) -> Scene:
    return Scene.from_paths(
        64, 64, [[rect(10, 10, 30, 30)], [rect(20, 20, 30, 30)]], [BLACK, BLACK], **fields
    ).to_dtype(torch.float64)


def test_clip_path_on_a_shape_keeps_the_intersection():
    scene = Scene.from_paths(
        64,
        64,
        [[rect(10, 10, 40, 40)]],
        [BLACK],
        path_clip=[0],
        clips=[clip_of(rect(0, 0, 30.5, 64))],
    )
    assert coverage(scene).sum().item() == pytest.approx(20.5 * 40, abs=1e-4)


def test_clip_rule_evenodd_cuts_the_hole():
    ring = clip_of(rect(0, 0, 64, 64), rect(20, 20, 20, 20), evenodd=True)
    scene = Scene.from_paths(64, 64, [[rect(10, 10, 40, 40)]], [BLACK], path_clip=[0], clips=[ring])
    assert coverage(scene).sum().item() == pytest.approx(40 * 40 - 20 * 20, abs=1e-4)
    ring.scene.evenodd[:] = False
    assert coverage(scene).sum().item() == pytest.approx(40 * 40, abs=1e-4)


def test_clip_on_a_clip_intersects_and_loops_are_refused():
    left = clip_of(rect(0, 0, 30, 64))
    top = clip_of(rect(0, 0, 64, 30))
    top.clip = 0
    scene = Scene.from_paths(
        64, 64, [[rect(10, 10, 40, 40)]], [BLACK], path_clip=[1], clips=[left, top]
    )
    assert coverage(scene).sum().item() == pytest.approx(20 * 20, abs=1e-4)
    left.clip = 1
    with pytest.raises(ClipvgError, match="loop"):
        render(scene)


def test_group_opacity_composites_the_group_as_one():
    groups = Groups(parent=torch.tensor([-1]), opacity=torch.tensor([0.5]), clip=torch.tensor([-1]))
    scene = two_squares(path_group=[0, 0], groups=groups)
    img = render(scene)
    # The overlap is not darker than the rest: the group is faded after compositing.
    assert [img[15, 15, 0].item(), img[30, 30, 0].item(), img[45, 45, 0].item()] == pytest.approx(
        [0.5] * 3
    )
    ungrouped = two_squares()
    ungrouped.colors[:, 3] = 0.5
    assert render(ungrouped)[30, 30, 0].item() == pytest.approx(0.25)


def test_group_clip_and_nested_groups():
    groups = Groups(
        parent=torch.tensor([-1, 0]),
        opacity=torch.tensor([1.0, 0.5]),
        clip=torch.tensor([0, -1]),
    )
    scene = two_squares(path_group=[0, 1], groups=groups, clips=[clip_of(rect(0, 0, 30, 64))])
    img = render(scene)
    assert img[15, 15, 0].item() == pytest.approx(0.0)  # first square, clipped group, opaque
    assert img[45, 25, 0].item() == pytest.approx(0.5)  # second square, inner group faded
    assert img[45, 35, 0].item() == pytest.approx(1.0)  # clipped away
    rgba = render(scene, background="none")
    assert rgba[45, 25].tolist() == pytest.approx([0.0, 0.0, 0.0, 0.5])


def test_group_opacity_and_clip_geometry_derivatives():
    groups = Groups(parent=torch.tensor([-1]), opacity=torch.tensor([0.6]), clip=torch.tensor([0]))
    clip = clip_of(rect(5.3, 7.1, 40.2, 36.6))
    scene = Scene.from_paths(
        48,
        48,
        [[rect(10.2, 11.3, 30.1, 28.4)], [rect(20.7, 18.1, 24.3, 22.9)]],
        [(0.8, 0.2, 0.1, 0.9), (0.1, 0.3, 0.8, 0.7)],
        path_group=[0, 0],
        groups=groups,
        clips=[clip],
    ).to_dtype(torch.float64)
    check_derivatives(scene, lambda s: s.groups.opacity, [0], min_checked=1)
    check_derivatives(scene, lambda s: s.clips[0].scene.points, [(0, 0), (3, 0), (6, 1), (9, 0)])
    check_derivatives(scene, lambda s: s.points, [(0, 0), (6, 1), (12, 0), (15, 1)])


def test_flat_fills_in_inert_groups_take_the_plain_rasterizer_bit_identically(monkeypatch):
    from clipvg.render import draw
    from clipvg.scene import PAINT_NONE

    groups = Groups(parent=torch.tensor([-1]), opacity=torch.tensor([1.0]), clip=torch.tensor([-1]))
    scene = Scene.from_paths(
        64,
        64,
        [[rect(10, 10, 30, 30)], [rect(20, 20, 30, 30)], [rect(5, 30, 20, 20)[:4]]],
        [(0.2, 0.4, 0.6, 1.0), (0.9, 0.1, 0.1, 0.8), (0.1, 0.8, 0.1, 1.0)],
        closed=[[True], [True], [False]],
        opacity=[1.0, 0.5, 1.0],
        path_group=[0, 0, -1],
        groups=groups,
    ).to_dtype(torch.float64)
    assert draw.flat_fills(scene) and not scene.is_plain
    full = draw.render_scene(scene, 64, 64, (1.0, 1.0, 1.0), 0.1)
    monkeypatch.setattr(draw, "render_scene", None)  # render() must not need it
    from clipvg.render import api

    monkeypatch.setattr(api, "render_scene", None)
    assert torch.equal(render(scene), full)
    scene.fill_paint[2] = PAINT_NONE
    assert torch.equal(render(scene)[40, 8], torch.ones(3, dtype=torch.float64))
    scene.groups.opacity[0] = 0.5
    assert not draw.flat_fills(scene)

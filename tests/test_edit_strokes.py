"""Editing stroked, gradient-filled scenes: locks, projection, edit-only copies."""

from __future__ import annotations

import pytest
import torch
from render_checks import line
from shapes import circle, rect

from clipvg.config import EditSettings
from clipvg.edit import EditSession, scene_from_state, scene_state
from clipvg.render import render
from clipvg.roi.split import split_partial
from clipvg.scene import JOIN_ROUND, PAINT_FLAT, PAINT_NONE, Gradients, Scene

SHAPE = ("points", "stroke_widths")


def illustration() -> Scene:
    """A gradient-filled stroked blob, a flat box with a gradient stroke, an open line."""
    g = Gradients.build(
        [
            dict(
                kind="radial",
                geometry=[24, 24, 14, 20, 20, 0],
                stops=[(0, (1, 0.8, 0.2, 1)), (1, (0.8, 0.1, 0.1, 1))],
            ),
            dict(
                kind="linear",
                geometry=[0, 0, 1, 0],
                units="objectBoundingBox",
                stops=[(0.2, (0, 0, 1, 1)), (0.8, (0, 1, 0, 1))],
            ),
        ]
    )
    return Scene.from_paths(
        64,
        64,
        [
            [circle(24, 24, 14).float()],
            [rect(36, 34, 20, 20).float()],
            [line((6, 58), (58, 44)).float()],
        ],
        [[1, 1, 1, 1], [0.9, 0.9, 0.2, 1], [0, 0, 0, 1]],
        closed=[[True], [True], [False]],
        fill_paint=[0, PAINT_FLAT, PAINT_NONE],
        stroke_paint=[PAINT_FLAT, 1, PAINT_FLAT],
        stroke_widths=[2.5, 3.0, 2.0],
        stroke_colors=[[0.1, 0.1, 0.1, 1], [0, 0, 0, 1], [0.3, 0.2, 0.1, 1]],
        linejoin=[JOIN_ROUND] * 3,
        gradients=g,
    )


def session(scene, encoder, **kw) -> EditSession:
    base = dict(prompt="green", iters=3, patches=2, save_every=0, device="cpu", seed=1)
    base.update(kw)
    return EditSession(scene, EditSettings(**base), encoder, device="cpu")


def snapshot(scene: Scene) -> dict[str, torch.Tensor]:
    g = scene.gradients
    return {
        "points": scene.points.detach().clone(),
        "stroke_widths": scene.stroke_widths.detach().clone(),
        "geometry": g.geometry.detach().clone(),
        "colors": scene.colors.detach().clone(),
        "stroke_colors": scene.stroke_colors.detach().clone(),
        "stop_colors": g.stop_colors.detach().clone(),
        "stop_offsets": g.stop_offsets.detach().clone(),
    }


def test_lock_shape_keeps_points_widths_and_gradient_geometry(tiny):
    s = session(illustration(), tiny, lock=["shape"], color_lr=0.05)
    before = snapshot(s.scene)
    for _ in range(3):
        s.step()
    after = snapshot(s.scene)
    for name in ("points", "stroke_widths", "geometry"):
        assert torch.equal(after[name], before[name]), name
    for name in ("stroke_colors", "stop_colors"):
        assert not torch.equal(after[name], before[name]), name


def test_lock_color_keeps_every_colour_and_stop(tiny):
    s = session(illustration(), tiny, lock=["color"], shape_lr=0.5)
    before = snapshot(s.scene)
    for _ in range(3):
        s.step()
    after = snapshot(s.scene)
    for name in ("colors", "stroke_colors", "stop_colors", "stop_offsets"):
        assert torch.equal(after[name], before[name]), name
    assert not torch.equal(after["points"], before["points"])
    assert not torch.equal(after["stroke_widths"], before["stroke_widths"])


def test_projection_keeps_widths_non_negative_and_offsets_ordered(tiny):
    s = session(illustration(), tiny, shape_lr=50.0, color_lr=5.0)
    for _ in range(3):
        s.step()
    g = s.scene.gradients
    assert float(s.scene.stroke_widths.detach().min()) >= 0
    for offsets in g.stop_offsets.detach().split(g.stop_sizes.tolist()):
        assert bool((offsets[1:] >= offsets[:-1]).all())
        assert float(offsets.min()) >= 0 and float(offsets.max()) <= 1
    for t in (s.scene.colors, s.scene.stroke_colors, g.stop_colors):
        assert float(t.min()) >= 0 and float(t.max()) <= 1


def test_checkpoint_state_round_trips_the_whole_scene():
    scene = illustration()
    back = scene_from_state(scene_state(scene))
    assert torch.equal(render(back), render(scene))
    for a, b in zip(back.parameters(), scene.parameters()):
        assert torch.equal(a, b)


def test_split_gives_stroked_and_gradient_copies_a_region_clip_and_own_gradient():
    import pathops

    scene = illustration()
    outline = pathops.Path()
    outline.moveTo(0, 0)
    for p in [(30, 0), (30, 64), (0, 64)]:
        outline.lineTo(*p)
    outline.close()
    partial = torch.tensor([True, True, True])
    out, is_copy = split_partial(scene, partial, outline)
    assert is_copy.tolist() == [False, True, False, True, False, True]
    assert out.path_clip.tolist() == [-1, 0, -1, 1, -1, 2]
    # The copies' own gradients: editing them leaves the frozen originals' paint alone.
    assert out.fill_paint[1].item() != out.fill_paint[0].item()
    assert out.stroke_paint[3].item() != out.stroke_paint[2].item()
    # Originals keep their values bit for bit, and the copies draw only inside the region.
    originals = out.take([0, 2, 4])
    for a, b in zip(originals.parameters()[:2], scene.parameters()[:2]):
        assert torch.equal(a, b)
    copies_only = out.take([1, 3, 5])
    img = render(copies_only)
    assert torch.equal(img[:, 31:], torch.ones_like(img[:, 31:]))
    assert float(img[:, :29].min()) < 0.5
    # Same picture, up to the edges the copies paint a second time.
    assert float((render(out) - render(scene)).abs().mean()) < 0.01


@pytest.mark.parametrize("closed", [True, False])
def test_segment_index_handles_open_contours(closed):
    from clipvg.roi.split import segment_index

    pts = line((0, 0), (10, 10)) if not closed else rect(0, 0, 5, 5)
    scene = Scene.from_paths(16, 16, [[pts]], [[0, 0, 0, 1]], closed=[[closed]])
    seg = segment_index(scene, torch.tensor([True]))
    assert seg.shape[0] == (4 if closed else 1)
    assert int(seg.max()) < scene.points.shape[0]

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
    for t in (s.scene.colors.detach(), s.scene.stroke_colors.detach(), g.stop_colors.detach()):
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


def framed_box(width: float) -> Scene:
    """A grey box stroked ``width`` wide (round joins) on a 64 x 64 canvas, centre line
    12..36, and a filled box that stays away from the region."""
    return Scene.from_paths(
        64,
        64,
        [[rect(12, 12, 24, 24).float()], [rect(50, 50, 10, 10).float()]],
        [[0.6, 0.6, 0.6, 1], [0.2, 0.2, 0.8, 1]],
        stroke_paint=[PAINT_FLAT, PAINT_NONE],
        stroke_widths=[width, 1.0],
        stroke_colors=[[0.1, 0.1, 0.1, 1], [0, 0, 0, 1]],
        linejoin=[JOIN_ROUND] * 2,
    )


@pytest.mark.parametrize("width, crosses", [(4.0, False), (12.0, True)])
def test_edit_only_judges_a_stroke_by_its_outline_not_its_centre_line(tiny, width, crosses):
    # Region 8..40, allowed with the feather 6..42: the centre line lies well inside.
    # A stroke 12 wide reaches 6..42, to the allowed pixels' edge: it is split like a
    # fill crossing it (frozen original + clipped copy), not edited in place. A stroke 4
    # wide is edited in place, and its moves are undone where its outline (not just
    # its centre line) would leave the allowed pixels.
    scene = framed_box(width)
    roi = {"x": 8, "y": 8, "w": 32, "h": 32, "prompt": "red"}
    s = session(scene, tiny, rois=[roi], edit_only=True, lock=["color"], shape_lr=4.0)
    assert s.scene.num_paths == (3 if crosses else 2)
    assert s.editable.tolist() == ([False, True, False] if crosses else [True, False])
    before = render(s.scene).detach()
    for _ in range(4):
        s.step()
    after = render(s.scene).detach()
    changed = (after - before).abs().amax(2) > 1e-6
    outside = torch.ones(64, 64, dtype=torch.bool)
    outside[6:42, 6:42] = False
    assert bool(changed.any())
    assert not bool(changed[outside].any()), changed.nonzero().tolist()
    if crosses:
        assert torch.equal(s.scene.path_contours(0)[0].detach(), scene.path_contours(0)[0])


def test_stroke_reach_bounds_joins_and_caps():
    from clipvg.roi import paths_overlapping, stroke_reach
    from clipvg.scene import CAP_SQUARE, JOIN_BEVEL, JOIN_MITER

    pts = [[line((10, 10), (20, 10)).float()] for _ in range(4)]
    scene = Scene.from_paths(
        64,
        64,
        pts,
        [[0, 0, 0, 1]] * 4,
        closed=[[False]] * 4,
        fill_paint=[PAINT_NONE] * 4,
        stroke_paint=[PAINT_FLAT, PAINT_FLAT, PAINT_FLAT, PAINT_NONE],
        stroke_widths=[4.0, 4.0, 4.0, 4.0],
        linejoin=[JOIN_ROUND, JOIN_MITER, JOIN_BEVEL, JOIN_ROUND],
        linecap=[0, 0, CAP_SQUARE, 0],
    )
    assert stroke_reach(scene).tolist() == pytest.approx([2.0, 8.0, 2 * 2**0.5, 0.0])
    # A region 3 px below the line: only the strokes that reach that far touch it.
    region = torch.zeros(64, 64)
    region[13:20, 10:20] = 1
    assert paths_overlapping(scene, region).tolist() == [False, True, False, False]

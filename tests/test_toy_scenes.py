"""The toy world: colour terms, shapes, captioned scenes (clipvg.toy.palette/shapes/scenes)."""

import numpy as np
import pytest
import torch

from clipvg.toy.palette import (
    COLOR_TERMS,
    PROTOTYPES,
    nearest_term,
    sample_color,
    sample_in_cell,
    term_distances,
)
from clipvg.toy.scenes import (
    POSITIONS,
    Variety,
    build_scene,
    caption,
    object_outline,
    position_term,
    render_spec,
    render_specs,
    sample_spec,
)
from clipvg.toy.shapes import SEGMENTS, SHAPES, morph, outline


@pytest.mark.parametrize("term", COLOR_TERMS)
def test_sampled_colours_are_named_by_their_term(term):
    rng = np.random.default_rng(0)
    assert nearest_term(PROTOTYPES[term]) == term
    draws = np.array([sample_color(term, rng) for _ in range(20)])
    assert all(nearest_term(c) == term for c in draws)
    assert ((draws >= 0) & (draws <= 1)).all()
    assert draws.std(0).max() > 0.01  # continuous, not the prototype


@pytest.mark.parametrize("shape", SHAPES)
def test_outlines_share_the_segment_count_and_morph_end_to_end(shape):
    contours = outline(shape)
    assert contours[0].shape == (3 * SEGMENTS, 2)
    assert len(contours) == (2 if shape == "ring" else 1)
    assert np.abs(contours[0]).max() <= 1.0 + 1e-9
    np.testing.assert_allclose(morph("circle", shape, 1.0)[0], contours[0])
    np.testing.assert_allclose(morph("circle", shape, 0.0)[0], outline("circle")[0])


def test_position_rule():
    assert position_term(0.5, 0.5) == "centre"
    assert position_term(0.2, 0.55) == "left"
    assert position_term(0.8, 0.45) == "right"
    assert position_term(0.52, 0.2) == "top"
    assert position_term(0.5, 0.9) == "bottom"


def test_specs_are_deterministic_and_well_formed():
    a = [sample_spec(np.random.default_rng(3)) for _ in range(2)]
    assert a[0] == a[1]
    rng = np.random.default_rng(1)
    specs = [sample_spec(rng) for _ in range(200)]
    counts = {len(s.objects) for s in specs}
    assert counts == {1, 2, 3}
    for s in specs:
        terms = [o.color for o in s.objects]
        assert s.background not in terms and len(set(terms)) == len(terms)
        assert all(o.shape in SHAPES and o.position in POSITIONS for o in s.objects)
        scene = build_scene(s, 64)
        assert scene.num_paths == 1 + len(s.objects)
        assert scene.evenodd.tolist() == [False] + [o.shape == "ring" for o in s.objects]


def test_captions_name_every_object():
    rng = np.random.default_rng(2)
    for _ in range(100):
        spec = sample_spec(rng)
        text = caption(spec, rng)
        for o in spec.objects:
            assert f"{o.color} {o.shape}" in text
        assert len(text.split()) < 30


def test_tiled_rendering_matches_one_render_each():
    rng = np.random.default_rng(4)
    specs = [sample_spec(rng) for _ in range(10)]
    tiled = render_specs(specs, 32, columns=4)
    assert tiled.shape == (10, 32, 32, 3)
    for spec, image in zip(specs, tiled):
        torch.testing.assert_close(image, render_spec(spec, 32), atol=2e-5, rtol=0)


@pytest.mark.parametrize("term", COLOR_TERMS)
def test_cell_colours_are_named_by_their_term_and_reach_past_the_prototype(term):
    rng = np.random.default_rng(0)
    own = COLOR_TERMS.index(term)
    near = [term_distances(sample_color(term, rng))[own] for _ in range(40)]
    cell = [sample_in_cell(term, rng) for _ in range(40)]
    assert all(nearest_term(c) == term for c in cell)
    assert all(((c >= 0) & (c <= 1)).all() for c in cell)
    # The whole cell: farther from the term's centroid than the draws around it.
    assert np.median([term_distances(c)[own] for c in cell]) > np.median(near)


def test_no_variety_draws_the_default_scenes():
    plain = [sample_spec(np.random.default_rng(7)) for _ in range(1)]
    none = [sample_spec(np.random.default_rng(7), variety=Variety()) for _ in range(1)]
    assert plain == none
    rng = np.random.default_rng(7)
    varied = [sample_spec(rng, variety=Variety(1.0, 1.0, wobble_share=1.0)) for _ in range(20)]
    objs = [o for s in varied for o in s.objects]
    assert all(o.wobble > 0 for o in objs)
    assert all((o.morph_to != "") == (o.shape != "ring") for o in objs)
    assert all(o.morph_to not in (o.shape, "ring") for o in objs if o.morph_to)
    zoomed = [sample_spec(rng, count=1, variety=Variety(zoom_share=1.0)) for _ in range(20)]
    assert all(s.objects[0].radius >= 0.3 and s.objects[0].position == "centre" for s in zoomed)


def test_morphed_and_wobbled_outlines():
    spec = sample_spec(np.random.default_rng(8), count=1)
    o = spec.objects[0]
    plain = object_outline(o)
    for o2 in (
        spec.with_object(0, morph_to="star", morph_t=0.3).objects[0],
        spec.with_object(0, wobble=0.04, wobble_seed=3).objects[0],
    ):
        moved = object_outline(o2)
        assert [c.shape for c in moved] == [c.shape for c in plain]
        step = np.abs(moved[0] - plain[0]).max()
        assert 0 < step < 0.5
    wobbled = spec.with_object(0, wobble=0.04, wobble_seed=3).objects[0]
    np.testing.assert_array_equal(object_outline(wobbled)[0], object_outline(wobbled)[0])

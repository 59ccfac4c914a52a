"""Minimal pairs for the toy CLIP's training (clipvg.toy.pairs)."""

import numpy as np
import pytest

from clipvg.toy.pairs import KINDS, contrast_set, partner, translucent
from clipvg.toy.palette import nearest_term
from clipvg.toy.scenes import MIN_CONTRAST, build_scene, caption, color_distance, sample_spec


def _differences(a, b) -> set[str]:
    out = set()
    if a.background != b.background:
        out.add("background")
    for x, y in zip(a.objects, b.objects):
        if x.shape != y.shape:
            out.add("shape")
        if x.color != y.color:
            out.add("color")
    return out


def test_partners_differ_in_the_one_attribute_they_name():
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(300):
        spec = sample_spec(rng)
        other, kind = partner(spec, rng)
        seen.add(kind)
        diff = _differences(spec, other)
        want = {"swap": {"background", "color"}}.get(kind, {kind})
        assert diff == want, (kind, spec, other)
        assert len(other.objects) == len(spec.objects)
        terms = [o.color for o in other.objects]
        assert other.background not in terms and len(set(terms)) == len(terms)
        for o in other.objects:
            assert nearest_term(o.rgb) == o.color
            assert color_distance(o.rgb, other.background_rgb) >= MIN_CONTRAST - 1e-6
    assert seen == set(KINDS)


def test_a_swap_exchanges_object_and_background_colours():
    rng = np.random.default_rng(5)
    while True:
        spec = sample_spec(rng, count=1)
        other, kind = partner(spec, rng)
        if kind == "swap":
            break
    assert other.background == spec.objects[0].color
    assert other.objects[0].color == spec.background
    assert other.objects[0].rgb == spec.background_rgb


def test_translucent_objects_keep_the_term_the_judge_would_see():
    rng = np.random.default_rng(2)
    changed = 0
    for _ in range(100):
        spec = sample_spec(rng)
        pair = translucent([spec, partner(spec, rng)[0]], rng)
        alphas = {o.alpha for s in pair for o in s.objects}
        assert len(alphas) == 1 and 0.6 <= alphas.pop() <= 1.0
        changed += pair[0].objects[0].alpha < 1
        for s in pair:
            bg = np.asarray(s.background_rgb)
            for o in s.objects:
                seen = o.alpha * np.asarray(o.rgb) + (1 - o.alpha) * bg
                assert nearest_term(seen) == o.color
    assert changed > 30
    scene = build_scene(pair[0], 64)
    assert scene.colors[1:, 3].tolist() == pytest.approx([o.alpha for o in pair[0].objects])


def test_captions_of_a_pair_share_the_template():
    spec = sample_spec(np.random.default_rng(1), count=1)
    a = caption(spec, np.random.default_rng(7), background=True)
    b = caption(spec.with_object(0, shape="ring"), np.random.default_rng(7), background=True)
    assert a.replace(spec.objects[0].shape, "ring") == b
    assert f"{spec.background} background" in a
    assert "background" not in caption(spec, np.random.default_rng(7), background=False)


def test_a_contrast_set_puts_the_new_colour_on_the_object_or_the_background():
    rng = np.random.default_rng(3)
    made = 0
    for _ in range(100):
        spec = sample_spec(rng)
        group = contrast_set(spec, rng)
        if group is None:
            continue
        made += 1
        base, recoloured, background, reshaped = group
        assert base == spec
        assert _differences(base, recoloured) == {"color"}
        assert _differences(base, background) == {"background"}
        assert _differences(base, reshaped) == {"shape"}
        new = next(o.color for o, p in zip(recoloured.objects, base.objects) if o != p)
        assert background.background == new  # the same term, on the other part
        for s in group:
            for o in s.objects:
                assert color_distance(o.rgb, s.background_rgb) >= MIN_CONTRAST - 1e-6
    assert made > 80

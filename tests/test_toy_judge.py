"""The analytic judge against the generator's ground truth (clipvg.toy.judge)."""

import numpy as np
import pytest
import torch

from clipvg.errors import ClipvgError
from clipvg.toy.judge import judge, pixel_box
from clipvg.toy.scenes import render_specs, sample_spec

SIZE = 128  # the judge's render size in the benchmark


def test_judge_agrees_with_ground_truth_on_generated_scenes():
    rng = np.random.default_rng(11)
    specs = [sample_spec(rng) for _ in range(120)]
    images = render_specs(specs, SIZE)
    hits = {"color": 0, "shape": 0, "position": 0}
    n = 0
    for spec, image in zip(specs, images):
        for o in spec.objects:
            v = judge(image, pixel_box(o.box, SIZE))
            n += 1
            for k in hits:
                hits[k] += getattr(v, k) == getattr(o, k)
    assert n > 150
    for k, h in hits.items():
        assert h / n >= 0.98, (k, h, n)


def test_empty_region_and_bad_input():
    blank = torch.ones(64, 64, 3)
    v = judge(blank)
    assert (v.color, v.shape, v.position) == ("none", "none", "none")
    assert not v.matches(color="white")
    with pytest.raises(ClipvgError, match="image"):
        judge(torch.ones(64, 64))
    with pytest.raises(ClipvgError, match="smaller than 4"):
        judge(blank, (10, 10, 2, 2))


def test_uint8_and_float_agree():
    spec = sample_spec(np.random.default_rng(5), count=1)
    image = render_specs([spec], SIZE)[0]
    a = judge(image)
    b = judge((image.numpy() * 255).round().astype(np.uint8))
    assert (a.color, a.shape, a.position) == (b.color, b.shape, b.position)


def test_a_ragged_two_blob_mask_with_no_convexity_defects_has_features():
    """A mask an edit left (found by a grid run): OpenCV returns an empty (0, 1, 4)
    array of convexity defects, not None, for its outer contour."""
    from clipvg.toy.judge import contour_features

    mask = np.zeros((12, 12), np.uint8)
    for y, x in [(0, 7), (0, 8), (1, 6), (1, 7), (1, 8), (2, 6), (2, 7)]:
        mask[y, x] = 1
    mask[8:10, 3:5] = 1
    feats = contour_features(np.pad(mask, 1))
    assert feats["concavity"] == 0.0 and feats["area"] > 0

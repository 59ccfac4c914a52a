"""Property tests: the vectorizer on generated images, and the worst cases for its merging.

Every image (1 to 700 px a side; noise, checkerboards, flat areas, gradients, alpha)
gives a scene that writes a valid SVG, or a :class:`ClipvgError`. The examples are
fixed (derandomized hypothesis) and few, as each one vectorizes a picture.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clipvg.errors import ClipvgError
from clipvg.svg import parse_svg_string, scene_to_svg_string
from clipvg.vectorize.pipeline import vectorize_image
from clipvg.vectorize.segment import oversegment, ward_levels

FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=14,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
KINDS = ("noise", "checker", "flat", "gradient", "stripes", "blobs")


def checkerboard(h: int, w: int, period: int = 1) -> np.ndarray:
    """(h, w, 3) float32: black and white squares of ``period`` px."""
    yy, xx = np.indices((h, w))
    return np.repeat((((yy // period + xx // period) % 2) == 1)[..., None], 3, 2).astype(np.float32)


def picture(kind: str, h: int, w: int, seed: int) -> np.ndarray:
    """(h, w, 3) float32 in [0, 1] of one kind."""
    rng = np.random.default_rng(seed)
    if kind == "noise":
        return rng.random((h, w, 3), dtype=np.float32)
    if kind == "checker":
        return checkerboard(h, w, int(rng.integers(1, 4)))
    if kind == "flat":
        return np.broadcast_to(rng.random(3, dtype=np.float32), (h, w, 3)).copy()
    if kind == "gradient":
        ramp = np.linspace(0, 1, w, dtype=np.float32)
        return np.stack([np.broadcast_to(ramp, (h, w))] * 3, -1) * rng.random(3, dtype=np.float32)
    if kind == "stripes":
        return np.repeat((np.arange(w) % 2).astype(np.float32)[None, :, None], h, 0).repeat(3, 2)
    # blobs: a few flat rectangles
    out = np.zeros((h, w, 3), np.float32)
    for _ in range(5):
        y, x = rng.integers(0, h), rng.integers(0, w)
        out[y : y + h // 3 + 1, x : x + w // 3 + 1] = rng.random(3, dtype=np.float32)
    return out


@st.composite
def image(draw) -> np.ndarray:
    side = st.one_of(st.integers(1, 24), st.integers(25, 700))
    h, w = draw(side), draw(side)
    rgb = picture(draw(st.sampled_from(KINDS)), h, w, draw(st.integers(0, 2**16)))
    alpha = draw(st.sampled_from(["none", "opaque", "transparent", "half", "noise"]))
    if alpha == "none":
        return rgb
    a = {
        "opaque": np.ones((h, w), np.float32),
        "transparent": np.zeros((h, w), np.float32),
        "half": (np.indices((h, w))[1] < w / 2).astype(np.float32),
        "noise": np.random.default_rng(h * w).random((h, w), dtype=np.float32),
    }[alpha]
    return np.concatenate([rgb, a[..., None]], -1)


def vectorizes_to_valid_svg(picture: np.ndarray, **options) -> None:
    """The property: a scene with finite points that writes and reads back as SVG,
    or a ClipvgError (one line)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            scene = vectorize_image(picture, **options)
        except ClipvgError as exc:
            assert "\n" not in str(exc)
            return
        assert scene.num_paths >= 1
        assert bool(torch.isfinite(scene.points).all())
        back = parse_svg_string(scene_to_svg_string(scene))
    assert back.num_paths == scene.num_paths
    assert (back.width, back.height) == (scene.width, scene.height)


@FUZZ
@given(image(), st.sampled_from([8, 64, 512, 1024]), st.sampled_from(["fast", "balanced"]))
def test_generated_images_vectorize_or_refuse(picture, max_size, preset):
    vectorizes_to_valid_svg(picture, preset=preset, max_size=max_size, refine=0)


@settings(FUZZ, max_examples=4)
@given(image())
def test_generated_images_with_refinement(picture):
    vectorizes_to_valid_svg(picture, preset="fast", max_size=48, refine=2)


@pytest.mark.parametrize(
    "picture",
    [
        pytest.param(checkerboard(224, 224), id="checkerboard-224"),
        pytest.param(np.random.default_rng(0).random((480, 480, 3), np.float32), id="noise-480"),
    ],
)
def test_merging_of_about_50000_superpixels(picture):
    """Issue 8: Ward merging failed from about 48,000 superpixels (int32 overflow of
    the edge keys, 46,341^2 > 2^31). These give one superpixel per pixel or so."""
    labels = oversegment(picture, np.ones(picture.shape[:2], bool))
    assert labels.max() + 1 > 46_341
    (merged,) = ward_levels(picture, labels, [100])
    regions = np.unique(merged)
    assert regions.min() == 0 and len(regions) == merged.max() + 1  # labels 0..K-1
    assert len(regions) <= 100 or len(regions) < labels.max() + 1


@pytest.mark.parametrize(
    "picture, preset",
    [
        pytest.param(checkerboard(224, 224), "balanced", id="checkerboard-224"),
        pytest.param(np.random.default_rng(1).random((480, 480, 3)), "fast", id="noise-480"),
    ],
)
def test_vectorize_checkerboard_and_noise(picture, preset):
    """The same pictures through the whole vectorizer (refinement off)."""
    vectorizes_to_valid_svg(picture.astype(np.float32), preset=preset, refine=0)

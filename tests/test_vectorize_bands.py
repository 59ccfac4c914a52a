"""Refinement steps rendered in horizontal bands on threads (vectorize/bands.py)."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest
import torch
from test_vectorize import busy_image, psnr

import clipvg
from clipvg.vectorize.bands import BANDS
from clipvg.vectorize.pipeline import vectorize_image


@pytest.mark.parametrize("sigma", [0.0, 1.5])
def test_refinement_in_bands_on_two_threads_repeats_and_fits_as_well(sigma):
    from clipvg.vectorize.refine import refine

    im = cv2.GaussianBlur(busy_image(40, seed=3), (0, 0), 1.0)
    rgb, opaque = im.astype(np.float32) / 255, np.ones(im.shape[:2], bool)
    start = vectorize_image(im, rounds=(6, 30), max_paths=40, refine=0)
    one = refine(start, rgb, opaque, 4, sigma=sigma, flat=0.0, threads=1)
    two = refine(start, rgb, opaque, 4, sigma=sigma, flat=0.0, threads=2)
    again = refine(start, rgb, opaque, 4, sigma=sigma, flat=0.0, threads=2)
    assert torch.equal(two.points, again.points) and torch.equal(two.colors, again.colors)
    assert not torch.equal(two.points, start.points)
    assert psnr(clipvg.render(two), im) == pytest.approx(psnr(clipvg.render(one), im), abs=0.05)


def test_banded_loss_is_the_mean_squared_error_of_the_whole_render():
    from clipvg.vectorize.bands import BandedLoss

    im = busy_image(36, seed=4)
    scene = vectorize_image(im, rounds=(6, 30), max_paths=40, refine=0)
    target = torch.rand(36, 36, 4, generator=torch.Generator().manual_seed(0))
    points = scene.points.clone().requires_grad_(True)
    colors = scene.colors.clone().requires_grad_(True)
    draw = lambda p, c: dataclasses.replace(scene, points=p, colors=c)  # noqa: E731
    loss, (gp, gc) = BandedLoss(draw, threads=BANDS)(points, colors, target)
    rgba = clipvg.render(draw(points, colors), background="none", tolerance=0.3)
    whole = torch.mean(
        (torch.cat([rgba[..., :3] * rgba[..., 3:], rgba[..., 3:]], -1) - target) ** 2
    )
    wp, wc = torch.autograd.grad(whole, (points, colors))
    assert float(loss) == pytest.approx(float(whole.detach()), rel=1e-5)
    assert torch.allclose(gc, wc, atol=1e-7)
    # Points on a pixel boundary sit on a kink of the coverage, where the renderer picks
    # the derivative of one side (from the path's orientation in what it rasterizes):
    # elsewhere the bands' gradient is the whole render's.
    smooth = ~(points == points.round()).any(1)
    assert smooth.sum() > 100
    assert torch.allclose(gp[smooth], wp[smooth], rtol=1e-3, atol=1e-4 * float(wp.abs().max()))

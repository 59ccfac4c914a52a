"""The toy CLIP's training options (clipvg.toy.training, used by
benchmarks/semantic/train_toy_clip.py): soft targets, the pixel attack and the
edit-attack triplets."""

import warnings

import numpy as np
import pytest
import torch
from open_clip.loss import ClipLoss

from clipvg.toy.edits import single
from clipvg.toy.scenes import caption, sample_spec


@pytest.fixture(scope="module")
def train():
    from clipvg.toy import training

    return training


@pytest.fixture(scope="module")
def model():
    import open_clip

    from clipvg.toy.model import TOY_MODEL, register

    register()
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = open_clip.create_model(TOY_MODEL, pretrained=None)
    return m.eval(), open_clip.get_tokenizer(TOY_MODEL)


def test_soft_targets_weigh_colour_distance_and_exclude_other_shapes(train):
    red = single("star", "red")
    redder = red.with_object(0, rgb=(0.9, 0.1, 0.1))
    blue = single("star", "blue")
    ring = single("ring", "red")
    specs = [red, redder, blue, ring]
    texts = [caption(s, np.random.default_rng(0), background=False) for s in specs]
    w = train.soft_targets(specs, texts, 10.0)
    assert torch.equal(torch.diag(w), torch.ones(4))
    assert w[0, 3] == 0 and w[3, 0] == 0  # another shape: never a match
    assert w[0, 1] > w[0, 2]  # the nearer colour weighs more
    assert w[0, 1] > 0.3


def test_soft_loss_with_one_hot_targets_is_open_clips_loss(train):
    torch.manual_seed(1)
    img = torch.nn.functional.normalize(torch.randn(6, 8), dim=-1)
    txt = torch.nn.functional.normalize(torch.randn(6, 8), dim=-1)
    scale = torch.tensor(14.0)
    ours = train.soft_clip_loss(img, txt, scale, torch.eye(6))
    assert torch.allclose(ours, ClipLoss()(img, txt, scale), atol=1e-5)


def test_the_pixel_attack_stays_in_its_ball_and_in_the_picture(train, model):
    m, tok = model
    mean = torch.tensor(train.MEAN).view(1, 3, 1, 1)
    std = torch.tensor(train.STD).view(1, 3, 1, 1)
    x = (torch.rand(4, 3, 64, 64) - mean) / std
    eps = 8 / 255 / std
    lo, hi = -mean / std, (1 - mean) / std
    tokens = tok(["a red star"] * 4)
    gen = torch.Generator().manual_seed(0)
    out = train.pixel_attack(m, ClipLoss(), x, tokens, eps, 2, gen, lo, hi)
    assert ((out - x).abs() <= eps + 1e-6).all()
    assert (out >= lo - 1e-6).all() and (out <= hi + 1e-6).all()
    assert not torch.equal(out, x)


def test_edit_attack_triplets_are_the_scene_its_recolour_and_the_attacked_render(train, model):
    m, tok = model
    rng = np.random.default_rng(2)
    picks = [sample_spec(rng) for _ in range(3)]
    images, texts = train.edit_attack_triplets(m, tok, picks, 5, 2, 0.1, 64)
    n = len(texts) // 3
    assert images.shape == (3 * n, 3, 64, 64) and len(texts) == 3 * n and n >= 1
    assert images.min() >= 0 and images.max() <= 1
    for i in range(n):
        source, target, attacked = texts[3 * i : 3 * i + 3]
        assert "background" in source and "background" in attacked
        assert source != target  # one object has a new colour word

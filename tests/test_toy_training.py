"""The toy CLIP's training options (clipvg.toy.training, used by
benchmarks/semantic/train_toy_clip.py): soft targets, the pixel attack and the
edit-attack triplets."""

import dataclasses
import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
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


class Analytic(torch.nn.Module):
    """An encoder with a known answer: image features are ``features`` of the pixels in
    [0, 1] (the training code passes normalized images), text features are what the
    tokenizer returns."""

    def __init__(self, train, features):
        super().__init__()
        self.mean = torch.tensor(train.MEAN).view(1, 3, 1, 1)
        self.std = torch.tensor(train.STD).view(1, 3, 1, 1)
        self.features = features

    def encode_image(self, x, normalize=False):
        return self.features(x * self.std + self.mean)

    def encode_text(self, tokens):
        return tokens


def first_colour_word(texts):
    """A tokenizer: each caption's first colour word's prototype (the object's colour)."""
    from clipvg.toy.palette import PROTOTYPES

    return torch.tensor([next(PROTOTYPES[w] for w in t.split() if w in PROTOTYPES) for t in texts])


def mean_colour(train):
    """The mean-colour encoder and its tokenizer."""
    return Analytic(train, lambda x: x.mean((2, 3))), first_colour_word


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
    img = F.normalize(torch.randn(6, 8), dim=-1)
    txt = F.normalize(torch.randn(6, 8), dim=-1)
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


def test_a_blend_of_two_renders_is_the_render_of_the_blended_colour():
    # path_points relies on it: only fills differ, and a render is linear in its fills.
    from clipvg.toy.scenes import render_spec

    red = single("heart", "red", "gray")
    blue = red.with_object(0, color="blue", rgb=(0.1, 0.2, 0.9))
    a = 0.3
    mid = red.with_object(
        0, rgb=tuple((1 - a) * p + a * q for p, q in zip(red.objects[0].rgb, blue.objects[0].rgb))
    )
    x = [render_spec(s, 64) for s in (red, blue, mid)]
    # The same coverage in all three, so only the fp32 compositing differs: a few ulps of 1.
    assert torch.allclose(x[0] + a * (x[1] - x[0]), x[2], atol=1e-5)


def test_path_points_caption_both_ends_alike_but_for_the_change(train):
    rng = np.random.default_rng(4)
    picks = [sample_spec(rng) for _ in range(24)]
    x0, xa, said, wanted = train.path_points(picks, 7, 64, background_share=0.5, shape_share=0.3)
    n = len(said)
    assert n >= 12 and x0.shape == xa.shape == (n, 3, 64, 64) and len(wanted) == n
    assert xa.min() >= 0 and xa.max() <= 1
    backgrounds = morphs = 0
    for before, after in zip(said, wanted):
        one, two = before.split(), after.split()
        assert len(one) == len(two)
        changed = [(p, q) for p, q in zip(one, two) if p != q and {p, q} != {"a", "an"}]
        assert len(changed) == 1  # one template: only the changed word (and its article) differs
        backgrounds += after.endswith(f"{changed[0][1]} background")
        morphs += changed[0][1] in ("circle", "square", "triangle", "star", "heart")
    assert backgrounds >= 2 and morphs >= 2
    assert ((xa - x0).abs().amax((1, 2, 3)) > 0).all()  # every point is on its way


def test_path_loss_is_low_along_the_named_change_and_high_against_it(train):
    # The mean-colour encoder: the image feature is the mean colour, a caption's feature
    # the colour of its object's word.
    from clipvg.toy.palette import PROTOTYPES
    from clipvg.toy.scenes import render_specs

    encoder, tokenizer = mean_colour(train)
    red = single("square", "red", "white")
    blue = red.with_object(0, color="blue", rgb=PROTOTYPES["blue"])
    x = render_specs([red, blue], 64).permute(0, 3, 1, 2)
    xa = x[:1] + 0.2 * (x[1:] - x[:1])
    toward = train.path_loss(encoder, tokenizer, x[:1], xa, ["a red square"], ["a blue square"])
    against = train.path_loss(encoder, tokenizer, x[:1], xa, ["a blue square"], ["a red square"])
    assert 0 <= toward < 1 < against <= 2
    assert torch.allclose(toward + against, torch.tensor(2.0), atol=1e-5)  # cos and -cos


def test_path_loss_trains_both_towers(train, model):
    m, tok = model
    rng = np.random.default_rng(5)
    x0, xa, said, wanted = train.path_points([sample_spec(rng) for _ in range(4)], 1, 64)
    m.zero_grad()
    loss = train.path_loss(m, tok, x0, xa, said, wanted)
    loss.backward()
    assert 0 <= loss.item() <= 2
    assert m.visual.conv1.weight.grad.abs().sum() > 0
    assert m.token_embedding.weight.grad.abs().sum() > 0
    m.zero_grad()


def test_direction_sets_take_each_scene_three_ways_from_one_template(train):
    rng = np.random.default_rng(6)
    picks = [sample_spec(rng) for _ in range(8)]
    x0, xa, said, wanted, kinds = train.direction_sets(picks, 2, 64)
    m = len(said)
    assert m >= 12 and x0.shape == xa.shape == (m, 3, 64, 64)
    kinds = []
    for before, after in zip(said, wanted):
        assert before.endswith("background") and after.endswith("background")
        one, two = before.split(), after.split()
        changed = [i for i, (p, q) in enumerate(zip(one, two)) if p != q and {p, q} != {"a", "an"}]
        assert len(changed) == 1
        i = changed[0]
        kinds.append(
            "background" if i == len(two) - 2 else "shape" if two[i] in SHAPE_WORDS else "colour"
        )
    assert {"background", "shape", "colour"} <= set(kinds)
    # A source's paths come together and share the source render and caption (rendered
    # in other tiles of one canvas: float32 coordinates up to 512 px move coverage by
    # about 1e-5).
    for i in range(1, m):
        if said[i] == said[i - 1]:
            assert torch.allclose(x0[i], x0[i - 1], atol=1e-4)


SHAPE_WORDS = ("circle", "square", "triangle", "star", "heart", "ring")


def test_direction_loss_matches_each_image_shift_to_its_own_text_shift(train):
    # The analytic mean-colour encoder again: a recolour to blue shifts the mean toward
    # blue, one to green toward green, so the right pairing has the lower loss.
    from clipvg.toy.palette import PROTOTYPES
    from clipvg.toy.scenes import render_specs

    encoder, tokenizer = mean_colour(train)

    red = single("square", "red", "white")
    ends = [red.with_object(0, color=c, rgb=PROTOTYPES[c]) for c in ("blue", "green")]
    x = render_specs([red, *ends], 64).permute(0, 3, 1, 2)
    x0, xa = x[:1].expand(2, -1, -1, -1), x[:1] + 0.3 * (x[1:] - x[:1])
    said = ["a red square"] * 2
    scale = torch.tensor(10.0)
    right = train.direction_loss(
        encoder, tokenizer, x0, xa, said, ["a blue square", "a green square"], scale
    )
    wrong = train.direction_loss(
        encoder, tokenizer, x0, xa, said, ["a green square", "a blue square"], scale
    )
    assert right < math.log(2) < wrong


def _region_encoder(train, bag: bool):
    """An analytic encoder of (object colour, background colour): the mean colour of the
    canvas's centre and of its corner, and a tokenizer giving the object's and the
    background's colour words' prototypes. With ``bag`` the image features mix the two
    (a bag of colours that cannot tell where a colour is)."""
    from clipvg.toy.palette import PROTOTYPES

    def features(x):
        centre, corner = x[:, :, 28:36, 28:36].mean((2, 3)), x[:, :, :4, :4].mean((2, 3))
        if bag:
            centre = corner = (centre + corner) / 2
        return torch.cat([centre, corner], 1)

    def tokenizer(texts):
        # Each half a unit vector, so that normalizing the whole leaves the halves apart.
        words = [[w for w in t.split() if w in PROTOTYPES] for t in texts]
        unit = {w: F.normalize(torch.tensor(v), dim=0) for w, v in PROTOTYPES.items()}
        return torch.stack([torch.cat([unit[w[0]], unit[w[-1]]]) for w in words])

    return Analytic(train, features), tokenizer


def test_the_binding_hinge_charges_only_an_encoder_that_cannot_tell_where_a_colour_is(train):
    from clipvg.toy.palette import PROTOTYPES
    from clipvg.toy.scenes import render_specs

    red = single("square", "red", "white")
    recolour = red.with_object(0, color="blue", rgb=PROTOTYPES["blue"])
    background = dataclasses.replace(red, background="blue", background_rgb=PROTOTYPES["blue"])
    x = render_specs([red, recolour, background], 64).permute(0, 3, 1, 2)
    x0, xa = x[:1].expand(2, -1, -1, -1), x[:1] + 0.5 * (x[1:] - x[:1])
    said = ["a red square on a white background"] * 2
    wanted = ["a blue square on a white background", "a red square on a blue background"]
    kinds = ["colour", "background"]
    scale = torch.tensor(10.0)
    for bag in (False, True):
        encoder, tokenizer = _region_encoder(train, bag)
        plain = train.direction_loss(encoder, tokenizer, x0, xa, said, wanted, scale)
        bound = train.direction_loss(encoder, tokenizer, x0, xa, said, wanted, scale, kinds, 1.0)
        if bag:
            assert bound > plain + 0.1  # a tinted background reads as the object's change
        else:
            assert torch.allclose(bound, plain)  # the shifts are orthogonal: no charge


def test_patch_views_warp_paired_rows_alike_and_keep_the_rest(train):
    from clipvg.toy.scenes import render_specs

    rng = np.random.default_rng(3)
    x = render_specs([sample_spec(rng) for _ in range(16)], 32).permute(0, 3, 1, 2)
    pale = 1 - 0.5 * (1 - x)  # a second render of each scene, halfway to white
    a, b = train.patch_views([x, pale], 0.5, torch.Generator().manual_seed(0), 0.6, 0.3)
    changed = (a != x).flatten(1).any(1)
    assert 0 < int(changed.sum()) < 16  # about half seen through a patch
    assert torch.equal(a[~changed], x[~changed]) and torch.equal(b[~changed], pale[~changed])
    assert (b[changed] != pale[changed]).flatten(1).any(1).all()
    # One warp per row for both: a view is 1 - (bilinear weights) @ (1 - pixels), with
    # white outside the canvas, so 1 - view(pale) = (1 - view(x)) / 2 up to rounding;
    # a warp of its own for each tensor would break this almost everywhere.
    assert torch.allclose(1 - b, 0.5 * (1 - a), atol=1e-6)
    assert a.min() >= 0 and a.max() <= 1
    white = (a[changed] == 1).all(1).flatten(1).float().mean(1)
    assert (white > 0).any()  # the perspective leaves white corners, as in an edit

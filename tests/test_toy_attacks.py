"""Edit attacks for the toy CLIP's training (clipvg.toy.attacks)."""

import numpy as np
import torch

from clipvg.render import render
from clipvg.toy.attacks import attack, attack_directions, seen_spec
from clipvg.toy.edits import single
from clipvg.toy.pairs import recoloured
from clipvg.toy.palette import PROTOTYPES
from clipvg.toy.scenes import build_scene, sample_spec


def _mean_colour(x: torch.Tensor) -> torch.Tensor:
    """An analytic encoder: (N, 3, H, W) -> (N, 3) mean colour (a known right answer)."""
    return x.mean((2, 3))


def test_an_attack_moves_the_colours_along_the_direction_and_renders_what_it_returns():
    specs = [single("star", "red", "white"), single("circle", "green", "white")]
    # Toward "more blue, less red" in mean-colour space.
    directions = torch.tensor([[-1.0, 0.0, 1.0]]).repeat(2, 1)
    before = [build_scene(s, 32).colors for s in specs]
    images, colors = attack(specs, _mean_colour, directions, steps=3, step_size=0.1, size=32)
    assert images.shape == (2, 3, 32, 32) and images.min() >= 0 and images.max() <= 1
    for i, (spec, b, c) in enumerate(zip(specs, before, colors)):
        assert c.shape == b.shape and c.min() >= 0 and c.max() <= 1
        # The object's blue rose by the three full steps; red fell as far as it could.
        assert torch.isclose(c[1, 2], (b[1, 2] + 0.3).clamp(max=1), atol=1e-6)
        assert c[1, 0] < b[1, 0] or b[1, 0] == 0
        scene = build_scene(spec, 32)
        scene.colors = c
        again = render(scene, 32, 32).permute(2, 0, 1)
        assert torch.allclose(again, images[i], atol=1e-6)


def test_zero_steps_leave_the_scene_as_it_was():
    spec = single("square", "blue", "white")
    images, colors = attack([spec], _mean_colour, torch.tensor([[1.0, 0, 0]]), 0, 0.1, 32)
    assert torch.equal(colors[0], build_scene(spec, 32).colors)
    assert seen_spec(spec, colors[0]).objects[0].color == "blue"


def test_the_seen_scene_names_colours_composited_as_the_judge_sees_them():
    spec = single("heart", "red", "white")
    red, blue = PROTOTYPES["red"], PROTOTYPES["blue"]
    # A fully transparent background shows the white canvas; a red fill at alpha 0.05
    # over it is seen as white; the background turned opaque blue is blue.
    faded = torch.tensor([[*blue, 0.0], [*red, 0.05]], dtype=torch.float32)
    seen = seen_spec(spec, faded)
    assert seen.background == "white" and seen.objects[0].color == "white"
    assert seen.objects[0].alpha == 1.0 and seen.objects[0].shape == "heart"
    tinted = torch.tensor([[*blue, 1.0], [*red, 1.0]], dtype=torch.float32)
    seen = seen_spec(spec, tinted)
    assert seen.background == "blue" and seen.objects[0].color == "red"
    np.testing.assert_allclose(seen.background_rgb, blue, atol=1e-6)


def test_directions_are_the_editors_text_shifts():
    table = {"a": torch.tensor([1.0, 0.0]), "b": torch.tensor([0.0, 2.0])}

    def encode(texts):
        return torch.stack([table[t] for t in texts])

    d = attack_directions(encode, ["b"], ["a"])
    assert torch.allclose(d, torch.tensor([[-1.0, 1.0]]))


def test_a_recoloured_scene_changes_one_object_to_an_unused_term():
    rng = np.random.default_rng(3)
    for _ in range(50):
        spec = sample_spec(rng)
        other = recoloured(spec, 0, rng)
        if other is None:
            continue
        assert other.objects[1:] == spec.objects[1:]
        assert other.objects[0].color not in {o.color for o in spec.objects} | {spec.background}
        assert other.objects[0].shape == spec.objects[0].shape

"""Edit attacks: the editor's own gradient run against the toy CLIP, named truthfully.

An edit asks the toy to move a scene's colours along "a red star" -> "a blue star".
A small CLIP answers that gradient with mixtures (the object faded or half-recoloured,
the background tinted) whose image direction scores like the full recolour, while the
judge sees a purple star on a purple background (``benchmarks/semantic.py``'s
"fooled" column). :func:`attack` makes those mixtures on training scenes: a few
signed-gradient steps of :func:`clipvg.losses.directional_loss` on every colour of the
scene (RGBA, background too, as Adam moves them in an edit), toward a new colour term
for one object. :func:`seen_spec` names what came out as the judge would: each colour
composited over what lies beneath, given its nearest term. Training on the attacked
render beside the scene and its true recolour, each with its true caption, teaches the
toy to tell the mixture from the recolour (adversarial training against the edit
itself, not a pixel-noise ball).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import torch

from ..losses import directional_loss, text_direction
from ..render import render
from .palette import nearest_term
from .scenes import ObjectSpec, SceneSpec, build_scene


def attack(
    specs: list[SceneSpec],
    encode_image: Callable[[torch.Tensor], torch.Tensor],
    directions: torch.Tensor,
    steps: int,
    step_size: float,
    size: int = 64,
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Signed-gradient steps of the directional loss on each scene's colours.

    Args:
        specs: N scenes (background first, then the objects, as :func:`build_scene`).
        encode_image: (N, 3, size, size) renders in [0, 1] -> (N, D) image features
            (differentiable in the input).
        directions: (N, D) text shifts (:func:`clipvg.losses.text_direction`), target
            minus source caption.
        steps, step_size: signed steps of ``step_size`` colour units per channel (an edit's
            Adam moves each channel about its learning rate per iteration).

    Returns:
        The attacked renders, (N, 3, size, size) in [0, 1], and each scene's attacked
        (paths, 4) RGBA colours in [0, 1].
    """
    scenes = [build_scene(s, size) for s in specs]
    colors = [s.colors.detach().clone() for s in scenes]

    def draw() -> torch.Tensor:
        out = []
        for scene, c in zip(scenes, colors):
            scene.colors = c
            out.append(render(scene, size, size).permute(2, 0, 1))
        return torch.stack(out)

    with torch.no_grad():
        initial = encode_image(draw())
    for _ in range(steps):
        for c in colors:
            c.requires_grad_(True)
        loss = directional_loss(encode_image(draw()), initial, directions).sum()
        grads = torch.autograd.grad(loss, colors)
        colors = [(c.detach() - step_size * g.sign()).clamp(0, 1) for c, g in zip(colors, grads)]
    with torch.no_grad():
        return draw(), colors


def seen_spec(spec: SceneSpec, colors: torch.Tensor) -> SceneSpec:
    """The scene as its attacked ``colors`` show it: the background over the white
    canvas, each object over the background (the generator's objects do not overlap),
    every colour given its nearest term and an alpha of 1."""
    rgba = colors.detach().double().numpy()
    background = rgba[0, :3] * rgba[0, 3] + (1 - rgba[0, 3])
    objects = []
    for o, (r, g, b, a) in zip(spec.objects, rgba[1:]):
        seen = np.array([r, g, b]) * a + background * (1 - a)
        objects.append(_renamed(o, seen))
    return SceneSpec(nearest_term(background), _rgb(background), tuple(objects))


def _rgb(v: np.ndarray) -> tuple[float, float, float]:
    return tuple(float(x) for x in np.clip(v, 0, 1))


def _renamed(o: ObjectSpec, seen: np.ndarray) -> ObjectSpec:
    return replace(o, color=nearest_term(seen), rgb=_rgb(seen), alpha=1.0)


def attack_directions(
    encode_text: Callable[[list[str]], torch.Tensor], targets: list[str], sources: list[str]
) -> torch.Tensor:
    """(N, D) text shifts from each source caption to its target, as the editor forms
    them (:func:`clipvg.losses.text_direction`), without gradient."""
    with torch.no_grad():
        return text_direction(encode_text(targets), encode_text(sources))

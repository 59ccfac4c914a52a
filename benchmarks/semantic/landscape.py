"""The guide's objective along the straight path from each grid recolour to its answer.

For every recolour of the edit grid (clipvg.toy.edits.RECOLOURS, a centred object on
white, 64 px), the object's colour is moved in sRGB from the source prototype to the
target's in 10 steps, everything else kept, and the guide's own objective
(clipvg.toy.edits.guide_objective: cos(dI, dT) of the whole image, no augmentation)
is printed at each step. An edit that starts downhill along this path must first go
against its loss to reach the answer; the grid's failures are those recolours
(``benchmarks/semantic.py``'s "stuck" column says the guide scores the answer above
where they stopped).

``--descend``: also run gradient descent on that objective (Adam, 40 steps at lr 0.03,
the grid's colour learning rate) with only the object's RGB free, three numbers, and
print the colour term it reaches: whether the barrier lies in the toy's colour landscape
itself, not in the many parameters an edit moves.

    PYTHONPATH=. python benchmarks/semantic/landscape.py [--weights W] [--count 20] [--descend]
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from clipvg.clip import TextFeatureCache, load_clip  # noqa: E402
from clipvg.losses import directional_loss, text_direction  # noqa: E402
from clipvg.render import render  # noqa: E402
from clipvg.toy.edits import RECOLOURS, guide_objective, recolour_case  # noqa: E402
from clipvg.toy.model import TOY_MODEL, weights_file  # noqa: E402
from clipvg.toy.palette import PROTOTYPES, nearest_term  # noqa: E402
from clipvg.toy.scenes import build_scene  # noqa: E402

SIZE = 64
STEPS = np.linspace(0.0, 1.0, 11)


def path_objectives(encoder, texts, shape: str, source: str, target: str) -> list[float]:
    """The objective at each of :data:`STEPS` of the way from source to target colour."""
    case = recolour_case(shape, source, target)
    initial = render(build_scene(case.spec, SIZE), SIZE, SIZE)
    a, b = np.array(PROTOTYPES[source]), np.array(PROTOTYPES[target])
    out = []
    for t in STEPS:
        spec = case.spec.with_object(0, rgb=tuple(a + (b - a) * t))
        image = render(build_scene(spec, SIZE), SIZE, SIZE)
        out.append(guide_objective(encoder, texts, case, image, initial))
    return out


def descend(encoder, texts, shape: str, source: str, target: str, steps=40, lr=0.03) -> str:
    """Adam on the object's RGB alone (alpha and background fixed) under the whole-image
    directional loss; the colour term reached."""
    case = recolour_case(shape, source, target)
    scene = build_scene(case.spec, SIZE)
    with torch.no_grad():
        initial = encoder.encode_image(render(scene, SIZE, SIZE).permute(2, 0, 1)[None])
    direction = text_direction(texts.features(case.prompt), texts.features(case.source_prompt))
    rgb = scene.colors[1, :3].clone().requires_grad_(True)
    opt = torch.optim.Adam([rgb], lr=lr)
    for _ in range(steps):
        scene.colors = torch.cat([scene.colors[:1], torch.cat([rgb, scene.colors[1, 3:]])[None]])
        image = render(scene, SIZE, SIZE).permute(2, 0, 1)[None]
        loss = directional_loss(encoder.encode_image(image), initial, direction).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            rgb.clamp_(0, 1)
    return nearest_term(rgb.detach().numpy())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", type=weights_file, help="other clipvg-toy weights")
    ap.add_argument("--count", type=int, default=20, help="the grid's first N recolours")
    ap.add_argument("--descend", action="store_true", help="also descend on the object's RGB")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    encoder = load_clip(TOY_MODEL, weights=args.weights, device="cpu")
    texts = TextFeatureCache(encoder)
    print(
        f"{'recolour':28s} "
        + " ".join(f"{t:5.1f}" for t in STEPS)
        + ("  RGB descent reaches" if args.descend else "")
    )
    downhill = reached = 0
    for shape, source, target in RECOLOURS[: args.count]:
        values = path_objectives(encoder, texts, shape, source, target)
        first = values[1]
        downhill += first <= 0
        name = f"{source} {shape} -> {target}"
        line = f"{name:28s} " + " ".join(f"{v:5.2f}" for v in values)
        if args.descend:
            term = descend(encoder, texts, shape, source, target)
            reached += term == target
            line += f"  {term}"
        print(line)
    print(
        f"weights: {args.weights or 'the packaged clipvg-toy weights'}; "
        f"{downhill} of {args.count} paths start downhill or flat (objective <= 0 a tenth "
        "of the way)"
        + (
            f"; RGB descent reaches the target term in {reached} of {args.count}"
            if args.descend
            else ""
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

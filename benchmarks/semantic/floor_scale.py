"""How long an edit's image direction is, next to the text shift and the loss's floor.

For pairs of toy scenes (source, target: a recolour or a reshape), with ``clipvg-toy``
and with the same architecture at random weights, prints the text shift's length
|dT| = |T(target) - T(source)| (template-averaged unit features, as the editor computes
them), the length |dI| of the image change between the two renders (unit features, the
change a target-reaching edit makes), their ratio and cosine, and the floors of
:func:`clipvg.losses.directional_loss`: the old absolute 0.01 and the relative one, each
as a fraction of |dI|. The evidence behind the relative floor (see clipvg/losses.py).

    PYTHONPATH=. python benchmarks/semantic/floor_scale.py [--weights file.safetensors]
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from clipvg.clip import TextFeatureCache, load_clip  # noqa: E402
from clipvg.losses import DIRECTION_FLOOR, direction_floor  # noqa: E402
from clipvg.toy.edits import phrase, single  # noqa: E402
from clipvg.toy.model import TOY_MODEL  # noqa: E402
from clipvg.toy.scenes import render_spec  # noqa: E402

PAIRS = [  # ((shape, colour) before, after)
    (("star", "red"), ("star", "blue")),
    (("circle", "blue"), ("circle", "yellow")),
    (("square", "green"), ("square", "red")),
    (("heart", "orange"), ("heart", "green")),
    (("circle", "red"), ("square", "red")),
    (("square", "blue"), ("star", "blue")),
    (("heart", "pink"), ("circle", "pink")),
]


def rows(encoder) -> list[tuple[str, float, float, float, float]]:
    """(edit, |dT|, |dI|, cos(dI, dT), relative floor) per pair."""
    texts = TextFeatureCache(encoder)
    out = []
    for (s0, c0), (s1, c1) in PAIRS:
        images = [render_spec(single(s, c), encoder.image_size) for s, c in ((s0, c0), (s1, c1))]
        with torch.no_grad():
            feats = encoder.encode_image(torch.stack(images).permute(0, 3, 1, 2)).float()
        f = F.normalize(feats, dim=-1)
        d_text = texts.features(phrase(c1, s1)) - texts.features(phrase(c0, s0))
        d_img = f[1] - f[0]
        out.append(
            (
                f"{c0} {s0} -> {c1} {s1}",
                float(d_text.norm()),
                float(d_img.norm()),
                float(F.cosine_similarity(d_img, d_text, 0)),
                float(direction_floor(d_text)),
            )
        )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", help="a clipvg-toy checkpoint (default: the packaged one)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")  # random weights warn
    models = [
        ("clipvg-toy" + (f" ({args.weights})" if args.weights else ""), {"weights": args.weights}),
        ("clipvg-toy architecture, random weights", {"pretrained": "none"}),
    ]
    for label, kw in models:
        encoder = load_clip(TOY_MODEL, **{k: v for k, v in kw.items() if v is not None})
        print(label)
        print(
            f"  {'edit':30s} {'|dT|':>6s} {'|dI|':>6s} {'|dI|/|dT|':>9s} {'cos':>6s}"
            f" {f'{DIRECTION_FLOOR:g}/|dI|':>9s} {'floor':>6s} {'floor/|dI|':>10s}"
        )
        for name, dt, di, cos, floor in rows(encoder):
            print(
                f"  {name:30s} {dt:6.3f} {di:6.3f} {di / dt:9.2f} {cos:6.3f}"
                f" {DIRECTION_FLOOR / di:9.3f} {floor:6.3f} {floor / di:10.2f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""What a CLIP has learned about the toy world: zero-shot accuracy and smoothness.

Works with any :class:`clipvg.clip.Encoder` (images in [0, 1] at its own size).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..augment import sample_patches
from ..config import EditSettings
from ..losses import text_direction
from .edits import RECOLOURS, phrase
from .palette import COLOR_TERMS, PROTOTYPES
from .scenes import POSITION_PHRASES, POSITIONS, SceneSpec, render_specs, sample_spec
from .shapes import SHAPES


def _unit(x: torch.Tensor) -> torch.Tensor:
    return F.normalize(x.float(), dim=-1)


#: The editor's patch view (crop side as a fraction of the canvas, perspective
#: strength): the edit settings' defaults (0.8 and 0.3).
EDIT_VIEW = (EditSettings.crop_ratio, EditSettings.distortion)


@torch.no_grad()
def image_features(
    encoder, specs: Sequence[SceneSpec], batch: int = 64, view: tuple[float, float] | None = None
) -> torch.Tensor:
    """(N, D) unit image features of the specs rendered at the encoder's input size;
    with ``view`` (crop ratio, distortion), each seen through one random patch warp of
    the editor's (:func:`clipvg.augment.sample_patches`, seed 0)."""
    size = encoder.image_size
    images = render_specs(list(specs), size)
    if view is not None:
        gen = torch.Generator().manual_seed(0)
        images = torch.cat(
            [sample_patches(im, (0, 0, size, size), 1, size, *view, gen) for im in images]
        )
    else:
        images = images.permute(0, 3, 1, 2)
    return torch.cat(
        [_unit(encoder.encode_image(images[i : i + batch])) for i in range(0, len(images), batch)]
    )


@torch.no_grad()
def text_features(encoder, texts: Sequence[str]) -> torch.Tensor:
    """(N, D) unit text features."""
    return _unit(encoder.encode_text(list(texts)))


@torch.no_grad()
def zero_shot(
    encoder, count: int = 300, seed: int = 1000, view: tuple[float, float] | None = None
) -> dict[str, float]:
    """Zero-shot accuracy on held-out single-object scenes (drawn from ``seed``, which
    training does not use): the colour among 11 terms (captions with the true shape),
    the shape among 6 (with the true colour), the position among 5 (true colour and
    shape), and the joint colour x shape among 66. ``view``: each scene seen through
    one of the editor's patch warps instead (:func:`image_features`; e.g.
    :data:`EDIT_VIEW`), as the patch augmentation shows it to the encoder.

    Returns:
        ``{"color": ..., "shape": ..., "position": ..., "joint": ...}``, fractions in [0, 1].
    """
    rng = np.random.default_rng(seed)
    specs = [sample_spec(rng, count=1) for _ in range(count)]
    feats = image_features(encoder, specs, view=view)
    pairs = [(c, s) for c in COLOR_TERMS for s in SHAPES]
    pair_feats = text_features(encoder, [phrase(c, s) for c, s in pairs])
    pos_texts = [f"{phrase(c, s)} {POSITION_PHRASES[p]}" for c, s in pairs for p in POSITIONS]
    pos_feats = text_features(encoder, pos_texts).view(len(pairs), len(POSITIONS), -1)
    hits = {"color": 0, "shape": 0, "position": 0, "joint": 0}
    for f, spec in zip(feats, specs):
        o = spec.objects[0]
        scores = (pair_feats @ f).view(len(COLOR_TERMS), len(SHAPES))
        ci, si = COLOR_TERMS.index(o.color), SHAPES.index(o.shape)
        hits["color"] += int(scores[:, si].argmax() == ci)
        hits["shape"] += int(scores[ci].argmax() == si)
        hits["joint"] += int(scores.argmax() == ci * len(SHAPES) + si)
        pf = pos_feats[ci * len(SHAPES) + si] @ f
        hits["position"] += int(POSITIONS[int(pf.argmax())] == o.position)
    return {k: v / count for k, v in hits.items()}


@torch.no_grad()
def binding(encoder, count: int = 300, seed: int = 1000) -> float:
    """How often the caption naming the background beats the same caption with the
    object's and the background's colour words swapped ("a red star on a white
    background" against "a white star on a red background"), on held-out single-object
    scenes: 0.5 for a bag of colour words, 1.0 when each word is bound to its noun.

    Returns:
        The fraction in [0, 1].
    """
    rng = np.random.default_rng(seed)
    specs = [sample_spec(rng, count=1) for _ in range(count)]
    feats = image_features(encoder, specs)
    texts = []
    for spec in specs:
        o, bg = spec.objects[0], spec.background
        texts += [
            phrase(o.color, o.shape, bg),
            phrase(bg, o.shape, o.color),
        ]
    t = text_features(encoder, texts).view(count, 2, -1)
    scores = torch.einsum("nd,nkd->nk", feats, t)
    return float((scores[:, 0] > scores[:, 1]).float().mean())


#: Recolours the audit checks: the edit grid's first 12 (shape, from, to), on white.
AUDIT_RECOLOURS = RECOLOURS[:12]


def _audit_changes(shape: str, source: str, target: str) -> dict[str, SceneSpec]:
    """The start scene ("start") and the changes an edit of it could make."""
    white = np.array(PROTOTYPES["white"])
    start = _centre_spec(shape, source, PROTOTYPES[source])
    done = start.with_object(0, color=target, rgb=PROTOTYPES[target])
    other = next(c for c in ("brown", "gray", "black") if c not in (source, target))
    tint = tuple(float(v) for v in 0.7 * white + 0.3 * np.array(PROTOTYPES[target]))
    half = 0.5 * np.array(PROTOTYPES[source]) + 0.5 * np.array(PROTOTYPES[target])
    return {
        "start": start,
        "target": done,
        "halfway": start.with_object(0, rgb=tuple(float(v) for v in half)),
        "background tinted": SceneSpec("white", tint, start.objects),
        "object white": start.with_object(0, rgb=(0.9, 0.9, 0.9)),
        "another colour": start.with_object(0, rgb=PROTOTYPES[other]),
    }


@torch.no_grad()
def direction_audit(encoder, texts, recolours=AUDIT_RECOLOURS) -> dict[str, float]:
    """What the directional loss rewards in a recolour: for each change an edit could
    make to a centred object on white (the full recolour, halfway, the background
    tinted 30 % toward the target, the object turned white, another colour), the mean
    cos(dI, dT) of its image direction to the text direction between "a <to> <shape>
    on a white background" and the source prompt, the editor's template-averaged text
    features (``texts``, a :class:`clipvg.clip.TextFeatureCache`); and ``target best``,
    the share of recolours where the full recolour scores highest.

    Returns:
        ``{change: mean cosine in [-1, 1], ..., "target best": fraction}``.
    """
    rows = []
    for shape, source, target in recolours:
        changes = _audit_changes(shape, source, target)
        feats = image_features(encoder, list(changes.values()))
        dt = F.normalize(
            text_direction(
                texts.features(phrase(target, shape, "white")),
                texts.features(phrase(source, shape, "white")),
            ),
            dim=0,
        )
        rows.append((F.normalize(feats[1:] - feats[0], dim=-1) @ dt).tolist())
    table = np.array(rows)
    names = list(changes)[1:]
    out = {name: float(v) for name, v in zip(names, table.mean(0))}
    out["target best"] = float((table[:, 0] >= table.max(1)).mean())
    return out


def _centre_spec(shape: str, color: str, rgb, background: str = "white") -> SceneSpec:
    from .scenes import ObjectSpec

    obj = ObjectSpec(shape, color, tuple(float(v) for v in rgb), 0.5, 0.5, 0.28)
    return SceneSpec(background, PROTOTYPES[background], (obj,))


@torch.no_grad()
def color_path(
    encoder, start: str = "red", end: str = "blue", shape: str = "star", steps: int = 9
) -> list[float]:
    """Along a straight sRGB path from ``start``'s prototype to ``end``'s, the margin
    cos(image, "a <end> <shape>") - cos(image, "a <start> <shape>") of each render."""
    a, b = np.array(PROTOTYPES[start]), np.array(PROTOTYPES[end])
    specs = [_centre_spec(shape, start, (1 - t) * a + t * b) for t in np.linspace(0, 1, steps)]
    feats = image_features(encoder, specs)
    texts = text_features(encoder, [phrase(start, shape), phrase(end, shape)])
    return (feats @ texts[1] - feats @ texts[0]).tolist()


@torch.no_grad()
def shape_morph(
    encoder, start: str = "circle", end: str = "square", color: str = "red", steps: int = 9
) -> list[float]:
    """Along a point-by-point morph from ``start`` to ``end``, the margin
    cos(image, "a <color> <end>") - cos(image, "a <color> <start>") of each render."""
    from ..render import render
    from ..scene import Scene
    from .scenes import build_scene
    from .shapes import morph

    size = encoder.image_size
    base = build_scene(_centre_spec(start, color, PROTOTYPES[color]), size)
    images = []
    for t in np.linspace(0, 1, steps):
        contour = morph(start, end, float(t))[0] * (0.28 * size) + size / 2
        pts = base.points.clone()
        pts[12:] = torch.from_numpy(contour).float()
        scene = Scene(
            size, size, pts, base.colors, base.contour_sizes, base.contour_path, base.evenodd
        )
        images.append(render(scene, size, size))
    feats = _unit(encoder.encode_image(torch.stack(images).permute(0, 3, 1, 2)))
    texts = text_features(encoder, [phrase(color, start), phrase(color, end)])
    return (feats @ texts[1] - feats @ texts[0]).tolist()


def monotonic(values: Sequence[float], slack: float = 0.0) -> bool:
    """True when ``values`` never fall by more than ``slack`` from one step to the next."""
    return all(b >= a - slack for a, b in zip(values, values[1:]))

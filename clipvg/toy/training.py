"""Training objectives of the toy CLIP beyond open_clip's own (options of
``benchmarks/semantic/train_toy_clip.py``). The shipped weights' stage 2 uses
:func:`direction_sets` and :func:`direction_loss` with the binding hinge; the rest are
experiments that are not in its recipe.

- :func:`pixel_attack`: adversarial training on renders perturbed within an L-inf ball;
- :func:`edit_attack_triplets`: adversarial training against the edit itself
  (:mod:`clipvg.toy.attacks`): a scene, its true recolour and what an edit toward that
  recolour leaves, each captioned truthfully;
- :func:`soft_targets` and :func:`soft_clip_loss`: contrastive targets weighted by
  colour distance instead of one-hot;
- :func:`path_points` and :func:`path_loss`: the edit's own directional loss along
  paths from a scene to a recolour or a reshape of it, so that the first steps toward
  a named change already read as that change;
- :func:`direction_sets` and :func:`direction_loss`: a contrastive loss on directions,
  so that an image's change toward an object's new colour, toward the background's
  new colour and toward an object's new shape are told apart by their text shifts;
- :func:`patch_views`: renders seen as the editor's patch augmentation shows them (a
  random square crop with a random perspective, white outside the image), so that the
  toy reads a patch as it reads the scene, as CLIP, trained on random crops, does.

Images here are normalized as open_clip normalizes them (:data:`MEAN`, :data:`STD`).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from open_clip.constants import OPENAI_DATASET_MEAN as MEAN
from open_clip.constants import OPENAI_DATASET_STD as STD
from open_clip.loss import ClipLoss

from ..augment import apply_grid, sample_warps, warp_grid
from ..losses import directional_loss, text_direction
from .attacks import attack, attack_directions, seen_spec
from .pairs import contrast_set, rebackgrounded, recoloured
from .palette import to_lab
from .scenes import POSITION_PHRASES, caption, render_specs
from .shapes import SHAPES

__all__ = [
    "MEAN",
    "STD",
    "direction_loss",
    "direction_sets",
    "edit_attack_triplets",
    "path_loss",
    "patch_views",
    "path_points",
    "pixel_attack",
    "soft_clip_loss",
    "soft_targets",
]


def pixel_attack(
    model,
    loss_fn,
    x: torch.Tensor,
    tokens: torch.Tensor,
    eps: torch.Tensor,
    steps: int,
    gen: torch.Generator,
    lo: torch.Tensor,
    hi: torch.Tensor,
) -> torch.Tensor:
    """The batch perturbed to raise the contrastive loss (PGD from a random start in the
    L-inf ball; one step is fast adversarial training's FGSM-RS), ``x`` normalized
    (B, 3, H, W), ``eps`` the radius per channel in normalized units (1, 3, 1, 1),
    ``lo``/``hi`` the normalized values of pixel 0 and 1 (the result stays a picture).
    The captions are the batch's own: a perturbation this small keeps every colour's
    term, so they stay true. Text features are fixed during the attack."""
    with torch.no_grad():
        txt_f = model.encode_text(tokens, normalize=True)
    scale = model.logit_scale.exp().detach()
    delta = (torch.rand(x.shape, generator=gen) * 2 - 1) * eps
    step = 1.25 * eps if steps == 1 else 2.5 * eps / steps
    for _ in range(steps):
        delta.requires_grad_(True)
        loss = loss_fn(model.encode_image(x + delta, normalize=True), txt_f, scale)
        (grad,) = torch.autograd.grad(loss, delta)
        delta = torch.maximum(torch.minimum(delta.detach() + step * grad.sign(), eps), -eps)
    return torch.maximum(torch.minimum(x + delta, hi), lo).detach()


def patch_views(
    images: list[torch.Tensor],
    share: float,
    gen: torch.Generator,
    min_crop: float = 0.6,
    distortion: float = 0.3,
) -> list[torch.Tensor]:
    """The editor's patch views of ``share`` of the rows of ``images`` (tensors of equal
    shape (N, 3, S, S) in [0, 1]; row i of each is seen through one warp, as the
    directional loss sees a render and its source through the same patch): a square
    crop of side uniform in [``min_crop``, 1] of the canvas with a random perspective of
    strength ``distortion`` (clipvg.augment, as in an edit), white outside the canvas.
    The other rows are kept. Returns new tensors of the same shape."""
    n, _, size, _ = images[0].shape
    pick = torch.rand(n, generator=gen) < share
    rows = pick.nonzero().flatten().tolist()
    out = [x.clone() for x in images]
    if not rows:
        return out
    warps = sample_warps((0, 0, size, size), len(rows), 1.0, distortion, gen, min_ratio=min_crop)
    grid, inside = warp_grid(warps, size, (size, size))
    for j, i in enumerate(rows):
        for x, y in zip(images, out):
            y[i] = apply_grid(x[i].permute(1, 2, 0), grid[j : j + 1], inside[j : j + 1])[0]
    return out


def _captions(specs: list, templates: list[int], named: list) -> list[str]:
    """Each spec captioned from its own template's generator state (``named``: each
    one's ``background`` argument of :func:`~clipvg.toy.scenes.caption`)."""
    return [
        caption(s, np.random.default_rng(t), background=b)
        for s, t, b in zip(specs, templates, named)
    ]


def _encode_renders(model, x: torch.Tensor) -> torch.Tensor:
    """Unit image features of renders ``x`` (N, 3, H, W) in [0, 1], normalized as
    open_clip normalizes them."""
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in (MEAN, STD))
    return model.encode_image((x - mean) / std, normalize=True)


def edit_attack_triplets(
    model, tokenizer, picks: list, seed: int, steps: int, step_size: float, size: int
) -> tuple[torch.Tensor, list[str]]:
    """For each picked scene: the scene, one object truly recoloured to a new term, and
    the scene as an edit toward that recolour leaves it (clipvg.toy.attacks, against the
    model as it now is), each captioned truthfully with the background named, from one
    template per triplet. Returns (3N, 3, size, size) renders in [0, 1] and the 3N
    captions."""
    rng = np.random.default_rng(seed)
    sources, targets = [], []
    for spec in picks:
        target = recoloured(spec, int(rng.integers(len(spec.objects))), rng)
        if target is not None:
            sources.append(spec)
            targets.append(target)
    templates = [int(rng.integers(2**31)) for _ in sources]
    named = [True] * len(sources)

    def encode_text(texts: list[str]) -> torch.Tensor:
        return model.encode_text(tokenizer(texts), normalize=True)

    said, wanted = _captions(sources, templates, named), _captions(targets, templates, named)
    directions = attack_directions(encode_text, wanted, said)
    attacked, colors = attack(
        sources, lambda x: _encode_renders(model, x), directions, steps, step_size, size
    )
    seen = _captions([seen_spec(s, c) for s, c in zip(sources, colors)], templates, named)
    plain = render_specs(sources + targets, size).permute(0, 3, 1, 2)
    n = len(sources)
    images = torch.stack([plain[:n], plain[n:], attacked], 1).reshape(3 * n, 3, size, size)
    texts = [t for trio in zip(said, wanted, seen) for t in trio]
    return images, texts


def soft_targets(specs: list, texts: list[str], tau: float) -> torch.Tensor:
    """(B, B) how well caption j describes scene i, as weights ``exp(-d_ij / tau)``:
    d_ij the CIELAB distance between scene i's colours and scene j's (its objects', and
    its background's when caption j names it), infinite when caption j names another
    shape or, when it names them, other positions. Hard naming makes every colour of a
    term's cell the same caption, so a model trained on it may be flat within a cell
    and step at its edges; these weights ask for features that change with the colour
    itself, as CLIP's do."""
    n = len(specs)
    labs = [to_lab(np.array([*(o.rgb for o in s.objects), s.background_rgb])) for s in specs]
    d = torch.full((n, n), math.inf)
    for j, (sj, text) in enumerate(zip(specs, texts)):
        places = any(POSITION_PHRASES[o.position] in text for o in sj.objects)
        upto = len(sj.objects) + int("background" in text)
        for i, si in enumerate(specs):
            if [o.shape for o in si.objects] != [o.shape for o in sj.objects]:
                continue
            if places and [o.position for o in si.objects] != [o.position for o in sj.objects]:
                continue
            d[i, j] = float(np.linalg.norm(labs[i][:upto] - labs[j][:upto], axis=1).sum())
    return torch.exp(-d / tau)


def soft_clip_loss(
    img_f: torch.Tensor, txt_f: torch.Tensor, scale: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    """open_clip's symmetric contrastive loss with soft targets: each image's target over
    the captions is its row of ``weights`` normalized, each caption's over the images
    its column (the diagonal is 1, so a scene's own caption always counts most)."""
    logits = scale * img_f @ txt_f.T
    rows = weights / weights.sum(1, keepdim=True)
    cols = weights / weights.sum(0, keepdim=True)
    per_image = -(rows * logits.log_softmax(1)).sum(1).mean()
    per_text = -(cols * logits.log_softmax(0)).sum(0).mean()
    return (per_image + per_text) / 2


def _fraction(rng: np.random.Generator) -> float:
    """How far along its path a training point lies: ``0.02 + 0.98 u**2`` (``u``
    uniform), so most lie near the start, where an edit's first steps are taken."""
    return 0.02 + 0.98 * float(rng.random()) ** 2


def _path_renders(
    sources: list, ends: list, points: list, size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Renders of the paths' sources and points, each (N, 3, size, size) in [0, 1]. A
    point is a fraction ``a`` of a colour path, rendered as the blend ``x0 + a (x1 -
    x0)`` of its ends' renders (only fills differ, and a render is linear in its fills,
    so this is the render of the colours ``a`` of the way along the straight sRGB path),
    or the scene to render (a morph)."""
    morphs = [p for p in points if not isinstance(p, float)]
    n = len(sources)
    images = render_specs(sources + ends + morphs, size).permute(0, 3, 1, 2)
    x0, x1, rest = images[:n], images[n : 2 * n], iter(images[2 * n :])
    xa = [
        x0[i] + p * (x1[i] - x0[i]) if isinstance(p, float) else next(rest)
        for i, p in enumerate(points)
    ]
    return x0, torch.stack(xa)


def _morph_point(spec, k: int, shape: str, a: float):
    """The scene with object ``k`` morphed ``a`` of the way to ``shape``."""
    return spec.with_object(k, morph_to=shape, morph_t=a)


def path_points(
    picks: list,
    seed: int,
    size: int,
    background_share: float = 1 / 3,
    shape_share: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor, list[str], list[str]]:
    """For each picked scene, a point along a path from it to a scene of another name:
    one object recoloured to a new term (clipvg.toy.pairs.recoloured), or, for
    ``background_share`` of the picks, the background (pairs.rebackgrounded), along the
    straight sRGB path; or, for ``shape_share``, one object morphed point by point to
    another shape (clipvg.toy.shapes.morph; rings neither morph nor are morphed to).
    The point lies :func:`_fraction` of the way. Both ends are captioned from one
    template, the background named when it is what changed; picks whose draw fails are
    left out. Returns the N sources' renders and the N points' renders, each (N, 3,
    size, size) in [0, 1] (:func:`_path_renders`), and the N sources' and N ends'
    captions."""
    rng = np.random.default_rng(seed)
    sources, ends, points, named = [], [], [], []
    for spec in picks:
        u = rng.random()
        k = int(rng.integers(len(spec.objects)))
        a = _fraction(rng)
        if u < shape_share:
            shape = spec.objects[k].shape
            if shape == "ring":
                continue
            pool = [s for s in SHAPES if s not in (shape, "ring")]
            new = pool[int(rng.integers(len(pool)))]
            end, point = spec.with_object(k, shape=new), _morph_point(spec, k, new, a)
        else:
            background = u < shape_share + background_share * (1 - shape_share)
            end = rebackgrounded(spec, rng) if background else recoloured(spec, k, rng)
            if end is None:
                continue
            point = a
        sources.append(spec)
        ends.append(end)
        points.append(point)
        named.append(True if end.background != spec.background else None)
    templates = [int(rng.integers(2**31)) for _ in sources]
    x0, xa = _path_renders(sources, ends, points, size)
    return x0, xa, _captions(sources, templates, named), _captions(ends, templates, named)


def path_loss(
    model, tokenizer, x0: torch.Tensor, xa: torch.Tensor, said: list[str], wanted: list[str]
) -> torch.Tensor:
    """The edit's directional loss (clipvg.losses.directional_loss, with its floor)
    between each source render ``x0`` and its path point ``xa`` (both (N, 3, H, W) in
    [0, 1]; :func:`path_points`), toward the text shift from its caption ``said`` to
    its end's ``wanted``. Returns the mean, a scalar in [0, 2]."""
    (f0, fa), d_txt = _shifts(model, tokenizer, x0, xa, said, wanted)
    return directional_loss(fa, f0, d_txt).mean()


def _shifts(model, tokenizer, x0, xa, said, wanted):
    """((unit features of x0, of xa), text shift from ``said`` to ``wanted``)."""
    n = x0.shape[0]
    img = _encode_renders(model, torch.cat([x0, xa]))
    txt = F.normalize(model.encode_text(tokenizer(said + wanted)), dim=-1)
    return (img[:n], img[n:]), text_direction(txt[n:], txt[:n])


def direction_sets(
    picks: list, seed: int, size: int
) -> tuple[torch.Tensor, torch.Tensor, list[str], list[str], list[str]]:
    """For each picked scene, its contrast set (clipvg.toy.pairs.contrast_set: one
    object recoloured to a new term, the background changed to that term instead, the
    object reshaped) as three paths from the scene, each taken the same
    :func:`_fraction` of the way: the two colour paths straight in sRGB, the shape
    morphed point by point (left out where a ring is involved). All captions of a set
    come from one template naming the background. Returns the sources' and the path
    points' renders, each (M, 3, size, size) in [0, 1] (M paths, a source repeated for
    each of its paths), the M sources' and M ends' captions, and each path's kind
    ("colour", "background", "shape"; a set's paths in this order)."""
    rng = np.random.default_rng(seed)
    sources, ends, points, templates, kinds = [], [], [], [], []
    for spec in picks:
        group = contrast_set(spec, rng)
        if group is None:
            continue
        a, template = _fraction(rng), int(rng.integers(2**31))
        _, recolour, background, reshaped = group
        k = next(i for i, (o, r) in enumerate(zip(spec.objects, reshaped.objects)) if o != r)
        shape = reshaped.objects[k].shape
        paths = [("colour", recolour, a), ("background", background, a)]
        if "ring" not in (shape, spec.objects[k].shape):
            paths.append(("shape", reshaped, _morph_point(spec, k, shape, a)))
        for kind, end, point in paths:
            sources.append(spec)
            ends.append(end)
            points.append(point)
            templates.append(template)
            kinds.append(kind)
    named = [True] * len(sources)
    x0, xa = _path_renders(sources, ends, points, size)
    said, wanted = _captions(sources, templates, named), _captions(ends, templates, named)
    return x0, xa, said, wanted, kinds


def direction_loss(
    model,
    tokenizer,
    x0: torch.Tensor,
    xa: torch.Tensor,
    said: list[str],
    wanted: list[str],
    scale: torch.Tensor,
    kinds: list[str] | None = None,
    binding: float = 0.0,
    margin: float = 0.0,
) -> torch.Tensor:
    """open_clip's contrastive loss on directions instead of features: each image shift
    (the unit direction from ``x0``'s features to ``xa``'s, (M, 3, H, W) in [0, 1];
    :func:`direction_sets`) is matched to its own text shift (``said`` to ``wanted``)
    against every other path's of the batch, a recolour's against its set's tinted
    background and reshape among them, at the logit ``scale``. With ``binding`` > 0
    (and the paths' ``kinds``), plus ``binding`` times the mean hinge ``relu(cos +
    margin)`` of each set's background shift against its recolour's text shift and of
    its recolour against the background's text shift: tinting the background toward a
    colour then does not read as the object taking it, which is what an edit's first
    gradient on the background's fill follows. A scalar."""
    (f0, fa), d_txt = _shifts(model, tokenizer, x0, xa, said, wanted)
    d_img, d_txt = F.normalize(fa - f0, dim=-1), F.normalize(d_txt, dim=-1)
    loss = ClipLoss()(d_img, d_txt, scale)
    if binding > 0:
        obj = torch.tensor([i for i, k in enumerate(kinds) if k == "colour"])
        bg = obj + 1  # a set's background path follows its recolour
        cross = torch.cat([(d_img[bg] * d_txt[obj]).sum(-1), (d_img[obj] * d_txt[bg]).sum(-1)])
        loss = loss + binding * F.relu(cross + margin).mean()
    return loss

"""Training objectives of the toy CLIP beyond open_clip's own (experiments of
``benchmarks/semantic/train_toy_clip.py``; none is in the shipped weights' recipe).

- :func:`pixel_attack`: adversarial training on renders perturbed within an L-inf ball;
- :func:`edit_attack_triplets`: adversarial training against the edit itself
  (:mod:`clipvg.toy.attacks`): a scene, its true recolour and what an edit toward that
  recolour leaves, each captioned truthfully;
- :func:`soft_targets` and :func:`soft_clip_loss`: contrastive targets weighted by
  colour distance instead of one-hot.

Images here are normalized as open_clip normalizes them (:data:`MEAN`, :data:`STD`).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from open_clip.constants import OPENAI_DATASET_MEAN as MEAN
from open_clip.constants import OPENAI_DATASET_STD as STD

from .attacks import attack, attack_directions, seen_spec
from .pairs import recoloured
from .palette import to_lab
from .scenes import POSITION_PHRASES, caption, render_specs

__all__ = ["MEAN", "STD", "edit_attack_triplets", "pixel_attack", "soft_clip_loss", "soft_targets"]


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

    def captions(specs: list) -> list[str]:
        return [
            caption(s, np.random.default_rng(t), background=True) for s, t in zip(specs, templates)
        ]

    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in (MEAN, STD))

    def encode_text(texts: list[str]) -> torch.Tensor:
        return model.encode_text(tokenizer(texts), normalize=True)

    def encode_image(x: torch.Tensor) -> torch.Tensor:
        return model.encode_image((x - mean) / std, normalize=True)

    said, wanted = captions(sources), captions(targets)
    directions = attack_directions(encode_text, wanted, said)
    attacked, colors = attack(sources, encode_image, directions, steps, step_size, size)
    seen = captions([seen_spec(s, c) for s, c in zip(sources, colors)])
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

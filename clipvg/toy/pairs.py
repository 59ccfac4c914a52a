"""Minimal pairs for training the toy CLIP: two scenes that differ in one named attribute.

Trained on scenes that differ in everything at once, a small CLIP tells captions apart
by colour alone (a bag of colour words: "a yellow circle on a white background" then
matches a white circle on yellow as well as the reverse, and shape is never needed).
A minimal pair puts the scene and its partner in one batch, captioned from the same
template, so that only the changed attribute tells the two captions apart:

- ``shape``: one object's shape;
- ``color``: one object's colour term;
- ``background``: the background's term (both captions then name the background);
- ``swap``: one object's colour and the background's exchanged (which word belongs to
  the object, which to the background).

:func:`translucent` makes the edit's own drift part of the training distribution:
objects whose fill is slightly transparent, named by the colour the judge would see.
All randomness comes from an explicit ``numpy.random.Generator``.
"""

from __future__ import annotations

import numpy as np

from .palette import COLOR_TERMS, nearest_term, to_lab
from .scenes import MIN_CONTRAST, SceneSpec, contrasting_color
from .shapes import SHAPES

#: The kinds of minimal pair and how often each is drawn.
KINDS: dict[str, float] = {"shape": 0.4, "color": 0.2, "background": 0.2, "swap": 0.2}


def _contrast(a, b) -> float:
    return float(np.linalg.norm(to_lab(np.asarray(a)) - to_lab(np.asarray(b))))


def _colour_near(term: str, others: list, rng: np.random.Generator):
    """A colour around ``term`` at least MIN_CONTRAST from every colour in ``others``
    (None when 50 draws fail)."""
    rgb, found = contrasting_color(term, others, rng)
    return tuple(float(v) for v in rgb) if found else None


def _new_term(spec: SceneSpec, rng: np.random.Generator) -> str:
    """A colour term the scene does not use (for an object or the background)."""
    used = {o.color for o in spec.objects} | {spec.background}
    pool = [t for t in COLOR_TERMS if t not in used]
    return pool[int(rng.integers(len(pool)))]


def _reshaped(spec: SceneSpec, k: int, rng: np.random.Generator) -> SceneSpec:
    """The scene with object ``k`` given another shape (circles unrotated)."""
    obj = spec.objects[k]
    new = [s for s in SHAPES if s != obj.shape]
    shape = new[int(rng.integers(len(new)))]
    return spec.with_object(k, shape=shape, angle=0.0 if shape == "circle" else obj.angle)


def recoloured(spec: SceneSpec, k: int, rng: np.random.Generator) -> SceneSpec | None:
    """The scene with object ``k`` given a colour term the scene does not use (a colour
    around it with contrast to the background); None when 50 draws fail."""
    term = _new_term(spec, rng)
    rgb = _colour_near(term, [spec.background_rgb], rng)
    return None if rgb is None else spec.with_object(k, color=term, rgb=rgb)


def rebackgrounded(spec: SceneSpec, rng: np.random.Generator) -> SceneSpec | None:
    """The scene on a background of a term it does not use (a colour around it with
    contrast to every object); None when 50 draws fail."""
    term = _new_term(spec, rng)
    rgb = _colour_near(term, [o.rgb for o in spec.objects], rng)
    return None if rgb is None else SceneSpec(term, rgb, spec.objects)


def partner(spec: SceneSpec, rng: np.random.Generator) -> tuple[SceneSpec, str]:
    """A scene that differs from ``spec`` in one attribute, and the attribute's kind
    (see the module docstring). Falls back to ``shape`` when a colour change would leave
    too little contrast."""
    kind = str(rng.choice(list(KINDS), p=list(KINDS.values())))
    k = int(rng.integers(len(spec.objects)))
    obj = spec.objects[k]
    others = [o.rgb for i, o in enumerate(spec.objects) if i != k]
    if kind == "color":
        other = recoloured(spec, k, rng)
        if other is not None:
            return other, kind
    elif kind == "background":
        other = rebackgrounded(spec, rng)
        if other is not None:
            return other, kind
    elif kind == "swap":
        if all(_contrast(o, obj.rgb) >= MIN_CONTRAST for o in others):
            swapped = spec.with_object(k, color=spec.background, rgb=spec.background_rgb)
            return SceneSpec(obj.color, obj.rgb, swapped.objects), kind
    return _reshaped(spec, k, rng), "shape"


def contrast_set(spec: SceneSpec, rng: np.random.Generator) -> list[SceneSpec] | None:
    """Four scenes that tell apart what an edit confuses: ``spec``; one object's colour
    changed to a new term; the background changed to that same term instead; the
    object's shape changed. So "a blue star on a white background" meets "a red star on
    a blue background" (the recolour that tints the background) and "a red circle on a
    white background" in one batch. None when the new term leaves too little contrast.
    """
    k = int(rng.integers(len(spec.objects)))
    term = _new_term(spec, rng)
    rgb = _colour_near(term, [spec.background_rgb], rng)
    bg_rgb = _colour_near(term, [o.rgb for o in spec.objects], rng)
    if rgb is None or bg_rgb is None:
        return None
    return [
        spec,
        spec.with_object(k, color=term, rgb=rgb),
        SceneSpec(term, bg_rgb, spec.objects),
        _reshaped(spec, k, rng),
    ]


def translucent(
    specs: list[SceneSpec], rng: np.random.Generator, low: float = 0.6
) -> list[SceneSpec]:
    """The scenes with one alpha in [``low``, 1] for every object (the same alpha for
    the same object in each scene), kept only where every object's colour composited
    over its background keeps its term and its contrast; otherwise the scenes as given."""
    alpha = float(rng.uniform(low, 1.0))
    out = []
    for spec in specs:
        bg = np.asarray(spec.background_rgb)
        for o in spec.objects:
            seen = alpha * np.asarray(o.rgb) + (1 - alpha) * bg
            if nearest_term(seen) != o.color or _contrast(seen, bg) < MIN_CONTRAST:
                return specs
        out.append(spec)
    for i in range(len(out[0].objects)):
        out = [s.with_object(i, alpha=alpha) for s in out]
    return out

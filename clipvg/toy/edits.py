"""Edits with a known answer: toy scenes, a prompt, and the judge's verdict.

An :class:`EditCase` is a toy scene, what to ask for, and what the judge must see
afterwards. :func:`run_case` runs it through the library's public entry point
(:func:`clipvg.edit.run_edit`) with any encoder (``clipvg-toy`` in the benchmark and
tests), judges the render every ``check_every`` iterations, stops at the first
success, and records the guide's own view (the encoder's cosine to the target and
source prompts, template-averaged as the editor computes them) before and after.

The three uses:

- ``recolour``: one object, ``--lock shape``, "a red star" -> "a blue star"; success:
  the object's colour term is the target's, its shape and the background's term stay;
- ``reshape``: one object, ``--lock color``, "a red circle" -> "a red square"; success:
  the shape class is the target's and the colour term stays;
- ``regions``: two objects, one box and prompt each under ``--edit-only``; success:
  both objects right and no pixel outside the boxes (grown by the feather) changed.

``picture`` cases start from a PNG of the scene, vectorized by the editor.
:func:`fixed_floor` runs edits with an absolute floor of the directional loss instead
of the library's relative one (an ablation: at the old absolute 0.01 the toy's edits
stall after a tiny change; see :mod:`clipvg.losses`).
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..clip import TextFeatureCache
from ..config import EditSettings
from ..io import write_png
from ..losses import text_direction
from ..metrics import roi_crops
from ..render import render
from ..svg import save_svg
from .judge import judge, nearest_lab_term
from .model import TOY_MODEL
from .palette import PROTOTYPES, to_lab
from .scenes import ObjectSpec, SceneSpec, article, build_scene

#: Canvas side of the edited scenes, in pixels (the editor renders at the canvas size).
CANVAS = 128

#: The edit grid's recolours (benchmarks/semantic.py): (shape, from, to), on white.
RECOLOURS = (
    ("star", "red", "blue"),
    ("circle", "blue", "yellow"),
    ("square", "green", "red"),
    ("triangle", "yellow", "purple"),
    ("heart", "orange", "green"),
    ("ring", "purple", "orange"),
    ("star", "pink", "green"),
    ("circle", "red", "green"),
    ("square", "blue", "pink"),
    ("triangle", "black", "yellow"),
    ("heart", "red", "blue"),
    ("ring", "green", "blue"),
    ("star", "yellow", "red"),
    ("circle", "gray", "orange"),
    ("square", "orange", "blue"),
    ("triangle", "blue", "red"),
    ("heart", "purple", "yellow"),
    ("ring", "brown", "pink"),
    ("star", "green", "purple"),
    ("circle", "pink", "blue"),
    ("square", "yellow", "black"),
    ("triangle", "red", "green"),
    ("heart", "blue", "orange"),
    ("ring", "red", "yellow"),
)


@dataclass(frozen=True)
class Target:
    """What object ``index`` of the scene must look like afterwards."""

    index: int
    color: str
    shape: str


@dataclass
class EditCase:
    """One edit with a known answer.

    ``rois``: (object index, prompt) pairs, one box (the object's) and prompt each;
    ``source_prompts``: what the guide compares against, per target (the editor's own
    ``source_prompt`` is ``source_prompt``); ``settings``: EditSettings overrides;
    ``hold``: paths whose fill (alpha too) is put back after every iteration, a
    diagnosis only (how far the edit gets when, say, the background cannot drift).
    """

    name: str
    use: str
    spec: SceneSpec
    prompt: str
    source_prompt: str
    targets: tuple[Target, ...]
    rois: tuple[tuple[int, str], ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)
    picture: bool = False
    variant: str = "default"
    canvas: int = CANVAS
    hold: tuple[int, ...] = ()


def phrase(color: str, shape: str, background: str | None = None) -> str:
    """``"a red star"``, or with ``background`` ``"a red star on a white background"``
    (as the generator captions scenes)."""
    text = f"{article(color)} {color} {shape}"
    return f"{text} {on_background(background)}" if background else text


def on_background(background: str) -> str:
    return f"on {article(background)} {background} background"


def single(shape: str, color: str, background: str = "white") -> SceneSpec:
    """One object in the centre, filling a good part of the canvas, in prototype colours."""
    obj = ObjectSpec(shape, color, PROTOTYPES[color], 0.5, 0.5, 0.3)
    return SceneSpec(background, PROTOTYPES[background], (obj,))


def pair(left: tuple[str, str], right: tuple[str, str], background: str = "white") -> SceneSpec:
    """(shape, colour) on the left and on the right."""
    objs = tuple(
        ObjectSpec(s, c, PROTOTYPES[c], x, 0.5, 0.18) for (s, c), x in ((left, 0.25), (right, 0.75))
    )
    return SceneSpec(background, PROTOTYPES[background], objs)


def recolour_case(
    shape: str,
    source: str,
    target: str,
    background: str = "white",
    name_background: bool = True,
    **settings,
) -> EditCase:
    """One centred object recoloured, ``--lock shape``. ``name_background``: the prompts
    name the background ("a blue star on a white background"), so that the guide is
    asked to keep it."""
    named = background if name_background else None
    return EditCase(
        f"{source} {shape} -> {target}",
        "recolour",
        single(shape, source, background),
        phrase(target, shape, named),
        phrase(source, shape, named),
        (Target(0, target, shape),),
        settings={"lock": ["shape"], **settings},
    )


def reshape_case(
    source: str,
    target: str,
    color: str = "red",
    background: str = "white",
    name_background: bool = True,
    **settings,
) -> EditCase:
    """One centred object reshaped, ``--lock color`` (``name_background`` as for
    :func:`recolour_case`)."""
    named = background if name_background else None
    return EditCase(
        f"{color} {source} -> {target}",
        "reshape",
        single(source, color, background),
        phrase(color, target, named),
        phrase(color, source, named),
        (Target(0, color, target),),
        settings={"lock": ["color"], **settings},
    )


def regions_case(
    left: tuple[str, str, str],
    right: tuple[str, str, str],
    per_region: bool = True,
    **settings,
) -> EditCase:
    """Two objects, each recoloured: ``(shape, colour, new colour)`` on either side.

    ``per_region``: one box and prompt each under ``--edit-only`` (else the
    whole-image prompt alone)."""
    spec = pair(left[:2], right[:2])
    bg = spec.background
    new = [phrase(c, s) for s, _, c in (left, right)]
    old = [phrase(c, s) for s, c, _ in (left, right)]
    case = EditCase(
        f"{old[0]}+{old[1]} -> {left[2]}+{right[2]}",
        "regions",
        spec,
        f"{new[0]} on the left and {new[1]} on the right {on_background(bg)}",
        f"{old[0]} on the left and {old[1]} on the right {on_background(bg)}",
        (Target(0, left[2], left[0]), Target(1, right[2], right[0])),
        rois=tuple((i, f"{new[i]} {on_background(bg)}") for i in range(2)) if per_region else (),
        settings={"lock": ["shape"], "edit_only": per_region, **settings},
        variant="per-region" if per_region else "whole-prompt",
    )
    return case


def _object_box(obj: ObjectSpec, size: float) -> tuple[float, float, float, float]:
    x, y, w, h = obj.box
    return (x * size, y * size, w * size, h * size)


def verdict(
    case: EditCase, image: torch.Tensor, initial: torch.Tensor, feather: float
) -> dict[str, Any]:
    """The judge's view of ``image`` (an (S, S, 3) render of the canvas) against the case."""
    size = image.shape[0]
    parts, right = [], True
    for t in case.targets:
        obj = case.spec.objects[t.index]
        v = judge(image, _object_box(obj, size))
        ok = v.color == t.color and v.shape == t.shape
        if case.use == "recolour":
            ok = ok and nearest_lab_term(to_lab(np.array(v.background_rgb))) == case.spec.background
        parts.append(f"{v.color} {v.shape}")
        right = right and ok
    outside_same = None
    if case.use == "regions":
        inside = torch.zeros(size, size, dtype=torch.bool)
        grow = feather * size / case.canvas + 1
        for i, _ in case.rois or [(t.index, "") for t in case.targets]:
            x, y, w, h = _object_box(case.spec.objects[i], size)
            inside[
                max(0, int(y - grow)) : int(y + h + grow) + 1,
                max(0, int(x - grow)) : int(x + w + grow) + 1,
            ] = True
        diff = (image - initial).abs().amax(-1)
        outside_same = bool((diff[~inside] <= 1 / 255).all())
    success = right and (outside_same is not False)
    return {
        "success": success,
        "right": right,
        "outside_same": outside_same,
        "seen": ", ".join(parts),
    }


def _guide_boxes(case: EditCase, size: int) -> list[tuple[float, float, float, float]]:
    if case.use == "regions":
        return [_object_box(case.spec.objects[t.index], size) for t in case.targets]
    return [(0.0, 0.0, float(size), float(size))]


def _guide_texts(case: EditCase) -> tuple[list[str], list[str]]:
    if case.use == "regions":
        objs, bg = case.spec.objects, case.spec.background
        return (
            [phrase(t.color, t.shape, bg) for t in case.targets],
            [phrase(objs[t.index].color, objs[t.index].shape, bg) for t in case.targets],
        )
    return [case.prompt], [case.source_prompt]


def _region_features(encoder, case: EditCase, image: torch.Tensor) -> torch.Tensor:
    """(R, D) unit features of the judged regions' crops of an (S, S, 3) render."""
    crops = roi_crops(image, _guide_boxes(case, image.shape[0]), encoder.image_size)
    return F.normalize(encoder.encode_image(crops).float(), dim=-1)


def _prompt_features(
    texts: TextFeatureCache, case: EditCase, device
) -> tuple[torch.Tensor, torch.Tensor]:
    """(R, D) template-averaged features of each judged region's target and source prompt."""
    targets, sources = _guide_texts(case)
    tgt = torch.stack([texts.features(p) for p in targets]).to(device)
    src = torch.stack([texts.features(p) for p in sources]).to(device)
    return tgt, src


@torch.no_grad()
def guide_scores(
    encoder, texts: TextFeatureCache, case: EditCase, image: torch.Tensor
) -> tuple[list[float], list[float]]:
    """The guide's cosine of each judged region to its target and to its source prompt."""
    feats = _region_features(encoder, case, image)
    tgt, src = _prompt_features(texts, case, feats.device)
    return (feats * tgt).sum(-1).tolist(), (feats * src).sum(-1).tolist()


def answer(case: EditCase) -> SceneSpec:
    """The scene as a right edit leaves it: every target object in its target shape and
    the prototype of its target colour, everything else as it was."""
    spec = case.spec
    for t in case.targets:
        spec = spec.with_object(t.index, color=t.color, rgb=PROTOTYPES[t.color], shape=t.shape)
    return spec


@torch.no_grad()
def guide_objective(
    encoder, texts: TextFeatureCache, case: EditCase, image: torch.Tensor, initial: torch.Tensor
) -> float:
    """The edit's own objective as the guide sees it without augmentation: the mean over
    the judged regions of cos(dI, dT), dI from ``initial`` to ``image`` (both (S, S, 3)
    renders) in the region's crop, dT from the source to the target prompt. In [-1, 1]."""
    d_img = _region_features(encoder, case, image) - _region_features(encoder, case, initial)
    d_txt = text_direction(*_prompt_features(texts, case, d_img.device))
    return float(F.cosine_similarity(d_img, d_txt, dim=-1).mean())


def case_settings(case: EditCase, input_path: Path, iters: int, seed: int = 0) -> EditSettings:
    """The case's :class:`EditSettings` (``clipvg-toy``, fp32, on the CPU, no snapshots)."""
    rois = []
    for i, prompt in case.rois:
        x, y, w, h = _object_box(case.spec.objects[i], case.canvas)
        rois.append({"x": x, "y": y, "w": w, "h": h, "prompt": prompt})
    values: dict[str, Any] = {
        "input": str(input_path),
        "prompt": case.prompt,
        "source_prompt": case.source_prompt,
        "rois": rois,
        "iters": iters,
        "seed": seed,
        "save_every": 0,
        "precision": "fp32",
        "device": "cpu",
        "clip_model": TOY_MODEL,
        **case.settings,
    }
    if case.picture:
        values.setdefault("vectorize", {"preset": "fast"})
    return EditSettings.from_dict(values)


def write_input(case: EditCase, folder: Path) -> Path:
    """The case's scene as SVG (or, for ``picture`` cases, as a PNG render) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    scene = build_scene(case.spec, case.canvas)
    if case.picture:
        path = folder / "input.png"
        with torch.no_grad():
            write_png(render(scene, case.canvas, case.canvas), path)
        return path
    path = folder / "input.svg"
    save_svg(scene, path)
    return path


@contextmanager
def fixed_floor(floor: float | None) -> Iterator[None]:
    """Run edits with ``directional_loss(..., floor=floor)``, an absolute floor (None:
    the library's relative floor).

    An ablation only: the floor is not a setting, so the loss function is swapped in
    every loaded clipvg module that imported it, and put back afterwards.
    """
    if floor is None:
        yield
        return
    from clipvg import losses

    original = losses.directional_loss
    wide = functools.partial(original, floor=floor)
    patched = [
        m
        for name, m in list(sys.modules.items())
        if name.startswith("clipvg") and getattr(m, "directional_loss", None) is original
    ]
    for m in patched:
        m.directional_loss = wide
    try:
        yield
    finally:
        for m in patched:
            m.directional_loss = original


def run_case(
    case: EditCase,
    encoder,
    folder: str | Path,
    iters: int = 60,
    check_every: int = 5,
    seed: int = 0,
    texts: TextFeatureCache | None = None,
) -> dict[str, Any]:
    """Run one case and judge it; stops at the first check the judge calls a success
    (with ``candidates`` > 1 in the case's settings: runs them all, and the editor's
    ranking picks the one judged).

    Returns:
        A record: ``success``, ``iterations`` (to success, else the run's length),
        the guide's cosines ``guide_before``/``guide_after`` to the target (mean over the
        judged regions), ``guide_reached`` (every region nearer its target prompt than its
        source prompt, in the guide's own features), ``fooled`` (the guide reached the
        target, the judge says no), what the judge ``seen``, the seconds taken, and a
        diagnosis of failures: ``objective`` and ``objective_answer``, the guide's
        :func:`guide_objective` at the result and at the :func:`answer`, and ``stuck`` (a
        failure the guide scores below the answer: the optimizer stopped in a worse
        place, rather than the guide preferring a wrong result) and its complement
        ``past_answer`` (a failure the guide scores at least as high as the answer:
        the guide prefers a wrong result, the strict adversarial case).
    """
    from ..edit import run_edit

    folder = Path(folder)
    texts = texts or TextFeatureCache(encoder)
    settings = case_settings(case, write_input(case, folder), iters, seed)
    side = case.canvas
    initial = render(build_scene(case.spec, side), side, side).detach()
    before, _ = guide_scores(encoder, texts, case, initial)
    state: dict[str, Any] = {"success_at": None, "last": None}
    held = list(case.hold)
    # With several candidates the editor's own ranking picks the result: the judge must
    # not stop a run (and so choose) at its first success.
    ranked = settings.candidates > 1

    def check(session, iteration: int, record: dict) -> None:
        if held:
            with torch.no_grad():
                if "paint" not in state:
                    state["paint"] = build_scene(case.spec, side).colors[held].clone()
                session.scene.colors[held] = state["paint"].to(session.scene.colors)
        if iteration % check_every and iteration < iters:
            return
        with torch.no_grad():
            image = render(session.scene, side, side)
        state["last"] = verdict(case, image, initial, settings.feather)
        if state["last"]["success"] and not ranked:
            state["success_at"] = iteration
            raise KeyboardInterrupt  # stop: the judge is satisfied

    t0 = time.perf_counter()
    _, _, session = run_edit(
        settings, folder / "run", overwrite=True, encoder=encoder, callback=check, progress=False
    )
    seconds = time.perf_counter() - t0
    with torch.no_grad():
        final = render(session.scene, side, side)
    judged = verdict(case, final, initial, settings.feather)
    after, against = guide_scores(encoder, texts, case, final)
    reached = all(a > b for a, b in zip(after, against))
    right = render(build_scene(answer(case), side), side, side)
    objective = guide_objective(encoder, texts, case, final, initial)
    objective_answer = guide_objective(encoder, texts, case, right, initial)
    return {
        "name": case.name,
        "use": case.use,
        "variant": case.variant,
        "success": judged["success"],
        "right": judged["right"],
        "outside_same": judged["outside_same"],
        "seen": judged["seen"],
        "iterations": state["success_at"] or session.iteration,
        "guide_before": float(np.mean(before)),
        "guide_after": float(np.mean(after)),
        "guide_reached": reached,
        "fooled": reached and not judged["success"],
        "objective": objective,
        "objective_answer": objective_answer,
        "stuck": not judged["success"] and objective < objective_answer,
        "past_answer": not judged["success"] and objective >= objective_answer,
        "seconds": seconds,
    }

"""Edits with a learned encoder: three small clipvg-toy edits, judged analytically.

The regression test that the editor edits with a learned CLIP (clipvg.toy.edits runs
them through clipvg.edit.run_edit; the judge, clipvg.toy.judge, uses no network). At
the toy's own input size (64 px canvas), no patches, 3x the default learning rates (the
grid's, benchmarks/semantic.py) and the library's relative direction floor; each stops
at the judge's first success (checked every 5 iterations).
"""

import dataclasses
import warnings

import pytest
from encoders import MeanColorEncoder

from clipvg.clip import TextFeatureCache, load_clip
from clipvg.render import render
from clipvg.svg import load_svg
from clipvg.toy.edits import (
    answer,
    guide_objective,
    recolour_case,
    regions_case,
    run_case,
)
from clipvg.toy.model import TOY_MODEL
from clipvg.toy.palette import PROTOTYPES
from clipvg.toy.scenes import build_scene

FAST = {"patches": 0, "color_lr": 0.03, "shape_lr": 0.6}


@pytest.fixture(scope="module")
def toy():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_clip(TOY_MODEL)


CASES = {
    "recolour star": recolour_case("star", "red", "blue", **FAST),
    "recolour heart": recolour_case("heart", "orange", "green", **FAST),
    "two regions": regions_case(("star", "red", "blue"), ("circle", "yellow", "green"), **FAST),
}


@pytest.mark.parametrize("name", list(CASES))
def test_toy_edit_does_what_the_prompt_says(toy, tmp_path, name):
    case = dataclasses.replace(CASES[name], canvas=64)
    result = run_case(case, toy, tmp_path, iters=40)
    assert result["success"], result  # the judge: colour terms, shapes, nothing outside
    assert result["guide_after"] > result["guide_before"]


def test_a_held_path_keeps_its_fill(toy, tmp_path):
    """The grid's diagnosis (EditCase.hold): the background's fill is put back every step."""
    case = dataclasses.replace(CASES["recolour star"], canvas=64, hold=(0,))
    run_case(case, toy, tmp_path, iters=5, check_every=100)
    held = load_svg(tmp_path / "run" / "final.svg").colors
    free = dataclasses.replace(case, hold=())
    run_case(free, toy, tmp_path / "free", iters=5, check_every=100)
    drifted = load_svg(tmp_path / "free" / "run" / "final.svg").colors
    start = build_scene(case.spec, 64).colors
    assert (held[0] - start[0]).abs().max() <= 1 / 255
    assert (drifted[0] - start[0]).abs().max() > 2 / 255  # without holding it moves


def test_the_answer_changes_only_the_targets():
    case = CASES["two regions"]
    right = answer(case)
    assert [(o.color, o.shape) for o in right.objects] == [("blue", "star"), ("green", "circle")]
    assert right.objects[0].rgb == PROTOTYPES["blue"]
    assert right.background == case.spec.background
    assert [(o.cx, o.radius) for o in right.objects] == [
        (o.cx, o.radius) for o in case.spec.objects
    ]


def test_the_guide_objective_is_the_edits_cosine(tmp_path):
    """With the analytic mean-colour encoder: no change scores 0; the answer (red to
    blue) outscores a halfway purple, which outscores turning the star green."""
    enc = MeanColorEncoder()
    texts = TextFeatureCache(enc)
    case = dataclasses.replace(CASES["recolour star"], canvas=32)

    def score(color):
        spec = case.spec.with_object(0, rgb=color)
        image = render(build_scene(spec, 32), 32, 32)
        return guide_objective(enc, texts, case, image, initial)

    initial = render(build_scene(case.spec, 32), 32, 32)
    assert score(PROTOTYPES["red"]) == 0.0
    blue = guide_objective(enc, texts, case, render(build_scene(answer(case), 32), 32, 32), initial)
    assert blue > score((0.5, 0.0, 0.5)) > score((0.0, 0.8, 0.0))
    assert blue > 0.9  # mean colours move almost along blue - red


def test_ranked_candidates_run_to_the_end(toy, tmp_path):
    """With candidates the judge does not stop a run: the editor's ranking chooses."""
    case = dataclasses.replace(CASES["recolour star"], canvas=64)
    case.settings = {**case.settings, "candidates": 2}
    result = run_case(case, toy, tmp_path, iters=5, check_every=1)
    assert result["iterations"] == 5
    assert (tmp_path / "run" / "ranking.json").exists()
    assert {"objective", "objective_answer", "stuck", "past_answer"} <= set(result)
    # A failure is either stuck below the answer or past it; a success is neither.
    assert result["stuck"] + result["past_answer"] == (not result["success"])

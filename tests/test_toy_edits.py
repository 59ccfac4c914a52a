"""Edits with a learned encoder: three small clipvg-toy edits, judged analytically.

The regression test that the editor edits with a learned CLIP (clipvg.toy.edits runs
them through clipvg.edit.run_edit; the judge, clipvg.toy.judge, uses no network).
"""

import warnings

import pytest

from clipvg.clip import load_clip
from clipvg.toy.edits import fixed_floor, recolour_case, reshape_case, run_case
from clipvg.toy.model import TOY_MODEL

FLOOR = 0.5  # at the default floor (0.01) the toy's edits stall (benchmarks/semantic.py)
FAST = {"patches": 0, "color_lr": 0.03, "shape_lr": 0.6}  # the grid's "lr x3" settings


@pytest.fixture(scope="module")
def toy():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_clip(TOY_MODEL)


CASES = {
    "recolour star": (recolour_case("star", "red", "blue", **FAST), 40),
    "recolour heart": (recolour_case("heart", "red", "blue", **FAST), 40),
    "reshape circle": (reshape_case("circle", "square", "green", **FAST), 40),
}


@pytest.mark.parametrize("name", list(CASES))
def test_toy_edit_does_what_the_prompt_says(toy, tmp_path, name):
    case, iters = CASES[name]
    with fixed_floor(FLOOR):
        result = run_case(case, toy, tmp_path, iters=iters)
    assert result["success"], result
    assert result["guide_after"] > result["guide_before"]

"""resvg's regression tests as clipvg measures them (shared by the test and the benchmark).

Each case is ``NAME.svg`` beside resvg's reference ``NAME.png`` in
``../shared/data/resvg-tests/<group>/<feature>/``. :func:`score` loads the SVG with
:func:`clipvg.svg.load_svg`, renders it over white at the PNG's size and compares it
with the PNG over white: it passes at PSNR >= :data:`PASS_DB`. A refusal
(:class:`~clipvg.errors.ClipvgError`) fails. :func:`round_trip_db` measures
load -> save -> load: the second load's render against the first's.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT.parent / "shared" / "data" / "resvg-tests"
PASS_DB = 30.0  # render vs. reference PNG, over white
ROUND_TRIP_DB = 50.0  # second load vs. first load


@dataclass(frozen=True)
class Case:
    folder: str  # "shapes/rect"
    name: str  # "simple-case"
    svg: Path
    png: Path

    @property
    def id(self) -> str:
        return f"{self.folder}/{self.name}"


@dataclass
class Result:
    case: Case
    db: float  # PSNR against the reference; -inf when refused
    warnings: list[str] = field(default_factory=list)
    error: str | None = None  # the ClipvgError message, when refused
    round_trip_db: float | None = None

    @property
    def passed(self) -> bool:
        return self.db >= PASS_DB

    @property
    def cause(self) -> str:
        """A short label of why a failing case fails: the refusal, or what the loader
        warned about (numbers dropped so that cases group), or that it renders
        differently without a warning."""
        path = str(self.case.svg)
        if self.error is not None:
            text = self.error.replace(path, "the file").split(";")[0]
            return "refused: " + re.sub(r"\d+(\.\d+)?", "N", text)[:90]
        if self.warnings:
            text = self.warnings[0].replace(path, "the file").split(" (")[0]
            return "warned: " + re.sub(r"\d+(\.\d+)?", "N", text)[:90]
        return "renders differently, no warning"


def cases(suite: Path = SUITE) -> list[Case]:
    """Every ``.svg`` with a ``.png`` beside it, sorted by folder then name."""
    out = []
    for svg in sorted(suite.rglob("*.svg")):
        png = svg.with_suffix(".png")
        if png.exists():
            out.append(Case(str(svg.parent.relative_to(suite)), svg.stem, svg, png))
    return out


def reference(png: Path) -> np.ndarray:
    """The PNG over white: (H, W, 3) float64 in [0, 1]."""
    from PIL import Image

    rgba = Image.open(png).convert("RGBA")
    a = np.asarray(rgba, dtype=np.float64) / 255.0
    return a[..., :3] * a[..., 3:] + (1.0 - a[..., 3:])


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a - b) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)


def _render(scene, width: int, height: int, renderer: str = "clipvg") -> np.ndarray:
    """(H, W, 3) float64 over white. ``renderer="resvg"`` renders the scene's export
    with resvg instead: it measures the loader and the writer without our rasterizer."""
    import torch

    import clipvg

    if renderer == "resvg":
        import io

        import resvg_py
        from PIL import Image

        from clipvg.svg import scene_to_svg_string

        png = resvg_py.svg_to_bytes(
            svg_string=scene_to_svg_string(scene), width=width, height=height, background="#ffffff"
        )
        return np.asarray(Image.open(io.BytesIO(bytes(png))).convert("RGB"), np.float64) / 255
    with torch.no_grad():
        image = clipvg.render(scene, width, height, background="white")
    return image.double().cpu().numpy()


def score(case: Case, round_trip: bool = False, renderer: str = "clipvg") -> Result:
    """Load, render at the PNG's size over white, compare; optionally save and reload."""
    from clipvg.errors import ClipvgError
    from clipvg.svg import load_svg, parse_svg_string, scene_to_svg_string

    ref = reference(case.png)
    h, w = ref.shape[:2]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            scene = load_svg(case.svg)
        except ClipvgError as exc:
            return Result(case, -math.inf, error=str(exc))
    result = Result(case, -math.inf, warnings=[str(c.message) for c in caught])
    first = _render(scene, w, h, renderer)
    result.db = psnr(first, ref)
    if round_trip:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the same warnings again, or fewer
            again = parse_svg_string(scene_to_svg_string(scene))
        result.round_trip_db = psnr(_render(again, w, h, renderer), first)
    return result

"""Lettering: a string to glyph outline paths (closed cubic chains) with fontTools.

Font search and the glyph pen live in :mod:`clipvg.fonts` (``find_font`` is
re-exported here).

Each character becomes one path (all its contours, nonzero fill), black on a white
canvas with a margin, ready to be edited like any other scene. TrueType quadratic
curves are elevated to cubics exactly; lines become straight cubics.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import torch

from .errors import ClipvgError, Setting, SettingError
from .fonts import CubicPen, find_font
from .io import require_file
from .scene import PathInfo, Scene
from .svg import SvgLimits

__all__ = ["find_font", "text_to_scene"]


def _font_error(path: Path, exc: Exception) -> ClipvgError:
    return ClipvgError(f"cannot read font {path}: {type(exc).__name__}; pick another --font")


def text_to_scene(
    text: str,
    font: str | os.PathLike | None = None,
    size: float = 200.0,
    margin: float = 20.0,
    kerning: bool = True,
    color: Sequence[float] = (0.0, 0.0, 0.0, 1.0),
) -> Scene:
    """Lay out ``text`` on one line and return its glyph outlines as a Scene.

    Args:
        text: the string (one line; characters without outlines, e.g. spaces, only advance).
        font: a .ttf/.otf file; None picks one with :func:`find_font`.
        size: font size in pixels (the em square).
        margin: white border around the text, pixels.
        kerning: apply pair kerning from the font's legacy ``kern`` table when present.
        color: RGBA fill in [0, 1].

    Returns:
        Scene with one path per inked character, ``info[i].id == "glyph-<i>-<char>"``.
    """
    from fontTools.ttLib import TTFont, TTLibError

    if not isinstance(text, str) or not text.strip():
        raise ClipvgError("the text is empty; give at least one visible character")
    if "\n" in text:
        raise ClipvgError("the text must be one line")
    if not (math.isfinite(size) and math.isfinite(margin) and size > 0 and margin >= 0):
        raise SettingError(
            Setting("size"), " must be a finite number > 0 and ", Setting("border"), " >= 0"
        )
    limits = SvgLimits()  # what `render` and `edit` accept, checked before any work
    if max(size, 2 * margin) > limits.max_canvas_side:
        raise SettingError(
            Setting("size"),
            f" {size:g} / ",
            Setting("border"),
            f" {margin:g} px: the canvas would pass the "
            f"{limits.max_canvas_side:g} px that render accepts; use smaller values",
        )
    path = Path(font) if font is not None else find_font()
    require_file(path, "font")
    try:  # tables load lazily: a damaged font fails here or at its first glyph
        tt = TTFont(str(path), fontNumber=0, lazy=True)
        cmap = tt.getBestCmap() or {}
        glyph_set = tt.getGlyphSet()
        upem = tt["head"].unitsPerEm
        hhea = tt["hhea"]
        ascent, descent = hhea.ascent, hhea.descent  # descent is negative
        kern = {}
        if kerning and "kern" in tt:
            for sub in getattr(tt["kern"], "kernTables", []):
                kern.update(getattr(sub, "kernTable", {}) or {})
    except (TTLibError, OSError, Exception) as exc:  # fontTools raises several types
        raise _font_error(path, exc) from None
    if not (isinstance(upem, int) and upem > 0):
        raise ClipvgError(f"cannot read font {path}: units per em is {upem}")
    scale = size / upem
    missing = sorted({c for c in text if ord(c) not in cmap and not c.isspace()})
    if missing:
        raise ClipvgError(
            f"font {path.name} has no glyph for {''.join(missing)!r}; pick another --font"
        )

    outlines: dict[str, tuple[list, float]] = {}  # glyph name -> (contours, advance)

    def outline(name: str) -> tuple[list, float]:
        if name not in outlines:
            pen = CubicPen(glyph_set)
            try:
                glyph_set[name].draw(pen)
                outlines[name] = (pen.contours, glyph_set[name].width)
            except Exception as exc:  # a damaged glyf/CFF table; fontTools raises many types
                raise _font_error(path, exc) from None
        return outlines[name]

    # Layout first, limits next, outlines last: a long text is refused before its
    # glyphs cost anything (the contours are shared by every use of a glyph).
    placed = []  # (index, character, glyph name, pen x in font units)
    x, prev = 0.0, None
    for i, ch in enumerate(text):
        name = cmap.get(ord(ch))
        if name is None:  # whitespace without a glyph
            x += 0.25 * upem
            prev = None
            continue
        if prev is not None:
            x += kern.get((prev, name), 0)
        contours, advance = outline(name)
        if contours:
            placed.append((i, ch, name, x))
        x += advance
        prev = name
    if not placed:
        raise ClipvgError("the text has no visible glyphs")
    width = math.ceil(2 * margin + x * scale)
    height = math.ceil(2 * margin + (ascent - descent) * scale)
    points = sum(len(c) for _, _, name, _ in placed for c in outline(name)[0])
    segments = points // 3
    if max(width, height) > limits.max_canvas_side:
        raise SettingError(
            f"the text's canvas would be {width}x{height} px, over the "
            f"{limits.max_canvas_side:g} px that render accepts; use a shorter text or a smaller ",
            Setting("size"),
        )
    if len(placed) > limits.max_paths or segments > limits.max_segments:
        raise ClipvgError(
            f"the text makes {len(placed)} glyph paths of {segments} segments, over what render "
            f"accepts ({limits.max_paths} paths, {limits.max_segments} segments); use a shorter text"
        )
    paths, info = [], []
    for i, ch, name, x0 in placed:
        contours = []
        for c in outline(name)[0]:
            pts = torch.tensor(c, dtype=torch.float64)
            px = margin + (x0 + pts[:, 0]) * scale
            py = margin + (ascent - pts[:, 1]) * scale
            contours.append(torch.stack([px, py], 1).float())
        paths.append(contours)
        info.append(PathInfo(f"glyph-{i}-{ch if ch.isalnum() else ord(ch)}", ("text",)))
    return Scene.from_paths(width, height, paths, [list(color)] * len(paths), info=info)

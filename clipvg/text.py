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
    try:
        tt = TTFont(str(path), fontNumber=0, lazy=True)
    except (TTLibError, OSError, Exception) as exc:  # fontTools raises several types
        raise ClipvgError(f"cannot read font {path}: {type(exc).__name__}") from None
    cmap = tt.getBestCmap() or {}
    glyph_set = tt.getGlyphSet()
    upem = tt["head"].unitsPerEm
    scale = size / upem
    hhea = tt["hhea"]
    ascent, descent = hhea.ascent, hhea.descent  # descent is negative
    kern = {}
    if kerning and "kern" in tt:
        for sub in getattr(tt["kern"], "kernTables", []):
            kern.update(getattr(sub, "kernTable", {}) or {})
    missing = sorted({c for c in text if ord(c) not in cmap and not c.isspace()})
    if missing:
        raise ClipvgError(
            f"font {path.name} has no glyph for {''.join(missing)!r}; pick another --font"
        )

    paths, info = [], []
    x, prev = 0.0, None
    for i, ch in enumerate(text):
        name = cmap.get(ord(ch))
        if name is None:  # whitespace without a glyph
            x += 0.25 * upem
            prev = None
            continue
        if prev is not None:
            x += kern.get((prev, name), 0)
        pen = CubicPen(glyph_set)
        glyph_set[name].draw(pen)
        if pen.contours:
            contours = []
            for c in pen.contours:
                pts = torch.tensor(c, dtype=torch.float64)
                px = margin + (x + pts[:, 0]) * scale
                py = margin + (ascent - pts[:, 1]) * scale
                contours.append(torch.stack([px, py], 1).float())
            paths.append(contours)
            info.append(PathInfo(f"glyph-{i}-{ch if ch.isalnum() else ord(ch)}", ("text",)))
        x += glyph_set[name].width
        prev = name
    if not paths:
        raise ClipvgError("the text has no visible glyphs")
    width = math.ceil(2 * margin + x * scale)
    height = math.ceil(2 * margin + (ascent - descent) * scale)
    segments = sum(len(c) for contours in paths for c in contours) // 3
    if max(width, height) > limits.max_canvas_side:
        raise SettingError(
            f"the text's canvas would be {width}x{height} px, over the "
            f"{limits.max_canvas_side:g} px that render accepts; use a shorter text or a smaller ",
            Setting("size"),
        )
    if len(paths) > limits.max_paths or segments > limits.max_segments:
        raise ClipvgError(
            f"the text makes {len(paths)} glyph paths of {segments} segments, over what render "
            f"accepts ({limits.max_paths} paths, {limits.max_segments} segments); use a shorter text"
        )
    return Scene.from_paths(width, height, paths, [list(color)] * len(paths), info=info)

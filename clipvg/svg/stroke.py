"""Stroke properties: CSS values -> the scene's stroke state, in canvas units.

Invalid values are ignored as CSS ignores an invalid declaration (the initial
value is used): a ``stroke-miterlimit`` below 1, a
``stroke-dasharray`` with a negative entry or an unreadable one. A dash array that
sums to 0 draws a solid line (SVG); a negative ``stroke-width`` draws no stroke. Lengths are scaled by the element's transform
(``sqrt(|det|)``: strokes are isotropic in the scene).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .geometry import length

CAPS = {"butt": 0, "round": 1, "square": 2}
JOINS = {"miter": 0, "miter-clip": 0, "arcs": 0, "round": 1, "bevel": 2}


@dataclass(frozen=True)
class StrokeStyle:
    """A path's stroke geometry in canvas units (paint and opacity are separate)."""

    width: float = 1.0
    linecap: int = 0
    linejoin: int = 0
    miter_limit: float = 4.0
    dashes: tuple[float, ...] = ()
    dash_offset: float = 0.0


def stroke_style(
    props: dict[str, str], scale: float, diag: float, font_size: float = 16.0
) -> StrokeStyle:
    """The stroke state from cascaded properties.

    Args:
        props: the element's cascaded properties (``stroke-width``, ``stroke-linecap``...).
        scale: ``sqrt(|det|)`` of the element's transform to the canvas.
        diag: the viewport's normalized diagonal (what a percentage refers to).
        font_size: the element's font size in px (what ``em`` refers to).
    """
    width = length(props.get("stroke-width", "1"), diag, font_size)
    if width is None:
        width = 1.0
    width = max(width, 0.0)  # a negative width draws nothing (as resvg does)
    cap = CAPS.get(props.get("stroke-linecap", "butt").strip(), 0)
    join = JOINS.get(props.get("stroke-linejoin", "miter").strip(), 0)
    try:
        miter = float(props.get("stroke-miterlimit", "4"))
    except ValueError:
        miter = 4.0
    if not (math.isfinite(miter) and miter >= 1.0):
        miter = 4.0
    dashes = dash_array(props.get("stroke-dasharray", "none"), diag, font_size)
    offset = length(props.get("stroke-dashoffset", "0"), diag, font_size) if dashes else 0.0
    offset = offset if offset is not None else 0.0
    if dashes:  # the offset only matters modulo one period (an odd list repeats twice)
        period = sum(dashes) * (2 if len(dashes) % 2 else 1)
        offset = math.fmod(offset, period) if math.isfinite(offset) else 0.0
        offset = offset + period if offset < 0 else offset
    return StrokeStyle(
        width=_finite(width * scale),
        linecap=cap,
        linejoin=join,
        miter_limit=miter,
        dashes=tuple(_finite(d * scale) for d in dashes),
        dash_offset=_finite(offset * scale),
    )


def dash_array(value: str, diag: float, font_size: float = 16.0) -> tuple[float, ...]:
    """``stroke-dasharray`` -> lengths (user units); () for none, invalid or all zero."""
    value = value.strip()
    if not value or value == "none":
        return ()
    out = []
    for item in re.split(r"[\s,]+", value):
        if not item:
            continue
        x = length(item, diag, font_size)
        if x is None or x < 0:
            return ()
        out.append(x)
    if not out or sum(out) <= 0 or not math.isfinite(sum(out)):
        return ()
    return tuple(out)


def stroke_first(props: dict[str, str]) -> bool:
    """``paint-order``: whether the stroke is painted before the fill."""
    order = props.get("paint-order", "normal").split()
    keys = [k for k in order if k in ("fill", "stroke", "markers")]
    for k in ("fill", "stroke", "markers"):
        if k not in keys:
            keys.append(k)
    return keys.index("stroke") < keys.index("fill")


def _finite(x: float) -> float:
    """Clamp to float32's range (a 1e30 width stays huge, inf does not enter the scene)."""
    return max(-3.0e38, min(3.0e38, x)) if not math.isnan(x) else 0.0

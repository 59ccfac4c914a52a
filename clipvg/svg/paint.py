"""Colours and opacities: CSS colour syntax to straight RGBA in [0, 1]."""

from __future__ import annotations

import math
import re


def parse_opacity(value: str | None) -> float:
    if value is None:
        return 1.0
    value = value.strip()
    try:
        x = float(value[:-1]) / 100.0 if value.endswith("%") else float(value)
    except ValueError:
        return 1.0
    return min(max(x, 0.0), 1.0) if math.isfinite(x) else 1.0


_NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_COLOR_FUNCTION = re.compile(
    rf"^(rgba?|hsla?)\(\s*({_NUMBER})(%|deg)?\s*[,\s]\s*({_NUMBER})(%?)\s*[,\s]\s*({_NUMBER})(%?)"
    rf"\s*(?:[,/]\s*({_NUMBER})(%?)\s*)?\)$",
    re.IGNORECASE,
)


_HEX = re.compile(r"^#(?:[0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")
_NAME = re.compile(r"^[A-Za-z]+$")
_BLACK = 255  # svgelements' packed RGBA of opaque black


def _unit(x: float) -> float:
    """Clamp to [0, 1] (CSS clamps out-of-range colour components; inf included)."""
    return min(max(x, 0.0), 1.0)


def _color_function(m: re.Match) -> tuple[float, float, float, float] | None:
    """``rgb()``/``rgba()``/``hsl()``/``hsla()`` numbers -> RGBA in [0, 1], clamped.

    Numbers of any magnitude are fine: ``float`` gives +-inf past the float range,
    and the regular expression admits no NaN.
    """
    import colorsys

    fn, a, a_unit, b, b_unit, c, c_unit, alpha, alpha_unit = m.groups()
    if fn.lower().startswith("rgb") and len({a_unit or "", b_unit, c_unit}) > 1:
        return None  # numbers and percentages mixed: invalid (CSS Color 3)
    opacity = 1.0 if alpha is None else _unit(float(alpha) / (100.0 if alpha_unit else 1.0))
    if fn.lower().startswith("rgb"):
        rgb = [
            _unit(float(v) / (100.0 if u == "%" else 255.0))
            for v, u in ((a, a_unit), (b, b_unit), (c, c_unit))
        ]
        return (*rgb, opacity)  # type: ignore[return-value]
    hue = float(a)
    hue = (hue % 360.0) / 360.0 if math.isfinite(hue) else 0.0
    r, g, b_ = colorsys.hls_to_rgb(hue, _unit(float(c) / 100.0), _unit(float(b) / 100.0))
    return (r, g, b_, opacity)


def parse_color(value: str, current: str) -> tuple[float, float, float, float] | None:
    """CSS color -> straight RGBA in [0, 1]; None for ``none`` or an unreadable colour."""
    from svgelements import Color

    value = value.strip()
    if value == "currentColor":
        value = current.strip()
    if value.lower() in ("none", ""):
        return None
    m = _COLOR_FUNCTION.match(value)
    if m:
        return _color_function(m)
    # svgelements reads anything else it cannot parse as black: check the syntax first
    if _HEX.match(value):
        v = Color.parse_color_hex(value)
    elif _NAME.match(value):
        v = Color.parse_color_lookup(value)
        if v == _BLACK and value.lower() != "black":
            return None  # not a colour name
    else:
        return None
    if v is None:
        return None
    return (
        ((v >> 24) & 255) / 255.0,
        ((v >> 16) & 255) / 255.0,
        ((v >> 8) & 255) / 255.0,
        (v & 255) / 255.0,
    )

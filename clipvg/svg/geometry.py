"""Lengths, transforms, viewBox and the canvas size, as (3, 3) float64 affine matrices."""

from __future__ import annotations

import math
import re
from xml.etree.ElementTree import Element

import numpy as np

from ..errors import ClipvgError

_LENGTH = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(px|in|cm|mm|pt|pc|%|em|ex)?$")
_PX_PER = {"px": 1.0, "in": 96.0, "cm": 96.0 / 2.54, "mm": 96.0 / 25.4, "pt": 96.0 / 72.0}
_PX_PER["pc"] = 16.0
#: ``font-size`` when nothing sets it (CSS ``medium``).
DEFAULT_FONT_SIZE = 16.0


def length(
    value: str | None, relative: float | None = None, font_size: float = DEFAULT_FONT_SIZE
) -> float | None:
    """An SVG length in px: a number with an optional unit (px in cm mm pt pc, ``%`` of
    ``relative``, ``em`` = ``font_size``, ``ex`` = half of it). None when missing or
    invalid (``auto``, an unknown unit such as ``44mmx`` or ``1ch``), so the
    attribute's default applies."""
    if value is None:
        return None
    m = _LENGTH.match(value.strip())
    if m is None:
        return None
    try:
        x = float(m.group(1))
    except (ValueError, OverflowError):
        return None
    unit = m.group(2)
    if unit == "%":
        if relative is None:
            return None
        x = x * relative / 100.0
    elif unit == "em":
        x *= font_size
    elif unit == "ex":
        x *= font_size / 2.0
    elif unit:
        x *= _PX_PER[unit]
    return float(x) if math.isfinite(x) else None


def font_size(value: str | None, parent: float) -> float:
    """A ``font-size`` value -> px (``em``/``%`` relative to the parent's; keywords
    and invalid values keep the parent's)."""
    if value is None:
        return parent
    value = value.strip()
    if value.endswith("%"):
        x = length(value, parent)
    else:
        x = length(value, None, parent)
    return x if x is not None and x > 0 else parent


def parse_transform(transform: str) -> np.ndarray:
    """An SVG ``transform`` string -> (3, 3) float64 column-vector affine matrix."""
    from svgelements import Matrix

    try:
        m = Matrix(transform)
    except (ValueError, TypeError, IndexError, ZeroDivisionError, OverflowError):
        return np.eye(3)
    values = (m.a, m.c, m.e, m.b, m.d, m.f)
    # Units (``translate(1in)``, ``50%``) are not transform syntax: svgelements keeps
    # them as Length objects; such a transform is invalid and ignored, as in browsers.
    if not all(isinstance(v, (int, float)) for v in values):
        return np.eye(3)
    return np.array([values[:3], values[3:], (0.0, 0.0, 1.0)], dtype=np.float64)


def translate(x: float, y: float) -> np.ndarray:
    return np.array([[1.0, 0.0, x], [0.0, 1.0, y], [0.0, 0.0, 1.0]])


def viewbox(el: Element) -> tuple[float, float, float, float] | None:
    raw = el.get("viewBox")
    if raw is None:
        return None
    try:
        vb = tuple(float(v) for v in re.split(r"[\s,]+", raw.strip()))
    except ValueError:
        return None
    if len(vb) != 4 or not all(math.isfinite(v) for v in vb):
        return None
    return vb  # type: ignore[return-value]


def viewbox_matrix(
    vb: tuple[float, float, float, float], width: float, height: float, aspect: str | None
) -> np.ndarray:
    from svgelements import Viewbox

    return parse_transform(Viewbox.viewbox_transform(0, 0, width, height, *vb, aspect))


def canvas_size(root: Element, label: str) -> tuple[float | None, float | None, np.ndarray]:
    """Root ``<svg>`` -> (width px or None, height px or None, viewBox matrix)."""
    w, h = root.get("width"), root.get("height")
    width = None if w is None or w.strip().endswith("%") else length(w)
    height = None if h is None or h.strip().endswith("%") else length(h)
    vb = viewbox(root)
    if vb is None:
        if (width is not None and width <= 0) or (height is not None and height <= 0):
            raise ClipvgError(
                f"{label} has a zero or negative canvas size ({w} x {h}); fix width/height"
            )
        return width, height, np.eye(3)
    if vb[2] <= 0 or vb[3] <= 0:
        raise ClipvgError(
            f"{label} has an empty viewBox ({root.get('viewBox')}); its width and height must be positive"
        )
    if width is None and height is None:
        width, height = vb[2], vb[3]
    elif width is None:
        width = height * vb[2] / vb[3]
    elif height is None:
        height = width * vb[3] / vb[2]
    if width <= 0 or height <= 0:
        raise ClipvgError(
            f"{label} has a zero or negative canvas size ({w} x {h}); fix width/height"
        )
    return width, height, viewbox_matrix(vb, width, height, root.get("preserveAspectRatio"))


def length_or(
    value: str | None, relative: float, default: float = 0.0, font_size: float = DEFAULT_FONT_SIZE
) -> float:
    x = length(value, relative, font_size)
    return default if x is None else x

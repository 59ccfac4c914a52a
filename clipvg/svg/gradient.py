"""Paint servers: ``url(#id)`` paints -> flat colours or fully resolved gradients.

As in resvg's usvg, everything a renderer needs is resolved here, so that it never
sees ``href`` or units: attributes and stops inherited through ``href`` chains (a
loop ends the chain where it comes back), ``gradientUnits`` (the bounding box folded
into the transform), ``gradientTransform`` and the element's transform (one affine
from gradient space to canvas pixels), the focal circle kept as given (SVG 2), stop
offsets clamped and made non-decreasing, ``stop-color``/``stop-opacity`` cascaded.
Degenerate gradients become what SVG renders for them: no stops -> no paint, one
stop or a zero-length vector / non-positive radius -> the last stop's colour.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from xml.etree.ElementTree import Element

import numpy as np

from .geometry import length, parse_transform
from .paint import parse_color, parse_opacity
from .source import XLINK_HREF, is_svg_tag, local_name

RGBA = tuple[float, float, float, float]
GRADIENTS = frozenset(("linearGradient", "radialGradient"))
#: Paint servers clipvg cannot edit (counted as uneditable where used).
OTHER_SERVERS = frozenset(("hatch", "meshgradient"))  # patterns: see .pattern
_URL = re.compile(r"^url\(\s*['\"]?#([^'\")\s]*)\s*['\"]?\s*\)\s*(.*)$", re.DOTALL)


@dataclass(frozen=True)
class Gradient:
    """A resolved gradient, in canvas pixels.

    Attributes:
        kind: ``"linear"`` or ``"radial"``.
        geometry: in gradient space: linear ``(x1, y1, x2, y2)``; radial
            ``(cx, cy, r, fx, fy, fr)``, ``0 <= fr <= r``.
        transform: (3, 3) float64 affine from gradient space to canvas pixels (the
            CTM, the bounding box for objectBoundingBox, ``gradientTransform``); when
            ``units_bbox``, only ``gradientTransform`` (the box is measured on the
            canvas at render time, which is the same when the CTM only scales by
            positive factors and translates).
        units_bbox: objectBoundingBox kept as such (geometry in box units).
        spread: ``"pad"``, ``"reflect"`` or ``"repeat"``.
        offsets: stop offsets in [0, 1], non-decreasing, at least 2.
        colors: straight RGBA in [0, 1] of each stop (``stop-opacity`` in alpha).
        id: the source element's id (export keeps it when it can).
    """

    kind: str
    geometry: tuple[float, ...]
    transform: np.ndarray
    spread: str
    offsets: tuple[float, ...]
    colors: tuple[RGBA, ...]
    id: str | None = None
    units_bbox: bool = False


Paint = RGBA | Gradient | None
_INVALID = object()  # a gradient that cannot paint: the fallback colour applies


def parse_url(value: str) -> tuple[str, str] | None:
    """``url(#id) fallback`` -> ``(id, fallback)``; None when not a ``url()`` paint."""
    m = _URL.match(value.strip())
    return (m.group(1), m.group(2).strip()) if m else None


def href_of(el: Element) -> str | None:
    """The id an element's ``href`` (SVG 2) or ``xlink:href`` points to."""
    href = el.get("href")
    if href is None:
        href = el.get(XLINK_HREF)
    href = (href or "").strip()
    return href[1:] if href.startswith("#") else None


class GradientResolver:
    """Resolves ``url(#id)`` paints against one document.

    Args:
        by_id: the document's elements by id.
        style_of: an element's declared properties (attributes < CSS < style=).
        parent_of: an element's parent (None for the root).
        vw, vh: the viewport size (percentages of userSpaceOnUse lengths).
    """

    def __init__(
        self,
        by_id: dict[str, Element],
        style_of: Callable[[Element], dict[str, str]],
        parent_of: Callable[[Element], Element | None],
        vw: float,
        vh: float,
    ) -> None:
        self.by_id = by_id
        self.style_of = style_of
        self.parent_of = parent_of
        self.vw, self.vh = vw, vh
        self.loops = 0  # href chains that came back on themselves
        self.other = 0  # paints by a pattern or another server clipvg cannot edit
        self._stops: dict[int, tuple[tuple[float, ...], tuple[RGBA, ...]]] = {}

    # ---- the paint ------------------------------------------------------------------
    def paint(
        self,
        value: str,
        current_color: str,
        bbox: tuple[float, float, float, float] | None,
        ctm: np.ndarray,
        fold: bool = False,
    ) -> Paint:
        """A ``fill``/``stroke`` value -> None (no paint), flat RGBA, or a Gradient.

        ``bbox``: the element's (x, y, w, h) in its own user space (for
        objectBoundingBox); ``ctm``: (3, 3) its user space -> canvas; ``fold``: fold
        the box into the transform even when it could be kept (the paint spans
        several scene paths, as a text's glyphs do).
        """
        url = parse_url(value)
        if url is None:
            return parse_color(value, current_color)
        target = self.by_id.get(url[0])
        tag = local_name(target.tag) if target is not None else ""
        if target is None or not is_svg_tag(target.tag) or tag not in GRADIENTS:
            if tag in OTHER_SERVERS:
                self.other += 1
            # a missing or unusable server: the fallback colour, else no paint
            return parse_color(url[1], current_color) if url[1] else None
        found = self.gradient(target, bbox, ctm, fold)
        if found is _INVALID:  # no stops, or objectBoundingBox on an empty box
            return parse_color(url[1], current_color) if url[1] else None
        return found

    def gradient(
        self,
        el: Element,
        bbox: tuple[float, float, float, float] | None,
        ctm: np.ndarray,
        fold: bool = False,
    ) -> Paint | object:
        """A gradient element -> its Paint, or ``_INVALID`` when it cannot paint."""
        chain = self._chain(el)
        offsets, colors = self._stops_of(chain)
        if not offsets:
            return _INVALID
        if len(offsets) == 1:
            return colors[0]
        units = self._attr(chain, "gradientUnits", GRADIENTS)
        bbox_units = units != "userSpaceOnUse"
        if bbox_units:
            if bbox is None or not (bbox[2] > 0 and bbox[3] > 0):
                return _INVALID  # objectBoundingBox on an empty box: not painted
            box = np.array([[bbox[2], 0, bbox[0]], [0, bbox[3], bbox[1]], [0, 0, 1.0]])
        else:
            box = np.eye(3)
        gt = self._attr(chain, "gradientTransform", GRADIENTS)
        g_matrix = parse_transform(gt) if gt else np.eye(3)
        if abs(np.linalg.det(g_matrix[:2, :2])) < 1e-12:
            g_matrix = np.eye(3)  # a singular gradientTransform is ignored (as resvg does)
        spread = (self._attr(chain, "spreadMethod", GRADIENTS) or "pad").strip()
        spread = spread if spread in ("pad", "reflect", "repeat") else "pad"
        axis_aligned = ctm[0, 1] == 0 and ctm[1, 0] == 0 and ctm[0, 0] > 0 and ctm[1, 1] > 0
        keep_box = bbox_units and axis_aligned and not fold
        transform = g_matrix if keep_box else ctm @ box @ g_matrix
        kind = "linear" if local_name(el.tag) == "linearGradient" else "radial"
        tags = frozenset((local_name(el.tag),))

        def coord(name: str, default: str, axis: str) -> float:
            return self._coord(self._attr(chain, name, tags), default, axis, bbox_units)

        if kind == "linear":
            geometry = tuple(
                coord(n, d, a)
                for n, d, a in (("x1", "0%", "x"), ("y1", "0%", "y"), ("x2", "100%", "x"))
            ) + (coord("y2", "0%", "y"),)
            if geometry[0] == geometry[2] and geometry[1] == geometry[3]:
                return colors[-1]
        else:
            cx, cy, r = coord("cx", "50%", "x"), coord("cy", "50%", "y"), coord("r", "50%", "r")
            fx_raw, fy_raw = self._attr(chain, "fx", tags), self._attr(chain, "fy", tags)
            fx = cx if fx_raw is None else self._coord(fx_raw, "50%", "x", bbox_units)
            fy = cy if fy_raw is None else self._coord(fy_raw, "50%", "y", bbox_units)
            fr = coord("fr", "0%", "r")
            if not r > 0:
                return colors[-1]
            if fr > r:
                return colors[-1]  # as resvg renders it
            fr = max(fr, 0.0)
            # A focal circle outside the end circle is kept as is: SVG 2 draws the cone
            # between the two circles (resvg does; SVG 1.1 moved the focal point).
            geometry = (cx, cy, r, fx, fy, fr)
        return Gradient(kind, geometry, transform, spread, offsets, colors, el.get("id"), keep_box)

    # ---- href chains ------------------------------------------------------------------
    def _chain(self, el: Element) -> list[Element]:
        """``el`` and the gradients its ``href`` leads to, until a loop or a non-gradient."""
        chain, seen = [el], {id(el)}
        while (ref := href_of(chain[-1])) is not None:
            nxt = self.by_id.get(ref)
            if nxt is None or not is_svg_tag(nxt.tag) or local_name(nxt.tag) not in GRADIENTS:
                break
            if id(nxt) in seen:
                self.loops += 1
                break
            chain.append(nxt)
            seen.add(id(nxt))
        return chain

    @staticmethod
    def _attr(chain: list[Element], name: str, tags: frozenset[str]) -> str | None:
        for el in chain:
            if local_name(el.tag) in tags and el.get(name) is not None:
                return el.get(name)
        return None

    def _coord(self, value: str | None, default: str, axis: str, bbox_units: bool) -> float:
        value = (value if value is not None else default).strip()
        if bbox_units:  # fractions of the box: "50%" is 0.5, a plain number as is
            x = fraction(value)
            if x is None:
                x = fraction(default)
            return x if x is not None else 0.0
        relative = {"x": self.vw, "y": self.vh, "r": math.hypot(self.vw, self.vh) / math.sqrt(2)}
        x = length(value, relative[axis])
        if x is None:
            x = length(default, relative[axis]) or 0.0
        return x

    # ---- stops ------------------------------------------------------------------------
    def _stops_of(self, chain: list[Element]) -> tuple[tuple[float, ...], tuple[RGBA, ...]]:
        for el in chain:
            stops = [c for c in el if is_svg_tag(c.tag) and local_name(c.tag) == "stop"]
            if stops:
                key = id(el)
                if key not in self._stops:
                    self._stops[key] = self._read_stops(stops)
                return self._stops[key]
        return (), ()

    def _read_stops(self, stops: list[Element]) -> tuple[tuple[float, ...], tuple[RGBA, ...]]:
        offsets: list[float] = []
        colors: list[RGBA] = []
        for stop in stops:
            offset = _offset(stop.get("offset"))
            offset = max(offset, offsets[-1]) if offsets else offset
            rgba = parse_color(self._stop_property(stop, "stop-color", "black"), self._color(stop))
            rgba = rgba or (0.0, 0.0, 0.0, 1.0)
            opacity = parse_opacity(self._stop_property(stop, "stop-opacity", "1"))
            offsets.append(offset)
            colors.append((rgba[0], rgba[1], rgba[2], rgba[3] * opacity))
        return tuple(offsets), tuple(colors)

    def _stop_property(self, el: Element, name: str, initial: str) -> str:
        """A non-inherited property: the element's own value; ``inherit`` takes the
        parent's (recursively); otherwise the initial value."""
        node: Element | None = el
        while node is not None:
            value = self.style_of(node).get(name)
            if value is None:
                return initial
            if value.strip() != "inherit":
                return value
            node = self.parent_of(node)
        return initial

    def _color(self, el: Element) -> str:
        """The inherited ``color`` at ``el`` (for ``currentColor``)."""
        node: Element | None = el
        while node is not None:
            value = self.style_of(node).get("color")
            if value is not None and value.strip() not in ("inherit", "currentColor"):
                return value
            node = self.parent_of(node)
        return "black"


def fraction(value: str) -> float | None:
    """A number or a percentage (``50%`` -> 0.5); None when unreadable or not finite."""
    value = value.strip()
    try:
        x = float(value[:-1]) / 100.0 if value.endswith("%") else float(value)
    except ValueError:
        return None
    return x if math.isfinite(x) else None


def _offset(value: str | None) -> float:
    """A stop offset: a number or a percentage, clamped to [0, 1]; unreadable -> 0."""
    x = fraction(value) if value is not None else None
    return 0.0 if x is None else min(max(x, 0.0), 1.0)

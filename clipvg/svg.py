"""Real-world SVG in, svgwrite out.

``load_svg`` / ``parse_svg_string`` turn an SVG file into a :class:`~clipvg.scene.Scene`
of filled closed cubic paths; ``save_svg`` / ``scene_to_svg_string`` write one back.

Import:

- The XML is parsed once with **defusedxml**: files that declare XML entities or
  reference external resources are refused (no external entity is ever resolved, no
  "billion laughs"). A plain ``<!DOCTYPE svg PUBLIC ...>`` is accepted.
- Path data is tokenized by **svgelements** (``SVGLexicalParser``); every command
  (M L H V C S Q T A Z, absolute and relative) becomes cubic segments: lines and
  quadratics are elevated exactly, arcs (center found by svgelements' ``Arc``) become
  one cubic per quarter turn at most (radial error < 2.7e-4 of the radius). Shapes (rect, circle,
  ellipse, polygon, polyline) go through the same path code.
- Each subpath becomes one closed contour; an open subpath is closed with a straight
  line. The full transform (viewBox, nested groups, ``<use>``) is baked into the points.
- Styles: presentation attributes < ``<style>`` rules (``*``, ``tag``, ``.class``,
  ``tag.class``, ``#id``) < inline ``style=``. ``fill``, ``fill-opacity``,
  ``fill-rule``, ``stroke``, ``visibility`` and ``color`` inherit; ``opacity`` is
  multiplied down the tree; ``display:none`` prunes a subtree.
- What clipvg cannot edit (text, images, strokes, gradient fills, clip paths, masks,
  filters) is skipped or ignored, with one ``warnings.warn`` per kind giving a count.

Export writes ``<svg width height viewBox>`` in px with one ``<path>`` per scene path,
nested in ``<g id=...>`` elements rebuilt from :attr:`PathInfo.groups`.
"""

from __future__ import annotations

import gzip
import io
import math
import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.etree.ElementTree import Element, ParseError

import numpy as np
import torch

from .errors import ClipvgError
from .io import missing_message, write_text
from .scene import PathInfo, Scene

__all__ = ["SvgLimits", "load_svg", "parse_svg_string", "save_svg", "scene_to_svg_string"]

_SVG_NS = "{http://www.w3.org/2000/svg}"
_XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
_MAX_DEPTH = 256
_DEFAULT_PPI = 96.0


@dataclass(frozen=True)
class SvgLimits:
    """Refusal thresholds for untrusted SVG input.

    Args:
        max_canvas_side: largest canvas width or height, in px (user units).
        max_paths: most filled paths a file may produce (after ``<use>`` expansion).
        max_file_bytes: largest file (or decompressed ``.svgz``) size, in bytes.
        max_elements: most elements, counting ``<use>`` expansions (checked before the
            tree is built and before it is walked, so a refusal is quick).
        max_segments: most path segments (cubic pieces, and moves) in the whole file,
            after ``<use>`` expansion; bounds the memory and time of import (about
            5 us a segment) and rendering.
        max_coordinate: largest coordinate magnitude after all transforms, in px;
            keeps every point representable in float32 with room to scale it.
        max_style_bytes: most characters of ``<style>`` text, all elements together.
        max_style_matches: most (element, rule) comparisons made applying ``<style>``.
        max_attributes: most attributes in the file (counted as ``=`` signs before
            parsing; the XML parser takes ~10 us for each).

    Import time is linear in these quantities (roughly 100 us a path, 30 us an
    element, 5 us a segment on a busy core), so the defaults keep any accepted file
    within seconds and well under 4 GB; raise them for trusted, heavy files.
    """

    max_canvas_side: float = 16384.0
    max_paths: int = 50_000
    max_file_bytes: int = 64 * 1024 * 1024
    max_elements: int = 200_000
    max_segments: int = 500_000
    max_coordinate: float = 1e9
    max_style_bytes: int = 1024 * 1024
    max_style_matches: int = 10_000_000
    max_attributes: int = 500_000


# ---- warnings -------------------------------------------------------------------------
_WARNINGS = {
    "text": "skipped {n} <text> element{s} (text is not editable; convert it to paths first)",
    "image": "skipped {n} <image> element{s} (embedded raster images are not editable)",
    "foreignObject": "skipped {n} <foreignObject> element{s} (embedded HTML is not editable)",
    "unfilled": 'skipped {n} unfilled path{s} (fill="none"; only filled areas are editable)',
    "paint": "skipped {n} path{s} filled with a gradient or pattern (only flat colors are editable; flatten them first)",
    "stroke": "ignored the stroke of {n} path{s} (strokes are not editable; convert strokes to paths first to keep them)",
    "clip": "ignored clip-path/mask on {n} element{s} (content is imported unclipped)",
    "filter": "ignored filter on {n} element{s} (filters are not editable)",
    "use": "skipped {n} <use> element{s} whose target is missing or contains the <use> itself",
    "bad_data": "{n} path{s} had malformed path data; imported up to the first error",
}


def _emit_warnings(counts: dict[str, int]) -> None:
    for kind, template in _WARNINGS.items():
        n = counts.get(kind, 0)
        if n:
            warnings.warn(template.format(n=n, s="" if n == 1 else "s"), stacklevel=4)


# ---- reading and XML --------------------------------------------------------------------
def _read_source(path: str | os.PathLike, limits: SvgLimits) -> bytes:
    p = Path(path)
    try:
        size = p.stat().st_size
        if p.is_dir():
            raise ClipvgError(f"{p} is a folder, not an SVG file; pass the path of an .svg file")
        if size > limits.max_file_bytes:
            raise _limit_error(f"{p} is {size} bytes", "max_file_bytes", limits.max_file_bytes)
        data = p.read_bytes()
    except FileNotFoundError:
        raise ClipvgError(missing_message(p, "SVG")) from None
    except PermissionError:
        raise ClipvgError(f"cannot read {p}: permission denied") from None
    except OSError as exc:
        raise ClipvgError(f"cannot read {p}: {exc.strerror or exc}") from None
    return data


def _limit_error(what: str, name: str, value: float) -> ClipvgError:
    return ClipvgError(
        f"{what}, over the limit {name}={value:g}; pass limits=SvgLimits({name}=...) to allow more"
    )


def _decompress(data: bytes, label: str, limits: SvgLimits) -> bytes:
    """Inflate .svgz data, refusing anything that grows past ``max_file_bytes``."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as f:
            out = f.read(limits.max_file_bytes + 1)
    except (OSError, EOFError) as exc:
        raise ClipvgError(f"{label} is not a valid SVG file: broken gzip data ({exc})") from None
    if len(out) > limits.max_file_bytes:
        raise _limit_error(
            f"{label} inflates to over {limits.max_file_bytes} bytes",
            "max_file_bytes",
            limits.max_file_bytes,
        )
    return out


def _parse_xml(data: bytes, label: str, limits: SvgLimits) -> Element:
    """Parse with defusedxml (entities and external references refused); check the root."""
    import defusedxml.ElementTree as DET
    from defusedxml import DefusedXmlException

    if not data.strip():
        raise ClipvgError(f"{label} is not a valid SVG file: it is empty")
    # Every element has one start tag, "<" not followed by "/": counting them bounds
    # the tree's memory before it is built (comments or CDATA can only add to it).
    tags = data.count(b"<") - data.count(b"</")
    if tags > limits.max_elements:
        raise _limit_error(
            f"{label} has about {tags} elements", "max_elements", limits.max_elements
        )
    attributes = data.count(b"=")  # an over-count (text, CSS), never an under-count
    if attributes > limits.max_attributes:
        raise _limit_error(
            f"{label} has about {attributes} attributes", "max_attributes", limits.max_attributes
        )
    try:
        root = DET.fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except (LookupError, UnicodeError) as exc:
        raise ClipvgError(
            f"{label} is not a valid SVG file: unusable text encoding ({exc}); save it as UTF-8"
        ) from None
    except DefusedXmlException:
        raise ClipvgError(
            f"{label} contains XML entity declarations or external references (DTD), which clipvg "
            "refuses for safety; remove the <!DOCTYPE ...[ ]> block or re-export the SVG"
        ) from None
    except ParseError as exc:
        raise ClipvgError(
            f"{label} is not a valid SVG file: XML syntax error ({exc}); check that it is an SVG file"
        ) from None
    if _local(root.tag) != "svg" or not _is_svg_tag(root.tag):
        raise ClipvgError(
            f"{label} is not a valid SVG file: the root element is <{root.tag}>, not <svg> "
            'in the SVG namespace (xmlns="http://www.w3.org/2000/svg")'
        )
    return root


def _local(tag: object) -> str:
    if not isinstance(tag, str):
        return ""  # comments and processing instructions
    return tag.rsplit("}", 1)[-1]


def _is_svg_tag(tag: object) -> bool:
    return isinstance(tag, str) and (tag.startswith(_SVG_NS) or not tag.startswith("{"))


# ---- CSS ----------------------------------------------------------------------------------
_STYLED = frozenset(
    "fill fill-opacity fill-rule opacity stroke stroke-width display visibility color "
    "clip-path mask filter".split()
)
_INHERITED = ("fill", "fill-opacity", "fill-rule", "stroke", "stroke-width", "visibility", "color")


def _strip_comments(text: str) -> str:
    """CSS text without ``/* ... */`` comments, in linear time (an unclosed one runs to the end)."""
    out, pos = [], 0
    while (start := text.find("/*", pos)) >= 0:
        out.append(text[pos:start])
        end = text.find("*/", start + 2)
        pos = len(text) if end < 0 else end + 2
    out.append(text[pos:])
    return "".join(out)


def _css_rules(text: str) -> list[tuple[str, str]]:
    """``(selectors, body)`` of each ``selectors { body }`` rule, in linear time.

    Text after the last ``}`` (an unclosed rule) is dropped, as are rules without
    a selector.
    """
    rules = []
    for chunk in text.split("}")[:-1]:
        selectors, sep, body = chunk.partition("{")
        if sep and selectors.strip():
            rules.append((selectors, body))
    return rules


def _declarations(text: str) -> dict[str, str]:
    out = {}
    for item in text.split(";"):
        key, sep, value = item.partition(":")
        key = key.strip().lower()
        if sep and key in _STYLED:
            out[key] = value.replace("!important", "").strip()
    return out


_SIMPLE_SELECTOR = re.compile(r"^(\*|[A-Za-z][\w-]*)?((?:[.#][\w-]+)*)$")


@dataclass(frozen=True)
class _Rule:
    tag: str | None
    classes: frozenset[str]
    id: str | None
    specificity: tuple[int, int, int, int]  # (ids, classes, tag, source order)
    declarations: dict[str, str]


def _stylesheet(root: Element, label: str, limits: SvgLimits) -> dict[str, list[_Rule]]:
    """``<style>`` rules with compound simple selectors (``*``, ``tag``, ``.a.b``,
    ``tag.c``, ``#id``), indexed by their most selective part. Selectors with
    combinators, attributes or pseudo-classes are ignored."""
    index: dict[str, list[_Rule]] = {}
    order = 0
    texts = ["".join(el.itertext()) for el in root.iter(f"{_SVG_NS}style")]
    size = sum(len(t) for t in texts)
    if size > limits.max_style_bytes:
        raise _limit_error(
            f"{label} has {size} characters of <style>", "max_style_bytes", limits.max_style_bytes
        )
    for text in texts:
        for selectors, body in _css_rules(_strip_comments(text)):
            decl = _declarations(body)
            for sel in selectors.split(","):
                m = _SIMPLE_SELECTOR.match(sel.strip())
                if not decl or not m or not sel.strip():
                    continue
                parts = re.findall(r"[.#][\w-]+", m.group(2))
                ids = [q[1:] for q in parts if q[0] == "#"]
                classes = frozenset(q[1:] for q in parts if q[0] == ".")
                tag = m.group(1) if m.group(1) not in (None, "*") else None
                if len(set(ids)) > 1:
                    continue
                order += 1
                rule = _Rule(
                    tag,
                    classes,
                    ids[0] if ids else None,
                    (len(ids), len(classes), int(tag is not None), order),
                    decl,
                )
                key = f"#{rule.id}" if rule.id else f".{min(classes)}" if classes else tag or "*"
                index.setdefault(key, []).append(rule)
    return index


def _sheet_style(
    sheet: dict[str, list[_Rule]], tag: str, classes: frozenset[str], el_id: str | None
) -> tuple[dict[str, str], int]:
    """Declarations of the rules that match, by specificity then source order, and
    how many rules were compared (the work done)."""
    keys = ["*", tag, *(f".{c}" for c in classes)] + ([f"#{el_id}"] if el_id else [])
    candidates = [r for key in keys for r in sheet.get(key, ())]
    matched = [
        r
        for r in candidates
        if (r.tag is None or r.tag == tag)
        and r.classes <= classes
        and (r.id is None or r.id == el_id)
    ]
    style: dict[str, str] = {}
    for rule in sorted(matched, key=lambda r: r.specificity):
        style.update(rule.declarations)
    return style, len(candidates)


def _element_style(el: Element, sheet_style: dict[str, str]) -> dict[str, str]:
    """The element's own declared properties: attributes < stylesheet < inline style."""
    attrib = el.attrib
    style = {k: v.strip() for k, v in attrib.items() if k in _STYLED}
    style.update(sheet_style)
    if "style" in attrib:
        style.update(_declarations(attrib["style"]))
    return style


def _parse_opacity(value: str | None) -> float:
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


def _unit(x: float) -> float:
    """Clamp to [0, 1] (CSS clamps out-of-range colour components; inf included)."""
    return min(max(x, 0.0), 1.0)


def _color_function(m: re.Match) -> tuple[float, float, float, float]:
    """``rgb()``/``rgba()``/``hsl()``/``hsla()`` numbers -> RGBA in [0, 1], clamped.

    Numbers of any magnitude are fine: ``float`` gives +-inf past the float range,
    and the regular expression admits no NaN.
    """
    import colorsys

    fn, a, a_unit, b, b_unit, c, c_unit, alpha, alpha_unit = m.groups()
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


def _parse_color(value: str, current: str) -> tuple[float, float, float, float] | None:
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
    if "(" in value:  # a colour function we cannot read; svgelements would guess black
        return None
    try:
        v = Color.parse(value)
    except (ValueError, TypeError, OverflowError, IndexError):
        return None
    if v is None:
        return None
    return (
        ((v >> 24) & 255) / 255.0,
        ((v >> 16) & 255) / 255.0,
        ((v >> 8) & 255) / 255.0,
        (v & 255) / 255.0,
    )


# ---- lengths and transforms ---------------------------------------------------------------
def _length(value: str | None, relative: float | None = None) -> float | None:
    """An SVG length in px, or None when missing or unresolvable (``auto``, ``em`` ...)."""
    from svgelements import Length

    if value is None or not value.strip():
        return None
    try:
        x = Length(value.strip()).value(ppi=_DEFAULT_PPI, relative_length=relative)
    except (ValueError, TypeError, ZeroDivisionError, OverflowError):
        return None
    if not isinstance(x, (int, float)) or not math.isfinite(x):
        return None
    return float(x)


def _matrix(transform: str) -> np.ndarray:
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


def _translate(x: float, y: float) -> np.ndarray:
    return np.array([[1.0, 0.0, x], [0.0, 1.0, y], [0.0, 0.0, 1.0]])


def _viewbox(el: Element) -> tuple[float, float, float, float] | None:
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


def _viewbox_matrix(
    vb: tuple[float, float, float, float], width: float, height: float, aspect: str | None
) -> np.ndarray:
    from svgelements import Viewbox

    return _matrix(Viewbox.viewbox_transform(0, 0, width, height, *vb, aspect))


def _canvas(root: Element, label: str) -> tuple[float | None, float | None, np.ndarray]:
    """Root ``<svg>`` -> (width px or None, height px or None, viewBox matrix)."""
    w, h = root.get("width"), root.get("height")
    width = None if w is None or w.strip().endswith("%") else _length(w)
    height = None if h is None or h.strip().endswith("%") else _length(h)
    vb = _viewbox(root)
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
    return width, height, _viewbox_matrix(vb, width, height, root.get("preserveAspectRatio"))


# ---- path data -> closed cubic contours -----------------------------------------------------
class _XY:
    __slots__ = ("x", "y")

    def __init__(self, x: float, y: float) -> None:
        self.x, self.y = x, y


def _arc_cubics(
    cx: float, cy: float, rx: float, ry: float, theta: float, t0: float, sweep: float
) -> list[float]:
    """An elliptical arc (center parameterization, radians) -> flat ``[c1, c2, end] * n``.

    One cubic per quarter turn at most, with handles ``4/3 tan(dt/4)`` long: the
    radial error is below 2.7e-4 of the radius.
    """
    n = max(1, math.ceil(abs(sweep) / (math.pi / 2) - 1e-9))
    t = t0 + sweep * np.arange(n + 1) / n
    k = 4.0 / 3.0 * math.tan(sweep / n / 4.0)
    cos_t, sin_t = np.cos(t), np.sin(t)
    rot = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    on = np.stack([rx * cos_t, ry * sin_t], 1) @ rot.T + (cx, cy)  # (n+1, 2) points on the arc
    tangent = np.stack([-rx * sin_t, ry * cos_t], 1) @ rot.T  # (n+1, 2) d/dt
    c1 = on[:-1] + k * tangent[:-1]
    c2 = on[1:] - k * tangent[1:]
    return np.concatenate([c1, c2, on[1:]], 1).ravel().tolist()


class _ContourSink:
    """Receives svgelements' path tokens (absolute coordinates) and builds contours.

    ``contours`` holds flat float lists ``[x0, y0, c0ax, c0ay, ...]`` of 3n points each:
    closed cubic chains in the element's local coordinates.
    """

    def __init__(self, budget: int, on_over: object) -> None:
        self.budget = budget  # segments this path may still add
        self.on_over = on_over  # called (no arguments) to raise when the budget runs out
        self.contours: list[list[float]] = []
        self.current_point: _XY | None = None  # read by the lexer for relative coordinates
        self._pts: list[float] | None = None
        self._sx = self._sy = 0.0
        self._cx = self._cy = 0.0
        self._last_c2: tuple[float, float] | None = None
        self._last_q: tuple[float, float] | None = None

    # lexer protocol ------------------------------------------------------------------
    def start(self) -> None:
        pass

    def end(self) -> None:
        self._finish()

    def _xy(self, coord) -> tuple[float, float]:
        if isinstance(coord, str):  # SVG 2 inline close: "z" in place of a coordinate
            return self._sx, self._sy
        if coord is None:
            raise ValueError("missing coordinate")
        return float(coord[0]), float(coord[1])

    def _set_current(self, x: float, y: float) -> None:
        self._cx, self._cy = x, y
        if self.current_point is None:
            self.current_point = _XY(x, y)
        else:
            self.current_point.x, self.current_point.y = x, y

    def move(self, coord, relative: bool = False) -> None:
        self._finish()
        self.budget -= 1  # a move costs the lexer as much as a segment
        if self.budget < 0:
            self.on_over()
        x, y = self._xy(coord)
        self._sx, self._sy = x, y
        self._set_current(x, y)
        self._last_c2 = self._last_q = None

    def _open(self, segments: int = 1) -> list[float]:
        self.budget -= segments
        if self.budget < 0:
            self.on_over()
        if self._pts is None:
            self._sx, self._sy = self._cx, self._cy
            self._pts = [self._cx, self._cy]
        return self._pts

    def _line_to(self, x: float, y: float) -> None:
        cx, cy = self._cx, self._cy
        dx, dy = (x - cx) / 3.0, (y - cy) / 3.0
        self._open().extend((cx + dx, cy + dy, x - dx, y - dy, x, y))
        self._set_current(x, y)

    def line(self, coord, relative: bool = False) -> None:
        self._line_to(*self._xy(coord))
        self._last_c2 = self._last_q = None

    def horizontal(self, value, relative: bool = False) -> None:
        if value is None:
            raise ValueError("missing coordinate")
        self._line_to(self._cx + value if relative else float(value), self._cy)
        self._last_c2 = self._last_q = None

    def vertical(self, value, relative: bool = False) -> None:
        if value is None:
            raise ValueError("missing coordinate")
        self._line_to(self._cx, self._cy + value if relative else float(value))
        self._last_c2 = self._last_q = None

    def _cubic_to(self, ax: float, ay: float, bx: float, by: float, x: float, y: float) -> None:
        self._open().extend((ax, ay, bx, by, x, y))
        self._set_current(x, y)
        self._last_c2 = (bx, by)
        self._last_q = None

    def cubic(self, c1, c2, end, relative: bool = False) -> None:
        self._cubic_to(*self._xy(c1), *self._xy(c2), *self._xy(end))

    def smooth_cubic(self, c2, end, relative: bool = False) -> None:
        cx, cy = self._cx, self._cy
        ax, ay = (
            (2 * cx - self._last_c2[0], 2 * cy - self._last_c2[1]) if self._last_c2 else (cx, cy)
        )
        self._cubic_to(ax, ay, *self._xy(c2), *self._xy(end))

    def _quad_to(self, qx: float, qy: float, x: float, y: float) -> None:
        cx, cy = self._cx, self._cy
        self._open().extend(
            (
                cx + 2 * (qx - cx) / 3,
                cy + 2 * (qy - cy) / 3,
                x + 2 * (qx - x) / 3,
                y + 2 * (qy - y) / 3,
                x,
                y,
            )
        )
        self._set_current(x, y)
        self._last_q = (qx, qy)
        self._last_c2 = None

    def quad(self, q, end, relative: bool = False) -> None:
        self._quad_to(*self._xy(q), *self._xy(end))

    def smooth_quad(self, end, relative: bool = False) -> None:
        cx, cy = self._cx, self._cy
        qx, qy = (2 * cx - self._last_q[0], 2 * cy - self._last_q[1]) if self._last_q else (cx, cy)
        self._quad_to(qx, qy, *self._xy(end))

    def arc(self, rx, ry, rotation, large_arc, sweep, end, relative: bool = False) -> None:
        from svgelements import Arc

        if rx is None or ry is None or rotation is None or large_arc is None or sweep is None:
            raise ValueError("incomplete arc")
        x, y = self._xy(end)
        self._last_c2 = self._last_q = None
        if x == self._cx and y == self._cy:
            return  # an arc to the current point is omitted (SVG spec)
        if rx == 0 or ry == 0:
            self._line_to(x, y)
            return
        a = Arc((self._cx, self._cy), abs(rx), abs(ry), rotation, large_arc, sweep, (x, y))
        pts = self._open(4)
        pts.extend(
            _arc_cubics(
                a.center.x, a.center.y, a.rx, a.ry, a.get_rotation(), a.get_start_t(), a.sweep
            )
        )
        pts[-2:] = [x, y]  # land exactly on the end point
        self._set_current(x, y)

    def closed(self, relative: bool = False) -> None:
        self._finish()
        self._set_current(self._sx, self._sy)
        self._last_c2 = self._last_q = None

    # contour bookkeeping ---------------------------------------------------------------
    def _finish(self) -> None:
        pts, self._pts = self._pts, None
        if pts is None or len(pts) < 8:  # fewer than one segment
            return
        sx, sy, ex, ey = pts[0], pts[1], pts[-2], pts[-1]
        tol = 1e-9 * (1.0 + abs(sx) + abs(sy))
        if abs(ex - sx) <= tol and abs(ey - sy) <= tol:
            del pts[-2:]  # the last segment already returns to p0
        else:
            dx, dy = (sx - ex) / 3.0, (sy - ey) / 3.0
            pts.extend((ex + dx, ey + dy, sx - dx, sy - dy))
        self.contours.append(pts)


def _path_contours(d: str, budget: int, on_over) -> tuple[list[list[float]], bool]:
    """Path data -> (contours in local coordinates, whether the data had an error).

    ``on_over()`` is called (and must raise) as soon as the path has more than
    ``budget`` segments, before their memory is spent.
    """
    from svgelements import SVGLexicalParser

    sink = _ContourSink(budget, on_over)
    bad = False
    try:
        SVGLexicalParser().parse(sink, d)
    except (ValueError, TypeError, IndexError, ZeroDivisionError, AttributeError, OverflowError):
        bad = True  # keep what was drawn before the error, as browsers do
    sink.end()  # the lexer does not always call it
    return sink.contours, bad


def _num(value: str | None, relative: float, default: float = 0.0) -> float:
    x = _length(value, relative)
    return default if x is None else x


def _shape_d(el: Element, tag: str, vw: float, vh: float, max_points: int) -> str | None:
    """Basic shapes as path data (None when the shape is not rendered).

    A polygon keeps at most ``max_points + 1`` points: enough to exceed the
    segment budget, without building path data for all of a huge list.
    """
    g = el.get
    diag = math.hypot(vw, vh) / math.sqrt(2.0)
    if tag == "rect":
        x, y = _num(g("x"), vw), _num(g("y"), vh)
        w, h = _num(g("width"), vw), _num(g("height"), vh)
        if w <= 0 or h <= 0:
            return None
        rx, ry = _length(g("rx"), vw), _length(g("ry"), vh)
        rx = ry if rx is None or rx < 0 else rx
        ry = rx if ry is None or ry < 0 else ry
        rx, ry = min(rx or 0.0, w / 2), min(ry or 0.0, h / 2)
        if rx <= 0 or ry <= 0:
            return f"M{x!r},{y!r}H{x + w!r}V{y + h!r}H{x!r}Z"
        arc = f"A{rx!r},{ry!r} 0 0 1 "
        return (
            f"M{x + rx!r},{y!r}H{x + w - rx!r}{arc}{x + w!r},{y + ry!r}V{y + h - ry!r}"
            f"{arc}{x + w - rx!r},{y + h!r}H{x + rx!r}{arc}{x!r},{y + h - ry!r}V{y + ry!r}"
            f"{arc}{x + rx!r},{y!r}Z"
        )
    if tag in ("circle", "ellipse"):
        cx, cy = _num(g("cx"), vw), _num(g("cy"), vh)
        if tag == "circle":
            rx = ry = _num(g("r"), diag)
        else:
            rx_, ry_ = _length(g("rx"), vw), _length(g("ry"), vh)
            rx, ry = (
                (rx_ if rx_ is not None else ry_ or 0.0),
                (ry_ if ry_ is not None else rx_ or 0.0),
            )
        if rx <= 0 or ry <= 0:
            return None
        arc = f"A{rx!r},{ry!r} 0 0 1 "
        return (
            f"M{cx + rx!r},{cy!r}{arc}{cx!r},{cy + ry!r}{arc}{cx - rx!r},{cy!r}"
            f"{arc}{cx!r},{cy - ry!r}{arc}{cx + rx!r},{cy!r}Z"
        )
    if tag in ("polygon", "polyline"):
        points = (g("points") or "").strip()
        if not points:
            return None
        nums = re.split(r"[\s,]+", points, maxsplit=2 * max_points + 2)[: 2 * max_points + 2]
        if len(nums) % 2:
            nums = nums[:-1]  # an odd coordinate count drops the last one (SVG spec)
        return "M" + " ".join(nums) + ("Z" if tag == "polygon" else "")
    if tag == "line":
        return f"M{_num(g('x1'), vw)!r},{_num(g('y1'), vh)!r}L{_num(g('x2'), vw)!r},{_num(g('y2'), vh)!r}"
    return el.get("d") or None  # path


# ---- the tree walk ------------------------------------------------------------------------
_CONTAINERS = frozenset(("g", "a", "switch", "svg"))
_SHAPES = frozenset(("path", "rect", "circle", "ellipse", "polygon", "polyline", "line"))
_SKIPPED = frozenset(("text", "image", "foreignObject"))  # counted in warnings


@dataclass
class _State:
    """What flows down the tree: transform, inherited properties, group opacity, group ids."""

    matrix: np.ndarray
    inherited: dict[str, str]
    opacity: float
    groups: tuple[str, ...]
    in_use: bool  # inside a <use> expansion: ids are copies and are not kept
    use_stack: tuple[int, ...]


def _expanded_size(root: Element, by_id: dict[str, Element], cap: int) -> int:
    """How many elements the tree has once every ``<use>`` is expanded (at most ``cap + 1``).

    A post-order walk over children and ``<use>`` targets with one count per element,
    so it takes time linear in the file even when the expansion is exponential; a
    ``<use>`` that leads back to an element being counted adds nothing (it is not
    drawn). Counts ``<defs>`` content too, so it bounds what :class:`_Walker` visits.
    """
    if next(root.iter(f"{_SVG_NS}use"), None) is None and next(root.iter("use"), None) is None:
        return sum(1 for _ in root.iter())  # nothing to expand: the plain count
    size: dict[int, int] = {}
    open_: set[int] = set()
    stack: list[tuple[Element, bool]] = [(root, False)]
    while stack:
        el, done = stack.pop()
        key = id(el)
        target = None
        if _local(el.tag) == "use":
            href = el.get("href") or el.get(_XLINK_HREF) or ""
            target = by_id.get(href[1:]) if href.startswith("#") else None
        if done:
            n = 1 + sum(size.get(id(c), 0) for c in el)
            if target is not None:
                n += size.get(id(target), 0)
            size[key] = min(n, cap + 1)
            open_.discard(key)
            continue
        if key in size or key in open_:
            continue
        open_.add(key)
        stack.append((el, True))
        stack.extend((c, False) for c in el)
        if target is not None:
            stack.append((target, False))
    return size[id(root)]


class _Walker:
    """Walks an SVG tree, resolving groups, transforms and styles into the Scene's paths."""

    def __init__(self, root: Element, label: str, limits: SvgLimits, vw: float, vh: float) -> None:
        self.label = label
        self.limits = limits
        self.sheet = _stylesheet(root, label, limits)
        self.by_id = {el.get("id"): el for el in root.iter() if el.get("id")}
        expanded = _expanded_size(root, self.by_id, limits.max_elements)
        if expanded > limits.max_elements:
            raise _limit_error(
                f"{label} expands to more than {limits.max_elements} elements (through <use>)",
                "max_elements",
                limits.max_elements,
            )
        self.vw, self.vh = vw, vh
        self.counts: dict[str, int] = {}
        self.visited = 0
        self.segments = 0
        self.style_cache: dict[tuple, dict[str, str]] = {}
        self.style_work = 0
        self.points: list[np.ndarray] = []
        self.sizes: list[int] = []
        self.owner: list[int] = []
        self.colors: list[tuple[float, float, float, float]] = []
        self.evenodd: list[bool] = []
        self.info: list[PathInfo] = []

    def _count(self, kind: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1

    def _sheet_style(self, el: Element, tag: str) -> dict[str, str]:
        """The stylesheet's declarations for ``el``, cached per (tag, classes, id)."""
        if not self.sheet:
            return {}
        el_id = el.get("id")
        key = (
            tag,
            frozenset(el.get("class", "").split()),
            el_id if f"#{el_id}" in self.sheet else None,
        )
        found = self.style_cache.get(key)
        if found is None:
            found, work = _sheet_style(self.sheet, *key)
            self.style_cache[key] = found
            self.style_work += work + 1
            if self.style_work > self.limits.max_style_matches:
                raise _limit_error(
                    f"{self.label} has a <style> too costly to apply (over "
                    f"{self.limits.max_style_matches} rule comparisons)",
                    "max_style_matches",
                    self.limits.max_style_matches,
                )
        return found

    def _too_many_segments(self) -> None:
        raise _limit_error(
            f"{self.label} has more than {self.limits.max_segments} path segments",
            "max_segments",
            self.limits.max_segments,
        )

    def walk(self, el: Element, state: _State, depth: int = 0) -> None:
        if not _is_svg_tag(el.tag):
            return
        self.visited += 1
        if self.visited > self.limits.max_elements:
            raise _limit_error(
                f"{self.label} expands to more than {self.limits.max_elements} elements",
                "max_elements",
                self.limits.max_elements,
            )
        if depth > _MAX_DEPTH:
            raise ClipvgError(
                f"{self.label} nests elements more than {_MAX_DEPTH} levels deep; flatten its groups"
            )
        tag = _local(el.tag)
        if tag not in _CONTAINERS and tag not in _SHAPES and tag != "use" and tag not in _SKIPPED:
            return  # defs, symbol, clipPath, mask, gradients, metadata ...: not rendered
        style = _element_style(el, self._sheet_style(el, tag))
        if style.get("display", "").lower() == "none":
            return
        if tag in _SKIPPED:
            self._count(tag)
            return
        inherited = state.inherited
        own = {k: v for k, v in style.items() if k in _INHERITED and v != "inherit"}
        if own:
            inherited = {**inherited, **own}
        if any(style.get(k, "none").strip() != "none" for k in ("clip-path", "mask")):
            self._count("clip")
        if style.get("filter", "none").strip() != "none":
            self._count("filter")
        matrix = state.matrix
        transform = el.get("transform")
        if transform:
            matrix = matrix @ _matrix(transform)
        opacity = state.opacity * _parse_opacity(style.get("opacity"))
        if tag in _SHAPES:
            self._shape(el, tag, matrix, inherited, opacity, state)
            return
        groups = state.groups
        if tag == "svg" and depth > 0:
            matrix = matrix @ self._nested_svg(el)
        elif tag == "g" and not state.in_use and el.get("id"):
            groups = (*groups, el.get("id"))
        if tag == "use":
            self._use(el, state, matrix, inherited, opacity, depth)
            return
        child_state = _State(matrix, inherited, opacity, groups, state.in_use, state.use_stack)
        for child in el:
            self.walk(child, child_state, depth + 1)

    def _nested_svg(self, el: Element) -> np.ndarray:
        x, y = _num(el.get("x"), self.vw), _num(el.get("y"), self.vh)
        m = _translate(x, y)
        vb = _viewbox(el)
        w, h = _length(el.get("width"), self.vw), _length(el.get("height"), self.vh)
        if vb is not None and vb[2] > 0 and vb[3] > 0:
            m = m @ _viewbox_matrix(vb, w or vb[2], h or vb[3], el.get("preserveAspectRatio"))
        return m

    def _use(
        self, el: Element, state: _State, matrix: np.ndarray, inherited, opacity: float, depth: int
    ) -> None:
        href = el.get("href") or el.get(_XLINK_HREF) or ""
        target = self.by_id.get(href[1:]) if href.startswith("#") else None
        if target is None or id(target) in state.use_stack or id(el) in state.use_stack:
            self._count("use")
            return
        if any(node is el for node in target.iter()):  # the target contains this <use>
            self._count("use")
            return
        matrix = matrix @ _translate(_num(el.get("x"), self.vw), _num(el.get("y"), self.vh))
        child_state = _State(
            matrix, inherited, opacity, state.groups, True, (*state.use_stack, id(el), id(target))
        )
        if _local(target.tag) == "symbol":
            for child in target:
                self.walk(child, child_state, depth + 1)
        else:
            self.walk(target, child_state, depth + 1)

    def _shape(
        self,
        el: Element,
        tag: str,
        matrix: np.ndarray,
        props: dict[str, str],
        opacity: float,
        state: _State,
    ) -> None:
        if props.get("visibility", "visible").lower() in ("hidden", "collapse"):
            return
        fill = props.get("fill", "black").strip()
        if fill.startswith("url("):
            self._count("paint")
            return
        rgba = _parse_color(fill, props.get("color", "black"))
        if rgba is None or tag == "line":
            self._count("unfilled")
            return
        d = _shape_d(el, tag, self.vw, self.vh, self.limits.max_segments - self.segments)
        if not d:
            return
        contours, bad = _path_contours(
            d, self.limits.max_segments - self.segments, self._too_many_segments
        )
        if bad:
            self._count("bad_data")
        if not contours:
            return
        stroke = props.get("stroke", "none").strip()
        if stroke.lower() != "none" and _length(props.get("stroke-width", "1"), self.vw) != 0:
            self._count("stroke")
        index = len(self.colors)
        if index >= self.limits.max_paths:
            raise _limit_error(
                f"{self.label} has more than {self.limits.max_paths} filled paths",
                "max_paths",
                self.limits.max_paths,
            )
        bound = self.limits.max_coordinate
        for c in contours:
            pts = np.asarray(c, dtype=np.float64).reshape(-1, 2)
            with np.errstate(all="ignore"):  # overflow shows up as inf, checked below
                pts = pts @ matrix[:2, :2].T + matrix[:2, 2]
                ok = bool((np.abs(pts) <= bound).all())  # False for NaN too
            if not ok:
                raise ClipvgError(
                    f"{self.label} has paths with infinite or NaN coordinates, or beyond "
                    f"{bound:g} px after transforms (the limit max_coordinate); fix the path "
                    "data or transforms"
                )
            self.points.append(pts)
            self.sizes.append(pts.shape[0])
            self.segments += pts.shape[0] // 3
            self.owner.append(index)
        alpha = rgba[3] * opacity * _parse_opacity(props.get("fill-opacity"))
        self.colors.append((rgba[0], rgba[1], rgba[2], alpha))
        self.evenodd.append(props.get("fill-rule", "nonzero").strip().lower() == "evenodd")
        self.info.append(PathInfo(id=None if state.in_use else el.get("id"), groups=state.groups))


def _scene_from_walk(
    walk: _Walker, width: float | None, height: float | None, label: str, limits: SvgLimits
) -> Scene:
    points = np.concatenate(walk.points) if walk.points else np.zeros((0, 2))
    if not np.isfinite(points).all():
        raise ClipvgError(f"{label} has paths with infinite or NaN coordinates; fix the path data")
    if width is None or height is None:
        extent = np.ceil(points.max(0)) if len(points) else np.array([300.0, 150.0])
        width = width if width is not None else max(float(extent[0]), 1.0)
        height = height if height is not None else max(float(extent[1]), 1.0)
        warnings.warn(
            f"{label} has no width/height or viewBox; using the content's extent {width:g} x {height:g}",
            stacklevel=4,
        )
    if max(width, height) > limits.max_canvas_side:
        raise _limit_error(
            f"{label} has a {width:g} x {height:g} canvas",
            "max_canvas_side",
            limits.max_canvas_side,
        )
    n = len(walk.colors)
    return Scene(
        width=float(width),
        height=float(height),
        points=torch.from_numpy(points.astype(np.float32)),
        colors=torch.tensor(walk.colors, dtype=torch.float32).reshape(n, 4),
        contour_sizes=torch.tensor(walk.sizes, dtype=torch.int64),
        contour_path=torch.tensor(walk.owner, dtype=torch.int64),
        evenodd=torch.tensor(walk.evenodd, dtype=torch.bool),
        info=walk.info,
    )


def _scene_from_bytes(data: bytes, label: str, limits: SvgLimits) -> Scene:
    if len(data) > limits.max_file_bytes:
        raise _limit_error(f"{label} is {len(data)} bytes", "max_file_bytes", limits.max_file_bytes)
    if data[:2] == b"\x1f\x8b":
        data = _decompress(data, label, limits)
    root = _parse_xml(data, label, limits)
    width, height, vb_matrix = _canvas(root, label)
    if width is not None and height is not None and max(width, height) > limits.max_canvas_side:
        raise _limit_error(
            f"{label} has a {width:g} x {height:g} canvas",
            "max_canvas_side",
            limits.max_canvas_side,
        )
    vb = _viewbox(root)
    vw, vh = (vb[2], vb[3]) if vb else (width or 300.0, height or 150.0)
    walker = _Walker(root, label, limits, vw, vh)
    state = _State(vb_matrix, {}, 1.0, (), False, ())
    with np.errstate(all="ignore"):  # overflowing transforms give inf, refused per path
        walker.walk(root, state)
    scene = _scene_from_walk(walker, width, height, label, limits)
    _emit_warnings(walker.counts)
    return scene


# ---- public import API --------------------------------------------------------------------
def load_svg(path: str | os.PathLike, *, limits: SvgLimits | None = None) -> Scene:
    """Load an SVG (or gzipped .svgz) file as a Scene of filled closed cubic paths.

    Args:
        path: the file to read.
        limits: refusal thresholds (canvas side, path count, file size); defaults when None.

    Returns:
        A :class:`Scene` in canvas pixels: the canvas is ``width x height`` in px (the
        viewBox size when the root has no width/height) and every transform is baked
        into ``points`` (P, 2) float32. Colors are straight RGBA in [0, 1].

    Raises:
        ClipvgError: missing/unreadable file, not SVG, malformed XML, XML entities or
            external references, or a limit exceeded.

    Example:
        >>> scene = load_svg("drawing.svg")  # doctest: +SKIP
    """
    limits = limits or SvgLimits()
    data = _read_source(path, limits)
    return _scene_from_bytes(data, str(path), limits)


def parse_svg_string(text: str | bytes, *, limits: SvgLimits | None = None) -> Scene:
    """Like :func:`load_svg`, from SVG text (str, or bytes in the declared encoding)."""
    limits = limits or SvgLimits()
    if isinstance(text, str):
        # An encoding declaration would contradict the UTF-8 bytes handed to expat.
        text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text, count=1).encode("utf-8")
    elif not isinstance(text, (bytes, bytearray)):
        raise ClipvgError(f"expected SVG text as str or bytes, got {type(text).__name__}")
    return _scene_from_bytes(bytes(text), "the SVG text", limits)


# ---- export -------------------------------------------------------------------------------
_TRAILING_ZEROS = re.compile(r"\.?0+(?= |$)")


def _fmt(values: np.ndarray) -> str:
    """Numbers -> space-separated text with 4 decimals, trailing zeros stripped."""
    # adding +0.0 turns -0.0 into 0.0
    rounded = np.round(np.asarray(values, dtype=np.float64).ravel(), 4) + 0.0
    text = " ".join(f"{v:.4f}" for v in rounded.tolist())
    return _TRAILING_ZEROS.sub("", text)


def _fmt_exact(values: np.ndarray) -> str:
    """float32 numbers -> the shortest text that reads back as the same float32."""
    flat = np.asarray(values, dtype=np.float32).ravel() + np.float32(0.0)
    return " ".join(np.format_float_positional(v, unique=True, trim="-") for v in flat)


def _path_d(points: np.ndarray, sizes: list[int], fmt=_fmt) -> str:
    parts = []
    start = 0
    for size in sizes:
        c = points[start : start + size]
        start += size
        ring = np.concatenate([c[1:], c[:1]])  # c0a c0b p1 ... c(n-1)a c(n-1)b p0
        parts.append(f"M{fmt(c[0])}C{fmt(ring)}Z")
    return "".join(parts)


def _unique(name: str | None, used: set[str]) -> str | None:
    if not name:
        return None
    candidate, k = name, 1
    while candidate in used:
        k += 1
        candidate = f"{name}-{k}"
    used.add(candidate)
    return candidate


def scene_to_svg_string(scene: Scene, exact: Sequence[bool] | torch.Tensor | None = None) -> str:
    """Write ``scene`` as SVG text (svgwrite): one ``<path>`` per scene path.

    ``exact``: (N,) flags of paths whose coordinates and fill-opacity are written with
    as many digits as it takes to read back the same float32 values (the local
    editor uses this for the paths it must leave untouched; RGB stays 8-bit).

    Coordinates have 4 decimals (re-import is within 1e-4 px); colors are written as
    ``rgb(r,g,b)`` with 0-255 ints plus ``fill-opacity`` (omitted when 1), so re-import
    is within 1/255. ``<g id>`` nesting is rebuilt from ``PathInfo.groups``;
    consecutive paths sharing a group prefix share the ``<g>`` element. Duplicate ids
    get a ``-2``, ``-3`` ... suffix so the document stays valid.
    """
    import svgwrite

    if not isinstance(scene, Scene):
        raise ClipvgError(f"expected a Scene, got {type(scene).__name__}")
    points32 = scene.points.detach().cpu().float().numpy()
    points = points32.astype(np.float64)
    exact_flags = [False] * scene.num_paths if exact is None else [bool(e) for e in exact]
    if len(exact_flags) != scene.num_paths:
        raise ClipvgError(f"exact flags: expected {scene.num_paths}, got {len(exact_flags)}")
    alpha32 = scene.colors.detach().cpu().float().clamp(0, 1)[:, 3].numpy()
    if not np.isfinite(points).all():
        raise ClipvgError("the scene has infinite or NaN coordinates; it cannot be written as SVG")
    colors = scene.colors.detach().cpu().double().clamp(0, 1).numpy()
    rgb = np.rint(colors[:, :3] * 255).astype(int).tolist()
    alpha = colors[:, 3].tolist()
    evenodd = scene.evenodd.cpu().tolist()
    sizes = scene.contour_sizes.cpu().tolist()
    owner = scene.contour_path.cpu().tolist()
    path_sizes: list[list[int]] = [[] for _ in range(scene.num_paths)]
    for size, p in zip(sizes, owner, strict=True):
        path_sizes[p].append(size)

    w, h = _fmt(np.array([scene.width])), _fmt(np.array([scene.height]))
    dwg = svgwrite.Drawing(size=(w, h), viewBox=f"0 0 {w} {h}", debug=False)
    used: set[str] = set()
    stack: list[tuple[str, object]] = []  # open <g> elements: (source id, element)
    start = 0
    for i in range(scene.num_paths):
        n_points = sum(path_sizes[i])
        groups = scene.info[i].groups if i < len(scene.info) else ()
        keep = 0
        while keep < min(len(stack), len(groups)) and stack[keep][0] == groups[keep]:
            keep += 1
        del stack[keep:]
        for gid in groups[keep:]:
            g = dwg.g(id=_unique(gid, used)) if gid else dwg.g()
            (stack[-1][1] if stack else dwg).add(g)
            stack.append((gid, g))
        attrs: dict[str, object] = {"fill": "rgb({},{},{})".format(*rgb[i])}
        if exact_flags[i]:
            if alpha32[i] != 1:
                attrs["fill_opacity"] = _fmt_exact(alpha32[i : i + 1])
        elif alpha[i] < 0.99995:
            attrs["fill_opacity"] = _fmt(np.array([alpha[i]]))
        if evenodd[i]:
            attrs["fill_rule"] = "evenodd"
        pid = _unique(scene.info[i].id if i < len(scene.info) else None, used)
        if pid:
            attrs["id"] = pid
        if exact_flags[i]:
            d = _path_d(points32[start : start + n_points], path_sizes[i], _fmt_exact)
        else:
            d = _path_d(points[start : start + n_points], path_sizes[i])
        path = dwg.path(d=d, **attrs)
        (stack[-1][1] if stack else dwg).add(path)
        start += n_points
    out = io.StringIO()
    dwg.write(out, pretty=False)
    return out.getvalue() + "\n"


def save_svg(
    scene: Scene, path: str | os.PathLike, exact: Sequence[bool] | torch.Tensor | None = None
) -> None:
    """Write ``scene`` to ``path`` as SVG, whole (temp file, then rename).

    ``exact``: see :func:`scene_to_svg_string`.

    Raises:
        ClipvgError: the output folder does not exist, or the scene cannot be written.
    """
    write_text(scene_to_svg_string(scene, exact), path)

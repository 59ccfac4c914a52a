"""``<text>`` -> glyph outlines in the text's user space (horizontal, left to right).

What is laid out, as resvg does: the character data of ``<text>``, ``<tspan>``,
``<a>`` and ``<tref>`` (the referenced element's characters), whitespace processed
per ``xml:space`` (newlines and tabs become spaces; ``default`` collapses runs of
spaces across spans and trims the ends); ``x``/``y``/``dx``/``dy`` lists per
character; text chunks (a new absolute ``x`` or ``y``) aligned by ``text-anchor``;
``font-family`` (generic families mapped to installed fonts, a missing family
replaced by a common sans and named in a warning), ``font-size``, ``font-weight``,
``font-style``, ``letter-spacing`` and ``word-spacing``; shaping (kerning, ligatures)
with **uharfbuzz**. ``display: none`` spans are left out, ``visibility: hidden``
ones take their space but draw nothing.

What is not (the text is counted as not editable and left out): ``<textPath>``,
vertical ``writing-mode``, right-to-left text (``direction: rtl`` or RTL
characters), per-character ``rotate``. Baseline shifts and text decoration are
ignored.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element

import numpy as np

from ..fonts import Font, FontLibrary
from .css import INHERITED
from .geometry import font_size, length
from .gradient import href_of
from .limits import SvgLimits, limit_error
from .source import is_svg_tag, local_name

XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"
#: Elements whose characters a ``<text>`` lays out.
SPANS = frozenset(("tspan", "a", "tref"))
_WEIGHTS = {"normal": 400, "bold": 700}
_SPLIT = re.compile(r"[\s,]+")


class Unsupported(Exception):
    """Text clipvg cannot lay out (internal: the text is counted and left out)."""


@dataclass
class Span:
    """One span's glyphs: contours per glyph, closed cubic chains (3n, 2) float64 in
    the text's user space; ``props`` its cascaded properties (paint, stroke)."""

    element: Element
    props: dict[str, str]
    size: float
    visible: bool
    glyphs: list[list[np.ndarray]] = field(default_factory=list)


@dataclass
class TextLayout:
    spans: list[Span]  # runs of glyphs in document order (a span split by a child is twice)
    #: (x, y, w, h) of the glyph cells (advances by the fonts' ascent to descent):
    #: what resvg takes as a text's objectBoundingBox.
    bbox: tuple[float, float, float, float] | None


@dataclass
class _Char:
    char: str
    span: int  # index into the spans
    chain: tuple[Element, ...]  # the span elements it is in, outermost (the <text>) first
    preserve: bool  # laid out under xml:space="preserve" (not trimmed)


class TextLayouter:
    """Lays out ``<text>`` elements of one document.

    Args:
        style_of: an element's declared properties.
        parent_of: an element's parent (for ``xml:space`` on ancestors).
        by_id: the document's elements by id (``<tref>`` targets).
        fonts: returns the library fonts are looked up in (called when first needed).
        limits: characters count against ``max_elements`` (all texts together).
        label: the file's name, for error messages.

    ``substitutions`` collects the families that were not installed and the family
    drawn instead, for one warning.
    """

    def __init__(
        self,
        style_of: Callable[[Element], dict[str, str]],
        parent_of: Callable[[Element], Element | None],
        by_id: dict[str, Element],
        fonts: Callable[[], FontLibrary],
        limits: SvgLimits,
        label: str,
    ) -> None:
        self.style_of = style_of
        self.parent_of = parent_of
        self.by_id = by_id
        self._fonts = fonts
        self.limits = limits
        self.label = label
        self.characters = 0
        self.substitutions: dict[str, str] = {}  # asked family -> the font used instead
        self._font_cache: dict[tuple, Font] = {}

    # ---- collecting characters ------------------------------------------------------
    def lay_out(
        self, el: Element, props: dict[str, str], size: float, viewport: tuple[float, float]
    ) -> TextLayout:
        """``el``'s glyphs. ``props``: its cascaded properties; ``size``: its font size.

        Raises:
            Unsupported: text clipvg does not lay out.
            ClipvgError: more characters than ``limits.max_elements`` in the file.
        """
        spans: list[Span] = []
        chars: list[_Char] = []
        preserve = self._space(el) == "preserve"
        self._collect(el, props, size, (el,), preserve, spans, chars)
        while chars and chars[-1].char == " " and not chars[-1].preserve:
            chars.pop()
        self.characters += len(chars)
        if self.characters > self.limits.max_elements:
            raise limit_error(
                f"{self.label} has more than {self.limits.max_elements} elements and text "
                "characters",
                "max_elements",
                self.limits.max_elements,
            )
        if any(unicodedata.bidirectional(c.char) in ("R", "AL", "RLE", "RLO") for c in chars):
            raise Unsupported("right-to-left")
        return self._place(spans, chars, viewport)

    def _collect(self, el, props, size, chain, preserve, spans, chars) -> None:
        style = self.style_of(el)
        writing = style.get("writing-mode", props.get("writing-mode", "")).strip()
        if writing.startswith(("tb", "vertical")) or props.get("direction", "").strip() == "rtl":
            raise Unsupported("vertical or right-to-left")
        if any(el.get(name) is not None for name in ("rotate", "textLength")):
            raise Unsupported("rotate")
        visible = props.get("visibility", "visible").strip() not in ("hidden", "collapse")
        spans.append(Span(el, props, size, visible))
        index = len(spans) - 1
        if local_name(el.tag) == "tref":
            target = self.by_id.get(href_of(el) or "")
            text = "".join(target.itertext()) if target is not None else ""
            self._add(text, index, chain, preserve, chars)
            return
        self._add(el.text, index, chain, preserve, chars)
        for child in el:
            tag = local_name(child.tag)
            if is_svg_tag(child.tag) and tag == "textPath":
                raise Unsupported("textPath")
            if is_svg_tag(child.tag) and tag in SPANS:
                child_style = self.style_of(child)
                if child_style.get("display", "").strip() != "none":
                    own = {
                        k: v for k, v in child_style.items() if k in INHERITED and v != "inherit"
                    }
                    child_props = {**props, **own}
                    child_size = font_size(child_style.get("font-size"), size)
                    space = child.get(XML_SPACE)
                    child_preserve = preserve if space is None else space == "preserve"
                    self._collect(
                        child,
                        child_props,
                        child_size,
                        (*chain, child),
                        child_preserve,
                        spans,
                        chars,
                    )
            self._add(child.tail, index, chain, preserve, chars)

    @staticmethod
    def _add(text: str | None, span: int, chain, preserve: bool, chars: list[_Char]) -> None:
        for c in text or "":
            if c in "\r\n\t":
                c = " "
            if c == " " and not preserve and (not chars or chars[-1].char == " "):
                continue  # collapsed, or leading
            chars.append(_Char(c, span, chain, preserve))

    def _space(self, el: Element) -> str:
        node: Element | None = el
        while node is not None:
            value = node.get(XML_SPACE)
            if value is not None:
                return value.strip()
            node = self.parent_of(node)
        return "default"

    # ---- fonts ----------------------------------------------------------------------
    def font(self, props: dict[str, str]) -> Font:
        families = [
            f.strip().strip("'\"").strip()
            for f in props.get("font-family", "serif").split(",")
            if f.strip()
        ]
        raw = props.get("font-weight", "normal").strip()
        weight = _WEIGHTS.get(raw) or (
            int(raw) if raw.isdigit() else 700 if raw == "bolder" else 400
        )
        italic = props.get("font-style", "normal").strip() in ("italic", "oblique")
        key = (tuple(families), weight, italic)
        found = self._font_cache.get(key)
        if found is None:
            library = self._fonts()
            found = library.match(families, weight, italic)
            if found is None:
                found = library.fallback(weight, italic)
                self.substitutions[", ".join(families) or "(none)"] = found.face.family
            self._font_cache[key] = found
        return found

    # ---- placing glyphs -------------------------------------------------------------
    def _place(
        self, spans: list[Span], chars: list[_Char], viewport: tuple[float, float]
    ) -> TextLayout:
        n = len(chars)
        xs, ys, dxs, dys = self._positions(chars, spans, viewport)
        fonts = [self.font(s.props) for s in spans]
        pen_x = pen_y = 0.0
        boxes: list[tuple[float, float, float, float]] = []  # glyph cells: x0, y0, x1, y1
        runs: list[tuple[int, Span]] = []  # consecutive glyphs of one span
        i = 0
        while i < n:
            end = i + 1
            while end < n and xs[end] is None and ys[end] is None:
                end += 1
            pen_x = xs[i] if xs[i] is not None else pen_x
            pen_y = ys[i] if ys[i] is not None else pen_y
            start_x = pen_x
            placed: list[tuple[int, list[np.ndarray]]] = []
            cells: list[tuple[float, float, float, float]] = []
            k = i
            while k < end:  # runs of one span (one font and size)
                run_end = k + 1
                while run_end < end and chars[run_end].span == chars[k].span:
                    run_end += 1
                pen_x, pen_y = self._run(
                    chars, k, run_end, spans, fonts, dxs, dys, pen_x, pen_y, placed, cells
                )
                k = run_end
            anchor = spans[chars[i].span].props.get("text-anchor", "start").strip()
            shift = {"middle": 0.5, "end": 1.0}.get(anchor, 0.0) * (pen_x - start_x)
            for span, contours in placed:
                if shift:
                    contours = [c - (shift, 0.0) for c in contours]
                if not runs or runs[-1][0] != span:  # glyphs in paint (document) order
                    src = spans[span]
                    runs.append((span, Span(src.element, src.props, src.size, src.visible)))
                runs[-1][1].glyphs.append(contours)
            boxes += [(b[0] - shift, b[1], b[2] - shift, b[3]) for b in cells]
            i = end
        bbox = None
        if boxes:
            b = np.array(boxes)
            x0, y0, x1, y1 = b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()
            bbox = (float(x0), float(y0), float(x1 - x0), float(y1 - y0))
        return TextLayout([run for _, run in runs], bbox)

    def _run(self, chars, start, end, spans, fonts, dxs, dys, pen_x, pen_y, placed, cells):
        """Shape ``chars[start:end]`` (one span) and place its glyphs from the pen;
        ``cells`` gets each glyph's layout cell (advance by ascent to descent)."""
        import uharfbuzz as hb

        span = spans[chars[start].span]
        font = fonts[chars[start].span]
        text = [c.char for c in chars[start:end]]
        if not all(font.has(c) or c == " " for c in text):  # a fallback for what it lacks
            other = self._fonts().covering(next(c for c in text if not font.has(c) and c != " "))
            font = (
                other if other is not None and all(other.has(c) or c == " " for c in text) else font
            )
        scale = span.size / font.units_per_em
        letter = _spacing(span.props.get("letter-spacing"), span.size)
        word = _spacing(span.props.get("word-spacing"), span.size)
        buf = hb.Buffer()
        buf.add_codepoints([ord(c) for c in text])
        buf.direction = "ltr"
        buf.guess_segment_properties()
        hb.shape(font.hb_font, buf, {"kern": True, "liga": True})
        clusters: dict[int, list[tuple[int, object]]] = {}
        for info, pos in zip(buf.glyph_infos, buf.glyph_positions, strict=True):
            clusters.setdefault(info.cluster, []).append((info.codepoint, pos))
        order = sorted(clusters)
        bounds = [*order[1:], len(text)]
        for c, nxt in zip(order, bounds, strict=True):
            for k in range(c, nxt):  # dx/dy of every character of the cluster
                pen_x += dxs[start + k]
                pen_y += dys[start + k]
            for gid, pos in clusters[c]:
                gx = pen_x + pos.x_offset * scale
                gy = pen_y - pos.y_offset * scale
                outline = font.outline(gid)
                if outline:
                    placed.append(
                        (
                            chars[start].span,
                            [
                                np.stack([gx + o[:, 0] * scale, gy - o[:, 1] * scale], 1)
                                for o in outline
                            ],
                        )
                    )
                advance = pos.x_advance * scale
                cells.append(
                    (gx, gy - font.ascent * scale, gx + advance, gy - font.descent * scale)
                )
                pen_x += advance
                pen_y -= pos.y_advance * scale
            pen_x += letter + (word if text[c] in (" ", "\u00a0") else 0.0)
        return pen_x, pen_y

    def _positions(self, chars: list[_Char], spans: list[Span], viewport: tuple[float, float]):
        """Per character: absolute x, y (None where not given) and dx, dy (0 where not)."""
        n = len(chars)
        xs: list[float | None] = [None] * n
        ys: list[float | None] = [None] * n
        dxs, dys = [0.0] * n, [0.0] * n
        sizes = {id(s.element): s.size for s in spans}
        lists: dict[tuple[int, str], list[float]] = {}
        counts: dict[int, int] = {}
        for i, ch in enumerate(chars):
            for el in ch.chain:
                k = counts.get(id(el), 0)
                counts[id(el)] = k + 1
                for name, out, rel in (
                    ("x", xs, viewport[0]),
                    ("y", ys, viewport[1]),
                    ("dx", dxs, viewport[0]),
                    ("dy", dys, viewport[1]),
                ):
                    key = (id(el), name)
                    if key not in lists:
                        lists[key] = _length_list(el.get(name), rel, sizes.get(id(el), 16.0))
                    values = lists[key]
                    if k < len(values):  # the innermost element that has one wins
                        out[i] = values[k]
        return xs, ys, dxs, dys


def _length_list(value: str | None, relative: float, size: float) -> list[float]:
    if value is None or not value.strip():
        return []
    out = []
    for item in _SPLIT.split(value.strip()):
        x = length(item, relative, size)
        if x is None:
            return out
        out.append(x)
    return out


def _spacing(value: str | None, size: float) -> float:
    if value is None or value.strip() in ("normal", ""):
        return 0.0
    x = length(value.strip(), size, size)
    return x if x is not None else 0.0

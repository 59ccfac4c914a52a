"""A painted element (a shape, or a text span's glyphs) -> scene paths.

Fill and stroke paints are resolved here: flat colours and gradients go on the
paths; a pattern paint (:mod:`.pattern`) becomes a group clipped to the region it
paints (the fill area, or the stroke outline from **skia-pathops**) holding the
repeated tile content, placed before or after the paths by ``paint-order``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Protocol
from xml.etree.ElementTree import Element

import numpy as np

from ..fonts import CubicPen
from ..scene import PathInfo
from .build import PathSpec, SceneBuilder
from .clip import CLIP_ALL, ClipResolver
from .geometry import DEFAULT_FONT_SIZE, font_size
from .gradient import GradientResolver, Paint, parse_url
from .paint import parse_color, parse_opacity
from .pattern import PatternResolver, Tiles, is_pattern
from .stroke import StrokeStyle, stroke_first, stroke_style
from .text import TextLayouter, Unsupported

_CAPS = ("butt", "round", "square")
_JOINS = ("miter", "round", "bevel")


@dataclass
class Outline:
    """One scene path's geometry: canvas contours (closed (3n, 2) or open (3n + 1, 2))."""

    contours: list[np.ndarray]
    closed: list[bool]
    info: PathInfo


class Host(Protocol):
    """What painting needs from the tree walk (:class:`~.walk.Walker`)."""

    by_id: dict[str, Element]
    parent: dict[int, Element]
    builder: SceneBuilder
    gradients: GradientResolver
    patterns: PatternResolver
    clips: ClipResolver
    texts: TextLayouter
    extents: list[tuple[int, list[np.ndarray], list[bool]]]
    tile_paths: list[tuple[int, int]]
    vw: float
    vh: float

    def style(self, el: Element) -> dict[str, str]: ...
    def cascaded(self, el: Element) -> dict[str, str]: ...
    def count(self, kind: str, n: int = 1) -> None: ...
    def check_paths(self, more: int = 1) -> None: ...
    def to_canvas(self, local: list[np.ndarray], matrix: np.ndarray) -> list[np.ndarray]: ...
    def drop_since(self, first: int) -> None: ...


def paint_outlines(
    host: Host,
    outlines: list[Outline],
    props: dict[str, str],
    bbox: tuple[float, float, float, float] | None,
    matrix: np.ndarray,
    state,
    *,
    opacity: float = 1.0,
    clip: int = -1,
    has_fill: bool = True,
    fold: bool = False,
) -> None:
    """Append ``outlines`` painted with ``props`` (cascaded fill, stroke...) to the scene.

    Args:
        bbox: the paint's objectBoundingBox (x, y, w, h) in the user space of ``matrix``.
        matrix: (3, 3) that user space -> canvas.
        state: the walk's state (group, font size, viewport).
        opacity, clip: the element's own (a group when a pattern needs one).
        has_fill: False for ``<line>``.
        fold: gradients in objectBoundingBox units get the box folded in (a paint
            shared by several paths, such as a text's glyphs).
    """
    color = props.get("color", "black")
    fill = _paint(host, props.get("fill", "black"), color, bbox, matrix, fold) if has_fill else None
    stroke = _paint(host, props.get("stroke", "none"), color, bbox, matrix, fold)
    scale = math.sqrt(abs(float(np.linalg.det(matrix[:2, :2]))))
    vw, vh = state.viewport or (host.vw, host.vh)
    style = stroke_style(
        props,
        scale if math.isfinite(scale) else 1.0,
        math.hypot(vw, vh) / math.sqrt(2.0),
        state.font_size,
    )
    evenodd = props.get("fill-rule", "nonzero").strip().lower() == "evenodd"
    fill_opacity = parse_opacity(props.get("fill-opacity"))
    stroke_opacity = parse_opacity(props.get("stroke-opacity"))
    first = stroke_first(props)

    def paths(fill: Paint, stroke: Paint, opacity: float, clip: int, group: int) -> None:
        for o in outlines:
            host.builder.paths.append(
                PathSpec(
                    o.contours,
                    o.closed,
                    fill,
                    fill_opacity,
                    evenodd,
                    stroke,
                    stroke_opacity,
                    style,
                    first,
                    opacity,
                    clip,
                    group,
                    o.info,
                )
            )

    if not isinstance(fill, Tiles) and not isinstance(stroke, Tiles):
        paths(fill, stroke, opacity, clip, state.group)  # kept even without paint (its id)
        return
    group = state.group
    if opacity < 1 or clip >= 0:
        group = host.builder.add_group(state.group, opacity, clip)
    host.extents += [(len(host.builder.paths), o.contours, o.closed) for o in outlines]
    plain = (
        None if isinstance(fill, Tiles) else fill,
        None if isinstance(stroke, Tiles) else stroke,
    )
    order = [("stroke", stroke), ("fill", fill)] if first else [("fill", fill), ("stroke", stroke)]
    drawn = False
    for part, paint in order:
        if isinstance(paint, Tiles):
            if part == "fill":
                region = [(o.contours, o.closed, evenodd) for o in outlines]
                alpha = fill_opacity
            else:
                region = [
                    (stroke_outline(o.contours, o.closed, style), None, False) for o in outlines
                ]
                alpha = stroke_opacity
            region = [r for r in region if r[0]]
            if region:
                _draw_pattern(host, paint, region, alpha, group, state)
        elif not drawn and (plain[0] is not None or plain[1] is not None):
            paths(*plain, 1.0, -1, group)
            drawn = True


def _paint(host: Host, value: str, color: str, bbox, matrix: np.ndarray, fold: bool):
    """A fill/stroke value -> None, RGBA, a Gradient, or the :class:`Tiles` of a pattern."""
    url = parse_url(value)
    target = host.by_id.get(url[0]) if url is not None else None
    if is_pattern(target):
        tiles = host.patterns.tiles(target, bbox, matrix)
        if tiles is not None:
            return tiles
        return parse_color(url[1], color) if url[1] else None
    return host.gradients.paint(value, color, bbox, matrix, fold)


def _draw_pattern(host: Host, tiles: Tiles, region, opacity: float, parent: int, state) -> None:
    contours = [c for r in region for c in r[0]]
    shapes = [(r[0], r[1] or [True] * len(r[0]), r[2]) for r in region]
    clip = host.clips.paths(shapes)
    group = host.builder.add_group(parent, opacity, clip)
    start = len(host.builder.paths)
    drawn = host.patterns.draw(
        tiles,
        contours,
        _with_group(state, group),
        lambda box, m, g: host.builder.add_group(g, 1.0, host.clips.rect(box, m)),
    )
    host.tile_paths.append((start, len(host.builder.paths)))
    if not drawn:
        host.builder.group_opacity[group] = 0.0


def _with_group(state, group: int):
    return replace(state, group=group)


def stroke_outline(
    contours: list[np.ndarray], closed: list[bool], style: StrokeStyle
) -> list[np.ndarray]:
    """The area a stroke covers, as closed cubic contours (3n, 2) in canvas px
    (skia-pathops; dashes included), nonzero fill."""
    import pathops

    if not style.width > 0:
        return []
    path = pathops.Path()
    for pts, is_closed in zip(contours, closed, strict=True):
        pts = np.asarray(pts, dtype=np.float64)
        path.moveTo(*pts[0])
        n = pts.shape[0] // 3
        for k in range(n):
            c1, c2 = pts[3 * k + 1], pts[3 * k + 2]
            end = pts[(3 * k + 3) % pts.shape[0]] if is_closed else pts[3 * k + 3]
            path.cubicTo(*c1, *c2, *end)
        if is_closed:
            path.close()
    dashes = list(style.dashes) if style.dashes else None
    if dashes and len(dashes) % 2:
        dashes = dashes * 2
    path.stroke(
        style.width,
        getattr(pathops.LineCap, f"{_CAPS[style.linecap].upper()}_CAP"),
        getattr(pathops.LineJoin, f"{_JOINS[style.linejoin].upper()}_JOIN"),
        style.miter_limit,
        dashes,
        style.dash_offset,
    )
    pen = CubicPen()
    path.draw(pen)
    return [np.asarray(c, dtype=np.float64) for c in pen.contours]


def paint_text(
    host: Host,
    el: Element,
    matrix: np.ndarray,
    props: dict[str, str],
    opacity: float,
    clip_ref,
    state,
) -> None:
    """A ``<text>`` -> one group (the text's id, opacity and clip) of glyph paths, one
    a glyph, each span with its paint; objectBoundingBox paints use the whole text's
    box. Text that cannot be laid out is counted as not editable."""
    try:
        layout = host.texts.lay_out(
            el, props, state.font_size, state.viewport or (host.vw, host.vh)
        )
    except Unsupported:
        host.count("text")
        return
    first = len(host.builder.paths)
    if not layout.spans:
        return
    gid = None if state.in_use else el.get("id")
    group = host.builder.add_group(state.group, opacity, -1, gid)
    groups = (*state.groups, gid) if gid else state.groups
    inner = replace(state, group=group, groups=groups)
    for span in layout.spans:
        if not span.visible:  # not drawn, but in its group's box (as resvg does)
            for glyph in span.glyphs:
                host.extents.append((first, host.to_canvas(glyph, matrix), [True] * len(glyph)))
            continue
        host.check_paths(len(span.glyphs))
        outlines = [
            Outline(host.to_canvas(glyph, matrix), [True] * len(glyph), PathInfo(None, groups))
            for glyph in span.glyphs
        ]
        paint_outlines(
            host,
            outlines,
            span.props,
            layout.bbox,
            matrix,
            replace(inner, font_size=span.size),
            fold=True,
        )
    clip = host.clips.resolve(clip_ref, matrix, layout.bbox)
    if clip == CLIP_ALL:
        host.drop_since(first)
    elif clip >= 0:
        host.builder.group_clip[group] = clip


def text_clip_shapes(host: Host, el: Element, matrix: np.ndarray):
    """A ``<text>`` inside a ``<clipPath>`` -> (canvas contours, closed, evenodd) per
    visible glyph, with its span's ``clip-rule``; [] when it cannot be laid out."""
    chain, node = [], el
    while node is not None:
        chain.append(node)
        node = host.parent.get(id(node))
    size = DEFAULT_FONT_SIZE
    for node in reversed(chain):
        size = font_size(host.style(node).get("font-size"), size)
    props = host.cascaded(el)
    if props.get("display", "").strip() == "none":
        return []
    try:
        layout = host.texts.lay_out(el, props, size, (host.vw, host.vh))
    except Unsupported:
        host.count("text")
        return []
    out = []
    for span in layout.spans:
        if span.visible:
            evenodd = span.props.get("clip-rule", "nonzero").strip() == "evenodd"
            for glyph in span.glyphs:
                out.append((host.to_canvas(glyph, matrix), [True] * len(glyph), evenodd))
    return out

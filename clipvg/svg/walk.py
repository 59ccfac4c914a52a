"""The tree walk: resolved elements -> a Scene (styles cascaded, transforms baked).

Every shape becomes one scene path in paint order, with its fill and stroke paint
(flat or gradient, see :mod:`.gradient`), its stroke state (:mod:`.stroke`), its
``opacity``, its clip (:mod:`.clip`) and the innermost enclosing group. Every
``<g>`` becomes a row of the group table (id, ``inkscape:label``, Inkscape's
layer attributes, opacity, clip); other containers (``<use>``, ``<a>``, nested
``<svg>``) only when they carry an opacity or a clip.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from xml.etree.ElementTree import Element

import numpy as np

from ..errors import ClipvgError
from ..fonts import system_fonts
from ..scene import PathInfo, Scene
from .build import PathSpec, SceneBuilder
from .clip import CLIP_ALL, ClipResolver
from .css import INHERITED, element_style, match_rules, stylesheet
from .geometry import (
    DEFAULT_FONT_SIZE,
    font_size,
    length,
    length_or,
    parse_transform,
    translate,
    viewbox,
    viewbox_matrix,
)
from .gradient import GradientResolver, href_of, parse_url
from .limits import SvgLimits, limit_error
from .paint import parse_color, parse_opacity
from .painted import Outline, paint_outlines, paint_text, text_clip_shapes
from .pathdata import exact_bounds, path_contours, rect_contour, shape_d
from .pattern import PatternResolver
from .source import SVG_NS, is_svg_tag, local_name
from .text import TextLayouter

MAX_DEPTH = 256
INKSCAPE = "{http://www.inkscape.org/namespaces/inkscape}"
SODIPODI = "{http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd}"

CONTAINERS = frozenset(("g", "a", "switch", "svg"))
SHAPES = frozenset(("path", "rect", "circle", "ellipse", "polygon", "polyline", "line"))
SKIPPED = frozenset(("image", "foreignObject"))  # counted in warnings
_DRAWN = CONTAINERS | SHAPES | SKIPPED | {"use", "text"}
_MARKABLE = frozenset(("path", "line", "polyline", "polygon"))
_PAINTS = frozenset(("fill", "stroke"))


def _valid_paint(value: str) -> bool:
    """Whether a ``fill``/``stroke`` value is valid CSS; an invalid one is ignored and
    the inherited value applies."""
    value = value.strip()
    url = parse_url(value)
    if url is not None:
        value = url[1]  # the fallback, if any, must be valid too
        if not value:
            return True
    return value in ("none", "currentColor") or parse_color(value, "black") is not None


@dataclass
class State:
    """What flows down the tree: transform, inherited properties, enclosing groups."""

    matrix: np.ndarray
    inherited: dict[str, str]
    groups: tuple[str, ...]  # ids of the enclosing <g>, outermost first (PathInfo.groups)
    group: int  # innermost group-table row, -1 = the root
    in_use: bool  # inside a <use> expansion: ids are copies and are not kept
    use_stack: tuple[int, ...]
    font_size: float = DEFAULT_FONT_SIZE  # px, what ``em`` refers to
    viewport: tuple[float, float] | None = None  # what percentages refer to; None: the root's


def expanded_size(root: Element, by_id: dict[str, Element], cap: int) -> int:
    """How many elements the tree has once every ``<use>`` is expanded (at most ``cap + 1``).

    A post-order walk over children and ``<use>`` targets with one count per element,
    so it takes time linear in the file even when the expansion is exponential; a
    ``<use>`` that leads back to an element being counted adds nothing (it is not
    drawn). Counts ``<defs>`` content too, so it bounds what :class:`Walker` visits.
    """
    if next(root.iter(f"{SVG_NS}use"), None) is None and next(root.iter("use"), None) is None:
        return sum(1 for _ in root.iter())  # nothing to expand: the plain count
    size: dict[int, int] = {}
    open_: set[int] = set()
    stack: list[tuple[Element, bool]] = [(root, False)]
    while stack:
        el, done = stack.pop()
        key = id(el)
        target = None
        if local_name(el.tag) == "use":
            ref = href_of(el)
            target = by_id.get(ref) if ref else None
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


class Walker:
    """Walks the element tree once, filling a :class:`SceneBuilder`."""

    def __init__(self, root: Element, label: str, limits: SvgLimits, vw: float, vh: float) -> None:
        self.label = label
        self.limits = limits
        self.root = root
        self.sheet = stylesheet(root, label, limits)
        self.by_id: dict[str, Element] = {}
        for el in root.iter():  # the first of duplicated ids wins (as in resvg, browsers)
            if el.get("id"):
                self.by_id.setdefault(el.get("id"), el)
        expanded = expanded_size(root, self.by_id, limits.max_elements)
        if expanded > limits.max_elements:
            raise limit_error(
                f"{label} expands to more than {limits.max_elements} elements (through <use>)",
                "max_elements",
                limits.max_elements,
            )
        self.parent = {id(c): el for el in root.iter() for c in el}
        self.vw, self.vh = vw, vh
        self.counts: dict[str, int] = {}
        self.visited = 0
        self.style_cache: dict[tuple, dict[str, str]] = {}
        self._styles: dict[int, dict[str, str]] = {}
        self.style_work = 0
        self.builder = SceneBuilder()
        self.gradients = GradientResolver(
            self.by_id, self.style, lambda el: self.parent.get(id(el)), vw, vh
        )
        self.clips = ClipResolver(self)
        self.patterns = PatternResolver(self, limits.max_pattern_tiles)
        #: Geometry in a group's bounding box without a path of its own (hidden shapes,
        #: pattern-painted ones): (paths drawn before it, canvas contours, closed flags).
        self.extents: list[tuple[int, list[np.ndarray], list[bool]]] = []
        self.tile_paths: list[tuple[int, int]] = []  # [start, end) of pattern tile paths
        self.texts = TextLayouter(
            self.style, lambda el: self.parent.get(id(el)), self.by_id, system_fonts, limits, label
        )

    # ---- helpers the resolvers share --------------------------------------------------
    def count(self, kind: str, n: int = 1) -> None:
        if n:
            self.counts[kind] = self.counts.get(kind, 0) + n

    def style(self, el: Element) -> dict[str, str]:
        """The element's declared properties (attributes < ``<style>`` < ``style=``)."""
        found = self._styles.get(id(el))
        if found is None:
            found = element_style(el, self._sheet_style(el, local_name(el.tag)))
            self._styles[id(el)] = found
        return found

    def cascaded(self, el: Element) -> dict[str, str]:
        """Inherited properties at ``el`` from its ancestors, then its own (for content
        that is not reached by the walk, such as clip path children)."""
        chain = []
        node: Element | None = el
        while node is not None:
            chain.append(node)
            node = self.parent.get(id(node))
        props: dict[str, str] = {}
        for node in reversed(chain):
            style = self.style(node)
            if node is el:
                props.update({k: v for k, v in style.items() if v != "inherit"})
            else:
                props.update({k: v for k, v in style.items() if k in INHERITED and v != "inherit"})
        return props

    def canvas_contours(
        self,
        el: Element,
        tag: str,
        matrix: np.ndarray,
        size: float = DEFAULT_FONT_SIZE,
        viewport: tuple[float, float] | None = None,
    ) -> tuple[list[np.ndarray], list[bool], np.ndarray | None]:
        """A shape's contours in canvas pixels, their closed flags, and its tight
        bounding box in its own user space (None when it has no geometry)."""
        budget = self.limits.max_segments - self.builder.segments
        vw, vh = viewport or (self.vw, self.vh)
        d = shape_d(el, tag, vw, vh, budget, size)
        if not d:
            return [], [], None
        flat, closed, bad = path_contours(d, budget, self._too_many_segments)
        if bad:
            self.count("bad_data")
        local = [np.asarray(c, dtype=np.float64).reshape(-1, 2) for c in flat]
        return self.to_canvas(local, matrix), closed, exact_bounds(local, closed)

    def to_canvas(self, local: list[np.ndarray], matrix: np.ndarray) -> list[np.ndarray]:
        """Contours (k, 2) in user space -> canvas px through ``matrix``, counted
        against ``max_segments``; refused beyond ``max_coordinate`` or not finite."""
        bound = self.limits.max_coordinate
        out = []
        for pts in local:
            with np.errstate(all="ignore"):  # overflow shows up as inf, checked below
                pts = pts @ matrix[:2, :2].T + matrix[:2, 2]
                ok = bool((np.abs(pts) <= bound).all())  # False for NaN too
            if not ok:
                raise ClipvgError(
                    f"{self.label} has paths with infinite or NaN coordinates, or beyond "
                    f"{bound:g} px after transforms (the limit max_coordinate); fix the path "
                    "data or transforms"
                )
            out.append(pts)
            self.builder.segments += pts.shape[0] // 3
            if self.builder.segments > self.limits.max_segments:
                self._too_many_segments()
        return out

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
            found, work = match_rules(self.sheet, *key)
            self.style_cache[key] = found
            self.style_work += work + 1
            if self.style_work > self.limits.max_style_matches:
                raise limit_error(
                    f"{self.label} has a <style> too costly to apply (over "
                    f"{self.limits.max_style_matches} rule comparisons)",
                    "max_style_matches",
                    self.limits.max_style_matches,
                )
        return found

    def _too_many_segments(self) -> None:
        raise limit_error(
            f"{self.label} has more than {self.limits.max_segments} path segments",
            "max_segments",
            self.limits.max_segments,
        )

    # ---- the walk ---------------------------------------------------------------------
    def walk(self, el: Element, state: State, depth: int = 0) -> None:
        if not is_svg_tag(el.tag):
            return
        self.visited += 1
        if self.visited > self.limits.max_elements:
            raise limit_error(
                f"{self.label} expands to more than {self.limits.max_elements} elements",
                "max_elements",
                self.limits.max_elements,
            )
        if depth > MAX_DEPTH:
            raise ClipvgError(
                f"{self.label} nests elements more than {MAX_DEPTH} levels deep; flatten its groups"
            )
        tag = local_name(el.tag)
        if tag not in _DRAWN:
            return  # defs, symbol, clipPath, mask, gradients, metadata ...: not rendered
        style = self.style(el)
        if style.get("display", "").strip().lower() == "none":
            return
        if tag in SKIPPED:
            self.count(tag)
            return
        size = font_size(style.get("font-size"), state.font_size)
        inherited = state.inherited
        own = {
            k: v
            for k, v in style.items()
            if k in INHERITED and v != "inherit" and (k not in _PAINTS or _valid_paint(v))
        }
        if own:
            inherited = {**inherited, **own}
        for feature in ("filter", "mask"):
            if style.get(feature, "none").strip() != "none":
                self.count(feature)
        matrix = state.matrix
        transform = style.get("transform")  # the attribute, or CSS over it
        if transform:
            matrix = matrix @ parse_transform(transform)
        opacity = parse_opacity(style.get("opacity"))
        clip_ref = style.get("clip-path")
        if tag == "text":
            paint_text(
                self, el, matrix, inherited, opacity, clip_ref, replace(state, font_size=size)
            )
            return
        if tag in SHAPES:
            self._shape(
                el, tag, matrix, inherited, opacity, clip_ref, replace(state, font_size=size)
            )
            return
        target = None
        vw, vh = state.viewport or (self.vw, self.vh)
        inner_viewport = state.viewport
        outer = matrix  # the user space of the element's own clip-path
        viewport = None  # (x, y, w, h) in ``outer``: nested <svg> and <symbol> clip to it
        if tag == "svg" and depth > 0:
            found = self._viewport(el, el, el.get("width"), el.get("height"), (vw, vh))
            if found is None:
                return
            content, viewport, inner_viewport = found
            matrix = matrix @ content
        elif tag == "use":
            target = self._use_target(el, state)
            if target is None:
                return
            matrix = matrix @ translate(length_or(el.get("x"), vw), length_or(el.get("y"), vh))
            outer = matrix
            if local_name(target.tag) in ("svg", "symbol"):
                found = self._viewport(
                    target,
                    target,
                    el.get("width") or target.get("width"),
                    el.get("height") or target.get("height"),
                    (vw, vh),
                )
                if found is None:
                    return
                content, viewport, inner_viewport = found
                matrix = matrix @ content
                target_style = self.style(target)
                own = {k: v for k, v in target_style.items() if k in INHERITED and v != "inherit"}
                inherited = {**inherited, **own}
                opacity *= parse_opacity(target_style.get("opacity"))
        overflow = (self.style(target if target is not None else el).get("overflow") or "").strip()
        if viewport is not None and overflow in ("visible", "auto"):
            viewport = None
        has_clip = clip_ref is not None and clip_ref.strip() not in ("", "none")
        group, groups = state.group, state.groups
        first = len(self.builder.paths)
        if tag == "g" or opacity < 1 or has_clip or viewport is not None:
            gid = None if state.in_use else el.get("id")
            group = self.builder.add_group(
                state.group, opacity, -1, gid, el.get(f"{INKSCAPE}label"), _layer_attrs(el)
            )
            if tag == "g" and gid:
                groups = (*groups, gid)
        if target is not None:
            stack = (*state.use_stack, id(el))
            child_state = State(matrix, inherited, groups, group, True, stack, size, inner_viewport)
            wrapped = local_name(target.tag) in ("symbol", "svg")
            children = list(target) if wrapped else [target]
        else:
            child_state = State(
                matrix,
                inherited,
                groups,
                group,
                state.in_use,
                state.use_stack,
                size,
                inner_viewport,
            )
            children = list(el)
        for child in children:
            self.walk(child, child_state, depth + 1)
        clip = -1
        if has_clip:
            clip = self.clips.resolve(clip_ref, outer, self._bbox_since(first, outer))
            if clip == CLIP_ALL:
                self.drop_since(first)
                return
        if viewport is not None:
            clip = self.clips.rect(viewport, outer, clip)
        if clip >= 0:
            self.builder.group_clip[group] = clip

    def _viewport(
        self,
        el: Element,
        box: Element,
        width: str | None,
        height: str | None,
        parent: tuple[float, float],
    ) -> tuple[np.ndarray, tuple[float, float, float, float], tuple[float, float]] | None:
        """A nested ``<svg>`` or a ``<symbol>``: (content transform, viewport rectangle,
        the size its content's percentages refer to), or None when the viewport is
        empty (nothing is drawn). ``parent``: the enclosing viewport's size."""
        pw, ph = parent
        x, y = length_or(box.get("x"), pw), length_or(box.get("y"), ph)
        w = length(width, pw) if width is not None else None
        h = length(height, ph) if height is not None else None
        w = pw if w is None else w
        h = ph if h is None else h
        if not (w > 0 and h > 0):
            return None
        m = translate(x, y)
        vb = viewbox(el)
        if vb is not None and vb[2] > 0 and vb[3] > 0:
            return m @ viewbox_matrix(vb, w, h, el.get("preserveAspectRatio")), (x, y, w, h), vb[2:]
        return m, (x, y, w, h), (w, h)

    def _use_target(self, el: Element, state: State) -> Element | None:
        ref = href_of(el)
        target = self.by_id.get(ref) if ref else None
        if target is None or id(el) in state.use_stack:  # missing, or a <use> loop
            self.count("use")
            return None
        if any(node is el for node in target.iter()):  # the target contains this <use>
            self.count("use")
            return None
        return target

    def _bbox_since(
        self, first: int, matrix: np.ndarray
    ) -> tuple[float, float, float, float] | None:
        """The bounding box, in the user space of ``matrix``, of what was drawn from path
        ``first`` on: the paths (not pattern tiles) and the :attr:`extents`."""
        tiles = {k for a, b in self.tile_paths if b > first for k in range(max(a, first), b)}
        paths = [p for k, p in enumerate(self.builder.paths[first:], first) if k not in tiles]
        shapes = [(p.contours, p.closed) for p in paths]
        shapes += [(c, k) for pos, c, k in self.extents if pos >= first]
        contours = [c for cs, _ in shapes for c in cs]
        if not contours:
            return None
        try:
            inv = np.linalg.inv(matrix)
        except np.linalg.LinAlgError:
            return None
        closed = [k for _, ks in shapes for k in ks]
        local = [c @ inv[:2, :2].T + inv[:2, 2] for c in contours]
        b = exact_bounds(local, closed)
        return (float(b[0, 0]), float(b[0, 1]), float(b[1, 0] - b[0, 0]), float(b[1, 1] - b[0, 1]))

    def drop_since(self, first: int) -> None:
        """Remove the paths from ``first`` on (and what records their extent)."""
        del self.builder.paths[first:]
        self.extents = [e for e in self.extents if e[0] < first]
        self.tile_paths = [(a, min(b, first)) for a, b in self.tile_paths if a < first]

    def _shape(
        self,
        el: Element,
        tag: str,
        matrix: np.ndarray,
        props: dict[str, str],
        opacity: float,
        clip_ref: str | None,
        state: State,
    ) -> None:
        contours, closed, bounds = self.canvas_contours(
            el, tag, matrix, state.font_size, state.viewport
        )
        if not contours:
            return
        if props.get("visibility", "visible").strip().lower() in ("hidden", "collapse"):
            self.extents.append((len(self.builder.paths), contours, closed))  # not drawn, but
            return  # in its group's bounding box (as resvg does)
        self.check_paths()
        bbox = None
        if bounds is not None:
            (x0, y0), (x1, y1) = bounds
            bbox = (float(x0), float(y0), float(x1 - x0), float(y1 - y0))
        if tag in _MARKABLE and any(
            props.get(k, "none").strip() not in ("none", "")
            for k in ("marker-start", "marker-mid", "marker-end")
        ):
            self.count("marker")
        clip = self.clips.resolve(clip_ref, matrix, bbox)
        if clip == CLIP_ALL:
            return
        before = self.gradients.other
        info = PathInfo(id=None if state.in_use else el.get("id"), groups=state.groups)
        paint_outlines(
            self,
            [Outline(contours, closed, info)],
            props,
            bbox,
            matrix,
            state,
            opacity=opacity,
            clip=clip,
            has_fill=tag != "line",  # a line has no inside
        )
        self.count("server", self.gradients.other - before)

    def text_shapes(self, el: Element, matrix: np.ndarray) -> list:
        """A clipPath's ``<text>`` child as glyph shapes (see :func:`.painted.text_clip_shapes`)."""
        return text_clip_shapes(self, el, matrix)

    def check_paths(self, more: int = 1) -> None:
        """Refuse before the scene would pass ``max_paths``."""
        if len(self.builder.paths) + more > self.limits.max_paths:
            raise limit_error(
                f"{self.label} has more than {self.limits.max_paths} paths",
                "max_paths",
                self.limits.max_paths,
            )

    def finish(self, width: float, height: float) -> Scene:
        self.count("href_loop", self.gradients.loops)
        self.clips.finish(width, height)
        return self.builder.scene(width, height)


def _layer_attrs(el: Element) -> dict[str, str]:
    """Inkscape's layer attributes of a ``<g>``, to be written back."""
    out = {}
    mode = el.get(f"{INKSCAPE}groupmode")
    if mode:
        out["inkscape:groupmode"] = mode
    for name in ("insensitive",):
        value = el.get(f"{SODIPODI}{name}")
        if value:
            out[f"sodipodi:{name}"] = value
    return out


def scene_from_walk(
    walk: Walker, width: float | None, height: float | None, label: str, limits: SvgLimits
) -> Scene:
    paths = walk.builder.paths
    if width is None or height is None:
        pts = [c for p in paths for c in p.contours]
        extent = np.ceil(np.concatenate(pts).max(0)) if pts else np.array([300.0, 150.0])
        width = width if width is not None else max(float(extent[0]), 1.0)
        height = height if height is not None else max(float(extent[1]), 1.0)
        warnings.warn(
            f"{label} has no width/height or viewBox; using the content's extent {width:g} x {height:g}",
            stacklevel=4,
        )
    if max(width, height) > limits.max_canvas_side:
        raise limit_error(
            f"{label} has a {width:g} x {height:g} canvas",
            "max_canvas_side",
            limits.max_canvas_side,
        )
    style = walk.style(walk.root)
    background = parse_color(
        style.get("background-color", "transparent"), style.get("color", "black")
    )
    if background is not None and background[3] > 0:  # the root's CSS background: a path under all
        contour = rect_contour((0.0, 0.0, width, height), np.eye(3))
        walk.builder.paths.insert(0, PathSpec([contour], [True], background, 1.0, False))
    return walk.finish(width, height)

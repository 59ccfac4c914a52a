"""The tree walk: resolved elements -> a Scene (styles cascaded, transforms baked)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from xml.etree.ElementTree import Element

import numpy as np
import torch

from ..errors import ClipvgError
from ..scene import PathInfo, Scene
from .css import INHERITED, element_style, match_rules, stylesheet
from .geometry import length, length_or, parse_transform, translate, viewbox, viewbox_matrix
from .limits import SvgLimits, limit_error
from .paint import parse_color, parse_opacity
from .pathdata import close_contour, path_contours, shape_d
from .source import SVG_NS, XLINK_HREF, is_svg_tag, local_name

MAX_DEPTH = 256

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


def emit_warnings(counts: dict[str, int]) -> None:
    for kind, template in _WARNINGS.items():
        n = counts.get(kind, 0)
        if n:
            warnings.warn(template.format(n=n, s="" if n == 1 else "s"), stacklevel=4)


CONTAINERS = frozenset(("g", "a", "switch", "svg"))
SHAPES = frozenset(("path", "rect", "circle", "ellipse", "polygon", "polyline", "line"))
SKIPPED = frozenset(("text", "image", "foreignObject"))  # counted in warnings


@dataclass
class State:
    """What flows down the tree: transform, inherited properties, group opacity, group ids."""

    matrix: np.ndarray
    inherited: dict[str, str]
    opacity: float
    groups: tuple[str, ...]
    in_use: bool  # inside a <use> expansion: ids are copies and are not kept
    use_stack: tuple[int, ...]


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
            href = el.get("href") or el.get(XLINK_HREF) or ""
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


class Walker:
    def __init__(self, root: Element, label: str, limits: SvgLimits, vw: float, vh: float) -> None:
        self.label = label
        self.limits = limits
        self.sheet = stylesheet(root, label, limits)
        self.by_id = {el.get("id"): el for el in root.iter() if el.get("id")}
        expanded = expanded_size(root, self.by_id, limits.max_elements)
        if expanded > limits.max_elements:
            raise limit_error(
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
        if tag not in CONTAINERS and tag not in SHAPES and tag != "use" and tag not in SKIPPED:
            return  # defs, symbol, clipPath, mask, gradients, metadata ...: not rendered
        style = element_style(el, self._sheet_style(el, tag))
        if style.get("display", "").lower() == "none":
            return
        if tag in SKIPPED:
            self._count(tag)
            return
        inherited = state.inherited
        own = {k: v for k, v in style.items() if k in INHERITED and v != "inherit"}
        if own:
            inherited = {**inherited, **own}
        if any(style.get(k, "none").strip() != "none" for k in ("clip-path", "mask")):
            self._count("clip")
        if style.get("filter", "none").strip() != "none":
            self._count("filter")
        matrix = state.matrix
        transform = el.get("transform")
        if transform:
            matrix = matrix @ parse_transform(transform)
        opacity = state.opacity * parse_opacity(style.get("opacity"))
        if tag in SHAPES:
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
        child_state = State(matrix, inherited, opacity, groups, state.in_use, state.use_stack)
        for child in el:
            self.walk(child, child_state, depth + 1)

    def _nested_svg(self, el: Element) -> np.ndarray:
        x, y = length_or(el.get("x"), self.vw), length_or(el.get("y"), self.vh)
        m = translate(x, y)
        vb = viewbox(el)
        w, h = length(el.get("width"), self.vw), length(el.get("height"), self.vh)
        if vb is not None and vb[2] > 0 and vb[3] > 0:
            m = m @ viewbox_matrix(vb, w or vb[2], h or vb[3], el.get("preserveAspectRatio"))
        return m

    def _use(
        self, el: Element, state: State, matrix: np.ndarray, inherited, opacity: float, depth: int
    ) -> None:
        href = el.get("href") or el.get(XLINK_HREF) or ""
        target = self.by_id.get(href[1:]) if href.startswith("#") else None
        if target is None or id(target) in state.use_stack or id(el) in state.use_stack:
            self._count("use")
            return
        if any(node is el for node in target.iter()):  # the target contains this <use>
            self._count("use")
            return
        matrix = matrix @ translate(
            length_or(el.get("x"), self.vw), length_or(el.get("y"), self.vh)
        )
        child_state = State(
            matrix, inherited, opacity, state.groups, True, (*state.use_stack, id(el), id(target))
        )
        if local_name(target.tag) == "symbol":
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
        state: State,
    ) -> None:
        if props.get("visibility", "visible").lower() in ("hidden", "collapse"):
            return
        fill = props.get("fill", "black").strip()
        if fill.startswith("url("):
            self._count("paint")
            return
        rgba = parse_color(fill, props.get("color", "black"))
        if rgba is None or tag == "line":
            self._count("unfilled")
            return
        d = shape_d(el, tag, self.vw, self.vh, self.limits.max_segments - self.segments)
        if not d:
            return
        contours, closed, bad = path_contours(
            d, self.limits.max_segments - self.segments, self._too_many_segments
        )
        contours = [c if k else close_contour(c) for c, k in zip(contours, closed, strict=True)]
        if bad:
            self._count("bad_data")
        if not contours:
            return
        stroke = props.get("stroke", "none").strip()
        if stroke.lower() != "none" and length(props.get("stroke-width", "1"), self.vw) != 0:
            self._count("stroke")
        index = len(self.colors)
        if index >= self.limits.max_paths:
            raise limit_error(
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
        alpha = rgba[3] * opacity * parse_opacity(props.get("fill-opacity"))
        self.colors.append((rgba[0], rgba[1], rgba[2], alpha))
        self.evenodd.append(props.get("fill-rule", "nonzero").strip().lower() == "evenodd")
        self.info.append(PathInfo(id=None if state.in_use else el.get("id"), groups=state.groups))


def scene_from_walk(
    walk: Walker, width: float | None, height: float | None, label: str, limits: SvgLimits
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
        raise limit_error(
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

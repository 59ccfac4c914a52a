"""``clip-path="url(#id)"`` -> a :class:`~clipvg.scene.ClipPath` in canvas pixels.

A ``<clipPath>`` is the union of its shape children (each with its ``clip-rule``;
``<use>`` of a shape counts, and ``<text>`` as its glyph outlines; groups do not), in the user space of the
element that references it, through the ``<clipPath>``'s own ``transform`` and, for
``clipPathUnits="objectBoundingBox"``, the referencing element's bounding box.
Paint, stroke, opacity, filters and masks inside it have no effect (SVG).

What SVG renders for the odd cases: a reference to a missing element is ignored (the
element is drawn unclipped); a clip with no children, an objectBoundingBox clip of
an empty box, or a reference that loops back to a ``<clipPath>`` being resolved
clips everything away. ``clip-path`` on the ``<clipPath>`` intersects; on its child it
is kept when the child is the only one (the scene model has no per-child clip), and
ignored otherwise (counted).
"""

from __future__ import annotations

from typing import Protocol
from xml.etree.ElementTree import Element

import numpy as np

from ..scene import ClipPath
from .build import PathSpec, SceneBuilder
from .geometry import parse_transform
from .gradient import href_of, parse_url
from .pathdata import rect_contour
from .source import is_svg_tag, local_name

#: Shapes that may be the children of a clipPath.
CLIP_SHAPES = frozenset(("path", "rect", "circle", "ellipse", "polygon", "polyline", "line"))
#: A clip reference that hides the element (returned instead of a clip index).
CLIP_ALL = -3


class Host(Protocol):
    """What the resolver needs from the tree walk."""

    by_id: dict[str, Element]
    builder: SceneBuilder

    def style(self, el: Element) -> dict[str, str]: ...
    def cascaded(self, el: Element) -> dict[str, str]: ...
    def canvas_contours(
        self, el: Element, tag: str, matrix: np.ndarray
    ) -> tuple[list[np.ndarray], list[bool], np.ndarray | None]: ...
    def count(self, kind: str) -> None: ...
    def text_shapes(
        self, el: Element, matrix: np.ndarray
    ) -> list[tuple[list[np.ndarray], list[bool], bool]]: ...


class ClipResolver:
    """Resolves ``clip-path`` references into ``builder.clips`` (cached per use)."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self._cache: dict[tuple, int] = {}
        self._open: set[int] = set()  # clipPaths being resolved (loop guard)
        self.empty_clip: int | None = None

    def resolve(
        self, value: str | None, ctm: np.ndarray, bbox: tuple[float, float, float, float] | None
    ) -> int:
        """A ``clip-path`` value -> -1 (no clip), a clip index, or :data:`CLIP_ALL`.

        ``ctm``: (3, 3) the referencing element's user space -> canvas; ``bbox``: its
        (x, y, w, h) in that space (None: empty).
        """
        if value is None or value.strip() in ("none", ""):
            return -1
        url = parse_url(value)
        if url is None:
            self.host.count("clip_shape")  # basic shapes (circle(...)) are not supported
            return -1
        el = self.host.by_id.get(url[0])
        if el is None or not is_svg_tag(el.tag) or local_name(el.tag) != "clipPath":
            return -1
        if id(el) in self._open:
            return CLIP_ALL
        bbox_units = el.get("clipPathUnits", "").strip() == "objectBoundingBox"
        matrix = ctm @ parse_transform(el.get("transform") or "")
        if bbox_units:
            if bbox is None or not (bbox[2] > 0 and bbox[3] > 0):
                return CLIP_ALL
            x, y, w, h = bbox
            matrix = matrix @ np.array([[w, 0, x], [0, h, y], [0, 0, 1.0]])
        key = (id(el), matrix.tobytes())
        if key in self._cache:
            return self._cache[key]
        self._open.add(id(el))
        try:
            index = self._build(el, matrix, ctm, bbox)
        finally:
            self._open.discard(id(el))
        self._cache[key] = index
        return index

    def _build(self, el: Element, matrix: np.ndarray, ctm: np.ndarray, bbox) -> int:
        host = self.host
        inner = SceneBuilder()
        child_clips = []
        for child in el:
            if is_svg_tag(child.tag) and local_name(child.tag) == "text":
                child_matrix = matrix @ parse_transform(host.style(child).get("transform") or "")
                for contours, closed, evenodd in host.text_shapes(child, child_matrix):
                    inner.paths.append(
                        PathSpec(contours, closed, (0.0, 0.0, 0.0, 1.0), 1.0, evenodd)
                    )
                continue
            found = self._child(child, matrix)
            if found is None:
                continue
            contours, closed, evenodd, child_el, child_matrix = found
            inner.paths.append(PathSpec(contours, closed, (0.0, 0.0, 0.0, 1.0), 1.0, evenodd))
            ref = host.style(child_el).get("clip-path")
            if ref is not None and ref.strip() not in ("none", ""):
                child_clips.append((ref, child_matrix, child_el))
        own = self.resolve(host.style(el).get("clip-path"), ctm, bbox)
        if own == CLIP_ALL:
            return CLIP_ALL
        if child_clips:
            if len(child_clips) == 1 and len(inner.paths) == 1 and own == -1:
                ref, child_matrix, child_el = child_clips[0]
                _, _, child_bbox = host.canvas_contours(
                    child_el, local_name(child_el.tag), np.eye(3)
                )
                own = self.resolve(ref, child_matrix, _box(child_bbox))
                if own == CLIP_ALL:
                    own = -1  # a loop through the child's own clip: ignored, as resvg does
            else:
                host.count("clip_child")
        host.builder.clips.append(ClipPath(inner.scene(1.0, 1.0), own, el.get("id")))
        return len(host.builder.clips) - 1

    def _child(self, child: Element, matrix: np.ndarray):
        """A clipPath child -> (canvas contours, closed flags, evenodd, element, its
        matrix), or None when it adds nothing to the clip."""
        host = self.host
        if not is_svg_tag(child.tag):
            return None
        tag = local_name(child.tag)
        target = child
        child_matrix = matrix @ parse_transform(child.get("transform") or "")
        if tag == "use":
            ref = href_of(child)
            target = host.by_id.get(ref) if ref else None
            if target is None or local_name(target.tag) not in CLIP_SHAPES:
                return None
            from .geometry import length_or, translate

            child_matrix = child_matrix @ translate(
                length_or(child.get("x"), 1.0), length_or(child.get("y"), 1.0)
            )
            child_matrix = child_matrix @ parse_transform(target.get("transform") or "")
            tag = local_name(target.tag)
        elif tag == "image":
            host.count(tag)
            return None
        if tag not in CLIP_SHAPES:
            return None
        props = host.cascaded(target)
        if tag == "use":
            props = {**host.cascaded(child), **host.style(target)}
        if (
            props.get("display", "").strip() == "none"
            or host.style(child).get("display", "").strip() == "none"
        ):
            return None
        if props.get("visibility", "visible").strip() in ("hidden", "collapse"):
            return None
        contours, closed, _ = host.canvas_contours(target, tag, child_matrix)
        if not contours:
            return None
        evenodd = props.get("clip-rule", "nonzero").strip() == "evenodd"
        return contours, closed, evenodd, target, child_matrix

    def rect(self, box: tuple[float, float, float, float], ctm: np.ndarray, clip: int = -1) -> int:
        """A viewport clip: the rectangle ``box`` (x, y, w, h) in the space of ``ctm``,
        intersected with clip ``clip`` when >= 0."""
        return self.paths([([rect_contour(box, ctm)], [True], False)], clip)

    def paths(self, shapes: list[tuple[list[np.ndarray], list[bool], bool]], clip: int = -1) -> int:
        """A clip that is the union of ``shapes`` (canvas contours, closed flags,
        evenodd), intersected with clip ``clip`` when >= 0."""
        inner = SceneBuilder()
        for contours, closed, evenodd in shapes:
            inner.paths.append(PathSpec(contours, closed, (0.0, 0.0, 0.0, 1.0), 1.0, evenodd))
        self.host.builder.clips.append(ClipPath(inner.scene(1.0, 1.0), clip, None))
        return len(self.host.builder.clips) - 1

    def finish(self, width: float, height: float) -> None:
        """Give every clip scene the final canvas size."""
        for clip in self.host.builder.clips:
            clip.scene.width, clip.scene.height = float(width), float(height)


def _box(bounds: np.ndarray | None) -> tuple[float, float, float, float] | None:
    if bounds is None:
        return None
    (x0, y0), (x1, y1) = bounds
    return (float(x0), float(y0), float(x1 - x0), float(y1 - y0))

"""``<pattern>`` paints -> the tile content, repeated, inside a group clipped to the
painted region (the shape's fill area or its stroke outline).

The scene has no pattern paint, so a pattern is expanded at load into what it holds:
ordinary paths (editable, exported as such). Resolved as SVG says: ``href`` chains
(attributes and the first ``<pattern>`` with children; a loop ends the chain),
``patternUnits`` (default objectBoundingBox) for ``x``/``y``/``width``/``height``,
``patternContentUnits`` (default userSpaceOnUse; objectBoundingBox scales the content
by the box's size, as resvg does), ``viewBox`` with ``preserveAspectRatio`` (it
overrides patternContentUnits), ``patternTransform``. A tile's content is clipped to
the tile when it spills out of it (``overflow`` other than visible).

What cannot paint falls back to the paint's fallback colour, else none: a missing
or empty tile, objectBoundingBox on an empty box, a pattern used inside its own
content. Tiles are counted over the whole file (nested patterns multiply them):
a paint that would take the count past ``SvgLimits.max_pattern_tiles`` is not
painted, with a warning.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace
from typing import Protocol
from xml.etree.ElementTree import Element

import numpy as np

from .build import SceneBuilder
from .css import INHERITED
from .geometry import length, parse_transform, translate, viewbox, viewbox_matrix
from .gradient import fraction, href_of
from .source import is_svg_tag, local_name

MAX_NESTING = 8  # patterns inside pattern content, at most


@dataclass(frozen=True)
class Tiles:
    """A resolved pattern for one painted element.

    Attributes:
        content: the ``<pattern>`` whose children are drawn in every tile.
        matrix: (3, 3) pattern space (after ``patternTransform``) -> canvas px.
        tile: (x, y, w, h) of the tile at index (0, 0), in pattern space.
        inner: (3, 3) tile space -> content space (viewBox or the box's scale).
        clip_tiles: whether content is clipped to its tile (overflow hidden).
    """

    content: Element
    matrix: np.ndarray
    tile: tuple[float, float, float, float]
    inner: np.ndarray
    clip_tiles: bool


class Host(Protocol):
    by_id: dict[str, Element]
    builder: SceneBuilder
    vw: float
    vh: float

    def style(self, el: Element) -> dict[str, str]: ...
    def cascaded(self, el: Element) -> dict[str, str]: ...
    def walk(self, el: Element, state, depth: int = 0) -> None: ...
    def count(self, kind: str, n: int = 1) -> None: ...
    def drop_since(self, first: int) -> None: ...


class PatternResolver:
    """Resolves and draws pattern paints of one document (see the module docstring)."""

    def __init__(self, host: Host, max_tiles: int) -> None:
        self.host = host
        self.max_tiles = max_tiles
        self.used = 0  # tiles drawn so far, all pattern paints of the file together
        self._open: set[int] = set()

    def tiles(
        self, el: Element, bbox: tuple[float, float, float, float] | None, ctm: np.ndarray
    ) -> Tiles | None:
        """The pattern ``el`` on an element with box ``bbox`` (x, y, w, h in its user
        space) and transform ``ctm`` to the canvas; None when it cannot paint."""
        chain = self._chain(el)
        content = next((p for p in chain if any(is_svg_tag(c.tag) for c in p)), chain[0])
        if id(content) in self._open or len(self._open) >= MAX_NESTING:
            return None  # a pattern inside its own tile, or nested too deep
        attr = {name: _first(chain, name) for name in _ATTRS}
        bbox_units = (attr["patternUnits"] or "").strip() != "userSpaceOnUse"
        content_bbox = (attr["patternContentUnits"] or "").strip() == "objectBoundingBox"
        vb = viewbox(_holder(chain, "viewBox") or el)
        vb = vb if vb is not None and vb[2] > 0 and vb[3] > 0 else None
        has_box = bbox is not None and bbox[2] > 0 and bbox[3] > 0
        if (bbox_units or (content_bbox and vb is None)) and not has_box:
            return None
        if bbox_units:
            bx, by, bw, bh = bbox
            x, y = bx + _fraction(attr["x"]) * bw, by + _fraction(attr["y"]) * bh
            w, h = _fraction(attr["width"]) * bw, _fraction(attr["height"]) * bh
        else:
            vw, vh = self.host.vw, self.host.vh
            x, y = _len(attr["x"], vw), _len(attr["y"], vh)
            w, h = _len(attr["width"], vw), _len(attr["height"], vh)
        if not (w > 0 and h > 0 and math.isfinite(w * h)):
            return None
        transform = parse_transform(attr["patternTransform"] or "")
        if abs(np.linalg.det(transform[:2, :2])) < 1e-12:
            return None
        if vb is not None:
            inner = viewbox_matrix(vb, w, h, attr["preserveAspectRatio"])
        elif content_bbox:
            inner = np.diag([bbox[2], bbox[3], 1.0])
        else:
            inner = np.eye(3)
        overflow = (self.host.style(content).get("overflow") or "hidden").strip()
        return Tiles(
            content, ctm @ transform, (x, y, w, h), inner, overflow not in ("visible", "auto")
        )

    def draw(self, tiles: Tiles, region: list[np.ndarray], state, tile_clip) -> bool:
        """Walk the tile content over ``region`` (canvas contours the caller clips
        to): every tile whose rectangle meets the region's box, under ``state``
        (its group is the clipped one). ``tile_clip(box, matrix)`` makes a tile's
        clip. False (and nothing drawn) when the file's tiles would pass ``max_tiles``."""
        inv = np.linalg.inv(tiles.matrix)
        pts = np.concatenate(region) @ inv[:2, :2].T + inv[:2, 2]
        (x0, y0), (x1, y1) = pts.min(0), pts.max(0)
        tx, ty, tw, th = tiles.tile
        with np.errstate(all="ignore"):
            fi0, fi1 = np.floor((x0 - tx) / tw), np.ceil((x1 - tx) / tw)
            fj0, fj1 = np.floor((y0 - ty) / th), np.ceil((y1 - ty) / th)
            count = (fi1 - fi0) * (fj1 - fj0)  # a float: a tiny tile may give inf
        if not np.isfinite(count) or self.used + max(count, 1) > self.max_tiles:
            self.host.count("pattern_tiles")
            return False
        self.used += max(int(count), 1)  # a paint costs a clip even with no tile
        every = (int(fi0), int(fi1), int(fj0), int(fj1))
        i0, j0 = every[0], every[2]
        host = self.host
        inherited = {k: v for k, v in host.cascaded(tiles.content).items() if k in INHERITED}
        children = [c for c in tiles.content if is_svg_tag(c.tag)]
        walk = functools.partial(self._walk_tiles, tiles, children, inherited, state)
        self._open.add(id(tiles.content))
        try:
            first = len(host.builder.paths)
            if not tiles.clip_tiles:
                walk(None, every)
            else:  # the first tile unclipped; a clip per tile only when the content spills
                walk(None, (i0, i0 + 1, j0, j0 + 1))
                if self._spills(tiles, first, (i0, j0)):
                    host.drop_since(first)
                    walk(tile_clip, every)
                else:
                    walk(None, every, skip=(i0, j0))
        finally:
            self._open.discard(id(tiles.content))
        return True

    def _walk_tiles(self, tiles, children, inherited, state, tile_clip, span, skip=None) -> None:
        """Walk the content of the tiles ``span`` = (i0, i1, j0, j1) but ``skip``; each
        in its own clipped group when ``tile_clip`` is given."""
        i0, i1, j0, j1 = span
        tx, ty, tw, th = tiles.tile
        for j in range(j0, j1):
            for i in range(i0, i1):
                if (i, j) == skip:
                    continue
                origin = tiles.matrix @ translate(tx + i * tw, ty + j * th)
                group = state.group
                if tile_clip is not None:
                    group = tile_clip((0.0, 0.0, tw, th), origin, state.group)
                tile_state = replace(
                    state,
                    matrix=origin @ tiles.inner,
                    inherited=inherited,
                    group=group,
                    in_use=True,
                )
                for child in children:
                    self.host.walk(child, tile_state, 1)

    def _spills(self, tiles: Tiles, first: int, index: tuple[int, int]) -> bool:
        """Whether the paths drawn from ``first`` on (tile ``index``), strokes
        included, reach outside that tile's rectangle."""
        paths = self.host.builder.paths[first:]
        if not paths:
            return False
        tx, ty, tw, th = tiles.tile
        origin = tiles.matrix @ translate(tx + index[0] * tw, ty + index[1] * th)
        inv = np.linalg.inv(origin)
        pts = np.concatenate([c for p in paths for c in p.contours]) @ inv[:2, :2].T + inv[:2, 2]
        scale = math.sqrt(abs(np.linalg.det(origin[:2, :2])))
        pad = max((p.style.width / 2 if p.stroke is not None else 0.0) for p in paths) / scale
        eps = 1e-6 * max(tw, th)
        return bool(
            (pts.min(0) - pad < -eps).any() or (pts.max(0) + pad > np.array([tw, th]) + eps).any()
        )

    def _chain(self, el: Element) -> list[Element]:
        chain, seen = [el], {id(el)}
        while (ref := href_of(chain[-1])) is not None:
            nxt = self.host.by_id.get(ref)
            if nxt is None or id(nxt) in seen or local_name(nxt.tag) != "pattern":
                break
            chain.append(nxt)
            seen.add(id(nxt))
        return chain


_ATTRS = (
    "x",
    "y",
    "width",
    "height",
    "patternUnits",
    "patternContentUnits",
    "patternTransform",
    "preserveAspectRatio",
)


def is_pattern(el: Element | None) -> bool:
    return el is not None and is_svg_tag(el.tag) and local_name(el.tag) == "pattern"


def _first(chain: list[Element], name: str) -> str | None:
    for el in chain:
        if el.get(name) is not None:
            return el.get(name)
    return None


def _holder(chain: list[Element], name: str) -> Element | None:
    return next((el for el in chain if el.get(name) is not None), None)


def _fraction(value: str | None) -> float:
    """objectBoundingBox units: a number, or a percentage of the box (0 when unreadable)."""
    x = fraction(value) if value is not None else None
    return 0.0 if x is None else x


def _len(value: str | None, relative: float) -> float:
    x = length(value, relative)
    return 0.0 if x is None else x

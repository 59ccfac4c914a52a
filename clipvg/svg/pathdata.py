"""Path data and basic shapes -> cubic contours (svgelements' lexer, our own sink)."""

from __future__ import annotations

import math
import re
from xml.etree.ElementTree import Element

import numpy as np

from .geometry import length, length_or


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

    ``contours`` holds flat float lists ``[x0, y0, c0ax, c0ay, ...]`` in the element's
    local coordinates, ``is_closed`` whether each was ended by ``Z`` (see
    :func:`path_contours` for the two layouts).
    """

    def __init__(self, budget: int, on_over: object) -> None:
        self.budget = budget  # segments this path may still add
        self.on_over = on_over  # called (no arguments) to raise when the budget runs out
        self.contours: list[list[float]] = []
        self.is_closed: list[bool] = []
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
        self._finish(closed=True)
        self._set_current(self._sx, self._sy)
        self._last_c2 = self._last_q = None

    # contour bookkeeping ---------------------------------------------------------------
    def _finish(self, closed: bool = False) -> None:
        pts, self._pts = self._pts, None
        if pts is None or len(pts) < 8:  # fewer than one segment
            return
        self.contours.append(close_contour(pts) if closed else pts)
        self.is_closed.append(closed)


def close_contour(pts: list[float]) -> list[float]:
    """An open chain ``p0 ... pn`` (3n + 1 points, flat) -> a closed one (3m points):
    the end point is dropped when it is back at ``p0``, else a straight segment closes it."""
    sx, sy, ex, ey = pts[0], pts[1], pts[-2], pts[-1]
    tol = 1e-9 * (1.0 + abs(sx) + abs(sy))
    if abs(ex - sx) <= tol and abs(ey - sy) <= tol and len(pts) > 2:
        return pts[:-2]  # the last segment already returns to p0
    dx, dy = (sx - ex) / 3.0, (sy - ey) / 3.0
    return [*pts, ex + dx, ey + dy, sx - dx, sy - dy]


def path_contours(d: str, budget: int, on_over) -> tuple[list[list[float]], list[bool], bool]:
    """Path data -> (contours in local coordinates, closed flags, whether the data had an error).

    A closed contour (ended by ``Z``) is ``3n`` flat points ``p0 c0a c0b p1 ...``
    whose last segment returns to ``p0``; an open one is ``3n + 1`` points ending at
    its last point ``pn``. ``on_over()`` is called (and must raise) as soon as the
    path has more than ``budget`` segments, before their memory is spent.
    """
    from svgelements import SVGLexicalParser

    sink = _ContourSink(budget, on_over)
    bad = False
    if not d.lstrip().startswith(("M", "m")):
        return [], [], True  # path data must begin with a moveto (SVG)
    try:
        SVGLexicalParser().parse(sink, d)
    except (ValueError, TypeError, IndexError, ZeroDivisionError, AttributeError, OverflowError):
        bad = True  # keep what was drawn before the error, as browsers do
    sink.end()  # the lexer does not always call it
    return sink.contours, sink.is_closed, bad


def shape_d(
    el: Element, tag: str, vw: float, vh: float, max_points: int, font_size: float = 16.0
) -> str | None:
    """Basic shapes as path data (None when the shape is not rendered).

    A polygon keeps at most ``max_points + 1`` points: enough to exceed the
    segment budget, without building path data for all of a huge list.
    """
    g = el.get
    diag = math.hypot(vw, vh) / math.sqrt(2.0)
    if tag == "rect":
        x, y = length_or(g("x"), vw, 0.0, font_size), length_or(g("y"), vh, 0.0, font_size)
        w, h = length_or(g("width"), vw, 0.0, font_size), length_or(g("height"), vh, 0.0, font_size)
        if w <= 0 or h <= 0:
            return None
        rx, ry = length(g("rx"), vw, font_size), length(g("ry"), vh, font_size)
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
        cx, cy = length_or(g("cx"), vw, 0.0, font_size), length_or(g("cy"), vh, 0.0, font_size)
        if tag == "circle":
            rx = ry = length_or(g("r"), diag, 0.0, font_size)
        else:
            rx_, ry_ = length(g("rx"), vw, font_size), length(g("ry"), vh, font_size)
            # a negative radius is an error, read as auto (the other radius; SVG 2, resvg)
            rx_ = None if rx_ is not None and rx_ < 0 else rx_
            ry_ = None if ry_ is not None and ry_ < 0 else ry_
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
        return f"M{length_or(g('x1'), vw, 0.0, font_size)!r},{length_or(g('y1'), vh, 0.0, font_size)!r}L{length_or(g('x2'), vw, 0.0, font_size)!r},{length_or(g('y2'), vh, 0.0, font_size)!r}"
    return el.get("d") or None  # path


def segments(points: np.ndarray, closed: bool) -> np.ndarray:
    """A contour's cubic segments: (m, 4, 2) from (3n, 2) closed or (3n + 1, 2) open points."""
    if closed:
        ring = np.concatenate([points, points[:1]])
        return np.stack([ring[0:-1:3], ring[1::3], ring[2::3], ring[3::3]], 1)
    return np.stack([points[0:-1:3], points[1::3], points[2::3], points[3::3]], 1)


def exact_bounds(contours: list[np.ndarray], closed: list[bool]) -> np.ndarray | None:
    """The tight bounding box ``[[x0, y0], [x1, y1]]`` of cubic contours (their
    extrema, not their control points); None when there are none."""
    if not contours:
        return None
    seg = np.concatenate([segments(c, k) for c, k in zip(contours, closed, strict=True)])
    p0, p1, p2, p3 = seg[:, 0], seg[:, 1], seg[:, 2], seg[:, 3]
    a = -p0 + 3 * p1 - 3 * p2 + p3  # B'(t) / 3 = a t^2 + b t + c
    b = 2 * (p0 - 2 * p1 + p2)
    c = p1 - p0
    with np.errstate(all="ignore"):
        disc = np.sqrt(np.maximum(b * b - 4 * a * c, 0.0))
        roots = [(-b + disc) / (2 * a), (-b - disc) / (2 * a), np.where(b != 0, -c / b, 0.0)]
    candidates = [p0, p3]
    for t in roots:
        t = np.where(np.isfinite(t) & (t > 0) & (t < 1), t, 0.0)
        mt = 1 - t
        candidates.append(mt**3 * p0 + 3 * mt**2 * t * p1 + 3 * mt * t**2 * p2 + t**3 * p3)
    allp = np.concatenate(candidates)
    return np.stack([allp.min(0), allp.max(0)])


def rect_contour(box: tuple[float, float, float, float], matrix: np.ndarray) -> np.ndarray:
    """The rectangle ``box`` (x, y, w, h) through ``matrix`` (3, 3): a closed contour
    of 4 straight cubics, (12, 2) float64."""
    x, y, w, h = box
    corners = np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], dtype=np.float64)
    corners = corners @ matrix[:2, :2].T + matrix[:2, 2]
    ring = np.concatenate([corners, corners[:1]])
    pts = [ring[0]]
    for a, b in zip(ring[:-1], ring[1:], strict=True):
        pts += [a + (b - a) / 3, a + 2 * (b - a) / 3, b]
    return np.array(pts[:-1])

"""Public import API: ``load_svg`` (a file) and ``parse_svg_string`` (text)."""

from __future__ import annotations

import os
import re

import numpy as np

from ..errors import ClipvgError
from ..scene import Scene
from .geometry import canvas_size, viewbox
from .limits import SvgLimits, limit_error
from .report import emit_warnings
from .source import decompress, parse_xml, read_source
from .walk import State, Walker, scene_from_walk


def scene_from_bytes(data: bytes, label: str, limits: SvgLimits) -> Scene:
    if len(data) > limits.max_file_bytes:
        raise limit_error(f"{label} is {len(data)} bytes", "max_file_bytes", limits.max_file_bytes)
    if data[:2] == b"\x1f\x8b":
        data = decompress(data, label, limits)
    root = parse_xml(data, label, limits)
    width, height, vb_matrix = canvas_size(root, label)
    if width is not None and height is not None and max(width, height) > limits.max_canvas_side:
        raise limit_error(
            f"{label} has a {width:g} x {height:g} canvas",
            "max_canvas_side",
            limits.max_canvas_side,
        )
    vb = viewbox(root)
    vw, vh = (vb[2], vb[3]) if vb else (width or 300.0, height or 150.0)
    walker = Walker(root, label, limits, vw, vh)
    state = State(vb_matrix, {}, (), -1, False, ())
    with np.errstate(all="ignore"):  # overflowing transforms give inf, refused per path
        walker.walk(root, state)
    scene = scene_from_walk(walker, width, height, label, limits)
    emit_warnings(walker.counts, walker.texts.substitutions)
    return scene


def load_svg(path: str | os.PathLike, *, limits: SvgLimits | None = None) -> Scene:
    """Load an SVG (or gzipped .svgz) file as a Scene: cubic paths with fill and stroke
    paints (flat or gradient), groups, opacity and clip paths (see :mod:`clipvg.svg`).

    Args:
        path: the file to read.
        limits: refusal thresholds (canvas side, path count, file size); defaults when None.

    Returns:
        A :class:`Scene` in canvas pixels: the canvas is ``width x height`` in px (the
        viewBox size when the root has no width/height) and every transform is baked
        into ``points`` (P, 2) float32 (stroke widths and dashes scaled with it).
        Colors are straight RGBA in [0, 1].

    Raises:
        ClipvgError: missing/unreadable file, not SVG, malformed XML, XML entities or
            external references, or a limit exceeded.

    Example:
        >>> scene = load_svg("drawing.svg")  # doctest: +SKIP
    """
    limits = limits or SvgLimits()
    data = read_source(path, limits)
    return scene_from_bytes(data, str(path), limits)


def parse_svg_string(text: str | bytes, *, limits: SvgLimits | None = None) -> Scene:
    """Like :func:`load_svg`, from SVG text (str, or bytes in the declared encoding)."""
    limits = limits or SvgLimits()
    if isinstance(text, str):
        # An encoding declaration would contradict the UTF-8 bytes handed to expat.
        text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text, count=1).encode("utf-8")
    elif not isinstance(text, (bytes, bytearray)):
        raise ClipvgError(f"expected SVG text as str or bytes, got {type(text).__name__}")
    return scene_from_bytes(bytes(text), "the SVG text", limits)

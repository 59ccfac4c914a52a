"""Refusal thresholds for untrusted SVG input, and the error that names them."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ClipvgError


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
        max_pattern_tiles: most pattern tiles in the whole file, every pattern paint
            (nested ones too) counting its tiles, at least one (each tile's content
            becomes paths; a paint that would pass the limit, such as a tiny tile over
            a huge shape, is not painted, with a warning).

    Every character of ``<text>`` counts as an element against ``max_elements``,
    every glyph as a path and its outline's segments as segments.

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
    max_pattern_tiles: int = 4096


def limit_error(what: str, name: str, value: float) -> ClipvgError:
    return ClipvgError(
        f"{what}, over the limit {name}={value:g}; pass limits=SvgLimits({name}=...) to allow more"
    )

"""Real-world SVG in, svgwrite out.

``load_svg`` / ``parse_svg_string`` turn an SVG file into a :class:`~clipvg.scene.Scene`;
``save_svg`` / ``scene_to_svg_string`` write one back. One module a concern, in the
order the data flows:

- :mod:`.limits`: :class:`SvgLimits`, the refusal thresholds for untrusted input.
- :mod:`.source`: reading, ``.svgz`` inflation, XML through **defusedxml** (files that
  declare entities or reference external resources are refused; a plain
  ``<!DOCTYPE svg PUBLIC ...>`` is accepted).
- :mod:`.css`: presentation attributes < ``<style>`` rules (``*``, ``tag``, ``.class``,
  ``tag.class``, ``#id``) < inline ``style=``.
- :mod:`.paint`: CSS colours and opacities.
- :mod:`.geometry`: lengths, ``transform``, ``viewBox`` and the canvas size.
- :mod:`.pathdata`: path data (tokenized by **svgelements**) and basic shapes -> cubic
  contours: lines and quadratics are elevated exactly, arcs become one cubic per
  quarter turn at most (radial error < 2.7e-4 of the radius).
- :mod:`.gradient`: ``url(#id)`` paints -> flat colours or resolved gradients.
- :mod:`.pattern`: ``<pattern>`` paints -> their tiles, repeated over the shape.
- :mod:`.stroke`: stroke properties in canvas units.
- :mod:`.clip`: ``clip-path`` -> clip paths in canvas units.
- :mod:`.text`: ``<text>`` -> glyph outlines (fonts and shaping: :mod:`clipvg.fonts`).
- :mod:`.painted`: a shape or a text's glyphs, with their paints -> scene paths
  (a pattern paint becomes a group clipped to the fill area or stroke outline).
- :mod:`.walk`: the tree walk into a Scene; transforms (viewBox, groups, ``<use>``) are
  baked into the points, inherited properties cascade; groups keep ids, labels and
  Inkscape layers, opacity and clips. :mod:`.build` packs the result into a Scene.
- :mod:`.load`: the public import functions; :mod:`.report` their warnings.
- :mod:`.export`: ``<svg width height viewBox>`` in px, one ``<path>`` per scene path,
  gradients and clip paths in ``<defs>``, the group tree as nested ``<g>``.

What clipvg cannot edit (images, text it cannot lay out, filters, masks, markers,
hatches) is listed in one ``warnings.warn`` with counts.
"""

from .export import save_svg, scene_to_svg_string
from .limits import SvgLimits
from .load import load_svg, parse_svg_string

__all__ = ["SvgLimits", "load_svg", "parse_svg_string", "save_svg", "scene_to_svg_string"]

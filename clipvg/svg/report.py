"""What the import could not keep or had to change, told in as few warnings as possible."""

from __future__ import annotations

import warnings

#: Elements and features clipvg cannot edit, listed together in one warning.
UNEDITABLE = {
    "text": "<text>",
    "image": "<image>",
    "foreignObject": "<foreignObject>",
    "filter": "filter",
    "mask": "mask",
    "marker": "marker",
    "server": "hatch or mesh paint",
    "clip_shape": "clip-path shape",
    "clip_child": "clip-path on a clipPath child",
}
_OTHER_WARNINGS = {
    "use": "skipped {n} <use> element{s} whose target is missing or contains the <use> itself",
    "bad_data": "{n} path{s} had malformed path data; imported up to the first error",
    "href_loop": "{n} gradient href chain{s} loop back on themselves; followed up to the loop",
    "pattern_tiles": "{n} pattern paint{s} would take the file's pattern tiles past "
    "max_pattern_tiles; not painted (pass limits=SvgLimits(max_pattern_tiles=...) to allow more)",
}


def emit_warnings(counts: dict[str, int], fonts: dict[str, str] | None = None) -> None:
    """One warning listing what cannot be edited, then one per other kind of problem,
    then one naming the fonts substituted (``fonts``: asked family -> used family)."""
    parts = [f"{counts[k]} {name}" for k, name in UNEDITABLE.items() if counts.get(k)]
    if parts:
        warnings.warn(
            "not editable, so left out: "
            + ", ".join(parts)
            + " (images, foreign objects and text that cannot be laid out (textPath, "
            "vertical, right to left, rotate) are dropped; filters, masks, markers and clip "
            "shapes are ignored and their elements imported without them; a hatch or mesh "
            "paint becomes its fallback colour or none)",
            stacklevel=4,
        )
    for kind, template in _OTHER_WARNINGS.items():
        n = counts.get(kind, 0)
        if n:
            warnings.warn(template.format(n=n, s="" if n == 1 else "s"), stacklevel=4)
    if fonts:
        used = "; ".join(f"{asked!r} -> {got!r}" for asked, got in sorted(fonts.items()))
        warnings.warn(f"fonts not installed, text drawn with another: {used}", stacklevel=4)

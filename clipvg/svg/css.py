"""CSS: ``<style>`` rules with simple selectors, ``style=`` declarations, the cascade."""

from __future__ import annotations

import re
from dataclasses import dataclass
from xml.etree.ElementTree import Element

from .limits import SvgLimits, limit_error
from .source import SVG_NS

#: Properties read from attributes and CSS; the rest are ignored.
STYLED = frozenset(
    "fill fill-opacity fill-rule opacity stroke stroke-width stroke-opacity stroke-linecap "
    "stroke-linejoin stroke-miterlimit stroke-dasharray stroke-dashoffset display visibility "
    "color clip-path clip-rule mask filter stop-color stop-opacity marker-start marker-mid paint-order "
    "marker-end marker overflow font-size transform font-family font-weight font-style "
    "text-anchor letter-spacing word-spacing writing-mode direction background-color".split()
)
#: Properties a child takes from its parent unless it sets them (CSS inheritance).
INHERITED = (
    "fill",
    "fill-opacity",
    "fill-rule",
    "stroke",
    "stroke-width",
    "stroke-opacity",
    "stroke-linecap",
    "stroke-linejoin",
    "stroke-miterlimit",
    "stroke-dasharray",
    "stroke-dashoffset",
    "visibility",
    "color",
    "clip-rule",
    "paint-order",
    "marker-start",
    "marker-mid",
    "marker-end",
    "font-family",
    "font-weight",
    "font-style",
    "text-anchor",
    "letter-spacing",
    "word-spacing",
    "writing-mode",
    "direction",
)


def _strip_comments(text: str) -> str:
    """CSS text without ``/* ... */`` comments, in linear time (an unclosed one runs to the end)."""
    out, pos = [], 0
    while (start := text.find("/*", pos)) >= 0:
        out.append(text[pos:start])
        end = text.find("*/", start + 2)
        pos = len(text) if end < 0 else end + 2
    out.append(text[pos:])
    return "".join(out)


def _css_rules(text: str) -> list[tuple[str, str]]:
    """``(selectors, body)`` of each ``selectors { body }`` rule, in linear time.

    Text after the last ``}`` (an unclosed rule) is dropped, as are rules without
    a selector.
    """
    rules = []
    for chunk in text.split("}")[:-1]:
        selectors, sep, body = chunk.partition("{")
        selectors = _skip_at_statements(selectors)
        if sep and selectors.strip():
            rules.append((selectors, body))
    return rules


def _skip_at_statements(text: str) -> str:
    """``text`` without the at-statements (``@import ...;``, ``@charset ...;``) before it,
    so that the rule after one keeps its selector."""
    pos = 0
    while True:
        start = _SPACE.match(text, pos).end()
        end = text.find(";", start)
        if not text.startswith("@", start) or end < 0:
            return text[start:] if start else text
        pos = end + 1


_SPACE = re.compile(r"\s*")


def declarations(text: str, important: bool | None = None) -> dict[str, str]:
    """``name: value;`` pairs of the properties clipvg reads (comments dropped); with
    ``important`` True or False, only the ``!important`` ones or only the others."""
    out = {}
    for item in _strip_comments(text).split(";"):
        key, sep, value = item.partition(":")
        key = key.strip().lower()
        flagged = "!important" in value
        if sep and key in STYLED and (important is None or important == flagged):
            out[key] = value.replace("!important", "").strip()
    return out


_SIMPLE_SELECTOR = re.compile(r"^(\*|[A-Za-z][\w-]*)?((?:[.#][\w-]+)*)$")


@dataclass(frozen=True)
class Rule:
    tag: str | None
    classes: frozenset[str]
    id: str | None
    specificity: tuple[int, int, int, int, int]  # (!important, ids, classes, tag, order)
    declarations: dict[str, str]


def stylesheet(root: Element, label: str, limits: SvgLimits) -> dict[str, list[Rule]]:
    """``<style>`` rules with compound simple selectors (``*``, ``tag``, ``.a.b``,
    ``tag.c``, ``#id``), indexed by their most selective part. Selectors with
    combinators, attributes or pseudo-classes are ignored."""
    index: dict[str, list[Rule]] = {}
    order = 0
    texts = [
        "".join(el.itertext())
        for el in root.iter(f"{SVG_NS}style")
        if el.get("type", "text/css").strip() in ("", "text/css")
    ]
    size = sum(len(t) for t in texts)
    if size > limits.max_style_bytes:
        raise limit_error(
            f"{label} has {size} characters of <style>", "max_style_bytes", limits.max_style_bytes
        )
    for text in texts:
        for selectors, body in _css_rules(_strip_comments(text)):
            normal, important = declarations(body, False), declarations(body, True)
            for sel in selectors.split(","):
                m = _SIMPLE_SELECTOR.match(sel.strip())
                if not (normal or important) or not m or not sel.strip():
                    continue
                parts = re.findall(r"[.#][\w-]+", m.group(2))
                ids = [q[1:] for q in parts if q[0] == "#"]
                classes = frozenset(q[1:] for q in parts if q[0] == ".")
                tag = m.group(1) if m.group(1) not in (None, "*") else None
                if len(set(ids)) > 1:
                    continue
                order += 1
                el_id = ids[0] if ids else None
                key = f"#{el_id}" if el_id else f".{min(classes)}" if classes else tag or "*"
                for flag, decl in ((0, normal), (1, important)):  # !important wins
                    if decl:
                        specificity = (flag, len(ids), len(classes), int(tag is not None), order)
                        rule = Rule(tag, classes, el_id, specificity, decl)
                        index.setdefault(key, []).append(rule)
    return index


def match_rules(
    sheet: dict[str, list[Rule]], tag: str, classes: frozenset[str], el_id: str | None
) -> tuple[dict[str, str], int]:
    """Declarations of the rules that match, by specificity then source order, and
    how many rules were compared (the work done)."""
    keys = ["*", tag, *(f".{c}" for c in classes)] + ([f"#{el_id}"] if el_id else [])
    candidates = [r for key in keys for r in sheet.get(key, ())]
    matched = [
        r
        for r in candidates
        if (r.tag is None or r.tag == tag)
        and r.classes <= classes
        and (r.id is None or r.id == el_id)
    ]
    style: dict[str, str] = {}
    for rule in sorted(matched, key=lambda r: r.specificity):
        style.update(rule.declarations)
    return style, len(candidates)


def element_style(el: Element, sheet_style: dict[str, str]) -> dict[str, str]:
    """The element's own declared properties: attributes < stylesheet < inline style."""
    attrib = el.attrib
    style = {k: v.strip() for k, v in attrib.items() if k in STYLED}
    style.update(sheet_style)
    if "style" in attrib:
        style.update(declarations(attrib["style"]))
    return style

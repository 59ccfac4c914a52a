"""Property tests: the SVG importer and the renderer on generated and mutated SVGs.

Every input either imports and renders a finite image in [0, 1], or raises
:class:`ClipvgError`, within a time bound. Inputs come from hypothesis with a fixed,
derandomized profile, so each run tries the same examples (about 20 s in all).
"""

from __future__ import annotations

import re
import time
import warnings
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import clipvg
from clipvg.errors import ClipvgError
from clipvg.svg import parse_svg_string

DATA = Path(__file__).resolve().parent / "data" / "svg"
# The importable test files (the entity ones are refused whatever is mutated).
SEEDS = [(DATA / f"{name}.svg").read_bytes() for name in ("shapes", "styles", "skipped")]

#: Fixed examples every run: deterministic, bounded, no example database.
FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,  # timed below, against a bound that holds on a loaded machine
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
#: Seconds one input may take to import and render at <= 96 px (typical: 0.05 s).
TIME_BOUND = 10.0

# ---- building blocks -------------------------------------------------------------------
WEIRD_NUMBERS = [
    "0", "-0", "1e39", "-1e39", "1e308", "1e999", "-1e999", "1e-300", "1e-999", "nan", "inf",
    "-inf", "NaN", "3.4e38", "1e9", "-1e9", ".5", "5.", "1e", "--1", "0x10", "1_000", "",
]  # fmt: skip
UNITS = ["", "", "", "px", "in", "mm", "cm", "pt", "pc", "%", "em", "ex", "deg", "q"]


@st.composite
def number(draw) -> str:
    kind = draw(st.integers(0, 19))
    if kind == 0:
        return draw(st.sampled_from(WEIRD_NUMBERS))
    if kind == 1:
        return repr(draw(st.floats(allow_nan=True, allow_infinity=True)))
    if kind == 2:
        return str(draw(st.integers(-(10**40), 10**40)))
    return f"{draw(st.floats(-20, 120, allow_nan=False)):.4g}"  # mostly sane: on the canvas


@st.composite
def length(draw) -> str:
    return draw(number()) + draw(st.sampled_from(UNITS))


@st.composite
def transform(draw) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        fn = draw(st.sampled_from(["translate", "scale", "rotate", "skewX", "skewY", "matrix"]))
        n = {"matrix": 6, "rotate": draw(st.sampled_from([1, 3]))}.get(fn, draw(st.integers(1, 2)))
        sep = draw(st.sampled_from([" ", ",", ", "]))
        parts.append(f"{fn}({sep.join(draw(length()) for _ in range(n))})")
    return " ".join(parts)


@st.composite
def color(draw) -> str:
    kind = draw(st.integers(0, 4))
    if kind == 0:
        return draw(
            st.sampled_from(
                ["red", "none", "currentColor", "transparent", "#abc", "#12345", "bogus"]
            )
        )
    if kind == 1:
        return "#" + draw(st.text("0123456789abcdefg", min_size=0, max_size=9))
    fn = draw(st.sampled_from(["rgb", "rgba", "hsl", "hsla", "RGB", "lab"]))
    pct = draw(st.sampled_from(["", "%"]))
    sep = draw(st.sampled_from([",", " ", ", "]))
    values = [draw(number()) + pct for _ in range(draw(st.integers(2, 4)))]
    return f"{fn}({sep.join(values)})"


@st.composite
def path_data(draw) -> str:
    out = [f"M{draw(number())} {draw(number())}"]
    for _ in range(draw(st.integers(0, 8))):
        cmd = draw(st.sampled_from("MLHVCSQTAZmlhvcsqtaz"))
        n = {"M": 2, "L": 2, "H": 1, "V": 1, "C": 6, "S": 4, "Q": 4, "T": 2, "A": 7, "Z": 0}[
            cmd.upper()
        ]
        if cmd.upper() == "A":
            args = [draw(number()), draw(number()), draw(number()), "1", "0"]
            args += [draw(number()), draw(number())]
        else:
            args = [draw(number()) for _ in range(n)]
        out.append(cmd + " ".join(args))
    return " ".join(out)


STROKE_WIDTHS = ["0", "-1", "1e30", "-1e30", "3", "0.5", "1e-30", "nan", "inf", "50%", "2em"]
DASHES = ["0", "0 0", "5 0", "0 5", "-1 2", "3 -3", "1e30 1", "1,2,3", "none", "5 5 5", "1e-30"]
PAINT_REFS = ["url(#g0)", "url(#g1)", "url(#g2) red", "url(#loop)", "url(#clip)", "url(#x)"]


@st.composite
def paint(draw) -> str:
    return draw(color()) if draw(st.booleans()) else draw(st.sampled_from(PAINT_REFS))


@st.composite
def stroke_attributes(draw) -> dict[str, str]:
    """Strokes of any width (0, negative, 1e30), dash arrays with zeros and negatives."""
    attrs = {"stroke": draw(paint())}
    choices = {
        "stroke-width": st.one_of(st.sampled_from(STROKE_WIDTHS), length()),
        "stroke-dasharray": st.one_of(st.sampled_from(DASHES), number()),
        "stroke-dashoffset": number(),
        "stroke-linecap": st.sampled_from(["butt", "round", "square", "bogus"]),
        "stroke-linejoin": st.sampled_from(["miter", "round", "bevel", "arcs", "miter-clip", "x"]),
        "stroke-miterlimit": st.sampled_from(["0", "1", "4", "-3", "1e30", "nan"]),
        "stroke-opacity": number(),
    }
    for key, strategy in choices.items():
        if draw(st.booleans()):
            attrs[key] = draw(strategy)
    return attrs


@st.composite
def attributes(draw) -> str:
    attrs = {}
    if draw(st.booleans()):
        attrs["fill"] = draw(paint())
    if draw(st.integers(0, 2)) == 0:
        attrs.update(draw(stroke_attributes()))
    if draw(st.integers(0, 4)) == 0:
        attrs["clip-path"] = draw(st.sampled_from(["url(#clip)", "url(#loop)", "url(#g0)"]))
    if draw(st.integers(0, 3)) == 0:
        attrs["transform"] = draw(transform())
    if draw(st.integers(0, 4)) == 0:
        attrs["opacity"] = draw(number())
    if draw(st.integers(0, 4)) == 0:
        attrs["style"] = f"fill:{draw(color())};fill-opacity:{draw(number())}"
    if draw(st.integers(0, 3)) == 0:
        attrs["class"] = draw(st.sampled_from(["a", "b", "a b"]))
    if draw(st.integers(0, 3)) == 0:
        attrs["id"] = draw(st.sampled_from(["p0", "p1", "p2", "g0"]))
    return "".join(f' {k}="{v}"' for k, v in attrs.items())


@st.composite
def shape(draw) -> str:
    tag = draw(
        st.sampled_from(["path", "rect", "circle", "ellipse", "polygon", "polyline", "line"])
    )
    a = draw(attributes())
    if tag == "path":
        return f'<path d="{draw(path_data())}"{a}/>'
    if tag == "rect":
        dims = " ".join(f'{k}="{draw(length())}"' for k in ("x", "y", "width", "height", "rx"))
        return f"<rect {dims}{a}/>"
    if tag in ("circle", "ellipse"):
        keys = ("cx", "cy", "r") if tag == "circle" else ("cx", "cy", "rx", "ry")
        return f"<{tag} " + " ".join(f'{k}="{draw(length())}"' for k in keys) + f"{a}/>"
    if tag == "line":
        return (
            "<line "
            + " ".join(f'{k}="{draw(length())}"' for k in ("x1", "y1", "x2", "y2"))
            + f"{a}/>"
        )
    points = " ".join(draw(number()) for _ in range(draw(st.integers(0, 9))))
    return f'<{tag} points="{points}"{a}/>'


def element(depth: int = 0):
    leaves = st.one_of(
        shape(),
        st.builds(lambda ref: f'<use href="#{ref}"/>', st.sampled_from(["p0", "p1", "g0", "x"])),
    )
    if depth >= 3:
        return leaves

    @st.composite
    def group(draw) -> str:
        children = "".join(draw(st.lists(element(depth + 1), max_size=4)))
        tag = draw(st.sampled_from(["g", "g", "svg", "defs", "symbol", "a"]))
        return f"<{tag}{draw(attributes())}>{children}</{tag}>"

    return st.one_of(leaves, group())


@st.composite
def stylesheet(draw) -> str:
    rules = []
    for _ in range(draw(st.integers(0, 4))):
        sel = draw(st.sampled_from(["*", "rect", ".a", "path.b", "#p0", ".a.b", "g > rect", ""]))
        rules.append(f"{sel}{{fill:{draw(color())};opacity:{draw(number())}}}")
    junk = draw(st.sampled_from(["", "/*", "}", "{", "/* x */", "@media x {"]))
    return f"<style>{junk}{''.join(rules)}</style>" if rules or junk else ""


@st.composite
def gradient(draw, gid: str) -> str:
    """A gradient with 0, 1, a few or 1,000 stops, unordered offsets, degenerate or huge
    radii and geometry, and hrefs that may loop."""
    tag = draw(st.sampled_from(["linearGradient", "radialGradient"]))
    keys = (
        ("x1", "y1", "x2", "y2") if tag == "linearGradient" else ("cx", "cy", "r", "fx", "fy", "fr")
    )
    attrs = {k: draw(st.one_of(length(), st.sampled_from(["0", "-1", "1e30"]))) for k in keys}
    attrs["gradientUnits"] = draw(st.sampled_from(["userSpaceOnUse", "objectBoundingBox", "x"]))
    attrs["spreadMethod"] = draw(st.sampled_from(["pad", "reflect", "repeat", "x"]))
    if draw(st.booleans()):
        attrs["gradientTransform"] = draw(transform())
    if draw(st.booleans()):
        attrs["href"] = "#" + draw(st.sampled_from(["g0", "g1", "g2", "loop", gid, "clip"]))
    n = draw(st.sampled_from([0, 1, 2, 3, 5, 1000]))
    if n == 1000:
        stops = "".join(
            f'<stop offset="{(k * 37) % 1000 / 999}" stop-color="red"/>' for k in range(n)
        )
    else:
        stops = "".join(
            f'<stop offset="{draw(number())}" stop-color="{draw(color())}" '
            f'stop-opacity="{draw(number())}"/>'
            for _ in range(n)
        )
    head = " ".join(f'{k}="{v}"' for k, v in attrs.items())
    return f'<{tag} id="{gid}" {head}>{stops}</{tag}>'


@st.composite
def paint_servers(draw) -> str:
    """Gradients g0..g2, a gradient href loop, and a clip path that may clip itself."""
    servers = "".join(draw(gradient(g)) for g in ("g0", "g1", "g2"))
    servers += '<linearGradient id="loop" href="#loop2"/><linearGradient id="loop2" href="#loop"/>'
    clip_attr = draw(
        st.sampled_from(["", ' clip-path="url(#clip)"', ' clipPathUnits="objectBoundingBox"'])
    )
    servers += f'<clipPath id="clip"{clip_attr}>{draw(shape())}</clipPath>'
    return f"<defs>{servers}</defs>" if draw(st.integers(0, 3)) else ""


@st.composite
def svg_document(draw) -> bytes:
    root = ""
    for key in ("width", "height"):
        if draw(st.integers(0, 3)) == 0:
            root += f' {key}="{draw(length())}"'
        elif draw(st.booleans()):
            root += f' {key}="{draw(st.integers(1, 200))}"'
    if draw(st.integers(0, 3)) == 0:
        root += f' viewBox="{" ".join(draw(number()) for _ in range(4))}"'
    body = draw(stylesheet()) + draw(paint_servers())
    body += "".join(draw(st.lists(element(), min_size=1, max_size=5)))
    text = f'<svg xmlns="http://www.w3.org/2000/svg"{root}>{body}</svg>'
    encoding = draw(st.sampled_from([None, "utf-8", "utf-16", "latin-1", "ascii", "utf-1"]))
    if encoding is None:
        return text.encode()
    head = f'<?xml version="1.0" encoding="{encoding}"?>'
    try:
        return (head + text).encode(encoding)
    except (LookupError, UnicodeError):
        return (head + text).encode()


_NUMBER_TOKEN = re.compile(rb"-?[0-9]*\.?[0-9]+")
_ELEMENT = re.compile(rb"<(path|rect|circle|ellipse|polygon|polyline|g|use)\b[^<>]*/?>")


@st.composite
def mutated_document(draw) -> bytes:
    """A test SVG with a few mutations, most of which keep the XML well-formed."""
    data = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.integers(0, 5))
        if op <= 1:  # a number becomes any number, with a unit
            spans = list(_NUMBER_TOKEN.finditer(data))
            if spans:
                m = spans[draw(st.integers(0, len(spans) - 1))]
                data = data[: m.start()] + draw(length()).encode() + data[m.end() :]
        elif op == 2:  # an element gets a transform, fill or style
            spans = list(_ELEMENT.finditer(data))
            if spans:
                m = spans[draw(st.integers(0, len(spans) - 1))]
                attr = draw(st.sampled_from(["transform", "fill", "style"]))
                value = {"transform": transform, "fill": color}.get(
                    attr, lambda: st.just("fill:red")
                )
                extra = f' {attr}="{draw(value())}" '.encode()
                data = data[: m.end(1)] + extra + data[m.end(1) :]
        elif op == 3:  # an element repeated, or wrapped in a transformed group
            spans = list(_ELEMENT.finditer(data))
            if spans:
                m = spans[draw(st.integers(0, len(spans) - 1))]
                piece = m.group()
                if draw(st.booleans()):
                    piece = f'<g transform="{draw(transform())}">'.encode() + piece + b"</g>"
                data = data[: m.start()] + piece * draw(st.integers(1, 4)) + data[m.end() :]
        elif op == 4:  # raw bytes anywhere
            pos = draw(st.integers(0, len(data)))
            data = data[:pos] + draw(st.binary(max_size=6)) + data[pos:]
        else:  # a cut
            pos = draw(st.integers(0, len(data)))
            data = data[:pos] + data[pos + draw(st.integers(1, 30)) :]
    return data


# ---- the property -------------------------------------------------------------------------
def imports_and_renders(data: bytes, width: int) -> None:
    """The property: a finite image in [0, 1] of the asked size, or a ClipvgError."""
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            scene = parse_svg_string(data)
            with torch.no_grad():
                image = clipvg.render(scene, width=width)
        except ClipvgError as exc:
            assert "\n" not in str(exc)
            image = None
    elapsed = time.perf_counter() - start
    assert elapsed < TIME_BOUND, f"took {elapsed:.1f} s"
    if image is not None:
        assert image.shape[1] == width and image.shape[2] == 3
        assert bool(torch.isfinite(image).all())
        assert float(image.min()) >= 0 and float(image.max()) <= 1


@settings(FUZZ, max_examples=150)
@given(svg_document(), st.sampled_from([1, 7, 32, 96]))
def test_generated_svgs_render_or_refuse(data, width):
    imports_and_renders(data, width)


@settings(FUZZ, max_examples=150)
@given(mutated_document(), st.sampled_from([1, 32, 96]))
def test_mutated_svgs_render_or_refuse(data, width):
    imports_and_renders(data, width)


@pytest.mark.parametrize(
    "body",
    [
        '<path d="M0 0 L1e39 0 L0 10 Z"/>',
        '<rect width="1e308" height="1e308"/>',
        '<path d="M0 0 L1e9 0 L0 10 Z"/>',
        '<rect width="10" height="10" fill="rgb(1e999,0,0)"/>',
        '<rect width="10" height="10" fill="rgba(1e400%,0%,0%,1)"/>',
        '<style>rect{fill:rgb(1e999,0,0)}</style><rect width="10" height="10"/>',
        '<rect width="10" height="10" transform="translate(1in 10)"/>',
        '<rect width="10" height="10" transform="translate(50%)"/>',
        '<rect width="10" height="10" transform="scale(1e999)"/>',
        '<rect width="10" height="10" transform="rotate(nan)"/>',
        # issue 14: strokes, dashes, gradients, href loops
        '<path d="M0 0 L50 50" stroke="red" stroke-width="1e30"/>',
        '<path d="M0 0 L50 50" stroke="red" stroke-width="-5"/>',
        '<path d="M0 0 L50 50 L90 0" stroke="red" stroke-width="0" stroke-linejoin="round"/>',
        '<path d="M0 0 L50 50" stroke="red" stroke-width="4" stroke-dasharray="0 0"/>',
        '<path d="M0 0 L50 50" stroke="red" stroke-dasharray="-1 2" stroke-linecap="round"/>',
        '<path d="M0 0 L50 50" stroke="red" stroke-dasharray="1e-30" stroke-dashoffset="1e30"/>',
        '<linearGradient id="g"/><rect width="50" height="50" fill="url(#g)"/>',
        '<linearGradient id="g"><stop stop-color="red"/></linearGradient>'
        '<rect width="50" height="50" fill="url(#g)" stroke="url(#g)"/>',
        '<linearGradient id="g">'
        + "".join(f'<stop offset="{(k * 37) % 1000 / 999}"/>' for k in range(1000))
        + '</linearGradient><rect width="50" height="50" fill="url(#g)"/>',
        '<radialGradient id="g" r="1e30" fr="1e30" fx="-1e30"><stop/><stop offset="1"/>'
        '</radialGradient><rect width="50" height="50" fill="url(#g)"/>',
        '<radialGradient id="g" r="0" gradientTransform="scale(0)"><stop/><stop offset="1"/>'
        '</radialGradient><rect width="50" height="50" fill="url(#g)"/>',
        '<linearGradient id="a" href="#b"/><linearGradient id="b" href="#a"/>'
        '<rect width="50" height="50" fill="url(#a)" stroke="url(#b)"/>',
        '<clipPath id="c" clip-path="url(#c)"><rect width="9" height="9"/></clipPath>'
        '<rect width="50" height="50" clip-path="url(#c)"/>',
    ],
)
@pytest.mark.parametrize("width", [None, 64])
def test_reported_inputs(body, width):
    """The inputs of issue 8 that raised tracebacks: now a render or a ClipvgError."""
    data = f'<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">{body}</svg>'
    imports_and_renders(data.encode(), width or 100)

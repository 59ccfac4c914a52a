"""clipvg.svg on hostile input: one-line errors, entities, encodings, and the size limits."""

from __future__ import annotations

import pytest
from svg_cases import (
    DATA,
    doc,
    load,
)

from clipvg.errors import ClipvgError
from clipvg.svg import SvgLimits, load_svg, parse_svg_string


# ---- errors and hostile input -------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, match",
    [
        ("", "is not a valid SVG file: it is empty"),
        ("   \n", "is not a valid SVG file: it is empty"),
        ("hello world", "is not a valid SVG file: XML syntax error"),
        (
            "<svg xmlns='http://www.w3.org/2000/svg'><path></svg>",
            "is not a valid SVG file: XML syntax error",
        ),
        ("<html><body/></html>", r"the root element is <html>, not <svg>"),
        ("<svg xmlns='http://example.com/other'/>", r"not <svg>"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "is not a valid SVG file"),
        (b"\x1f\x8b\x08\x00garbage", "broken gzip data"),
        (
            '<svg xmlns="http://www.w3.org/2000/svg" width="0" height="10"/>',
            "zero or negative canvas size",
        ),
        ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 0 10"/>', "empty viewBox"),
        (
            '<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"><path d="M0 0 L1e999 0 L1 1Z"/></svg>',
            "infinite or NaN",
        ),
    ],
)
def test_invalid_input_errors(text, match):
    with pytest.raises(ClipvgError, match=match) as info:
        parse_svg_string(text)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("name, match", [("missing.svg", "not found"), ("", "is a folder")])
def test_unreadable_paths(tmp_path, name, match):
    with pytest.raises(ClipvgError, match=match):
        load_svg(tmp_path / name)


def test_not_svg_file():
    with pytest.raises(ClipvgError, match=r"notsvg.txt is not a valid SVG file"):
        load_svg(DATA / "notsvg.txt")


@pytest.mark.parametrize("name", ["xxe.svg", "billion_laughs.svg"])
def test_entities_are_refused(name):
    with pytest.raises(ClipvgError, match="XML entity declarations or external references") as info:
        load_svg(DATA / name)
    assert "root:" not in str(info.value)  # nothing from /etc/passwd leaks into the message


@pytest.mark.parametrize(
    "prolog",
    [
        '<!DOCTYPE svg [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>',
        '<!DOCTYPE svg [<!ENTITY x "y">]>',
    ],
)
def test_entity_variants_are_refused(prolog):
    with pytest.raises(ClipvgError, match="refuses for safety"):
        parse_svg_string(prolog + doc(""))


def test_plain_doctype_is_accepted_and_external_dtd_never_fetched():
    # A public DOCTYPE (common in real files) is fine; its system id is never loaded.
    scene = parse_svg_string(
        '<!DOCTYPE svg SYSTEM "file:///etc/passwd">' + doc('<path d="M0 0H9V9Z"/>')
    )
    assert scene.num_paths == 1


def test_svgz_is_read(tmp_path):
    import gzip

    path = tmp_path / "a.svgz"
    path.write_bytes(gzip.compress(doc('<path d="M0 0H9V9Z"/>').encode()))
    assert load_svg(path).num_paths == 1


# ---- limits ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, limits, match",
    [
        (
            doc("", 'width="20000" height="10"'),
            None,
            r"20000 x 10 canvas, over the limit max_canvas_side=16384",
        ),
        (doc("", 'viewBox="0 0 200 50"'), SvgLimits(max_canvas_side=100), "max_canvas_side=100"),
        (
            doc('<path d="M0 0H9V9Z"/>' * 3),
            SvgLimits(max_paths=2),
            r"more than 2 paths, over the limit max_paths=2",
        ),
        (
            doc('<path d="M0 0H9V9Z"/>' * 30),
            SvgLimits(max_file_bytes=100),
            r"over the limit max_file_bytes=100",
        ),
        (
            doc(
                '<g id="a"><g/><g/><g/></g>'
                + "".join(
                    f'<g id="{c}"><use href="#{p}"/><use href="#{p}"/></g>'
                    for p, c in zip("abcdefghij", "bcdefghijk", strict=True)
                )
            ),
            SvgLimits(max_elements=1000),
            "max_elements=1000",
        ),
    ],
)
def test_limits(text, limits, match):
    with pytest.raises(ClipvgError, match=match) as info:
        parse_svg_string(text, limits=limits)
    assert "pass limits=SvgLimits(" in str(info.value)


def doubled_uses(levels: int) -> str:
    """``levels`` nested groups of two ``<use>`` of the level below: 2**levels rects."""
    return (
        '<defs><rect id="a0" width="1" height="1"/>'
        + "".join(
            f'<g id="a{i + 1}"><use href="#a{i}"/><use href="#a{i}"/></g>' for i in range(levels)
        )
        + f'</defs><use href="#a{levels}"/>'
    )


@pytest.mark.parametrize(
    "text, limits, match",
    [
        # 2**22 elements in 1.2 KB: counted before the walk, never expanded
        (doc(doubled_uses(22)), None, r"expands to more than 200000 elements \(through <use>\)"),
        (doc(doubled_uses(8)), SvgLimits(max_elements=300), "max_elements=300"),
        (doc("<g/>" * 50), SvgLimits(max_elements=40), r"about 5\d elements.*max_elements=40"),
        (
            doc('<path d="M0 0' + " L1 1" * 30 + '"/>'),
            SvgLimits(max_segments=20),
            "max_segments=20",
        ),
        (doc('<path d="' + "M0 0 " * 30 + '"/>'), SvgLimits(max_segments=20), "max_segments=20"),
        (doc('<path d="M0 0H9V9Z"/>' * 9), SvgLimits(max_segments=20), "max_segments=20"),
        (doc('<rect a="1" b="2" c="3"/>' * 9), SvgLimits(max_attributes=20), "max_attributes=20"),
        (
            doc('<polygon points="' + "1,2 " * 10_000 + '"/>'),
            SvgLimits(max_segments=20),
            "max_segments",
        ),
        (
            doc("<style>" + "a{}" * 40 + "</style>"),
            SvgLimits(max_style_bytes=100),
            "max_style_bytes",
        ),
        (
            doc(
                "<style>" + "".join(f".a.c{i}{{fill:red}}" for i in range(50)) + "</style>"
            ).replace("</svg>", "".join(f'<rect class="a x{i}"/>' for i in range(20)) + "</svg>"),
            SvgLimits(max_style_matches=500),
            "max_style_matches=500",
        ),
    ],
)
def test_limits_on_work(text, limits, match):
    """Limits on what costs time and memory, refused before the cost is paid."""
    with pytest.raises(ClipvgError, match=match) as info:
        parse_svg_string(text, limits=limits)
    assert "pass limits=SvgLimits(" in str(info.value) and "\n" not in str(info.value)


def test_doubled_uses_under_the_limit_expand_fully():
    scene = parse_svg_string(doc(doubled_uses(6)))
    assert scene.num_paths == 64


@pytest.mark.parametrize(
    "style",
    [
        "a" * 100_000,  # no brace: the old regular expression was quadratic (38 s)
        "/*" * 50_000,  # unclosed comments
        "x{" * 50_000,
        "}" * 100_000,
    ],
)
def test_large_malformed_stylesheets_parse(style):
    """Linear-time CSS: 100 KB of malformed style imports (it used to take 38 s)."""
    scene = parse_svg_string(doc(f"<style>{style}</style>" + '<rect width="5" height="5"/>'))
    assert scene.num_paths == 1


@pytest.mark.parametrize(
    "body, bound",
    [
        ('<path d="M0 0 L1e39 0 L0 10 Z"/>', None),
        ('<rect width="1e308" height="1e308"/>', None),
        ('<rect width="10" height="10" transform="scale(1e200) scale(1e200)"/>', None),
        ('<path d="M0 0 L2e6 0 L0 10 Z"/>', 1e6),
    ],
)
def test_coordinates_beyond_the_limit_refused(body, bound):
    limits = SvgLimits(max_coordinate=bound) if bound else None
    with pytest.raises(ClipvgError, match="infinite or NaN coordinates, or beyond"):
        parse_svg_string(doc(body), limits=limits)


@pytest.mark.parametrize(
    "fill, rgba",
    [
        ("rgb(1e999,0,0)", (1, 0, 0, 1)),
        ("rgba(1e400%,0%,0%,1)", (1, 0, 0, 1)),
        ("rgb(-5, 300, 51)", (0, 1, 0.2, 1)),
        ("rgb(10% 20% 30% / 50%)", (0.1, 0.2, 0.3, 0.5)),
        ("rgba(0,0,255,-1e999)", (0, 0, 1, 0)),
        ("hsl(120, 100%, 50%)", (0, 1, 0, 1)),
        ("hsl(1e999, 0%, 1e999%)", (1, 1, 1, 1)),
        ("HSLA(240deg 100% 50% / 1)", (0, 0, 1, 1)),
    ],
)
def test_colour_functions_clamp_any_number(fill, rgba):
    for body in (
        f'<rect width="5" height="5" fill="{fill}"/>',
        f'<style>rect{{fill:{fill}}}</style><rect width="5" height="5"/>',
    ):
        scene = parse_svg_string(doc(body))
        assert scene.colors[0].tolist() == pytest.approx(rgba, abs=1e-6)


@pytest.mark.parametrize(
    "fill", ["rgb(nan,0,0)", "rgb(1,2)", "lab(50 10 10)", "rgb(1 2 3 4 5)", "#qqq", "qwe13212"]
)
def test_unreadable_colours_are_ignored(fill):
    """An invalid value is ignored, as CSS ignores an invalid declaration: the
    parent's fill applies (resvg's painting/fill/random-value)."""
    for parent, rgba in (("", [0, 0, 0, 1]), (' fill="blue"', [0, 0, 1, 1])):
        scene = load(f'<g{parent}><rect width="5" height="5" fill="{fill}"/></g>')
        assert scene.num_paths == 1 and scene.colors[0].tolist() == rgba


@pytest.mark.parametrize("transform", ["translate(1in 10)", "translate(50%)", "rotate(nan)"])
def test_transforms_with_units_are_ignored(transform):
    """Units are not transform syntax: the transform is invalid, and ignored (as browsers do)."""
    scene = parse_svg_string(doc(f'<rect width="5" height="5" transform="{transform}"/>'))
    assert scene.points.min().item() == 0 and scene.points.max().item() == 5


def test_unknown_encoding_is_one_line_error():
    text = '<?xml version="1.0" encoding="utf-1"?>' + doc('<rect width="5" height="5"/>')
    with pytest.raises(ClipvgError, match="unusable text encoding.*utf-1"):
        parse_svg_string(text.encode())


def test_file_size_limit_checked_before_reading(tmp_path):
    path = tmp_path / "big.svg"
    path.write_text(doc('<path d="M0 0H9V9Z"/>' * 50))
    with pytest.raises(ClipvgError, match="max_file_bytes=500"):
        load_svg(path, limits=SvgLimits(max_file_bytes=500))

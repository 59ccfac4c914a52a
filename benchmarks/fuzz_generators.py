"""Input generators of the fuzzing campaign (``benchmarks/fuzz.py``): weird numbers,
mutated and generated SVGs, generated images. Deterministic for a given ``random.Random``.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

WEIRD = [
    "0", "-0", "1e39", "-1e39", "1e308", "1e999", "-1e999", "1e-300", "nan", "inf", "-inf",
    "3.4e38", "1e9", "-1e9", ".5", "5.", "1e", "--1", "", "1e-999", "99999999999999999999",
]  # fmt: skip
UNITS = ["", "", "", "px", "in", "mm", "%", "em", "pt"]
COLORS = [
    "red", "none", "#abc", "#12345", "currentColor", "rgb(1e999,0,0)", "rgba(1e400%,0%,0%,1)",
    "hsl(1e999,50%,50%)", "rgb(nan,0,0)", "url(#g)", "rgb(10% 20% 30% / 50%)", "bogus",
]  # fmt: skip
TRANSFORMS = [
    "translate(1in 10)", "translate(50%)", "scale(1e200)", "scale(1e-200)", "rotate(nan)",
    "matrix(1 0 0 1 1e400 0)", "skewX(90)", "scale(0)", "translate(1e9)", "rotate(45 50 50)",
    "matrix(0 0 0 0 0 0)", "scale(-1 1)",
]  # fmt: skip
NUMBER = re.compile(rb"-?[0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?")
ELEMENT = re.compile(rb"<(path|rect|circle|ellipse|polygon|polyline|g|use)\b[^<>]*/?>")


# ---- inputs ---------------------------------------------------------------------------------
def weird_number(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return rng.choice(WEIRD)
    return f"{rng.uniform(-1e3, 1e3) * 10 ** rng.randint(-5, 40):.6g}"


def mutate_svg(data: bytes, rng: random.Random) -> bytes:
    """A few random edits: numbers, attributes, repeated or nested elements, raw bytes, cuts."""
    for _ in range(rng.randint(1, 8)):
        op = rng.choices(range(9), weights=[1, 1, 1, 1, 1, 1, 0.25, 0.25, 0.5])[0]
        if op <= 2:
            spans = [m.span() for m in NUMBER.finditer(data, 0, 200_000)]
            if spans:
                a, b = rng.choice(spans)
                data = data[:a] + (weird_number(rng) + rng.choice(UNITS)).encode() + data[b:]
        elif op <= 4:
            spans = [m.end(1) for m in ELEMENT.finditer(data, 0, 200_000)]
            if spans:
                at = rng.choice(spans)
                attr = rng.choice(
                    [
                        f'transform="{rng.choice(TRANSFORMS)}"',
                        f'fill="{rng.choice(COLORS)}"',
                        f'style="fill:{rng.choice(COLORS)};opacity:{weird_number(rng)}"',
                        f'opacity="{weird_number(rng)}"',
                        f'id="{rng.choice(["a", "b", "rect", "p0"])}"',
                    ]
                )
                data = data[:at] + f" {attr} ".encode() + data[at:]
        elif op == 5:
            spans = [m.span() for m in ELEMENT.finditer(data, 0, 200_000)]
            if spans:
                a, b = rng.choice(spans)
                piece = data[a:b]
                if rng.random() < 0.5:
                    piece = f'<g transform="{rng.choice(TRANSFORMS)}">'.encode() + piece + b"</g>"
                data = data[:a] + piece * rng.randint(1, 20) + data[b:]
        elif op == 6:
            at = rng.randrange(len(data) + 1)
            data = data[:at] + rng.randbytes(rng.randint(1, 8)) + data[at:]
        elif op == 7:
            at = rng.randrange(len(data) + 1)
            data = data[:at] + data[at + rng.randint(1, 60) :]
        else:
            snippet = rng.choice(
                [
                    "<style>" + "a" * rng.randint(1, 200_000) + "</style>",
                    "<style>" + "/*" * rng.randint(1, 50_000) + "</style>",
                    "<style>rect{fill:" + rng.choice(COLORS) + "}</style>",
                    '<use href="#rect"/>',
                    "<g>" * 300 + "</g>" * 300,
                ]
            )
            at = data.rfind(b"</svg>")
            if at > 0:
                data = data[:at] + snippet.encode() + data[at:]
    return data


def generated_svg(rng: random.Random) -> bytes:
    """An SVG from scratch: random shapes, paths, groups, <use> chains, styles, encodings."""

    def num() -> str:
        return weird_number(rng) if rng.random() < 0.15 else f"{rng.uniform(-20, 120):.3g}"

    def shape() -> str:
        tag = rng.choice(["path", "rect", "circle", "polygon", "ellipse"])
        fill = f' fill="{rng.choice(COLORS)}"' if rng.random() < 0.4 else ""
        tr = f' transform="{rng.choice(TRANSFORMS)}"' if rng.random() < 0.2 else ""
        if tag == "path":
            cmds = " ".join(
                rng.choice("LCQAHVSTlcqahvstZM")
                + " ".join(num() for _ in range(rng.choice([1, 2, 4, 6, 7])))
                for _ in range(rng.randint(1, 30))
            )
            return f'<path id="p{rng.randint(0, 3)}" d="M{num()} {num()} {cmds}"{fill}{tr}/>'
        if tag == "polygon":
            pts = " ".join(num() for _ in range(rng.randint(0, 40)))
            return f'<polygon points="{pts}"{fill}{tr}/>'
        keys = {"rect": "x y width height rx", "circle": "cx cy r", "ellipse": "cx cy rx ry"}[tag]
        attrs = " ".join(f'{k}="{num()}{rng.choice(UNITS)}"' for k in keys.split())
        return f"<{tag} {attrs}{fill}{tr}/>"

    def element(depth: int) -> str:
        if depth > 4 or rng.random() < 0.6:
            return shape()
        kids = "".join(element(depth + 1) for _ in range(rng.randint(0, 5)))
        tag = rng.choice(["g", "g", "svg", "defs", "symbol"])
        return f'<{tag} id="g{rng.randint(0, 3)}">{kids}</{tag}>'

    levels = rng.randint(0, 30)
    uses = (
        '<defs><rect id="u0" width="1" height="1"/>'
        + "".join(
            f'<g id="u{i + 1}"><use href="#u{i}"/><use href="#u{i}"/></g>' for i in range(levels)
        )
        + f'</defs><use href="#u{levels}"/>'
    )
    body = "".join(element(0) for _ in range(rng.randint(1, 12)))
    if rng.random() < 0.2:
        body += uses
    size = rng.choice(
        ['width="100" height="100"', 'viewBox="0 0 64 48"', f'width="{num()}" height="{num()}"',
         'width="16384" height="16384"', 'width="1e-300" height="100"', ""]
    )  # fmt: skip
    text = f'<svg xmlns="http://www.w3.org/2000/svg" {size}>{body}</svg>'
    encoding = rng.choice([None, None, "utf-16", "latin-1", "utf-1"])
    if encoding is None:
        return text.encode()
    head = f'<?xml version="1.0" encoding="{encoding}"?>'
    try:
        return (head + text).encode(encoding)
    except LookupError:
        return (head + text).encode()


def generated_image(rng: random.Random, path: Path) -> None:
    """A PNG of 1..700 px a side: noise, checkerboards, flat, gradients, stripes; maybe alpha."""
    import numpy as np
    from PIL import Image

    h, w = rng.randint(1, 700), rng.randint(1, 700)
    if rng.random() < 0.3:
        h, w = rng.randint(1, 24), rng.randint(1, 24)
    g = np.random.default_rng(rng.randrange(2**32))
    kind = rng.choice(["noise", "checker", "flat", "gradient", "stripes", "blocks"])
    yy, xx = np.indices((h, w))
    if kind == "noise":
        rgb = g.random((h, w, 3))
    elif kind == "checker":
        p = rng.randint(1, 3)
        rgb = np.repeat(((yy // p + xx // p) % 2)[..., None], 3, 2).astype(float)
    elif kind == "flat":
        rgb = np.broadcast_to(g.random(3), (h, w, 3))
    elif kind == "gradient":
        rgb = np.stack([xx / max(w - 1, 1), yy / max(h - 1, 1), np.zeros((h, w))], -1)
    elif kind == "stripes":
        rgb = np.repeat((xx % 2)[..., None], 3, 2).astype(float)
    else:
        rgb = g.random((h // 8 + 1, w // 8 + 1, 3)).repeat(8, 0).repeat(8, 1)[:h, :w]
    arr = (np.clip(rgb, 0, 1) * 255).astype(np.uint8)
    if rng.random() < 0.3:
        alpha = rng.choice([g.random((h, w)), np.zeros((h, w)), (xx < w / 2).astype(float)])
        arr = np.concatenate([arr, (alpha * 255).astype(np.uint8)[..., None]], -1)
    Image.fromarray(arr).save(path)

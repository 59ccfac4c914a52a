"""Fuzz families for issue 14: strokes, dashes, gradients, ``href`` chains and clip loops.

Generated documents reuse the hypothesis strategies of ``tests/test_fuzz_svg.py``
(shapes, stroke attributes, gradients, paint servers), drawn outside pytest with a
fixed seed; mutated documents are resvg's own one-feature tests
(``../shared/data/resvg-tests``) through :func:`fuzz_generators.mutate_svg` plus
paint-specific edits. Each input is rendered (``cli.py render``); a few are edited
two iterations with the packaged toy CLIP, so the backward pass sees them too.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

from fuzz_generators import mutate_svg, weird_number

RESVG = Path(__file__).resolve().parents[2] / "shared" / "data" / "resvg-tests"
RESVG_FOLDERS = ("painting/stroke", "paint-servers", "masking", "structure/use")
#: The toy CLIP ships with clipvg: an edit runs offline in well under a second.
TOY_EDIT = ["--prompt", "red", "--iters", "2", "--patches", "1", "--save-every", "0"]
TOY_EDIT += ["--clip-model", "clipvg-toy", "--device", "cpu", "--quiet"]

EXTREME_WIDTHS = ["0", "-1", "-1e30", "1e30", "nan", "inf", "1e-30", "1e9", "3"]
EXTREME_DASHES = [
    "0", "0 0", "0 0 0 0", "-1 2", "3 -3", "1e-9", "1e-9 1e-9", "0.001", "1e30",
    "nan 1", "inf", " ".join(["1"] * 10_000), " ".join(["0"] * 999 + ["1e-30"]), "5,0,0,5",
]  # fmt: skip
PAINT_ATTR = re.compile(
    rb"\b(stroke-width|stroke-dasharray|stroke-dashoffset|stroke-miterlimit|offset|r|fr|fx|fy"
    rb'|cx|cy|x1|x2|y1|y2)="[^"]*"'
)


def hypothesis_examples(strategy, n: int, seed: int) -> list:
    """``n`` values drawn from a hypothesis ``strategy``, the same ones for a given seed."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as fixed_seed

    out: list = []

    @fixed_seed(seed)
    @settings(
        max_examples=n,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(value):
        out.append(value)

    collect()
    return out[:n]


def _strategies():
    """Documents focused on one feature each, built from the test suite's strategies."""
    import test_fuzz_svg as t
    from hypothesis import strategies as st

    def with_attributes(element: str, attrs: dict[str, str]) -> str:
        """``element`` (one tag) with ``attrs`` set right after its name (replacing its own)."""
        for key in attrs:
            element = re.sub(rf' {re.escape(key)}="[^"]*"', "", element)
        name_end = re.match(r"<\w+", element).end()
        extra = "".join(f' {k}="{v}"' for k, v in attrs.items())
        return element[:name_end] + extra + element[name_end:]

    def document(body: str) -> bytes:
        root = 'xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'
        return f'<svg {root} width="100" height="100">{body}</svg>'.encode()

    @st.composite
    def stroked(draw) -> bytes:
        shapes = []
        for _ in range(draw(st.integers(1, 6))):
            attrs = draw(t.stroke_attributes())
            if draw(st.booleans()):
                attrs["stroke-width"] = draw(st.sampled_from(EXTREME_WIDTHS))
            if draw(st.booleans()):
                attrs["stroke-dasharray"] = draw(st.sampled_from(EXTREME_DASHES))
            shapes.append(with_attributes(draw(t.shape()), attrs))
        return document(draw(t.paint_servers()) + "".join(shapes))

    @st.composite
    def gradient_filled(draw) -> bytes:
        servers = "".join(draw(t.gradient(g)) for g in ("g0", "g1", "g2"))
        shapes = []
        for _ in range(draw(st.integers(1, 5))):
            attrs = {"fill": draw(st.sampled_from(["url(#g0)", "url(#g1)", "url(#g2)"]))}
            if draw(st.booleans()):
                attrs["stroke"] = draw(t.paint())
                attrs["stroke-width"] = draw(st.sampled_from(EXTREME_WIDTHS))
            shapes.append(with_attributes(draw(t.shape()), attrs))
        return document(f"<defs>{servers}</defs>" + "".join(shapes))

    return stroked(), gradient_filled()


def reference_chains(rng: random.Random) -> bytes:
    """Long or looping ``href`` chains of gradients and ``<use>``, and clip-path loops."""
    n = rng.choice([1, 2, 3, 10, 100, 1000, 5000, 20_000])
    link = rng.choice(["href", "xlink:href"])
    kind = rng.choice(["gradient chain", "gradient loop", "use chain", "use loop", "clip loop"])
    stops = '<stop offset="0" stop-color="red"/><stop offset="1" stop-color="blue"/>'
    if kind.startswith("gradient"):
        tag = rng.choice(["linearGradient", "radialGradient"])
        first = f'<{tag} id="c0">{stops}</{tag}>' if kind == "gradient chain" else ""
        start = 1 if first else 0
        chain = "".join(
            f'<{tag} id="c{i}" {link}="#c{(i - 1) % n}"/>' for i in range(start, max(n, 1))
        )
        ref = rng.choice(["fill", "stroke"])
        body = f'<defs>{first}{chain}</defs><rect width="80" height="80" {ref}="url(#c{n - 1})"/>'
    elif kind == "use chain":
        uses = "".join(f'<use id="u{i}" {link}="#u{i - 1}" x="1"/>' for i in range(1, n + 1))
        body = f'<defs><rect id="u0" width="9" height="9"/>{uses}</defs><use {link}="#u{n}"/>'
    elif kind == "use loop":
        uses = "".join(f'<use id="u{i}" {link}="#u{(i + 1) % n}" x="1"/>' for i in range(n))
        body = f'<defs>{uses}</defs><use {link}="#u0"/>'
    else:
        k = min(n, 50)
        clips = "".join(
            f'<clipPath id="k{i}" clip-path="url(#k{(i + 1) % k})">'
            f'<rect width="{50 + i}" height="50"/></clipPath>'
            for i in range(k)
        )
        inner = rng.choice(
            ['<use href="#target"/>', '<rect width="9" height="9" clip-path="url(#k0)"/>', ""]
        )
        clips += f'<clipPath id="self" clip-path="url(#self)">{inner}<circle r="40"/></clipPath>'
        which = rng.choice(["k0", "self", f"k{k - 1}"])
        body = f'<defs>{clips}</defs><g id="target" clip-path="url(#{which})"><rect width="90" height="90"/></g>'
    root = 'xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"'
    return f'<svg {root} width="100" height="100">{body}</svg>'.encode()


def paint_mutation(data: bytes, rng: random.Random) -> bytes:
    """:func:`mutate_svg`, then a few paint attributes (widths, dashes, stops, radii,
    gradient geometry) set to extreme values."""
    data = mutate_svg(data, rng) if rng.random() < 0.6 else data
    spans = list(PAINT_ATTR.finditer(data))
    for _ in range(rng.randint(1, 4) if spans else 0):
        m = rng.choice(spans)
        name = m.group(1).decode()
        if name == "stroke-dasharray":
            value = rng.choice(EXTREME_DASHES)
        elif name == "stroke-width":
            value = rng.choice(EXTREME_WIDTHS)
        else:
            value = weird_number(rng)
        data = data[: m.start()] + f'{name}="{value}"'.encode() + data[m.end() :]
        spans = list(PAINT_ATTR.finditer(data))
    return data


def paint_inputs(folder: Path, n: int, seed: int) -> list[dict]:
    """``n`` jobs over four kinds: stroked, gradient-filled, href/clip chains, mutated resvg."""
    if n <= 0:
        return []
    rng = random.Random(seed)
    per = max(n // 4, 1)
    stroked, gradients = _strategies()
    made = {
        "i14 strokes and dashes": hypothesis_examples(stroked, per, seed),
        "i14 gradients": hypothesis_examples(gradients, per, seed + 1),
        "i14 href chains and clip loops": [reference_chains(rng) for _ in range(per)],
    }
    sources = [p for f in RESVG_FOLDERS for p in sorted((RESVG / f).rglob("*.svg"))]
    if sources:
        made["i14 mutated resvg tests"] = [
            paint_mutation(rng.choice(sources).read_bytes(), rng) for _ in range(n - 3 * per)
        ]
    jobs = []
    for kind, documents in made.items():
        for data in documents:
            k = len(jobs)
            path = folder / f"p{k:05d}.svg"
            path.write_bytes(data)
            if rng.random() < 0.1:
                args = ["edit", str(path), *TOY_EDIT, "-o", str(folder / f"p{k:05d}")]
                if rng.random() < 0.5:
                    args += ["--lock", rng.choice(["shape", "color"])]
            else:
                args = ["render", str(path), "-o", str(folder / f"p{k:05d}.png")]
                args += ["--width", str(rng.choice([1, 17, 64, 128]))]
            jobs.append({"kind": kind, "args": args})
    return jobs

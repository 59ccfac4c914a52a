"""Fuzz families for issue 16's CLI table: hostile paths, YAML, numbers, pictures, CSS,
outputs, scenes with nothing to edit, and text.

Each family is a generator ``family(rng, files, k) -> argv`` over a folder of
prepared hostile files (:func:`prepare`): symlink loops, FIFOs, a device node, YAML
alias bombs, 16-bit and float pictures, truncated fonts. Numeric options come from
the real parser (every ``int``/``float`` option of each command), so an option added
later is fuzzed too. Edits use the packaged toy CLIP (offline, fast).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import stat
import subprocess
import sys
from pathlib import Path

from fuzz_generators import WEIRD, weird_number
from fuzz_paint import TOY_EDIT

ROOT = Path(__file__).resolve().parents[1]
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
#: Paths that are not regular files; the device node is a private copy of /dev/full.
HOSTILE = ["loop", "fifo", "link-to-fifo", "dangling", "folder", "device", "empty", "missing"]
COMMANDS = ("render", "vectorize", "edit", "text", "evaluate")
TOY = ["--clip-model", "clipvg-toy", "--device", "cpu"]


def prepare(folder: Path) -> dict[str, str]:
    """The fixed files the families draw from, by name -> path."""
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "tests" / "data" / "svg" / "shapes.svg", folder / "ok.svg")
    g = np.random.default_rng(0)
    Image.fromarray((g.random((24, 32, 3)) * 255).astype(np.uint8)).save(folder / "ok.png")
    (folder / "loop1").symlink_to(folder / "loop2")
    (folder / "loop2").symlink_to(folder / "loop1")
    os.mkfifo(folder / "fifo")
    (folder / "link-to-fifo").symlink_to(folder / "fifo")
    (folder / "dangling").symlink_to(folder / "nowhere" / "x")
    (folder / "folder").mkdir()
    (folder / "empty").write_bytes(b"")
    files = {name: str(folder / name) for name in HOSTILE}
    files["loop"] = str(folder / "loop1")
    try:
        os.mknod(folder / "device", stat.S_IFCHR | 0o666, os.makedev(1, 7))
    except (PermissionError, AttributeError):  # not root: the FIFO stands in for it
        files["device"] = files["fifo"]
    files.update(ok_svg=str(folder / "ok.svg"), ok_png=str(folder / "ok.png"))
    files["run"] = str(folder / "done")  # a finished run folder, for --resume and -o
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    argv = [sys.executable, str(ROOT / "cli.py"), "edit", files["ok_svg"], *TOY_EDIT]
    subprocess.run([*argv, "-o", files["run"]], env=env, check=True, capture_output=True)
    return files


def _out(files: dict[str, str], k: int, suffix: str) -> str:
    return str(Path(files["ok_svg"]).parent / f"out{k:05d}{suffix}")


def _hostile(rng: random.Random, files: dict[str, str]) -> str:
    return files[rng.choice(HOSTILE)]


def paths(rng: random.Random, files: dict[str, str], k: int) -> list[str]:
    """Symlink loops, FIFOs, a device, folders, dangling links where a command reads."""
    bad = _hostile(rng, files)
    svg, png = files["ok_svg"], files["ok_png"]
    return rng.choice(
        [
            ["render", bad, "-o", _out(files, k, ".png")],
            ["vectorize", bad, "-o", _out(files, k, ".svg"), "--preset", "fast"],
            ["edit", bad, *TOY_EDIT, "-o", _out(files, k, "")],
            ["edit", svg, *TOY_EDIT, "--prompt-image", bad, "-o", _out(files, k, "")],
            ["edit", svg, *TOY_EDIT, "--config", bad, "-o", _out(files, k, "")],
            ["edit", "--resume", bad, "--quiet"],
            ["edit", svg, *TOY_EDIT, "--roi-mask", bad, "x", "-o", _out(files, k, "")],
            ["text", "Hi", "--font", bad, "-o", _out(files, k, ".svg")],
            ["evaluate", svg, "--source", bad, "--prompt", "x", *TOY],
            ["evaluate", bad, "--source", png, "--prompt", "x", *TOY],
            ["batch", bad, "-o", _out(files, k, "")],
        ]
    )


def outputs(rng: random.Random, files: dict[str, str], k: int) -> list[str]:
    """``-o`` (and ``--json``) over FIFOs, a device node, loops, folders, a file's child."""
    bad = rng.choice([_hostile(rng, files), files["ok_svg"] + "/x.svg", files["run"]])
    svg, png = files["ok_svg"], files["ok_png"]
    argv = rng.choice(
        [
            ["render", svg, "-o", bad],
            ["vectorize", png, "-o", bad, "--preset", "fast", "--refine-iters", "0"],
            ["text", "Hi", "-o", bad],
            ["edit", svg, *TOY_EDIT, "-o", bad],
            ["evaluate", svg, "--source", svg, "--prompt", "x", *TOY, "--json", bad],
            ["batch", _jobs_file(rng, files, k, "rows"), "-o", bad],
        ]
    )
    return argv + (["--overwrite"] if rng.random() < 0.6 else [])


def bomb(levels: int, width: int) -> str:
    """A YAML flow sequence nesting ``levels`` aliases of ``width`` uses each."""
    parts = [f"&a0 [{', '.join(['1'] * width)}]"]
    parts += [f"&a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]" for i in range(1, levels + 1)]
    return "[" + ", ".join(parts) + "]"


def yaml_value(rng: random.Random) -> str:
    """One hostile YAML value: alias bombs, deep nesting, huge scalars, tags, undefined
    aliases, a 1 MB string."""
    return rng.choice(
        [
            bomb(rng.randint(1, 12), rng.randint(2, 10)),
            "[" * (n := rng.choice([10, 1000, 100_000])) + "]" * n,
            "{a: " * (n := rng.choice([10, 1000, 50_000])) + "1" + "}" * n,
            "9" * rng.choice([20, 5000, 100_000]),
            ".nan",
            "-.inf",
            "1e999",
            "!!python/object/apply:os.system ['true']",
            "!!binary aGVsbG8=",
            "*undefined",
            repr("x" * 1_000_000),
            weird_number(rng),
        ]
    )


def yaml_document(rng: random.Random, body: str) -> bytes:
    """``body`` (YAML text) maybe after a merge-key bomb, maybe after bad bytes."""
    if rng.random() < 0.2:  # each level merges the previous one and refers to it again
        lines = ["m0: &m0 {b: 1}"]
        lines += [
            f"m{i}: &m{i} {{<<: *m{i - 1}, k: [*m{i - 1}, *m{i - 1}]}}"
            for i in range(1, rng.randint(2, 40))
        ]
        body = "\n".join(lines) + "\n" + body
    data = body.encode("utf-8", "surrogateescape")
    if rng.random() < 0.15:
        data = rng.choice([b"\xef\xbb\xbf", b"\xff\xfe", b"\x80\x81", b"\x00"]) + data
    return data


def _jobs_file(rng: random.Random, files: dict[str, str], k: int, kind: str) -> str:
    """A batch jobs file: YAML with a hostile row or key, or a hostile CSV."""
    folder = Path(files["ok_svg"]).parent
    row = f"{{input: {files['ok_svg']}, prompt: x, iters: 1, patches: 1}}"
    if kind == "rows" or rng.random() < 0.7:
        key = rng.choice(["seed", "prompt", "iters", "rois", "input", "x"])
        body = rng.choice(
            [
                f"jobs:\n- {row}\n- {{input: {files['ok_svg']}, {key}: {yaml_value(rng)}}}\n",
                f"jobs:\n- {row}\n{key}: {yaml_value(rng)}\n",
                f"defaults: {{{key}: {yaml_value(rng)}}}\njobs:\n- {row}\n",
                f"jobs: {yaml_value(rng)}\n",
            ]
        )
        path = folder / f"jobs{k:05d}.yaml"
        path.write_bytes(yaml_document(rng, body))
        return str(path)
    field = rng.choice(["x" * rng.choice([10, 200_000]), '"unclosed', "a\x00b", weird_number(rng)])
    path = folder / f"jobs{k:05d}.csv"
    path.write_text(f"input,prompt,seed\n{files['ok_svg']},x,{field}\n")
    return str(path)


JSON_VALUES = [
    "NaN",
    "Infinity",
    "-Infinity",
    "1e999",
    "9" * 5000,
    "[" * 100_000,
    '"\\ud800"',
    "{}",
]


def yaml_configs(rng: random.Random, files: dict[str, str], k: int) -> list[str]:
    """Hostile YAML (and JSON, CSV) in ``edit --config`` and ``batch`` jobs files."""
    folder = Path(files["ok_svg"]).parent
    if rng.random() < 0.5:
        key = rng.choice(["seed", "prompt", "iters", "rois", "vectorize", "lock", "shape_lr", "x"])
        if rng.random() < 0.8:
            cfg = folder / f"cfg{k:05d}.yaml"
            cfg.write_bytes(yaml_document(rng, f"prompt: x\n{key}: {yaml_value(rng)}\n"))
        else:
            cfg = folder / f"cfg{k:05d}.json"
            cfg.write_text(f'{{"prompt": "x", "{key}": {rng.choice(JSON_VALUES)}}}')
        return ["edit", files["ok_svg"], *TOY_EDIT, "--config", str(cfg), "-o", _out(files, k, "")]
    jobs = _jobs_file(rng, files, k, "any")
    factory = ["--encoder-factory", "clipvg.clip:tiny_clip", "--workers", "1", "--quiet"]
    return ["batch", jobs, "-o", _out(files, k, ""), *factory]


def numeric_options(parser: argparse.ArgumentParser) -> dict[str, list[tuple[str, int]]]:
    """Every command's numeric options: command -> [(flag, nargs)]."""
    out: dict[str, list[tuple[str, int]]] = {}
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, p in sub.choices.items():
        for action in p._actions:
            if action.type in (int, float) and action.option_strings:
                nargs = action.nargs if isinstance(action.nargs, int) else 1
                out.setdefault(name, []).append((action.option_strings[-1], nargs))
    return out


_NUMERIC: dict[str, list[tuple[str, int]]] = {}


def numbers(rng: random.Random, files: dict[str, str], k: int) -> list[str]:
    """Non-finite, huge and odd values in 1-3 numeric options of a command."""
    if not _NUMERIC:
        from clipvg import cli

        _NUMERIC.update(numeric_options(cli.build_parser()))
    command = rng.choice(COMMANDS)
    svg, png = files["ok_svg"], files["ok_png"]
    argv = {
        "render": ["render", svg, "-o", _out(files, k, ".png")],
        "vectorize": ["vectorize", png, "-o", _out(files, k, ".svg"), "--preset", "fast"],
        "edit": ["edit", svg, *TOY_EDIT, "-o", _out(files, k, "")],
        "text": ["text", "Hi", "-o", _out(files, k, ".svg")],
        "evaluate": ["evaluate", svg, "--source", svg, "--prompt", "x", *TOY],
    }[command]
    options = _NUMERIC[command]
    for flag, nargs in rng.sample(options, min(len(options), rng.randint(1, 3))):
        values = [
            rng.choice(WEIRD) if rng.random() < 0.7 else weird_number(rng) for _ in range(nargs)
        ]
        # --flag=-1e39: a value that starts with "-" is not read as an option
        argv += [f"{flag}={values[0]}"] if nargs == 1 else [flag, *values]
    if command == "edit" and rng.random() < 0.3:
        argv += ["--roi", *(weird_number(rng) for _ in range(4)), "a red box"]
        argv += [
            f"--feather={rng.choice(WEIRD)}",
            "--preserve-background",
            rng.choice(["1", "0.5"]),
        ]
    return argv


def pictures(rng: random.Random, files: dict[str, str], k: int) -> list[str]:
    """16-bit, 32-bit integer and float pictures (NaN, infinities, any range), and the
    other Pillow modes, to ``vectorize``."""
    import numpy as np
    from PIL import Image

    h, w = rng.randint(1, 200), rng.randint(1, 200)
    g = np.random.default_rng(rng.randrange(2**32))
    mode = rng.choice(["I;16", "I", "F", "F", "1", "L", "LA", "P", "CMYK", "RGBA"])
    folder = Path(files["ok_svg"]).parent
    suffix = {"CMYK": "jpg", "F": "tif", "I": "tif"}.get(mode, "png")
    path = folder / f"pic{k:05d}.{suffix}"
    if mode == "F":
        lo, hi = sorted(float(x) for x in rng.sample([-1e30, -5, 0, 0.5, 1, 255, 1e30], 2))
        a = (g.random((h, w)) * (hi - lo) + lo).astype(np.float32)
        for value in rng.sample([np.nan, np.inf, -np.inf], rng.randint(0, 3)):
            a[g.random((h, w)) < 0.1] = value
        if rng.random() < 0.2:
            a[:] = a.flat[0]
        image = Image.fromarray(a)
    elif mode in ("I;16", "I"):
        top = rng.choice([1, 255, 256, 4095, 65535] + ([2**31 - 1] if mode == "I" else []))
        low = -(2**31) if mode == "I" and rng.random() < 0.3 else 0
        a = g.integers(low, top + 1, (h, w))
        if rng.random() < 0.2:
            a[:] = a.flat[0]
        image = Image.fromarray(a.astype(np.uint16 if mode == "I;16" else np.int32))
    else:
        base = Image.fromarray((g.random((h, w, 3)) * 255).astype(np.uint8))
        image = base.convert(mode) if mode != "P" else base.quantize(rng.randint(1, 256))
        if mode == "P" and rng.random() < 0.5:
            image.info["transparency"] = 0
    image.save(path)
    argv = ["vectorize", str(path), "-o", _out(files, k, ".svg"), "--preset", "fast"]
    return argv + ["--refine-iters", rng.choice(["0", "0", "2"])]


AT_STATEMENTS = [
    '@import url("x.css");', '@import "a.css" screen;', '@charset "utf-8";', "@namespace svg url(http://www.w3.org/2000/svg);",
    "@media screen { rect { fill: red } }", "@font-face { font-family: x; src: url(x.ttf) }",
    "@keyframes k { from { fill: red } to { fill: blue } }", "@supports (fill: red) { path { fill: red } }",
    "@page { margin: 1in }", "@import", "@", "@media {", "@media a { @media b { path { fill: #0f0 } } }",
    "@import url(;", "@charset;", "@x{}}", "@layer a, b;", "@layer a { rect { fill: blue } }",
]  # fmt: skip
CSS_RULES = ["path { fill: #00ff00 }", "rect { fill: red; stroke: blue }", "* { opacity: .5 }", ".a { fill: none }"]  # fmt: skip


def css(rng: random.Random, files: dict[str, str], k: int) -> list[str]:
    """Stylesheets mixing at-statements (valid, cut, nested, repeated) with rules."""
    parts = rng.choices(AT_STATEMENTS + CSS_RULES, k=rng.randint(1, 12))
    if rng.random() < 0.1:
        parts = [rng.choice(AT_STATEMENTS)] * rng.choice([1000, 100_000]) + parts
    sheet = "\n".join(parts)
    body = f'<style>{sheet}</style><path class="a" d="M0 0H10V10H0Z"/><rect x="20" width="9" height="9"/>'
    path = Path(files["ok_svg"]).parent / f"css{k:05d}.svg"
    path.write_text(f'<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20">{body}</svg>')
    if rng.random() < 0.2:
        return ["edit", str(path), *TOY_EDIT, "-o", _out(files, k, "")]
    return ["render", str(path), "-o", _out(files, k, ".png"), "--width", "32"]


NOTHING = [
    "", '<path d=""/>', '<path d="M0 0"/>', '<rect width="0" height="9"/>', '<rect width="9" height="9" fill="none"/>',
    '<path d="M0 0 L9 9" stroke="red"/>', '<path d="M0 0 L9 9" stroke="red" fill="none" stroke-width="0"/>',
    '<rect width="9" height="9" display="none"/>', '<rect width="9" height="9" visibility="hidden"/>',
    '<rect width="9" height="9" opacity="0"/>', "<defs><rect width='9' height='9'/></defs>",
    "<symbol><rect width='9' height='9'/></symbol>", '<text x="1" y="9">Hi</text>',
    '<image width="9" height="9" href="data:,"/>', '<g><g><g/></g></g>',
    '<clipPath id="c"><rect width="0" height="0"/></clipPath><rect width="9" height="9" clip-path="url(#c)"/>',
    '<rect x="1e9" width="9" height="9"/>', '<rect width="9" height="9" fill-opacity="0"/>',
]  # fmt: skip


def nothing_to_edit(rng: random.Random, files: dict[str, str], k: int) -> list[str]:
    """``edit`` of scenes with nothing fillable, or next to nothing."""
    body = "".join(rng.choices(NOTHING, k=rng.randint(1, 4)))
    root = rng.choice(['width="20" height="20"', 'viewBox="0 0 20 20"', ""])
    path = Path(files["ok_svg"]).parent / f"empty{k:05d}.svg"
    path.write_text(f'<svg xmlns="http://www.w3.org/2000/svg" {root}>{body}</svg>')
    argv = ["edit", str(path), *TOY_EDIT, "-o", _out(files, k, "")]
    return argv + (["--lock", rng.choice(["shape", "color"])] if rng.random() < 0.3 else [])


ALPHABETS = [
    "ABCxyz 019", "漢字かなカナ한글", "😀🎉👍🏽‍", "\u0301\u0302\u0303", "مرحبا עברית", "\t\r\n\u200b\ufeff",
    "\x01\x1b\x7f", "\udc80\udcff", "ﷺ𒐫꧅",
]  # fmt: skip


def text(rng: random.Random, files: dict[str, str], k: int) -> list[str]:
    """Long and odd texts (to 100,000 characters), odd sizes, broken fonts."""
    n = rng.choice([0, 1, 5, 100, 1000, 100_000])
    alphabet = rng.choice(ALPHABETS)
    word = "".join(rng.choice(alphabet) for _ in range(n))
    argv = ["text", word, "-o", _out(files, k, ".svg")]
    if rng.random() < 0.4:
        argv += [f"{rng.choice(['--size', '--border'])}={rng.choice(WEIRD)}"]
    if rng.random() < 0.3 and FONT.is_file():
        font = Path(files["ok_svg"]).parent / f"font{k:05d}.ttf"
        data = FONT.read_bytes()
        cut = rng.choice([0, 12, 100, 1000, len(data) // 2, len(data) - 1])
        broken = bytearray(data[:cut] if rng.random() < 0.5 else data)
        for _ in range(rng.randint(0, 50) if cut == len(data) - 1 else 0):
            broken[rng.randrange(len(broken))] = rng.randrange(256)
        font.write_bytes(bytes(broken))
        argv += ["--font", str(font)]
    elif rng.random() < 0.2:
        argv += ["--font", rng.choice([files["ok_svg"], files["fifo"], files["empty"]])]
    return argv


FAMILIES = {
    "i16 hostile paths": paths,
    "i16 hostile outputs": outputs,
    "i16 YAML and CSV": yaml_configs,
    "i16 numeric options": numbers,
    "i16 16-bit and float pictures": pictures,
    "i16 CSS at-statements": css,
    "i16 nothing to edit": nothing_to_edit,
    "i16 text": text,
}


def cli_inputs(folder: Path, n: int, seed: int) -> list[dict]:
    """``n`` jobs taking turns over :data:`FAMILIES`."""
    if n <= 0:
        return []
    rng = random.Random(seed)
    files = prepare(folder)
    jobs = []
    names = list(FAMILIES)
    for k in range(n):
        kind = names[k % len(names)]
        jobs.append({"kind": kind, "args": FAMILIES[kind](rng, files, k)})
    return jobs

"""Fuzzing campaign: hostile SVGs and images through the command-line code paths.

Mutates ``../shared/data/svg/{pitt,tajmahal}.svg`` and ``tests/data/svg/*.svg``,
generates SVGs and images from scratch, and runs each input through ``cli.main``
(``render`` for SVGs, ``vectorize`` for images) in worker processes, a batch each.
Every input must end in exit code 0 or in a one-line ``error:`` with exit code 2;
anything else is a traceback. Prints a markdown table: inputs, ok, refusals,
tracebacks, hangs (over 10 s), the slowest input and the workers' peak memory
(max RSS, an upper bound on any one input's peak).

    nice python benchmarks/fuzz.py --svgs 2000 --images 300 --workers 2

Deterministic for a given ``--seed``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import random
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from pictures import png_claiming  # noqa: E402  (shared with the tests)

SHARED = ROOT.parent / "shared" / "data" / "svg"
HANG = 10.0  # CPU seconds: an input slower than this counts as a hang
KILL = 60  # CPU seconds: an input is abandoned after this (SIGPROF in the worker)

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


def build_inputs(folder: Path, n_svgs: int, n_images: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    seeds = [p for p in sorted((ROOT / "tests" / "data" / "svg").glob("*.svg"))]
    big = [p for p in (SHARED / "pitt.svg", SHARED / "tajmahal.svg") if p.exists()]
    sources = {p: p.read_bytes() for p in seeds + big}
    jobs = []
    for i in range(n_svgs):
        path = folder / f"s{i:05d}.svg"
        r = rng.random()
        if r < 0.35:
            kind, data = "generated svg", generated_svg(rng)
        else:
            src = rng.choice(big) if big and r > 0.85 else rng.choice(seeds)
            kind, data = "mutated svg", mutate_svg(sources[src], rng)
        path.write_bytes(data)
        args = ["render", str(path), "-o", str(folder / f"s{i:05d}.png")]
        if rng.random() < 0.7:
            args += ["--width", str(rng.choice([1, 17, 64, 128, 256]))]
        if rng.random() < 0.2:
            args += ["--background", "none"]
        jobs.append({"kind": kind, "args": args})
    for i in range(n_images):
        path = folder / f"i{i:04d}.png"
        generated_image(rng, path)
        args = ["vectorize", str(path), "-o", str(folder / f"i{i:04d}.svg")]
        preset = rng.choice(["fast", "fast", "balanced", "detailed"])
        args += ["--preset", preset, "--refine-iters", str(rng.choice([0, 0, 0, 2]))]
        if rng.random() < 0.3:
            args += ["--max-size", str(rng.choice([8, 64, 256, 1024]))]
        if rng.random() < 0.2:
            args += ["--region", *(weird_number(rng) or "0" for _ in range(4))]
        jobs.append({"kind": "generated image", "args": args})
    return jobs


def issue_cases(folder: Path) -> list[dict]:
    """The hostile inputs reported in issue 8, one job each."""
    import numpy as np
    from PIL import Image

    def svg(name: str, body: str, root: str = 'width="100" height="100"', head: str = "") -> str:
        path = folder / f"case-{name}.svg"
        path.write_text(f'{head}<svg xmlns="http://www.w3.org/2000/svg" {root}>{body}</svg>')
        return str(path)

    def render(name: str, body: str, *extra: str, **kw) -> dict:
        return {
            "kind": name,
            "args": [
                "render",
                svg(name, body, **kw),
                "-o",
                str(folder / f"case-{name}.png"),
                *extra,
            ],
        }

    rect = '<rect width="10" height="10"/>'
    uses = (
        '<defs><rect id="a0" width="1" height="1"/>'
        + "".join(f'<g id="a{i + 1}"><use href="#a{i}"/><use href="#a{i}"/></g>' for i in range(22))
        + '</defs><use href="#a22"/>'
    )
    jobs = [
        render("path to 1e39", '<path d="M0 0 L1e39 0 L0 10 Z"/>'),
        render("rect 1e308", '<rect width="1e308" height="1e308"/>'),
        render("path to x=1e9", '<path d="M0 0 L1e9 0 L0 10 Z"/>'),
        render(
            "root width 1e-300 at --width 64",
            rect,
            "--width",
            "64",
            root='width="1e-300" height="100"',
        ),
        render("fill rgb(1e999,0,0)", '<rect width="10" height="10" fill="rgb(1e999,0,0)"/>'),
        render(
            "style rgba(1e400%,0%,0%,1)", "<style>rect{fill:rgba(1e400%,0%,0%,1)}</style>" + rect
        ),
        render("encoding utf-1", rect, head='<?xml version="1.0" encoding="utf-1"?>'),
        render("translate(1in 10)", '<rect width="10" height="10" transform="translate(1in 10)"/>'),
        render("16 MB single path", '<path d="M0 0' + " L1 1" * 3_300_000 + '"/>'),
        render("16384x16384 canvas", rect, root='width="16384" height="16384"'),
        render("--width 100000", rect, "--width", "100000"),
        render("100 KB <style>", "<style>" + "a" * 100_000 + "</style>" + rect),
        render("160 KB <style>", "<style>" + "a{" * 80_000 + "</style>" + rect),
        render("22 nested doubled <use>", uses),
    ]
    bomb = folder / "case-bomb.png"
    bomb.write_bytes(png_claiming(20000, 20000))
    jobs.append(
        {
            "kind": "PNG claiming 20000x20000",
            "args": ["vectorize", str(bomb), "-o", str(folder / "case-bomb.svg")],
        }
    )
    yy, xx = np.indices((224, 224))
    board = np.repeat(((yy + xx) % 2 * 255).astype(np.uint8)[..., None], 3, 2)
    Image.fromarray(board).save(folder / "case-board.png")
    noise = (np.random.default_rng(0).random((480, 480, 3)) * 255).astype(np.uint8)
    Image.fromarray(noise).save(folder / "case-noise.png")
    for name, file in (
        ("224 px 1-px checkerboard", "case-board.png"),
        ("480 px uniform noise", "case-noise.png"),
    ):
        args = [
            "vectorize",
            str(folder / file),
            "-o",
            str(folder / f"{file}.svg"),
            "--preset",
            "balanced",
        ]
        jobs.append({"kind": f"{name}, vectorize --preset balanced", "args": args})
    args = [
        "vectorize",
        str(folder / "case-board.png"),
        "-o",
        str(folder / "r.svg"),
        "--region",
        "nan",
        "0",
        "10",
        "10",
    ]
    jobs.append({"kind": "vectorize --region nan 0 10 10", "args": args})
    return jobs


def case_table(rows: list[dict]) -> str:
    lines = [
        "| issue 8 input | outcome | CPU time (s) | wall time (s) | peak memory (GB) | message |",
        "|---|---|---:|---:|---:|---|",
    ]
    for r in rows:
        msg = re.sub(r"\S*/case-[\w.-]+", "FILE", r["detail"]).replace("|", "/")[:110]
        lines.append(
            f"| {r['kind']} | {r['outcome']} | {r['cpu']:.2f} | {r['seconds']:.2f} | {r['maxrss_gb']:.2f} | {msg} |"
        )
    return "\n".join(lines)


# ---- worker -----------------------------------------------------------------------------------
def _alarm(signum, frame):
    raise TimeoutError(f"over {KILL} s")


def run_worker(manifest: Path, results: Path) -> None:
    """Run each job through cli.main in this process; one JSON line per job."""
    import warnings

    import torch

    torch.set_num_threads(1)
    sys.path.insert(0, str(ROOT))
    from clipvg import cli

    # CPU time, not wall time: the machine may be shared, and a wait is not a hang.
    signal.signal(signal.SIGPROF, _alarm)
    with results.open("w") as out:
        for job in json.loads(manifest.read_text()):
            err = io.StringIO()
            start, cpu = time.perf_counter(), time.process_time()
            signal.setitimer(signal.ITIMER_PROF, KILL)
            try:
                with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
                    with warnings.catch_warnings():
                        rc = cli.main(job["args"])
                lines = [ln for ln in err.getvalue().splitlines() if ln.startswith("error:")]
                outcome = {0: "ok", 2: "refused"}.get(rc, f"exit {rc}")
                if rc == 2 and len(lines) != 1:
                    outcome = "refused without one error line"
                detail = lines[0][:160] if lines else ""
            except TimeoutError:
                outcome, detail = "hang", f"killed after {KILL} s"
            except SystemExit as exc:  # argparse: a usage error is exit 2 with a usage line
                outcome = "refused" if exc.code == 2 else "traceback"
                detail = f"usage error: {err.getvalue().strip().splitlines()[-1][:160]}"
            except BaseException as exc:  # noqa: BLE001 - every escape is what we count
                outcome, detail = "traceback", f"{type(exc).__name__}: {str(exc)[:160]}"
            finally:
                signal.setitimer(signal.ITIMER_PROF, 0)
            elapsed = time.perf_counter() - start
            row = {**job, "outcome": outcome, "detail": detail, "seconds": elapsed}
            row["cpu"] = time.process_time() - cpu
            row["maxrss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
            out.write(json.dumps(row) + "\n")
            out.flush()


# ---- driver -----------------------------------------------------------------------------------
def run_batches(jobs: list[dict], workers: int, batch: int, folder: Path) -> list[dict]:
    batches = [jobs[i : i + batch] for i in range(0, len(jobs), batch)]
    rows: list[dict] = []
    running: list[tuple[subprocess.Popen, Path, list[dict]]] = []
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    while batches or running:
        while batches and len(running) < workers:
            part = batches.pop(0)
            k = len(rows) + sum(len(p) for _, _, p in running)
            manifest, results = folder / f"m{k}.json", folder / f"r{k}.jsonl"
            manifest.write_text(json.dumps(part))
            cmd = [sys.executable, __file__, "--worker", str(manifest), str(results)]
            running.append((subprocess.Popen(cmd, env=env, cwd=ROOT), results, part))
        time.sleep(0.5)
        for item in list(running):
            proc, results, part = item
            if proc.poll() is None:
                continue
            running.remove(item)
            done = [json.loads(line) for line in results.read_text().splitlines()]
            if len(done) < len(part):  # the worker died (killed for memory, or a crash)
                lost = part[len(done)]
                done.append({**lost, "outcome": "traceback", "detail": f"worker died ({proc.returncode})",
                             "seconds": float("nan"), "cpu": float("nan"), "maxrss_gb": float("nan")})  # fmt: skip
                batches.insert(0, part[len(done) :]) if len(done) < len(part) else None
            rows.extend(done)
            print(f"{len(rows)}/{len(jobs)} inputs", file=sys.stderr, flush=True)
    return rows


def table(rows: list[dict], wall: float) -> str:
    import numpy
    import PIL
    import torch

    kinds = ["mutated svg", "generated svg", "generated image"]
    head = (
        "| inputs | kind | ok | ClipvgError refusals | tracebacks | hangs > 10 s CPU | "
        "max CPU time (s) | max wall time (s) | peak memory (GB) |"
    )
    lines = [head, "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for kind in [*kinds, "all"]:
        sel = [r for r in rows if kind == "all" or r["kind"] == kind]
        if not sel:
            continue
        count = {o: sum(r["outcome"] == o for r in sel) for o in ("ok", "refused", "hang")}
        bad = len(sel) - count["ok"] - count["refused"] - count["hang"]
        hangs = sum(not r["cpu"] <= HANG for r in sel)  # NaN (a dead worker) counts
        slow = max(r["cpu"] for r in sel)
        longest = max(r["seconds"] for r in sel)
        peak = max(r["maxrss_gb"] for r in sel)
        lines.append(
            f"| {len(sel)} | {kind} | {count['ok']} | {count['refused']} | {bad} | {hangs} | "
            f"{slow:.2f} | {longest:.2f} | {peak:.2f} |"
        )
    refusals: dict[str, int] = {}
    for r in rows:
        if r["outcome"] == "refused":
            key = re.sub(r"\S*/(s|i)\d+\.\w+", "FILE", r["detail"])
            key = re.sub(r"-?\d[\d.]*(e[-+]?\d+)?", "N", key)[:90]
            refusals[key] = refusals.get(key, 0) + 1
    lines += ["", "Most common refusals:", ""]
    lines += [f"- {n} x `{k}`" for k, n in sorted(refusals.items(), key=lambda kv: -kv[1])[:12]]
    problems = [r for r in rows if r["outcome"] not in ("ok", "refused") or not r["cpu"] <= HANG]
    if problems:
        lines += ["", "Problems:", ""]
        lines += [
            f"- {r['outcome']} {r['cpu']:.1f} s CPU `{' '.join(r['args'])}`: {r['detail']}"
            for r in problems[:30]
        ]
    lines += [
        "",
        f"{len(rows)} inputs in {wall:.0f} s wall; {os.cpu_count()} cores ({platform.processor() or platform.machine()}); "
        f"python {platform.python_version()}, torch {torch.__version__}, numpy {numpy.__version__}, "
        f"pillow {PIL.__version__}. Peak memory is the worker processes' max RSS (torch included), "
        "an upper bound on any one input's peak. Times are per input, one torch thread; wall "
        "time includes waiting for a shared CPU.",
    ]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--svgs", type=int, default=2000)
    p.add_argument("--images", type=int, default=300)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--batch", type=int, default=100, help="inputs per worker process")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--keep", help="folder to keep the inputs and results in")
    p.add_argument(
        "--cases", action="store_true", help="only the inputs reported in issue 8, one process each"
    )
    p.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        run_worker(Path(args.worker[0]), Path(args.worker[1]))
        return
    with tempfile.TemporaryDirectory(prefix="clipvg-fuzz-") as tmp:
        folder = Path(args.keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        start = time.time()
        if args.cases:
            print(case_table(run_batches(issue_cases(folder), args.workers, 1, folder)))
            return
        jobs = build_inputs(folder, args.svgs, args.images, args.seed)
        rows = run_batches(jobs, args.workers, args.batch, folder)
        (folder / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        print(table(rows, time.time() - start))


if __name__ == "__main__":
    main()

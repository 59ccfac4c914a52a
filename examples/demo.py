"""The main job on bundled examples: picture -> layered SVG -> text-guided edit.

Run by ``make demo``. With CLIP ViT-B-32 OpenAI weights cached (or ``--clip-weights
PATH``) it vectorizes examples/cat.jpg and edits it. Without them (no weights can be
downloaded here) it runs the same editor with ``clipvg-toy``, the small CLIP trained on
procedural shapes that ships with clipvg, on toy scenes it understands: a red star
recoloured blue (``--lock shape``) and a circle reshaped toward a square (``--lock
color``); the analytic judge (clipvg.toy.judge) says whether each edit did what its
prompt says. ``--toy`` runs the toy demo even where real weights exist.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from clipvg import cli  # noqa: E402
from clipvg.clip import weights_cached  # noqa: E402

#: 3x the default learning rates (as in benchmarks/semantic.py): at the defaults (tuned
#: for ViT-B/32 over 150 iterations) a full recolour needs more than 60 iterations.
TOY_LRS = {"color_lr": 0.03, "shape_lr": 0.6}
#: The toy edits: (folder, use, case builder arguments).
TOY_EDITS = (
    ("star-red-to-blue", "recolour", ("star", "red", "blue")),
    ("circle-to-square", "reshape", ("circle", "square", "green")),
)


def run_steps(steps: list[list[str]]) -> int:
    print(
        "demo: it runs these commands (each can be copied and run as it is, in the .venv):",
        flush=True,
    )
    for step in steps:
        print("$ python cli.py " + shlex.join(step), flush=True)
        code = cli.main(step)
        if code:
            return code
    return 0


def cat_demo(out: Path, args: argparse.Namespace) -> int:
    photo = ROOT / "examples" / "cat.jpg"
    svg = out / "cat.svg"
    clip_args = ["--clip-weights", args.clip_weights] if args.clip_weights else []
    code = run_steps(
        [
            ["vectorize", str(photo), "-o", str(svg), "--preset", "fast", "--overwrite"],
            ["render", str(svg), "-o", str(out / "cat-vector.png"), "--overwrite"],
            [
                "edit", str(svg), "--prompt", "a cat made of gold",
                "--source-prompt", "a photo of a cat", "--iters", str(args.iters),
                "--patches", str(args.patches), "--save-every", "10",
                "-o", str(out / "edit"), "--overwrite", *clip_args,
            ],
        ]
    )  # fmt: skip
    if not code:
        print(f"demo: done; see {out}/cat-vector.png and {out}/edit/final.svg, final.png")
    return code


def toy_demo(out: Path, args: argparse.Namespace) -> int:
    import torch

    from clipvg.clip import load_clip
    from clipvg.render import render
    from clipvg.svg import load_svg
    from clipvg.toy.edits import CANVAS, recolour_case, reshape_case, run_case
    from clipvg.toy.model import TOY_MODEL, vocabulary

    print(
        f"demo: using CLIP {TOY_MODEL}, a 4 M-parameter CLIP trained on procedural shapes that "
        "ships with clipvg (no download).\n"
        f"demo: it understands only {vocabulary()}.\n"
        "demo: edits run through clipvg.edit.run_edit with the library's defaults but "
        f"learning rates {TOY_LRS}, stopping when the analytic judge (clipvg.toy.judge) "
        "sees the target; the toy knows colours well and shapes barely (see README), so "
        "the reshape may fail.",
        flush=True,
    )
    encoder = load_clip(TOY_MODEL)
    builders = {"recolour": recolour_case, "reshape": reshape_case}
    panels = []
    for folder, use, words in TOY_EDITS:
        case = builders[use](*words, patches=args.patches, **TOY_LRS)
        print(
            f"demo: {case.source_prompt!r} -> {case.prompt!r} (lock {case.settings['lock'][0]})...",
            flush=True,
        )
        result = run_case(case, encoder, out / folder, iters=args.toy_iters[use])
        with torch.no_grad():
            before = render(load_svg(out / folder / "input.svg"), CANVAS, CANVAS)
            after = render(load_svg(out / folder / "run" / "latest.svg"), CANVAS, CANVAS)
        panels.append((before, after, f"{case.source_prompt} -> {case.prompt}", result))
        print(
            f"demo:   the judge sees {result['seen']} after {result['iterations']} iterations: "
            f"{'SUCCESS' if result['success'] else 'FAILURE'}; see {out / folder / 'run'}",
            flush=True,
        )
    summary_png(panels, out / "summary.png")
    print(f"demo: before/after of both edits in {out / 'summary.png'}")
    return 0


def summary_png(panels, path: Path, scale: int = 2) -> None:
    """Before | after of every edit, one row each, with the prompt and the judge's verdict."""
    from PIL import Image, ImageDraw

    side = panels[0][0].shape[0] * scale
    text_h = 34
    sheet = Image.new("RGB", (2 * side + 30, len(panels) * (side + text_h) + 10), "white")
    draw = ImageDraw.Draw(sheet)
    for row, (before, after, title, seen) in enumerate(panels):
        y = 10 + row * (side + text_h)
        for col, image in enumerate((before, after)):
            pixels = Image.fromarray((image.numpy() * 255).round().astype("uint8"))
            sheet.paste(pixels.resize((side, side), Image.NEAREST), (10 + col * (side + 10), y))
        verdict = "success" if seen["success"] else "failure"
        draw.text((10, y + side + 4), title, fill="black")
        draw.text((10, y + side + 18), f"judge: {seen['seen']} ({verdict})", fill="black")
    sheet.save(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out/demo", help="output folder (replaced)")
    parser.add_argument("--iters", type=int, default=30)
    parser.add_argument("--patches", type=int, help="patches (8 for the cat, 0 for the toy)")
    parser.add_argument("--clip-weights", help="local CLIP checkpoint, for offline machines")
    parser.add_argument("--toy", action="store_true", help="run the clipvg-toy demo")
    args = parser.parse_args()
    args.toy_iters = {"recolour": 60, "reshape": 80}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.toy or (not args.clip_weights and not weights_cached("ViT-B-32", "openai")):
        if not args.toy:
            print(
                "demo: CLIP ViT-B-32 (openai) weights are not cached here and cannot be "
                "downloaded,\ndemo: so the demo edits toy scenes with the packaged toy CLIP "
                "instead (pass --clip-weights PATH, via make demo DEMO_ARGS=..., for the cat).",
                flush=True,
            )
        args.patches = 0 if args.patches is None else args.patches
        return toy_demo(out, args)
    args.patches = 8 if args.patches is None else args.patches
    return cat_demo(out, args)


if __name__ == "__main__":
    sys.exit(main())

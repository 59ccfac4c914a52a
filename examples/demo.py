"""The main job on a bundled example: photo -> layered SVG -> text-guided edit.

Run by ``make demo``. Uses CLIP ViT-B-32 with OpenAI weights when they are cached
(or ``--clip-weights PATH``); without them it still runs the whole pipeline with
random CLIP weights, and says loudly that the edit is then meaningless.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cli  # noqa: E402
from clipvg.clip import weights_cached  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out/demo", help="output folder (replaced)")
    parser.add_argument("--iters", type=int, default=30)
    parser.add_argument("--patches", type=int, default=8)
    parser.add_argument("--clip-weights", help="local CLIP checkpoint, for offline machines")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    photo = ROOT / "examples" / "cat.jpg"
    svg = out / "cat.svg"

    steps = [
        ["vectorize", str(photo), "-o", str(svg), "--preset", "fast", "--overwrite"],
        ["render", str(svg), "-o", str(out / "cat-vector.png"), "--overwrite"],
    ]
    clip_args = ["--clip-weights", args.clip_weights] if args.clip_weights else []
    if not args.clip_weights and not weights_cached("ViT-B-32", "openai"):
        print(
            "demo: CLIP ViT-B-32 (openai) weights are not cached here and cannot be downloaded;\n"
            "demo: running the edit with RANDOM CLIP weights to show the pipeline. The result is\n"
            "demo: NOT a meaningful edit. Pass --clip-weights PATH (make demo DEMO_ARGS=...) for a real one.",
            file=sys.stderr,
        )
        clip_args = ["--clip-pretrained", "none"]
    steps.append(
        [
            "edit",
            str(svg),
            "--prompt",
            "a cat made of gold",
            "--source-prompt",
            "a photo of a cat",
            "--iters",
            str(args.iters),
            "--patches",
            str(args.patches),
            "--save-every",
            "10",
            "-o",
            str(out / "edit"),
            "--overwrite",
            *clip_args,
        ]
    )
    print("demo: it runs these commands (each can be copied and run as it is):", flush=True)
    for step in steps:
        print("$ python cli.py " + shlex.join(step), flush=True)
        code = cli.main(step)
        if code:
            return code
    print(f"demo: done; see {out}/cat-vector.png and {out}/edit/final.svg, final.png")
    print("demo: to run the commands yourself, first: . .venv/bin/activate")
    return 0


if __name__ == "__main__":
    sys.exit(main())

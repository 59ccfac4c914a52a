"""Command-line options shared by clipvg's commands: the parsers' building blocks.

``cli.py`` defines the commands and what they do; this module holds the option groups
that several commands share (regions, CLIP, edit settings) and the small helpers that
give every command the same ``--help`` shape (help text, examples, hidden old spellings).
"""

from __future__ import annotations

import argparse


def add_overwrite_arg(p) -> None:
    p.add_argument(
        "--overwrite", action="store_true", help="replace an existing output file (never an input)"
    )


def add_quiet_arg(p, help: str = "no progress output on stderr") -> None:
    p.add_argument("--quiet", action="store_true", help=help)


def command_parser(sub, name: str, help: str, examples: str):
    """A subcommand whose --help ends with copy-pasteable examples."""
    return sub.add_parser(
        name,
        help=help,
        description=help[0].upper() + help[1:] + ".",
        epilog="examples:\n" + "\n".join("  " + line for line in examples.strip().splitlines()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def add_alias(p, old: str, new: str, **kw) -> None:
    """Accept the old spelling ``old`` of ``new`` without listing it in --help."""
    p.add_argument(old, dest=new.lstrip("-").replace("-", "_"), help=argparse.SUPPRESS, **kw)


def parse_rounds(text: str) -> list[int]:
    try:
        return [int(v) for v in text.replace(",", " ").split()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--rounds takes comma-separated integers, got {text!r}"
        ) from None


def parse_ids(text: str) -> list[str]:
    """``--freeze a,b``: comma-separated path or group ids (or inkscape:label names)."""
    ids = [v.strip() for v in text.split(",")]
    if not all(ids):
        raise argparse.ArgumentTypeError(
            f"--freeze takes comma-separated path or group ids, got {text!r}"
        )
    return ids


class RegionAction(argparse.Action):
    """Collects --roi / --roi-polygon / --roi-mask / --roi-image in command-line order."""

    def __call__(self, parser, namespace, values, option_string=None):
        specs = list(getattr(namespace, self.dest, None) or [])
        specs.append((self.const, list(values)))
        setattr(namespace, self.dest, specs)


# flag, region kind, its values, help (all repeatable; ROI numbers follow their order)
REGION_FLAGS = (
    (
        "--roi",
        "box",
        ("X", "Y", "W", "H", "TEXT"),
        "extra box region with its own prompt (repeatable)",
    ),
    (
        "--roi-polygon",
        "polygon",
        ("POINTS", "TEXT"),
        'extra polygon region, POINTS = "x1,y1 x2,y2 x3,y3 ..." (repeatable)',
    ),
    (
        "--roi-mask",
        "mask",
        ("MASK", "TEXT"),
        "extra region from a mask image, white = editable, stretched over the canvas",
    ),
    (
        "--roi-image",
        "image",
        ("X", "Y", "W", "H", "REF"),
        "extra box region aimed at an exemplar picture REF (repeatable)",
    ),
)


def add_roi_args(p) -> None:
    """ROI flags shared by edit and evaluate (ROI numbers follow the command-line order)."""
    g = p.add_argument_group("regions (ROI 0 is the whole image; extra ROIs in canvas units)")
    g.add_argument("--prompt", help="target text for the whole image (ROI 0)")
    g.add_argument(
        "--prompt-image",
        metavar="REF",
        help="exemplar picture for the whole image: aim at E(REF) - E(input) instead of a text",
    )
    for flag, kind, metavar, text in REGION_FLAGS:
        g.add_argument(
            flag,
            nargs=len(metavar),
            action=RegionAction,
            const=kind,
            dest="regions_",
            metavar=metavar,
            help=text,
        )


def roi_specs(args: argparse.Namespace) -> list[dict] | None:
    """The extra ROIs of the command line as settings entries (None when none given)."""
    from clipvg.errors import ClipvgError

    specs = getattr(args, "regions_", None)
    if not specs:
        return None
    out = []
    for kind, values in specs:
        if kind in ("box", "image"):
            try:
                box = [float(v) for v in values[:4]]
            except ValueError:
                flag = "--roi" if kind == "box" else "--roi-image"
                last = "TEXT" if kind == "box" else "REF"
                raise ClipvgError(
                    f"{flag} takes X Y W H {last} with numeric X Y W H, got {' '.join(values)}"
                ) from None
            entry = dict(zip(("x", "y", "w", "h"), box, strict=True))
            entry.update({"prompt": values[4]} if kind == "box" else {"image": values[4]})
        elif kind == "polygon":
            entry = {"polygon": values[0], "prompt": values[1]}
        else:
            entry = {"mask": values[0], "prompt": values[1]}
        out.append(entry)
    return out


def add_clip_args(p) -> None:
    """CLIP and device flags shared by edit and evaluate."""
    p.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], help="where to run (auto)")
    p.add_argument("--clip-model", help="open_clip architecture (ViT-B-32)")
    p.add_argument(
        "--clip-pretrained", help="open_clip pretrained tag (openai), or none for random weights"
    )
    p.add_argument("--clip-weights", help="local CLIP checkpoint (.safetensors or torch file)")
    p.add_argument("--source-prompt", help="text describing the input (photo)")


def add_edit_options(p) -> None:
    """The edit settings flags, shared by edit and batch (where they are row defaults)."""
    add_roi_args(p)
    p.add_argument("--iters", type=int, help="iterations (150)")
    p.add_argument("--patches", type=int, help="random patches per ROI and iteration (64)")
    p.add_argument("--crop-ratio", type=float, help="patch side / ROI's longer side (0.8)")
    p.add_argument("--roi-weight", type=float, help="weight of each whole-ROI term (30)")
    p.add_argument(
        "--patch-weight",
        type=float,
        help="weight of each ROI's patch term, spread over its patches (80)",
    )
    p.add_argument(
        "--shape-lr", type=float, help="Adam learning rate of control points, pixels (0.2)"
    )
    p.add_argument("--color-lr", type=float, help="Adam learning rate of fill colors (0.01)")
    p.add_argument(
        "--lock", action="append", choices=["shape", "color"], help="keep shapes or colors fixed"
    )
    p.add_argument("--seed", type=int, help="random seed (0)")
    p.add_argument("--save-every", type=int, help="snapshot every N iterations (50; 0: never)")
    p.add_argument(
        "--batch-size", type=int, help="crops per CLIP pass; bounds memory (16; 0: all in one)"
    )
    p.add_argument(
        "--source-features",
        choices=["pool", "whole", "paired"],
        help="initial-render features: warp pool encoded once, whole ROI once, "
        "or same warps every iteration (pool)",
    )
    p.add_argument(
        "--precision",
        choices=["auto", "fp32", "bf16"],
        help="CLIP's image passes; auto = bf16 autocast where faster (auto)",
    )
    add_clip_args(p)
    loc = p.add_argument_group("local edits and candidates")
    loc.add_argument(
        "--edit-only",
        action="store_const",
        const=True,
        help="change nothing outside the extra ROIs (+ --feather); paths crossing them get clipped copies",
    )
    loc.add_argument(
        "--freeze",
        type=parse_ids,
        action="extend",
        metavar="ID[,ID...]",
        help="leave these paths or groups exactly as they are: SVG ids or inkscape:label "
        "names, e.g. house or round-2 (repeatable; the web page's locked layers)",
    )
    loc.add_argument(
        "--preserve-background",
        type=float,
        metavar="W",
        help="add W x (MSE + CLIP-feature distance) to the initial render outside the ROIs (0)",
    )
    loc.add_argument(
        "--feather",
        type=float,
        metavar="PX",
        help="soft ROI edge for --preserve-background, reach past the ROIs for --edit-only; canvas units (2)",
    )
    loc.add_argument(
        "--candidates",
        type=int,
        metavar="K",
        help="run K seeds, rank them, keep the best as final.svg (1)",
    )
    loc.add_argument(
        "--rank-penalty",
        type=float,
        help="ranking: CLIP similarity - this x background RMS change (1)",
    )
    v = p.add_argument_group("raster input (vectorized first)")
    v.add_argument(
        "--preset",
        choices=["fast", "balanced", "detailed"],
        help="vectorizer preset: fast ~300 paths, balanced ~1000, detailed ~3000 (balanced)",
    )
    v.add_argument("--max-paths", type=int, help="vectorizer path budget (the preset's)")
    v.add_argument("--max-size", type=int, help="downscale the image's longer side to this (512)")
    v.add_argument(
        "--rounds", type=parse_rounds, help="regions per round, coarse to fine, e.g. 16,64,256"
    )
    add_detail_region_arg(v)


def add_detail_region_arg(p) -> None:
    """--detail-region (old spelling --region): a vectorizer box in input-image pixels,
    unlike the ROIs (--roi), which are in canvas units."""
    kw = dict(nargs=4, type=float, action="append", metavar=("X", "Y", "W", "H"))
    p.add_argument(
        "--detail-region",
        help="vectorize this box of the input image in an extra finer round; "
        "input-image pixels, not canvas units (repeatable)",
        **kw,
    )
    add_alias(p, "--region", "--detail-region", **kw)

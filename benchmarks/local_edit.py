"""Benchmark of local edits: cost of ranked candidates, and background preservation.

Table 1: wall seconds of one edit run vs ``--candidates K`` (K seeds sharing the
loaded CLIP and the input), end to end through ``run_edit`` including the CLIP load,
and the ratio (target <= 4.2 for K = 4). CLIP is ViT-B-32 with RANDOM weights
(timing only).

Table 2: PSNR outside a box (8 px margin left out) after N iterations with the
analytic mean-color encoder, with and without ``--preserve-background``.

Table 3: ``--edit-only`` on examples/landscape.svg (its README box) and pitt.svg (a
quarter of the canvas) after N iterations with the analytic mean-color encoder, at the
canvas size: PSNR outside the box grown by the feather width (target >= 45 dB), pixels
there changed by more than 2 levels, and how much the box itself changed (PSNR and
mean absolute change in 0-255 levels, against the original).

    python benchmarks/local_edit.py [--svg pitt.svg] [--iters 10] [--k 4] [--patches 16]
Table 4: the seam of ``--edit-only`` on the same inputs and boxes: the mean colour
jump across the box's edge (the first pixel past the feather band inside against the
pixel just outside, along every side inside the canvas, :func:`clipvg.metrics.box_seam`,
0-255 levels, RGB distance; target <= 3) and how much the paths edited in place
(not the clipped copies: the house) change where they show, before (copies free to change
colour, ``EditSession(hold_edges=False)``, main before issue 18) and now.

    python benchmarks/local_edit.py --tables 3 [--edit-only-iters 50]
    python benchmarks/local_edit.py --tables 4 [--edit-only-iters 50]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import torch  # noqa: E402

import clipvg  # noqa: E402
from clipvg.config import EditSettings  # noqa: E402
from clipvg.edit import EditSession, package_versions, run_edit  # noqa: E402
from clipvg.metrics import background_psnr, box_seam  # noqa: E402
from clipvg.roi import box_mask  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--svg",
        default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "svg" / "pitt.svg"),
    )
    ap.add_argument("--iters", type=int, default=10, help="iterations per run (table 1)")
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--patches", type=int, default=16)
    ap.add_argument("--preserve-iters", type=int, default=150, help="iterations (table 2; 0 skips)")
    ap.add_argument("--preserve-size", type=int, default=128, help="optimization render size")
    ap.add_argument("--edit-only-iters", type=int, default=50, help="iterations (table 3)")
    ap.add_argument("--tables", default="1,2,3", help="which tables to print, e.g. 3")
    args = ap.parse_args()
    tables = {int(t) for t in args.tables.split(",")}
    v = package_versions()
    print(
        f"cpu cores: {os.cpu_count()}, torch threads: {torch.get_num_threads()}, "
        f"torch {v['torch']}, open_clip {v['open_clip_torch']}"
    )
    if 1 in tables:
        candidates_table(args)
    if 2 in tables and args.preserve_iters > 0:
        preserve_table(args)
    if 3 in tables:
        edit_only_table(args)
    if 4 in tables:
        seam_table(args)


def candidates_table(args: argparse.Namespace) -> None:
    box = {"x": 0, "y": 0, "w": 256, "h": 256, "prompt": "red hair"}
    base = dict(
        input=args.svg,
        prompt="a portrait",
        rois=[box],
        iters=args.iters,
        patches=args.patches,
        save_every=0,
        device="cpu",
        clip_pretrained="none",
    )
    times = {}
    with warnings.catch_warnings(), tempfile.TemporaryDirectory() as tmp:
        warnings.simplefilter("ignore")
        for k in (1, args.k):
            t = time.perf_counter()
            run_edit(EditSettings(**base, candidates=k), Path(tmp) / f"k{k}", progress=False)
            times[k] = time.perf_counter() - t
    print(
        f"\nTable 1: {Path(args.svg).name}, ViT-B-32 random weights, {args.iters} iterations, "
        f"{args.patches} patches/ROI, 2 ROIs"
    )
    print(f"{'run':<22}{'seconds':>10}")
    print(f"{'one run':<22}{times[1]:>10.2f}")
    print(f"{f'K={args.k} candidates':<22}{times[args.k]:>10.2f}")
    print(f"{'ratio':<22}{times[args.k] / times[1]:>10.2f}   (target <= {args.k * 1.05:.1f})")


def preserve_table(args: argparse.Namespace) -> None:
    from encoders import MeanColorEncoder

    box = {"x": 0, "y": 0, "w": 256, "h": 256, "prompt": "red"}

    print(
        f"\nTable 2: PSNR outside the box (8 px margin), analytic encoder, "
        f"{args.preserve_iters} iterations at {args.preserve_size} px, measured at 512 px"
    )
    print(f"{'preserve W':<12}{'PSNR dB':>10}{'redness +':>11}{'seconds':>9}")
    for w in (0.0, 1.0):
        st = EditSettings(
            prompt="red",
            rois=[dict(box, prompt="red")],
            iters=args.preserve_iters,
            patches=4,
            save_every=0,
            device="cpu",
            preserve_background=w,
        )
        scene = clipvg.load_svg(args.svg)
        t = time.perf_counter()
        s = EditSession(
            scene, st, MeanColorEncoder(), render=lambda sc: clipvg.render(sc, args.preserve_size)
        )
        for _ in range(args.preserve_iters):
            s.step()
        secs = time.perf_counter() - t
        with torch.no_grad():
            a, b = clipvg.render(s.scene, 512), clipvg.render(s.initial, 512)
        outside = box_mask((0, 0, 264, 264), (512, 512)) == 0

        def red(img):
            m = img[16:240, 16:240].reshape(-1, 3).mean(0)
            return float(m[0] - (m[1] + m[2]) / 2)

        print(
            f"{w:<12g}{background_psnr(a, b, outside):>10.2f}{red(a) - red(b):>11.3f}{secs:>9.1f}"
        )


def edit_only_cases(args: argparse.Namespace) -> list[tuple[Path, tuple[float, ...]]]:
    """(input, box) of tables 3 and 4: the landscape's house, a quarter of ``--svg``."""
    landscape = Path(__file__).resolve().parents[1] / "examples" / "landscape.svg"
    cases = [(landscape, (40.0, 120.0, 80.0, 90.0))]
    if Path(args.svg).is_file():
        scene = clipvg.load_svg(args.svg)
        cases.append((Path(args.svg), (0.0, 0.0, scene.width / 2, scene.height / 2)))
    return cases


def edit_only_session(path: Path, box: tuple[float, ...], n: int, **kw) -> EditSession:
    """``n`` iterations of an edit-only session: prompt green, the box's prompt red."""
    from encoders import MeanColorEncoder

    st = EditSettings(
        prompt="green",
        rois=[dict(zip("xywh", box, strict=True), prompt="red")],
        iters=n,
        save_every=0,
        device="cpu",
        edit_only=True,
    )
    s = EditSession(clipvg.load_svg(path), st, MeanColorEncoder(), **kw)
    for _ in range(n):
        s.step()
    return s


def seam_table(args: argparse.Namespace) -> None:
    n = args.edit_only_iters
    print(
        f"\nTable 4: --edit-only seam, analytic encoder, {n} iterations at the canvas size "
        "(prompt green, ROI red, feather 2); levels of 255"
    )
    print(
        "| input | box | seam before | seam now | edited paths' change before "
        "| edited paths' change now | seconds |"
    )
    print("|---|---|---|---|---|---|---|")

    for path, box in edit_only_cases(args):
        row = []
        t = time.perf_counter()
        for hold in (False, True):
            row.append(seam_and_change(edit_only_session(path, box, n, hold_edges=hold), box))
        print(
            f"| {path.name} | {' '.join(f'{v:g}' for v in box)} | {row[0][0]:.2f} "
            f"| {row[1][0]:.2f} | {row[0][1]:.2f} | {row[1][1]:.2f} "
            f"| {time.perf_counter() - t:.0f} |",
            flush=True,
        )


def seam_and_change(s: EditSession, box: tuple[float, ...]) -> tuple[float, float]:
    """(the seam along ``box``, the mean change where the paths edited in place show)."""
    from clipvg.roi.split import is_region_copy

    with torch.no_grad():
        a = clipvg.render(s.scene)
        b = clipvg.render(s.initial)
        # where the paths edited in place show: the initial render without them differs
        copy = torch.tensor([is_region_copy(p.id) for p in s.initial.info])
        own = s.editable.cpu() & ~copy
        rest = clipvg.render(s.initial.subset((~own).nonzero().flatten()))
        shows = (b - rest).abs().amax(-1) > 1 / 255
    q = a.shape[1] / s.scene.width
    px = tuple(v * q for v in box)
    depth = max(round(s.settings.feather * q), 1)
    change = float((a - b).abs()[shows].mean()) * 255
    return box_seam(a, b, px, depth), change


def edit_only_table(args: argparse.Namespace) -> None:

    cases = edit_only_cases(args)
    n = args.edit_only_iters
    print(
        f"\nTable 3: --edit-only, analytic encoder, {n} iterations at the canvas size "
        f"(prompt green, ROI red, default learning rates, feather 2)"
    )
    print(
        "| input | box | editable paths | PSNR outside box+feather dB | px > 2 levels outside "
        "| box PSNR dB | box mean abs change | seconds |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for path, box in cases:
        t = time.perf_counter()
        s = edit_only_session(path, box, n)
        secs = time.perf_counter() - t
        with torch.no_grad():
            a = clipvg.render(s.scene)
            b = clipvg.render(clipvg.load_svg(path))
        hw = tuple(a.shape[:2])
        sx, sy = hw[1] / s.scene.width, hw[0] / s.scene.height
        f = s.settings.feather
        grown = (box[0] - f, box[1] - f, box[2] + 2 * f, box[3] + 2 * f)
        outside = box_mask(tuple(v * k for v, k in zip(grown, (sx, sy, sx, sy))), hw) == 0
        inside = box_mask(tuple(v * k for v, k in zip(box, (sx, sy, sx, sy))), hw) == 1
        diff = (a - b).abs() * 255
        changed = int((diff.amax(-1) > 2)[outside].sum())
        print(
            f"| {path.name} | {' '.join(f'{v:g}' for v in box)} | {int(s.editable.sum())} "
            f"| {background_psnr(a, b, outside):.2f} | {changed} "
            f"| {background_psnr(a, b, inside):.2f} | {float(diff[inside].mean()):.2f} "
            f"| {secs:.1f} |"
        )


if __name__ == "__main__":
    main()

"""Benchmark of one edit iteration against the CLIP work it contains.

Prints a table: seconds per iteration at the defaults (64 patches per ROI, whole-ROI
crop, ViT-B-32 with RANDOM weights), and the ratio of that to CLIP alone on the same
batch of crops: (a) forward+backward of the current crops, (b) that plus the no-grad
forward of the initial render's crops (the CLIP work an iteration really does).
Everything else (render, warps, loss, Adam) is the overhead; target (a) <= 1.15.

    python benchmarks/edit.py [--svg pitt.svg] [--iters 2] [--device cpu]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

import clipvg  # noqa: E402
from clipvg.clip import load_clip, resolve_device  # noqa: E402
from clipvg.config import EditSettings  # noqa: E402
from clipvg.edit import EditSession, package_versions  # noqa: E402


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def interleaved(fns, device, reps: int) -> list[float]:
    """Median wall seconds per call of each function, timed in turn (after one warm-up each).

    Interleaving keeps slow drifts of the machine from favouring one of them.
    """
    for fn in fns:
        fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(reps):
        for i, fn in enumerate(fns):
            sync(device)
            start = time.perf_counter()
            fn()
            sync(device)
            times[i].append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--svg",
        default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "svg" / "pitt.svg"),
    )
    ap.add_argument(
        "--iters", type=int, default=3, help="timed repetitions per case (after 1 warm-up)"
    )
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--patches", type=int, default=64)
    ap.add_argument("--rois", default="1,3", help="ROI counts to time")
    args = ap.parse_args()

    device = resolve_device(args.device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        encoder = load_clip("ViT-B-32", "none", device=device)
    scene0 = clipvg.load_svg(args.svg)
    w, h = scene0.width, scene0.height
    extra = [
        {"x": 0, "y": 0, "w": w / 2, "h": h / 2, "prompt": "a red hat"},
        {"x": w / 3, "y": h / 3, "w": w / 2, "h": h / 3, "prompt": "a smile"},
    ]
    rows = []
    for n_roi in [int(v) for v in args.rois.split(",")]:
        settings = EditSettings(
            prompt="a watercolor painting",
            rois=extra[: n_roi - 1],
            patches=args.patches,
            device=str(device),
        )
        session = EditSession(scene0.clone(), settings, encoder, device=device)
        n = sum(1 + r.patches for r in session.rois)
        s = encoder.image_size
        crops = torch.rand(n, 3, s, s, device=device)

        def clip_fb(crops=crops):
            x = crops.clone().requires_grad_(True)
            encoder.encode_image(x).square().sum().backward()

        def clip_all(crops=crops, clip_fb=clip_fb):
            clip_fb()
            with torch.no_grad():
                encoder.encode_image(crops)

        it_wall, fb_wall, all_wall = interleaved(
            [session.step, clip_fb, clip_all], device, args.iters
        )
        rows.append((n_roi, n, it_wall, fb_wall, all_wall))

    v = package_versions()
    print(
        f"# clipvg edit benchmark: {Path(args.svg).name} ({scene0.num_paths} paths, {w:g}x{h:g}), device {device}, "
        f"ViT-B-32 random weights, input {encoder.image_size}px"
    )
    print(
        f"# cores {os.cpu_count()}, torch threads {torch.get_num_threads()}, torch {v['torch']}, "
        f"open_clip {v['open_clip_torch']}, python {v['python']}; median of {args.iters} interleaved repetitions"
    )
    print(
        "| ROIs | crops | s/iter | CLIP fwd+bwd (s) | ratio | CLIP fwd+bwd + reference fwd (s) | ratio |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n_roi, n, itw, fb, al in rows:
        print(
            f"| {n_roi} | {n} | {itw:.2f} | {fb:.2f} | {itw / fb:.3f} | {al:.2f} | {itw / al:.3f} |"
        )


if __name__ == "__main__":
    main()

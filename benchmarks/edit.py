"""Benchmark of one edit iteration against the CLIP work it contains, and its memory.

For each ROI count, ``--source-features`` mode and precision, one subprocess (so that
its peak memory, VmHWM, is its own) builds an edit session on pitt.svg at the defaults
(512x512 render, 64 patches + the whole-ROI crop per ROI, random-init ViT-B-32,
``batch_size`` crops per CLIP pass) and times, interleaved, one iteration and the fp32
CLIP forward+backward of as many crops in the same chunks (random crops; the work an
iteration cannot avoid). Everything else (render, warps, loss, Adam, and the reference
pass of ``paired``) is overhead: target ratio <= 1.10 in the default mode.
The 150-iteration edit time is extrapolated: setup (incl. the warp pool's encoding)
+ 150 x the median iteration.

    python benchmarks/edit.py [--reps 3] [--rois 1,3] [--modes pool,whole,paired]
        [--precisions fp32,bf16] [--device cpu] [--memory-only]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

import clipvg  # noqa: E402
from clipvg.clip import clip_dtype, load_clip, resolve_device  # noqa: E402
from clipvg.config import BATCH_SIZE, EditSettings  # noqa: E402
from clipvg.edit import EditSession, package_versions  # noqa: E402

SVG = Path(__file__).resolve().parents[2] / "shared" / "data" / "svg" / "pitt.svg"


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def interleaved(fns, device, reps: int) -> list[float]:
    """Median wall seconds per call of each function, timed in turn (after one warm-up each).

    Interleaving keeps slow drifts of the machine (other jobs on shared cores) from
    favouring one of them.
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


def peak_memory_gb(device: torch.device) -> float:
    """Peak resident memory of this process (VmHWM), or the CUDA allocator's peak, in GB."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated() / 1e9
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024 / 1e9
    return float("nan")


def extra_rois(w: float, h: float) -> list[dict]:
    return [
        {"x": 0, "y": 0, "w": w / 2, "h": h / 2, "prompt": "a red hat"},
        {"x": w / 3, "y": h / 3, "w": w / 2, "h": h / 3, "prompt": "a smile"},
    ]


def run_case(args: argparse.Namespace) -> dict:
    """One configuration, in this process: setup, then interleaved iteration / CLIP alone."""
    n_roi, mode, precision = args.case.split(",")
    device = resolve_device(args.device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        encoder = load_clip("ViT-B-32", "none", device=device)
    scene = clipvg.load_svg(args.svg)
    settings = EditSettings(
        prompt="a watercolor painting",
        rois=extra_rois(scene.width, scene.height)[: int(n_roi) - 1],
        patches=args.patches,
        device=str(device),
        source_features=mode,
        precision=precision,
        batch_size=args.batch_size,
    )
    t0 = time.perf_counter()
    session = EditSession(scene, settings, encoder, device=device)
    setup = time.perf_counter() - t0
    n = sum(1 + r.patches for r in session.rois)
    batch = args.batch_size or n
    size = encoder.image_size
    chunk = torch.rand(min(batch, n), 3, size, size, device=device)

    def clip_fp32() -> None:
        for lo in range(0, n, batch):
            x = chunk[: min(batch, n - lo)].clone().requires_grad_(True)
            encoder.encode_image(x).square().sum().backward()

    if args.memory_only:  # one iteration for the peak memory, no timing
        session.step()
        it = fb = float("nan")
    else:
        it, fb = interleaved([session.step, clip_fp32], device, args.reps)
    return {
        "rois": int(n_roi),
        "crops": n,
        "mode": mode,
        "precision": precision,
        "dtype": str(session.clip_dtype or torch.float32).replace("torch.", ""),
        "setup": setup,
        "iter": it,
        "clip": fb,
        "peak": peak_memory_gb(device),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--svg", default=str(SVG))
    ap.add_argument("--reps", type=int, default=3, help="timed repetitions (after 1 warm-up)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--patches", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=BATCH_SIZE, help="crops per CLIP pass")
    ap.add_argument("--rois", default="1,3", help="ROI counts to time")
    ap.add_argument("--modes", default="pool,whole,paired", help="--source-features modes")
    ap.add_argument("--precisions", default="fp32,bf16", help="precisions (auto, fp32, bf16)")
    ap.add_argument(
        "--memory-only", action="store_true", help="setup + one iteration per case, peak memory"
    )
    ap.add_argument("--case", help=argparse.SUPPRESS)  # internal: one configuration
    args = ap.parse_args()
    if args.case:
        print(json.dumps(run_case(args)))
        return

    device = resolve_device(args.device)
    v = package_versions()
    scene = clipvg.load_svg(args.svg)
    print(
        f"# clipvg edit benchmark: {Path(args.svg).name} ({scene.num_paths} paths, "
        f"{scene.width:g}x{scene.height:g}, rendered 512x512), device {device}, "
        f"ViT-B-32 random weights, {args.patches} patches + 1 whole crop per ROI, "
        f"{args.batch_size or 'all'} crops per CLIP pass"
    )
    print(
        f"# cores {os.cpu_count()}, torch threads {torch.get_num_threads()}, torch {v['torch']}, "
        f"open_clip {v['open_clip_torch']}, python {v['python']}; auto precision here = "
        f"{str(clip_dtype('auto', device) or 'fp32').replace('torch.', '')}; "
        f"median of {args.reps} interleaved repetitions, each configuration in its own process"
    )
    print(
        "| ROIs | crops | source features | precision | setup (s) | s/iter "
        "| CLIP fp32 fwd+bwd (s) | ratio | 150 iters (min, extrapolated) | peak memory (GB) |"
    )
    print("|---:|---:|---|---|---:|---:|---:|---:|---:|---:|", flush=True)
    cases = [
        (r, m, p)
        for r in args.rois.split(",")
        for m in args.modes.split(",")
        for p in args.precisions.split(",")
    ]
    for r, m, p in cases:
        cmd = [sys.executable, __file__, "--case", f"{r},{m},{p}", "--svg", args.svg]
        cmd += ["--reps", str(args.reps), "--device", args.device]
        cmd += ["--patches", str(args.patches), "--batch-size", str(args.batch_size)]
        cmd += ["--memory-only"] if args.memory_only else []
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            print(f"| {r} | | {m} | {p} | failed: {out.stderr.strip().splitlines()[-1]} |")
            continue
        c = json.loads(out.stdout.strip().splitlines()[-1])
        total = (c["setup"] + 150 * c["iter"]) / 60
        print(
            f"| {c['rois']} | {c['crops']} | {c['mode']} | {c['precision']} ({c['dtype']}) "
            f"| {c['setup']:.1f} | {c['iter']:.2f} | {c['clip']:.2f} | {c['iter'] / c['clip']:.3f} "
            f"| {total:.1f} | {c['peak']:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()

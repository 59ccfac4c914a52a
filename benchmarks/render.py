"""Rasterizer benchmark: fidelity against a 16-spp reference, speed, peak memory.

Run: ``.venv/bin/python benchmarks/render.py`` (about a minute on 2 cores).

- Fidelity: PSNR at 512x512 over white against resvg rendered at 4x the size and
  box-downsampled (16 samples per pixel).
- Speed: median wall time of forward, and of forward + backward with
  ``loss = image.mean()`` and gradients on all points and colours.
- Memory: peak resident memory of a fresh process during forward + backward, minus
  what it held before the first render (scene loaded, torch imported).
- ``--baseline DIR``: also time the renderer of another checkout (e.g. ``git worktree add
  ../base5ada1be 5ada1be``), on the same scenes in the same process, run by run
  interleaved after a warm-up; median and range of wall and CPU time and of the per-run
  ratios, and both peak memories. ``--threads 1`` steadies it on a loaded machine.
- Strokes: 1,000 stroked open cubic paths (width 3, round joins and caps) against the
  same paths filled, forward + backward, interleaved the same way (with ``--baseline``,
  also the strokes through the baseline's renderer).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import clipvg  # noqa: E402
from clipvg.scene import Scene  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "svg"
SIZE = 512


def reference(svg_path: Path, size: int) -> np.ndarray:
    """resvg at 4x, box-downsampled: (size, size, 3) float64 in [0, 1]."""
    import resvg_py
    from PIL import Image

    png = resvg_py.svg_to_bytes(
        svg_path=str(svg_path), width=4 * size, height=4 * size, background="#ffffff"
    )
    big = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.float64) / 255
    return big.reshape(size, 4, size, 4, 3).mean((1, 3))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1 / np.mean((a - b) ** 2)))


def synthetic_scene(n_paths: int, size: int, seed: int = 0) -> Scene:
    """``n_paths`` wobbly closed blobs, radii log-uniform in [2, 60] px, random fills."""
    gen = torch.Generator().manual_seed(seed)
    k = 6  # cubic segments per blob
    centers = torch.rand(n_paths, 1, 2, generator=gen) * size
    radii = torch.exp(torch.empty(n_paths, 1, 1).uniform_(np.log(2), np.log(60), generator=gen))
    angles = torch.linspace(0, 2 * np.pi, 3 * k + 1)[:-1].view(1, -1, 1)
    wobble = 1 + 0.3 * torch.rand(n_paths, 3 * k, 1, generator=gen)
    pts = centers + radii * wobble * torch.cat([angles.cos(), angles.sin()], 2)
    colors = torch.rand(n_paths, 4, generator=gen)
    colors[:, 3] = 0.5 + 0.5 * colors[:, 3]
    return Scene.from_paths(size, size, [[p] for p in pts], colors)


def stroke_scene(n_paths: int, size: int, stroke: bool, seed: int = 0) -> Scene:
    """``n_paths`` wiggly 3-segment cubic paths, stroked (width 3, round joins and caps,
    open) or filled (closed, same points)."""
    from clipvg.scene import CAP_ROUND, JOIN_ROUND, PAINT_FLAT, PAINT_NONE

    gen = torch.Generator().manual_seed(seed)
    start = torch.rand(n_paths, 1, 2, generator=gen) * size
    steps = (torch.rand(n_paths, 9, 2, generator=gen) - 0.5) * 40
    pts = torch.cat([start, start + torch.cumsum(steps, 1)], 1)  # 10 points: 3 cubics
    colors = torch.rand(n_paths, 4, generator=gen)
    colors[:, 3] = 0.5 + 0.5 * colors[:, 3]
    if not stroke:
        return Scene.from_paths(size, size, [[p[:9]] for p in pts], colors)
    return Scene.from_paths(
        size,
        size,
        [[p] for p in pts],
        colors,
        closed=[[False]] * n_paths,
        fill_paint=[PAINT_NONE] * n_paths,
        stroke_paint=[PAINT_FLAT] * n_paths,
        stroke_widths=[3.0] * n_paths,
        stroke_colors=colors,
        linejoin=[JOIN_ROUND] * n_paths,
        linecap=[CAP_ROUND] * n_paths,
    )


def baseline_render(folder: str):
    """The ``render`` function of the checkout at ``folder``, imported as ``clipvg_base``
    (only its renderer and scene modules run; the scene object is duck-typed)."""
    import importlib
    import types

    package = types.ModuleType("clipvg_base")
    package.__path__ = [str(Path(folder) / "clipvg")]
    sys.modules["clipvg_base"] = package
    return importlib.import_module("clipvg_base.render.api").render


def median_time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def load(name: str) -> Scene:
    if name.startswith("synthetic-"):
        return synthetic_scene(int(name.split("-")[1]), SIZE)
    return clipvg.load_svg(DATA / f"{name}.svg")


def _peak_rss_mib() -> float:
    """The process's peak resident memory (VmHWM) in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_memory(name: str, baseline: str | None) -> None:
    """Child process: print peak RSS growth (MiB) of one forward + backward, through
    the renderer of ``baseline`` (a checkout) if given."""
    scene = (
        stroke_scene(1000, SIZE, name == "stroked-1000") if name.endswith("-1000") else load(name)
    )
    render_fn = baseline_render(baseline) if baseline else clipvg.render
    scene.shape_parameters()
    scene.color_parameters()
    # ru_maxrss survives exec (it would report the parent's peak): reset the mark.
    Path("/proc/self/clear_refs").write_text("5")
    before = _peak_rss_mib()
    render_fn(scene, SIZE, SIZE).mean().backward()
    print(json.dumps({"peak_mib": _peak_rss_mib() - before}))


def peak_memory(name: str, baseline: str | None = None, processes: int = 3) -> float:
    """Peak RSS growth (MiB) of one forward + backward of ``name``: the median over
    ``processes`` fresh processes (the allocator's arenas vary by some MiB)."""
    extra = ["--baseline", baseline] if baseline else []
    peaks = []
    for _ in range(processes):
        out = subprocess.run(
            [sys.executable, __file__, "--memory-child", name, *extra],
            capture_output=True,
            text=True,
            check=True,
        )
        peaks.append(json.loads(out.stdout.strip().splitlines()[-1])["peak_mib"])
    return float(np.median(peaks))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    parser.add_argument(
        "--threads", type=int, help="torch threads (default: torch's own; 1 on a loaded machine)"
    )
    parser.add_argument("--baseline", help="another checkout whose renderer to time side by side")
    parser.add_argument(
        "--only",
        choices=["fills", "strokes", "compare"],
        help="print one table (compare: with --baseline)",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.memory_child:
        measure_memory(args.memory_child, args.baseline)
        return

    print(
        f"# clipvg render benchmark: {os.cpu_count()} cores, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), Python {platform.python_version()}, {platform.machine()}"
    )
    if args.only in (None, "fills"):
        fills_tables(args)
    if args.baseline and args.only in (None, "compare"):
        compare_table(args)
    if args.only in (None, "strokes"):
        strokes_table(args)


def fills_tables(args) -> None:
    print()
    print("## Fidelity at 512x512 over white, PSNR (dB) vs resvg 16 spp")
    print()
    print("| scene | paths | torch, 1 spp (default) | torch, 2x2 spp |")
    print("|---|---|---|---|")
    for name in ("pitt", "tajmahal"):
        scene = load(name)
        ref = reference(DATA / f"{name}.svg", SIZE)
        with torch.no_grad():
            one = clipvg.render(scene, SIZE, SIZE).numpy()
            two = clipvg.render(scene, SIZE, SIZE, samples=2).numpy()
        print(f"| {name} | {scene.num_paths} | {psnr(one, ref):.1f} | {psnr(two, ref):.1f} |")
    print()
    print("## Speed and memory at 512x512, 1 spp (median of", args.repeats, "runs)")
    print()
    print("| scene | paths | forward (s) | forward+backward (s) | peak memory fwd+bwd (MiB) |")
    print("|---|---|---|---|---|")
    for name in ("pitt", "tajmahal", "synthetic-10000"):
        scene = load(name)
        with torch.no_grad():
            fwd = median_time(lambda scene=scene: clipvg.render(scene, SIZE, SIZE), args.repeats)
        scene.shape_parameters()
        scene.color_parameters()

        def step(scene=scene):
            scene.points.grad = scene.colors.grad = None
            clipvg.render(scene, SIZE, SIZE).mean().backward()

        both = median_time(step, args.repeats if scene.num_paths < 5000 else 3)
        print(f"| {name} | {scene.num_paths} | {fwd:.3f} | {both:.3f} | {peak_memory(name):.0f} |")
    print()
    print(
        "For scale, diffvg's CPU build on this machine type (pitt): forward 0.64 s, forward+backward 4.26 s."
    )


def compare_table(args) -> None:
    """Fill-only scenes through this renderer and the baseline's, interleaved run by
    run (old, new, then new, old, ...) after one discarded warm-up of each."""
    old = baseline_render(args.baseline)
    print()
    print(
        f"## Fills: this checkout against {args.baseline} at 512x512, {args.repeats} interleaved "
        "runs each after a warm-up"
    )
    print()
    print(
        "median [min-max]; ratios are medians of the per-run new / baseline ratios; CPU = "
        "the process's CPU seconds (less sensitive than wall time to other processes' load)"
    )
    print()
    print("| scene | pass | baseline wall (s) | new wall (s) | new / baseline wall | CPU |")
    print("|---|---|---|---|---|---|")
    for name in ("pitt", "tajmahal"):
        scene = load(name)
        for label, grad in (("forward", False), ("forward+backward", True)):
            runs = interleaved(
                {"baseline": (old, scene), "new": (clipvg.render, scene)}, grad, args.repeats
            )
            (bw, bc), (nw, nc) = runs["baseline"].T, runs["new"].T
            print(
                f"| {name} | {label} | {_spread(bw, 3)} | {_spread(nw, 3)} | "
                f"{_spread(nw / bw, 2)} | {_spread(nc / bc, 2)} |"
            )
    print()
    print("| scene | baseline peak fwd+bwd (MiB) | new peak fwd+bwd (MiB) |")
    print("|---|---|---|")
    for name in ("pitt", "tajmahal"):
        base = peak_memory(name, args.baseline)
        print(f"| {name} | {base:.0f} | {peak_memory(name):.0f} |")


def _spread(values: np.ndarray, digits: int) -> str:
    return f"{np.median(values):.{digits}f} [{values.min():.{digits}f}-{values.max():.{digits}f}]"


def interleaved(runs: dict, grad: bool, repeats: int) -> dict:
    """(repeats, 2) wall and CPU seconds of each ``label: (render_fn, scene)`` in
    ``runs``, alternating their order run by run, after one discarded warm-up of each."""

    def once(fn, scene) -> tuple[float, float]:
        for p in scene.shape_parameters() + scene.color_parameters():
            p.grad = None
        wall, cpu = time.perf_counter(), time.process_time()
        if grad:
            fn(scene, SIZE, SIZE).mean().backward()
        else:
            with torch.no_grad():
                fn(scene, SIZE, SIZE)
        return time.perf_counter() - wall, time.process_time() - cpu

    names = list(runs)
    for label in names:
        once(*runs[label])
    times: dict[str, list] = {label: [] for label in names}
    for i in range(repeats):
        for label in names if i % 2 == 0 else names[::-1]:
            times[label].append(once(*runs[label]))
    return {label: np.array(t) for label, t in times.items()}


def strokes_table(args) -> None:
    """1,000 stroked paths against the same paths filled, interleaved run by run."""
    print()
    print(
        f"## Strokes: 1,000 cubic paths at 512x512, width 3, round joins, {args.repeats} "
        "interleaved runs each after a warm-up: median [min-max]"
    )
    print()
    print(
        "| paths | forward wall (s) | forward+backward wall (s) | peak memory fwd+bwd (MiB) "
        "| fwd+bwd / filled, wall | CPU |"
    )
    print("|---|---|---|---|---|---|")
    runs = {
        "filled": (clipvg.render, stroke_scene(1000, SIZE, False)),
        "stroked": (clipvg.render, stroke_scene(1000, SIZE, True)),
    }
    if args.baseline:
        runs["stroked, baseline"] = (baseline_render(args.baseline), stroke_scene(1000, SIZE, True))
    fwd = interleaved(runs, False, args.repeats)
    both = interleaved(runs, True, args.repeats)
    for label in runs:
        (fw, _), (bw, bc) = fwd[label].T, both[label].T
        filled_w, filled_c = both["filled"].T
        kind, _, base = label.partition(", ")
        peak = peak_memory(kind + "-1000", args.baseline if base else None)
        print(
            f"| {label} | {_spread(fw, 3)} | {_spread(bw, 3)} | {peak:.0f} | "
            f"{_spread(bw / filled_w, 2)} | {_spread(bc / filled_c, 2)} |"
        )


if __name__ == "__main__":
    main()

"""Rasterizer benchmark: fidelity against a 16-spp reference, speed, peak memory.

Run: ``.venv/bin/python benchmarks/render.py`` (about a minute on 2 cores).

- Fidelity: PSNR at 512x512 over white against resvg rendered at 4x the size and
  box-downsampled (16 samples per pixel).
- Speed: median wall time of forward, and of forward + backward with
  ``loss = image.mean()`` and gradients on all points and colours.
- Memory: peak resident memory of a fresh process during forward + backward, minus
  what it held before the first render (scene loaded, torch imported).
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


def measure_memory(name: str) -> None:
    """Child process: print peak RSS growth (MiB) of one forward + backward."""
    scene = load(name)
    scene.shape_parameters()
    scene.color_parameters()
    # ru_maxrss survives exec (it would report the parent's peak): reset the mark.
    Path("/proc/self/clear_refs").write_text("5")
    before = _peak_rss_mib()
    clipvg.render(scene, SIZE, SIZE).mean().backward()
    print(json.dumps({"peak_mib": _peak_rss_mib() - before}))


def peak_memory(name: str) -> float:
    out = subprocess.run(
        [sys.executable, __file__, "--memory-child", name],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])["peak_mib"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        measure_memory(args.memory_child)
        return

    print(
        f"# clipvg render benchmark: {os.cpu_count()} cores, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), Python {platform.python_version()}, {platform.machine()}"
    )
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


if __name__ == "__main__":
    main()

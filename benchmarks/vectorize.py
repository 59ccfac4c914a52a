"""Our vectorizer against VTracer on scikit-image sample images (no download).

For every image (resized to 512 on the long side) and every budget it prints paths,
PSNR over white (rendered with resvg) and seconds, for us and for VTracer tuned to
a similar path count. Then a robustness table for the largest budget (ours without
and, with ``--refine``, with refinement; VTracer at the matching path count):
Gaussian noise (sigma = 2 px, seed 0) on every control point, the clean and noisy
PSNR, the drop per image and their medians, and the share of pixels (4 px frame
left out) where a render over magenta differs from one over white, i.e. where the
canvas shows through.

    python benchmarks/vectorize.py                 # no refinement
    python benchmarks/vectorize.py --refine        # presets' renderer refinement too
    python benchmarks/vectorize.py --presets detailed --refine --threads 1
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

IMAGES = ("astronaut", "chelsea", "coffee", "rocket", "camera", "logo", "colorwheel")
# VTracer settings from fine to coarse: (filter_speckle, color_precision, layer_difference).
LADDER = (
    (1, 8, 2),
    (1, 8, 4),
    (1, 7, 8),
    (2, 7, 8),
    (2, 6, 16),
    (3, 6, 16),
    (4, 6, 16),
    (6, 6, 16),
    (8, 6, 16),
    (12, 6, 16),
    (16, 6, 16),
    (24, 6, 16),
    (32, 6, 16),
)


def sample(name: str, size: int = 512) -> np.ndarray:
    """(H, W, 3) uint8 skimage sample resized so the long side is ``size``."""
    import skimage.data

    im = getattr(skimage.data, name)()
    if im.ndim == 2:
        im = np.stack([im] * 3, -1)
    if im.shape[2] == 4:  # composite over white
        a = im[..., 3:].astype(np.float32) / 255
        im = (im[..., :3] * a + 255 * (1 - a)).round().astype(np.uint8)
    h, w = im.shape[:2]
    s = size / max(h, w)
    return cv2.resize(im, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)


def rasterize(svg: str, background: str = "#ffffff") -> np.ndarray:
    import resvg_py

    png = bytes(resvg_py.svg_to_bytes(svg_string=svg, background=background))
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), np.float32) / 255


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / max(np.mean((a - b) ** 2), 1e-12)))


def vtracer_svg(image: np.ndarray, setting: tuple[int, int, int]) -> str:
    import vtracer

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "PNG")
    return vtracer.convert_raw_image_to_svg(
        buf.getvalue(),
        img_format="png",
        colormode="color",
        hierarchical="stacked",
        mode="spline",
        filter_speckle=setting[0],
        color_precision=setting[1],
        layer_difference=setting[2],
    )


def vtracer_tuned(image: np.ndarray, paths: int) -> tuple[str, float, int]:
    """VTracer at the ladder setting whose path count is closest to ``paths``."""
    best = None
    lo, hi = 0, len(LADDER) - 1
    while lo <= hi:  # path count falls along the ladder
        mid = (lo + hi) // 2
        t = time.perf_counter()
        svg = vtracer_svg(image, LADDER[mid])
        sec = time.perf_counter() - t
        n = svg.count("<path")
        if best is None or abs(n - paths) < abs(best[2] - paths):
            best = (svg, sec, n)
        if n > paths:
            lo = mid + 1
        else:
            hi = mid - 1
    return best


def noise_check(svg: str, target: np.ndarray, seed: int = 0) -> tuple[float, float]:
    """(PSNR after sigma=2 px noise on every control point, % pixels showing canvas)."""
    from clipvg.svg import parse_svg_string, scene_to_svg_string

    scene = parse_svg_string(svg)
    g = torch.Generator().manual_seed(seed)
    scene.points = scene.points.detach() + 2.0 * torch.randn(scene.points.shape, generator=g)
    noisy = scene_to_svg_string(scene)
    white, magenta = rasterize(noisy), rasterize(noisy, "#ff00ff")
    inner = (slice(4, -4), slice(4, -4))
    shows = np.abs(white - magenta).max(-1)[inner] > 1 / 255
    return psnr(white, target), 100.0 * float(shows.mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", default=",".join(IMAGES))
    parser.add_argument("--presets", default="fast,balanced,detailed")
    parser.add_argument("--refine", action="store_true", help="also run the presets' refinement")
    parser.add_argument("--no-vtracer", action="store_true")
    parser.add_argument(
        "--threads", type=int, default=os.cpu_count() or 1, help="torch threads (default: cores)"
    )
    args = parser.parse_args()

    import warnings

    import skimage
    import vtracer  # noqa: F401

    import clipvg
    from clipvg.svg import scene_to_svg_string
    from vectorize.pipeline import vectorize_image

    warnings.simplefilter("ignore")
    torch.set_num_threads(max(1, args.threads))

    def version(mod: str) -> str:
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as v

        try:
            return v(mod)
        except PackageNotFoundError:
            return "?"

    print(
        f"# machine: {platform.machine()} {os.cpu_count()} cores ({args.threads} torch threads),"
        f" python {platform.python_version()}"
    )
    print(
        f"# clipvg {clipvg.__version__}, torch {torch.__version__}, numpy {np.__version__}, "
        f"scikit-image {skimage.__version__}, opencv {cv2.__version__}, vtracer {version('vtracer')}, "
        f"resvg_py {version('resvg_py')}"
    )
    presets = args.presets.split(",")
    modes = [(p, 0) for p in presets] + (
        [(p, None) for p in presets if p != "fast"] if args.refine else []
    )
    rows: dict[str, list] = {}
    # Robustness of the largest budget: image -> {label: (clean, noisy, canvas%)}.
    noise_rows: dict[str, dict[str, tuple[float, float, float]]] = {}
    print(
        f"{'image':11} {'preset':16} {'paths':>6} {'PSNR':>6} {'sec':>6}"
        f" | {'vt paths':>8} {'vt PSNR':>7} {'vt sec':>6}"
    )
    for name in args.images.split(","):
        image = sample(name)
        target = image.astype(np.float32) / 255
        for preset, refine in modes:
            label = preset + ("+refine" if refine is None else "")
            t = time.perf_counter()
            scene = vectorize_image(image, preset=preset, refine=refine)
            sec = time.perf_counter() - t
            svg = scene_to_svg_string(scene)
            ours = psnr(rasterize(svg), target)
            row = [scene.num_paths, ours, sec]
            vsvg = None
            if not args.no_vtracer:
                vsvg, vsec, vn = vtracer_tuned(image, scene.num_paths)
                row += [vn, psnr(rasterize(vsvg), target), vsec]
            else:
                row += [float("nan")] * 3
            rows.setdefault(label, []).append(row)
            print(
                f"{name:11} {label:16} {row[0]:6d} {row[1]:6.2f} {row[2]:6.2f}"
                f" | {row[3]:8.0f} {row[4]:7.2f} {row[5]:6.2f}",
                flush=True,
            )
            if preset == presets[-1]:
                noisy, canvas = noise_check(svg, target)
                noise_rows.setdefault(name, {})[label] = (ours, noisy, canvas)
                if vsvg is not None and refine == 0:
                    vnoisy, vcanvas = noise_check(vsvg, target)
                    noise_rows[name]["vtracer"] = (row[4], vnoisy, vcanvas)
    print("# medians")
    for label, rs in rows.items():
        med = [statistics.median(r[i] for r in rs) for i in range(6)]
        print(
            f"{'median':11} {label:16} {med[0]:6.0f} {med[1]:6.2f} {med[2]:6.2f}"
            f" | {med[3]:8.0f} {med[4]:7.2f} {med[5]:6.2f}"
        )
    print_noise(noise_rows)


def print_noise(noise_rows: dict[str, dict[str, tuple[float, float, float]]]) -> None:
    """The robustness table: clean and noisy PSNR, drop and canvas share per result."""
    if not noise_rows:
        return
    labels = list(dict.fromkeys(k for r in noise_rows.values() for k in r))
    print(
        "# robustness: Gaussian noise, sigma = 2 px, on every control point (seed 0);"
        " target: drop <= 2.5 dB, canvas% <= 0.1"
    )
    head = " | ".join(
        f"{lab[:15] + ' clean':>21} {'noisy':>6} {'drop':>5} {'canv%':>6}" for lab in labels
    )
    print(f"{'image':11} | {head}")

    def cells(values: list[tuple[float, ...] | None]) -> str:
        out = []
        for v in values:
            if v is None:
                out.append(f"{'-':>21} {'-':>6} {'-':>5} {'-':>6}")
            else:
                out.append(f"{v[0]:21.2f} {v[1]:6.2f} {v[2]:5.2f} {v[3]:6.3f}")
        return " | ".join(out)

    def with_drop(v: tuple[float, float, float] | None) -> tuple[float, ...] | None:
        return None if v is None else (v[0], v[1], v[0] - v[1], v[2])

    for name, r in noise_rows.items():
        print(f"{name:11} | {cells([with_drop(r.get(lab)) for lab in labels])}")
    med = []
    for lab in labels:
        vs = [with_drop(r[lab]) for r in noise_rows.values() if lab in r]
        med.append(tuple(statistics.median(v[i] for v in vs) for i in range(4)))
    print(f"{'median':11} | {cells(med)}")
    print(
        "# median drop: "
        + ", ".join(
            f"{lab} {m[2]:.2f} dB ({'met' if m[2] <= 2.5 else 'NOT met'})"
            for lab, m in zip(labels, med, strict=True)
        )
    )


if __name__ == "__main__":
    main()

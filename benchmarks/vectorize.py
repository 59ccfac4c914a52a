"""The vectorizer of this tree against a baseline revision and VTracer, side by side.

On scikit-image sample images (no download), resized to 512 px on the long side,
every preset runs as a user runs it (its refinement included), once with the code
of ``--baseline`` (default 5ada1be, the last version before the coarse-to-fine
refinement; extracted with ``git archive`` into a temporary folder) and once with
this tree, interleaved, each in a fresh process that has imported torch and clipvg
beforehand (so the time is that of ``vectorize_image``, lazy imports included).
For each run: wall and CPU seconds, paths, PSNR over white (rendered with resvg),
and the PSNR after Gaussian noise (sigma = 2 px, seed 0) on every control point
with its drop, plus the share of pixels (4 px frame left out) where a render over
magenta differs from one over white (the canvas shows through). VTracer is tuned
to the path count of each of our results.

    python benchmarks/vectorize.py                               # all presets
    python benchmarks/vectorize.py --presets fast --images astronaut,coffee
    python benchmarks/vectorize.py --baseline none               # this tree only
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

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
    sys.path.insert(0, str(ROOT))
    from clipvg.svg import parse_svg_string, scene_to_svg_string

    scene = parse_svg_string(svg)
    g = torch.Generator().manual_seed(seed)
    scene.points = scene.points.detach() + 2.0 * torch.randn(scene.points.shape, generator=g)
    noisy = scene_to_svg_string(scene)
    white, magenta = rasterize(noisy), rasterize(noisy, "#ff00ff")
    inner = (slice(4, -4), slice(4, -4))
    shows = np.abs(white - magenta).max(-1)[inner] > 1 / 255
    return psnr(white, target), 100.0 * float(shows.mean())


def worker(root: str, name: str, preset: str, threads: int, out: str) -> None:
    """Vectorize one sample with the code under ``root``; print seconds as JSON."""
    sys.path.insert(0, root)
    import importlib
    import inspect
    import warnings

    import clipvg  # (imported before the clock starts, as in any session)
    from clipvg.svg import scene_to_svg_string

    # A baseline tree from before the namespacing (clipvg.SourceTreeFinder) has the
    # vectorizer only as the top-level package ``vectorize``.
    namespaced = hasattr(clipvg, "SOURCE_TREE_MODULES")
    pipeline = "clipvg.vectorize.pipeline" if namespaced else "vectorize.pipeline"
    vectorize_image = importlib.import_module(pipeline).vectorize_image

    warnings.simplefilter("ignore")
    torch.set_num_threads(max(1, threads))
    image = sample(name)
    wall, cpu = time.perf_counter(), time.process_time()
    # A tree whose refinement renders in bands on threads gets as many as torch has.
    bands = "threads" in inspect.signature(vectorize_image).parameters
    scene = vectorize_image(image, preset=preset, **({"threads": threads} if bands else {}))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    Path(out).write_text(scene_to_svg_string(scene))
    print(json.dumps({"wall": wall, "cpu": cpu, "paths": scene.num_paths}))


def run_worker(root: Path, name: str, preset: str, threads: int) -> tuple[dict, str]:
    """One fresh process running :func:`worker`; its timings and SVG."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.svg"
        args = [
            sys.executable,
            __file__,
            "--worker",
            str(root),
            name,
            preset,
            str(threads),
            str(out),
        ]
        env = {**os.environ, "PYTHONPATH": str(root)}
        proc = subprocess.run(args, capture_output=True, text=True, env=env, timeout=1800)
        if proc.returncode != 0:
            raise SystemExit(f"{root} failed on {name}/{preset}:\n{proc.stderr[-2000:]}")
        return json.loads(proc.stdout.strip().splitlines()[-1]), out.read_text()


def baseline_tree(rev: str, into: str) -> Path:
    """The ``clipvg`` and ``vectorize`` packages of ``rev``, extracted into ``into``
    (``rev`` may also be a folder that holds them, used as it is)."""
    if Path(rev).is_dir():
        return Path(rev).resolve()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "clipvg", "vectorize"],
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", into], input=archive, check=True)
    return Path(into)


def measure(svg: str, target: np.ndarray) -> dict:
    clean = psnr(rasterize(svg), target)
    noisy, canvas = noise_check(svg, target)
    return {"psnr": clean, "noisy": noisy, "drop": clean - noisy, "canvas": canvas}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", default=",".join(IMAGES))
    parser.add_argument("--presets", default="fast,balanced,detailed")
    parser.add_argument(
        "--baseline",
        default="5ada1be",
        help="git revision (or a folder with its clipvg/ and vectorize/) to compare with"
        " ('none': skip)",
    )
    parser.add_argument("--no-vtracer", action="store_true")
    parser.add_argument(
        "--threads", type=int, default=os.cpu_count() or 1, help="torch threads (default: cores)"
    )
    args = parser.parse_args()

    import skimage
    import vtracer  # noqa: F401

    sys.path.insert(0, str(ROOT))
    import clipvg

    def version(mod: str) -> str:
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as v

        try:
            return v(mod)
        except PackageNotFoundError:
            return "?"

    print(
        f"# machine: {platform.machine()} {os.cpu_count()} cores ({args.threads} torch threads),"
        f" python {platform.python_version()}, load average {os.getloadavg()[0]:.2f} at start"
    )
    print(
        f"# clipvg {clipvg.__version__}, torch {torch.__version__}, numpy {np.__version__}, "
        f"scikit-image {skimage.__version__}, opencv {cv2.__version__}, vtracer {version('vtracer')}, "
        f"resvg_py {version('resvg_py')}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"new": ROOT}
        if args.baseline != "none":
            trees = {"old": baseline_tree(args.baseline, tmp), **trees}
        rows = compare(args, trees)
    print_tables(rows, list(trees), args.baseline)
    print(f"# load average {os.getloadavg()[0]:.2f} at the end")


def compare(args, trees: dict[str, Path]) -> list[dict]:
    """Every image x preset x tree, trees interleaved; one dict per run."""
    rows = []
    head = (
        f"{'image':11} {'preset':9} {'code':4} {'paths':>5} {'wall s':>7} {'cpu s':>7}"
        f" {'PSNR':>6} {'noisy':>6} {'drop':>5} {'canv%':>6} | {'vt paths':>8} {'vt PSNR':>7}"
        f" {'vt sec':>6}"
    )
    print(head)
    for name in args.images.split(","):
        target = sample(name).astype(np.float32) / 255
        for preset in args.presets.split(","):
            for code, root in trees.items():
                timing, svg = run_worker(root, name, preset, args.threads)
                row = {"image": name, "preset": preset, "code": code, **timing}
                row.update(measure(svg, target))
                vt = (float("nan"),) * 3
                if not args.no_vtracer and code == "new":
                    vsvg, vsec, vn = vtracer_tuned(sample(name), timing["paths"])
                    vt = (vn, psnr(rasterize(vsvg), target), vsec)
                row["vt"] = vt
                rows.append(row)
                print(
                    f"{name:11} {preset:9} {code:4} {row['paths']:5d} {row['wall']:7.2f}"
                    f" {row['cpu']:7.2f} {row['psnr']:6.2f} {row['noisy']:6.2f} {row['drop']:5.2f}"
                    f" {row['canvas']:6.3f} | {vt[0]:8.0f} {vt[1]:7.2f} {vt[2]:6.2f}",
                    flush=True,
                )
    return rows


def print_tables(rows: list[dict], codes: list[str], baseline: str) -> None:
    """Medians per preset and code, then the new code's ratios to the baseline."""
    med = statistics.median
    print("# medians over the images")
    print(
        f"{'preset':9} {'code':4} {'paths':>5} {'wall s':>7} {'cpu s':>7} {'PSNR':>6}"
        f" {'noisy':>6} {'drop':>5} {'canv%':>6} | {'vt paths':>8} {'vt PSNR':>7}"
    )
    presets = list(dict.fromkeys(r["preset"] for r in rows))
    for preset in presets:
        for code in codes:
            rs = [r for r in rows if r["preset"] == preset and r["code"] == code]
            m = {k: med(r[k] for r in rs) for k in ("paths", "wall", "cpu", "psnr", "noisy")}
            m.update({k: med(r[k] for r in rs) for k in ("drop", "canvas")})
            vt = [med(r["vt"][i] for r in rs) for i in range(2)]
            print(
                f"{preset:9} {code:4} {m['paths']:5.0f} {m['wall']:7.2f} {m['cpu']:7.2f}"
                f" {m['psnr']:6.2f} {m['noisy']:6.2f} {m['drop']:5.2f} {m['canvas']:6.3f}"
                f" | {vt[0]:8.0f} {vt[1]:7.2f}"
            )
    if "old" not in codes:
        return
    print(f"# new against {baseline}: medians over the images of the per-image ratios/differences")
    print(
        f"{'preset':9} {'wall x':>7} {'cpu x':>7} {'total wall x':>12} {'PSNR diff':>9}"
        f" {'drop diff':>9} {'vs VTracer':>10}"
    )
    for preset in presets:
        pairs = [
            (o, n)
            for o in rows
            for n in rows
            if o["preset"] == n["preset"] == preset
            and o["image"] == n["image"]
            and (o["code"], n["code"]) == ("old", "new")
        ]
        if not pairs:
            continue
        wall = med(o["wall"] / n["wall"] for o, n in pairs)
        cpu = med(o["cpu"] / n["cpu"] for o, n in pairs)
        total = sum(o["wall"] for o, _ in pairs) / sum(n["wall"] for _, n in pairs)
        dpsnr = med(n["psnr"] for _, n in pairs) - med(o["psnr"] for o, _ in pairs)
        ddrop = med(n["drop"] for _, n in pairs) - med(o["drop"] for o, _ in pairs)
        dvt = med(n["psnr"] - n["vt"][1] for _, n in pairs)
        print(
            f"{preset:9} {wall:7.2f} {cpu:7.2f} {total:12.2f} {dpsnr:+9.2f} {ddrop:+9.2f}"
            f" {dvt:+10.2f}"
        )


if __name__ == "__main__":
    if len(sys.argv) == 7 and sys.argv[1] == "--worker":
        worker(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6])
    else:
        main()

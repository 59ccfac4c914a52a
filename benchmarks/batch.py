"""Benchmark of ``cli.py batch`` against the same rows as sequential ``cli.py edit`` runs.

Prints two markdown tables:

1. wall time of N rows (pitt.svg, seeds 0..N-1, ITERS iterations each, random-init
   ViT-B-32) run as N sequential ``cli.py edit`` processes, and as one ``cli.py batch``
   with 1 and with 2 workers (each a fresh process, as a user would run them);
2. the overhead of Ray: start-up (``ray.init`` on this machine + one worker actor that
   has built CLIP), and per row (batch wall time minus start-up minus the time the
   workers spent in ``run_edit``, divided by the rows), against one plain edit
   in-process with CLIP already loaded.

    python benchmarks/batch.py [--rows 12] [--iters 5] [--patches 64] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PITT = ROOT.parent / "shared" / "data" / "svg" / "pitt.svg"
PROMPT = "a watercolor painting"


def edit_args(args, seed: int) -> list[str]:
    return [
        "--prompt",
        PROMPT,
        "--iters",
        str(args.iters),
        "--patches",
        str(args.patches),
        "--save-every",
        "0",
        "--clip-pretrained",
        "none",
        "--device",
        "cpu",
        "--seed",
        str(seed),
        "--quiet",
    ]


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - t0


def sequential(args, out: Path) -> float:
    return sum(
        timed(
            [sys.executable, "cli.py", "edit", args.svg, "-o", str(out / f"e{i}")]
            + edit_args(args, i)
        )
        for i in range(args.rows)
    )


def batch(args, out: Path, workers: int) -> tuple[float, float]:
    """Wall seconds of one ``cli.py batch`` and the workers' seconds in run_edit (sum)."""
    jobs = out / "jobs.csv"
    jobs.write_text("input,seed\n" + "".join(f"{args.svg},{i}\n" for i in range(args.rows)))
    flags = edit_args(args, 0)
    flags = flags[: flags.index("--seed")] + flags[flags.index("--seed") + 2 :]
    wall = timed(
        [
            sys.executable,
            "cli.py",
            "batch",
            str(jobs),
            "-o",
            str(out / f"b{workers}"),
            "--workers",
            str(workers),
        ]
        + flags
    )
    with open(out / f"b{workers}" / "summary.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert all(r["status"] == "done" for r in rows), rows
    return wall, sum(float(r["seconds"]) for r in rows)


def ray_startup(args) -> float:
    """``ray.init`` here + one worker actor that has built the random ViT-B-32."""
    import ray

    from clipvg.batch import BatchWorker
    from clipvg.config import EditSettings

    t0 = time.perf_counter()
    ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    env = {"env_vars": {"PYTHONPATH": str(ROOT)}}
    worker = ray.remote(BatchWorker).options(runtime_env=env).remote(os.cpu_count() or 1)
    s = EditSettings(clip_pretrained="none", device="cpu")
    ray.get(worker.load.remote(s.to_dict()))
    seconds = time.perf_counter() - t0
    ray.shutdown()
    return seconds


def plain_edit(args, out: Path) -> float:
    """One row in-process with CLIP already loaded: the work a worker does per row."""
    from clipvg.clip import load_clip
    from clipvg.config import EditSettings
    from clipvg.edit import run_edit

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        encoder = load_clip("ViT-B-32", "none", None, "cpu")
    s = EditSettings(
        input=args.svg,
        prompt=PROMPT,
        iters=args.iters,
        patches=args.patches,
        save_every=0,
        clip_pretrained="none",
        device="cpu",
    )
    t0 = time.perf_counter()
    run_edit(s, out / "plain", encoder=encoder, progress=False)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--svg", default=str(PITT))
    ap.add_argument("--rows", type=int, default=12)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--patches", type=int, default=64, help="patches per iteration (64)")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()

    import ray
    import torch

    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        seq = sequential(args, out)
        runs = {w: batch(args, out, w) for w in args.workers}
        start = ray_startup(args)
        plain = plain_edit(args, out)

    n = args.rows
    print(
        f"\n{n} rows: {Path(args.svg).name}, {args.iters} iterations, {args.patches} patches, "
        f"random ViT-B-32; {os.cpu_count()} cores, {platform.machine()}, torch {torch.__version__}, "
        f"ray {ray.__version__}, python {platform.python_version()}; load average "
        f"{load0:.1f} at the start, {os.getloadavg()[0]:.1f} at the end\n"
    )
    print("| run | wall | rows / min | speed-up |")
    print("|---|---|---|---|")
    print(f"| {n} x `cli.py edit`, sequential | {seq:.1f} s | {60 * n / seq:.2f} | 1.00 |")
    for w, (wall, _) in runs.items():
        print(
            f"| `cli.py batch --workers {w}` | {wall:.1f} s | {60 * n / wall:.2f} | {seq / wall:.2f} |"
        )
    print("\n| Ray overhead | seconds |")
    print("|---|---|")
    print(f"| start-up: ray.init + 1 worker with CLIP built | {start:.2f} |")
    for w, (wall, work) in runs.items():
        per_row = (wall - start - work / w) / n
        print(
            f"| per row, {w} worker(s): (wall - start-up - worker time / workers) / rows | {per_row:.2f} |"
        )
    print(f"| plain edit, one row in-process, CLIP loaded | {plain:.2f} |")
    print(f"| `cli.py edit`, one row (process, imports, CLIP build, edit) | {seq / n:.2f} |")


if __name__ == "__main__":
    main()

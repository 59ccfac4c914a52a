"""resvg's regression suite: how much of it clipvg's import and renderer reproduce.

Run: ``.venv/bin/python benchmarks/resvg_suite.py`` (about a minute on one core).

For each test in ``../shared/data/resvg-tests/`` (an SVG beside resvg's reference
PNG): load it with ``clipvg.load_svg``, render over white at the PNG's size, and
compare with the PNG over white. A test passes at PSNR >= 30 dB; a refusal
(``ClipvgError``) fails. With ``--round-trip`` (the default) it also saves the scene,
loads it again and counts the tests whose second render is within 50 dB of the first.

Prints the pass rate per folder, the issue's target groups, overall, and the failing
tests grouped by cause (a refusal, the loader's first warning, or "renders
differently, no warning").
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import platform
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from resvg import PASS_DB, ROUND_TRIP_DB, SUITE, Result, cases, score  # noqa: E402

#: The issue's per-group targets: (label, folder patterns, target pass rate).
TARGETS = [
    ("shapes/*", ["shapes/*"], 0.95),
    ("painting/fill*", ["painting/fill*"], 0.95),
    ("painting/stroke*", ["painting/stroke*"], 0.95),
    ("paint-servers/linearGradient", ["paint-servers/linearGradient"], 0.95),
    ("paint-servers/radialGradient", ["paint-servers/radialGradient"], 0.95),
    ("overall", ["*"], 0.90),
]


def _row(label: str, rows: list[Result], round_trip: bool, target: float | None = None) -> str:
    n = len(rows)
    ok = sum(r.passed for r in rows)
    line = f"| {label:<34} | {n:>5} | {ok:>5} | {100 * ok / max(n, 1):>6.1f}% |"
    if round_trip:
        loaded = [r for r in rows if r.round_trip_db is not None]
        kept = sum(r.round_trip_db >= ROUND_TRIP_DB for r in loaded)
        line += f" {kept:>4}/{len(loaded):<4} |"
    if target is not None:
        met = ok >= target * n
        line += f" {100 * target:>4.0f}% {'met' if met else 'NOT met':>7} |"
    return line


def report(results: list[Result], round_trip: bool) -> str:
    head = "| folder                             | tests |  pass |   rate |"
    rule = "|------------------------------------|------:|------:|-------:|"
    if round_trip:
        head += " round trip |"
        rule += "-----------:|"
    by_folder: dict[str, list[Result]] = defaultdict(list)
    for r in results:
        by_folder[r.case.folder].append(r)
    lines = [head, rule]
    lines += [_row(f, rows, round_trip) for f, rows in sorted(by_folder.items())]
    lines += ["", head.rstrip() + " target |", rule + "-------:|"]
    for label, patterns, target in TARGETS:
        rows = [r for r in results if any(fnmatch.fnmatch(r.case.folder, p) for p in patterns)]
        lines.append(_row(label, rows, round_trip, target))
    causes: dict[str, list[Result]] = defaultdict(list)
    for r in results:
        if not r.passed:
            causes[r.cause].append(r)
    lines += ["", f"Failures by cause ({sum(len(v) for v in causes.values())}):"]
    for cause, rows in sorted(causes.items(), key=lambda kv: -len(kv[1])):
        lines.append(f"- {cause} ({len(rows)}):")
        for r in rows:
            db = "refused" if r.error else f"{r.db:.1f} dB"
            lines.append(f"    {r.case.id} ({db})")
    if round_trip:
        lost = [
            r for r in results if r.round_trip_db is not None and r.round_trip_db < ROUND_TRIP_DB
        ]
        lines += ["", f"Round trip below {ROUND_TRIP_DB:g} dB ({len(lost)}):"]
        lines += [f"    {r.case.id} ({r.round_trip_db:.1f} dB)" for r in lost]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", type=Path, default=SUITE, help="folder of the resvg tests")
    parser.add_argument("--only", default="*", help="folder pattern, e.g. 'painting/stroke*'")
    parser.add_argument(
        "--no-round-trip", dest="round_trip", action="store_false", help="skip save and reload"
    )
    parser.add_argument(
        "--renderer",
        choices=["clipvg", "resvg"],
        default="clipvg",
        help="resvg: render our export with resvg (measures the loader and writer alone)",
    )
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    todo = [c for c in cases(args.suite) if fnmatch.fnmatch(c.folder, args.only)]
    start = time.perf_counter()
    results = [score(c, round_trip=args.round_trip, renderer=args.renderer) for c in todo]
    wall = time.perf_counter() - start
    import svgelements

    print(
        f"resvg suite: {len(todo)} tests from {args.suite}, pass = PSNR >= {PASS_DB:g} dB over "
        f"white at the PNG's size; round trip = reload within {ROUND_TRIP_DB:g} dB of the load; "
        f"renderer: {args.renderer}"
    )
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, 1 torch thread; "
        f"python {platform.python_version()}, torch {torch.__version__}, "
        f"svgelements {svgelements.SVGELEMENTS_VERSION}; {wall:.1f} s"
    )
    print()
    print(report(results, args.round_trip))


if __name__ == "__main__":
    main()

"""resvg's regression tests (../shared/data/resvg-tests): load, render, save, reload.

Each case passes when our render over white, at the reference PNG's size, is within
30 dB PSNR of resvg's PNG, and the scene saved and loaded again renders within 50 dB
of the first load. The cases we knowingly fail are listed, each with its reason, in
``data/resvg-known-failures.txt``; they are strict xfails, so a fix shows up. The
cases with ``<text>`` are skipped where Noto Sans (the suite's font) is not installed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from resvg import PASS_DB, ROUND_TRIP_DB, SUITE, cases, score

from clipvg.fonts import system_fonts

KNOWN = Path(__file__).parent / "data" / "resvg-known-failures.txt"


def known_failures() -> dict[str, str]:
    out = {}
    for line in KNOWN.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            case, _, reason = line.partition("  ")
            out[case.strip()] = reason.strip()
    return out


CASES = cases()
FAILS = known_failures()
#: The suite's text is set in Noto Sans (Debian: fonts-noto-core); without it the
#: glyphs differ, so those cases are skipped rather than failed.
NOTO = bool(system_fonts().faces("Noto Sans"))


def _param(case):
    reason = FAILS.get(case.id)
    marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
    if not NOTO and "<text" in case.svg.read_text(errors="replace"):
        marks = [
            pytest.mark.skip(reason="Noto Sans is not installed (apt-get install fonts-noto-core)")
        ]
    return pytest.param(case, id=case.id, marks=marks)


def test_the_suite_is_there_and_the_list_names_real_cases():
    assert SUITE.is_dir(), f"{SUITE} is missing (the team's shared data)"
    assert len(CASES) == 640
    assert set(FAILS) <= {c.id for c in CASES}


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_resvg_case(case):
    torch.set_num_threads(1)  # tiny images: threads cost more than they give
    result = score(case, round_trip=True)
    assert result.error is None, result.error
    assert result.db >= PASS_DB, f"{result.db:.1f} dB; {result.cause}"
    assert result.round_trip_db >= ROUND_TRIP_DB, f"round trip {result.round_trip_db:.1f} dB"

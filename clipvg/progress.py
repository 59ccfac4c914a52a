"""Progress on stderr for the slow phases (vectorizing, refining, loading CLIP,
encoding prompts, editing), with tqdm. Every caller takes ``progress: bool``; the
commands pass ``not --quiet``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from tqdm import tqdm


def bar(total: int | None, desc: str, progress: bool = True, unit: str = "it", **kw) -> tqdm:
    """A tqdm bar on stderr (disabled when ``progress`` is False)."""
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        disable=not progress,
        file=sys.stderr,
        dynamic_ncols=True,
        **kw,
    )


@contextmanager
def phase(desc: str, progress: bool = True) -> Iterator[None]:
    """One line for a phase without steps (loading a model): its name, then its time."""
    with bar(1, desc, progress, bar_format="{desc}: {elapsed}") as b:
        b.refresh()
        yield
        b.update(1)


class StageClock:
    """Seconds of consecutive stages, for logs and benchmarks.

    ``lap(name)`` writes the seconds since the previous lap (at first: since the clock
    was made) into ``timings[name]``, rounded to milliseconds; with ``timings=None`` it
    only keeps time.
    """

    def __init__(self, timings: dict[str, float] | None):
        self.timings, self.t = timings, time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        if self.timings is not None:
            self.timings[name] = round(now - self.t, 3)
        self.t = now

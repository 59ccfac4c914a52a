"""Progress on stderr for the slow phases (vectorizing, refining, loading CLIP,
encoding prompts, editing), with tqdm. Every caller takes ``progress: bool``; the
commands pass ``not --quiet``.
"""

from __future__ import annotations

import sys
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

"""What an edit is doing before its first iteration, and how long one will take.

The setup of an edit (loading CLIP, encoding every distinct prompt, encoding the
initial picture under the warp pool) takes seconds to minutes with no iteration to
show. :class:`StagedEncoder` wraps the run's encoder and names each stage as it
starts, with a count where one is known ("encoding prompts (2/3)"), so the page can
say so. :func:`estimate` turns the iterations measured on this machine into an
estimated run time for settings not yet started.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable
from typing import Any

from ..config import EditSettings

#: Stage names, as the page shows them.
LOADING_CLIP = "loading CLIP"
ENCODING_PROMPTS = "encoding prompts"
ENCODING_PICTURE = "encoding the picture"
#: Reference warps per ROI crop drawn at the start (clipvg.edit.POOL_FACTOR, not imported
#: to keep the server's import light).
POOL_FACTOR = 8

Report = Callable[[str | None, int, int], None]


def roi_patches(settings: EditSettings) -> list[int]:
    """Patches of every ROI, ROI 0 (the whole image) first."""
    return [settings.patches] + [int(r.get("patches", settings.patches)) for r in settings.rois]


def crops_per_iteration(settings: EditSettings) -> int:
    """Crops through CLIP per iteration: a whole-ROI crop plus the patches of each ROI."""
    return sum(1 + p for p in roi_patches(settings))


def prompt_count(settings: EditSettings) -> int:
    """Distinct texts the run encodes (each once): the ROIs' prompts and the source prompt."""
    texts = [] if settings.prompt_image else [settings.prompt]
    texts += [r.get("prompt", "") for r in settings.rois if not r.get("image")]
    return len(set(texts) | {settings.source_prompt}) if texts else 0


def picture_passes(settings: EditSettings) -> int:
    """CLIP passes encoding the initial picture before the first iteration (pool mode)."""
    if settings.source_features != "pool":
        return 1 if settings.source_features == "whole" else 0
    total = 0
    for p in roi_patches(settings):
        n = POOL_FACTOR * (1 + p)
        total += math.ceil(n / (settings.batch_size or n))
    return total


class StagedEncoder:
    """``inner`` with every text and image pass reported to ``report(stage, done, total)``
    until :meth:`editing` is called (then it is the encoder itself, at no cost)."""

    def __init__(self, inner: Any, settings: EditSettings, report: Report):
        self._inner, self._report = inner, report
        self._prompts = [0, prompt_count(settings)]
        self._picture = [0, picture_passes(settings)]
        self._setup = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    @property
    def name(self) -> str:
        return getattr(self._inner, "name", type(self._inner).__name__)

    def encode_text(self, texts):
        if self._setup:
            self._prompts[0] += 1
            self._report(ENCODING_PROMPTS, self._prompts[0], max(self._prompts))
        return self._inner.encode_text(texts)

    def encode_image(self, images):
        if self._setup:
            self._picture[0] += 1
            self._report(ENCODING_PICTURE, self._picture[0], max(self._picture))
        return self._inner.encode_image(images)

    @property
    def in_setup(self) -> bool:
        return self._setup

    def candidate(self) -> None:
        """A new candidate starts: its pool is encoded again (prompts are cached)."""
        self._setup, self._picture[0] = True, 0

    def editing(self) -> None:
        """The first iteration ran: stop reporting."""
        if self._setup:
            self._setup = False
            self._report(None, 0, 0)


class StagedEncoders:
    """An :class:`clipvg.encoders.EncoderCache` whose encoders report their setup stages.

    ``get`` names "loading CLIP" while the cache builds its first encoder, and returns
    the encoder wrapped in a :class:`StagedEncoder` (kept in ``self.encoder``).
    """

    def __init__(self, cache: Any, settings: EditSettings, report: Report):
        self.cache, self.settings, self.report = cache, settings, report
        self.encoder: StagedEncoder | None = None
        self.load_s: float | None = None  # seconds the first load took, when it happened here

    def get(self, settings: EditSettings, progress: bool = False) -> StagedEncoder:
        import time

        first = len(self.cache) == 0
        if first:
            self.report(LOADING_CLIP, 0, 0)
        t0 = time.perf_counter()
        inner = self.cache.get(settings, progress)
        if first:
            self.load_s = round(time.perf_counter() - t0, 3)
        self.encoder = StagedEncoder(inner, self.settings, self.report)
        return self.encoder


def estimate(
    settings: EditSettings, measured: Iterable[tuple[EditSettings, float, float | None]]
) -> dict[str, Any]:
    """Estimated seconds of a run of ``settings`` from runs measured on this machine.

    Args:
        measured: ``(settings, mean seconds per iteration, setup seconds or None)`` of
            earlier runs with the same CLIP model (newest first; the 8 newest count).

    Returns:
        ``{"seconds_per_iter", "setup_s", "total_s", "runs"}``; the seconds are None
        when nothing was measured yet. Seconds per iteration scale with the crops per
        iteration (the CLIP passes dominate an iteration).
    """
    rows = [(s, per, setup) for s, per, setup in measured if per and per > 0][:8]
    out: dict[str, Any] = {"seconds_per_iter": None, "setup_s": None, "total_s": None}
    out["runs"] = len(rows)
    if not rows:
        return out
    per_crop = statistics.median(per / crops_per_iteration(s) for s, per, _ in rows)
    per_iter = per_crop * crops_per_iteration(settings)
    setups = [setup for _, _, setup in rows if setup is not None]
    setup = statistics.median(setups) if setups else 0.0
    total = settings.candidates * (setup + per_iter * settings.iters)
    out.update(seconds_per_iter=round(per_iter, 4), setup_s=round(setup, 2))
    out["total_s"] = round(total, 1)
    return out

"""One way in: how the CLI, the web editor and batches build, run and resume an edit.

Every front end goes through these four steps, in this order::

    settings = settings_from_layers(file_or_defaults, flags_or_page, row)   # later wins
    settings, resume = decide_resume(outdir, settings, overrides={"iters": 300})
    result = launch(settings, outdir, resume=resume, encoders=cache, stop=event)
    result.status, result.iteration, result.final_loss                       # EditResult

- settings: :func:`clipvg.config.settings_from_layers` (built-in < config file or
  ``defaults`` < command line or page < row); every rule is checked once, by
  :class:`clipvg.config.EditSettings`, and worded with the settings' names
  (:class:`clipvg.errors.SettingError`), which each front end spells its own way.
- resume: :func:`decide_resume`, the one rule (a folder with a checkpoint continues,
  with its own ``run.json`` settings under the caller's overrides).
- CLIP: :class:`clipvg.encoders.EncoderCache`, one seed rule (random weights from the
  run's seed).
- stop: a :class:`threading.Event` (any object with ``is_set()``) read between
  iterations; the run saves and ends "interrupted". Nothing raises to stop a run.
- result: :class:`clipvg.run.EditResult`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .config import EditSettings, read_config, settings_from_layers
from .edit import check_rois, run_edit
from .encoders import EncoderCache, clip_seed, load_encoder, random_weights
from .run import CHECKPOINT, RUN_RECORD, Callback, EditResult, StopFlag

__all__ = [
    "EditResult",
    "EncoderCache",
    "check_rois",
    "clip_seed",
    "decide_resume",
    "launch",
    "load_encoder",
    "random_weights",
    "resumable",
    "settings_from_layers",
]


def resumable(outdir: str | os.PathLike) -> bool:
    """Whether ``outdir`` holds a run that can continue (its checkpoint is there)."""
    return (Path(outdir) / CHECKPOINT).is_file()


def decide_resume(
    outdir: str | os.PathLike,
    settings: EditSettings | None = None,
    *,
    resume: bool | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> tuple[EditSettings, bool]:
    """The one resume rule: whether a run in ``outdir`` continues, and with which settings.

    Args:
        outdir: the run folder.
        settings: the settings of a new run (None: only resuming makes sense).
        resume: True: continue ``outdir`` (the CLI's ``--resume``; a missing checkpoint
            is reported when the run starts); False: start anew; None (batches, the
            page): continue when ``outdir`` has a checkpoint and ``settings`` ask for
            one run (not ``candidates``).
        overrides: settings laid over the result (the new ``iters``; the CLI's flags).

    Returns:
        ``(settings, resume)``. A continued run takes its own ``run.json`` settings
        (ROIs of raster inputs are in canvas units there) under ``overrides``.
    """
    if resume is None:
        one_run = settings is None or settings.candidates == 1
        resume = one_run and resumable(outdir)
    record = Path(outdir) / RUN_RECORD
    if resume and (settings is None or record.is_file()):
        return settings_from_layers(read_config(record), overrides, source=str(record)), True
    if settings is None:
        raise ValueError("decide_resume: settings are needed to start a run")
    if overrides:
        settings = settings_from_layers(settings.to_dict(), overrides)
    return settings, resume


def launch(
    settings: EditSettings,
    outdir: str | os.PathLike,
    *,
    resume: bool = False,
    overwrite: bool = False,
    encoders: EncoderCache | None = None,
    stop: StopFlag | None = None,
    callback: Callback | None = None,
    progress: bool = True,
) -> EditResult:
    """Run (or continue) one edit in ``outdir`` (:func:`clipvg.edit.run_edit`).

    ``encoders``: where CLIP comes from (default: loaded for this run alone, under the
    same seed rule); it is asked only once the input and the ROIs are checked.
    ``stop``: set it (from any thread) to end the run after its current iteration.
    """
    return run_edit(
        settings,
        outdir,
        overwrite=overwrite,
        resume=resume,
        encoders=encoders,
        callback=callback,
        stop=stop,
        progress=progress,
    )

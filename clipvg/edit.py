"""Running an edit end to end: load the input, check the ROIs, load CLIP, run, write.

The face of the editing layer: :func:`run_edit` (and :func:`prepare_run`,
:func:`load_input`) over :mod:`clipvg.session` (one iteration) and :mod:`clipvg.run`
(the run folder and the loop). The names those modules define are re-exported here.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from clipvg.roi import ROI, build_rois

from .clip import Encoder, TextFeatureCache, resolve_device
from .config import EditSettings
from .encoders import EncoderCache, load_encoder
from .errors import ClipvgError, Setting, SettingError
from .io import RASTER_SUFFIXES, require_file
from .rank import run_candidates
from .run import (
    CHECKPOINT,
    RUN_RECORD,
    Callback,
    EditResult,
    Prepared,
    RunFolder,
    StopFlag,
    held_interrupt,
    package_versions,
    run_loop,
    run_session,
)
from .scene import Scene
from .session import (
    BACKGROUND_MSE,
    POOL_FACTOR,
    EditSession,
    StepRecord,
    scene_from_state,
    scene_state,
)

__all__ = [
    "BACKGROUND_MSE",
    "CHECKPOINT",
    "POOL_FACTOR",
    "RUN_RECORD",
    "Callback",
    "EditResult",
    "EditSession",
    "Prepared",
    "RunFolder",
    "StepRecord",
    "StopFlag",
    "check_rois",
    "held_interrupt",
    "input_file",
    "load_input",
    "package_versions",
    "prepare_run",
    "run_edit",
    "run_loop",
    "run_session",
    "scaled_rois",
    "scene_from_state",
    "scene_state",
]


def input_file(settings: EditSettings) -> Path:
    """The run's input path, checked to exist."""
    if not settings.input:
        raise ClipvgError("no input given; pass an SVG or image path")
    return require_file(settings.input)


def load_input(settings: EditSettings, progress: bool = False) -> tuple[Scene, float]:
    """Load the input as a Scene: SVGs as they are, rasters through ``vectorize``.

    Returns:
        (scene, scale): ``scale`` maps input coordinates (ROI boxes) to canvas units
        (1 for SVGs; working size / image size for rasters).
    """
    from .svg import load_svg

    p = input_file(settings)
    path = str(p)
    if p.suffix.lower() not in RASTER_SUFFIXES:
        scene = load_svg(p)
        if scene.num_paths == 0:  # refused before CLIP loads and any iteration runs
            raise ClipvgError(f"{p} has nothing to edit: no visible shapes; give an SVG with paths")
        return scene, 1.0
    from .io import open_image

    try:
        with open_image(p, "input image") as im:
            width = im.size[0]
    except ClipvgError:
        raise
    except Exception:
        raise ClipvgError(f"cannot read {path} as an image") from None
    from clipvg.vectorize import vectorize_image

    options = {k: v for k, v in settings.vectorize.items() if v is not None}
    scene = vectorize_image(str(p), seed=settings.seed, progress=progress, **options)
    return scene, scene.width / width


def scaled_rois(rois: list[dict[str, Any]], scale: float) -> list[dict[str, Any]]:
    """ROI specs with boxes and polygons multiplied by ``scale`` (input pixels -> canvas units).

    Mask images need no scaling: they are stretched over the whole canvas.
    """
    if scale == 1.0:
        return rois
    from clipvg.roi import parse_polygon

    out = []
    for i, r in enumerate(rois, start=1):
        r = (
            dict(r)
            if isinstance(r, dict)
            else dict(zip(("x", "y", "w", "h", "prompt"), r, strict=False))
        )
        for k in ("x", "y", "w", "h"):
            if isinstance(r.get(k), (int, float)):
                r[k] = r[k] * scale
        if r.get("polygon") is not None:
            poly = parse_polygon(r["polygon"], f"ROI {i}")
            r["polygon"] = [[x * scale, y * scale] for x, y in poly]
        out.append(r)
    return out


def check_rois(settings: EditSettings, width: float, height: float) -> list[ROI]:
    """Build and validate the run's ROIs on a canvas (before any heavy work)."""
    return build_rois(
        width,
        height,
        settings.prompt,
        settings.rois,
        prompt_image=settings.prompt_image,
        **settings.roi_defaults(),
    )


def prepare_run(
    settings: EditSettings,
    folder: RunFolder,
    resume: bool,
    encoder: Encoder | None,
    progress: bool = False,
    encoders: EncoderCache | None = None,
) -> Prepared:
    """Load the input (vectorizing rasters), check the ROIs, load CLIP: once per run.

    ``folder`` must be prepared already; with ``resume`` the scene comes from its checkpoint.
    Without ``encoder``, CLIP comes from :func:`clipvg.encoders.load_encoder` (its seed rule).
    """
    device = resolve_device(settings.device)
    state = None
    scene: Scene | None
    if resume:
        state = folder.read_checkpoint()
        scene = scene_from_state(state["scene"])
        initial = scene_from_state(state["initial"])
        check_rois(settings, scene.width, scene.height)
    else:
        if settings.input and Path(settings.input).suffix.lower() not in RASTER_SUFFIXES:
            scene, scale = load_input(settings)  # SVGs are cheap: check ROIs before loading CLIP
            check_rois(settings, scene.width, scene.height)
        else:
            scene = None
            input_file(settings)
    if encoder is None and encoders is not None:
        encoder = encoders.get(settings, progress)
    elif encoder is None:
        encoder = load_encoder(settings, progress)
    if scene is None:
        scene, scale = load_input(settings, progress)
        settings.rois = scaled_rois(settings.rois, scale)
    if not resume:
        initial = scene.clone()
    return Prepared(scene, initial, encoder, device, state)


def run_edit(
    settings: EditSettings,
    outdir: str | Path,
    *,
    overwrite: bool = False,
    resume: bool = False,
    encoder: Encoder | None = None,
    encoders: EncoderCache | None = None,
    callback: Callback | None = None,
    stop: StopFlag | None = None,
    progress: bool = True,
) -> EditResult:
    """Run (or resume) an edit end to end and write the output folder.

    With ``settings.candidates`` K > 1, runs K seeds sharing the loaded CLIP and the
    (vectorized) input, and ranks them (see :func:`clipvg.rank.run_candidates`); the
    returned session is the best candidate's.

    Returns:
        :class:`clipvg.run.EditResult` (unpacks as ``status, folder, session``): status
        is ``"finished"`` or ``"interrupted"`` (``stop`` set, or Ctrl-C): the latest SVG,
        checkpoint and run.json are written either way.
    """
    t0 = time.perf_counter()
    folder = RunFolder(outdir)
    if not resume:
        settings.check_target()
    if resume and settings.candidates > 1:
        raise SettingError(
            Setting("resume"),
            " continues one run; it does not work with ",
            Setting("candidates"),
            " (resume a candidate's own folder instead)",
        )
    folder.prepare(
        overwrite, resume, None if resume else settings.input, settings.reference_files()
    )
    prep = prepare_run(settings, folder, resume, encoder, progress, encoders)
    if settings.candidates > 1:
        return run_candidates(
            settings, folder, prep, t0=t0, callback=callback, stop=stop, progress=progress
        )
    session = EditSession(
        prep.scene,
        settings,
        prep.encoder,
        device=prep.device,
        initial=prep.initial,
        texts=TextFeatureCache(prep.encoder, progress=progress),
    )
    if prep.state is not None:
        session.load_state_dict(prep.state)
    status = run_session(
        session,
        folder,
        setup_s=time.perf_counter() - t0,
        write_initial=prep.state is None,
        callback=callback,
        stop=stop,
        progress=progress,
    )
    return EditResult(status, folder, session)

"""Ranked candidates: K seeds of one edit, sharing CLIP and the (vectorized) input.

Each candidate runs in ``OUTDIR/candidates/seed-S`` (a complete edit folder: it can
be resumed on its own), then the folders are renamed ``rank-R-seed-S`` best first.
The score of a candidate is::

    mean over ROIs of cos(E_I(ROI crop of the final render), target)
        - rank_penalty * RMS(final - initial render, outside the extra ROIs)

where the target is the ROI's template-averaged text feature (or its exemplar
image's feature). Without extra ROIs the penalty is 0 (the whole image is the edit).
``OUTDIR/final.svg`` / ``final.png`` are copies of the best candidate's, and
``ranking.json`` holds every score.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import torch

from .clip import TextFeatureCache
from .errors import ClipvgError
from .io import write_text
from .metrics import background_rms, clip_similarity, roi_crops
from .run import (
    Callback,
    EditResult,
    Prepared,
    RunFolder,
    StopFlag,
    package_versions,
    run_session,
)
from .session import EditSession

if TYPE_CHECKING:
    from .config import EditSettings

RANKING = "ranking.json"


def score_session(session: EditSession, penalty: float) -> dict[str, Any]:
    """Score a session's current scene (see the module docstring); plain floats."""
    with torch.no_grad():
        image = session.render_image(session.scene)
        hw = tuple(image.shape[:2])
        sx, sy = hw[1] / session.scene.width, hw[0] / session.scene.height
        boxes = [r.scaled(sx, sy).box for r in session.rois]
        feats = session.encoder.encode_image(roi_crops(image, boxes, session.encoder.image_size))
        sims = clip_similarity(feats, session.targets.to(feats.device))
        if len(session.rois) > 1:
            outside = session.region == 0
        else:
            outside = torch.zeros(hw, dtype=torch.bool, device=image.device)
        change = background_rms(image, session.initial_image, outside)
    similarity = float(sims.mean())
    return {
        "score": similarity - penalty * change,
        "similarity": similarity,
        "roi_similarity": [float(v) for v in sims],
        "background_rms": change,
    }


def run_candidates(
    settings: EditSettings,
    folder: RunFolder,
    prep: Prepared,
    *,
    t0: float,
    callback: Callback | None = None,
    stop: StopFlag | None = None,
    progress: bool = True,
) -> EditResult:
    """Run ``settings.candidates`` seeds (seed, seed + 1, ...) and rank them.

    Returns:
        (status, folder, session): the best session, or the interrupted one.
    """
    k = settings.candidates
    if k < 1:
        raise ClipvgError(f"candidates must be >= 1, got {k}")
    texts = TextFeatureCache(prep.encoder, progress=progress)
    results: list[dict[str, Any]] = []
    sessions: dict[int, EditSession] = {}
    root = folder.file("candidates")
    root.mkdir(parents=True, exist_ok=True)
    wrote_initial = False
    for i in range(k):
        start = time.perf_counter()
        seed = settings.seed + i
        sub = RunFolder(root / f"seed-{seed}")
        sub.prepare(overwrite=True, resume=False, input_path=None)
        session = EditSession(
            prep.scene.clone(),
            replace(settings, seed=seed, candidates=1),
            prep.encoder,
            device=prep.device,
            initial=prep.initial.clone(),
            texts=texts,
        )
        if not wrote_initial:
            folder.write_scene(session.initial, "initial", exact=session.exact_paths)
            wrote_initial = True
        setup = time.perf_counter() - (t0 if i == 0 else start)
        status = run_session(
            session,
            sub,
            setup_s=setup,
            write_initial=False,
            callback=callback,
            stop=stop,
            progress=progress,
        )
        if status == "interrupted":
            return EditResult(status, folder, session)
        entry = {"seed": seed, **score_session(session, settings.rank_penalty)}
        entry["loss"] = session.history[-1].loss if session.history else None
        entry["seconds"] = round(time.perf_counter() - start, 3)
        results.append(entry)
        sessions[seed] = session
    results.sort(key=lambda e: -e["score"])
    for rank, entry in enumerate(results, start=1):
        name = f"rank-{rank}-seed-{entry['seed']}"
        target = root / name
        if target.exists():
            shutil.rmtree(target)
        (root / f"seed-{entry['seed']}").rename(target)
        entry["rank"] = rank
        entry["folder"] = f"candidates/{name}"
    best = results[0]
    for ext in (".svg", ".png"):
        shutil.copyfile(
            root / best["folder"].split("/", 1)[1] / f"final{ext}", folder.file(f"final{ext}")
        )
    ranking = {
        "score": "mean ROI CLIP similarity - rank_penalty * background RMS change",
        "rank_penalty": settings.rank_penalty,
        "rois": [r.to_dict() for r in sessions[best["seed"]].rois],
        "candidates": results,
    }
    write_text(json.dumps(ranking, indent=1), folder.file(RANKING))
    best_session = sessions[best["seed"]]
    folder.write_record(
        {
            "command": "edit",
            "status": "finished",
            "settings": settings.to_dict(),
            "best": best,
            "ranking": RANKING,
            "clip": getattr(prep.encoder, "name", type(prep.encoder).__name__),
            "canvas": [prep.scene.width, prep.scene.height],
            "num_paths": prep.scene.num_paths,
            "versions": package_versions(),
            "timings": {"total_s": round(time.perf_counter() - t0, 3)},
        }
    )
    return EditResult("finished", folder, best_session)

"""The run: its output folder, its record (run.json), the loop and its interruption.

Output folder layout::

    final.svg, final.png     when the run finishes
    latest.svg               at every snapshot and on Ctrl-C
    initial.svg              the scene as it started (vectorized, for raster inputs)
    snapshots/iter_NNNN.svg|png
    checkpoint.pt            scene, initial scene, Adam state, RNG state, history (resume)
    run.json                 settings, seed, versions, per-iteration losses, timings
    candidates/rank-R-seed-S/   with --candidates K: each seed's own folder, best first,
    ranking.json                and the scores (final.svg is then a copy of the best)
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import torch

from .clip import Encoder
from .errors import ClipvgError, Setting, SettingError
from .io import atomic_path, check_outside, write_png, write_text
from .progress import bar as progress_bar
from .scene import Scene
from .session import EditSession
from .signals import held_signals

CHECKPOINT = "checkpoint.pt"
RUN_RECORD = "run.json"

#: Called after every iteration with (session, iteration, record).
Callback = Callable[[EditSession, int, dict], None]


class StopFlag(Protocol):
    """How a run is asked to stop: ``is_set()`` is read between iterations (a
    :class:`threading.Event` is one). The loop then saves and returns "interrupted"."""

    def is_set(self) -> bool: ...


class EditResult(NamedTuple):
    """What a run produced; ``summary.csv``, the web job status and the CLI read it.

    Unpacks as ``status, folder, session``. ``status`` is ``"finished"`` or
    ``"interrupted"`` (stopped, Ctrl-C): the latest SVG, checkpoint and run.json are
    written either way.
    """

    status: str
    folder: RunFolder
    session: EditSession

    @property
    def finished(self) -> bool:
        return self.status == "finished"

    @property
    def iteration(self) -> int:
        """Iterations done, the resumed ones included."""
        return self.session.iteration

    @property
    def final_loss(self) -> float | None:
        """The last iteration's total loss (None: no iteration ran)."""
        return self.session.history[-1].loss if self.session.history else None


@dataclass
class Prepared:
    """What a run loads once and every candidate shares."""

    scene: Scene
    initial: Scene
    encoder: Encoder
    device: torch.device
    state: dict[str, Any] | None


class RunFolder:
    """The output folder of one run: refuses to clobber, writes every file whole."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def prepare(
        self,
        overwrite: bool,
        resume: bool,
        input_path: str | None,
        reads: Sequence[str | None] = (),
    ) -> None:
        """Check the folder before any work: never write over what the run reads
        (``input_path`` and the other files in ``reads``), even with ``overwrite``."""
        if self.path.exists() and not self.path.is_dir():
            raise ClipvgError(f"output {self.path} exists and is not a folder")
        above = self.path.absolute().parent
        while not above.exists():
            above = above.parent
        if not above.is_dir():  # found before any work, not when the first file is written
            raise ClipvgError(f"cannot create output folder {self.path}: {above} is a file")
        check_outside(self.path, [input_path, *reads])
        if resume:
            if not (self.path / CHECKPOINT).is_file():
                raise SettingError(
                    Setting("resume"),
                    f" {self.path}: no {CHECKPOINT} there; it is not a clipvg edit folder",
                )
            return
        if self.path.is_dir() and any(self.path.iterdir()) and not overwrite:
            raise SettingError(
                f"output folder {self.path} is not empty; pass ",
                Setting("overwrite"),
                " or choose another ",
                Setting("output"),
            )
        # Nothing is created yet: files are written (creating the folder) only once
        # the input, the ROIs, CLIP and the prompts have all been checked.

    def file(self, name: str) -> Path:
        return self.path / name

    def write_scene(
        self,
        scene: Scene,
        name: str,
        render: Callable[..., torch.Tensor] | None = None,
        exact: torch.Tensor | None = None,
    ) -> None:
        """``name``.svg (and ``name``.png when ``render`` is given); ``exact``: (N,) bool
        paths written with digits that read back bit-identical."""
        from .svg import save_svg

        detached = scene.clone()
        save_svg(detached, self.file(name + ".svg"), exact=exact)
        if render is not None:
            with torch.no_grad():
                write_png(render(detached), self.file(name + ".png"))

    def write_checkpoint(self, state: dict[str, Any]) -> None:
        with atomic_path(self.file(CHECKPOINT)) as tmp:
            try:
                torch.save(state, tmp)
            except RuntimeError as exc:  # torch's writer reports a full disk this way
                raise OSError(str(exc).strip().splitlines()[0] or "write failed") from None

    def read_checkpoint(self) -> dict[str, Any]:
        try:
            return torch.load(self.file(CHECKPOINT), map_location="cpu", weights_only=True)
        except Exception as exc:
            raise ClipvgError(
                f"cannot read {self.file(CHECKPOINT)}: {type(exc).__name__}"
            ) from None

    def write_record(self, record: dict[str, Any]) -> None:
        write_text(json.dumps(record, indent=1), self.file(RUN_RECORD))


def package_versions() -> dict[str, str]:
    """Versions of the packages that decide the result."""
    import importlib.metadata as md

    out = {"python": platform.python_version(), "platform": platform.platform()}
    for name in (
        "clipvg",
        "torch",
        "torchvision",
        "open_clip_torch",
        "numpy",
        "pillow",
        "svgwrite",
        "fonttools",
    ):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = "not installed"
    return out


def run_session(
    session: EditSession,
    folder: RunFolder,
    *,
    setup_s: float,
    write_initial: bool,
    callback: Callback | None = None,
    stop: StopFlag | None = None,
    progress: bool = True,
) -> str:
    """Run one session's loop in its folder, writing run.json, checkpoint and SVGs."""
    t0 = time.perf_counter() - setup_s
    settings, encoder, scene = session.settings, session.encoder, session.scene
    exact = session.exact_paths
    if write_initial:
        folder.write_scene(session.initial, "initial", exact=exact)

    def record(status: str) -> dict[str, Any]:
        iters = [r.seconds for r in session.history]
        return {
            "command": "edit",
            "status": status,
            "iteration": session.iteration,
            "seed": settings.seed,
            "settings": settings.to_dict(),
            "rois": [r.to_dict() for r in session.rois],
            "device": str(session.device),
            "clip": getattr(encoder, "name", type(encoder).__name__),
            "clip_image_size": encoder.image_size,
            "canvas": [scene.width, scene.height],
            "num_paths": scene.num_paths,
            "editable_paths": None if session.editable is None else int(session.editable.sum()),
            "versions": package_versions(),
            "timings": {
                "setup_s": round(setup_s, 3),
                "total_s": round(time.perf_counter() - t0, 3),
                "mean_iter_s": round(sum(iters) / len(iters), 4) if iters else None,
                "torch_threads": torch.get_num_threads(),
            },
            "history": [r.to_dict() for r in session.history],
        }

    def save(status: str) -> None:
        # The record first, so a failure (full disk) never leaves a result without it;
        # "finished" only once final.* are whole ("saving" until then).
        folder.write_checkpoint(session.state_dict())
        folder.write_record(record("saving" if status == "finished" else status))
        folder.write_scene(session.scene, "latest", exact=exact)
        if status == "finished":
            folder.write_scene(session.scene, "final", session.render, exact=exact)
            folder.write_record(record(status))

    return run_loop(session, folder, callback=callback, stop=stop, progress=progress, save=save)


def run_loop(
    session: EditSession,
    folder: RunFolder,
    *,
    save: Callable[[str], None],
    callback: Callback | None = None,
    stop: StopFlag | None = None,
    progress: bool = True,
) -> str:
    """Iterate up to ``settings.iters``, snapshotting, calling ``callback`` after each
    iteration; when ``stop`` is set (read between iterations) or on Ctrl-C, save and
    return "interrupted"."""
    s = session.settings
    bar = progress_bar(s.iters, "editing", progress, initial=min(session.iteration, s.iters))
    try:
        while session.iteration < s.iters:
            rec = session.step()
            bar.update(1)
            bar.set_postfix(loss=f"{rec.loss:.3f}")
            if s.save_every and session.iteration % s.save_every == 0:
                it = session.iteration
                folder.write_scene(
                    session.scene,
                    f"snapshots/iter_{it:04d}",
                    session.render,
                    exact=session.exact_paths,
                )
                save("running")
            if callback is not None:
                callback(session, session.iteration, rec.to_dict())
            if stop is not None and stop.is_set() and session.iteration < s.iters:
                bar.close()
                with held_interrupt():
                    save("interrupted")
                return "interrupted"
    except KeyboardInterrupt:
        bar.close()
        with held_interrupt():
            save("interrupted")
        return "interrupted"
    bar.close()
    try:
        with held_interrupt():
            save("finished")
    except KeyboardInterrupt:  # raised in the save itself (not the main thread, a callback)
        with held_interrupt():
            save("interrupted")
        return "interrupted"
    return "finished"


def held_interrupt() -> AbstractContextManager[list[int]]:
    """Hold SIGINT and SIGTERM while the run's files are written, so that they stay
    consistent (run.json never stays at "running"); a held signal is dropped once they
    are whole, the run being saved by then (:func:`clipvg.signals.held_signals`)."""
    return held_signals(notice="finishing writing the run's files first")

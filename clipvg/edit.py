"""The editing session: ROIs, the optimizer, snapshots, interrupt and resume.

One iteration::

    render(scene) --crops of every ROI (same warps on the initial render)--> CLIP
        --> directional loss per crop --> weighted sum --> Adam step --> clamp colors

All ROIs' crops (whole-ROI crop + patches) go through CLIP in one batch (or
``batch_size`` chunks); the initial render's features for the same warps are computed
without gradient in a second pass.

Output folder layout::

    final.svg, final.png     when the run finishes
    latest.svg               at every snapshot and on Ctrl-C
    initial.svg              the scene as it started (vectorized, for raster inputs)
    snapshots/iter_NNNN.svg|png
    checkpoint.pt            scene, initial scene, Adam state, RNG state, history (resume)
    run.json                 settings, seed, versions, per-iteration losses, timings
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from roi import ROI, build_rois

from .augment import apply_grid, sample_warps, warp_grid
from .clip import Encoder, TextFeatureCache, load_clip, resolve_device
from .config import EditSettings
from .errors import ClipvgError
from .io import atomic_path, write_png, write_text
from .losses import directional_loss, text_direction
from .scene import PathInfo, Scene

RASTER_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
CHECKPOINT = "checkpoint.pt"
RUN_RECORD = "run.json"

#: Called after every iteration with (session, iteration, record); may raise KeyboardInterrupt.
Callback = Callable[["EditSession", int, dict], None]


@dataclass
class StepRecord:
    """What one iteration produced (all plain floats, for run.json)."""

    iter: int
    loss: float
    rois: list[float]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {"iter": self.iter, "loss": self.loss, "rois": self.rois, "seconds": self.seconds}


def scene_state(scene: Scene) -> dict[str, Any]:
    """A Scene as plain tensors and lists (safe for ``torch.load(weights_only=True)``)."""
    return {
        "width": float(scene.width),
        "height": float(scene.height),
        "points": scene.points.detach().cpu().clone(),
        "colors": scene.colors.detach().cpu().clone(),
        "contour_sizes": scene.contour_sizes.cpu().clone(),
        "contour_path": scene.contour_path.cpu().clone(),
        "evenodd": scene.evenodd.cpu().clone(),
        "info": [[p.id, list(p.groups)] for p in scene.info],
    }


def scene_from_state(state: dict[str, Any]) -> Scene:
    """Inverse of :func:`scene_state`."""
    return Scene(
        width=state["width"],
        height=state["height"],
        points=state["points"].clone(),
        colors=state["colors"].clone(),
        contour_sizes=state["contour_sizes"].clone(),
        contour_path=state["contour_path"].clone(),
        evenodd=state["evenodd"].clone(),
        info=[PathInfo(i, tuple(g)) for i, g in state["info"]],
    )


class EditSession:
    """Owns the scene being edited, its ROIs, the optimizer and the RNG.

    Args:
        scene: the scene to edit (moved to ``device``; edited in place).
        settings: the run's settings (ROIs are built and checked against the canvas).
        encoder: CLIP behind :class:`clipvg.clip.Encoder`, shared by all ROIs.
        device: where rendering and optimization happen.
        initial: the reference scene (defaults to a copy of ``scene``); features of its
            render under the same warps are the origin of every image direction.
        render: the differentiable renderer (``clipvg.render``), pluggable for tests.
    """

    def __init__(
        self,
        scene: Scene,
        settings: EditSettings,
        encoder: Encoder,
        device: torch.device | str = "cpu",
        initial: Scene | None = None,
        render: Callable[..., torch.Tensor] | None = None,
    ):
        if render is None:
            from .render import render as render_fn

            render = render_fn
        self.settings = settings
        self.encoder = encoder
        self.device = torch.device(device)
        self.render = render
        self.scene = scene.to(self.device)
        self.initial = (initial if initial is not None else scene.clone()).to(self.device)
        if (self.initial.width, self.initial.height) != (scene.width, scene.height):
            raise ClipvgError(
                "the initial scene and the scene being edited have different canvases"
            )
        self.rois: list[ROI] = build_rois(
            scene.width, scene.height, settings.prompt, settings.rois, **settings.roi_defaults()
        )
        texts = TextFeatureCache(encoder)
        source = texts.features(settings.source_prompt)
        self.directions = torch.stack(
            [text_direction(texts.features(r.prompt), source) for r in self.rois]
        ).to(self.device)
        self.generator = torch.Generator().manual_seed(settings.seed)
        self.iteration = 0
        self.history: list[StepRecord] = []
        with torch.no_grad():
            self.initial_image = self._render(self.initial)
        self.optimizer = self._make_optimizer()

    # ---- setup ----------------------------------------------------------------------
    def _make_optimizer(self) -> torch.optim.Adam:
        groups = []
        self.scene.points.requires_grad_(False)
        self.scene.colors.requires_grad_(False)
        if "shape" not in self.settings.lock:
            groups.append(
                {
                    "params": self.scene.shape_parameters(),
                    "lr": self.settings.shape_lr,
                    "name": "shape",
                }
            )
        if "color" not in self.settings.lock:
            groups.append(
                {
                    "params": self.scene.color_parameters(),
                    "lr": self.settings.color_lr,
                    "name": "color",
                }
            )
        return torch.optim.Adam(groups)

    def _render(self, scene: Scene) -> torch.Tensor:
        image = self.render(scene)
        if image.ndim != 3 or image.shape[2] != 3:
            raise ClipvgError(f"renderer returned {tuple(image.shape)}, expected (H, W, 3)")
        return image

    # ---- one iteration --------------------------------------------------------------
    def _warps(self, hw: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
        """Grids of every crop of every ROI for this iteration: whole-ROI crop first, then patches."""
        s = self.settings
        sx, sy = hw[1] / self.scene.width, hw[0] / self.scene.height
        grids, insides, counts = [], [], []
        for roi in self.rois:
            box = roi.scaled(sx, sy).box
            whole = sample_warps(box, 1, 1.0, 0.0, self.generator, min_ratio=s.whole_crop)
            patches = sample_warps(box, roi.patches, roi.crop_ratio, s.distortion, self.generator)
            for w in (whole, patches):
                g, m = warp_grid(w, self.encoder.image_size, hw)
                grids.append(g)
                insides.append(m)
            counts.append(1 + roi.patches)
        return torch.cat(grids), torch.cat(insides), counts

    def _coefficients(self, counts: list[int]) -> torch.Tensor:
        """(B,) weight of each crop's loss: ``weight`` on the whole crop, ``patch_weight / n`` on each patch."""
        parts = []
        for roi, n in zip(self.rois, counts, strict=True):
            per_patch = roi.patch_weight / roi.patches if roi.patches else 0.0
            parts.append(torch.tensor([roi.weight] + [per_patch] * (n - 1)))
        return torch.cat(parts).to(self.device)

    def step(self) -> StepRecord:
        """Run one iteration: render, crop, encode, loss, backward, Adam step, clamp."""
        start = time.perf_counter()
        image = self._render(self.scene)
        hw = (image.shape[0], image.shape[1])
        if hw != tuple(self.initial_image.shape[:2]):
            raise ClipvgError("the render size changed during the run")
        grid, inside, counts = self._warps(hw)
        directions = torch.cat(
            [self.directions[i : i + 1].expand(n, -1) for i, n in enumerate(counts)]
        )
        coef = self._coefficients(counts)
        crops = apply_grid(image, grid, inside)
        batch = self.settings.batch_size or crops.shape[0]
        per_crop = []
        self.optimizer.zero_grad(set_to_none=True)
        chunks = range(0, crops.shape[0], batch)
        for k, lo in enumerate(chunks):
            hi = min(lo + batch, crops.shape[0])
            with torch.no_grad():
                ref = self.encoder.encode_image(
                    apply_grid(self.initial_image, grid[lo:hi], inside[lo:hi])
                )
            cur = self.encoder.encode_image(crops[lo:hi])
            losses = directional_loss(cur, ref, directions[lo:hi])
            total = (coef[lo:hi] * losses).sum()
            if total.requires_grad:
                total.backward(retain_graph=k < len(chunks) - 1)
            per_crop.append(losses.detach())
        self.optimizer.step()
        if "color" not in self.settings.lock:
            with torch.no_grad():
                self.scene.colors.clamp_(0.0, 1.0)
        losses = torch.cat(per_crop)
        weighted = (coef * losses).split(counts)
        roi_losses = [float(w.sum()) for w in weighted]
        self.iteration += 1
        record = StepRecord(
            self.iteration, float(sum(roi_losses)), roi_losses, time.perf_counter() - start
        )
        self.history.append(record)
        return record

    # ---- state ----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "iteration": self.iteration,
            "scene": scene_state(self.scene),
            "initial": scene_state(self.initial),
            "optimizer": self.optimizer.state_dict(),
            "lock": list(self.settings.lock),
            "generator": self.generator.get_state(),
            "history": [r.to_dict() for r in self.history],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from :meth:`state_dict` (scene values, RNG, history, optimizer if compatible)."""
        scene = scene_from_state(state["scene"])
        if (
            scene.points.shape != self.scene.points.shape
            or scene.colors.shape != self.scene.colors.shape
        ):
            raise ClipvgError("the checkpoint's scene does not match the session's scene")
        with torch.no_grad():
            self.scene.points.copy_(scene.points)
            self.scene.colors.copy_(scene.colors)
        self.iteration = int(state["iteration"])
        self.generator.set_state(state["generator"])
        self.history = [StepRecord(**r) for r in state["history"]]
        if sorted(state.get("lock", [])) == sorted(self.settings.lock):
            self.optimizer.load_state_dict(state["optimizer"])
            for group, lr in zip(self.optimizer.param_groups, self._group_lrs(), strict=False):
                group["lr"] = lr

    def _group_lrs(self) -> list[float]:
        return [
            self.settings.shape_lr if g["name"] == "shape" else self.settings.color_lr
            for g in self.optimizer.param_groups
        ]


class RunFolder:
    """The output folder of one run: refuses to clobber, writes every file whole."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def prepare(self, overwrite: bool, resume: bool, input_path: str | None) -> None:
        if self.path.exists() and not self.path.is_dir():
            raise ClipvgError(f"output {self.path} exists and is not a folder")
        if input_path is not None:
            inp = Path(input_path).resolve()
            if self.path.resolve() in inp.parents:
                raise ClipvgError(
                    f"the input {input_path} lies inside the output folder {self.path}; pick another -o"
                )
        if resume:
            if not (self.path / CHECKPOINT).is_file():
                raise ClipvgError(
                    f"--resume {self.path}: no {CHECKPOINT} there; it is not a clipvg edit folder"
                )
            return
        if self.path.is_dir() and any(self.path.iterdir()) and not overwrite:
            raise ClipvgError(
                f"output folder {self.path} is not empty; pass --overwrite or choose another -o"
            )
        (self.path / "snapshots").mkdir(parents=True, exist_ok=True)

    def file(self, name: str) -> Path:
        return self.path / name

    def write_scene(
        self, scene: Scene, name: str, render: Callable[..., torch.Tensor] | None = None
    ) -> None:
        """``name``.svg (and ``name``.png when ``render`` is given)."""
        from .svg import save_svg

        detached = scene.clone()
        save_svg(detached, self.file(name + ".svg"))
        if render is not None:
            with torch.no_grad():
                write_png(render(detached), self.file(name + ".png"))

    def write_checkpoint(self, state: dict[str, Any]) -> None:
        with atomic_path(self.file(CHECKPOINT)) as tmp:
            torch.save(state, tmp)

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


def load_input(settings: EditSettings) -> tuple[Scene, float]:
    """Load the input as a Scene: SVGs as they are, rasters through ``vectorize``.

    Returns:
        (scene, scale): ``scale`` maps input coordinates (ROI boxes) to canvas units
        (1 for SVGs; working size / image size for rasters).
    """
    from .svg import load_svg

    path = settings.input
    if not path:
        raise ClipvgError("no input given; pass an SVG or image path")
    p = Path(path)
    if not p.is_file():
        raise ClipvgError(f"input {path} not found")
    if p.suffix.lower() not in RASTER_SUFFIXES:
        return load_svg(p), 1.0
    from PIL import Image

    try:
        with Image.open(p) as im:
            width = im.size[0]
    except Exception:
        raise ClipvgError(f"cannot read {path} as an image") from None
    from vectorize import vectorize_image

    options = {k: v for k, v in settings.vectorize.items() if v is not None}
    scene = vectorize_image(str(p), seed=settings.seed, **options)
    return scene, scene.width / width


def scaled_rois(rois: list[dict[str, Any]], scale: float) -> list[dict[str, Any]]:
    """ROI specs with boxes multiplied by ``scale`` (input pixels -> canvas units)."""
    if scale == 1.0:
        return rois
    out = []
    for r in rois:
        r = (
            dict(r)
            if isinstance(r, dict)
            else dict(zip(("x", "y", "w", "h", "prompt"), r, strict=False))
        )
        for k in ("x", "y", "w", "h"):
            if isinstance(r.get(k), (int, float)):
                r[k] = r[k] * scale
        out.append(r)
    return out


def run_edit(
    settings: EditSettings,
    outdir: str | Path,
    *,
    overwrite: bool = False,
    resume: bool = False,
    encoder: Encoder | None = None,
    callback: Callback | None = None,
    progress: bool = True,
) -> tuple[str, RunFolder, EditSession]:
    """Run (or resume) an edit end to end and write the output folder.

    Returns:
        (status, folder, session): status is ``"finished"`` or ``"interrupted"``
        (Ctrl-C, or a ``callback`` raising KeyboardInterrupt): the latest SVG,
        checkpoint and run.json are written either way.
    """
    t0 = time.perf_counter()
    folder = RunFolder(outdir)
    if not resume and not (isinstance(settings.prompt, str) and settings.prompt.strip()):
        raise ClipvgError("the prompt is empty; pass --prompt TEXT")
    folder.prepare(overwrite, resume, None if resume else settings.input)
    device = resolve_device(settings.device)

    state = None
    if resume:
        state = folder.read_checkpoint()
        scene = scene_from_state(state["scene"])
        initial = scene_from_state(state["initial"])
        build_rois(
            scene.width, scene.height, settings.prompt, settings.rois, **settings.roi_defaults()
        )
    else:
        if settings.input and Path(settings.input).suffix.lower() not in RASTER_SUFFIXES:
            scene, scale = load_input(settings)  # SVGs are cheap: check ROIs before loading CLIP
            build_rois(
                scene.width, scene.height, settings.prompt, settings.rois, **settings.roi_defaults()
            )
        else:
            scene = None
            if not settings.input or not Path(settings.input).is_file():
                raise ClipvgError(f"input {settings.input} not found")
        initial = None
    if encoder is None:
        encoder = load_clip(
            settings.clip_model, settings.clip_pretrained, settings.clip_weights, device
        )
    if scene is None:
        scene, scale = load_input(settings)
        settings.rois = scaled_rois(settings.rois, scale)
    if not resume:
        initial = scene.clone()
    session = EditSession(scene, settings, encoder, device=device, initial=initial)
    if state is not None:
        session.load_state_dict(state)
    else:
        folder.write_scene(session.initial, "initial")
    setup_s = time.perf_counter() - t0

    def record(status: str) -> dict[str, Any]:
        iters = [r.seconds for r in session.history]
        return {
            "command": "edit",
            "status": status,
            "iteration": session.iteration,
            "seed": settings.seed,
            "settings": settings.to_dict(),
            "rois": [r.to_dict() for r in session.rois],
            "device": str(device),
            "clip": getattr(encoder, "name", type(encoder).__name__),
            "clip_image_size": encoder.image_size,
            "canvas": [scene.width, scene.height],
            "num_paths": scene.num_paths,
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
        folder.write_scene(session.scene, "latest")
        if status == "finished":
            folder.write_scene(session.scene, "final", session.render)
        folder.write_checkpoint(session.state_dict())
        folder.write_record(record(status))

    status = run_loop(session, folder, callback=callback, progress=progress, save=save)
    return status, folder, session


def run_loop(
    session: EditSession,
    folder: RunFolder,
    *,
    save: Callable[[str], None],
    callback: Callback | None = None,
    progress: bool = True,
) -> str:
    """Iterate up to ``settings.iters``, snapshotting; on Ctrl-C save and return "interrupted"."""
    from tqdm import tqdm

    s = session.settings
    bar = tqdm(
        total=s.iters,
        initial=min(session.iteration, s.iters),
        disable=not progress,
        unit="it",
        dynamic_ncols=True,
    )
    try:
        while session.iteration < s.iters:
            rec = session.step()
            bar.update(1)
            bar.set_postfix(loss=f"{rec.loss:.3f}")
            if s.save_every and session.iteration % s.save_every == 0:
                it = session.iteration
                folder.write_scene(session.scene, f"snapshots/iter_{it:04d}", session.render)
                save("running")
            if callback is not None:
                callback(session, session.iteration, rec.to_dict())
    except KeyboardInterrupt:
        bar.close()
        save("interrupted")
        return "interrupted"
    bar.close()
    save("finished")
    return "finished"

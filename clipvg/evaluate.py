"""``evaluate``: how well an edited SVG hits its prompts and how much it left alone.

For an edited SVG and its source (the SVG or raster that was edited), both rendered
at the edited canvas size:

- per ROI: CLIP score ``cos(E_I(edited ROI crop), target)`` (and the source's, for
  reference), and the directional CLIP similarity
  ``cos(E_I(edited) - E_I(source), T(prompt) - T(source prompt))`` on the ROI crop;
  for an exemplar ROI the target is ``E_I(reference)`` and the origin ``E_I(source crop)``.
- background PSNR and SSIM (skimage.metrics) over the pixels outside every extra
  ROI's mask, grown by ``margin`` pixels (the whole image when there are no extra ROIs);
- path counts and file sizes.

ROI crops are the ones the editor's CLIP sees (:func:`clipvg.metrics.roi_crops`).
ROI coordinates are canvas units of the edited SVG, or input pixels when the source
is a raster (the same convention as ``edit``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from clipvg.roi import build_rois, union_mask

from .clip import Encoder, TextFeatureCache
from .errors import Setting, SettingError
from .io import RASTER_SUFFIXES, require_file
from .metrics import (
    background_psnr,
    background_ssim,
    clip_similarity,
    directional_similarity,
    read_rgb,
    resize_image,
    roi_crops,
    square_image,
)


def _load_source(
    path: Path, size: tuple[int, int], device: torch.device
) -> tuple[torch.Tensor, int | None, float]:
    """Source render at (H, W): (image, path count or None, ROI scale input -> canvas)."""
    from .render import render
    from .svg import load_svg

    hgt, wid = size
    if path.suffix.lower() in RASTER_SUFFIXES:
        image = read_rgb(path)
        scale = wid / image.shape[1]
        return resize_image(image, hgt, wid).to(device), None, scale
    scene = load_svg(path).to(device)
    with torch.no_grad():
        return render(scene, wid, hgt), scene.num_paths, 1.0


def check_margin(margin: float) -> None:
    """The background margin's rule (checked before CLIP loads): finite, >= 0 pixels."""
    if not math.isfinite(margin) or margin < 0:
        raise SettingError(
            Setting("margin"), f" must be a finite number >= 0 pixels, got {margin:g}"
        )


def evaluate(
    edited: str | Path,
    source: str | Path,
    encoder: Encoder,
    *,
    prompt: str | None = None,
    prompt_image: str | None = None,
    rois: Sequence[Mapping[str, Any]] = (),
    source_prompt: str = "photo",
    margin: float = 0.0,
    device: torch.device | str = "cpu",
    progress: bool = False,
) -> dict[str, Any]:
    """Measure an edit; returns a JSON-ready report (see the module docstring).

    Args:
        edited: the edited SVG.
        source: the SVG or raster image it was made from.
        encoder: CLIP (any :class:`clipvg.clip.Encoder`).
        prompt, prompt_image: target of ROI 0 (the whole image); with neither, ROI 0
            is not scored.
        rois: extra ROI specs as in ``EditSettings.rois``.
        margin: pixels to leave out around the ROIs when measuring the background.
        progress: show the prompts' encoding on stderr.

    Raises:
        ClipvgError: missing files, bad ROIs, a negative margin.
    """
    from .edit import scaled_rois
    from .render import render
    from .svg import load_svg

    edited, source = Path(edited), Path(source)
    for p, what in ((edited, "edited SVG"), (source, "--source")):
        require_file(p, what)
    check_margin(margin)
    device = torch.device(device)
    scene = load_svg(edited).to(device)
    size = (max(1, round(scene.height)), max(1, round(scene.width)))
    with torch.no_grad():
        after = render(scene, size[1], size[0])
    before, source_paths, scale = _load_source(source, size, device)
    scored0 = bool((prompt and prompt.strip()) or prompt_image)
    roi_list = build_rois(
        scene.width,
        scene.height,
        prompt if scored0 and prompt else "-",
        scaled_rois([dict(r) for r in rois], scale),
        prompt_image=prompt_image,
    )
    sx, sy = size[1] / scene.width, size[0] / scene.height
    boxes = [r.scaled(sx, sy).box for r in roi_list]
    texts = TextFeatureCache(encoder, progress=progress)
    s = encoder.image_size
    with torch.no_grad():
        feats = encoder.encode_image(
            torch.cat([roi_crops(after, boxes, s), roi_crops(before, boxes, s)])
        )
        f_after, f_before = feats.float().chunk(2)
        origin_text = texts.features(source_prompt)
        targets, origins = [], []
        for i, r in enumerate(roi_list):
            if r.image is not None:
                ref = encoder.encode_image(square_image(read_rgb(r.image).to(device), s))[0]
                targets.append(ref.float())
                origins.append(f_before[i])
            else:
                targets.append(texts.features(r.prompt).to(device))
                origins.append(origin_text.to(device))
        tgt, org = torch.stack(targets), torch.stack(origins)
        score_after = clip_similarity(f_after, tgt)
        score_before = clip_similarity(f_before, tgt)
        directional = directional_similarity(f_after, f_before, tgt, org)

    roi_reports = []
    for i, r in enumerate(roi_list):
        entry: dict[str, Any] = {
            "index": i,
            "kind": r.kind if i else "whole image",
            "box": [r.x, r.y, r.w, r.h],
            "target": r.label if (i or scored0) else None,
        }
        if i or scored0:
            unchanged = bool(torch.equal(f_after[i], f_before[i]))
            entry.update(
                clip_score=float(score_after[i]),
                clip_score_source=float(score_before[i]),
                directional=None if unchanged else float(directional[i]),
            )
        roi_reports.append(entry)

    extra = roi_list[1:]
    if extra:
        region = union_mask(extra, (scene.width, scene.height), size, device)
        grown = (region > 0).float()
        if margin > 0:
            r = min(math.ceil(margin), max(size))  # wider covers the whole render anyway
            grown = F.max_pool2d(grown[None, None], 2 * r + 1, stride=1, padding=r)[0, 0]
        outside = grown == 0
        label = "outside the ROIs"
    else:
        outside = torch.ones(size, dtype=torch.bool, device=device)
        label = "whole image (no extra ROIs)"
    psnr = background_psnr(after, before, outside)
    background = {
        "region": label,
        "margin_px": margin,
        "pixels": int(outside.sum()),
        "psnr_db": None if psnr is None or math.isinf(psnr) else psnr,
        "identical": psnr is not None and math.isinf(psnr),
        "ssim": background_ssim(after, before, outside),
    }
    return {
        "edited": str(edited),
        "source": str(source),
        "clip": getattr(encoder, "name", type(encoder).__name__),
        "canvas": [scene.width, scene.height],
        "render_size": [size[1], size[0]],
        "source_prompt": source_prompt,
        "rois": roi_reports,
        "background": background,
        "paths": {"edited": scene.num_paths, "source": source_paths},
        "file_bytes": {"edited": edited.stat().st_size, "source": source.stat().st_size},
    }


def format_table(report: Mapping[str, Any]) -> str:
    """A readable text table of :func:`evaluate`'s report."""

    def num(v: Any, fmt: str = "{:.4f}") -> str:
        return "-" if v is None else fmt.format(v)

    lines = [f"{report['edited']}  vs  {report['source']}  (CLIP {report['clip']})", ""]
    head = f"{'ROI':>3}  {'region':<12} {'target':<28} {'CLIP':>7} {'source':>7} {'direct.':>8}"
    lines += [head, "-" * len(head)]
    for r in report["rois"]:
        target = (r["target"] or "(not scored)")[:28]
        lines.append(
            f"{r['index']:>3}  {r['kind']:<12} {target:<28} {num(r.get('clip_score')):>7} "
            f"{num(r.get('clip_score_source')):>7} {num(r.get('directional')):>8}"
        )
    bg = report["background"]
    psnr = "identical" if bg["identical"] else num(bg["psnr_db"], "{:.2f} dB")
    lines += [
        "",
        f"background ({bg['region']}, margin {bg['margin_px']:g} px, {bg['pixels']} px): "
        f"PSNR {psnr}, SSIM {num(bg['ssim'])}",
        f"paths: {report['paths']['edited']} (source {num(report['paths']['source'], '{}')}); "
        f"file size: {report['file_bytes']['edited']} B (source {report['file_bytes']['source']} B)",
    ]
    return "\n".join(lines)

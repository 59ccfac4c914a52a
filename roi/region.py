"""Regions of interest: a region on the canvas, the prompt that guides it, and its weights.

ROI 0 is always the whole canvas with the main prompt; ``--roi X Y W H TEXT`` adds
more, in canvas units (the SVG's user space, x right, y down). ROIs may overlap.

A region is a box, a polygon (``polygon``: vertices in canvas units) or a mask image
(``mask``: a file, white = editable, stretched over the whole canvas). For polygons
and masks ``x, y, w, h`` hold the bounding box, which is the crop CLIP sees. The
target is the ROI's text ``prompt``, or an exemplar ``image`` (a reference picture;
the direction is then E_I(reference) - E_I(source region), see :mod:`clipvg.edit`).
Soft masks for a render size come from :mod:`roi.mask`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from clipvg.errors import ClipvgError
from clipvg.io import require_file

from .mask import mask_bbox, parse_polygon, read_mask

# Per-ROI defaults from CLIPVG; the edit settings take theirs from here.
ROI_WEIGHT = 30.0
PATCHES = 64
CROP_RATIO = 0.8
PATCH_WEIGHT = 80.0


@dataclass(frozen=True)
class ROI:
    """One region and how strongly it is pushed toward its prompt.

    Attributes:
        x, y, w, h: the box in canvas units (w, h > 0).
        prompt: the target text (non-empty).
        weight: loss weight of the whole-ROI term (CLIPVG: 30).
        patches: number of random patches per iteration (64).
        crop_ratio: patch side as a fraction of the ROI's longer side, in (0, 1] (0.8).
        patch_weight: weight of the patch term, spread over the patches (80).
        polygon: vertices ``((x, y), ...)`` in canvas units (>= 3), or None.
        mask: path of a mask image (white = editable, any size, stretched over the
            canvas), or None.
        image: path of an exemplar reference image that replaces the text target, or None.
    """

    x: float
    y: float
    w: float
    h: float
    prompt: str
    weight: float = ROI_WEIGHT
    patches: int = PATCHES
    crop_ratio: float = CROP_RATIO
    patch_weight: float = PATCH_WEIGHT
    polygon: tuple[tuple[float, float], ...] | None = None
    mask: str | None = None
    image: str | None = None

    @property
    def box(self) -> tuple[float, float, float, float]:
        return (self.x, self.y, self.w, self.h)

    @property
    def kind(self) -> str:
        """``"box"``, ``"polygon"`` or ``"mask"``."""
        return "mask" if self.mask else "polygon" if self.polygon else "box"

    @property
    def label(self) -> str:
        """Short text naming the target: the prompt, or ``image:NAME`` for exemplars."""
        return f"image:{Path(self.image).name}" if self.image else self.prompt

    def scaled(self, sx: float, sy: float) -> ROI:
        """The same ROI in a frame scaled by (sx, sy) (canvas units -> render pixels)."""
        poly = tuple((px * sx, py * sy) for px, py in self.polygon) if self.polygon else None
        return replace(
            self, x=self.x * sx, y=self.y * sy, w=self.w * sx, h=self.h * sy, polygon=poly
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_FIELDS = {
    "x",
    "y",
    "w",
    "h",
    "prompt",
    "weight",
    "patches",
    "crop_ratio",
    "patch_weight",
    "polygon",
    "mask",
    "image",
}
_SETTINGS = {"weight", "patches", "crop_ratio", "patch_weight"}


def check_roi(roi: ROI, width: float, height: float, index: int = 0) -> ROI:
    """Validate one ROI against a ``width`` x ``height`` canvas; returns it unchanged.

    Raises:
        ClipvgError: empty prompt, non-positive size, box outside the canvas, bad weights.
    """
    name = (
        "the whole image"
        if index == 0
        else f"ROI {index} ({roi.x:g} {roi.y:g} {roi.w:g} {roi.h:g})"
    )
    if roi.image is not None:
        require_file(roi.image, f"{name}: exemplar image")
    elif not isinstance(roi.prompt, str) or not roi.prompt.strip():
        raise ClipvgError(
            f"{name} has an empty prompt; give it a non-empty prompt (or an exemplar image)"
        )
    values = (roi.x, roi.y, roi.w, roi.h, roi.weight, roi.crop_ratio, roi.patch_weight)
    if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in values):
        raise ClipvgError(f"{name}: box and weights must be finite numbers")
    if roi.w <= 0 or roi.h <= 0:
        raise ClipvgError(f"{name}: width and height must be positive")
    eps = 1e-6 * max(width, height)
    if roi.x < -eps or roi.y < -eps or roi.x + roi.w > width + eps or roi.y + roi.h > height + eps:
        raise ClipvgError(
            f"{name} lies outside the {width:g} x {height:g} canvas; "
            f"X, Y, W, H must satisfy 0 <= X, X + W <= {width:g}, 0 <= Y, Y + H <= {height:g}"
        )
    if not 0 < roi.crop_ratio <= 1:
        raise ClipvgError(f"{name}: crop ratio must be in (0, 1], got {roi.crop_ratio:g}")
    if roi.weight < 0 or roi.patch_weight < 0:
        raise ClipvgError(f"{name}: weights must be >= 0")
    if not isinstance(roi.patches, int) or roi.patches < 0:
        raise ClipvgError(f"{name}: patch count must be an integer >= 0, got {roi.patches!r}")
    return roi


def _region_fields(spec: Mapping[str, Any], width: float, height: float, i: int) -> dict:
    """x, y, w, h for polygon and mask specs: their bounding box (canvas units)."""

    out: dict[str, Any] = {}
    if spec.get("polygon") is not None and spec.get("mask") is not None:
        raise ClipvgError(f"ROI {i}: give a polygon or a mask, not both")
    if spec.get("polygon") is not None:
        poly = parse_polygon(spec["polygon"], f"ROI {i}")
        xs, ys = [p[0] for p in poly], [p[1] for p in poly]
        out["polygon"] = poly
        out.update(x=min(xs), y=min(ys), w=max(xs) - min(xs), h=max(ys) - min(ys))
    elif spec.get("mask") is not None:
        path = str(spec["mask"])
        mask = read_mask(path, max(1, round(width)), max(1, round(height)))
        bx, by, bw, bh = mask_bbox(mask, f"ROI {i} mask {path}")
        sx, sy = width / mask.shape[1], height / mask.shape[0]
        out["mask"] = path
        out.update(x=bx * sx, y=by * sy, w=bw * sx, h=bh * sy)
    return out


def build_rois(
    width: float,
    height: float,
    prompt: str,
    extra: Iterable[Mapping[str, Any] | Sequence[Any]] = (),
    prompt_image: str | None = None,
    **defaults: Any,
) -> list[ROI]:
    """ROI 0 (whole canvas, ``prompt``) followed by the ``extra`` ROIs, all validated.

    Args:
        extra: each either ``(x, y, w, h, prompt)`` or a mapping with those keys and
            optionally per-ROI ``weight``, ``patches``, ``crop_ratio``, ``patch_weight``,
            ``image`` (exemplar). A mapping may give ``polygon`` (list of ``[x, y]`` or
            ``"x1,y1 x2,y2 ..."``) or ``mask`` (image path) instead of x, y, w, h.
        prompt_image: exemplar reference image of ROI 0 (replaces its text target).
        defaults: values of those per-ROI settings for ROIs that do not set them.
    """
    unknown = set(defaults) - _SETTINGS
    if unknown:
        raise ClipvgError(f"unknown ROI setting(s): {', '.join(sorted(unknown))}")
    rois = [
        ROI(
            0.0,
            0.0,
            float(width),
            float(height),
            prompt if isinstance(prompt, str) else "",
            image=str(prompt_image) if prompt_image else None,
            **defaults,
        )
    ]
    for i, spec in enumerate(extra, start=1):
        if isinstance(spec, Mapping):
            bad = set(spec) - _FIELDS
            if bad:
                raise ClipvgError(
                    f"ROI {i}: unknown key(s) {', '.join(sorted(bad))}; use x, y, w, h (or polygon, "
                    "or mask), prompt (or image) and per-ROI weights"
                )
            region = _region_fields(spec, width, height, i)
            needed = set() if region else {"x", "y", "w", "h"}
            if not spec.get("image"):
                needed.add("prompt")
            missing = needed - set(spec)
            if missing:
                raise ClipvgError(f"ROI {i}: missing {', '.join(sorted(missing))}")
            fields = {**defaults, "prompt": "", **spec, **region}
        else:
            spec = list(spec)
            if len(spec) != 5:
                raise ClipvgError(f"ROI {i}: expected X Y W H TEXT (5 values), got {len(spec)}")
            fields = {**defaults, **dict(zip(("x", "y", "w", "h", "prompt"), spec, strict=False))}
        try:
            for key in ("x", "y", "w", "h", "weight", "crop_ratio", "patch_weight"):
                if key in fields:
                    fields[key] = float(fields[key])
            if "patches" in fields and float(fields["patches"]) == int(float(fields["patches"])):
                fields["patches"] = int(float(fields["patches"]))
        except (TypeError, ValueError):
            raise ClipvgError(
                f"ROI {i}: X Y W H and weights must be numbers, got {spec!r}"
            ) from None
        fields["prompt"] = fields["prompt"] if isinstance(fields["prompt"], str) else ""
        if fields.get("image") is not None:
            fields["image"] = str(fields["image"])
        rois.append(ROI(**fields))
    return [check_roi(r, width, height, i) for i, r in enumerate(rois)]

"""What the page sends, as settings: the JSON bodies of the edit routes.

The page may set only the settings in :data:`PAGE_SETTINGS` (a whitelist: CLIP, the
device and file paths stay the server's); their types, defaults and rules are
:class:`clipvg.config.EditSettings`' own, and so are the error messages, which name
the settings as the page's fields do (``edit_only``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import fields
from typing import Any

from ..config import EditSettings, check_known, settings_from_layers
from ..errors import ClipvgError
from ..toy.model import TOY_MODEL, TOY_TAG

#: The settings the page may send as they are (besides scene, rois, lock, clip,
#: random_weights, prompt_image, which it sends in its own shape).
PAGE_SETTINGS = frozenset(
    {
        "prompt",
        "iters",
        "edit_only",
        "preserve_background",
        "seed",
        "patches",
        "source_prompt",
        "crop_ratio",
        "roi_weight",
        "patch_weight",
        "shape_lr",
        "color_lr",
        "save_every",
        "batch_size",
        "feather",
        "candidates",
        "freeze",
    }
)
#: Request fields of POST /api/edits taken as settings, in EditSettings' order.
EDIT_FIELDS = tuple(f.name for f in fields(EditSettings) if f.name in PAGE_SETTINGS)
#: Fields of POST /api/edits in the page's own shape.
SHAPED_FIELDS = ("scene", "rois", "lock", "clip", "random_weights", "prompt_image")
#: The page's CLIP choices (field ``clip``): the server's model, the packaged
#: ``clipvg-toy`` (an offline demo model that knows only toy shapes, colours and
#: positions), or the server's architecture with random weights (timing only).
CLIP_CHOICES = ("server", "toy", "random")
ROI_FIELDS = (
    "box",
    "polygon",
    "prompt",
    "image",
    "weight",
    "patches",
    "crop_ratio",
    "patch_weight",
)
MAX_ITERS = 100_000
#: Most seeds one page request may rank (each is a whole edit).
MAX_CANDIDATES = 8


async def json_body(request, allow_empty: bool = False) -> dict[str, Any]:
    """The request's JSON object (ClipvgError when it is not one)."""
    raw = await request.body()
    if allow_empty and not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ClipvgError(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ClipvgError("the request body must be a JSON object")
    return body


def roi_entry(i: int, roi: Any, images: Callable[[str], str]) -> dict[str, Any]:
    """An API ROI ``{"box": [x, y, w, h] | "polygon": [[x, y], ...], "prompt": ...}`` as a
    settings entry; ``"image": ID`` (from POST /api/images) replaces the prompt. Only the
    shape is checked here; the ROI rules (prompt, size, canvas) are :mod:`roi.region`'s."""
    if not isinstance(roi, dict):
        raise ClipvgError(f"rois[{i}] must be an object with box or polygon, and prompt")
    unknown = sorted(set(roi) - set(ROI_FIELDS))
    if unknown:
        raise ClipvgError(f"rois[{i}]: unknown field(s) {', '.join(unknown)}")
    out = {k: v for k, v in roi.items() if k not in ("box", "polygon", "image")}
    if roi.get("image") is not None:
        out["image"] = images(str(roi["image"]))
        out.pop("prompt", None)
    if ("box" in roi) == ("polygon" in roi):
        raise ClipvgError(
            f"rois[{i}] needs exactly one of box [x, y, w, h] or polygon [[x, y], ...]"
        )
    if "box" in roi:
        box = roi["box"]
        if not (
            isinstance(box, list)
            and len(box) == 4
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in box)
        ):
            raise ClipvgError(f"rois[{i}].box must be [x, y, w, h] numbers")
        out.update(zip(("x", "y", "w", "h"), (float(v) for v in box), strict=True))
    else:
        out["polygon"] = roi["polygon"]
    return out


def clip_choice(body: dict[str, Any]) -> str:
    """The request's CLIP choice, one of :data:`CLIP_CHOICES`: ``clip``, or the older
    ``random_weights: true`` (which means ``"random"``)."""
    random_weights = body.get("random_weights", False)
    if not isinstance(random_weights, bool):
        raise ClipvgError("random_weights must be true or false")
    choice = body.get("clip")
    if choice is None:
        return "random" if random_weights else "server"
    if choice not in CLIP_CHOICES or (random_weights and choice != "random"):
        raise ClipvgError(
            f"clip must be one of {', '.join(CLIP_CHOICES)} (and agree with random_weights), "
            f"got {choice!r}"
        )
    return choice


def edit_settings(
    body: dict[str, Any],
    svg: str,
    server: dict[str, Any],
    images: Callable[[str], str] = lambda iid: iid,
) -> tuple[EditSettings, bool]:
    """The EditSettings of a POST /api/edits body (ClipvgError on bad fields).

    Layers: built-in defaults < ``server`` (device, CLIP) < the page's fields; the
    page's ``clip`` choice (:func:`clip_choice`) may swap the server's CLIP for the toy
    model or random weights. The flag returned says random weights.
    ``images`` maps an exemplar image id to its stored file.
    """
    check_known(body, PAGE_SETTINGS, "edit request", extra=SHAPED_FIELDS)
    rois = body.get("rois") or []
    if not isinstance(rois, list):
        raise ClipvgError("rois must be a list")
    lock = body.get("lock")
    if lock is not None and lock not in ("color", "shape"):
        raise ClipvgError(f'lock must be "color", "shape" or null, got {lock!r}')
    choice = clip_choice(body)
    random_weights = choice == "random"
    iters = body.get("iters", EditSettings.iters)
    if isinstance(iters, int) and not isinstance(iters, bool) and not 1 <= iters <= MAX_ITERS:
        raise ClipvgError(f"iters must be between 1 and {MAX_ITERS}")
    candidates = body.get("candidates", 1)
    if isinstance(candidates, int) and not 1 <= candidates <= MAX_CANDIDATES:
        raise ClipvgError(f"candidates must be between 1 and {MAX_CANDIDATES}")
    page = {k: body[k] for k in EDIT_FIELDS if k in body}
    page.update(
        input=svg,
        rois=[roi_entry(i, r, images) for i, r in enumerate(rois)],
        prompt_image=None
        if body.get("prompt_image") is None
        else images(str(body["prompt_image"])),
        lock=[lock] if lock else [],
    )
    if random_weights:
        page.update(clip_pretrained="none", clip_weights=None)
    elif choice == "toy":
        page.update(clip_model=TOY_MODEL, clip_pretrained=TOY_TAG, clip_weights=None)
    layers = [server, page]
    if choice != "server":  # None means "not given" in a layer: drop the server's weights file
        layers[0] = {k: v for k, v in server.items() if k != "clip_weights"}
    return settings_from_layers(*layers, source="edit request"), random_weights

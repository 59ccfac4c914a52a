"""What the page sees of a run: download names, the request that restores the page,
candidates' pictures."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Any

from ..config import EditSettings
from ..errors import ClipvgError
from ..toy.model import TOY_MODEL


def slug(text: str, limit: int = 40) -> str:
    """``text`` as a file-name part: lower-case ASCII letters and digits joined by ``-``."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_text.lower())
    out = ""
    for w in words:
        if len(out) + len(w) + 1 > limit:
            break
        out = f"{out}-{w}" if out else w
    return out or (words[0][:limit] if words else "")


def file_name(input_name: str, prompt: str, suffix: str) -> str:
    """``<input-name>-<prompt-slug><suffix>``, e.g. ``pitt-a-watercolor-painting.svg``."""
    parts = [p for p in (slug(input_name, 40), slug(prompt)) if p]
    return "-".join(parts or ["clipvg"]) + suffix


def candidate_file(folder: Path, jid: str, seed: int, kind: str) -> Path:
    """A candidate's final (else latest) picture: ``candidates/[rank-R-]seed-S/``."""
    root = folder / "candidates"
    names = (f"seed-{seed}", *(p.name for p in root.glob(f"rank-*-seed-{seed}")))
    for sub in names:
        for name in (f"final.{kind}", f"latest.{kind}"):
            if (root / sub / name).is_file():
                return root / sub / name
    raise ClipvgError(f"edit {jid} has no picture of candidate seed {seed} yet")


def request_of(
    settings: EditSettings, fields: tuple[str, ...], roi_fields: tuple[str, ...]
) -> dict[str, Any]:
    """The page's view of a run's settings (what POST /api/edits took), to restore the page."""
    out: dict[str, Any] = {k: getattr(settings, k) for k in fields}
    out["lock"] = settings.lock[0] if settings.lock else None
    out["freeze"] = list(settings.freeze)
    out["random_weights"] = str(settings.clip_pretrained).lower() == "none"
    toy = settings.clip_model == TOY_MODEL
    out["clip"] = "random" if out["random_weights"] else "toy" if toy else "server"
    rois = []
    for r in settings.rois:
        entry: dict[str, Any] = {k: r[k] for k in roi_fields if k in r and k != "image"}
        if "polygon" not in r and "x" in r:
            entry["box"] = [r["x"], r["y"], r["w"], r["h"]]
        image = re.search(r"([0-9a-f]{16})\.png$", str(r.get("image") or ""))
        if image:
            entry["image"] = image.group(1)
        rois.append(entry)
    out["rois"] = rois
    return out

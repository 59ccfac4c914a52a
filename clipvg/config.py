"""Edit settings: one dataclass, and loading it from YAML/JSON config files.

Precedence: built-in defaults < config file < command-line flags < batch row, in one
function (:func:`settings_from_layers`). A ``run.json``
written by one run is a valid config for another (its ``settings`` entry is used).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from clipvg.roi.region import CROP_RATIO, PATCH_WEIGHT, PATCHES, ROI_WEIGHT

from .errors import ClipvgError, Setting, SettingError, short
from .io import require_file

LOCKS = ("shape", "color")
SOURCE_FEATURES = ("pool", "whole", "paired")
PRECISIONS = ("auto", "fp32", "bf16")
#: Crops per CLIP pass: peak memory stays under 3 GB (ViT-B-32, 512 px; benchmarks/edit.py).
BATCH_SIZE = 16
VECTORIZE_KEYS = ("preset", "max_paths", "max_size", "rounds", "regions", "refine")


def _names(*names: str) -> list[str]:
    """``a, b and c`` as message parts, each a :class:`Setting`."""
    parts: list[str] = []
    for i, name in enumerate(names):
        if i:
            parts.append(" and " if i == len(names) - 1 else ", ")
        parts.append(Setting(name))
    return parts


@dataclass
class EditSettings:
    """Every setting of an edit run (defaults follow CLIPVG).

    Attributes:
        input: SVG or raster image to edit (rasters are vectorized first).
        prompt: target text of the whole image (ROI 0).
        rois: extra ROIs, each ``{"x","y","w","h","prompt"}`` plus optional per-ROI
            ``weight``, ``patches``, ``crop_ratio``, ``patch_weight`` (canvas units; for a
            raster input, input-image pixels).
        source_prompt: text describing the input ("photo").
        iters: total iterations (a resumed run continues up to this count).
        patches, crop_ratio, roi_weight, patch_weight: per-ROI defaults.
        distortion: random-perspective strength of the patches.
        whole_crop: smallest side of the light random crop of the whole-ROI term, as a
            fraction of the ROI square (the largest is 1).
        shape_lr, color_lr: Adam learning rates (pixels, color units).
        lock: parameters kept fixed: any of "shape", "color".
        seed: seeds every random draw (augmentation, vectorization).
        save_every: iterations between snapshots (0: none).
        batch_size: crops per CLIP pass (0: all crops of all ROIs in one pass). Every
            crop still counts in the same Adam step; smaller passes bound the memory.
        source_features: reference features of the image direction: ``pool`` (the
            initial render under a pool of warps drawn and encoded once, each iteration
            drawing its warps from it), ``whole`` (the initial ROI encoded once,
            unaugmented, as published CLIPVG) or ``paired`` (the initial render under
            this iteration's warps, encoded every iteration).
        precision: CLIP's image passes in ``fp32``, ``bf16`` autocast, or ``auto`` (bf16
            where faster: see :func:`clipvg.clip.clip_dtype`); the renderer stays fp32.
        device: auto, cpu, cuda or mps.
        clip_model, clip_pretrained, clip_weights: which CLIP (see clipvg.clip.load_clip).
        vectorize: options for raster inputs (preset, max_paths, max_size, rounds, regions, refine).
        prompt_image: exemplar reference image of the whole image (ROI 0): the target
            direction becomes E_I(reference) - E_I(source render) instead of a text one.
        edit_only: change nothing outside the extra ROIs grown by ``feather``: paths
            within are edited, paths crossing the edge get an editable copy clipped to
            the region (see :mod:`roi.split`); every other path is written back bit-identical.
        preserve_background: weight W of ``W * S * (MSE + perceptual)`` between the current
            and the initial render outside the extra ROIs (0: off); S makes W = 1 price a
            30 dB background change like all ROI terms misaligned (see clipvg.edit).
        feather: softness of the ROI mask edge for background preservation, in canvas
            units (Gaussian sigma); with ``edit_only``, how far past the ROIs edited
            curves may reach.
        candidates: run this many seeds (seed, seed + 1, ...) and rank them.
        rank_penalty: ranking score = mean CLIP similarity of the ROIs to their targets
            - rank_penalty * RMS change of the background.
        freeze: ids of paths or groups (``round-2``) left as they are: their paths get
            no gradient and are written back bit-identical (the web page's locked layers).
    """

    input: str | None = None
    prompt: str = ""
    rois: list[dict[str, Any]] = field(default_factory=list)
    source_prompt: str = "photo"
    iters: int = 150
    patches: int = PATCHES
    crop_ratio: float = CROP_RATIO
    roi_weight: float = ROI_WEIGHT
    patch_weight: float = PATCH_WEIGHT
    distortion: float = 0.3
    whole_crop: float = 0.9
    shape_lr: float = 0.2
    color_lr: float = 0.01
    lock: list[str] = field(default_factory=list)
    seed: int = 0
    save_every: int = 50
    batch_size: int = BATCH_SIZE
    source_features: str = "pool"
    precision: str = "auto"
    device: str = "auto"
    clip_model: str = "ViT-B-32"
    clip_pretrained: str = "openai"
    clip_weights: str | None = None
    vectorize: dict[str, Any] = field(default_factory=dict)
    prompt_image: str | None = None
    edit_only: bool = False
    preserve_background: float = 0.0
    feather: float = 2.0
    candidates: int = 1
    rank_penalty: float = 1.0
    freeze: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check types and ranges that do not depend on the scene; raises ClipvgError."""
        for name, _kind in (
            ("iters", int),
            ("patches", int),
            ("seed", int),
            ("save_every", int),
            ("batch_size", int),
            ("candidates", int),
        ):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int):
                if isinstance(v, float) and v.is_integer():
                    setattr(self, name, int(v))
                else:
                    raise SettingError(Setting(name), f" must be an integer, got {short(v)}")
        for name in (
            "crop_ratio",
            "roi_weight",
            "patch_weight",
            "distortion",
            "whole_crop",
            "shape_lr",
            "color_lr",
            "preserve_background",
            "feather",
            "rank_penalty",
        ):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise SettingError(Setting(name), f" must be a number, got {short(v)}")
            try:
                v = float(v)
            except OverflowError:  # an int too large for a float
                v = math.inf
            if not math.isfinite(v):
                raise SettingError(Setting(name), f" must be a finite number, got {v:g}")
            setattr(self, name, v)
        for name in ("iters", "patches", "save_every", "batch_size", "candidates", "seed"):
            if abs(getattr(self, name)) > MAX_COUNT:
                raise SettingError(Setting(name), f" must be at most {MAX_COUNT:,}")
        if self.feather > MAX_FEATHER:
            raise SettingError(
                Setting("feather"), f" must be at most {MAX_FEATHER:g} px, got {self.feather:g}"
            )
        if self.iters < 0 or self.patches < 0 or self.save_every < 0 or self.batch_size < 0:
            raise SettingError(
                *_names("iters", "patches", "save_every", "batch_size"), " must be >= 0"
            )
        if not 0 < self.crop_ratio <= 1 or not 0 < self.whole_crop <= 1:
            raise SettingError(
                *_names("crop_ratio", "whole_crop"),
                f" must be in (0, 1], got {self.crop_ratio:g} / {self.whole_crop:g}",
            )
        if not 0 <= self.distortion < 1:
            raise SettingError(
                Setting("distortion"), f" must be in [0, 1), got {self.distortion:g}"
            )
        if self.shape_lr < 0 or self.color_lr < 0 or self.roi_weight < 0 or self.patch_weight < 0:
            raise SettingError(
                *_names("shape_lr", "color_lr", "roi_weight", "patch_weight"), " must be >= 0"
            )
        if self.preserve_background < 0 or self.feather < 0 or self.rank_penalty < 0:
            raise SettingError(
                *_names("preserve_background", "feather", "rank_penalty"), " must be >= 0"
            )
        if self.candidates < 1:
            raise SettingError(Setting("candidates"), f" must be >= 1, got {self.candidates}")
        if not isinstance(self.edit_only, bool):
            raise SettingError(
                Setting("edit_only"), f" must be true or false, got {short(self.edit_only)}"
            )
        if self.prompt_image is not None and not isinstance(self.prompt_image, str):
            raise SettingError(Setting("prompt_image"), " must be a file path")
        for name, choices in (
            ("source_features", SOURCE_FEATURES),
            ("precision", PRECISIONS),
        ):
            if getattr(self, name) not in choices:
                raise SettingError(
                    Setting(name),
                    f" must be one of {', '.join(choices)}, got {short(getattr(self, name))}",
                )
        if isinstance(self.lock, str):
            self.lock = [self.lock]
        self.lock = sorted(set(self.lock))
        bad = [x for x in self.lock if x not in LOCKS]
        if bad:
            raise SettingError(
                Setting("lock"), f" takes 'shape' or 'color', got {', '.join(map(repr, bad))}"
            )
        if len(self.lock) == len(LOCKS):
            raise SettingError(
                "both shape and color are locked: nothing left to optimize; drop one ",
                Setting("lock"),
            )
        if not isinstance(self.freeze, list) or not all(isinstance(x, str) for x in self.freeze):
            raise SettingError(Setting("freeze"), " must be a list of path or group ids")
        if not isinstance(self.prompt, str):
            raise SettingError(Setting("prompt"), " must be text")
        if not isinstance(self.source_prompt, str) or not self.source_prompt.strip():
            raise SettingError(Setting("source_prompt"), " must be non-empty text")
        if not isinstance(self.rois, list):
            raise SettingError(Setting("rois"), " must be a list of {x, y, w, h, prompt} entries")
        if not isinstance(self.vectorize, dict) or set(self.vectorize) - set(VECTORIZE_KEYS):
            extra = (
                set(self.vectorize) - set(VECTORIZE_KEYS)
                if isinstance(self.vectorize, dict)
                else {"?"}
            )
            raise ClipvgError(
                f"unknown vectorize option(s) {', '.join(sorted(extra))}; known: {', '.join(VECTORIZE_KEYS)}"
            )

        if self.edit_only and not self.rois:
            raise SettingError(
                Setting("edit_only"),
                " needs at least one region in ",
                Setting("rois"),
                " (ROI 0, the whole image, does not count)",
            )

    def check_target(self) -> None:
        """A new run needs something to aim at: a prompt, or an exemplar image (resumed
        runs have theirs in run.json). Raises SettingError."""
        if not self.prompt.strip() and not self.prompt_image:
            raise SettingError(
                "the prompt is empty; give ",
                Setting("prompt"),
                " (or ",
                Setting("prompt_image"),
                ")",
            )

    def roi_defaults(self) -> dict[str, Any]:
        """Per-ROI settings for ROIs that do not set their own."""
        return {
            "weight": self.roi_weight,
            "patches": self.patches,
            "crop_ratio": self.crop_ratio,
            "patch_weight": self.patch_weight,
        }

    def reference_files(self) -> list[str]:
        """Files a run reads besides its input: exemplar images, ROI masks, CLIP weights."""
        found = [self.prompt_image, self.clip_weights]
        for r in self.rois:
            if isinstance(r, Mapping):
                found += [r.get("image"), r.get("mask")]
        return [str(p) for p in found if isinstance(p, (str, os.PathLike)) and str(p)]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], source: str = "settings") -> EditSettings:
        """Build from a mapping; unknown keys are an error (they are usually typos)."""
        values = {k.replace("-", "_"): v for k, v in values.items()}
        check_known(values, SETTING_NAMES, source)
        return cls(**values)


#: Nodes a YAML document may hold once its aliases are expanded (a 351-byte alias
#: bomb expands to billions); far above any settings or jobs file.
MAX_YAML_NODES = 100_000
#: Counts (iterations, patches, seeds...) beyond this are typos, or attacks.
MAX_COUNT = 10**9
#: Background feather (a blur radius in render pixels) beyond any canvas.
MAX_FEATHER = 1000.0


def load_yaml(text: str) -> Any:
    """``yaml.safe_load`` with alias expansion bounded (the one YAML reader of the
    config and jobs files).

    Raises:
        ClipvgError: the document expands to over :data:`MAX_YAML_NODES` nodes.
        yaml.YAMLError: not YAML.
    """
    import yaml

    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        sizes: dict[int, int] = {}

        def size(n: yaml.Node) -> int:  # expanded size, each shared node counted once per use
            if id(n) in sizes:
                return sizes[id(n)]
            sizes[id(n)] = 1  # a recursive alias counts once
            total = 1
            if isinstance(n, yaml.SequenceNode):
                total += sum(size(c) for c in n.value)
            elif isinstance(n, yaml.MappingNode):
                total += sum(size(k) + size(v) for k, v in n.value)
            sizes[id(n)] = min(total, MAX_YAML_NODES + 1)
            return sizes[id(n)]

        if size(node) > MAX_YAML_NODES:
            raise ClipvgError(
                f"it expands to over {MAX_YAML_NODES:,} values (YAML aliases); write the "
                "values out, without nested aliases"
            )
        return loader.construct_document(node)
    finally:
        loader.dispose()


def read_config(path: str | os.PathLike) -> dict[str, Any]:
    """Read a YAML or JSON config file into a settings mapping.

    A ``run.json`` (which holds ``{"settings": {...}, ...}``) gives its ``settings``.
    """
    path = require_file(path, "config file")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            data = load_yaml(text)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ClipvgError(
            f"config file {path} is not valid {path.suffix.lstrip('.').upper() or 'YAML'}: {first}"
        ) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ClipvgError(f"config file {path} must hold a mapping of settings")
    if isinstance(data.get("settings"), dict):
        data = data["settings"]
    return dict(data)


def check_known(
    names: Iterable[str], known: Iterable[str], source: str = "settings", extra: Iterable[str] = ()
) -> None:
    """The one "unknown setting" rule: ``names`` outside ``known`` are an error (usually
    typos), listing what is known (plus ``extra``, a front end's own keys)."""
    known, extra = set(known), list(extra)
    unknown = sorted(set(names) - known - set(extra))
    if unknown:
        listed = ", ".join([*extra, *sorted(known)])
        where = f"{source}: " if source else ""
        raise SettingError(f"{where}unknown setting(s) {', '.join(unknown)}; known: {listed}")


def settings_from_layers(
    *layers: Mapping[str, Any] | None, source: str = "settings", extra: Iterable[str] = ()
) -> EditSettings:
    """The one way settings are built: built-in defaults < ``layers[0]`` < ``layers[1]`` < ...

    The layers are, in order, what a front end has: a config file or a jobs file's
    ``defaults`` (or a resumed run's ``run.json``), the command line or the page, a
    batch row. In each, keys may use ``-`` or ``_``; ``None`` means "not given"; the
    vectorizer's options may be nested under ``vectorize`` or flat (``preset``), and
    merge key by key. Unknown keys are an error naming ``source``.
    """
    merged: dict[str, Any] = {}
    vec: dict[str, Any] = {}
    for layer in layers:
        for key, value in (layer or {}).items():
            key = str(key).replace("-", "_")
            if value is None:
                continue
            if key == "vectorize":
                if not isinstance(value, Mapping):
                    raise SettingError(
                        Setting("vectorize"), " must be a mapping of vectorizer options"
                    )
                vec.update({k: v for k, v in value.items() if v is not None})
            elif key in VECTORIZE_KEYS:
                vec[key] = value
            else:
                merged[key] = value
    check_known(merged, SETTING_NAMES, source, extra)
    return EditSettings(**merged, vectorize=vec)


SETTING_NAMES = frozenset(f.name for f in fields(EditSettings))

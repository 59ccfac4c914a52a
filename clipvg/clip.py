"""Loading CLIP through open_clip and encoding images and text with it.

Everything above this module talks to an :class:`Encoder`: anything with an
``image_size``, ``encode_image`` and ``encode_text``. :func:`load_clip` builds the
real one (:class:`OpenClipEncoder`) from a model name and a weights source; tests
plug in their own (tiny random models, or analytic encoders with a known answer).

Images go in as (B, 3, S, S) float in [0, 1] at the model's own input size
(``encoder.image_size``); normalization with the model's mean and std happens here.
"""

from __future__ import annotations

import logging
import os
import socket
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol, runtime_checkable

import torch
import torch.nn.functional as F

from .errors import ClipvgError, Setting, SettingError
from .io import require_file
from .progress import phase

#: ``--clip-pretrained`` value that builds the architecture with random weights.
RANDOM_WEIGHTS = "none"


def _packaged_weights(model: str) -> dict | None:
    """The pretrained config of a model whose weights ship in the package
    (``clipvg-toy``), or None. The model's open_clip config is registered on the way."""
    from .toy.model import TOY_MODEL, TOY_TAG, WEIGHTS_FILE, register

    if model != TOY_MODEL:
        return None
    register()
    return {"file": str(WEIGHTS_FILE), "tag": TOY_TAG}


@runtime_checkable
class Encoder(Protocol):
    """What the editor needs from a CLIP model.

    ``encode_image``: (B, 3, S, S) float in [0, 1], S = ``image_size`` -> (B, D) features
    (not normalized; differentiable w.r.t. the images).
    ``encode_text``: list of B strings -> (B, D) features (not normalized).
    """

    image_size: int

    def encode_image(self, images: torch.Tensor) -> torch.Tensor: ...

    def encode_text(self, texts: Sequence[str]) -> torch.Tensor: ...


class OpenClipEncoder:
    """An open_clip model in eval mode with frozen weights, behind :class:`Encoder`.

    Args:
        model: an ``open_clip`` CLIP model.
        tokenizer: the matching tokenizer (``open_clip.get_tokenizer``).
        mean, std: per-channel normalization of the model's preprocessing.
        name: a label for messages and run records.
        fuse_attention: replace the visual tower's attention modules by
            :class:`clipvg.clip_attention.FusedSelfAttention` (same weights, fused kernel).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        tokenizer,
        mean: Sequence[float],
        std: Sequence[float],
        name: str = "",
        fuse_attention: bool = True,
    ):
        self.model = model.eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        if fuse_attention:
            from .clip_attention import fuse_attention as fuse

            fuse(self.model.visual)
        self.tokenizer = tokenizer
        size = model.visual.image_size
        size = size if isinstance(size, int) else tuple(size)
        if not isinstance(size, int):
            if size[0] != size[1]:
                raise ClipvgError(
                    f"CLIP model {name} has a non-square input {size}; pick a square-input model"
                )
            size = size[0]
        self.image_size = int(size)
        self.name = name
        self._mean = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
        self._std = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) float in [0, 1] -> (B, D). Other sizes are resized (bilinear)."""
        return self.model.encode_image(self._prepare(images))

    def intermediate_features(self, images: torch.Tensor, layer: int | None = None) -> torch.Tensor:
        """Feature map of an intermediate block of the visual tower (a perceptual space
        without extra weights).

        Args:
            images: (B, 3, H, W) float in [0, 1]; resized to the model's input size.
            layer: block index (default: the middle block); negative counts from the end.

        Returns:
            (B, C, h, w) features (for a ViT: patch tokens on their grid), differentiable.

        Raises:
            ClipvgError: the visual tower cannot return intermediate features.
        """
        visual = self.model.visual
        if not hasattr(visual, "forward_intermediates"):
            raise ClipvgError(
                f"CLIP {self.name}: this visual tower has no intermediate features; "
                "use a ViT or ResNet open_clip model"
            )
        blocks = len(getattr(getattr(visual, "transformer", None), "resblocks", ())) or 4
        index = blocks // 2 if layer is None else layer % blocks
        out = visual.forward_intermediates(
            self._prepare(images), indices=[index], stop_early=True, intermediates_only=True
        )
        return out["image_intermediates"][0]

    def _prepare(self, images: torch.Tensor) -> torch.Tensor:
        """Resize to the model's size and normalize with its mean and std."""
        if images.ndim != 4 or images.shape[1] != 3:
            raise ClipvgError(f"expected (B, 3, S, S) images, got {tuple(images.shape)}")
        if images.shape[-2:] != (self.image_size, self.image_size):
            images = F.interpolate(
                images,
                size=(self.image_size,) * 2,
                mode="bilinear",
                align_corners=False,
                antialias=True,
            )
        mean = self._mean.to(images.device, images.dtype)
        std = self._std.to(images.device, images.dtype)
        return (images - mean) / std

    @torch.no_grad()
    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        """B strings -> (B, D) features, without gradient."""
        tokens = self.tokenizer(list(texts)).to(self.device)
        return self.model.encode_text(tokens)


class TextFeatureCache:
    """Template-averaged text features, computed once per prompt.

    ``features(prompt)`` returns the (D,) unit-length mean over ``templates`` of the
    unit-length text features of ``template(prompt)``.
    """

    def __init__(self, encoder: Encoder, templates: Sequence | None = None, progress: bool = False):
        self.encoder = encoder
        self.templates = list(templates) if templates is not None else imagenet_templates()
        self.progress = progress
        self._cache: dict[str, torch.Tensor] = {}

    def features(self, prompt: str) -> torch.Tensor:
        if prompt not in self._cache:
            texts = [t(prompt) if callable(t) else t.format(prompt) for t in self.templates]
            with torch.no_grad(), phase(f"encoding prompt {prompt!r}", self.progress):
                feats = F.normalize(self.encoder.encode_text(texts).float(), dim=-1)
            self._cache[prompt] = F.normalize(feats.mean(0), dim=-1)
        return self._cache[prompt]


def imagenet_templates() -> list:
    """The 80 ImageNet prompt templates of CLIP (from open_clip), as callables str -> str."""
    from open_clip.zero_shot_metadata import OPENAI_IMAGENET_TEMPLATES

    return list(OPENAI_IMAGENET_TEMPLATES)


def resolve_device(device: str) -> torch.device:
    """``auto`` -> cuda, then mps, then cpu; otherwise check that the named device exists."""
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ClipvgError(
            "--device cuda asked for, but torch sees no CUDA GPU; use --device cpu or auto"
        )
    if device == "mps" and not (
        getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    ):
        raise ClipvgError(
            "--device mps asked for, but MPS is not available; use --device cpu or auto"
        )
    if device not in ("cpu", "cuda", "mps") and not device.startswith("cuda:"):
        raise ClipvgError(f"unknown device {device!r}; use auto, cpu, cuda or mps")
    return torch.device(device)


@contextmanager
def _quiet_open_clip() -> Iterator[None]:
    """Silence open_clip / huggingface log chatter; failures are reported as ClipvgError instead."""
    root = logging.getLogger()
    hub = logging.getLogger("huggingface_hub")
    levels = root.level, hub.level
    root.setLevel(logging.CRITICAL)
    hub.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        root.setLevel(levels[0])
        hub.setLevel(levels[1])


def _cached_weights(cfg: dict, cache_dir: str | None) -> str | None:
    """Path of already-downloaded weights for an open_clip pretrained config, or None (offline check)."""
    if cfg.get("file"):
        return cfg["file"] if os.path.isfile(cfg["file"]) else None
    hf = cfg.get("hf_hub", "")
    if hf:
        try:
            from huggingface_hub import try_to_load_from_cache
        except ImportError:  # pragma: no cover - huggingface_hub ships with open_clip
            try_to_load_from_cache = None
        if try_to_load_from_cache is not None:
            repo, filename = os.path.split(hf)
            names = (
                [filename]
                if filename
                else ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]
            )
            for name in names:
                hit = try_to_load_from_cache(repo, name, cache_dir=cache_dir)
                if isinstance(hit, str) and os.path.isfile(hit):
                    return hit
    url = cfg.get("url", "")
    if url:
        root = cache_dir or os.path.expanduser("~/.cache/clip")
        path = os.path.join(root, os.path.basename(url))
        if os.path.isfile(path):
            return path
    return None


def _online(host: str, timeout: float = 3.0) -> bool:
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def no_weights_message(model: str, pretrained: str) -> str:
    return (
        f"CLIP weights for {model} ({pretrained}) are not cached and cannot be downloaded; "
        f"pass --clip-weights PATH (a .safetensors or torch checkpoint of {model}) "
        "or pre-populate the open_clip / Hugging Face cache (HF_HOME) on a machine with internet"
    )


def load_clip(
    model: str = "ViT-B-32",
    pretrained: str = "openai",
    weights: str | os.PathLike | None = None,
    device: str | torch.device = "cpu",
    cache_dir: str | None = None,
    seed: int = 0,
    progress: bool = False,
) -> OpenClipEncoder:
    """Build a CLIP encoder with open_clip's own factory and cache.

    Args:
        model: open_clip architecture name (``open_clip.list_models()``), e.g. ``ViT-B-32``.
        pretrained: an open_clip pretrained tag (``openai``, ``laion2b_s34b_b79k``, ...) or
            ``"none"`` for random weights (tests and timing only; warns loudly).
        weights: a local checkpoint (``.safetensors`` or a torch file, loaded with
            ``weights_only=True``); when given, ``pretrained`` only picks the
            preprocessing (mean/std, QuickGELU) if it names a known tag.
        device: where the model lives.
        seed: seeds the initial (random) weights, without touching the global RNG: the
            same seed always builds the same network (``pretrained="none"`` runs repeat).
        progress: show the loading on stderr.

    Raises:
        ClipvgError: unknown model, unreadable checkpoint, or weights neither cached nor
            downloadable (checked before any work starts).
    """
    import open_clip

    device = torch.device(device)
    packaged = _packaged_weights(model)
    if open_clip.get_model_config(model) is None:
        raise ClipvgError(
            f"unknown CLIP model {model!r}; see open_clip.list_models() (e.g. ViT-B-32, ViT-B-16, ViT-L-14)"
        )
    tag = (pretrained or RANDOM_WEIGHTS).strip()
    if packaged is not None and tag.lower() != RANDOM_WEIGHTS:
        # The packaged model has one set of weights: any tag but "none" means them.
        tag = packaged["tag"]
        tag_cfg = {"file": packaged["file"]}
        if weights is None and not os.path.isfile(packaged["file"]):
            raise ClipvgError(
                f"the packaged weights of {model} are missing ({packaged['file']}); "
                "reinstall clipvg, or train them with benchmarks/semantic/train_toy_clip.py"
            )
    else:
        tag_cfg = {} if tag.lower() == RANDOM_WEIGHTS else open_clip.get_pretrained_cfg(model, tag)
    if tag.lower() != RANDOM_WEIGHTS and not tag_cfg and weights is None:
        known = ", ".join(open_clip.list_pretrained_tags_by_model(model)) or "none"
        raise SettingError(
            "unknown ",
            Setting("clip_pretrained"),
            f" {tag!r} for {model}; known tags: {known} (or 'none', or a local checkpoint in ",
            Setting("clip_weights"),
            ")",
        )

    checkpoint: str | None = None
    if weights is not None:
        checkpoint = str(require_file(weights, "--clip-weights"))
    elif tag_cfg:
        checkpoint = _cached_weights(tag_cfg, cache_dir)
        if checkpoint is None:
            if not (_online("huggingface.co") or _online("openaipublic.azureedge.net")):
                raise ClipvgError(no_weights_message(model, tag))
            try:
                with _quiet_open_clip():
                    checkpoint = open_clip.download_pretrained(tag_cfg, cache_dir=cache_dir)
            except Exception as exc:  # network errors come in many types
                raise ClipvgError(
                    no_weights_message(model, tag) + f" ({type(exc).__name__})"
                ) from None
            if not checkpoint:
                raise ClipvgError(no_weights_message(model, tag))

    with phase(f"loading CLIP {model} ({tag if weights is None else weights})", progress):
        try:
            # Built on the CPU from the seed, then moved: the same weights on every device.
            with _quiet_open_clip(), warnings.catch_warnings(), seeded(seed):
                warnings.simplefilter("ignore")
                net = open_clip.create_model(
                    model,
                    pretrained=None,
                    device="cpu",
                    force_quick_gelu=bool(tag_cfg.get("quick_gelu", False)),
                )
        except Exception as exc:
            raise ClipvgError(f"could not build CLIP model {model}: {exc}") from None
        if checkpoint is not None:
            try:
                with _quiet_open_clip():
                    open_clip.load_checkpoint(net, checkpoint, weights_only=True, device="cpu")
            except Exception as exc:
                first = (
                    str(exc).strip().splitlines()[0][:200]
                    if str(exc).strip()
                    else type(exc).__name__
                )
                raise ClipvgError(
                    f"could not load CLIP weights {checkpoint} into {model}: {first}"
                ) from None
        net.to(device)
    if checkpoint is None:
        warnings.warn(
            f"CLIP {model} has RANDOM weights (--clip-pretrained none): edits will be meaningless; "
            "use this for tests and timing only",
            stacklevel=2,
        )
    mean = tag_cfg.get("mean") or open_clip.OPENAI_DATASET_MEAN
    std = tag_cfg.get("std") or open_clip.OPENAI_DATASET_STD
    label = f"{model}/{Path(checkpoint).name if weights is not None else tag}"
    return OpenClipEncoder(net, open_clip.get_tokenizer(model), mean, std, name=label)


def tiny_config(
    image_size: int = 32, width: int = 32, layers: int = 1, embed_dim: int = 16
) -> dict:
    """The ViT-B-32 open_clip config shrunk to a tiny model (a dict as in open_clip's
    ``model_configs/*.json``; register it with ``open_clip.add_model_config``)."""
    import open_clip

    cfg = open_clip.get_model_config("ViT-B-32")
    cfg["embed_dim"] = embed_dim
    cfg["vision_cfg"].update(
        image_size=image_size,
        width=width,
        layers=layers,
        patch_size=max(4, image_size // 4),
        head_width=max(8, width // 2),
    )
    cfg["text_cfg"].update(width=width, layers=layers, heads=max(1, width // 16), context_length=77)
    return cfg


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run a block (building a model's random weights) on the CPU RNG seeded with
    ``seed``; the global RNG state is restored afterwards, as if untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        yield


def tiny_clip(
    image_size: int = 32,
    width: int = 32,
    layers: int = 1,
    embed_dim: int = 16,
    seed: int = 0,
    fuse_attention: bool = True,
) -> OpenClipEncoder:
    """A tiny random-weight open_clip ViT built from the ViT-B-32 config (no download).

    For tests and quick checks only; its features mean nothing.
    """
    import open_clip
    from open_clip.model import CLIP

    cfg = tiny_config(image_size, width, layers, embed_dim)
    with seeded(seed):
        net = CLIP(**cfg)
    return OpenClipEncoder(
        net,
        open_clip.get_tokenizer("ViT-B-32"),
        open_clip.OPENAI_DATASET_MEAN,
        open_clip.OPENAI_DATASET_STD,
        name="tiny",
        fuse_attention=fuse_attention,
    )


def weights_cached(
    model: str = "ViT-B-32", pretrained: str = "openai", cache_dir: str | None = None
) -> bool:
    """True when open_clip's pretrained weights for ``model``/``pretrained`` are on disk (no network)."""
    import open_clip

    packaged = _packaged_weights(model)
    if packaged is not None:
        return pretrained.lower() != RANDOM_WEIGHTS and os.path.isfile(packaged["file"])
    cfg = (
        open_clip.get_pretrained_cfg(model, pretrained)
        if pretrained.lower() != RANDOM_WEIGHTS
        else {}
    )
    return bool(cfg) and _cached_weights(cfg, cache_dir) is not None


# ---- precision ------------------------------------------------------------------------------
def cpu_flags() -> set[str]:
    """The CPU feature flags of /proc/cpuinfo (empty where there is none, e.g. macOS)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def clip_dtype(precision: str, device: torch.device | str) -> torch.dtype | None:
    """Autocast dtype for CLIP's image passes: ``torch.bfloat16``, or None for fp32.

    ``auto`` picks bf16 only where it is faster than fp32 for a ViT forward+backward:
    CUDA GPUs with bf16 support, and CPUs with AMX tiles (``amx_bf16``: Intel Xeon
    Sapphire Rapids and later). CPUs with only ``avx512_bf16`` (AMD EPYC Zen 4) ran bf16
    autocast slower than fp32 when measured, and other CPUs and MPS get fp32.
    """
    if precision not in ("auto", "fp32", "bf16"):
        raise ClipvgError(f"unknown precision {precision!r}; use auto, fp32 or bf16")
    device = torch.device(device)
    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    if device.type == "cpu" and "amx_bf16" in cpu_flags():
        return torch.bfloat16
    return None


def clip_autocast(device: torch.device | str, dtype: torch.dtype | None):
    """Context for CLIP passes at ``dtype`` (from :func:`clip_dtype`; None: plain fp32)."""
    device = torch.device(device)
    return torch.autocast(device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None)

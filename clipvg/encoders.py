"""Which CLIP a run gets: the one seed rule and the one cache every front end shares.

``clip_pretrained="none"`` builds CLIP with random weights; they are drawn from the
run's ``seed`` (so a page request, a batch row and ``cli.py edit`` with the same seed
get the same network). Real weights do not depend on the seed.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Hashable
from typing import Any

from .clip import RANDOM_WEIGHTS, Encoder, load_clip, resolve_device
from .config import EditSettings


def random_weights(settings: EditSettings) -> bool:
    """Whether ``settings`` ask for CLIP with random weights (no checkpoint file given)."""
    tag = (settings.clip_pretrained or "").strip().lower()
    return tag == RANDOM_WEIGHTS and not settings.clip_weights


def clip_seed(settings: EditSettings) -> int:
    """The seed of CLIP's weights: the run's seed for random weights, else 0 (unused)."""
    return settings.seed if random_weights(settings) else 0


def encoder_key(settings: EditSettings) -> tuple:
    """What decides the encoder: two runs with equal keys can share one."""
    s = settings
    return (s.clip_model, s.clip_pretrained, s.clip_weights, s.device, clip_seed(s))


def load_encoder(settings: EditSettings, progress: bool = False, quiet: bool = False) -> Encoder:
    """Load the CLIP of ``settings`` (see :func:`clipvg.clip.load_clip`) under the seed rule.

    ``quiet``: no random-weights warning (a driver that already warned once).
    """
    with warnings.catch_warnings():
        if quiet:
            warnings.simplefilter("ignore")
        return load_clip(
            settings.clip_model,
            settings.clip_pretrained,
            settings.clip_weights,
            resolve_device(settings.device),
            seed=clip_seed(settings),
            progress=progress,
        )


class EncoderCache:
    """Encoders by :func:`encoder_key`, each built once and kept (thread-safe).

    Args:
        factory: ``factory(settings) -> Encoder`` instead of :func:`load_encoder`
            (custom or test encoders).
        key: ``key(settings)`` deciding which runs share an encoder (default
            :func:`encoder_key`; a factory that ignores the settings may use a constant).
        quiet: passed to :func:`load_encoder`.
    """

    def __init__(
        self,
        factory: Callable[[EditSettings], Any] | None = None,
        key: Callable[[EditSettings], Hashable] = encoder_key,
        quiet: bool = False,
    ):
        self._factory = factory
        self._key = key
        self._quiet = quiet
        self._encoders: dict[Hashable, Any] = {}
        self._lock = threading.Lock()

    def get(self, settings: EditSettings, progress: bool = False) -> Encoder:
        """The encoder of ``settings``, built on first use."""
        key = self._key(settings)
        with self._lock:
            if key not in self._encoders:
                if self._factory is not None:
                    self._encoders[key] = self._factory(settings)
                else:
                    self._encoders[key] = load_encoder(settings, progress, self._quiet)
            return self._encoders[key]

    def keys(self) -> list[Hashable]:
        """The keys of the encoders built so far, in order."""
        with self._lock:
            return list(self._encoders)

    def __len__(self) -> int:
        return len(self._encoders)

"""The ``clipvg-toy`` open_clip model: its config and its packaged weights.

The config is an open_clip ``model_configs``-style JSON file registered with
``open_clip.add_model_config``, so open_clip's own factory, tokenizer and checkpoint
loader build and load it like any other model. The weights (fp16 safetensors, trained
by ``benchmarks/semantic/train_toy_clip.py``) ship in the package.
"""

from __future__ import annotations

import argparse
from pathlib import Path

#: The model's name for ``--clip-model``.
TOY_MODEL = "clipvg-toy"
HERE = Path(__file__).resolve().parent
CONFIG_FILE = HERE / f"{TOY_MODEL}.json"
WEIGHTS_FILE = HERE / f"{TOY_MODEL}.safetensors"
#: The pretrained tag the packaged weights go by (``--clip-pretrained``).
TOY_TAG = "procedural"

_registered = False


def register() -> None:
    """Make ``clipvg-toy`` known to open_clip (idempotent)."""
    global _registered
    if not _registered:
        import open_clip

        open_clip.add_model_config(CONFIG_FILE)
        _registered = True


def vocabulary() -> str:
    """One line on what the toy model understands (for messages and the README)."""
    from .palette import COLOR_TERMS
    from .scenes import POSITIONS
    from .shapes import SHAPES

    return (
        f"{len(COLOR_TERMS)} colour terms ({', '.join(COLOR_TERMS)}), "
        f"{len(SHAPES)} shapes ({', '.join(SHAPES)}), positions ({', '.join(POSITIONS)}), "
        "1 to 3 flat objects on a plain background; nothing else (no photos, textures, "
        "styles or other words)"
    )


def weights_file(text: str) -> str:
    """An argparse ``type`` for other ``clipvg-toy`` weights (a candidate of the training
    script): the path, checked to be an existing file, so that a wrong one is a one-line
    usage error (exit code 2) before any work starts."""
    from ..errors import ClipvgError
    from ..io import require_file

    try:
        require_file(text, "weights file")
    except ClipvgError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text

"""Bounds on the work one request can ask for, and the wording of what is refused.

- queues have a most length per kind (edits, vectorizing): :class:`QueueFull`, 429;
- pictures over the pixel cap (checked from the header) and bodies over the byte cap:
  :class:`~clipvg.errors.TooLargeError`, 413;
- prompts: at most :data:`MAX_PROMPT_CHARS` characters (refused above), and cut to
  what CLIP reads (:data:`CLIP_CONTEXT` tokens) with a note saying so;
- messages shown to a client never name the server's folders nor library arguments.
"""

from __future__ import annotations

import re
import threading
from collections import deque
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from ..errors import ClipvgError, TooLargeError

#: Most queued jobs of one kind (edits; pictures waiting to be vectorized).
MAX_QUEUE = 16
#: CLIP's text context, in tokens, start and end tokens included (ViT-B-32 and kin).
CLIP_CONTEXT = 77
#: Longest prompt accepted at all; a prompt this long is far past CLIP's context.
MAX_PROMPT_CHARS = 1000

_ADVICE = re.compile(r";\s*pass limits=SvgLimits\([^)]*\)[^;]*")


class QueueFull(ClipvgError):
    """A queue is at its most length; the client should retry later (HTTP 429)."""


def error_status(exc: ClipvgError) -> int:
    """The HTTP status of a refusal: 413 too large, 429 queue full, 404 unknown id, else 400."""
    if isinstance(exc, TooLargeError):
        return 413
    if isinstance(exc, QueueFull):
        return 429
    text = str(exc)
    return 404 if text.startswith("unknown ") and " id " in text else 400


def public_message(text: str, root: str | Path | None = None) -> str:
    """``text`` as a client may see it: paths under ``root`` shown relative to it, and
    advice meant for library callers ("pass limits=SvgLimits(...)") removed."""
    text = _ADVICE.sub("", text)
    if root is not None:
        text = re.sub(re.escape(str(root).rstrip("/")) + r"/?", "", text)
    return text


def check_queue(length: int, what: str, limit: int = MAX_QUEUE) -> None:
    """QueueFull when ``length`` jobs already wait (``what``: "edits", "pictures to vectorize")."""
    if length >= limit:
        raise QueueFull(
            f"{length} {what} are already queued (the most is {limit}); try again later"
        )


def next_in_line(cond: threading.Condition, queue: deque, closing: Callable[[], bool]):
    """The next queued item for a worker thread, or None once ``closing()`` (``cond`` is held).

    Blocks on ``cond`` while the queue is empty; the request threads notify it when they
    append or close.
    """
    while not queue and not closing():
        cond.wait()
    return None if closing() else queue.popleft()


@lru_cache(maxsize=1)
def _tokenizer():
    from open_clip.tokenizer import SimpleTokenizer

    return SimpleTokenizer()


def token_count(text: str) -> int:
    """CLIP BPE tokens of ``text``, without the start and end tokens."""
    return len(_tokenizer().encode(text))


def cut_prompt(text: str, what: str = "prompt") -> tuple[str, str | None]:
    """``text`` cut at a word boundary to what fits CLIP's context, and a note when cut.

    Raises:
        ClipvgError: ``text`` is over :data:`MAX_PROMPT_CHARS` characters.
    """
    if len(text) > MAX_PROMPT_CHARS:
        raise ClipvgError(
            f"{what} is {len(text)} characters; the most is {MAX_PROMPT_CHARS} "
            f"(CLIP reads only {CLIP_CONTEXT} tokens, about 50 words)"
        )
    room = CLIP_CONTEXT - 2
    total = token_count(text)
    if total <= room:
        return text, None
    cut = _longest_fit(text, [m.end() for m in re.finditer(r"\S+", text)], room)
    if not cut:  # one "word" longer than the context: cut inside it
        cut = _longest_fit(text, list(range(1, len(text) + 1)), room)
    tail = cut[-40:]
    note = (
        f"{what} is {total + 2} tokens, over CLIP's {CLIP_CONTEXT}: cut after "
        f"{'...' if len(cut) > 40 else ''}{tail!r}"
    )
    return cut, note


def _longest_fit(text: str, ends: list[int], room: int) -> str:
    """The longest ``text[:end]`` over ``ends`` (increasing) within ``room`` tokens, or ""."""
    lo, hi = 0, len(ends)  # ends[:lo] fit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if token_count(text[: ends[mid - 1]]) <= room:
            lo = mid
        else:
            hi = mid - 1
    return text[: ends[lo - 1]] if lo else ""


def cut_prompts(settings) -> list[str]:
    """Cut every text prompt of ``settings`` (EditSettings, changed in place) to CLIP's
    context; the notes say which were cut."""
    notes = []
    for field in ("prompt", "source_prompt"):
        text, note = cut_prompt(getattr(settings, field), field)
        setattr(settings, field, text)
        notes += [note] if note else []
    for i, roi in enumerate(settings.rois):
        if isinstance(roi.get("prompt"), str):
            roi["prompt"], note = cut_prompt(roi["prompt"], f"rois[{i}].prompt")
            notes += [note] if note else []
    return notes

"""Vectorizing uploaded pictures: a bounded queue, one child process at a time, cancellable.

Each picture is vectorized in its own process (forked from a server started once,
with the vectorizer imported), so that cancelling a running job is killing its
process, and a picture that needs more memory than expected takes down the child,
never the server. The child writes ``scene.svg`` whole and reports the canvas size
and path count back through a pipe (the page draws the SVG; the scene's PNG is
rendered only when asked for, see :meth:`~clipvg.serve.scenes.SceneStore.png`).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing import forkserver
from pathlib import Path

from ..errors import ClipvgError
from .limits import MAX_QUEUE, check_queue, next_in_line

log = logging.getLogger("clipvg.serve")
# What a child needs, imported once in the fork server: the modules the vectorizer and
# the exporter import lazily too (about 0.7 s of CPU per picture otherwise). scikit-image
# loads its submodules lazily: `skimage.segmentation` alone left felzenszwalb's import
# (scipy.ndimage with it, 0.3-0.6 s) to every child. PIL registers its formats on first use.
_PRELOAD = [
    "clipvg.vectorize",
    "clipvg.render",
    "clipvg.svg",
    "clipvg.serve.vectorizer",
    "skimage.segmentation._felzenszwalb",
    "svgwrite",
    "PIL.ImageOps",
    "PIL.PngImagePlugin",
    "PIL.JpegImagePlugin",
    "PIL.WebPImagePlugin",
]


@dataclass
class _Task:
    key: str
    source: Path
    folder: Path
    preset: str
    done: Callable[[dict], None]  # the result or {"error": ...}; through finish, once
    process: multiprocessing.process.BaseProcess | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)
    _reported: bool = False
    _once: threading.Lock = field(default_factory=threading.Lock)

    def finish(self, result: dict) -> None:
        """Report ``result`` unless this task was already reported (a cancel reports
        at once; the worker's later report of the killed process is then dropped)."""
        with self._once:
            first, self._reported = not self._reported, True
        if first:
            self.done(result)


def vectorize_into(source: str, folder: str, preset: str, threads: int = 1) -> dict:
    """Vectorize ``source`` into ``folder/scene.svg``.

    ``threads``: bands the refinement renders on threads (see :mod:`clipvg.vectorize.bands`).

    Returns ``{"width", "height", "paths", "timings"}`` (``timings``: seconds of each
    stage, see :func:`~clipvg.vectorize.vectorize_image`, and of writing the ``svg``),
    or ``{"error": one line}`` for a picture that cannot be read (runs in the child).
    """
    from PIL import Image

    from clipvg.vectorize import vectorize_image

    from ..progress import StageClock
    from ..svg import save_svg

    timings: dict = {}
    try:
        scene = vectorize_image(source, preset=preset, threads=threads, timings=timings)
    except ClipvgError as exc:
        return {"error": str(exc).replace(source, "the upload")}
    except Image.DecompressionBombError:
        return {"error": "the image has too many pixels to read safely"}
    clock = StageClock(timings)
    save_svg(scene, Path(folder) / "scene.svg")
    clock.lap("svg")
    return {
        "width": scene.width,
        "height": scene.height,
        "paths": scene.num_paths,
        "timings": timings,
    }


def _cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):  # Linux; elsewhere every core
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _child(conn, source: str, folder: str, preset: str, started: float) -> None:
    import torch

    begun = time.time() - started
    # One torch thread: at load 5 on 2 cores the preview of a 1000-path 512 px scene
    # took 0.6 s on one, 2.3 s on two. The refinement renders its bands on one thread
    # per core (clipvg.vectorize.bands), where a busy core slows only its own band: on
    # an idle 2-core machine balanced's 512 px astronaut took 6.3 s instead of 8.5 s,
    # on a busy one it was no slower.
    torch.set_num_threads(1)
    try:
        result = vectorize_into(source, folder, preset, threads=_cores())
        if "timings" in result:
            result["timings"] = {"start": round(begun, 3), **result["timings"]}
    except Exception as exc:  # one line for the page; the child's stderr has the rest
        log.exception("vectorizing %s failed", source)
        result = {"error": f"vectorizing failed: {type(exc).__name__}"}
    conn.send(result)
    conn.close()


class Vectorizer:
    """The queue of pictures to vectorize and the thread that runs them in order."""

    def __init__(self, max_queue: int = MAX_QUEUE):
        self.max_queue = max_queue
        self._ctx = multiprocessing.get_context("forkserver")
        self._ctx.set_forkserver_preload(_PRELOAD)
        self._queue: deque[_Task] = deque()
        self._current: _Task | None = None
        self._cond = threading.Condition()
        self._closing = False
        self._thread = threading.Thread(target=self._worker, name="clipvg-vectorize", daemon=True)
        self._thread.start()

    def submit(
        self, key: str, source: Path, folder: Path, preset: str, done: Callable[[dict], None]
    ) -> None:
        """Queue ``source``; QueueFull (429) when ``max_queue`` pictures already wait."""
        with self._cond:
            check_queue(len(self._queue), "pictures to vectorize", self.max_queue)
            self._queue.append(_Task(key, source, folder, preset, done))
            self._cond.notify_all()

    def position(self, key: str) -> int | None:
        """1-based place in the queue; 0 while running; None otherwise."""
        with self._cond:
            if self._current is not None and self._current.key == key:
                return 0
            keys = [t.key for t in self._queue]
            return keys.index(key) + 1 if key in keys else None

    def cancel(self, key: str) -> bool:
        """Drop a queued picture, or kill the process of the running one; False if neither."""
        with self._cond:
            for task in self._queue:
                if task.key == key:
                    self._queue.remove(task)
                    break
            else:
                task = self._current if self._current and self._current.key == key else None
                if task is None:
                    return False
                task.cancelled.set()
                if task.process is not None and task.process.is_alive():
                    task.process.kill()
        # at once, also for a process still starting (the worker kills it when it has)
        task.finish({"error": "vectorizing was cancelled"})
        return True

    def shutdown(self) -> None:
        """Kill the running child, start nothing more (queued pictures are left as they are)."""
        with self._cond:
            self._closing = True
            task = self._current
            if task is not None and task.process is not None and task.process.is_alive():
                task.cancelled.set()
                task.process.kill()
            self._cond.notify_all()
        self._thread.join(10)

    def _worker(self) -> None:
        # Start the fork server now, not on the first upload: it imports torch and the
        # vectorizer (seconds of CPU) while the user is still choosing a picture.
        try:
            forkserver.ensure_running()
        except Exception:  # the first upload retries, and reports what fails then
            log.exception("starting the vectorizer's fork server failed")
        while True:
            with self._cond:
                task = self._current = next_in_line(self._cond, self._queue, lambda: self._closing)
                if task is None:
                    return
            process = None
            try:
                result, process = self._run(task)
            except Exception as exc:  # the process could not start
                log.exception("vectorizing %s failed", task.key)
                result = {"error": f"vectorizing failed: {type(exc).__name__}"}
            with self._cond:
                self._current = None
            if "timings" in result:
                log.info("vectorized %s: %s", task.key, result.pop("timings"))
            if task.cancelled.is_set():
                result = {"error": "vectorizing was cancelled"}
            task.finish(result)
            if process is not None:  # after the report: a child takes some 30 ms to exit
                process.join()

    def _run(self, task: _Task) -> tuple[dict, multiprocessing.process.BaseProcess | None]:
        """The child's result, and the child (still to be joined; None if none started)."""
        receiver, sender = self._ctx.Pipe(duplex=False)
        process = self._ctx.Process(
            target=_child,
            args=(sender, str(task.source), str(task.folder), task.preset, time.time()),
            name=f"clipvg-vectorize-{task.key}",
            daemon=True,
        )
        with self._cond:
            if task.cancelled.is_set() or self._closing:
                return {"error": "vectorizing was cancelled"}, None
            task.process = process
        process.start()  # outside the lock: the first start launches the fork server
        sender.close()
        if task.cancelled.is_set():  # cancelled while starting
            process.kill()
        try:
            result = receiver.recv()  # EOFError when the child died (killed, out of memory)
        except EOFError:
            result = {"error": "vectorizing failed: the worker process ended early"}
        except BaseException:
            process.join()
            raise
        finally:
            receiver.close()
        return result, process

"""Edit jobs: a queue per device and one worker thread that runs them in order.

Each job is one run folder ``WORKDIR/runs/ID`` written by :func:`clipvg.edit.run_edit`,
exactly as ``cli.py edit -o WORKDIR/runs/ID`` would write it, so the CLI can resume a
run started in the page (``--resume``) and the page lists runs the CLI left there.
The optimizer runs in the worker thread, never on the event loop, through the one
launcher (:mod:`clipvg.launch`); the per-iteration callback records progress and renders
a preview PNG now and then; a job is stopped by setting its ``stop`` event, read
between iterations (the library then saves the latest state, checkpoint and run.json).

The queue is bounded (:data:`clipvg.serve.limits.MAX_QUEUE`; 429 when full) and kept
on disk (``WORKDIR/queue/ID.json``, see :class:`QueueFiles`), so a restart brings the
queued edits back in their order.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import EditSettings
from ..errors import ClipvgError
from ..launch import EncoderCache, decide_resume, launch, random_weights, resumable
from ..run import RUN_RECORD
from .limits import MAX_QUEUE, check_queue, next_in_line, public_message
from .preview import preview_png
from .scenes import check_id, is_id, new_id
from .stages import StagedEncoders

log = logging.getLogger("clipvg.serve")

#: Builds the CLIP encoder; the argument asks for random weights ("try the pipeline").
EncoderFactory = Callable[[bool], Any]


def factory_cache(factory: EncoderFactory) -> EncoderCache:
    """An :class:`EncoderCache` over a ``factory(random_weights)`` (one encoder per kind)."""
    return EncoderCache(lambda s: factory(random_weights(s)), key=random_weights)


TERMINAL = ("stopped", "done", "failed")
#: run.json status -> job status (a run left "running" was cut off: it is stopped).
_DISK_STATUS = {"finished": "done", "interrupted": "stopped", "running": "stopped"}


@dataclass
class Job:
    """One edit: its settings, folder, state and the events sent to the page."""

    id: str
    folder: Path
    settings: EditSettings
    status: str = "queued"
    random_weights: bool = False
    iteration: int = 0
    history: list[dict] = field(default_factory=list)
    error: str | None = None
    preview: bytes | None = None
    preview_iteration: int = -1
    latest_scene: Any = None  # a detached Scene copy taken with the last preview
    preview_costs: list[float] = field(default_factory=list)  # seconds of each preview
    created: float = field(default_factory=time.time)
    events: list[tuple[int, str, dict]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    resume: bool = False  # the next run continues the folder (decided by decide_resume)
    stage: dict | None = None  # setup stage before the first iteration {name, done, total}
    candidate: int = 1  # which of settings.candidates runs now (1-based)
    setup_s: float | None = None  # seconds from start to the first iteration, CLIP loaded
    notes: list[str] = field(default_factory=list)  # e.g. prompts cut to CLIP's context

    @property
    def resumable(self) -> bool:
        return resumable(self.folder)

    def summary(self, position: int | None = None) -> dict[str, Any]:
        s = self.settings
        return {
            "id": self.id,
            "status": self.status,
            "queue_position": position,
            "iteration": self.iteration,
            "iters": s.iters,
            "prompt": s.prompt,
            "rois": [
                r.get("prompt") or ("exemplar image" if r.get("image") else "") for r in s.rois
            ],
            "losses": self.history[-1]["rois"] if self.history else None,
            "seconds_per_iter": _mean_seconds(self.history),
            "error": self.error,
            "resumable": self.resumable,
            "random_weights": self.random_weights,
            "scene": scene_of(s.input),
            "created": self.created,
            "stage": self.stage,
            "candidates": s.candidates,
            "candidate": self.candidate,
            "ranking": self.ranking(),
            "notes": self.notes,
        }

    def ranking(self) -> list[dict] | None:
        """The candidates' scores, best first, once ranked (``ranking.json``)."""
        try:
            data = json.loads((self.folder / "ranking.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        keys = ("rank", "seed", "score", "similarity", "background_rms", "loss", "seconds")
        return [{k: c.get(k) for k in keys} for c in data.get("candidates", [])]


def _mean_seconds(history: list[dict], last: int = 10) -> float | None:
    recent = [h["seconds"] for h in history[-last:]]
    return round(sum(recent) / len(recent), 4) if recent else None


def scene_of(path: str | None) -> str | None:
    """The scene id of an input ``.../scenes/ID/scene.svg`` (None for other inputs)."""
    if not path:
        return None
    p = Path(path)
    return p.parent.name if p.name == "scene.svg" and is_id(p.parent.name) else None


class JobManager:
    """The web editor's edit queue: jobs run one at a time, in order, in one worker thread.

    Jobs live in memory and in their run folders (runs from earlier sessions, or
    from the CLI, are read back from disk on demand). Every event a job emits
    (status, iteration, preview) is kept in order for the page's event stream.

    Args:
        root: folder of the run folders (``WORKDIR/runs``).
        encoder_factory: where CLIP comes from: an :class:`clipvg.launch.EncoderCache`
            (one seed rule: random weights from the run's seed), or a
            ``factory(random_weights) -> Encoder`` called once per kind, and kept.
        preview_interval: seconds between live previews (a preview follows every
            iteration when iterations are slower than this).
        preview_budget: largest fraction of the run's time spent on previews (0.05):
            when one preview costs more than ``budget * interval``, previews are spaced
            ``cost / budget`` apart instead. None: no cap (tests).
        max_queue: most edits waiting at once (QueueFull, 429, beyond).
    """

    def __init__(
        self,
        root: Path,
        encoder_factory: EncoderCache | EncoderFactory,
        preview_interval: float = 2.0,
        preview_budget: float | None = 0.05,
        max_queue: int = MAX_QUEUE,
    ):
        self.root = root
        self.max_queue = max_queue
        self._saved = QueueFiles(root.parent / "queue")
        self.encoders = (
            encoder_factory
            if isinstance(encoder_factory, EncoderCache)
            else factory_cache(encoder_factory)
        )
        self.preview_interval = preview_interval
        self.preview_budget = preview_budget
        self.clip_load_s: float | None = None  # seconds the first CLIP load took
        self._jobs: dict[str, Job] = {}
        self._queue: deque[str] = deque()
        self._cond = threading.Condition()
        self._closing = False
        for job in self._saved.load(root):  # queued before a restart
            self._jobs[job.id] = job
            self._queue.append(job.id)
            self._emit_status(job)
        self._thread = threading.Thread(target=self._worker, name="clipvg-edit", daemon=True)
        self._thread.start()

    # ---- lookup -------------------------------------------------------------------
    def get(self, jid: str) -> Job:
        """The job (from memory, else from its run folder on disk); ClipvgError when unknown."""
        check_id(jid, "edit")
        with self._cond:
            job = self._jobs.get(jid)
            if job is None:
                job = self._load(jid)
                self._jobs[jid] = job
            return job

    def _load(self, jid: str) -> Job:
        folder = self.root / jid
        try:
            record = json.loads((folder / RUN_RECORD).read_text(encoding="utf-8"))
            settings = EditSettings.from_dict(record["settings"])
        except (OSError, ValueError, KeyError, TypeError, ClipvgError):
            raise ClipvgError(f"unknown edit id {jid!r}") from None
        job = Job(jid, folder, settings, status=_DISK_STATUS.get(record.get("status"), "stopped"))
        job.iteration = int(record.get("iteration", 0))
        job.history = list(record.get("history", []))
        job.setup_s = (record.get("timings") or {}).get("setup_s")
        job.random_weights = str(settings.clip_pretrained).lower() == "none"
        job.created = (folder / RUN_RECORD).stat().st_mtime
        return job

    def position(self, job: Job) -> int | None:
        """1-based place in the queue (None unless queued)."""
        with self._cond:
            return self._queue.index(job.id) + 1 if job.id in self._queue else None

    def status(self, job: Job) -> dict[str, Any]:
        return job.summary(self.position(job))

    def list(self) -> list[dict[str, Any]]:
        """Every run: in memory, and every run folder on disk; newest first."""
        if self.root.is_dir():
            for p in self.root.iterdir():
                if is_id(p.name) and (p / RUN_RECORD).is_file():
                    try:
                        self.get(p.name)
                    except ClipvgError:
                        continue
        with self._cond:
            jobs = list(self._jobs.values())
        return [self.status(j) for j in sorted(jobs, key=lambda j: -j.created)]

    # ---- events -------------------------------------------------------------------
    def _emit(self, job: Job, kind: str, data: dict) -> None:
        with self._cond:
            job.events.append((len(job.events), kind, data))

    def _emit_status(self, job: Job) -> None:
        self._emit(job, "status", self.status(job))

    def events_since(self, job: Job, start: int) -> list[tuple[int, str, dict]]:
        with self._cond:
            return job.events[start:]

    # ---- control ------------------------------------------------------------------
    def submit(
        self, settings: EditSettings, random_weights: bool = False, notes: list[str] = ()
    ) -> Job:
        """Queue a new edit (QueueFull when ``max_queue`` edits already wait)."""
        job = Job(new_id(), Path(), settings, random_weights=random_weights, notes=list(notes))
        job.folder = self.root / job.id
        with self._cond:
            check_queue(len(self._queue), "edits", self.max_queue)
            self._saved.add(job)
            self._jobs[job.id] = job
            self._queue.append(job.id)
            self._emit_status(job)  # under the lock, so it precedes the worker's "running"
            self._cond.notify_all()
        return job

    def stop(self, job: Job) -> None:
        """Ask a running job to stop after its iteration; a queued one leaves the queue."""
        with self._cond:
            if job.status == "queued" and job.id in self._queue:
                self._queue.remove(job.id)
                self._saved.remove(job.id)
                job.status = "stopped"
            elif job.status == "running":
                job.stop.set()
            else:
                raise ClipvgError(
                    f"edit {job.id} is {job.status}; only queued or running edits stop"
                )
        if job.status == "stopped":
            self._emit_status(job)
            self._requeued()

    def resume(self, job: Job, iters: int | None = None) -> None:
        """Queue a stopped, done or failed job again; it continues from its checkpoint."""
        if job.status not in TERMINAL:
            raise ClipvgError(f"edit {job.id} is {job.status}; stop it before resuming")
        target = job.settings.iters if iters is None else iters
        if isinstance(target, bool) or not isinstance(target, int) or target < 1:
            raise ClipvgError("iters must be a positive integer")
        if job.resumable and target <= job.iteration:
            raise ClipvgError(
                f"edit {job.id} has run {job.iteration} iterations; ask for more with "
                f'{{"iters": {job.iteration + 50}}}'
            )
        with self._cond:
            check_queue(len(self._queue), "edits", self.max_queue)
            job.settings, job.resume = decide_resume(
                job.folder, job.settings, overrides={"iters": target}
            )
            job.status, job.error = "queued", None
            job.stop.clear()
            self._saved.add(job)
            self._queue.append(job.id)
            self._emit_status(job)
            self._cond.notify_all()

    def _requeued(self) -> None:
        """Tell every queued job its new place."""
        with self._cond:
            queued = [self._jobs[j] for j in self._queue]
        for j in queued:
            self._emit_status(j)

    @property
    def closing(self) -> bool:
        return self._closing

    def request_stop(self) -> None:
        """Ask the running job to stop after its iteration; start nothing new (returns at once)."""
        with self._cond:
            self._closing = True
            for job in self._jobs.values():
                if job.status == "running":
                    job.stop.set()
            self._cond.notify_all()

    def shutdown(self, timeout: float | None = None) -> None:
        """Stop the running job (its latest state is saved) and end the worker."""
        self.request_stop()
        self._thread.join(timeout)

    # ---- worker -------------------------------------------------------------------
    def _worker(self) -> None:
        while True:
            with self._cond:
                job_id = next_in_line(self._cond, self._queue, lambda: self._closing)
                if job_id is None:
                    return
                job = self._jobs[job_id]
                job.status = "running"
                self._saved.remove(job.id)
            self._emit_status(job)
            self._requeued()
            self._run(job)

    def _set_stage(self, job: Job, name: str | None, done: int = 0, total: int = 0) -> None:
        job.stage = None if name is None else {"name": name, "done": done, "total": total}
        self._emit_status(job)

    def measured(self, clip_model: str) -> list[tuple[EditSettings, float, float | None]]:
        """(settings, seconds per iteration, setup seconds) of runs with ``clip_model``,
        newest first (the first iteration of each, a warm-up, left out)."""
        with self._cond:
            jobs = sorted(self._jobs.values(), key=lambda j: -j.created)
        out = []
        for j in jobs:
            rest = [h["seconds"] for h in j.history[1:]]
            if j.settings.clip_model == clip_model and rest:
                out.append((j.settings, sum(rest) / len(rest), j.setup_s))
        return out

    @property
    def clip_loaded(self) -> bool:
        return len(self.encoders) > 0

    def _run(self, job: Job) -> None:
        last = [time.perf_counter(), 0.0]  # time and cost of the last preview
        first_seed = job.settings.seed
        staged = StagedEncoders(
            self.encoders,
            job.settings,
            lambda name, done, total: self._set_stage(job, name, done, total),
        )
        started = [time.perf_counter()]

        def callback(session, iteration: int, record: dict) -> None:
            job.candidate = session.settings.seed - first_seed + 1
            encoder = staged.encoder
            if encoder is not None and encoder.in_setup:
                encoder.editing()
                if job.setup_s is None and job.candidate == 1:
                    spent = time.perf_counter() - started[0] - (staged.load_s or 0.0)
                    job.setup_s = round(spent - record["seconds"], 3)
            job.iteration = iteration
            if encoder is not None and iteration >= job.settings.iters > 0:
                encoder.candidate()  # the next candidate encodes its picture again
            eta = _mean_seconds(job.history + [record])
            with self._cond:
                job.history.append(record)
            left = max(0, job.settings.iters - iteration)
            self._emit(
                job,
                "iter",
                {
                    **record,
                    "iters": job.settings.iters,
                    "eta_s": None if eta is None else eta * left,
                },
            )
            now = time.perf_counter()
            gap = self.preview_interval
            if self.preview_budget:
                gap = max(gap, last[1] / self.preview_budget)
            if now - last[0] >= gap or iteration == 1:
                self._preview(job, session.scene, iteration)
                last[:] = time.perf_counter(), time.perf_counter() - now

        try:
            result = launch(
                job.settings,
                job.folder,
                resume=job.resume,
                overwrite=not job.resume,  # a failed start may leave files; the folder is ours
                encoders=staged,
                stop=job.stop,  # set by stop() and request_stop()
                callback=callback,
                progress=False,
            )
            self.clip_load_s = self.clip_load_s or staged.load_s
            job.iteration = result.iteration
            self._preview(job, result.session.scene, result.iteration)
            job.status = "done" if result.finished else "stopped"
        except ClipvgError as exc:
            job.status, job.error = "failed", public_message(str(exc), self.root.parent)
        except Exception as exc:  # one line for the page; the traceback goes to the log
            log.exception("edit %s failed", job.id)
            first = (str(exc).strip().splitlines() or [""])[0][:200]
            job.status, job.error = "failed", f"internal error: {type(exc).__name__}: {first}"
        job.stage = None
        self._emit_status(job)

    def _preview(self, job: Job, scene, iteration: int) -> None:
        t0 = time.perf_counter()
        copy = scene.clone()
        png = preview_png(copy)  # rendered on the run's device
        copy.to("cpu")
        with self._cond:
            job.latest_scene, job.preview, job.preview_iteration = copy, png, iteration
        job.preview_costs.append(time.perf_counter() - t0)
        self._emit(job, "preview", {"iteration": iteration})


class QueueFiles:
    """The queue on disk: one ``ID.json`` per queued edit (settings, order), written whole.

    A file is written when an edit is queued and removed when it starts or leaves the
    queue, so after a restart (even a SIGKILL) :meth:`load` gives back exactly the edits
    that were waiting, as queued, in their order.
    """

    def __init__(self, folder: Path):
        self.folder = folder

    def add(self, job: Job) -> None:
        from ..io import write_text

        record = {
            "id": job.id,
            "queued": time.time(),
            "created": job.created,
            "random_weights": job.random_weights,
            "resume": job.resume,
            "notes": job.notes,
            "settings": job.settings.to_dict(),
        }
        write_text(json.dumps(record, indent=1), self.folder / f"{job.id}.json")

    def remove(self, jid: str) -> None:
        (self.folder / f"{jid}.json").unlink(missing_ok=True)

    def load(self, runs: Path) -> list[Job]:
        """The saved queue as queued jobs, oldest first (unreadable entries are dropped)."""
        if not self.folder.is_dir():
            return []
        records = []
        for path in self.folder.glob("*.json"):
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
                if not is_id(record["id"]) or path.stem != record["id"]:
                    raise ValueError("bad id")
                settings = EditSettings.from_dict(record["settings"])
            except (OSError, ValueError, KeyError, TypeError, ClipvgError):
                log.warning("dropped unreadable queue entry %s", path.name)
                path.unlink(missing_ok=True)
                continue
            records.append((float(record.get("queued", 0)), record, settings))
        jobs = []
        for _, record, settings in sorted(records, key=lambda r: r[0]):
            job = Job(record["id"], runs / record["id"], settings)
            job.random_weights = bool(record.get("random_weights"))
            job.resume = bool(record.get("resume"))
            job.created = float(record.get("created", time.time()))
            job.notes = [str(n) for n in record.get("notes", [])]
            if (job.folder / RUN_RECORD).is_file():  # a resumed run: keep its progress
                try:
                    done = json.loads((job.folder / RUN_RECORD).read_text(encoding="utf-8"))
                    job.iteration = int(done.get("iteration", 0))
                    job.history = list(done.get("history", []))
                except (OSError, ValueError, TypeError):
                    pass
            jobs.append(job)
        return jobs

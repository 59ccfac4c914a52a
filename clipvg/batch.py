"""Batch edits: every row of a jobs file is one ``edit`` run, spread over Ray workers.

The jobs file (CSV or YAML rows of :class:`clipvg.config.EditSettings` fields) and
``summary.csv`` are :mod:`clipvg.jobfile`'s; this module runs the rows.

Every row is validated before anything runs; a bad row raises one ClipvgError naming
its row number. Rows then run on Ray actors (:class:`BatchWorker`): each loads CLIP once
and keeps it for every row it runs, and runs the row through the launcher
(:mod:`clipvg.launch`), as ``cli.py edit`` does. A failed row (its error line recorded) or a row whose worker
died is retried up to ``retries`` times while the others go on. Rows with a
``final.svg`` are skipped; rows with a checkpoint resume. Ctrl-C asks every worker to
stop after its current iteration, which saves its snapshot. ``OUTDIR/summary.csv``
(one line per row) is rewritten whole whenever a row starts or ends.
"""

from __future__ import annotations

import importlib
import itertools
import logging
import os
import sys
import threading
import time
import uuid
import warnings
from collections import Counter, deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .config import EditSettings
from .errors import ClipvgError, Setting, SettingError
from .jobfile import (
    SUMMARY,
    SUMMARY_FIELDS,
    Job,
    finished_row,
    load_jobs,
    read_jobs,
    read_summary,
    write_summary,
)
from .launch import EncoderCache, decide_resume, launch, random_weights
from .run import StopFlag
from .signals import SignalStop, test_signal_hook

__all__ = [
    "SUMMARY",
    "SUMMARY_FIELDS",
    "WORKER_PREFIX",
    "BatchWorker",
    "Job",
    "load_jobs",
    "plan_workers",
    "read_jobs",
    "read_summary",
    "run_batch",
    "write_summary",
]

INSTALL_HINT = "batch needs Ray: pip install 'clipvg[cluster]' (or pip install 'ray[default]')"
#: Seconds the workers get to finish their iteration and save after Ctrl-C.
STOP_GRACE_S = 300.0
#: Name prefix of the worker actors.
WORKER_PREFIX = "clipvg-batch-"


# ---- workers --------------------------------------------------------------------------
def plan_workers(
    cpus: float,
    gpus: float,
    *,
    workers: int | None = None,
    gpus_per_job: float = 0.0,
    threads: int = 1,
) -> tuple[int, float, int]:
    """How many workers, the CPUs each reserves and its torch threads.

    Without ``workers``: ``cpus // threads`` workers (or ``gpus // gpus_per_job`` when
    rows take GPUs), at least one. With ``workers``: each gets ``cpus / workers`` CPUs
    (a fraction when there are more workers than CPUs) and that many threads (>= 1).
    """
    if workers is not None and workers < 1:
        raise SettingError(Setting("workers"), f" must be >= 1, got {workers}")
    if gpus_per_job < 0:
        raise SettingError(Setting("gpus_per_job"), f" must be >= 0, got {gpus_per_job:g}")
    if gpus_per_job > gpus:
        raise ClipvgError(
            Setting("gpus_per_job"),
            f" {gpus_per_job:g}: the Ray cluster has {gpus:g} GPU(s); lower it or add GPU nodes",
        )
    threads = max(1, threads)
    if workers is None:
        workers = int(gpus // gpus_per_job) if gpus_per_job > 0 else int(cpus // threads)
        workers = max(1, workers)
    else:
        threads = max(1, int(cpus // workers))
    return workers, min(float(threads), cpus / workers), threads


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0] if text else ""
    return f"{type(exc).__name__}: {line}" if line else type(exc).__name__


def _import(spec: str) -> Callable[[], Any]:
    module, _, name = spec.partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError):
        raise ClipvgError(f"encoder factory {spec!r}: no such MODULE:FUNCTION") from None


class BatchWorker:
    """One worker process (a Ray actor): loads each CLIP once and runs rows in turn.

    Args:
        threads: torch threads of this process.
        encoder_factory: ``"module:function"`` called without arguments to build the
            encoder instead of ``load_clip`` from the rows' CLIP settings (custom
            encoders; the tests use ``clipvg.clip:tiny_clip``).
    """

    def __init__(self, threads: int, encoder_factory: str | None = None):
        self._threads = threads
        if encoder_factory:
            build = _import(encoder_factory)
            self.encoders = EncoderCache(lambda s: build(), key=lambda s: "factory")
        else:  # the driver warns about random weights once
            self.encoders = EncoderCache(quiet=True)
        self._stop = threading.Event()
        self._node: str | None = None

    def info(self) -> dict[str, Any]:
        """This worker's process id and Ray node (``IP/node id prefix``)."""
        if self._node is None:
            import ray

            node_id = ray.get_runtime_context().get_node_id()
            ips = [n["NodeManagerAddress"] for n in ray.nodes() if n["NodeID"] == node_id]
            self._node = f"{ips[0] if ips else '?'}/{node_id[:8]}"
        return {"pid": os.getpid(), "node": self._node}

    def stop(self) -> None:
        """Ask the running row to stop after its current iteration (it saves a snapshot)."""
        self._stop.set()

    def load(self, settings: dict[str, Any]) -> None:
        """Build the encoder of these settings now (a warm-up; ``run`` builds it otherwise)."""
        import torch

        torch.set_num_threads(self._threads)
        self.encoders.get(EditSettings.from_dict(settings))

    def run(self, settings: dict[str, Any], outdir: str) -> dict[str, Any]:
        """Run (or resume) one row into ``outdir``; never raises: failures come back as
        ``{"status": "failed", "error": line}``. ``seconds``: the edit's wall time on this
        worker (without CLIP's one-time load)."""
        import torch

        torch.set_num_threads(self._threads)  # per thread: actor methods run in a pool
        t0 = time.perf_counter()
        out: dict[str, Any] = self.info()
        try:
            row = EditSettings.from_dict(settings)
            # a row resumes up to its own iteration count, which a re-run may raise
            s, resume = decide_resume(outdir, row, overrides={"iters": row.iters})
            self.encoders.get(s)
            t0 = time.perf_counter()  # the row's own time: CLIP's one-time load left out
            if self._stop.is_set():
                return {**out, "status": "interrupted", "seconds": 0.0}
            result = launch(
                s,
                outdir,
                overwrite=not resume,
                resume=resume,
                encoders=self.encoders,
                stop=self._stop,
                progress=False,
                callback=test_signal_hook(),
            )
        except Exception as exc:  # recorded in summary.csv, retried by the driver
            error = str(exc) if isinstance(exc, ClipvgError) else _first_line(exc)
            return {
                **out,
                "status": "failed",
                "error": error.splitlines()[0] if error else "",
                "seconds": round(time.perf_counter() - t0, 2),
            }
        loss = result.final_loss
        out.update(
            status="done" if result.finished else "interrupted",
            iterations=result.iteration,
            final_loss="" if loss is None else f"{loss:.6g}",
            seconds=round(time.perf_counter() - t0, 2),
        )
        return out


# ---- the driver -----------------------------------------------------------------------
def import_ray():
    """The ``ray`` module, or a ClipvgError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ClipvgError(INSTALL_HINT) from None
    return ray


def _project_root() -> str:
    """The folder this clipvg is imported from: workers on this machine import the same code."""
    return str(Path(__file__).resolve().parents[1])


class _Progress:
    """The one progress bar (rows done / failed / running, ETA) on stderr."""

    def __init__(self, total: int, done: int, enabled: bool):
        from tqdm import tqdm

        self.bar = tqdm(
            total=total,
            initial=done,
            unit="row",
            desc="batch",
            disable=not enabled,
            dynamic_ncols=True,
            file=sys.stderr,
        )
        self.counts = Counter(done=done)

    def show(self, running: int) -> None:
        self.bar.set_postfix(
            done=self.counts["done"], failed=self.counts["failed"], running=running
        )

    def finished(self, status: str, running: int) -> None:
        self.counts[status] += 1
        self.bar.set_postfix(
            done=self.counts["done"], failed=self.counts["failed"], running=running, refresh=False
        )
        self.bar.update(1)


def run_batch(
    jobs_path: str | os.PathLike,
    outdir: str | os.PathLike,
    flags: Mapping[str, Any] | None = None,
    *,
    workers: int | None = None,
    ray_address: str | None = None,
    gpus_per_job: float = 0.0,
    retries: int = 1,
    encoder_factory: str | None = None,
    progress: bool = True,
    stop: StopFlag | None = None,
) -> list[dict[str, Any]]:
    """Validate every row of ``jobs_path``, then run the rows on Ray workers.

    Without ``ray_address`` (and no Ray already started in this process) Ray starts
    in-process on this machine; with it, the batch joins that cluster. Returns the
    summary rows (also in ``OUTDIR/summary.csv``). When ``stop`` is set (the CLI's
    SIGINT/SIGTERM flag, :class:`clipvg.signals.SignalStop`) every worker stops after
    its current iteration and saves, its row "interrupted", and the rows are returned;
    a KeyboardInterrupt (no stop flag, or a second signal) is raised again once the
    workers have saved.
    """
    ray = import_ray()
    if retries < 0:
        raise SettingError(Setting("retries"), f" must be >= 0, got {retries}")
    jobs = load_jobs(jobs_path, flags)
    out = Path(outdir)
    if out.exists() and not out.is_dir():
        raise ClipvgError(f"output {out} exists and is not a folder")
    if out.is_dir() and not (out / SUMMARY).is_file() and any(out.iterdir()):
        # like edit: never mix a batch into a folder it did not make (its summary.csv
        # marks it; then the batch resumes: finished rows are kept, the rest run)
        raise ClipvgError(
            f"output {out} is not empty and holds no {SUMMARY} of a batch; "
            "pick a new or empty folder (or the folder of the batch to resume)"
        )
    for job in jobs:
        if (out / job.id).exists() and not (out / job.id).is_dir():
            raise ClipvgError(f"row {job.number}: {out / job.id} exists and is not a folder")
    if encoder_factory:
        _import(encoder_factory)
    elif any(random_weights(EditSettings.from_dict(j.settings)) for j in jobs):
        warnings.warn(
            "CLIP has RANDOM weights (clip_pretrained none) in some rows: their edits are "
            "meaningless; use this for tests and timing only",
            stacklevel=2,
        )

    old = read_summary(out)
    summary: dict[str, dict[str, Any]] = {}
    todo: deque[Job] = deque()
    for job in jobs:
        if (out / job.id / "final.svg").is_file():
            summary[job.id] = finished_row(job, out / job.id, old.get(job.id))
        else:
            summary[job.id] = {
                "id": job.id,
                "input": job.settings["input"],
                "status": "pending",
                "attempts": 0,
            }
            todo.append(job)
    out.mkdir(parents=True, exist_ok=True)

    def save() -> list[dict[str, Any]]:
        rows = [summary[j.id] for j in jobs]
        write_summary(rows, out)
        return rows

    if not todo:
        return save()
    save()

    test_signal_hook()  # (tests only) a signal the hook sends goes to this driver
    started_here = not ray.is_initialized()
    if started_here:
        options: dict[str, Any] = dict(
            include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING
        )
        if ray_address:
            try:
                ray.init(address=ray_address, **options)
            except (ConnectionError, RuntimeError) as exc:
                raise ClipvgError(
                    f"cannot join the Ray cluster at {ray_address} ({_first_line(exc)}); is "
                    "`ray start --head` running there, and with RAY_AUTH_MODE=token set here too?"
                ) from None
        else:
            # "local": a new instance here, even when `ray start` runs on this machine
            try:
                ray.init(address="local", num_cpus=os.cpu_count() or 1, **options)
            except Exception as exc:  # noqa: BLE001 - Ray raises bare Exception on a timeout
                raise ClipvgError(
                    f"Ray could not start on this machine ({_first_line(exc)}); if it is "
                    "busy, run the same command again (finished rows are kept)"
                ) from None
    if isinstance(stop, SignalStop):
        stop.install()  # ray.init set a SIGTERM handler that exits at once
    try:
        res = ray.cluster_resources()
        import torch

        n, cpus_each, threads = plan_workers(
            res.get("CPU", 1.0),
            res.get("GPU", 0.0),
            workers=workers,
            gpus_per_job=gpus_per_job,
            threads=torch.get_num_threads(),
        )
        path = os.pathsep.join(p for p in (_project_root(), os.environ.get("PYTHONPATH")) if p)
        options = dict(
            num_cpus=cpus_each,
            num_gpus=gpus_per_job,
            max_concurrency=2,  # stop() and info() reach a worker while it runs a row
            runtime_env={"env_vars": {"PYTHONPATH": path, "OMP_NUM_THREADS": str(threads)}},
        )
        names = (f"{WORKER_PREFIX}{uuid.uuid4().hex[:8]}-{i}" for i in itertools.count())

        worker_cls = ray.remote(BatchWorker)

        def spawn():  # named, so that ``ray list actors`` (and the tests) can find a worker
            return worker_cls.options(name=next(names), **options).remote(threads, encoder_factory)

        _schedule(
            ray,
            spawn,
            workers=min(n, len(todo)),
            todo=todo,
            outdir=out,
            total=len(jobs),
            summary=summary,
            save=save,
            retries=retries,
            progress=progress,
            stop=stop,
        )
        return save()
    finally:
        if started_here:
            ray.shutdown()


def _schedule(
    ray: Any,
    spawn: Callable[[], Any],
    *,
    workers: int,
    todo: deque[Job],
    outdir: Path,
    total: int,
    summary: dict[str, dict[str, Any]],
    save: Callable[[], Any],
    retries: int,
    progress: bool,
    stop: StopFlag | None = None,
) -> None:
    """Hand rows to ``workers`` actors made by ``spawn`` until each row is done or out of
    retries.

    Args:
        ray: the ``ray`` module; spawn: builds one :class:`BatchWorker` actor.
        todo: the rows left (retried rows go back in); outdir: their run folders' parent.
        total: rows in the jobs file (for the progress bar); summary: the summary line
            of each row by id, updated in place, written by ``save()``.
        stop: read between waits; once set, the running rows stop and nothing new starts.
    """
    from ray.exceptions import RayActorError, RayError

    out = outdir
    idle = [spawn() for _ in range(workers)]
    actors = list(idle)
    running: dict[Any, tuple[Any, Job]] = {}
    attempts: Counter[str] = Counter()
    bar = _Progress(total, total - len(todo), progress)

    def record(job: Job, result: dict[str, Any]) -> None:
        row = summary[job.id]
        error = result.get("error") or row.get("error", "")  # a retried row keeps its last error
        row.update({k: result.get(k, "") for k in SUMMARY_FIELDS if k not in ("id", "input")})
        row["error"] = error
        row["attempts"] = attempts[job.id]
        if result["status"] == "failed" and attempts[job.id] <= retries:
            row["status"] = "retrying"
            todo.append(job)
        elif result["status"] != "interrupted":
            bar.finished(result["status"], len(running))
        save()

    try:
        while todo or running:
            if stop is not None and stop.is_set():
                _stop_all(ray, running, actors, record)
                for job in todo:  # never started (or waiting for a retry)
                    summary[job.id]["status"] = "interrupted"
                save()
                return
            while idle and todo:
                job, actor = todo.popleft(), idle.pop()
                attempts[job.id] += 1
                ref = actor.run.remote(job.settings, str(out / job.id))
                running[ref] = (actor, job)
                summary[job.id].update(status="running", attempts=attempts[job.id])
                save()
                bar.show(len(running))
            ready, _ = ray.wait(list(running), num_returns=1, timeout=1.0)
            for ref in ready:
                actor, job = running.pop(ref)
                try:
                    result = ray.get(ref)
                    idle.append(actor)
                except RayActorError as exc:  # the process died: replace it, retry the row
                    result = {"status": "failed", "error": f"worker died ({_first_line(exc)})"}
                    ray.kill(actor)
                    actors.remove(actor)
                    actors.append(spawn())
                    idle.append(actors[-1])
                except RayError as exc:
                    result = {"status": "failed", "error": _first_line(exc)}
                    idle.append(actor)
                record(job, result)
    except KeyboardInterrupt:
        _stop_all(ray, running, actors, record)
        raise
    finally:
        for actor in actors:
            ray.kill(actor)
        bar.bar.close()


def _stop_all(ray, running, actors, record) -> None:
    """Ctrl-C: every worker stops after its iteration and saves; a second Ctrl-C quits now."""
    for actor in actors:
        actor.stop.remote()
    print(
        f"stopping {len(running)} running row(s) after their current iteration "
        "(Ctrl-C or SIGTERM again to quit without waiting)",
        file=sys.stderr,
    )
    deadline = time.monotonic() + STOP_GRACE_S
    try:
        while running and time.monotonic() < deadline:
            ready, _ = ray.wait(list(running), num_returns=1, timeout=1.0)
            for ref in ready:
                _, job = running.pop(ref)
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayError as exc:
                    result = {"status": "interrupted", "error": _first_line(exc)}
                if result["status"] == "failed":
                    result["status"] = "interrupted"
                record(job, result)
    except KeyboardInterrupt:
        pass

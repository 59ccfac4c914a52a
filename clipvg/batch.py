"""Batch edits: every row of a jobs file is one ``edit`` run, spread over Ray workers.

Jobs file (CSV or YAML), one row per edit::

    # jobs.yaml                          # jobs.csv
    defaults: {prompt: "...", lock: shape}    id,input,prompt,iters
    jobs:                                     cat,cat.svg,a tiger,100
      - {input: cat.svg, id: cat}             dog,dog.png,,
      - {input: dog.png, iters: 50}

A row holds the input (SVG or raster; paths are relative to the jobs file) and any
``edit`` setting (:class:`clipvg.config.EditSettings` field, ``-`` or ``_``), plus the
vectorizer's options for rasters (``preset``, ``max_paths``, ...) flat; ``id`` names
its run folder ``OUTDIR/<id>/`` (default: the row number). CSV cells are read as YAML
values (``3``, ``0.5``, ``true``, ``[shape]``), except text settings, taken as written;
an empty cell leaves the option out. Precedence: built-in defaults < the YAML
``defaults`` < command-line options < the row.

Every row is validated before anything runs; a bad row raises one ClipvgError naming
its row number. Rows then run on Ray actors (:class:`BatchWorker`): each loads CLIP once
and keeps it for every row it runs, and runs :func:`clipvg.edit.run_edit`, the code
path of ``cli.py edit``. A failed row (its error line recorded) or a row whose worker
died is retried up to ``retries`` times while the others go on. Rows with a
``final.svg`` are skipped; rows with a checkpoint resume. Ctrl-C asks every worker to
stop after its current iteration, which saves its snapshot. ``OUTDIR/summary.csv``
(one line per row) is rewritten whole whenever a row starts or ends.
"""

from __future__ import annotations

import csv
import importlib
import io
import itertools
import logging
import os
import re
import sys
import threading
import time
import uuid
import warnings
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import EditSettings, settings_from_layers
from .errors import ClipvgError
from .io import write_text
from .launch import EncoderCache, decide_resume, launch, random_weights
from .run import RUN_RECORD

SUMMARY = "summary.csv"
SUMMARY_FIELDS = (
    "id",
    "input",
    "status",
    "attempts",
    "iterations",
    "final_loss",
    "seconds",
    "node",
    "error",
)
INSTALL_HINT = "batch needs Ray: pip install 'clipvg[cluster]' (or pip install 'ray[default]')"
#: Settings holding a file path, resolved against the file (or folder) that names them.
PATH_KEYS = ("input", "prompt_image", "clip_weights")
#: Settings read as text from a CSV cell (the others are parsed as YAML values).
TEXT_KEYS = ("id", "input", "prompt", "source_prompt", "prompt_image", "device") + (
    "clip_model",
    "clip_pretrained",
    "clip_weights",
    "preset",
)
#: Seconds the workers get to finish their iteration and save after Ctrl-C.
STOP_GRACE_S = 300.0
#: Name prefix of the worker actors.
WORKER_PREFIX = "clipvg-batch-"
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass
class Job:
    """One validated row: ``number`` is 1-based, ``settings`` an EditSettings dict with
    absolute paths."""

    number: int
    id: str
    settings: dict[str, Any]


# ---- reading and validating the jobs file ---------------------------------------------
def _csv_rows(path: Path) -> list[dict[str, Any]]:
    import yaml

    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames:
            raise ClipvgError(f"jobs file {path} is empty; it needs a header row with 'input'")
        rows = []
        for n, raw in enumerate(reader, start=1):
            if None in raw:
                raise ClipvgError(f"{path.name} row {n}: more cells than header columns")
            row: dict[str, Any] = {}
            for key, text in raw.items():
                key = key.strip().replace("-", "_")
                text = (text or "").strip()
                if not text:
                    continue
                if key in TEXT_KEYS:
                    row[key] = text
                    continue
                try:
                    row[key] = yaml.safe_load(text)
                except yaml.YAMLError:
                    raise ClipvgError(
                        f"{path.name} row {n}: cannot read {key} value {text!r}"
                    ) from None
            rows.append(row)
    return rows


def read_jobs(path: str | os.PathLike) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The raw ``(defaults, rows)`` of a CSV or YAML jobs file (nothing validated yet).

    YAML: a list of rows, or a mapping with ``jobs`` (the rows) and optional ``defaults``.
    """
    path = Path(path)
    if not path.is_file():
        raise ClipvgError(f"jobs file {path} not found")
    if path.suffix.lower() == ".csv":
        return {}, _csv_rows(path)
    if path.suffix.lower() not in (".yaml", ".yml", ".json"):
        raise ClipvgError(f"jobs file {path}: use a .csv, .yaml or .json file")
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        first = str(exc).strip().splitlines()[0]
        raise ClipvgError(f"jobs file {path} is not valid YAML: {first}") from None
    if isinstance(data, list):
        data = {"jobs": data}
    if not isinstance(data, dict) or not isinstance(data.get("jobs"), list):
        raise ClipvgError(f"jobs file {path} needs a 'jobs' list (and optional 'defaults')")
    extra = sorted(set(data) - {"jobs", "defaults"})
    if extra:
        raise ClipvgError(f"jobs file {path}: unknown top-level key(s) {', '.join(extra)}")
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise ClipvgError(f"jobs file {path}: 'defaults' must be a mapping of edit options")
    for n, row in enumerate(data["jobs"], start=1):
        if not isinstance(row, dict):
            raise ClipvgError(f"{path.name} row {n}: a row must be a mapping of options")
    return defaults, data["jobs"]


def _absolute(value: Any, base: Path) -> Any:
    return str(base / value) if isinstance(value, str) and value else value


def _layer(values: Mapping[str, Any], base: Path) -> dict[str, Any]:
    """One layer of options with its file paths made absolute (relative to ``base``);
    merging the layers is :func:`clipvg.config.settings_from_layers`'s job."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        key = str(key).replace("-", "_")
        if key in PATH_KEYS:
            value = _absolute(value, base)
        elif key == "rois" and isinstance(value, list):
            value = [
                {k: _absolute(v, base) if k in ("mask", "image") else v for k, v in r.items()}
                if isinstance(r, dict)
                else r
                for r in value
            ]
        out[key] = value
    return out


def _check_files(s: EditSettings) -> None:
    if not s.input:
        raise ClipvgError("no input; give the row an 'input' file")
    named = [("input", s.input), ("prompt_image", s.prompt_image), ("clip_weights", s.clip_weights)]
    named += [
        (f"ROI {i} {k}", r[k])
        for i, r in enumerate(s.rois, start=1)
        if isinstance(r, dict)
        for k in ("mask", "image")
        if isinstance(r.get(k), str)
    ]
    for what, value in named:
        if value is not None and not Path(value).is_file():
            raise ClipvgError(f"{what} {value} not found")
    s.check_target()


def load_jobs(
    path: str | os.PathLike, flags: Mapping[str, Any] | None = None, cwd: str | None = None
) -> list[Job]:
    """Read and validate every row of a jobs file; raises ClipvgError naming the bad row.

    Args:
        path: the CSV or YAML jobs file; relative paths in it are relative to its folder.
        flags: command-line options (``None`` values are options not given), as built
            for ``edit``; their relative paths are relative to ``cwd`` (default: here).
    """
    path = Path(path)
    defaults, rows = read_jobs(path)
    base = path.resolve().parent
    if not rows:
        raise ClipvgError(f"jobs file {path} has no rows")
    try:
        if "id" in defaults:
            raise ClipvgError("'id' belongs to a row, not to the defaults")
        lower = [_layer(defaults, base), _layer(flags or {}, Path(cwd or os.getcwd()))]
    except ClipvgError as exc:
        raise ClipvgError(f"{path.name} defaults: {exc}") from None
    jobs: list[Job] = []
    seen: dict[str, int] = {}
    for n, row in enumerate(rows, start=1):
        try:
            values = _layer(row, base)
            row_id = str(values.pop("id", n))
            if not _ID.fullmatch(row_id) or row_id == SUMMARY:
                raise ClipvgError(
                    f"id {row_id!r} is not a plain folder name (letters, digits, . _ -)"
                )
            if row_id in seen:
                raise ClipvgError(f"id {row_id!r} is already used by row {seen[row_id]}")
            settings = settings_from_layers(*lower, values, source="", extra=("id",))
            _check_files(settings)
        except ClipvgError as exc:
            raise ClipvgError(f"{path.name} row {n}: {exc}") from None
        seen[row_id] = n
        jobs.append(Job(n, row_id, settings.to_dict()))
    return jobs


# ---- summary.csv ----------------------------------------------------------------------
def read_summary(outdir: str | os.PathLike) -> dict[str, dict[str, str]]:
    """The rows of ``OUTDIR/summary.csv`` by id ({} when there is none)."""
    path = Path(outdir) / SUMMARY
    if not path.is_file():
        return {}
    with open(path, newline="", encoding="utf-8") as fh:
        return {r["id"]: r for r in csv.DictReader(fh) if r.get("id")}


def write_summary(rows: list[dict[str, Any]], outdir: str | os.PathLike) -> None:
    """Write ``OUTDIR/summary.csv`` whole (temp file, then rename)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, SUMMARY_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(buf.getvalue(), Path(outdir) / SUMMARY)


def _finished_row(job: Job, folder: Path, old: dict[str, str] | None) -> dict[str, Any]:
    """Summary line of a row whose final.svg exists (kept from the last summary if any)."""
    if old is not None and old.get("status") == "done":
        return dict(old)
    row = {"id": job.id, "input": job.settings["input"], "status": "done", "attempts": 0}
    try:
        import json

        rec = json.loads((folder / RUN_RECORD).read_text(encoding="utf-8"))
        row["iterations"] = rec.get("iteration", "")
        if rec.get("history"):
            row["final_loss"] = f"{rec['history'][-1]['loss']:.6g}"
        row["seconds"] = (rec.get("timings") or {}).get("total_s", "")
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return row


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
        raise ClipvgError(f"--workers must be >= 1, got {workers}")
    if gpus_per_job < 0:
        raise ClipvgError(f"--gpus-per-job must be >= 0, got {gpus_per_job:g}")
    if gpus_per_job > gpus:
        raise ClipvgError(
            f"--gpus-per-job {gpus_per_job:g}: the Ray cluster has {gpus:g} GPU(s); "
            "lower it or add GPU nodes"
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
            self._encoders = EncoderCache(lambda s: build(), key=lambda s: "factory")
        else:  # the driver warns about random weights once
            self._encoders = EncoderCache(quiet=True)
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
        self._encoders.get(EditSettings.from_dict(settings))

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
            self._encoders.get(s)
            t0 = time.perf_counter()  # the row's own time: CLIP's one-time load left out
            if self._stop.is_set():
                return {**out, "status": "interrupted", "seconds": 0.0}
            result = launch(
                s,
                outdir,
                overwrite=not resume,
                resume=resume,
                encoders=self._encoders,
                stop=self._stop,
                progress=False,
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
) -> list[dict[str, Any]]:
    """Validate every row of ``jobs_path``, then run the rows on Ray workers.

    Without ``ray_address`` (and no Ray already started in this process) Ray starts
    in-process on this machine; with it, the batch joins that cluster. Returns the
    summary rows (also in ``OUTDIR/summary.csv``); raises KeyboardInterrupt after
    Ctrl-C, once every worker has saved its snapshot.
    """
    ray = import_ray()
    if retries < 0:
        raise ClipvgError(f"--retries must be >= 0, got {retries}")
    jobs = load_jobs(jobs_path, flags)
    out = Path(outdir)
    if out.exists() and not out.is_dir():
        raise ClipvgError(f"output {out} exists and is not a folder")
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
            summary[job.id] = _finished_row(job, out / job.id, old.get(job.id))
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
            ray.init(address="local", num_cpus=os.cpu_count() or 1, **options)
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
) -> None:
    """Hand rows to ``workers`` actors made by ``spawn`` until each row is done or out of
    retries.

    Args:
        ray: the ``ray`` module; spawn: builds one :class:`BatchWorker` actor.
        todo: the rows left (retried rows go back in); outdir: their run folders' parent.
        total: rows in the jobs file (for the progress bar); summary: the summary line
            of each row by id, updated in place, written by ``save()``.
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
        "(Ctrl-C again to quit without waiting)",
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

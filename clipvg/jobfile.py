"""The jobs file of a batch (CSV or YAML rows of edit settings) and its ``summary.csv``.

Jobs file, one row per edit::

    # jobs.yaml                          # jobs.csv
    defaults: {prompt: "...", lock: shape}    id,input,prompt,iters
    jobs:                                     cat,cat.svg,a tiger,100
      - {input: cat.svg, id: cat}             dog,dog.png,,
      - {input: dog.png, iters: 50}

A row's columns are :class:`clipvg.config.EditSettings` fields (``-`` or ``_``) and the
vectorizer's options, flat; ``id`` names its run folder. Paths are relative to the jobs
file. CSV cells are read as YAML values (``3``, ``0.5``, ``true``, ``[shape]``), except
text settings, taken as written; an empty cell leaves the option out. The rows' settings
are built by :func:`clipvg.config.settings_from_layers` (built-in < the YAML
``defaults`` < command-line options < the row), which checks them and words errors
with the column's name.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import EditSettings, load_yaml, settings_from_layers
from .errors import ClipvgError, short
from .io import read_text_file, write_text
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
#: Settings holding a file path, resolved against the file (or folder) that names them.
PATH_KEYS = ("input", "prompt_image", "clip_weights")
#: Settings read as text from a CSV cell (the others are parsed as YAML values).
TEXT_KEYS = ("id", "input", "prompt", "source_prompt", "prompt_image", "device") + (
    "clip_model",
    "clip_pretrained",
    "clip_weights",
    "preset",
)
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass
class Job:
    """One validated row: ``number`` is 1-based, ``settings`` an EditSettings dict with
    absolute paths."""

    number: int
    id: str
    settings: dict[str, Any]


# ---- reading and validating the jobs file ---------------------------------------------
def _csv_rows(path: Path, text: str) -> list[dict[str, Any]]:
    try:
        return _parse_csv(path, text)
    except csv.Error as exc:  # a cell over the csv module's size limit, a bad quote
        raise ClipvgError(f"jobs file {path} is not a readable CSV file: {exc}") from None


def _parse_csv(path: Path, text: str) -> list[dict[str, Any]]:
    import yaml

    reader = csv.DictReader(io.StringIO(text, newline=""))
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
                row[key] = load_yaml(text)
            except (yaml.YAMLError, ClipvgError):
                raise ClipvgError(
                    f"{path.name} row {n}: cannot read {key} value {short(text)}"
                ) from None
        rows.append(row)
    return rows


def read_jobs(path: str | os.PathLike) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The raw ``(defaults, rows)`` of a CSV or YAML jobs file (nothing validated yet).

    YAML: a list of rows, or a mapping with ``jobs`` (the rows) and optional ``defaults``.
    """
    path = Path(path)
    text = read_text_file(path, "jobs file")
    if path.suffix.lower() == ".csv":
        return {}, _csv_rows(path, text)
    if path.suffix.lower() not in (".yaml", ".yml", ".json"):
        raise ClipvgError(f"jobs file {path}: use a .csv, .yaml or .json file")
    import yaml

    try:
        data = load_yaml(text)
    except (yaml.YAMLError, ClipvgError) as exc:
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
                    f"id {short(row_id)} is not a plain folder name (letters, digits, . _ -)"
                )
            if row_id in seen:
                raise ClipvgError(f"id {short(row_id)} is already used by row {seen[row_id]}")
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


def finished_row(job: Job, folder: Path, old: dict[str, str] | None) -> dict[str, Any]:
    """Summary line of a row whose final.svg exists (kept from the last summary if any)."""
    if old is not None and old.get("status") == "done":
        return dict(old)
    row = {"id": job.id, "input": job.settings["input"], "status": "done", "attempts": 0}
    try:
        rec = json.loads((folder / RUN_RECORD).read_text(encoding="utf-8"))
        row["iterations"] = rec.get("iteration", "")
        if rec.get("history"):
            row["final_loss"] = f"{rec['history'][-1]['loss']:.6g}"
        row["seconds"] = (rec.get("timings") or {}).get("total_s", "")
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return row

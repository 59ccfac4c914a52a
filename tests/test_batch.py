"""Batch edits on Ray: jobs files, validation, faults, resumption, a two-node cluster.

Ray starts once for the module, in-process, with 2 CPUs; the workers build a tiny
random CLIP themselves (``encoder_factory="clipvg.clip:tiny_clip"``).
"""

from __future__ import annotations

import _thread
import contextlib
import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from encoders import two_boxes
from PIL import Image

import clipvg
from clipvg.batch import WORKER_PREFIX, load_jobs, plan_workers, run_batch
from clipvg.errors import ClipvgError

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.timeout(300)

ROOT = Path(__file__).resolve().parents[1]
TINY = "clipvg.clip:tiny_clip"
FAST = {"iters": 2, "patches": 2, "save_every": 1, "device": "cpu", "preset": "fast"}


@pytest.fixture(scope="module")
def local_ray():
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """a.svg (two boxes), r.png (two colour bands, 24 px), bad.png (text, not an image)."""
    d = tmp_path_factory.mktemp("inputs")
    clipvg.save_svg(two_boxes(64), d / "a.svg")
    img = np.zeros((24, 24, 3), np.uint8)
    img[:12], img[12:] = (200, 40, 30), (30, 40, 200)
    Image.fromarray(img).save(d / "r.png")
    (d / "bad.png").write_text("not an image")
    return d


def write_yaml(path: Path, rows: list[dict], defaults: dict | None = None) -> Path:
    import yaml

    path.write_text(yaml.safe_dump({"defaults": defaults or {}, "jobs": rows}))
    return path


def summary(outdir: Path) -> dict[str, dict[str, str]]:
    with open(outdir / "summary.csv", newline="") as fh:
        return {r["id"]: r for r in csv.DictReader(fh)}


# ---- jobs files and validation (no Ray needed) ------------------------------------------
def test_csv_cells_and_precedence(inputs):
    jobs = inputs / "jobs.csv"
    jobs.write_text(
        "id,input,prompt,iters,lock,max-paths,shape_lr\n"
        "one,a.svg,a red box,7,[shape],,\n"
        ",r.png,,,,12,0.5\n"
    )
    one, two = load_jobs(jobs, {"prompt": "blue", "iters": 3, "seed": None}, cwd="/")
    assert (one.id, two.id) == ("one", "2")
    assert one.settings["input"] == str(inputs / "a.svg")
    # the row beats the command line, which beats the built-in defaults
    assert (one.settings["prompt"], one.settings["iters"], one.settings["lock"]) == (
        "a red box",
        7,
        ["shape"],
    )
    assert (two.settings["prompt"], two.settings["iters"]) == ("blue", 3)
    assert two.settings["vectorize"] == {"max_paths": 12} and two.settings["shape_lr"] == 0.5
    assert two.settings["seed"] == 0


@pytest.mark.parametrize(
    "rows, defaults, message",
    [
        ([{"input": "a.svg"}, {"input": "missing.svg"}], {"prompt": "x"}, "row 2: input"),
        ([{"input": "a.svg", "promt": "x"}], {}, "row 1: unknown setting(s) promt"),
        ([{"input": "a.svg", "iters": "many"}], {"prompt": "x"}, "row 1: iters must be an integer"),
        ([{"input": "a.svg"}], {}, "row 1: the prompt is empty"),
        ([{"input": "a.svg", "lock": "everything"}], {"prompt": "x"}, "row 1: lock takes"),
        ([{"id": "a/b", "input": "a.svg"}], {"prompt": "x"}, "row 1: id 'a/b'"),
        ([{"id": "k", "input": "a.svg"}] * 2, {"prompt": "x"}, "row 2: id 'k' is already used"),
        ([{"input": "a.svg"}], {"prompt": "x", "prompt_image": "no.png"}, "row 1: prompt_image"),
        ([{"input": "a.svg"}], {"prompt": "x", "colour": 1}, "row 1: unknown setting(s) colour"),
    ],
)
def test_bad_rows_name_their_number(inputs, tmp_path, rows, defaults, message):
    jobs = write_yaml(inputs / f"jobs-{abs(hash(message))}.yaml", rows, defaults)
    with pytest.raises(ClipvgError) as err:
        load_jobs(jobs)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_cli_rejects_missing_input_before_any_work(inputs, tmp_path, capsys):
    from clipvg import cli

    jobs = write_yaml(inputs / "jobs-missing.yaml", [{"input": "a.svg"}, {"input": "gone.png"}])
    out = tmp_path / "out"
    code = cli.main(["batch", str(jobs), "-o", str(out), "--prompt", "red", "--iters", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "row 2" in err[0] and "gone.png not found" in err[0]
    assert not out.exists() and not ray.is_initialized()


def test_without_ray_batch_says_how_to_install_it(inputs, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    jobs = write_yaml(inputs / "jobs-noray.yaml", [{"input": "a.svg"}], {"prompt": "x"})
    with pytest.raises(ClipvgError, match=r"pip install 'clipvg\[cluster\]'"):
        run_batch(jobs, tmp_path / "out")


@pytest.mark.parametrize(
    "cpus, gpus, kw, expected",
    [
        (2, 0, {"threads": 1}, (2, 1.0, 1)),
        (2, 0, {"threads": 2}, (1, 2.0, 2)),
        (16, 0, {"workers": 4}, (4, 4.0, 4)),
        (2, 0, {"workers": 4}, (4, 0.5, 1)),
        (8, 4, {"gpus_per_job": 0.5, "threads": 1}, (8, 1.0, 1)),
    ],
)
def test_plan_workers(cpus, gpus, kw, expected):
    assert plan_workers(cpus, gpus, **kw) == expected


def test_plan_workers_refuses_more_gpus_than_the_cluster_has():
    with pytest.raises(ClipvgError, match="has 0 GPU"):
        plan_workers(4, 0, gpus_per_job=1)


# ---- local Ray: six rows, a re-run, a killed worker, Ctrl-C -----------------------------
def test_six_rows_one_fails_then_rerun_does_no_work(local_ray, inputs, tmp_path):
    rows = [
        {"id": "svg-a", "input": "a.svg"},
        {"id": "svg-b", "input": "a.svg", "seed": 2, "lock": "shape"},
        {"id": "svg-c", "input": "a.svg", "iters": 3},
        {"id": "png-a", "input": "r.png"},
        {"id": "png-b", "input": "r.png", "lock": "color"},
        {"id": "bad", "input": "a.svg", "prompt_image": "bad.png"},  # fails only when it runs
    ]
    jobs = write_yaml(inputs / "jobs6.yaml", rows, {"prompt": "green", **FAST})
    out = tmp_path / "out"
    result = run_batch(jobs, out, workers=2, retries=1, encoder_factory=TINY, progress=False)
    table = summary(out)
    assert [r["id"] for r in result] == [r["id"] for r in rows] == list(table)
    done = [k for k, r in table.items() if r["status"] == "done"]
    assert done == ["svg-a", "svg-b", "svg-c", "png-a", "png-b"]
    bad = table["bad"]
    assert bad["status"] == "failed" and bad["attempts"] == "2"  # one retry
    assert "bad.png" in bad["error"] and "image" in bad["error"]
    for k in done:
        rec = json.loads((out / k / "run.json").read_text())
        assert rec["status"] == "finished" and int(table[k]["iterations"]) == rec["iteration"]
        assert rec["iteration"] == (3 if k == "svg-c" else 2)
        assert float(table[k]["final_loss"]) == pytest.approx(rec["history"][-1]["loss"], rel=1e-5)
        assert (out / k / "final.png").is_file() and table[k]["node"]
    assert (out / "png-a" / "initial.svg").is_file()  # rasters were vectorized first

    stamps = {k: (out / k / "final.svg").stat().st_mtime_ns for k in done}
    records = {k: (out / k / "run.json").read_bytes() for k in done}
    again = run_batch(jobs, out, workers=2, retries=0, encoder_factory=TINY, progress=False)
    table2 = summary(out)
    assert {k: (out / k / "final.svg").stat().st_mtime_ns for k in done} == stamps
    assert {k: (out / k / "run.json").read_bytes() for k in done} == records
    assert all(table2[k] == table[k] for k in done)  # kept as they were, not re-run
    assert table2["bad"]["status"] == "failed" and table2["bad"]["attempts"] == "1"
    assert [r["status"] for r in again].count("done") == 5


def wait_for(predicate, timeout: float = 200.0, thread=None) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end or (thread is not None and not thread.is_alive()):
            raise TimeoutError("condition not reached")
        time.sleep(0.05)


def worker_pids() -> list[int]:
    names = [n["name"] for n in ray.util.list_named_actors(all_namespaces=True)]
    handles = [ray.get_actor(n) for n in names if n.startswith(WORKER_PREFIX)]
    return [ray.get(h.info.remote(), timeout=30)["pid"] for h in handles]


def test_killed_worker_is_replaced_and_its_row_resumes(local_ray, inputs, tmp_path):
    iters = 20
    jobs = write_yaml(
        inputs / "jobs-kill.yaml",
        [{"id": "long", "input": "a.svg"}],
        {"prompt": "green", **FAST, "iters": iters, "save_every": 2},
    )
    out = tmp_path / "out"
    box: dict = {}
    thread = threading.Thread(
        target=lambda: box.update(
            rows=run_batch(jobs, out, workers=1, encoder_factory=TINY, progress=False)
        )
    )
    thread.start()
    wait_for(lambda: (out / "long" / "checkpoint.pt").is_file(), thread=thread)
    (pid,) = worker_pids()
    os.kill(pid, signal.SIGKILL)
    thread.join(120)
    row = summary(out)["long"]
    assert row["status"] == "done" and row["attempts"] == "2"
    assert "worker died" in row["error"]
    rec = json.loads((out / "long" / "run.json").read_text())
    assert rec["status"] == "finished" and rec["iteration"] == iters
    # resumed from the checkpoint: the history runs 1..iters without a restart
    assert [h["iter"] for h in rec["history"]] == list(range(1, iters + 1))
    assert box["rows"][0]["status"] == "done"


def test_ctrl_c_keeps_snapshots_and_a_rerun_resumes(local_ray, inputs, tmp_path):
    rows = [{"id": "x", "input": "a.svg"}, {"id": "y", "input": "a.svg", "seed": 1}]
    endless = {"prompt": "green", **FAST, "iters": 10**6, "save_every": 3}  # stopped by Ctrl-C
    jobs = write_yaml(inputs / "jobs-int.yaml", rows, endless)
    out = tmp_path / "out"

    def interrupt_when_running():
        wait_for(lambda: all((out / r["id"] / "checkpoint.pt").is_file() for r in rows))
        _thread.interrupt_main()  # what Ctrl-C does to the driver

    threading.Thread(target=interrupt_when_running, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        run_batch(jobs, out, workers=2, encoder_factory=TINY, progress=False)
    table = summary(out)
    stopped = {}
    for r in rows:
        rec = json.loads((out / r["id"] / "run.json").read_text())
        assert table[r["id"]]["status"] == "interrupted" and rec["status"] == "interrupted"
        assert rec["iteration"] >= 3 and (out / r["id"] / "latest.svg").is_file()
        stopped[r["id"]] = rec["iteration"]
    # a re-run resumes each row from its snapshot, here up to 2 more iterations
    for r in rows:
        r["iters"] = stopped[r["id"]] + 2
    run_batch(write_yaml(jobs, rows, endless), out, workers=2, encoder_factory=TINY, progress=False)
    for r in rows:
        rec = json.loads((out / r["id"] / "run.json").read_text())
        assert rec["status"] == "finished" and rec["iteration"] == r["iters"]
        assert [h["iter"] for h in rec["history"]] == list(range(1, r["iters"] + 1))
    assert {r["status"] for r in summary(out).values()} == {"done"}


# ---- a two-node cluster on this machine --------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ray_nodes(ray_cli: str, address: str, env: dict) -> int:
    """Active nodes of the cluster at ``address``, as ``ray status`` reports them."""
    proc = subprocess.run(
        [ray_cli, "status", f"--address={address}"], capture_output=True, text=True, env=env
    )
    active = proc.stdout.split("Active:")[-1].split("Pending:")[0]
    return active.count("node_") if proc.returncode == 0 else 0


@pytest.fixture
def two_nodes():
    """A Ray head and a second node, 1 CPU each, as separate `ray start --block` processes.

    Cleanup ends exactly these two process groups (each node's processes), never with
    `ray stop`, which would stop every Ray instance on the machine.
    """
    ray_cli = str(Path(sys.executable).parent / "ray")
    address = f"127.0.0.1:{free_port()}"
    temp = tempfile.mkdtemp(prefix="rt", dir="/tmp")  # short: Ray's socket paths live there
    env = {**os.environ, "RAY_AUTH_MODE": "token"}  # a joining node needs the head's token too
    common = ["--num-cpus=1", "--block", "--disable-usage-stats", "--node-ip-address=127.0.0.1"]
    starts = [
        [
            "--head",
            f"--port={address.split(':')[1]}",
            "--include-dashboard=false",
            f"--temp-dir={temp}",
        ],
        [f"--address={address}"],
    ]
    procs = []
    try:
        for extra in starts:
            procs.append(
                subprocess.Popen(
                    [ray_cli, "start", *extra, *common],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,  # its own process group, ended below
                )
            )
        # the second node retries until the head's GCS is up
        wait_for(lambda: ray_nodes(ray_cli, address, env) == 2, timeout=150)
        yield address, env
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for p in procs:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                for p in procs:
                    p.wait(5)
        shutil.rmtree(temp, ignore_errors=True)


def test_batch_joins_a_two_node_cluster(two_nodes, inputs, tmp_path):
    rows = [{"id": f"r{i}", "input": "a.svg", "seed": i} for i in range(4)]
    jobs = write_yaml(inputs / "jobs-cluster.yaml", rows, {"prompt": "green", **FAST})
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        str(ROOT / "cli.py"),
        "batch",
        str(jobs),
        "-o",
        str(out),
        "--ray-address",
        two_nodes[0],
        "--workers",
        "2",
        "--encoder-factory",
        TINY,
        "--quiet",
    ]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=150, cwd=ROOT, env=two_nodes[1]
    )
    table = summary(out)
    nodes = {r["node"] for r in table.values()}
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert {r["status"] for r in table.values()} == {"done"}
    assert len(nodes) == 2, nodes


def test_worker_draws_random_clip_weights_from_each_rows_seed(tiny_model_name):
    """A row with random CLIP weights gets the network `cli.py edit --seed` builds;
    one worker keeps one encoder per seed."""
    import torch

    from clipvg.batch import BatchWorker
    from clipvg.clip import load_clip
    from clipvg.config import EditSettings

    worker = BatchWorker(threads=1)

    def row(seed):
        return EditSettings(
            prompt="red", seed=seed, clip_model=tiny_model_name, clip_pretrained="none",
            device="cpu",
        )  # fmt: skip

    a, b, a_again = (
        worker.encoders.get(row(3)),
        worker.encoders.get(row(4)),
        worker.encoders.get(row(3)),
    )
    assert a is a_again and a is not b
    with pytest.warns(UserWarning, match="RANDOM weights"):
        expect = load_clip(tiny_model_name, "none", None, "cpu", seed=3)
    for got, want in zip(a.model.parameters(), expect.model.parameters(), strict=True):
        assert torch.equal(got, want)
    assert not all(
        torch.equal(x, y) for x, y in zip(a.model.parameters(), b.model.parameters(), strict=True)
    )

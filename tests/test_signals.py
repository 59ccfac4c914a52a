"""SIGTERM as SIGINT, and exact resume after either (clipvg.signals, the run loop, the CLI).

The signals are real: the test hook (``CLIPVG_TEST_SIGNAL``) makes the run send one to
its own process at iteration K, so every case is deterministic (no sleeping).
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from encoders import two_boxes

import clipvg
from clipvg.config import EditSettings
from clipvg.edit import run_edit
from clipvg.signals import TEST_HOOK_ENV, SignalStop, held_signals

EDIT = ["--prompt", "green", "--patches", "2", "--iters", "10", "--save-every", "0"]
# fp32: with ``--precision auto`` an AMX CPU takes bf16 autocast, and there a resumed run
# came out a few digits off the straight one (loss 104.5472 vs 104.4854 after 10
# iterations, Intel Xeon, 2026-12-02; an open defect). The exactness claimed here is fp32's.
EDIT += ["--seed", "3", "--device", "cpu", "--quiet", "--precision", "fp32"]


@pytest.fixture(scope="module")
def scene_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("in") / "in.svg"
    clipvg.save_svg(two_boxes(), path)
    return path


@pytest.fixture(scope="module")
def cli_tiny(tiny):
    from clipvg import encoders

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(encoders, "load_clip", lambda *a, **k: tiny)
        from clipvg import cli

        yield cli


@pytest.fixture(scope="module")
def straight(cli_tiny, scene_file, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("straight") / "out"
    assert cli_tiny.main(["edit", str(scene_file), *EDIT, "-o", str(out)]) == 0
    return out


def hook(monkeypatch, tmp_path, name: str, at: int) -> None:
    monkeypatch.setenv(TEST_HOOK_ENV, f"{name}:{at}:{tmp_path / 'sent'}")
    monkeypatch.setenv(TEST_HOOK_ENV + "_PID", str(os.getpid()))


@pytest.mark.parametrize("name", ["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("at", [1, 2, 5])
def test_edit_stopped_by_a_signal_resumes_to_the_uninterrupted_svg(
    cli_tiny, scene_file, straight, tmp_path, monkeypatch, capsys, name, at
):
    out = tmp_path / "out"
    hook(monkeypatch, tmp_path, name, at)
    code = cli_tiny.main(["edit", str(scene_file), *EDIT, "-o", str(out)])
    assert code == 128 + signal.Signals[name]
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"stopped by {name} at iteration {at}: wrote {out / 'latest.svg'} and run.json; "
        f"continue with --resume {out}"
    ]
    rec = json.loads((out / "run.json").read_text())
    assert (rec["status"], rec["iteration"]) == ("interrupted", at)
    assert (out / "checkpoint.pt").is_file() and not (out / "final.svg").exists()
    monkeypatch.delenv(TEST_HOOK_ENV)
    assert cli_tiny.main(["edit", "--resume", str(out), "--quiet"]) == 0
    assert (out / "final.svg").read_bytes() == (straight / "final.svg").read_bytes()
    losses = [h["loss"] for h in json.loads((out / "run.json").read_text())["history"]]
    assert losses == [h["loss"] for h in json.loads((straight / "run.json").read_text())["history"]]


class InterruptingEncoder:
    """The tiny CLIP, raising KeyboardInterrupt in the image pass once ``armed``: a
    Ctrl-C in the middle of an iteration, after it drew its crops."""

    def __init__(self, inner):
        self.inner, self.armed = inner, False

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def encode_image(self, images):
        if self.armed:
            self.armed = False
            raise KeyboardInterrupt
        return self.inner.encode_image(images)


def test_an_iteration_cut_in_the_middle_leaves_no_trace(tiny, scene_file, tmp_path):
    """The divergence issue 16 found: a Ctrl-C inside an iteration left the RNG advanced
    by that iteration's crops, so the resumed run drew other crops from then on."""
    st = EditSettings(input=str(scene_file), prompt="green", iters=6, patches=2, save_every=0)
    st = EditSettings.from_dict({**st.to_dict(), "device": "cpu", "seed": 4})
    _, _, whole = run_edit(st, tmp_path / "a", encoder=tiny, progress=False)
    enc = InterruptingEncoder(tiny)

    def arm(session, it, record):
        enc.armed = it == 3

    status, _, cut = run_edit(st, tmp_path / "b", encoder=enc, callback=arm, progress=False)
    assert status == "interrupted" and cut.iteration == 3
    status, _, _ = run_edit(st, tmp_path / "b", resume=True, encoder=tiny, progress=False)
    assert status == "finished"
    assert (tmp_path / "b" / "final.svg").read_text() == (tmp_path / "a" / "final.svg").read_text()
    assert whole.iteration == 6


def test_a_signal_inside_a_held_block_comes_after_it():
    got = []
    with SignalStop(polled=True) as stop:
        with held_signals(redeliver=True) as held:
            os.kill(os.getpid(), signal.SIGTERM)
            got.append(stop.is_set())
        assert held == [signal.SIGTERM] and got == [False]
        assert stop.is_set() and stop.exit_code == 143
        with pytest.raises(KeyboardInterrupt):  # a second signal abandons the iteration
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None) or callable(
        signal.getsignal(signal.SIGTERM)
    )


def test_a_command_that_does_not_poll_is_interrupted_at_once():
    with pytest.raises(KeyboardInterrupt) as info, SignalStop():
        os.kill(os.getpid(), signal.SIGTERM)
    assert info.value.signum == signal.SIGTERM


RUNNER = """
import json, sys, pathlib, open_clip
from clipvg.clip import tiny_config
d = pathlib.Path(sys.argv[1]); d.mkdir(exist_ok=True)
(d / "clipvg-test-tiny.json").write_text(json.dumps(tiny_config()))
open_clip.add_model_config(d)
from clipvg import cli
sys.exit(cli.main(sys.argv[2:]))
"""


def test_sigterm_to_a_real_edit_process_saves_and_exits_143(scene_file, tmp_path):
    """The whole process: the tiny CLIP by name, the real ``main``, a real SIGTERM."""
    runner = tmp_path / "runner.py"
    runner.write_text(RUNNER)
    out = tmp_path / "out"
    env = {**os.environ, TEST_HOOK_ENV: f"SIGTERM:2:{tmp_path / 'sent'}"}
    env.pop(TEST_HOOK_ENV + "_PID", None)
    clip = ["--clip-model", "clipvg-test-tiny", "--clip-pretrained", "none"]
    argv = [sys.executable, str(runner), str(tmp_path / "cfg"), "edit", str(scene_file)]
    proc = subprocess.run(
        [*argv, *EDIT, *clip, "-o", str(out)], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 143, proc.stderr
    lines = [x for x in proc.stderr.splitlines() if not x.startswith("warning: CLIP")]
    assert lines == [
        f"stopped by SIGTERM at iteration 2: wrote {out / 'latest.svg'} and run.json; "
        f"continue with --resume {out}"
    ]
    rec = json.loads((out / "run.json").read_text())
    assert (rec["status"], rec["iteration"]) == ("interrupted", 2)
    assert (out / "checkpoint.pt").is_file()


BATCH = ["--encoder-factory", "clipvg.clip:tiny_clip", "--quiet"]


@pytest.fixture(scope="module")
def batch_jobs(scene_file, tmp_path_factory) -> tuple[Path, Path]:
    """A two-row, 10-iteration jobs file, and the folder of its uninterrupted batch."""
    import yaml

    from clipvg import cli

    folder = tmp_path_factory.mktemp("batch")
    jobs = folder / "jobs.yaml"
    defaults = {"prompt": "green", "iters": 10, "patches": 2, "save_every": 0, "device": "cpu"}
    rows = [{"id": f"r{i}", "input": str(scene_file), "seed": i} for i in range(2)]
    jobs.write_text(yaml.safe_dump({"defaults": defaults, "jobs": rows}))
    assert cli.main(["batch", str(jobs), *BATCH, "-o", str(folder / "straight")]) == 0
    return jobs, folder / "straight"


@pytest.mark.parametrize("name", ["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("at", [1, 2, 5])
def test_a_signal_to_a_batch_stops_its_rows_and_they_resume_exactly(
    batch_jobs, tmp_path, monkeypatch, capsys, name, at
):
    """Two rows on in-process Ray, a real signal to the driver at a row's iteration K:
    exit 128 + signal, summary.csv "interrupted", and a re-run ends on the
    uninterrupted SVGs, byte for byte."""
    from clipvg import cli

    jobs, straight = batch_jobs
    batch = ["batch", str(jobs), *BATCH, "-o", str(tmp_path / "b")]
    hook(monkeypatch, tmp_path, name, at)
    assert cli.main([*batch, "--workers", "1"]) == 128 + signal.Signals[name]
    err = [x for x in capsys.readouterr().err.splitlines() if x.startswith("stopped by")]
    assert len(err) == 1 and err[0].startswith(f"stopped by {name}: "), err
    summary = (tmp_path / "b" / "summary.csv").read_text()
    assert "interrupted" in summary and "running" not in summary and "pending" not in summary
    monkeypatch.delenv(TEST_HOOK_ENV)
    assert cli.main(batch) == 0
    for row in ("r0", "r1"):
        want = (straight / row / "final.svg").read_bytes()
        assert (tmp_path / "b" / row / "final.svg").read_bytes() == want


# ---- serve and vectorize as real processes ------------------------------------------------
def start(tmp_path: Path, *argv: str) -> subprocess.Popen:
    """``clipvg ARGV`` in its own process (the tiny CLIP registered by name), unbuffered."""
    runner = tmp_path / "runner.py"
    runner.write_text(RUNNER)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for name in (TEST_HOOK_ENV, TEST_HOOK_ENV + "_PID"):
        env.pop(name, None)
    cmd = [sys.executable, str(runner), str(tmp_path / "cfg"), *argv]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen) -> tuple[int, list[str], list[str]]:
    """Exit code, stdout lines, stderr lines (CLIP's random-weights warning left out)."""
    out, err = proc.communicate(timeout=120)
    lines = [x for x in err.splitlines() if not x.startswith("warning: CLIP")]
    return proc.returncode, out.splitlines(), lines


@pytest.mark.parametrize("name", ["SIGTERM", "SIGINT"])
def test_a_signal_to_a_real_server_saves_the_running_edit_and_exits_128_plus_it(tmp_path, name):
    """``clipvg serve --port 0`` in its own process, an edit running through its HTTP API,
    then a real signal: the edit is saved "interrupted", and the server exits
    128 + signal with its stop line and no traceback."""
    import httpx

    clip = ["--clip-model", "clipvg-test-tiny", "--clip-pretrained", "none", "--device", "cpu"]
    workdir = tmp_path / "w"
    proc = start(tmp_path, "serve", "--port", "0", "--workdir", str(workdir), *clip)
    try:
        line = proc.stdout.readline()  # the address line, once the port is bound
        assert line.startswith("clipvg editor on http://127.0.0.1:"), line
        url = line.split()[3].rstrip("/")
        assert not url.endswith(":0")
        with httpx.Client(base_url=url, timeout=60) as c:
            svg = (Path(__file__).parent / "data" / "svg" / "shapes.svg").read_bytes()
            scene = c.post("/api/scenes", files={"file": ("in.svg", svg)}).json()["id"]
            body = {"scene": scene, "prompt": "red", "iters": 100_000, "patches": 1}
            edit = c.post("/api/edits", json={**body, "save_every": 0}).json()["id"]
            for _ in range(600):
                if c.get(f"/api/edits/{edit}").json().get("iteration", 0) >= 1:
                    break
                time.sleep(0.1)
            else:
                raise AssertionError("the edit never ran an iteration")
        proc.send_signal(signal.Signals[name])
        code, out, err = finish(proc)
    finally:
        proc.kill()
        proc.wait()
    assert code == 128 + signal.Signals[name], err
    assert out == [f"stopped by {name}; every run's latest state is saved"], out
    assert err == [], err
    record = json.loads((workdir / "runs" / edit / "run.json").read_text())
    assert record["status"] == "interrupted" and record["iteration"] >= 1


def test_sigterm_to_a_real_vectorize_mid_refinement_exits_143_leaving_no_output(tmp_path):
    """``clipvg vectorize`` refining (its progress on stderr says so), then SIGTERM:
    exit 143, one line, and neither the output nor a temporary file next to it."""
    import numpy as np
    from PIL import Image

    g = np.random.default_rng(0)
    Image.fromarray((g.random((96, 96, 3)) * 255).astype(np.uint8)).save(tmp_path / "in.png")
    out = tmp_path / "out" / "v.svg"
    argv = ["vectorize", str(tmp_path / "in.png"), "-o", str(out), "--refine-iters", "100000"]
    proc = start(tmp_path, *argv)
    try:
        seen = ""
        while "refining" not in seen:  # tqdm redraws its bar with \r: read characters
            char = proc.stderr.read(1)
            assert char, f"vectorize ended before refining: {seen[-300:]}"
            seen += char
        proc.send_signal(signal.SIGTERM)
        code, _, err = finish(proc)
    finally:
        proc.kill()
        proc.wait()
    assert code == 143, err
    lines = [x for x in err if x.strip() and "|" not in x]  # "|": a progress bar
    assert lines == ["interrupted (SIGTERM)"], err
    assert not out.exists()
    assert not out.parent.exists() or list(out.parent.iterdir()) == []

"""The one launcher (clipvg.launch): settings layers, the resume rule, the seed rule, the
stop flag, and runs begun by one front end and resumed by another."""

from __future__ import annotations

import json
import threading
import time

import pytest

from clipvg.config import EditSettings
from clipvg.errors import ClipvgError, SettingError
from clipvg.launch import EncoderCache, decide_resume, launch, settings_from_layers

SVG = b"""<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">
<rect width="64" height="64" fill="#ddeeff"/>
<rect x="8" y="8" width="24" height="20" fill="#ff0000"/>
<circle cx="44" cy="40" r="14" fill="#00aa44"/>
</svg>"""
FAST = {"patches": 2, "save_every": 0}


@pytest.fixture
def svg(tmp_path):
    path = tmp_path / "in.svg"
    path.write_bytes(SVG)
    return path


def iterations(folder) -> tuple[int, int]:
    record = json.loads((folder / "run.json").read_text())
    return record["iteration"], len(record["history"])


def test_layers_later_wins_vectorize_merges_and_unknowns_name_the_source():
    s = settings_from_layers(
        {"iters": 5, "preset": "fast", "seed": 1},
        {"iters": None, "vectorize": {"max_paths": 9}, "shape-lr": 0.5},
        {"seed": 2},
    )
    assert (s.iters, s.seed, s.shape_lr) == (5, 2, 0.5)
    assert s.vectorize == {"preset": "fast", "max_paths": 9}
    with pytest.raises(SettingError, match="jobs.csv: unknown setting"):
        settings_from_layers({"colour": 1}, source="jobs.csv")


def test_rules_are_worded_by_setting_name_and_spelled_by_the_front_end():
    from clipvg import cli

    with pytest.raises(SettingError) as err:
        EditSettings(edit_only=True)
    assert str(err.value).startswith("edit_only needs at least one region in rois")
    assert err.value.spelled(cli.flag_name).startswith("--edit-only needs at least one region")
    assert "--" not in str(err.value)


def test_decide_resume_is_one_rule(svg, tiny, tmp_path):
    fresh = EditSettings(input=str(svg), prompt="red", iters=2, **FAST)
    out = tmp_path / "run"
    assert decide_resume(out, fresh) == (fresh, False)
    launch(fresh, out, encoders=EncoderCache(lambda s: tiny), progress=False)
    settings, resume = decide_resume(out, EditSettings(prompt="other"), overrides={"iters": 4})
    assert resume and (settings.prompt, settings.iters) == ("red", 4)  # the run's own settings
    with pytest.raises(ValueError):
        decide_resume(tmp_path / "empty")


def test_a_set_stop_flag_ends_the_run_between_iterations(svg, tiny, tmp_path):
    stop = threading.Event()
    seen = []

    def callback(session, iteration, record):
        seen.append(iteration)
        if iteration == 2:
            stop.set()

    s = EditSettings(input=str(svg), prompt="red", iters=10, **FAST)
    result = launch(
        s,
        tmp_path / "run",
        encoders=EncoderCache(lambda s: tiny),
        stop=stop,
        callback=callback,
        progress=False,
    )
    assert result.status == "interrupted" and result.iteration == 2 and seen == [1, 2]
    assert iterations(tmp_path / "run") == (2, 2)


@pytest.mark.filterwarnings("ignore:CLIP .*RANDOM weights")
def test_web_runs_honour_the_seed_random_weights_included(svg, tiny_model_name, tmp_path):
    """The same page request twice gives bit-identical results; CLIP's random weights
    come from the request's seed."""
    from fastapi.testclient import TestClient

    from clipvg.serve import create_app

    app = create_app(
        tmp_path / "work", clip_model=tiny_model_name, clip_pretrained="none", device="cpu",
        preview_interval=0, preview_budget=None,
    )  # fmt: skip
    body = {"prompt": "a painting", "iters": 2, "seed": 7, "random_weights": True, **FAST}
    finals, keys = [], []
    with TestClient(app) as c:
        sid = c.post("/api/scenes", files={"file": ("in.svg", SVG)}).json()["id"]
        for _ in range(2):
            jid = c.post("/api/edits", json={"scene": sid, **body}).json()["id"]
            end = time.monotonic() + 120
            while c.get(f"/api/edits/{jid}").json()["status"] not in ("done", "failed"):
                assert time.monotonic() < end
                time.sleep(0.05)
            assert c.get(f"/api/edits/{jid}").json()["status"] == "done"
            finals.append((tmp_path / "work" / "runs" / jid / "final.svg").read_bytes())
        keys = app.app.state.jobs.encoders.keys()
    assert finals[0] == finals[1]
    assert keys == [(tiny_model_name, "none", None, "cpu", 7)]  # seeded by the request


def test_batch_resumes_a_run_begun_by_the_cli(svg, tiny, tmp_path, monkeypatch):
    from clipvg import cli, encoders
    from clipvg.batch import BatchWorker

    monkeypatch.setattr(encoders, "load_clip", lambda *a, **k: tiny)
    out = tmp_path / "row"
    base = ["edit", str(svg), "--prompt", "red", "--patches", "2", "--save-every", "0"]
    assert cli.main([*base, "--iters", "2", "-o", str(out), "--quiet"]) == 0
    worker = BatchWorker(threads=1, encoder_factory="clipvg.clip:tiny_clip")
    worker._node = "here"  # no Ray in this test
    row = EditSettings(input=str(svg), prompt="red", iters=4, **FAST)
    result = worker.run(row.to_dict(), str(out))
    assert (result["status"], result["iterations"]) == ("done", 4)
    assert iterations(out) == (4, 4)


def test_cli_resumes_a_run_begun_by_a_batch_worker(svg, tiny, tmp_path, monkeypatch):
    from clipvg import cli, encoders
    from clipvg.batch import BatchWorker

    monkeypatch.setattr(encoders, "load_clip", lambda *a, **k: tiny)
    out = tmp_path / "row"
    worker = BatchWorker(threads=1, encoder_factory="clipvg.clip:tiny_clip")
    worker._node = "here"
    row = EditSettings(input=str(svg), prompt="red", iters=2, **FAST)
    assert worker.run(row.to_dict(), str(out))["status"] == "done"
    assert cli.main(["edit", "--resume", str(out), "--iters", "3", "--quiet"]) == 0
    assert iterations(out) == (3, 3)


def test_the_page_resumes_a_run_begun_by_the_cli(svg, tiny, tmp_path, monkeypatch):
    from fastapi.testclient import TestClient

    from clipvg import cli, encoders
    from clipvg.serve import create_app

    monkeypatch.setattr(encoders, "load_clip", lambda *a, **k: tiny)
    jid = "0123456789abcdef"
    out = tmp_path / "work" / "runs" / jid
    base = ["edit", str(svg), "--prompt", "red", "--patches", "2", "--save-every", "0"]
    assert cli.main([*base, "--iters", "2", "-o", str(out), "--quiet"]) == 0
    app = create_app(tmp_path / "work", lambda r: tiny, preview_interval=0, preview_budget=None)
    with TestClient(app) as c:
        assert c.post(f"/api/edits/{jid}/resume", json={"iters": 3}).status_code == 200
        end = time.monotonic() + 60
        while c.get(f"/api/edits/{jid}").json()["status"] != "done":
            assert time.monotonic() < end
            time.sleep(0.05)
    assert iterations(out) == (3, 3)


def test_library_errors_name_no_cli_flag(svg, tiny, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "x").write_text("keep")
    s = EditSettings(input=str(svg), prompt="red", iters=1, **FAST)
    with pytest.raises(ClipvgError) as err:
        launch(s, out, encoders=EncoderCache(lambda s: tiny), progress=False)
    assert "overwrite" in str(err.value) and "--" not in str(err.value)

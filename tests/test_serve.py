"""The web editor's JSON API through the ASGI test client, with a tiny random CLIP."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("multipart")

from starlette.testclient import TestClient  # noqa: E402

from clipvg.serve import create_app  # noqa: E402
from clipvg.svg import parse_svg_string  # noqa: E402

SMALL_SVG = b"""<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">
<rect width="64" height="64" fill="#ddeeff"/>
<rect x="8" y="8" width="24" height="20" fill="#ff0000"/>
<circle cx="44" cy="40" r="14" fill="#00aa44"/>
</svg>"""
HOSTILE_SVG = b"""<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"
 width="64" height="64" onload="alert(1)">
<script>alert('owned')</script>
<image href="http://evil.example/x.png" width="64" height="64"/>
<image xlink:href="https://evil.example/y.svg" width="10" height="10"/>
<foreignObject width="10" height="10"><div xmlns="http://www.w3.org/1999/xhtml">hi</div></foreignObject>
<rect width="64" height="64" fill="blue" onclick="alert(2)"/>
<a href="javascript:alert(3)"><rect x="4" y="4" width="8" height="8" fill="red"/></a>
</svg>"""
FAST = {"patches": 2, "save_every": 0}


@pytest.fixture
def client(tiny, tmp_path):
    app = create_app(
        tmp_path / "work", lambda random_weights: tiny, preview_interval=0, preview_budget=None
    )
    with TestClient(app) as c:
        c.workdir = tmp_path / "work"
        yield c


def upload(c, data: bytes, name: str = "in.svg", **form) -> dict:
    r = c.post("/api/scenes", files={"file": (name, data)}, data=form)
    assert r.status_code in (201, 202), r.text
    return r.json()


def wait_status(c, jid: str, want: tuple[str, ...], timeout: float = 60.0) -> dict:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        s = c.get(f"/api/edits/{jid}").json()
        if s["status"] in want:
            return s
        time.sleep(0.02)
    raise AssertionError(f"edit {jid} never reached {want}: {s}")


def wait_iteration(c, jid: str, n: int, timeout: float = 60.0) -> dict:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        s = c.get(f"/api/edits/{jid}").json()
        if s["iteration"] >= n or s["status"] in ("done", "failed"):
            return s
        time.sleep(0.02)
    raise AssertionError(f"edit {jid} did not reach iteration {n}")


def events(c, jid: str, after: int = -1) -> list[tuple[str, dict]]:
    out = []
    with c.stream("GET", f"/api/edits/{jid}/events?after={after}") as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        kind = None
        for line in r.iter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                out.append((kind, json.loads(line[6:])))
    return out


def test_svg_upload_is_served_as_our_reexport(client):
    info = upload(client, SMALL_SVG)
    assert info["status"] == "ready" and info["paths"] == 3
    assert (info["width"], info["height"]) == (64, 64)
    svg = client.get(f"/api/scenes/{info['id']}/svg")
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert parse_svg_string(svg.text).num_paths == 3
    folder = client.workdir / "scenes" / info["id"]
    # the uploaded bytes are not kept anywhere; the PNG is rendered when first asked for
    assert sorted(p.name for p in folder.iterdir()) == ["scene.json", "scene.svg"]
    png = client.get(f"/api/scenes/{info['id']}/png")
    assert png.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert (folder / "scene.png").read_bytes() == png.content
    assert client.get(f"/api/scenes/{info['id']}/png").content == png.content
    assert client.get(f"/api/scenes/{info['id']}").json()["status"] == "ready"
    assert sorted(p.name for p in folder.iterdir()) == ["scene.json", "scene.png", "scene.svg"]


def test_hostile_svg_loses_scripts_handlers_and_external_refs(client):
    info = upload(client, HOSTILE_SVG, name="../../evil.svg")
    text = client.get(f"/api/scenes/{info['id']}/svg").text.lower()
    for bad in (
        "script",
        "onload",
        "onclick",
        "evil.example",
        "foreignobject",
        "javascript",
        "href",
    ):
        assert bad not in text, bad
    assert parse_svg_string(text).num_paths == 2  # the two rects, nothing else
    assert any("<image>" in n for n in info["notes"])  # what was dropped is reported
    assert info["name"] == "evil.svg"  # display name only; the folder is the random id
    assert not (client.workdir.parent / "evil.svg").exists()


def test_every_response_has_a_csp_that_forbids_inline_and_remote_script(client):
    for url in ("/", "/static/app.js", "/api/info", "/api/edits/0000000000000000"):
        csp = client.get(url).headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "http" not in csp
    page = client.get("/").text
    assert '<script type="module" src="/static/app.js">' in page  # no inline script
    assert "<script>" not in page and "onclick" not in page


def test_raster_is_vectorized_in_the_background(client):
    from PIL import Image

    yy, xx = np.mgrid[0:48, 0:64]
    rgb = np.stack([xx * 4, yy * 5, (xx + yy) * 2], -1).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    info = upload(client, buf.getvalue(), name="photo.png", preset="fast")
    assert info["kind"] == "raster"
    end = time.monotonic() + 60
    while info["status"] == "processing" and time.monotonic() < end:
        time.sleep(0.05)
        info = client.get(f"/api/scenes/{info['id']}").json()
    assert info["status"] == "ready", info
    assert (info["width"], info["height"]) == (64, 48) and info["paths"] > 1
    assert client.get(f"/api/scenes/{info['id']}/png").status_code == 200
    assert not list((client.workdir / "scenes" / info["id"]).glob("source*"))


def test_scene_long_poll_answers_when_the_picture_is_ready(client):
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.full((40, 56, 3), (20, 90, 160), np.uint8)).save(buf, format="PNG")
    info = upload(client, buf.getvalue(), name="flat.png", preset="fast")
    assert info["status"] == "processing"
    t = time.monotonic()
    ready = client.get(f"/api/scenes/{info['id']}?wait=30").json()  # one request, no polling
    assert ready["status"] == "ready" and ready["paths"] >= 1 and time.monotonic() - t < 30
    again = client.get(f"/api/scenes/{info['id']}?wait=30").json()  # settled: answered at once
    assert again["status"] == "ready"
    assert client.get("/api/scenes/0123456789abcdef?wait=1").status_code == 404


def test_edit_streams_events_and_writes_the_cli_run_folder(client):
    sid = upload(client, SMALL_SVG)["id"]
    body = {
        "scene": sid,
        "prompt": "a painting",
        "rois": [
            {"box": [4, 4, 30, 30], "prompt": "a red square"},
            {"polygon": [[30, 30], [60, 30], [45, 60]], "prompt": "a tree"},
        ],
        "iters": 3,
        "lock": "shape",
        "seed": 3,
        **FAST,
    }
    r = client.post("/api/edits", json=body)
    assert r.status_code == 201, r.text
    jid = r.json()["id"]
    evs = events(client, jid)
    iters = [d["iter"] for k, d in evs if k == "iter"]
    assert iters == [1, 2, 3]
    assert all(len(d["rois"]) == 3 for k, d in evs if k == "iter")
    assert [k for k, _ in evs].count("preview") >= 3
    assert evs[-1][0] == "status" and evs[-1][1]["status"] == "done"
    status = client.get(f"/api/edits/{jid}").json()
    assert status["iteration"] == 3 and len(status["losses"]) == 3
    folder = client.workdir / "runs" / jid
    for name in (
        "final.svg",
        "final.png",
        "latest.svg",
        "initial.svg",
        "checkpoint.pt",
        "run.json",
    ):
        assert (folder / name).is_file(), name
    record = json.loads(client.get(f"/api/edits/{jid}/run.json").text)
    assert record["status"] == "finished" and record["settings"]["lock"] == ["shape"]
    assert record["settings"]["rois"][1]["polygon"] == [[30, 30], [60, 30], [45, 60]]
    svg = client.get(f"/api/edits/{jid}/svg?download=1")
    assert "attachment" in svg.headers["content-disposition"]
    assert svg.text == (folder / "final.svg").read_text(encoding="utf-8")
    png = client.get(f"/api/edits/{jid}/png")
    assert png.content[:4] == b"\x89PNG"
    listed = client.get("/api/edits").json()["edits"]
    assert [e["id"] for e in listed] == [jid]


def test_stop_resume_and_a_queued_second_job(client):
    sid = upload(client, SMALL_SVG)["id"]
    body = {"scene": sid, "prompt": "a painting", "iters": 100_000, **FAST}
    first = client.post("/api/edits", json=body).json()["id"]
    second = client.post("/api/edits", json={**body, "iters": 2}).json()
    wait_status(client, first, ("running",))
    s2 = client.get(f"/api/edits/{second['id']}").json()
    assert s2["status"] == "queued" and s2["queue_position"] == 1
    wait_iteration(client, first, 2)
    assert client.post(f"/api/edits/{first}/stop").status_code == 200
    stopped = wait_status(client, first, ("stopped",))
    assert stopped["resumable"] and 2 <= stopped["iteration"] < 100_000
    wait_status(client, second["id"], ("done",))
    # stop keeps the latest state on disk, as Ctrl-C does for the CLI
    record = json.loads((client.workdir / "runs" / first / "run.json").read_text())
    assert record["status"] == "interrupted" and record["iteration"] == stopped["iteration"]
    # resume continues from the checkpoint up to the new iteration count
    target = stopped["iteration"] + 2
    r = client.post(f"/api/edits/{first}/resume", json={"iters": target})
    assert r.status_code == 200, r.text
    done = wait_status(client, first, ("done",))
    assert done["iteration"] == target
    record = json.loads((client.workdir / "runs" / first / "run.json").read_text())
    assert [h["iter"] for h in record["history"]] == list(range(1, target + 1))
    # SSE resumes after the last seen event
    evs = events(client, first, after=0)
    assert evs and all(k != "status" or d["id"] == first for k, d in evs)
    r = client.post(f"/api/edits/{first}/resume", json={"iters": target})
    assert r.status_code == 400 and "ask for more" in r.json()["error"]


def test_runs_on_disk_are_listed_and_resumed_after_restart(tiny, tmp_path):
    from clipvg.config import EditSettings
    from clipvg.edit import run_edit

    work = tmp_path / "work"
    svg = tmp_path / "in.svg"
    svg.write_bytes(SMALL_SVG)
    settings = EditSettings(input=str(svg), prompt="a painting", iters=2, **FAST)
    jid = "0123456789abcdef"
    run_edit(settings, work / "runs" / jid, encoder=tiny, progress=False)  # what cli.py edit writes
    app = create_app(work, lambda random_weights: tiny, preview_interval=0, preview_budget=None)
    with TestClient(app) as c:
        listed = c.get("/api/edits").json()["edits"]
        assert [(e["id"], e["status"], e["iteration"]) for e in listed] == [(jid, "done", 2)]
        assert c.get(f"/api/edits/{jid}/png").status_code == 200
        assert c.post(f"/api/edits/{jid}/resume", json={"iters": 3}).status_code == 200
        assert wait_status(c, jid, ("done",))["iteration"] == 3


@pytest.mark.parametrize(
    "url",
    [
        "/api/scenes/..%2F..%2Fetc%2Fpasswd/svg",
        "/api/scenes/%2Fetc%2Fpasswd/png",
        "/api/edits/..%2Fscenes/run.json",
        "/api/edits/%2Fetc%2Fpasswd",
        "/api/edits/../../etc/passwd",
        "/static/..%2F..%2F..%2Fcli.py",
        "/api/scenes/0123456789abcdef/svg",
        "/api/edits/0123456789abcdef/svg",
        "/api/scenes/0123456789abcdef%0A/svg",  # an id with a trailing newline (issue 16)
        "/api/edits/0123456789abcdef%0A",
    ],
)
def test_paths_and_unknown_ids_get_a_json_404(client, url):
    r = client.get(url)
    assert r.status_code == 404, (url, r.status_code)
    if url.startswith("/api/"):
        assert list(r.json()) == ["error"] and "Traceback" not in r.text


@pytest.mark.parametrize(
    "body, message",
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"prompt": "x"}', "scene"),
        (b'{"scene": "0123456789abcdef", "prompt": "x"}', "unknown scene"),
    ],
)
def test_bad_edit_requests_get_one_message(client, body, message):
    r = client.post("/api/edits", content=body, headers={"content-type": "application/json"})
    assert 400 <= r.status_code < 500
    assert list(r.json()) == ["error"] and message in r.json()["error"]


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"rois": [{"box": [1, 2, 3], "prompt": "x"}]}, "box must be"),
        ({"rois": [{"box": [1, 2, 3, 4]}]}, "ROI 1: missing prompt"),
        ({"rois": [{"box": [1, 2, 30, 30], "polygon": [[0, 0]], "prompt": "x"}]}, "exactly one"),
        ({"rois": [{"box": [100, 100, 30, 30], "prompt": "x"}]}, "ROI 1"),
        ({"lock": "everything"}, "lock must be"),
        ({"iters": 0}, "iters"),
        ({"iters": "many"}, "iters"),
        ({"colour": "red"}, "unknown setting(s) colour"),
        ({"edit_only": True}, "edit_only needs"),
        ({"prompt": ""}, "empty prompt"),
    ],
)
def test_bad_edit_fields(client, fields, message):
    sid = upload(client, SMALL_SVG)["id"]
    r = client.post("/api/edits", json={"scene": sid, "prompt": "a painting", **fields})
    assert r.status_code == 400, r.text
    assert message in r.json()["error"]


def test_oversized_and_bad_uploads(tiny, tmp_path):
    app = create_app(tmp_path, lambda r: tiny, max_upload_bytes=2000)
    with TestClient(app) as c:
        r = c.post("/api/scenes", files={"file": ("big.svg", b"<svg>" + b" " * 5000 + b"</svg>")})
        assert r.status_code == 413 and "upload limit" in r.json()["error"]
        r = c.post("/api/scenes", files={"file": ("x.txt", b"hello world")})
        assert r.status_code == 400 and "unsupported file" in r.json()["error"]
        r = c.post("/api/scenes", files={"file": ("x.svg", b"<svg><g>")})
        assert r.status_code == 400 and "not a valid SVG" in r.json()["error"]
        r = c.post("/api/scenes", files={"preset": (None, "fast")})  # multipart, no file
        assert r.status_code == 400 and "'file'" in r.json()["error"]
        r = c.post("/api/scenes", files={"example": (None, "../../cli.py")})
        assert r.status_code == 400 and "unknown example" in r.json()["error"]
    assert not (tmp_path / "scenes").exists() or not any((tmp_path / "scenes").iterdir())


def test_missing_weights_are_reported_with_the_cli_message(tmp_path):
    from clipvg.clip import no_weights_message, weights_cached

    if weights_cached("ViT-B-32", "openai"):
        pytest.skip("ViT-B-32 weights are cached on this machine")
    app = create_app(tmp_path, clip_model="ViT-B-32", clip_pretrained="openai")
    with TestClient(app) as c:
        clip = c.get("/api/info").json()["clip"]
    assert clip["ready"] is False
    assert clip["message"] == no_weights_message("ViT-B-32", "openai")


def test_cli_serve_refuses_bad_flags(capsys):
    from clipvg import cli

    assert cli.main(["serve", "--max-upload-mb", "0"]) == 2
    assert "--max-upload-mb" in capsys.readouterr().err


def test_examples_are_offered(client):
    names = client.get("/api/info").json()["examples"]
    assert "landscape.svg" in names
    r = client.post("/api/scenes", files={"example": (None, "landscape.svg")})
    assert r.status_code == 201 and r.json()["paths"] > 0


del Path


def test_shutdown_stops_the_running_edit_and_keeps_its_state(tiny, tmp_path):
    """Ctrl-C on the server ends the lifespan: the running edit saves like the CLI's Ctrl-C."""
    app = create_app(tmp_path, lambda r: tiny, preview_interval=0, preview_budget=None)
    with TestClient(app) as c:
        sid = upload(c, SMALL_SVG)["id"]
        jid = c.post(
            "/api/edits", json={"scene": sid, "prompt": "x", "iters": 100_000, **FAST}
        ).json()["id"]
        wait_iteration(c, jid, 2)
    record = json.loads((tmp_path / "runs" / jid / "run.json").read_text())
    assert record["status"] == "interrupted" and record["iteration"] >= 2
    assert (tmp_path / "runs" / jid / "latest.svg").is_file()
    with TestClient(create_app(tmp_path, lambda r: tiny)) as c:
        s = c.get(f"/api/edits/{jid}").json()
        assert s["status"] == "stopped" and s["resumable"] and s["iteration"] == record["iteration"]


def test_previews_stay_within_their_time_budget(tiny, tmp_path):
    """With a budget B, a preview costing c is followed by c / B seconds without one, so
    all previews but the last in-loop one and the final one take at most B of the run."""
    app = create_app(tmp_path, lambda r: tiny, preview_interval=0, preview_budget=0.05)
    with TestClient(app) as c:
        sid = upload(c, SMALL_SVG)["id"]
        body = {"scene": sid, "prompt": "x", "iters": 30, **FAST}
        jid = c.post("/api/edits", json=body).json()["id"]
        wait_status(c, jid, ("done",))
        job = app.app.state.jobs.get(jid)
    timings = json.loads((tmp_path / "runs" / jid / "run.json").read_text())["timings"]
    wall = timings["total_s"] - timings["setup_s"]
    costs = job.preview_costs
    assert len(costs) >= 2
    assert sum(costs[:-2]) <= 0.05 * wall


def test_exemplar_images_replace_prompts(client):
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(buf, format="JPEG")
    r = client.post("/api/images", files={"file": ("ref.jpg", buf.getvalue())})
    assert r.status_code == 201, r.text
    iid = r.json()["id"]
    assert client.get(f"/api/images/{iid}").content[:4] == b"\x89PNG"
    sid = upload(client, SMALL_SVG)["id"]
    body = {
        "scene": sid,
        "prompt": "a painting",
        "rois": [{"box": [4, 4, 30, 30], "image": iid}],
        "iters": 1,
        **FAST,
    }
    jid = client.post("/api/edits", json=body).json()["id"]
    done = wait_status(client, jid, ("done", "failed"))
    assert done["status"] == "done", done["error"]
    assert done["rois"] == ["exemplar image"]
    record = json.loads(client.get(f"/api/edits/{jid}/run.json").text)
    assert record["rois"][1]["image"].endswith(iid + ".png")
    r = client.post("/api/images", files={"file": ("x.svg", SMALL_SVG)})
    assert r.status_code == 400 and "PNG, JPEG or WebP" in r.json()["error"]
    r = client.post(
        "/api/edits", json={**body, "rois": [{"box": [4, 4, 30, 30], "image": "0" * 16}]}
    )
    assert r.status_code == 404 and "unknown image" in r.json()["error"]


def test_vectorizing_child_writes_the_svg_and_times_its_stages(tmp_path):
    from PIL import Image

    from clipvg.serve.vectorizer import vectorize_into

    Image.fromarray(np.full((24, 32, 3), (200, 40, 10), np.uint8)).save(tmp_path / "in.png")
    result = vectorize_into(str(tmp_path / "in.png"), str(tmp_path), "balanced")
    assert (result["width"], result["height"]) == (32, 24) and result["paths"] >= 1
    assert list(result["timings"]) == ["segment", "trace", "colors", "refine", "svg"]
    assert all(0 <= v < 60 for v in result["timings"].values())
    assert parse_svg_string((tmp_path / "scene.svg").read_text()).num_paths == result["paths"]
    assert not (tmp_path / "scene.png").exists()  # rendered only when the page asks

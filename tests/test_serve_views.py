"""The server side of the page's features: setup stages, estimates, candidates,
download names, restoring a run's request, locked layers (through the ASGI client)."""

from __future__ import annotations

import time

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("multipart")

import test_serve  # noqa: E402
from test_serve import FAST, SMALL_SVG, events, upload, wait_status  # noqa: E402

from clipvg.config import EditSettings  # noqa: E402
from clipvg.serve.stages import crops_per_iteration, estimate, picture_passes, prompt_count  # noqa: E402
from clipvg.serve.views import file_name, slug  # noqa: E402

client = test_serve.client  # the same fixture: a tiny CLIP behind the ASGI client
GROUPED_SVG = b"""<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">
<g id="round-1"><rect width="64" height="64" fill="#ddeeff"/></g>
<g id="round-2"><rect x="8" y="8" width="24" height="20" fill="#ff0000"/>
<circle cx="44" cy="40" r="14" fill="#00aa44"/></g>
</svg>"""


def test_stages_are_reported_before_the_first_iteration(client):
    sid = upload(client, SMALL_SVG)["id"]
    body = {"scene": sid, "prompt": "a painting", "iters": 2, **FAST}
    body["rois"] = [{"box": [4, 4, 30, 30], "prompt": "a red square"}]
    jid = client.post("/api/edits", json=body).json()["id"]
    evs = events(client, jid)
    stages = [d["stage"] for k, d in evs if k == "status" and d["stage"]]
    names = [s["name"] for s in stages]
    assert names[0] == "loading CLIP"
    prompts = [(s["done"], s["total"]) for s in stages if s["name"] == "encoding prompts"]
    assert prompts == [(1, 3), (2, 3), (3, 3)]  # whole image, the region, "photo"
    picture = [s for s in stages if s["name"] == "encoding the picture"]
    assert picture and picture[-1]["done"] == picture[-1]["total"]
    first_iter = next(i for i, (k, _) in enumerate(evs) if k == "iter")
    last_stage = max(i for i, (k, d) in enumerate(evs) if k == "status" and d["stage"])
    assert last_stage < first_iter
    assert evs[-1][1]["stage"] is None and evs[-1][1]["status"] == "done"


def test_counts_follow_the_settings():
    s = EditSettings(prompt="a", rois=[{"x": 0, "y": 0, "w": 4, "h": 4, "prompt": "a"}], patches=3)
    assert crops_per_iteration(s) == 8
    assert prompt_count(s) == 2  # "a" once, and "photo"
    s.batch_size = 16
    assert picture_passes(s) == 2 * 2  # 8 * 4 = 32 warps per ROI in passes of 16


def test_estimate_scales_measured_seconds_with_the_crops():
    ran = EditSettings(prompt="a", patches=3)  # 4 crops per iteration
    assert estimate(ran, [])["total_s"] is None
    out = estimate(EditSettings(prompt="a", patches=7, iters=10, candidates=2), [(ran, 2.0, 5.0)])
    assert out["seconds_per_iter"] == pytest.approx(4.0)
    assert out["total_s"] == pytest.approx(2 * (5.0 + 40.0))
    assert out["runs"] == 1


def test_estimate_route_uses_this_servers_runs(client):
    sid = upload(client, SMALL_SVG)["id"]
    body = {"scene": sid, "prompt": "a painting", "iters": 3, **FAST}
    r = client.post("/api/estimate", json=body).json()
    assert r["total_s"] is None and r["runs"] == 0 and r["clip_loaded"] is False
    jid = client.post("/api/edits", json=body).json()["id"]
    wait_status(client, jid, ("done",))
    r = client.post("/api/estimate", json={**body, "iters": 30}).json()
    assert r["runs"] == 1 and r["clip_loaded"] is True
    assert r["total_s"] == pytest.approx(r["setup_s"] + 30 * r["seconds_per_iter"], abs=0.2)


def test_downloads_are_named_after_the_input_and_the_prompt(client):
    assert slug("A Watercolor painting, très belle!") == "a-watercolor-painting-tres-belle"
    assert file_name("pitt", "", ".svg") == "pitt.svg"
    sid = upload(client, SMALL_SVG, name="my house.svg")["id"]
    body = {"scene": sid, "prompt": "A watercolor painting", "iters": 1, **FAST}
    jid = client.post("/api/edits", json=body).json()["id"]
    wait_status(client, jid, ("done",))
    for what, name in (
        ("svg", "my-house-a-watercolor-painting.svg"),
        ("png", "my-house-a-watercolor-painting.png"),
        ("run.json", "my-house-a-watercolor-painting-run.json"),
    ):
        header = client.get(f"/api/edits/{jid}/{what}?download=1").headers
        assert header["content-disposition"] == f'attachment; filename="{name}"'


def test_a_running_edit_gives_back_its_request(client):
    sid = upload(client, SMALL_SVG)["id"]
    rois = [
        {"box": [4, 4, 30, 30], "prompt": "a red square", "weight": 2.0},
        {"polygon": [[30, 30], [60, 30], [45, 60]], "prompt": "a tree"},
    ]
    body = {"scene": sid, "prompt": "a painting", "iters": 100_000, "rois": rois, **FAST}
    body["lock"] = "color"
    jid = client.post("/api/edits", json=body).json()["id"]
    wait_status(client, jid, ("running",))
    req = client.get(f"/api/edits/{jid}").json()["request"]
    client.post(f"/api/edits/{jid}/stop", json={})
    assert req["prompt"] == "a painting" and req["lock"] == "color" and req["patches"] == 2
    assert req["rois"][0] == {"box": [4, 4, 30, 30], "prompt": "a red square", "weight": 2.0}
    assert req["rois"][1]["polygon"] == [[30, 30], [60, 30], [45, 60]]
    wait_status(client, jid, ("stopped",))


def test_candidates_are_ranked_and_each_picture_served(client):
    sid = upload(client, SMALL_SVG)["id"]
    body = {"scene": sid, "prompt": "a painting", "iters": 2, "candidates": 3, "seed": 5, **FAST}
    jid = client.post("/api/edits", json=body).json()["id"]
    seen = set()
    end = time.monotonic() + 60
    while (s := client.get(f"/api/edits/{jid}").json())["status"] != "done":
        seen.add(s["candidate"])
        assert time.monotonic() < end
        time.sleep(0.01)
    ranking = s["ranking"]
    assert [c["rank"] for c in ranking] == [1, 2, 3]
    assert sorted(c["seed"] for c in ranking) == [5, 6, 7]
    assert ranking[0]["score"] >= ranking[-1]["score"]
    assert seen <= {1, 2, 3} and s["candidates"] == 3
    for c in ranking:
        svg = client.get(f"/api/edits/{jid}/candidates/{c['seed']}/svg")
        assert svg.status_code == 200 and "<svg" in svg.text
    assert client.get(f"/api/edits/{jid}/candidates/9/svg").status_code == 400
    r = client.post("/api/edits", json={**body, "candidates": 50})
    assert "candidates must be between 1 and 8" in r.json()["error"]


def test_locked_layers_stay_as_they_are(client):
    sid = upload(client, GROUPED_SVG)["id"]
    body = {"scene": sid, "prompt": "a painting", "iters": 3, "freeze": ["round-1"], **FAST}
    body["color_lr"] = 0.1
    jid = client.post("/api/edits", json=body).json()["id"]
    wait_status(client, jid, ("done",))
    before = client.get(f"/api/scenes/{sid}/svg").text
    after = client.get(f"/api/edits/{jid}/svg").text
    first = [t.split("</g>")[0] for t in (before, after)]
    assert first[0].split('id="round-1"')[1] == first[1].split('id="round-1"')[1]
    assert before.split('id="round-2"')[1] != after.split('id="round-2"')[1]
    r = client.post("/api/edits", json={**body, "freeze": "round-1"})
    assert "freeze must be a list" in r.json()["error"]

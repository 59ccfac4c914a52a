"""The web editor's per-request CLIP choice: the server's model, clipvg-toy, or random weights."""

from __future__ import annotations

import time

import pytest

from clipvg.errors import ClipvgError
from clipvg.serve.requests import clip_choice, edit_settings
from clipvg.serve.views import request_of
from clipvg.toy.model import TOY_MODEL, TOY_TAG

SERVER = {"clip_model": "ViT-B-32", "clip_pretrained": "openai", "clip_weights": "/srv/b32.pt"}


def settings_for(**body):
    return edit_settings({"prompt": "a blue star", **body}, "in.svg", SERVER)


@pytest.mark.parametrize(
    "body,model,pretrained,weights,random",
    [
        ({}, "ViT-B-32", "openai", "/srv/b32.pt", False),
        ({"clip": "server"}, "ViT-B-32", "openai", "/srv/b32.pt", False),
        ({"clip": "toy"}, TOY_MODEL, TOY_TAG, None, False),
        ({"clip": "random"}, "ViT-B-32", "none", None, True),
        ({"random_weights": True}, "ViT-B-32", "none", None, True),  # the older field
    ],
)
def test_the_page_picks_the_clip_model(body, model, pretrained, weights, random):
    settings, is_random = settings_for(**body)
    assert (settings.clip_model, settings.clip_pretrained, settings.clip_weights) == (
        model,
        pretrained,
        weights,
    )
    assert is_random is random
    fields = ("prompt",)
    assert request_of(settings, fields, ())["clip"] == body.get(
        "clip", "random" if random else "server"
    )


@pytest.mark.parametrize(
    "body", [{"clip": "ViT-L-14"}, {"clip": 1}, {"clip": "toy", "random_weights": True}]
)
def test_a_bad_clip_choice_is_one_clear_error(body):
    with pytest.raises(ClipvgError, match="clip must be one of server, toy, random"):
        clip_choice(body)


def test_a_toy_edit_runs_through_the_api_without_any_downloaded_weights(tmp_path):
    """No encoder injected: the server's own loader builds clipvg-toy from the package."""
    pytest.importorskip("fastapi")
    from starlette.testclient import TestClient

    from clipvg.serve import create_app
    from clipvg.svg import scene_to_svg_string
    from clipvg.toy.edits import CANVAS, single
    from clipvg.toy.scenes import build_scene

    svg = scene_to_svg_string(build_scene(single("star", "red"), CANVAS)).encode()
    app = create_app(tmp_path / "work", device="cpu", preview_interval=0, preview_budget=None)
    with TestClient(app) as c:
        scene = c.post("/api/scenes", files={"file": ("star.svg", svg)}).json()
        body = {"scene": scene["id"], "prompt": "a blue star", "source_prompt": "a red star"}
        body.update(clip="toy", iters=2, patches=0, save_every=0, lock="shape")
        r = c.post("/api/edits", json=body)
        assert r.status_code == 201, r.text
        jid = r.json()["id"]
        end = time.monotonic() + 120
        while (s := c.get(f"/api/edits/{jid}").json())["status"] not in ("done", "failed"):
            assert time.monotonic() < end, s
            time.sleep(0.05)
        assert s["status"] == "done", s
        assert s["random_weights"] is False
        assert c.get(f"/api/edits/{jid}/run.json").json()["settings"]["clip_model"] == TOY_MODEL

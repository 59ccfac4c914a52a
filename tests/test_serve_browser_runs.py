"""In the browser: setup stages and the estimate, layers left out of the edit, candidates."""

from __future__ import annotations

import time
import urllib.request

import pytest
import test_serve_browser as web
from serve_helpers import running_server, wait_until
from test_serve_browser import drag_box, edit_id, get_json, open_picture

pytestmark = web.pytestmark
browser, server, open_page, grouped = web.browser, web.server, web.open_page, web.grouped
no_edit_left_running = web.no_edit_left_running


class SlowStart:
    """The tiny CLIP, with each prompt taking a moment to encode (so the page can show it)."""

    def __init__(self, inner, delay: float):
        self.inner, self.delay = inner, delay

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def encode_text(self, texts):
        time.sleep(self.delay)
        return self.inner.encode_text(texts)


@pytest.fixture
def slow_server(tiny, tmp_path):
    pytest.importorskip("fastapi", reason="browser tests skipped: FastAPI is not installed")
    from clipvg.serve import create_app

    def factory(random_weights):
        time.sleep(1.0)  # "loading CLIP"
        return SlowStart(tiny, 0.6)

    app = create_app(tmp_path / "web", factory, preview_interval=0, preview_budget=None)
    with running_server(app) as url:
        yield url


def test_setup_stages_and_the_estimate(open_page, slow_server, grouped):
    page = open_page(slow_server)
    open_picture(page, grouped)
    page.fill("#prompt", "a watercolor painting")
    estimate = page.locator("#estimate")
    wait_until(lambda: "first edit measures" in estimate.text_content(), what="no estimate yet")
    page.fill("#iters", "3")
    page.click("#start")
    line = page.locator("#job-line")
    stages = set()

    def done():
        stages.add(line.get_attribute("data-stage") or "")
        text = line.text_content()
        if "encoding prompts (1/2)" in text:
            stages.add("encoding prompts (1/2)")
        return "done" in text

    wait_until(done, timeout=60, what="the edit to finish")
    assert {"loading CLIP", "encoding prompts", "encoding prompts (1/2)"} <= stages, stages
    # from now on, an estimate measured on this machine is shown before Start
    page.fill("#iters", "300")
    wait_until(lambda: "Estimated run time" in estimate.text_content(), what="the estimate")
    assert "per iteration, measured on 1 run on this machine" in estimate.text_content()
    total = float(estimate.get_attribute("data-total"))
    page.fill("#iters", "600")
    wait_until(
        lambda: float(estimate.get_attribute("data-total") or 0) > total * 1.5, what="it scales"
    )


def test_hidden_and_locked_layers_are_left_out_of_the_edit(open_page, server, grouped):
    page = open_page(server)
    open_picture(page, grouped)
    layers = page.locator("#layers li[data-layer]")
    assert [layers.nth(i).get_attribute("data-layer") for i in range(2)] == ["round-1", "round-2"]
    assert "2 paths" in layers.nth(1).text_content()
    page.locator('#layers li[data-layer="round-1"] .show input').uncheck()
    assert "off" in layers.nth(0).get_attribute("class")
    page.keyboard.press("Control+z")  # layer changes are undone like any other
    assert "off" not in (layers.nth(0).get_attribute("class") or "")
    page.keyboard.press("Control+Shift+z")
    jid, status = run_short_edit(page, server, iters=4)
    assert status["request"]["freeze"] == ["round-1"]
    before = svg_text(f"{server}/api/scenes/{status['scene']}/svg")
    after = svg_text(f"{server}/api/edits/{jid}/svg")
    assert _group(before, 'id="round-1"') == _group(after, 'id="round-1"')  # left as it was
    assert _group(before, 'id="round-2"') != _group(after, 'id="round-2"')  # edited
    # locking (not hiding) freezes too, and the layer stays on screen
    page.locator('#layers li[data-layer="round-1"] .show input').check()
    page.locator('#layers li[data-layer="round-2"] .lock input').check()
    page.click("#start")
    wait_until(lambda: edit_id(page) != jid, what="a second edit")
    second = get_json(f"{server}/api/edits/{edit_id(page)}")
    assert second["request"]["freeze"] == ["round-2"]
    wait_until(lambda: "done" in page.locator("#job-line").text_content(), what="the edit")


def test_candidates_side_by_side_with_their_scores(open_page, server, grouped):
    page = open_page(server)
    open_picture(page, grouped)
    page.fill("#prompt", "a watercolor painting")
    page.fill("#iters", "2")
    page.fill("#candidates", "3")
    page.click("#start")
    jid = edit_id(page)
    items = page.locator("#candidate-list .candidate")
    wait_until(lambda: items.count() == 3, timeout=60, what="three candidates")
    ranking = get_json(f"{server}/api/edits/{jid}")["ranking"]
    for i, c in enumerate(ranking):
        assert (
            items.nth(i).text_content() == f"#{i + 1} · seed {c['seed']} · score {c['score']:.3f}"
        )
    assert "chosen" in items.nth(0).get_attribute("class")
    items.nth(2).click()
    assert "chosen" in items.nth(2).get_attribute("class")
    assert "chosen" not in items.nth(0).get_attribute("class")
    seed = ranking[2]["seed"]
    assert f"/candidates/{seed}/svg" in page.locator("#dl-svg").get_attribute("href")
    wait_until(
        lambda: f"seed {seed}" in (page.locator("#candidate-list .chosen").text_content()),
        what="the choice",
    )
    with page.expect_download() as info:
        page.click("#dl-svg")
    assert info.value.suggested_filename == f"layers-a-watercolor-painting-seed-{seed}.svg"
    assert page.locator("#continue").is_disabled()
    # the region drawing still works beside them
    drag_box(page, 0.1, 0.1, 0.4, 0.4)
    assert page.locator("#overlay rect.shape").count() == 1


# An illustration's own groups: an id with an Inkscape layer name, a layer known only by
# its inkscape:label (no id), a nested group, and an empty group (nothing to list).
LAYERED_SVG = """<svg xmlns="http://www.w3.org/2000/svg"
 xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape" width="120" height="90">
<g id="layer1" inkscape:label="Sky" inkscape:groupmode="layer">
  <rect width="120" height="45" fill="#88bbee"/></g>
<g inkscape:label="Ground" inkscape:groupmode="layer">
  <rect y="45" width="120" height="45" fill="#557733"/>
  <g id="house"><rect x="20" y="30" width="30" height="30" fill="#cc4422"/>
    <rect x="30" y="45" width="8" height="15" fill="#442211"/></g></g>
<g id="empty"/>
</svg>"""


def run_short_edit(page, server: str, iters: int) -> tuple[str, dict]:
    """Start a watercolor edit of ``iters`` iterations from the page and wait for it: its
    id and status."""
    page.fill("#prompt", "a watercolor painting")
    page.fill("#iters", str(iters))
    page.click("#advanced-box summary")
    page.fill("#color_lr", "0.2")
    page.click("#start")
    jid = edit_id(page)
    wait_until(lambda: "done" in page.locator("#job-line").text_content(), what="the edit")
    return jid, get_json(f"{server}/api/edits/{jid}")


def svg_text(url: str) -> str:
    with urllib.request.urlopen(url) as r:
        return r.read().decode()


def _group(svg: str, marker: str) -> str:
    """The text of the <g> that ``marker`` (an attribute) opens, up to its first </g>."""
    return svg.split(marker, 1)[1].split("</g>", 1)[0]


def test_an_illustrations_groups_are_layers_by_id_and_inkscape_label(open_page, server, tmp_path):
    src = tmp_path / "layered.svg"
    src.write_text(LAYERED_SVG, encoding="utf-8")
    page = open_page(server)
    open_picture(page, src)
    layers = page.locator("#layers li[data-layer]")
    keys = [layers.nth(i).get_attribute("data-layer") for i in range(layers.count())]
    assert keys == ["layer1", "Ground", "house"]  # the empty group is not listed
    names = [layers.nth(i).locator(".name").text_content() for i in range(3)]
    assert names == ["Sky", "Ground", "house"]
    assert "2 paths" in layers.nth(2).text_content() and "3 paths" in layers.nth(1).text_content()
    page.locator('#layers li[data-layer="layer1"] .show input').uncheck()
    page.locator('#layers li[data-layer="house"] .lock input').check()
    jid, status = run_short_edit(page, server, iters=3)
    assert status["request"]["freeze"] == ["layer1", "house"]
    before = svg_text(f"{server}/api/scenes/{status['scene']}/svg")
    after = svg_text(f"{server}/api/edits/{jid}/svg")
    for marker in ('id="layer1"', 'id="house"'):
        assert _group(before, marker) == _group(after, marker), marker  # left as they were
    assert _group(before, 'inkscape:label="Ground"') != _group(after, 'inkscape:label="Ground"')
    # a layer known only by its label locks by that label
    page.locator('#layers li[data-layer="layer1"] .show input').check()
    page.locator('#layers li[data-layer="house"] .lock input').uncheck()
    page.locator('#layers li[data-layer="Ground"] .lock input').check()
    page.click("#start")
    wait_until(lambda: edit_id(page) != jid, what="a second edit")
    second = edit_id(page)
    wait_until(lambda: "done" in page.locator("#job-line").text_content(), what="the edit")
    assert get_json(f"{server}/api/edits/{second}")["request"]["freeze"] == ["Ground"]
    after = svg_text(f"{server}/api/edits/{second}/svg")
    assert _group(before, 'inkscape:label="Ground"') == _group(after, 'inkscape:label="Ground"')
    assert _group(before, 'id="layer1"') != _group(after, 'id="layer1"')

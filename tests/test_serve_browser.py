"""End to end in a real browser: Playwright driving the system Chromium against uvicorn.

Skipped (with the reason shown by ``pytest -rs``) when Playwright or a system Chromium
is missing; ``.ci/run`` installs Debian's ``chromium`` package.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from serve_helpers import CHROMIUM_ARGS, find_chromium, running_server, wait_until

PITT = Path(__file__).resolve().parents[2] / "shared" / "data" / "svg" / "pitt.svg"
CHROMIUM = find_chromium()

pytestmark = [
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="browser tests skipped: no system Chromium (apt-get install chromium)",
    ),
    pytest.mark.skipif(not PITT.is_file(), reason=f"browser tests skipped: {PITT} not found"),
]


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="browser tests skipped: playwright is not installed"
    )
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def server(tiny, tmp_path_factory):
    pytest.importorskip("fastapi", reason="browser tests skipped: FastAPI is not installed")
    from clipvg.serve import create_app

    app = create_app(
        tmp_path_factory.mktemp("web"),
        lambda random_weights: tiny,
        preview_interval=0,
        preview_budget=None,
    )
    with running_server(app) as url:
        yield url


def test_draw_edit_stop_download(browser, server):
    from clipvg.svg import parse_svg_string

    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(server)
    page.set_input_files("#file", str(PITT))
    status = page.locator("#scene-status")
    wait_until(lambda: "paths" in status.text_content(), what="the uploaded picture")
    # draw a box with the mouse
    box = page.locator("#overlay").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.7, steps=5)
    page.mouse.up()
    assert page.locator("#overlay rect.shape").count() == 1
    page.fill("#prompt", "a watercolor painting")
    page.locator("#regions input[type=text]").fill("a smiling face")
    page.fill("#iters", "200")
    page.click("#panel summary")  # open "Advanced"
    page.fill("#adv-patches", "2")
    page.click("#start")
    # the live picture changes at least twice and the iteration counter rises
    after, line = page.locator("#after"), page.locator("#job-line")
    seen = []
    for _ in range(3):
        last = seen[-1] if seen else 0
        shown = wait_until(
            lambda last=last: (
                int(after.get_attribute("data-iteration") or 0) > last
                and after.evaluate("i => i.complete && i.naturalWidth > 0")
                and int(after.get_attribute("data-iteration"))
            ),
            what="a new live picture",
        )
        seen.append(shown)
    first = int(line.get_attribute("data-iteration"))
    wait_until(
        lambda: int(line.get_attribute("data-iteration")) > first, what="the counter to rise"
    )
    page.click("#stop")
    wait_until(lambda: "stopped" in line.text_content(), timeout=60, what="the edit to stop")
    assert page.locator("#continue").is_enabled()
    with page.expect_download() as info:
        page.click("#dl-svg")
    text = Path(info.value.path()).read_text(encoding="utf-8")
    scene = parse_svg_string(text)
    assert scene.num_paths == 1020
    assert "<script" not in text
    assert not errors, errors
    page.close()

"""End to end in a real browser: Playwright driving the system Chromium against uvicorn.

Skipped (with the reason shown by ``pytest -rs``) when Playwright or a system Chromium
is missing; ``.ci/run`` installs Debian's ``chromium`` package. Each test has its own
browser context (its own localStorage), so no test reopens another's edit.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest
from serve_helpers import CHROMIUM_ARGS, find_chromium, running_server, wait_until

PITT = Path(__file__).resolve().parents[2] / "shared" / "data" / "svg" / "pitt.svg"
CHROMIUM = find_chromium()
GROUPED_SVG = """<svg xmlns="http://www.w3.org/2000/svg" width="120" height="90">
<g id="round-1"><rect width="120" height="90" fill="#ddeeff"/></g>
<g id="round-2"><rect x="10" y="10" width="40" height="30" fill="#ff0000"/>
<circle cx="80" cy="55" r="22" fill="#00aa44"/></g>
</svg>"""

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


@pytest.fixture(scope="module")
def grouped(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("pictures") / "layers.svg"
    path.write_text(GROUPED_SVG, encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def no_edit_left_running(server):
    """Stops what a test leaves running: the server runs one edit at a time, so a failed
    test's edit would otherwise hold up every later test's."""
    yield
    for e in get_json(f"{server}/api/edits")["edits"]:
        if e["status"] in ("running", "queued"):
            stop = urllib.request.Request(
                f"{server}/api/edits/{e['id']}/stop",
                data=b"{}",
                headers={"Content-Type": "application/json"},
                method="POST",
            )
            urllib.request.urlopen(stop, timeout=10).close()


@pytest.fixture
def open_page(browser):
    """``open_page(url, width, height)``: a page in a fresh context; fails the test on
    any script error or console error."""
    made, errors = [], []

    def make(url, width=1280, height=800):
        ctx = browser.new_context(
            viewport={"width": width, "height": height}, accept_downloads=True
        )
        page = ctx.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(url)
        made.append(ctx)
        # The page binds its controls once /api/info has answered (the settings are built
        # then, in the same task): a file chosen before that was lost under load.
        wait_until(lambda: page.locator("#iters").count() > 0, what="the page's controls")
        return page

    make.expected = []  # substrings of console errors a test provokes on purpose
    yield make
    for ctx in made:
        ctx.close()
    unexpected = [e for e in errors if not any(x in e for x in make.expected)]
    assert not unexpected, unexpected


def open_picture(page, path: Path) -> None:
    page.set_input_files("#file", str(path))
    status = page.locator("#scene-status")
    wait_until(lambda: "paths" in status.text_content(), what="the uploaded picture")
    wait_until(lambda: page.locator("#before").get_attribute("data-kind"), what="the picture shown")
    # The picture is drawn first; its layer list and the form follow (app.js showScene).
    opened = page.locator("#canvas-wrap")
    wait_until(lambda: opened.get_attribute("data-opened"), what="the scene opened")


def drag_box(page, x0: float, y0: float, x1: float, y1: float) -> None:
    """Drag from (x0, y0) to (x1, y1), given as fractions of the picture."""
    box = page.locator("#overlay").bounding_box()
    page.mouse.move(box["x"] + box["width"] * x0, box["y"] + box["height"] * y0)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * x1, box["y"] + box["height"] * y1, steps=5)
    page.mouse.up()


def edit_id(page) -> str:
    """The edit the page's URL names (#edit=ID; replaceState, which page.url may not see)."""

    def named():
        h = page.evaluate("() => location.hash")
        return h[len("#edit=") :] if h.startswith("#edit=") else None

    return wait_until(named, what="#edit= in the URL")


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def test_draw_edit_stop_download(open_page, server):
    from clipvg.svg import parse_svg_string

    page = open_page(server)
    open_picture(page, PITT)
    drag_box(page, 0.3, 0.3, 0.6, 0.7)
    assert page.locator("#overlay rect.shape").count() == 1
    page.fill("#prompt", "a watercolor painting")
    page.locator("#regions input[type=text]").fill("a smiling face")
    page.fill("#iters", "200")
    page.click("#advanced-box summary")
    page.fill("#patches", "2")
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
    # the view is the SVG itself, drawn by the browser (the PNG is only a fallback)
    assert after.get_attribute("data-kind") == "svg"
    assert page.locator("#before").get_attribute("data-kind") == "svg"
    first = int(line.get_attribute("data-iteration"))
    wait_until(
        lambda: int(line.get_attribute("data-iteration")) > first, what="the counter to rise"
    )
    page.click("#stop")
    wait_until(lambda: "stopped" in line.text_content(), timeout=60, what="the edit to stop")
    assert page.locator("#continue").is_enabled()
    with page.expect_download() as info:
        page.click("#dl-svg")
    assert info.value.suggested_filename == "pitt-a-watercolor-painting.svg"
    text = Path(info.value.path()).read_text(encoding="utf-8")
    scene = parse_svg_string(text)
    assert scene.num_paths == 1020
    assert "<script" not in text


def message_for(page, key: str):
    return page.locator(f'.msg[data-for="{key}"]')


def test_errors_are_shown_next_to_their_control(open_page, server, tmp_path):
    page = open_page(server)
    open_page.expected.append("status of 400 (Bad Request)")  # the refused upload
    bad = tmp_path / "notes.txt"
    bad.write_text("not a picture")
    page.set_input_files("#file", str(bad))
    msg = message_for(page, "drop")
    wait_until(lambda: msg.is_visible(), what="the upload's message")
    assert "notes.txt could not be opened" in msg.text_content()
    assert "upload an SVG, PNG, JPEG or WebP" in msg.text_content()
    drop = page.locator("#drop").bounding_box()
    where = msg.bounding_box()
    assert 0 <= where["y"] - (drop["y"] + drop["height"]) < 40  # right under the drop zone
    assert where["y"] + where["height"] <= 800  # in view
    open_picture(page, PITT)
    assert not msg.is_visible()  # the cause is gone: so is the message
    start, why = page.locator("#start"), page.locator("#start-reason")
    assert start.is_disabled() and "Type a prompt for the whole image" in why.text_content()
    page.fill("#prompt", "a watercolor painting")
    wait_until(lambda: start.is_enabled(), what="Start enabled once a prompt exists")
    page.fill("#iters", "0")
    iters_msg = message_for(page, "iters")
    wait_until(lambda: iters_msg.is_visible(), what="the iterations message")
    assert iters_msg.text_content() == "Iterations must be from 1 to 100000."
    assert start.is_disabled() and "Iterations" in why.text_content()
    field, shown = page.locator("#iters").bounding_box(), iters_msg.bounding_box()
    assert 0 <= shown["y"] - (field["y"] + field["height"]) < 20
    page.fill("#iters", "12")
    wait_until(lambda: not iters_msg.is_visible(), what="the fixed message to go")
    assert start.is_enabled()
    drag_box(page, 0.2, 0.2, 0.4, 0.4)
    assert start.is_disabled() and "Region 1 needs a prompt" in why.text_content()


def test_undo_brings_back_a_deleted_region_and_settings(open_page, server):
    page = open_page(server)
    open_picture(page, PITT)
    drag_box(page, 0.2, 0.2, 0.5, 0.5)
    region = page.locator("#regions input[type=text]")
    region.fill("a smiling face")
    region.press("Tab")
    page.click('#regions button[aria-label="delete region 1"]')
    assert page.locator("#overlay rect.shape").count() == 0
    page.keyboard.press("Control+z")
    assert page.locator("#overlay rect.shape").count() == 1
    assert page.locator("#regions input[type=text]").input_value() == "a smiling face"
    page.keyboard.press("Control+Shift+z")
    assert page.locator("#overlay rect.shape").count() == 0
    page.click("#undo")
    assert page.locator("#overlay rect.shape").count() == 1
    # settings: Ctrl+Z in a field is the page's undo, one step, never the field's own
    page.fill("#iters", "5")
    page.press("#iters", "Tab")
    page.click("#advanced-box summary")
    page.fill("#patches", "8")
    page.press("#patches", "Control+z")
    assert page.locator("#patches").input_value() == "64"
    assert page.locator("#iters").input_value() == "5"
    page.press("#patches", "Control+z")
    assert page.locator("#iters").input_value() == "150"
    page.click("#redo")
    assert page.locator("#iters").input_value() == "5"


def test_a_reload_during_an_edit_restores_it(open_page, server):
    page = open_page(server)
    open_picture(page, PITT)
    drag_box(page, 0.3, 0.3, 0.6, 0.6)
    page.fill("#prompt", "a bronze statue")
    page.locator("#regions input[type=text]").fill("a golden face")
    page.fill("#iters", "100000")
    page.click("#advanced-box summary")
    page.fill("#patches", "1")
    page.click("#start")
    jid = edit_id(page)
    line = page.locator("#job-line")
    wait_until(lambda: int(line.get_attribute("data-iteration") or 0) > 0, what="an iteration")
    page.reload()
    wait_until(lambda: page.locator("#prompt").input_value() == "a bronze statue", what="prompt")
    assert edit_id(page) == jid
    assert page.locator("#regions input[type=text]").input_value() == "a golden face"
    assert page.locator("#overlay rect.shape").count() == 1
    assert page.locator("#patches").input_value() == "1"
    wait_until(lambda: f"{jid}: running" in line.text_content(), what="the running edit")
    first = int(line.get_attribute("data-iteration"))
    wait_until(lambda: int(line.get_attribute("data-iteration")) > first, what="it goes on")
    wait_until(lambda: page.locator("#after").get_attribute("data-iteration"), what="its picture")
    # a new page opens the running edit by itself
    other = open_page(server)
    other_prompt = other.locator("#prompt")
    wait_until(lambda: other_prompt.input_value() == "a bronze statue", what="the running edit")
    # an upload still on its way when the user opens a run from Earlier runs: the run,
    # the later choice, stays on the page when the upload's answer comes
    held = []
    other.route("**/api/scenes", lambda route: held.append(route))
    with other.expect_request("**/api/scenes"):
        other.set_input_files("#file", str(PITT))
    wait_until(lambda: other.wait_for_timeout(20) or held, what="the upload held")
    other_prompt.fill("")
    other.click(f'#runs li[data-edit="{jid}"]')
    wait_until(lambda: other_prompt.input_value() == "a bronze statue", what="open")
    assert other.locator("#regions input[type=text]").input_value() == "a golden face"
    with other.expect_response("**/api/scenes"):
        held[0].continue_()
    other.wait_for_timeout(500)
    assert other_prompt.input_value() == "a bronze statue"
    assert other.locator("#overlay rect.shape").count() == 1
    assert f"{jid}: running" in other.locator("#job-line").text_content()
    assert other.locator("#stop").is_enabled()
    other.click("#stop")
    # the reopened page says so itself, and keeps saying it (no earlier opening of this
    # page, such as the one its start made from the last run shown, writes over it)
    other_line = other.locator("#job-line")
    wait_until(lambda: "stopped · iteration" in other_line.text_content(), timeout=60, what="stop")
    wait_until(lambda: "stopped" in line.text_content(), timeout=60, what="the first page")
    stopped = f'#runs li[data-edit="{jid}"] .st'
    wait_until(lambda: other.locator(stopped).text_content().startswith("stopped"), what="list")
    other.wait_for_timeout(1500)
    assert "stopped · iteration" in other_line.text_content()
    assert other.locator("#stop").is_disabled() and other.locator("#continue").is_enabled()


def test_no_horizontal_scroll_and_start_in_view(open_page, server):
    for width, height in ((800, 600), (390, 844), (1280, 800), (3840, 2160)):
        page = open_page(server, width, height)
        open_picture(page, PITT)
        page.click("#advanced-box summary")
        scroll = page.evaluate("() => document.documentElement.scrollWidth")
        assert scroll <= width, (width, scroll)
        picture = page.locator("#canvas-wrap").bounding_box()
        assert picture["width"] >= min(width, 1280) * 0.6 - 300, (width, picture)
        assert picture["x"] >= 0 and picture["x"] + picture["width"] <= width + 1
        if width >= 800:  # the panel scrolls; Start stays on screen
            start = page.locator("#start").bounding_box()
            assert start["y"] + start["height"] <= height, (width, start)


def test_wheel_zoom_pan_and_the_wipe_handle(open_page, server):
    page = open_page(server)
    open_picture(page, PITT)
    label, wrap = page.locator("#zoom-label"), page.locator("#canvas-wrap")
    before = float(label.text_content().rstrip("%"))
    box = wrap.bounding_box()
    at = (box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.25)
    page.mouse.move(*at)
    page.mouse.wheel(0, -300)
    wait_until(lambda: float(label.text_content().rstrip("%")) > before * 1.3, what="zoom in")
    zoomed = wrap.bounding_box()
    # the point under the cursor stays under it
    fx = (at[0] - zoomed["x"]) / zoomed["width"]
    assert abs(fx - 0.25) < 0.01
    page.click("#tool-pan")
    page.mouse.move(600, 400)
    page.mouse.down()
    page.mouse.move(500, 350, steps=4)
    page.mouse.up()
    moved = wrap.bounding_box()
    assert abs(moved["x"] - (zoomed["x"] - 100)) < 2 and abs(moved["y"] - (zoomed["y"] - 50)) < 2
    assert page.locator("#overlay rect.shape").count() == 0  # panning draws nothing
    page.click("#zoom-fit")
    page.click("#tool-box")
    page.fill("#prompt", "a watercolor painting")
    page.fill("#iters", "2")
    page.click("#start")
    knob = page.locator("#wipe .knob")
    wait_until(lambda: knob.is_visible(), what="the wipe handle")
    pic = wrap.bounding_box()
    k = knob.bounding_box()
    page.mouse.move(k["x"] + k["width"] / 2, k["y"] + k["height"] / 2)
    page.mouse.down()
    page.mouse.move(pic["x"] + pic["width"] * 0.5, k["y"], steps=4)
    page.mouse.up()
    assert abs(int(page.locator("#compare").input_value()) - 50) <= 1
    # before on the left of the handle, after on its right
    clip = page.locator("#after").evaluate("i => i.style.clipPath")
    assert clip.startswith("inset(0px 0px 0px 5") or clip.startswith("inset(0 0 0 5"), clip

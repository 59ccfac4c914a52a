"""The web server's perimeter, probed as a hostile page or a local attacker would,
through a real uvicorn on 127.0.0.1 (random port): Host, Origin, content types, the
token, body and pixel limits, timeouts, bounded and persisted queues."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("multipart")
httpx = pytest.importorskip("httpx")

from pictures import png_claiming  # noqa: E402
from serve_helpers import free_port, running_server, wait_until  # noqa: E402

from clipvg.serve import create_app  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 32 * 1024  # body limit of the module's server
SMALL_SVG = b"""<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">
<rect width="64" height="64" fill="#ddeeff"/><rect x="8" y="8" width="24" height="20" fill="#f00"/>
</svg>"""
FAST = {"patches": 2, "save_every": 0}
EVIL = "https://evil.example"
ID = "0123456789abcdef"


def serve_app(tiny, workdir, **options):
    return create_app(
        workdir, lambda random_weights: tiny, preview_interval=0, preview_budget=None, **options
    )


@pytest.fixture(scope="module")
def server(tiny, tmp_path_factory):
    app = serve_app(tiny, tmp_path_factory.mktemp("perimeter"), max_upload_bytes=LIMIT)
    with running_server(app, header_timeout=1.0) as url:
        yield SimpleNamespace(url=url, port=int(url.rsplit(":", 1)[1]), app=app)


@pytest.fixture
def logs():
    """Records of the server's loggers (ours and uvicorn's), attached after it started."""
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    handler = Keep(logging.DEBUG)
    names = ("clipvg.serve", "uvicorn.error")
    for name in names:
        logging.getLogger(name).addHandler(handler)
    yield records
    for name in names:
        logging.getLogger(name).removeHandler(handler)


def raw(port: int, request: bytes, timeout: float = 10.0) -> bytes:
    """Send ``request`` as is; the whole answer (until the server closes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def one_line_error(r) -> str:
    text = r.json()["error"]
    assert "\n" not in text and "Traceback" not in text
    return text


def upload(url: str, data: bytes = SMALL_SVG, name: str = "in.svg", **form) -> dict:
    files = {"file": (name, data), **{k: (None, v) for k, v in form.items()}}
    r = httpx.post(f"{url}/api/scenes", files=files, timeout=30)
    assert r.status_code in (201, 202), r.text
    return r.json()


def start_edit(url: str, sid: str, **fields) -> dict:
    body = {"scene": sid, "prompt": "a red square", "random_weights": True, **FAST, **fields}
    r = httpx.post(f"{url}/api/edits", json=body, timeout=30)
    assert r.status_code == 201, r.text
    return r.json()


def edit_status(url: str, jid: str) -> dict:
    return httpx.get(f"{url}/api/edits/{jid}", timeout=30).json()


def state_changing_routes(app) -> list[tuple[str, str]]:
    """(method, path) of every route that changes state, ids filled in."""
    out = []
    for route in app.app.routes:
        for method in sorted(getattr(route, "methods", None) or ()):
            if method not in ("GET", "HEAD", "OPTIONS"):
                path = re.sub(r"\{rest:path\}", "x", route.path)
                out.append((method, re.sub(r"\{[^}]+\}", ID, path)))
    return out


# ---- Host ---------------------------------------------------------------------------
@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "127.0.0.1.evil.example"])
def test_a_foreign_host_is_refused_on_every_route(server, host):
    host = host.format(port=server.port)
    for method, path in [("GET", "/"), ("GET", "/api/info"), ("GET", "/api/edits")] + [
        (m, p) for m, p in state_changing_routes(server.app)
    ]:
        r = httpx.request(method, server.url + path, headers={"host": host}, timeout=30)
        assert r.status_code == 403, (method, path, r.status_code)
        assert "not this server's" in one_line_error(r)


def test_own_names_are_accepted_and_a_missing_host_is_refused(server):
    for host in (f"127.0.0.1:{server.port}", f"localhost:{server.port}", "LOCALHOST."):
        r = httpx.get(f"{server.url}/api/info", headers={"host": host}, timeout=30)
        assert r.status_code == 200, host
    answer = raw(server.port, b"GET /api/info HTTP/1.0\r\n\r\n")
    assert status_of(answer) == 403 and b"no Host header" in answer


def test_allow_host_adds_a_name(tiny, tmp_path):
    app = serve_app(tiny, tmp_path, allow_hosts=("editor.test",))
    with running_server(app) as url:
        ok = httpx.get(f"{url}/api/info", headers={"host": "Editor.Test:1234"}, timeout=30)
        bad = httpx.get(f"{url}/api/info", headers={"host": "other.test"}, timeout=30)
    assert ok.status_code == 200 and bad.status_code == 403


# ---- Origin and content types --------------------------------------------------------
def test_cross_site_requests_change_nothing_on_any_route(server):
    before = httpx.get(f"{server.url}/api/edits", timeout=30).json()
    routes = state_changing_routes(server.app)
    assert ("POST", "/api/edits") in routes and ("POST", "/api/scenes") in routes
    for method, path in routes:
        multipart = path in ("/api/scenes", "/api/images")
        for header in ({"origin": EVIL}, {"referer": f"{EVIL}/page"}, {"origin": "null"}):
            kwargs = (
                {"files": {"file": ("a.svg", SMALL_SVG)}}
                if multipart
                else {"json": {"scene": ID, "prompt": "x"}}
            )
            r = httpx.request(method, server.url + path, headers=header, timeout=30, **kwargs)
            assert r.status_code == 403, (method, path, header, r.status_code)
            assert "cross-site" in one_line_error(r)
    assert httpx.get(f"{server.url}/api/edits", timeout=30).json() == before


def test_the_page_own_origin_is_accepted(server):
    own = {"origin": server.url}
    r = httpx.post(
        f"{server.url}/api/scenes", files={"file": ("a.svg", SMALL_SVG)}, headers=own, timeout=30
    )
    assert r.status_code == 201
    r = httpx.post(
        f"{server.url}/api/edits",
        json={"scene": r.json()["id"], "prompt": "x", "iters": 1, "random_weights": True, **FAST},
        headers={"referer": f"{server.url}/"},
        timeout=30,
    )
    assert r.status_code == 201


@pytest.mark.parametrize(
    "path, content_type",
    [
        ("/api/edits", "text/plain"),
        ("/api/edits", "application/x-www-form-urlencoded"),
        ("/api/edits", "multipart/form-data; boundary=x"),
        (f"/api/edits/{ID}/stop", "text/plain"),
        (f"/api/edits/{ID}/resume", "text/plain"),
        ("/api/scenes", "text/plain"),
        ("/api/scenes", "application/x-www-form-urlencoded"),
        ("/api/images", "application/json"),
    ],
)
def test_a_body_of_the_wrong_type_is_refused(server, path, content_type):
    body = json.dumps({"scene": ID, "prompt": "x"}).encode()
    r = httpx.post(
        server.url + path, content=body, headers={"content-type": content_type}, timeout=30
    )
    assert r.status_code == 415
    assert "takes" in one_line_error(r)
    r = httpx.post(server.url + path, content=body, timeout=30)  # no content type at all
    assert r.status_code == 415


# ---- token --------------------------------------------------------------------------
def test_token_is_required_when_configured_as_public(tiny, tmp_path):
    token = "s3cret-token"
    app = serve_app(tiny, tmp_path, token=token)
    with running_server(app) as url:
        with httpx.Client(base_url=url, timeout=30) as c:
            for path in ("/", "/api/info", "/static/app.js"):
                r = c.get(path)
                assert r.status_code == 401 and "token" in one_line_error(r)
            assert c.get("/api/info", headers={"authorization": "Bearer wrong"}).status_code == 401
            assert (
                c.get("/api/info", headers={"authorization": f"Bearer {token}"}).status_code == 200
            )
            r = c.post("/api/scenes?token=" + token, files={"file": ("a.svg", SMALL_SVG)})
            assert r.status_code == 401  # the URL carries the token only to open the page
            # the printed URL: a redirect that keeps the token in a cookie
            r = c.get(f"/?token={token}")
            assert r.status_code == 303 and r.headers["location"] == "/"
            cookie = r.headers["set-cookie"]
            assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
            assert c.get("/").status_code == 200  # the client kept the cookie
            r = c.post("/api/scenes", files={"file": ("a.svg", SMALL_SVG)})
            assert r.status_code == 201
        assert httpx.get(f"{url}/api/info", timeout=30).status_code == 401  # a fresh client


# ---- body and pixel limits ----------------------------------------------------------
def test_chunked_body_over_the_limit_gets_413_and_no_traceback(server, logs):
    boundary = "b0undary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.svg"\r\n'
        "Content-Type: image/svg+xml\r\n\r\n"
    ).encode()
    body = head + b"<svg>" + b" " * (LIMIT + 8000) + b"</svg>\r\n" + f"--{boundary}--\r\n".encode()
    chunks = b"".join(
        b"%x\r\n%s\r\n" % (len(body[i : i + 4096]), body[i : i + 4096])
        for i in range(0, len(body), 4096)
    )
    request = (
        (
            f"POST /api/scenes HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
            "Transfer-Encoding: chunked\r\n\r\n"
        ).encode()
        + chunks
        + b"0\r\n\r\n"
    )
    answer = raw(server.port, request)
    assert status_of(answer) == 413
    assert b"upload limit" in answer and b"internal error" not in answer
    time.sleep(0.2)
    assert not [r for r in logs if r.levelno >= logging.ERROR or r.exc_info], logs
    assert httpx.get(f"{server.url}/api/info", timeout=30).status_code == 200


@pytest.mark.parametrize("route", ["/api/images", "/api/scenes"])
def test_a_picture_over_the_pixel_cap_is_refused_from_its_header(server, route):
    bomb = png_claiming(12000, 12000)
    t0 = time.perf_counter()
    r = httpx.post(server.url + route, files={"file": ("bomb.png", bomb)}, timeout=30)
    assert r.status_code == 413 and time.perf_counter() - t0 < 1.0
    assert "12000x12000" in one_line_error(r) and "/" not in r.json()["error"]


def test_errors_show_no_server_paths_nor_library_advice(server):
    doctype = b'<!DOCTYPE svg [<!ENTITY x "y">]><svg xmlns="http://www.w3.org/2000/svg">&x;</svg>'
    huge = b'<svg xmlns="http://www.w3.org/2000/svg" width="99999" height="10"/>'
    workdir = str(server.app.app.state.workdir)
    for data in (doctype, huge):
        r = httpx.post(f"{server.url}/api/scenes", files={"file": ("a.svg", data)}, timeout=30)
        text = one_line_error(r)
        assert r.status_code == 400 and "the upload" in text, text
        assert workdir not in text and "/tmp" not in text and "SvgLimits" not in text


def test_client_gone_mid_upload_is_one_log_line(server, logs):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(
            f"POST /api/scenes HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            "Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 20000\r\n\r\n"
            "--x\r\n".encode()
        )
        time.sleep(0.3)
    wait_until(lambda: any("went away" in r.getMessage() for r in logs), what="the log line")
    time.sleep(0.3)
    assert not [r for r in logs if r.levelno >= logging.ERROR or r.exc_info], logs


# ---- timeouts -----------------------------------------------------------------------
def test_slow_headers_and_slow_bodies_are_cut_off(server):
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(b"GET /api/info HTTP/1.1\r\nHo")  # a slow loris: never finishes
        assert s.recv(100) == b""  # closed by the server (header timeout 1 s)
    assert time.monotonic() - t0 < 5


def test_a_body_that_does_not_arrive_gets_408(tiny, tmp_path):
    app = serve_app(tiny, tmp_path, body_timeout=0.5)
    with running_server(app) as url:
        port = int(url.rsplit(":", 1)[1])
        t0 = time.monotonic()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(
                f"POST /api/edits HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{".encode()
            )
            answer = s.recv(4096)
        assert status_of(answer) == 408 and time.monotonic() - t0 < 5


# ---- bounded and persisted work -----------------------------------------------------
def test_a_long_prompt_is_cut_to_clip_context_and_said_so(server):
    sid = upload(server.url)["id"]
    words = " ".join(f"word{i}" for i in range(120))
    job = start_edit(server.url, sid, prompt=words, iters=1)
    assert len(job["notes"]) == 1 and "cut after" in job["notes"][0] and "77" in job["notes"][0]
    assert words.startswith(job["prompt"]) and len(job["prompt"]) < len(words)
    r = httpx.post(
        f"{server.url}/api/edits",
        json={"scene": sid, "prompt": "x" * 5000, "random_weights": True},
        timeout=30,
    )
    assert r.status_code == 400 and "the most is 1000" in one_line_error(r)


def test_a_full_edit_queue_answers_429_and_a_restart_keeps_the_queue(tiny, tmp_path):
    work = tmp_path / "work"
    with running_server(serve_app(tiny, work, max_queue=2)) as url:
        sid = upload(url)["id"]
        long = start_edit(url, sid, iters=100_000)
        wait_until(lambda: edit_status(url, long["id"])["status"] == "running", what="running")
        queued = [start_edit(url, sid, iters=2, seed=i)["id"] for i in range(2)]
        r = httpx.post(
            f"{url}/api/edits", json={"scene": sid, "prompt": "x", "random_weights": True}
        )
        assert r.status_code == 429 and "already queued" in one_line_error(r)
        assert [edit_status(url, j)["queue_position"] for j in queued] == [1, 2]
    # a new server on the same folder: the queued edits are back, in order, and run
    with running_server(serve_app(tiny, work, max_queue=2)) as url:
        listed = {e["id"]: e for e in httpx.get(f"{url}/api/edits", timeout=30).json()["edits"]}
        assert listed[long["id"]]["status"] == "stopped" and listed[long["id"]]["resumable"]
        assert {listed[j]["status"] for j in queued} <= {"queued", "running", "done"}
        for j in queued:
            wait_until(lambda j=j: edit_status(url, j)["status"] == "done", 120, "a restored edit")
        assert (work / "runs" / queued[1] / "final.svg").is_file()
    assert not list((work / "queue").glob("*.json"))


def noise_png(size: int = 160) -> bytes:
    from PIL import Image

    rgb = np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


def test_vectorize_queue_is_bounded_and_cancellable(tiny, tmp_path):
    picture = noise_png()
    with running_server(serve_app(tiny, tmp_path, max_queue=1)) as url:
        first = upload(url, picture, "a.png", preset="detailed")
        second = upload(url, picture, "b.png", preset="detailed")
        r = httpx.post(f"{url}/api/scenes", files={"file": ("c.png", picture)}, timeout=30)
        assert r.status_code == 429 and "pictures to vectorize" in one_line_error(r)
        # the queued one leaves the queue; the running one's process is killed
        for info in (second, first):
            r = httpx.post(f"{url}/api/scenes/{info['id']}/cancel", timeout=30)
            assert r.status_code == 200, r.text
            done = wait_until(
                lambda i=info: (
                    (s := httpx.get(f"{url}/api/scenes/{i['id']}").json())["status"] != "processing"
                    and s
                ),
                what="the cancel",
            )
            assert done["status"] == "failed" and "cancelled" in done["error"]
            assert not list((tmp_path / "scenes" / info["id"]).glob("source*"))
        r = httpx.post(f"{url}/api/scenes/{first['id']}/cancel", timeout=30)
        assert r.status_code == 400 and "only a picture being vectorized" in one_line_error(r)


def test_orphans_of_a_killed_server_are_cleaned_at_start(tiny, tmp_path):
    scenes = tmp_path / "scenes"
    killed = scenes / "00000000000000aa"
    killed.mkdir(parents=True)
    (killed / "source.jpg").write_bytes(b"\xff\xd8\xff")
    record = {"id": killed.name, "name": "a.jpg", "status": "processing", "kind": "raster"}
    (killed / "scene.json").write_text(json.dumps(record))
    half = scenes / "00000000000000bb"  # killed before scene.json was written
    half.mkdir()
    (half / "source.png").write_bytes(b"\x89PNG")
    (scenes / "not-an-id").mkdir()
    with running_server(serve_app(tiny, tmp_path)) as url:
        info = httpx.get(f"{url}/api/scenes/{killed.name}", timeout=30).json()
        assert info["status"] == "failed" and "server stopped" in info["error"]
        assert httpx.get(f"{url}/api/scenes/00000000000000bb", timeout=30).status_code == 404
        assert httpx.get(f"{url}/api/scenes/{killed.name}%0A", timeout=30).status_code == 404
    assert not (killed / "source.jpg").exists() and not half.exists()
    assert (scenes / "not-an-id").is_dir()  # not ours: left alone


# ---- the real CLI server: memory, and Ctrl-C with a reader that never reads ----------
def many_rects_svg(n: int = 6000) -> bytes:
    rects = "".join(
        f'<rect x="{i % 100}" y="{i // 100}" width="0.9" height="0.9" fill="#{i % 4096:03x}"/>'
        for i in range(n)
    )
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="100" height="60">{rects}</svg>'.encode()


def rss_peak_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="needs /proc (Linux)")
def test_cli_server_refuses_a_bomb_in_little_memory_and_ctrl_c_is_prompt(tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "cli.py"), "serve", "--port", str(port)]
        + ["--workdir", str(tmp_path), "--clip-pretrained", "none"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    url = f"http://127.0.0.1:{port}"
    try:

        def up():
            try:
                return httpx.get(f"{url}/api/info", timeout=5).status_code == 200
            except httpx.TransportError:
                assert proc.poll() is None, proc.communicate()
                return False

        wait_until(up, 120, "the server to start")
        bomb = png_claiming(12000, 12000)
        for route in ("/api/images", "/api/scenes"):
            t0 = time.perf_counter()
            r = httpx.post(url + route, files={"file": ("b.png", bomb)}, timeout=30)
            assert r.status_code == 413 and time.perf_counter() - t0 < 1.0
        assert rss_peak_bytes(proc.pid) < 1 << 30
        sid = upload(url, many_rects_svg())["id"]
        # a reader that never reads, and a body that never ends, hold requests open
        stalled = [socket.socket() for _ in range(2)]
        stalled[0].setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        for s in stalled:
            s.connect(("127.0.0.1", port))
        stalled[0].sendall(
            f"GET /api/scenes/{sid}/svg HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
        )
        stalled[1].sendall(
            f"POST /api/edits HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{".encode()
        )
        time.sleep(0.5)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=45)  # unbounded, the stalled body alone would hold it 60 s
        assert time.monotonic() - t0 < 25  # 3 s of grace, then teardown (slow when loaded)
        for s in stalled:
            s.close()
        out, err = proc.communicate()
        assert proc.returncode == 130 and "Traceback" not in err, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# ---- the page with a token, in a real browser ---------------------------------------
def test_the_page_works_with_a_token_in_a_real_browser(tiny, tmp_path):
    from serve_helpers import CHROMIUM_ARGS, find_chromium

    chromium = find_chromium()
    if chromium is None:
        pytest.skip("browser test skipped: no system Chromium (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    svg = tmp_path / "in.svg"
    svg.write_bytes(SMALL_SVG)
    token = "browser-token"
    with running_server(serve_app(tiny, tmp_path / "work", token=token)) as url:
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page()
                errors = []
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                page.goto(f"{url}/?token={token}")
                assert page.url == f"{url}/"  # the token left the address bar
                page.set_input_files("#file", str(svg))  # a multipart POST, same origin
                status = page.locator("#scene-status")
                wait_until(lambda: "paths" in status.text_content(), what="the upload")
                assert not errors, errors
            finally:
                browser.close()


def test_serve_off_loopback_makes_and_prints_a_token(tmp_path, monkeypatch):
    import uvicorn

    from clipvg.serve import app, serve

    class Bound:  # 192.0.2.1 (TEST-NET) is never this machine's: pretend it was bound
        def __init__(self, host, port):
            self.getsockname = lambda: (host, port)

        def close(self):
            pass

    seen = {}
    monkeypatch.setattr(app, "listen_socket", Bound)
    monkeypatch.setattr(
        uvicorn.Server, "run", lambda self, sockets=None: seen.update(app=self.config.app)
    )
    lines = []
    serve("192.0.2.1", 8765, tmp_path, print_fn=lines.append)  # TEST-NET: never bound here
    token = seen["app"].settings.token
    assert token and len(token) >= 24 and f"http://192.0.2.1:8765/?token={token}" in lines[0]
    serve("127.0.0.1", 8765, tmp_path, print_fn=lines.append)
    assert seen["app"].settings.token is None and "token" not in lines[-2]

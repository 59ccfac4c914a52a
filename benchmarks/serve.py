"""Benchmark of the web editor (``python cli.py serve``); prints markdown tables.

- page load: from navigation until the page has asked the server for its settings;
- upload to first picture: pitt.svg, and a 512 px photo (scikit-image's astronaut)
  vectorized with the balanced preset, from choosing the file until the picture shows;
  for the photo also where that time went: the server's part (upload received to
  ready), inside it the vectorizing child's stages (its start, segmenting, tracing,
  colours, refinement, SVG writing, as the server logs them), and the page's part
  (upload, learning that it is ready, fetching and drawing the SVG). Each upload
  starts on a page that has nothing open (the page would reopen the last picture,
  which would then count as shown), and the page itself waits for the new picture
  to have loaded, once per animation frame and timed on its own clock
  (``--wait poll``: Playwright asks every 20 ms from here instead, as this script did
  before; those calls cost the 2-core machine the vectorizer runs on 0.5-1 s of CPU
  per upload);
- live preview overhead: the same edit through ``run_edit`` as ``cli.py edit`` runs it
  and through the server's job queue (which renders a preview PNG every 2 s at most),
  seconds per iteration of both; and the share of the run the previews took;
- server memory while idle: RSS of a fresh ``cli.py serve`` process, before and after
  an upload.

Browser parts use Playwright with the system Chromium. ``--screenshots DIR`` also
saves the page at 1280x800: empty, with regions drawn, and mid-edit.

    python benchmarks/serve.py [--clip vit|tiny] [--iters 3] [--screenshots docs]
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from serve_helpers import (  # noqa: E402
    CHROMIUM_ARGS,
    find_chromium,
    free_port,
    running_server,
    wait_until,
)

PITT = ROOT.parent / "shared" / "data" / "svg" / "pitt.svg"


# In the page: resolves with performance.now() once a picture is open and drawn.
SHOWN = """(timeout) => new Promise((resolve, reject) => {
  const end = performance.now() + timeout * 1000;
  const check = () => {
    const img = document.getElementById("before");
    if (document.getElementById("scene-status").textContent.includes("paths")
        && img.complete && img.naturalWidth > 0) resolve(performance.now());
    else if (performance.now() > end) reject(new Error("no picture after " + timeout + " s"));
    else requestAnimationFrame(check);
  };
  check();
})"""


def picture_shown(page) -> bool:
    return "paths" in page.locator("#scene-status").text_content() and page.locator(
        "#before"
    ).evaluate("i => i.complete && i.naturalWidth > 0")


def empty_page(page, url: str) -> None:
    """The editor with nothing open: it reopens the last picture unless forgotten."""
    if page.url.startswith(url):
        page.evaluate("() => localStorage.removeItem('clipvg.last')")
    page.goto(url)
    wait_until(lambda: page.locator("#example option").count() > 1)
    if page.locator("#before").evaluate("i => i.complete && i.naturalWidth > 0"):
        raise RuntimeError("the page reopened a picture; the upload's would not be told apart")


def upload_time(page, url: str, path: Path, preset: str, wait: str = "page") -> float:
    """Seconds from choosing ``path`` until its picture is drawn (see the module doc)."""
    empty_page(page, url)
    page.select_option("#preset", preset)
    if wait == "poll":
        t0 = time.perf_counter()
        page.set_input_files("#file", str(path))
        wait_until(lambda: picture_shown(page), timeout=300)
        return time.perf_counter() - t0
    t0 = page.evaluate("() => performance.now()")
    page.set_input_files("#file", str(path))
    return (page.evaluate(SHOWN, 300) - t0) / 1000


class ChildTimings(logging.Handler):
    """Collects the vectorizing child's stage timings from the server's log."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.runs: list[dict] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg.startswith("vectorized %s") and isinstance(record.args[1], dict):
            self.runs.append({"scene": record.args[0], **record.args[1]})


def photo_rows(
    page, url: str, photo: Path, runs: int, child: ChildTimings, rows: list, wait: str
) -> None:
    """Upload to first picture of the photo, ``runs`` times, and where the time went."""
    totals, server, stages = [], [], []
    for _ in range(runs):
        before = len(child.runs)
        totals.append(upload_time(page, url, photo, "balanced", wait))
        stages.append(child.runs[before] if len(child.runs) > before else {})
        sid = stages[-1].get("scene")
        server.append(json.loads(_get(f"{url}/api/scenes/{sid}"))["seconds"] if sid else math.nan)
    i = sorted(range(runs), key=lambda k: totals[k])[(runs - 1) // 2]  # the median run
    rows.append(
        (
            f"upload to first picture, 512x512 photo, balanced preset (median of {runs})",
            f"{totals[i]:.1f} s (runs: {', '.join(f'{t:.1f}' for t in totals)})",
        )
    )
    st = stages[i]
    inner = ", ".join(
        f"{k} {v:.2f}" for k, v in st.items() if isinstance(v, float) and k != "start"
    )
    rows.append(
        (
            "of which the server: upload received to ready (child start; stages, s)",
            f"{server[i]:.2f} s ({st.get('start', math.nan):.2f} s; {inner})",
        )
    )
    rows.append(
        (
            "of which the page: upload, learning it is ready, fetching and drawing the SVG",
            f"{totals[i] - server[i]:.2f} s",
        )
    )


def browser_part(
    url: str,
    photo: Path,
    shots: Path | None,
    rows: list,
    runs: int,
    child: ChildTimings,
    wait: str = "page",
) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        loads = []
        for _ in range(5):
            t0 = time.perf_counter()
            page.goto(url)
            wait_until(lambda: page.locator("#example option").count() > 1)
            loads.append(time.perf_counter() - t0)
        rows.append(
            (
                "page load (navigation to ready, median of 5)",
                f"{statistics.median(loads) * 1000:.0f} ms",
            )
        )
        if shots:
            shot(page, shots / "web-empty.png")
        pitt = [upload_time(page, url, PITT, "balanced", wait) for _ in range(3)]
        rows.append(
            (
                "upload to first picture, pitt.svg (1020 paths, median of 3)",
                f"{statistics.median(pitt):.2f} s",
            )
        )
        photo_rows(page, url, photo, runs, child, rows, wait)
        if shots:
            screenshots(page, url, shots)
        browser.close()


def shot(page, path: Path) -> None:
    """A screenshot as a 128-colour PNG (small enough for the README)."""
    from PIL import Image

    page.screenshot(path=str(path))
    with Image.open(path) as im:
        small = im.convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)


def drag(page, box, a, b):
    page.mouse.move(box["x"] + box["width"] * a[0], box["y"] + box["height"] * a[1])
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * b[0], box["y"] + box["height"] * b[1], steps=6)
    page.mouse.up()


def screenshots(page, url: str, shots: Path) -> None:
    empty_page(page, url)
    page.select_option("#preset", "balanced")
    page.select_option("#example", "cat.jpg")
    page.evaluate(SHOWN, 300)
    box = page.locator("#overlay").bounding_box()
    drag(page, box, (0.22, 0.08), (0.62, 0.55))
    page.locator("#regions input[type=text]").nth(0).fill("the head of a tiger")
    page.click("#tool-polygon")
    for x, y in ((0.05, 0.95), (0.3, 0.62), (0.62, 0.66), (0.9, 0.95)):
        page.mouse.click(box["x"] + box["width"] * x, box["y"] + box["height"] * y)
    page.mouse.dblclick(box["x"] + box["width"] * 0.9, box["y"] + box["height"] * 0.95)
    page.locator("#regions input[type=text]").nth(1).fill("a cushion of green moss")
    page.fill("#prompt", "an oil painting")
    page.fill("#iters", "300")
    page.locator("#prompt").blur()
    shot(page, shots / "web-regions.png")
    page.click("#start")
    line = page.locator("#job-line")
    wait_until(lambda: int(line.get_attribute("data-iteration") or 0) >= 12, timeout=300)
    page.locator("#compare").fill("50")
    page.locator("#compare").dispatch_event("input")
    time.sleep(0.5)
    shot(page, shots / "web-editing.png")
    page.click("#stop")
    wait_until(lambda: "stopped" in line.text_content(), timeout=300)


def overhead_part(encoder, device: str, iters: int, rows: list) -> None:
    """The same edit as cli.py runs it (no callback) and through the server's queue."""
    from clipvg.config import EditSettings
    from clipvg.edit import run_edit
    from clipvg.serve.jobs import JobManager

    def settings(out: str) -> EditSettings:
        return EditSettings(
            input=str(PITT),
            prompt="a watercolor painting",
            rois=[{"x": 150, "y": 100, "w": 200, "h": 250, "prompt": "a smiling face"}],
            iters=iters,
            save_every=0,
            device=device,
        )

    def per_iter(folder: Path) -> float:
        rec = json.loads((folder / "run.json").read_text())
        return (rec["timings"]["total_s"] - rec["timings"]["setup_s"]) / rec["iteration"]

    results = {"cli": [], "server": []}
    share = []
    with tempfile.TemporaryDirectory() as tmp:
        jobs = JobManager(Path(tmp) / "runs", lambda r: encoder)
        for rep in range(2):  # interleaved, so drifts of the machine hit both
            out = Path(tmp) / f"cli-{rep}"
            run_edit(settings(str(out)), out, encoder=encoder, progress=False)
            results["cli"].append(per_iter(out))
            job = jobs.submit(settings(""))
            wait_until(lambda job=job: job.status in ("done", "failed"), timeout=3600)
            if job.status == "failed":
                raise RuntimeError(job.error)
            results["server"].append(per_iter(job.folder))
            previews = sum(1 for _, k, _ in job.events if k == "preview")
            loop = per_iter(job.folder) * job.iteration
            share.append((sum(job.preview_costs), previews, loop))
        jobs.shutdown()
    cli, srv = statistics.median(results["cli"]), statistics.median(results["server"])
    rows.append(
        (f"seconds per iteration, cli.py edit path ({iters} iters, median of 2)", f"{cli:.3f} s")
    )
    rows.append(("seconds per iteration, server with live preview", f"{srv:.3f} s"))
    rows.append(("difference (server / cli - 1)", f"{(srv / cli - 1) * 100:+.1f} %"))
    spent, n, loop = share[-1]
    rows.append(
        (
            "time in previews / run time (last run)",
            f"{spent / loop * 100:.1f} % ({n} previews, {spent / n * 1000:.0f} ms each)",
        )
    )


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def memory_part(rows: list) -> None:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "cli.py"), "serve", "--port", str(port), "--workdir", tmp],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_until(lambda: _get(url + "/api/info"), timeout=120)
            time.sleep(2)
            rows.append(("server RSS while idle, fresh", f"{rss_kib(proc.pid) / 1024:.0f} MiB"))
            _upload(url, PITT)
            time.sleep(2)
            rows.append(
                (
                    "server RSS while idle, after one SVG upload",
                    f"{rss_kib(proc.pid) / 1024:.0f} MiB",
                )
            )
        finally:
            proc.terminate()
            proc.wait(30)


def _get(url: str) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.read()
    except OSError:
        return None


def _upload(url: str, path: Path) -> None:
    boundary = "clipvgbench"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
            "Content-Type: image/svg+xml\r\n\r\n"
        ).encode()
        + path.read_bytes()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    req = urllib.request.Request(
        url + "/api/scenes", body, {"content-type": f"multipart/form-data; boundary={boundary}"}
    )
    urllib.request.urlopen(req, timeout=60).read()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--clip",
        choices=["vit", "tiny"],
        default="vit",
        help="CLIP for the overhead run: ViT-B-32 with random weights (real cost) or tiny",
    )
    ap.add_argument("--iters", type=int, default=3, help="iterations of the overhead run (3)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--screenshots", type=Path, help="save 1280x800 screenshots here")
    ap.add_argument("--skip", nargs="*", default=[], choices=["browser", "overhead", "memory"])
    ap.add_argument(
        "--photo-runs", type=int, default=1, help="uploads of the photo (the median is shown)"
    )
    ap.add_argument(
        "--wait",
        choices=["page", "poll"],
        default="page",
        help="how a shown picture is noticed: in the page (default) or by polling from here",
    )
    args = ap.parse_args()
    import torch

    from clipvg.clip import load_clip, tiny_clip
    from clipvg.edit import package_versions
    from clipvg.serve import create_app

    warnings.simplefilter("ignore")
    load = os.getloadavg()
    rows: list[tuple[str, str]] = []
    if "browser" not in args.skip:
        if find_chromium() is None:
            print("no system Chromium: skipping the browser part", file=sys.stderr)
        else:
            from PIL import Image
            from skimage import data

            with tempfile.TemporaryDirectory() as tmp:
                photo = Path(tmp) / "astronaut.png"
                Image.fromarray(data.astronaut()).save(photo)
                tiny = tiny_clip()
                app = create_app(Path(tmp) / "work", lambda r: tiny)
                if args.screenshots:
                    args.screenshots.mkdir(parents=True, exist_ok=True)
                child = ChildTimings()
                server_log = logging.getLogger("clipvg.serve")
                server_log.setLevel(logging.INFO)
                server_log.addHandler(child)
                with running_server(app) as url:
                    browser_part(
                        url, photo, args.screenshots, rows, args.photo_runs, child, args.wait
                    )
                server_log.removeHandler(child)
    if "overhead" not in args.skip:
        encoder = (
            tiny_clip() if args.clip == "tiny" else load_clip("ViT-B-32", "none", None, args.device)
        )
        overhead_part(encoder, args.device, args.iters, rows)
    if "memory" not in args.skip:
        memory_part(rows)
    v = package_versions()
    print(
        f"\n{os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads), "
        f"python {v['python']}, CLIP for the overhead run: "
        f"{'ViT-B-32, random weights' if args.clip == 'vit' else 'tiny'} on {args.device}, "
        f"pictures noticed {'in the page' if args.wait == 'page' else 'by polling every 20 ms'}, "
        f"load average {load[0]:.2f} at start, {os.getloadavg()[0]:.2f} at the end\n"
    )
    print("| web editor | measured |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
